"""Flows that manage projects: the temporary-project lifecycle check, the sweeper of orphans,
the inventory and the bulk update, with their forms (:mod:`.forms`) and reports
(:mod:`.reports`)."""
