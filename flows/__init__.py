"""Prefect flows over QuantConnect, in rooms by what they manage.

- ``flows.common``: what every flow shares: the temporary-project mechanism
  (:mod:`flows.common.temporary`), credentials, the Prefect API session, forms' shared fields
  (:mod:`flows.common.options`), name selection, side-by-side tasks, Markdown helpers.
- ``flows.projects``: the temporary-project lifecycle check, the sweeper, the inventory and the
  bulk update, with their forms and reports.
- ``flows.backtests``: ``backtest-strategy`` and ``regression-gate``
  (:mod:`~flows.backtests.strategy`), ``backtest-grid`` (:mod:`~flows.backtests.grid`), the gate,
  charts, the strategy folder, their forms and reports; :mod:`~flows.backtests.pipeline` holds
  what the backtest flows share.
- At the top: the command lines (``python -m flows.demo``, ``python -m flows.run``) and what
  they share (:mod:`flows.target`).

A flow module imports from ``flows.common`` and its own room, never another flow's module. The
package is kept free of imports so that ``python -m flows.demo`` can choose a Prefect home before
Prefect is imported. Import the flows from their modules::

    from flows.projects.lifecycle import temporary_project_lifecycle
    from flows.backtests.strategy import backtest_strategy

and, for a flow of your own that needs a temporary project, the shared mechanism::

    from flows.common.temporary import cleanup_hooks, temporary_project
"""
