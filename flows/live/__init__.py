"""Live algorithms: ``deploy-live`` (:mod:`.deploy`), gated, paper unless real money is
confirmed twice; ``monitor-live`` (:mod:`.monitor`), findings as a table, charts and Prefect
events; ``stop-live`` (:mod:`.stop`), guarded like the bulk update; their forms
(:mod:`.forms`) and reports (:mod:`.report`)."""
