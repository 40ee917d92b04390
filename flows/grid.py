"""The ``backtest-grid`` flow: one compile, many parameter sets, a ranked table.

The sets run as backtests of one compile, as many at once as the account has backtest nodes
(and no more than the form's cap). It copes with both behaviours the service may have when no
node is free: a queued backtest (``In Queue...``) is simply waited for; a refused start
(``NoNodeAvailableError``) is submitted again after a pause, and never counts as the set's
failure. A set that fails (runtime error, deadline) is reported in its row; the others go on.
At the end everything goes: the temporary project with its backtests, or, in an existing
project, whatever this run left running.

Example:
    >>> import asyncio
    >>> from flows.backtest_params import GridOptions
    >>> from flows.grid import backtest_grid
    >>> options = GridOptions(grid={"fast": [5, 10], "slow": [30, 60]})
    >>> report = asyncio.run(backtest_grid(options))  # QC_* credentials  # doctest: +SKIP
    >>> report.ranked()[0].parameters  # doctest: +SKIP
    {'fast': 10, 'slow': 60}
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import time

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from quantconnect_client import QuantConnectError
from quantconnect_client.errors import BacktestResultsIncompleteError, NoNodeAvailableError
from tasks.backtests import (
    backtest_name,
    backtest_node_count,
    compile_project,
    delete_backtest,
    start_backtest,
    wait_for_backtest,
)
from tasks.credentials import QuantConnectCredentials

from .backtest import BACKTEST_HOOKS, outcome_of, prepare_run, strategy_project
from .backtest_params import GridOptions
from .backtest_report import GridReport, GridRow
from .session import IN_MEMORY_RESULTS

#: What a grid deployment runs unless told otherwise: the Python example's two averages.
DEFAULT_GRID = GridOptions(grid={"fast": [5, 10, 20], "slow": [30, 60]})


class GridFailedError(RuntimeError):
    """No parameter set completed: there is nothing to rank (each row says why)."""


async def _run_set(
    row: GridRow,
    creds: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    run_id: str,
    options: GridOptions,
    limiter: anyio.CapacityLimiter,
) -> None:
    """Backtest one parameter set into its row; never raises a QuantConnect error.

    The set holds one of ``limiter``'s slots (one of the account's nodes) from its start until
    a read shows its backtest completed or failed, not until its results settle: the node is
    free then, and the next set starts on it while this one waits for ``totalPerformance``.
    """
    api = options.retries.apply
    log = get_run_logger()
    name = backtest_name(run_id, f"set {row.index}")
    slot = object()  # the borrower of this set's slot, so that the wait's callback can free it
    await limiter.acquire_on_behalf_of(slot)
    held = True

    def release_node() -> None:
        nonlocal held
        if held:
            held = False
            limiter.release_on_behalf_of(slot)

    try:
        try:
            while True:
                try:
                    started = await api(start_backtest)(
                        creds, project_id, compile_id, name, row.parameters
                    )
                    break
                except NoNodeAvailableError:
                    # The service refuses rather than queues: a node frees when some backtest
                    # ends. Not the set's failure; wait and submit again.
                    row.resubmissions += 1
                    log.info("Set %d: no backtest node free; submitting again in %g s",
                             row.index, options.no_node_wait_seconds)
                    await anyio.sleep(options.no_node_wait_seconds)
            row.backtest_id = started.backtest_id
            finished = await api(wait_for_backtest)(
                creds, project_id, started.backtest_id,
                timeout=options.limits.backtest_timeout_minutes * 60,
                node_released=release_node,
            )
        except QuantConnectError as error:
            row.outcome, row.error = "failed", f"{type(error).__name__}: {error}"
            log.warning("Set %d (%s) failed: %s", row.index, row.parameters, row.error)
            still_running = isinstance(error, BacktestResultsIncompleteError) and not (
                error.completed  # it ran to the end; only its final results are late: keep it
            )
            if still_running and row.backtest_id:
                # Past its deadline and still running: free its node for the others. A failed
                # delete stays this row's problem (the clean-up at the end of the run tries
                # again), never the other sets'.
                try:
                    await api(delete_backtest)(creds, project_id, row.backtest_id)
                except QuantConnectError as failed:
                    row.error += f"; deleting it failed ({type(failed).__name__}: {failed})"
                    log.warning("Set %d: could not delete backtest %s: %s",
                                row.index, row.backtest_id, failed)
            return
    finally:
        release_node()
    stats = finished.statistics
    row.statistics = dict(stats.raw) if stats else {}
    row.value = stats.number(options.rank_by) if stats else None
    row.outcome = "completed"


@flow(**IN_MEMORY_RESULTS, name="backtest-grid", **BACKTEST_HOOKS)
async def backtest_grid(
    options: GridOptions = DEFAULT_GRID,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> GridReport:
    """Backtest every parameter set of a grid on one compile; rank them by a statistic.

    Args:
        options: The strategy, the sets, the ranking, the caps and the limits.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        The report (also a ranked table artifact and a markdown summary).

    Raises:
        StrategyFolderError: The folder cannot be uploaded (before any request).
        BuildError: The strategy did not compile (no set runs).
        GridFailedError: Not one set completed.
    """
    log = get_run_logger()
    clock = time.perf_counter()
    setup = await prepare_run(options.strategy, credentials, credentials_block)
    run_id, creds = setup.run_id, setup.creds
    report = GridReport(
        strategy=setup.label,
        flow_run_id=run_id,
        project_id=setup.project_id,
        temporary_project=setup.strategy is not None,
        rank_by=options.rank_by,
        order=options.order,
        simulated=setup.simulated,
        rows=[GridRow(index=i, parameters=p) for i, p in enumerate(options.sets())],
    )
    api = options.retries.apply
    try:
        async with strategy_project(
            creds, options.strategy, setup.strategy, options.retries, report.cleanup, run_id
        ) as project_id:
            report.project_id = project_id
            built = await api(compile_project)(
                creds, project_id, timeout=options.limits.compile_timeout_seconds
            )
            report.compile_id = built.compile_id
            report.backtest_nodes = await api(backtest_node_count)(creds, project_id)
            report.concurrency = min(report.backtest_nodes, options.max_concurrency)
            log.info("%d parameter set(s), %d at a time", len(report.rows), report.concurrency)
            limiter = anyio.CapacityLimiter(report.concurrency)
            async with anyio.create_task_group() as group:
                for row in report.rows:
                    group.start_soon(_run_set, row, creds, project_id, built.compile_id, run_id,
                                     options, limiter)
        if not any(row.outcome == "completed" for row in report.rows):
            raise GridFailedError(f"none of the {len(report.rows)} parameter sets completed")
        report.outcome = "completed"
        return report
    except BaseException as error:
        report.outcome = outcome_of(error)
        report.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        with anyio.CancelScope(shield=True):
            report.seconds = round(time.perf_counter() - clock, 2)
            await acreate_table_artifact(
                table=report.table(),
                key="quantconnect-backtest-grid",
                description=f"Grid of {report.strategy} ranked by {report.rank_by}",
            )
            await acreate_markdown_artifact(
                markdown=report.to_markdown(),
                key="quantconnect-backtest-grid-summary",
                description=f"Grid of {report.strategy} ({report.outcome})",
            )
        log.info("Grid %s: %s, %d failed set(s)", report.strategy, report.outcome,
                 len(report.failed))
