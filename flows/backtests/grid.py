"""The ``backtest-grid`` flow: one compile, many parameter sets, a ranked table.

The sets run as backtests of one compile, as many at once as the account has backtest nodes
(and no more than the form's cap). Which set submits when, and how the run finds out whether
the service queues a start beyond the nodes or refuses it, is the scheduler's
(:mod:`flows.backtests.scheduler`, two state machines as tables); this module binds it to the
tasks and fills the report. A refusal never counts as the set's failure; the start's answer
comes from the task, which looks the name up after a refusal or a lost answer (a start that
did take effect is adopted, never repeated), and the resubmissions end at the set's deadline
(:class:`SetsNeverStartedError` names the sets that never started, and why). A set that fails
(runtime error, deadline) is reported in its row; the others go on. A set that breaks on an
error that is not the service's (a defect) is reported in its row too (its backtest deleted),
and the run then fails naming it (:class:`SetsFailedUnexpectedlyError`). At the end
everything goes: the temporary project with its backtests, or, in an existing project,
whatever this run left running.

Example:
    >>> import asyncio
    >>> from flows.backtests.forms import GridOptions
    >>> from flows.backtests.grid import backtest_grid
    >>> options = GridOptions(grid={"fast": [5, 10], "slow": [30, 60]})
    >>> report = asyncio.run(backtest_grid(options))  # QC_* credentials  # doctest: +SKIP
    >>> report.ranked()[0].parameters  # doctest: +SKIP
    {'fast': 10, 'slow': 60}
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timezone
from functools import partial
from typing import Any

import anyio
from prefect import Task, flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from flows.backtests.forms import GridOptions
from flows.backtests.pipeline import BACKTEST_HOOKS, outcome_of, prepare_run, strategy_project
from flows.backtests.report import GridReport, GridRow, RunNotes, mark_never_started, start_cause
from flows.backtests.scheduler import (
    Answer,
    Board,
    GridSchedule,
    NodeBoard,
    Refused,
    StartCounts,
    Started,
    Unanswered,
    start_set,
)
from flows.common.session import IN_MEMORY_RESULTS
from flows.common.side_by_side import side_by_side
from quantconnect_client import QuantConnectError
from quantconnect_client.errors import BacktestResultsIncompleteError, TransientError
from quantconnect_client.models import Backtest, Compile
from tasks.backtests import (
    StartAdopted,
    StartRefused,
    StartUnknownError,
    backtest_name,
    backtest_node_count,
    compile_project,
    delete_backtest,
    read_backtest,
    try_start_backtest,
    wait_for_backtest,
)
from tasks.credentials import QuantConnectCredentials
from tasks.retries import with_api_retries

#: What a grid deployment runs unless told otherwise: the Python example's two averages.
DEFAULT_GRID = GridOptions(grid={"fast": [5, 10, 20], "slow": [30, 60]})


class GridFailedError(RuntimeError):
    """No parameter set completed: there is nothing to rank (each row says why)."""


class SetsNeverStartedError(GridFailedError):
    """Some sets never started before their deadline: no node came free, or their starts went
    unanswered or were refused as not yet possible (the message names them and the cause);
    the sets that ran are in the report."""


class SetsFailedUnexpectedlyError(GridFailedError):
    """Some sets broke on an error that is not the service's (a defect, here or in Prefect):
    the message names the sets and the errors, their rows hold them; the other sets ran, and
    are in the report."""


def _submitter(
    creds: QuantConnectCredentials, project_id: int, compile_id: str, name: str,
    parameters: dict[str, Any],
) -> Callable[[bool], Awaitable[Answer]]:
    """The set's start for the scheduler: the task's answer, trusted as it is.

    No task retries: the scheduler's rounds are the start's retries (each round one task run
    with the client's own retries), so they do not multiply.
    """
    start = with_api_retries(try_start_backtest, 0)
    since = datetime.now(timezone.utc)  # the look-ups' guard: the set's first submission

    async def submit(look_first: bool) -> Answer:
        try:
            answer = await start(creds, project_id, compile_id, name, parameters,
                                 look_first=look_first, since=since)
        except StartUnknownError as error:
            return Unanswered(error, looked_up=False, requests=2 if error.sent else 1)
        except TransientError as error:
            return Unanswered(error)
        if isinstance(answer, StartRefused):
            return Refused(answer.reason)
        if isinstance(answer, StartAdopted):
            return Started(answer.backtest, adopted=True)
        return Started(answer)

    return submit


async def _probe_queued(creds: QuantConnectCredentials, project_id: int,
                        started: Backtest) -> bool:
    """Whether the probe's backtest waits in the service's queue: the service queues.

    A create answer says ``In Queue...`` even for a backtest about to run on a free node (the
    contract's first status), so it shows nothing; a read of the probe's backtest does. A read
    that fails shows nothing either, and a later extra set probes again.
    """
    try:
        now = await read_backtest(creds, project_id, started.backtest_id)
    except QuantConnectError as error:
        get_run_logger().info("Probe %s: its read failed (%s); nothing learnt",
                              started.backtest_id, error)
        return False
    return now.queued


async def _run_set(
    row: GridRow,
    creds: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    run_id: str,
    options: GridOptions,
    board: NodeBoard,
    notes: RunNotes,
) -> None:
    """Backtest one parameter set into its row; never raises (but for cancellation).

    The set holds a place on ``board`` from its start until a read shows its backtest
    completed or failed, not until its results settle: the node is free then, and the next
    set starts on it while this one waits for ``totalPerformance``. An error that is not the
    service's (a defect, here or in Prefect) fails the set's row and is noted in ``notes``
    for the run's message; the other sets go on.
    """
    wait, delete = options.retries.bind(wait_for_backtest, delete_backtest)
    log = get_run_logger()
    name = backtest_name(run_id, f"set {row.index}")
    budget = options.limits.backtest_timeout_minutes * 60
    ended = False  # the wait came back: the backtest holds no node any more
    try:
        try:
            counts = StartCounts()
            try:
                started = await start_set(
                    board, row.index, budget,
                    _submitter(creds, project_id, compile_id, name, row.parameters),
                    partial(_probe_queued, creds, project_id), counts, log)
            finally:
                row.resubmissions = counts.resubmissions
            if started is None:
                why = mark_never_started(row, budget, counts.refusals, counts.unanswered,
                                         notes, counts.said)
                log.warning("Set %d: %s", row.index, why)
                return
            row.backtest_id = started.backtest_id
            finished = await wait(
                creds, project_id, started.backtest_id,
                timeout=options.limits.backtest_timeout_minutes * 60,
                node_released=lambda: board.change(partial(Board.end, index=row.index,
                                                           released=True)),
                schedule=GridSchedule(lambda: board.last_round),
            )
            ended = True
            stats = finished.statistics
            row.statistics = dict(stats.raw) if stats else {}
            row.value = stats.number(options.rank_by) if stats else None
            row.outcome = "completed"
        except QuantConnectError as error:
            row.outcome, row.error = "failed", f"{type(error).__name__}: {error}"
            # Unanswered starts, every one of them: the set may or may not have a backtest.
            row.never_started = row.backtest_id is None and isinstance(error, TransientError)
            if row.never_started:
                notes.never_started[row.index] = start_cause(error)
            log.warning("Set %d (%s) failed: %s", row.index, row.parameters, row.error)
            still_running = isinstance(error, BacktestResultsIncompleteError) and not (
                error.completed  # it ran to the end; only its final results are late: keep it
            )
            if still_running and row.backtest_id:
                # Past its deadline and still running: free its node for the others.
                await _delete_quietly(row, delete, creds, project_id)
        except Exception as error:  # a defect (ours or Prefect's): the row says what broke
            row.error = f"{type(error).__name__}: {error}"
            notes.unexpected[row.index] = row.error
            log.error("Set %d (%s) failed on an unexpected error: %s", row.index,
                      row.parameters, row.error, exc_info=True)
            row.outcome = "failed"
            if row.backtest_id and not ended:
                # Its results will never be read: it must not hold a node (or run on).
                await _delete_quietly(row, delete, creds, project_id)
    finally:
        # A set that had a backtest frees its node (ended, failed or deleted at its deadline).
        board.change(partial(Board.end, index=row.index, released=row.backtest_id is not None))


async def _delete_quietly(
    row: GridRow,
    delete: Task[[QuantConnectCredentials, int, str], Coroutine[Any, Any, bool]],
    creds: QuantConnectCredentials,
    project_id: int,
) -> None:
    """Delete the set's backtest (``delete``: the run's bound task). A failed delete stays
    this row's problem, added to its error (the clean-up at the end of the run tries again),
    never the other sets'."""
    try:
        await delete(creds, project_id, str(row.backtest_id))
    except QuantConnectError as failed:
        row.error = f"{row.error}; deleting it failed ({type(failed).__name__}: {failed})"
        get_run_logger().warning("Set %d: could not delete backtest %s: %s",
                                 row.index, row.backtest_id, failed)


async def _compile_and_count_nodes(
    creds: QuantConnectCredentials, project_id: int, options: GridOptions
) -> tuple[Compile, int]:
    """The compile and the node count, read side by side (neither needs the other)."""
    compile_, count_nodes = options.retries.bind(compile_project, backtest_node_count)
    return await side_by_side(
        lambda: compile_(creds, project_id, timeout=options.limits.compile_timeout_seconds),
        lambda: count_nodes(creds, project_id),
    )


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
    try:
        async with strategy_project(
            creds, options.strategy, setup.strategy, options.retries, report.cleanup, run_id
        ) as project_id:
            report.project_id = project_id
            built, report.backtest_nodes = await _compile_and_count_nodes(
                creds, project_id, options
            )
            report.compile_id = built.compile_id
            report.concurrency = min(report.backtest_nodes, options.max_concurrency)
            # Extra sets for the service to queue only when the nodes bound the run, not the
            # form's cap: a queued set would start at once on a node the cap keeps free.
            extra = report.concurrency if report.concurrency == report.backtest_nodes else 0
            board = NodeBoard(report.concurrency, extra, options.no_node_wait_seconds,
                              sets=len(report.rows))
            notes = RunNotes()
            log.info("%d parameter set(s), %d at a time", len(report.rows), report.concurrency)
            try:
                async with anyio.create_task_group() as group:
                    for row in report.rows:
                        group.start_soon(_run_set, row, creds, project_id, built.compile_id,
                                         run_id, options, board, notes)
            finally:
                report.node_mode = board.mode.value
        total = len(report.rows)
        if not any(row.outcome == "completed" for row in report.rows):
            raise GridFailedError(f"none of the {total} parameter sets completed"
                                  + notes.note())
        if notes.unexpected:
            raise SetsFailedUnexpectedlyError(
                f"{len(notes.unexpected)} of {total} parameter sets" + notes.note())
        if notes.never_started:
            raise SetsNeverStartedError(f"{len(notes.never_started)} of {total} parameter sets"
                                        + notes.note())
        report.outcome = "completed"
        return report
    except BaseException as error:
        report.outcome = outcome_of(error)
        report.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        with anyio.CancelScope(shield=True):
            report.seconds = round(time.perf_counter() - clock, 2)
            # Neither needs the other: the run's end waits for one round trip, not two.
            await side_by_side(
                lambda: acreate_table_artifact(
                    table=report.table(),
                    key="quantconnect-backtest-grid",
                    description=f"Grid of {report.strategy} ranked by {report.rank_by}",
                ),
                lambda: acreate_markdown_artifact(
                    markdown=report.to_markdown(),
                    key="quantconnect-backtest-grid-summary",
                    description=f"Grid of {report.strategy} ({report.outcome})",
                ),
            )
        log.info("Grid %s: %s, %d failed set(s)", report.strategy, report.outcome,
                 len(report.failed))
