"""Thin Prefect tasks over the client's compile, backtest and node operations.

Like the project tasks: a credentials block (never a token string), retries only for transient
failures, and safe to retry. A retried upload compares before it writes; a retried start looks
for its backtest by name first (names carry the flow run id, see :func:`backtest_name`), so it
never starts a second one; a retried delete of a backtest already gone succeeds.

A backtest's progress shows while it runs: a Prefect progress artifact follows every read the
client makes, and the log gets a line at each tenth of the way or every
:data:`PROGRESS_LOG_SECONDS`, whichever comes first.

Example:
    >>> from prefect import flow
    >>> @flow
    ... async def backtest(credentials, project_id):
    ...     built = await compile_project(credentials, project_id)
    ...     started = await start_backtest(credentials, project_id, built.compile_id, "nightly")
    ...     return await wait_for_backtest(credentials, project_id, started.backtest_id)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import anyio
import anyio.from_thread
from prefect import get_run_logger, task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact

from quantconnect_client import NotFoundError, QuantConnectClient
from quantconnect_client.auth import CLOCK_TOLERANCE
from quantconnect_client.budget import check_seconds, describe_seconds
from quantconnect_client.errors import (
    BuildError,
    NoNodeAvailableError,
    TransientError,
    WaitTimeoutError,
)
from quantconnect_client.excerpt import excerpt_lines
from quantconnect_client.models import Backtest, BacktestSummary, Compile, Insight
from quantconnect_client.parameters import BacktestParameters, lean_parameters
from quantconnect_client.schedules import ProgressSchedule

from ._run import in_thread, retry_context
from .credentials import QuantConnectCredentials
from .retries import api_task_options

#: A log line at least this often while a backtest runs (and at every tenth of progress).
PROGRESS_LOG_SECONDS = 30.0
#: The service's equity chart and its series (LEAN's default chart names).
EQUITY_CHART = "Strategy Equity"
EQUITY_SERIES = "Equity"
#: Points of the equity curve asked for: every day of a twenty-year daily backtest, and as
#: many as the report may draw (it downsamples to ``max_chart_points``, at most 5000).
EQUITY_POINTS = 5000
#: Insights :func:`read_insights` reads at most by default (ten pages of 100).
MAX_READ_INSIGHTS = 1000

#: The most characters of a backtest's parameters its start's log line shows.
MAX_LOGGED_PARAMETERS = 300


def backtest_name(flow_run_id: str, label: str = "") -> str:
    """A backtest name that identifies the run that started it (and the set, for a grid).

    Example:
        >>> backtest_name("0b8e4c2e-1111-2222-3333-444455556666", "set 3")
        'prefect 0b8e4c2e-1111-2222-3333-444455556666 set 3'
    """
    return f"prefect {flow_run_id} {label}".strip()


@dataclass
class ProgressLog:
    """When to write a progress line: at each new tenth of the way, or after ``seconds``."""

    seconds: float = PROGRESS_LOG_SECONDS
    clock: Callable[[], float] = time.monotonic
    _last_tenth: int = -1
    _last_time: float = field(default=float("-inf"))

    def due(self, progress: float) -> bool:
        """Whether ``progress`` (0-1) deserves a line now; remembers that it got one.

        Example:
            >>> log = ProgressLog(clock=lambda: 0.0)
            >>> [log.due(p) for p in (0.0, 0.05, 0.1, 0.15, 0.31)]
            [True, False, True, False, True]
        """
        tenth = int(max(0.0, min(progress, 1.0)) * 10)
        now = self.clock()
        if tenth > self._last_tenth or now - self._last_time >= self.seconds:
            self._last_tenth, self._last_time = max(tenth, self._last_tenth), now
            return True
        return False


@task(name="upload-strategy", task_run_name="upload-strategy {project_id}", **api_task_options())
async def upload_strategy(
    credentials: QuantConnectCredentials, project_id: int, files: Mapping[str, str]
) -> list[str]:
    """Make the project's files hold ``files`` (name -> content): create what is missing,
    update what differs, leave what is equal. Retry-safe: each attempt compares first.

    Files the project holds and ``files`` does not (e.g. the default ``research.ipynb``) stay.

    Returns:
        The names written (created or updated).
    """
    return await in_thread(_upload, credentials.get_client(), project_id, dict(files))


def _upload(client: QuantConnectClient, project_id: int, files: dict[str, str]) -> list[str]:
    existing = {f.name: f.content for f in client.files.list(project_id)}
    written = []
    for name, content in files.items():
        if name not in existing:
            client.files.create(project_id, name, content)
        elif existing[name] != content:
            client.files.update(project_id, name, content)
        else:
            continue
        written.append(name)
    return written


#: The compile timeout when none is given (the flows' ``compile_timeout_seconds`` default).
COMPILE_TIMEOUT_SECONDS = 300.0


@task(name="compile-project", task_run_name="compile-project {project_id}",
      **{**api_task_options(), "timeout_seconds": None})
async def compile_project(
    credentials: QuantConnectCredentials, project_id: int, timeout: float = COMPILE_TIMEOUT_SECONDS
) -> Compile:
    """Compile the project and wait for the result.

    No task timeout of its own: ``timeout`` (the client's deadline for the wait) bounds it, so
    a compile timeout above the standard task timeout takes effect; the create has the client's
    own per-call bounds. A compile still in the queue at ``timeout`` is a permanent failure: a
    task retry would only start another compile of the same files, and a compile cannot be
    found again but by its id.

    Raises:
        ValueError: ``timeout`` is not a positive number of seconds (before any request).
        BuildError: The build failed (permanent, never retried). Every log line is logged at
            ERROR level first (at most ``MAX_EXCERPT_LINES``, then one saying how many more
            the error's ``logs`` hold), so the run's logs in the UI show the file, line and
            message; the exception's message names the errors too.
        WaitTimeoutError: Not compiled within ``timeout`` (permanent; the message names it).
    """
    check_seconds(timeout, "The compile timeout")
    client = credentials.get_client()
    logger = get_run_logger()
    created = await in_thread(client.compiles.create, project_id)
    try:
        built = await in_thread(
            client.compiles.wait, project_id, created.compile_id, timeout=timeout
        )
    except BuildError as error:
        for line in excerpt_lines(error.logs, whole="BuildError.logs"):
            logger.error("Build log: %s", line)
        raise
    except WaitTimeoutError as error:
        raise WaitTimeoutError(
            f"Project {project_id} did not compile within the compile timeout of "
            f"{describe_seconds(timeout)} (compile_timeout_seconds): compile "
            f"{created.compile_id} was still in the queue after {error.reads} read(s)",
            last=error.last, reads=error.reads, elapsed=error.elapsed,
        ) from error
    logger.info("Compiled project %s: %s", project_id, built.compile_id)
    return built


@task(name="start-backtest", task_run_name="start-backtest {name}", **api_task_options())
async def start_backtest(
    credentials: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    name: str,
    parameters: BacktestParameters | None = None,
) -> Backtest:
    """Start a backtest; a retry first adopts the backtest an earlier attempt started.

    The name is the key: give each backtest of a run its own (see :func:`backtest_name`).
    A refusal for lack of a free node is retried by the client, then by the task (it is
    transient); a caller with its own plan for that uses :func:`try_start_backtest`.
    """
    started = await _start(credentials, project_id, compile_id, name, parameters,
                           retry_no_node=True)
    assert not isinstance(started, StartRefused)  # a refusal is retried, then raised
    return started.backtest if isinstance(started, StartAdopted) else started


@dataclass(frozen=True)
class StartRefused:
    """A start the service refused for lack of a free node (nothing started).

    Attributes:
        reason: The service's own words for the refusal (``Backtest limit of 200 per day
            reached``, say), so a caller that gives up can name the real cause.
    """

    reason: str


class StartUnknownError(TransientError):
    """A start that may have been applied, and whose look-up got no answer either: nothing is
    known. The caller looks the name up before it submits again (``look_first``).

    It carries the start's own error (message, endpoint, the service's words); the look-up's
    is its ``__cause__``.
    """

    #: Whether a start was sent in the task run (False: only its look-up, which failed).
    sent: bool = True

    @classmethod
    def of(cls, start: TransientError | None, lookup: TransientError) -> StartUnknownError:
        """The error for ``start`` (None: none was sent) whose look-up failed with ``lookup``.

        Example:
            >>> lost = TransientError("no answer", endpoint="/backtests/create")
            >>> str(StartUnknownError.of(lost, TransientError("no answer either")))
            'no answer (and its look-up got no answer: no answer either) [/backtests/create]'
            >>> StartUnknownError.of(None, TransientError("no answer")).sent
            False
        """
        if start is None:
            error = cls(f"An earlier start is unknown, and its look-up got no answer: "
                        f"{lookup.message}", endpoint=lookup.endpoint,
                        status_code=lookup.status_code, service_errors=lookup.service_errors)
            error.sent = False
            return error
        return cls(f"{start.message} (and its look-up got no answer: {lookup.message})",
                   endpoint=start.endpoint, status_code=start.status_code,
                   service_errors=start.service_errors, retry_after=start.retry_after)


@dataclass(frozen=True)
class StartAdopted:
    """A start that failed (or whose answer was lost) but did start this backtest: it was
    found by name, and is not started again."""

    backtest: Backtest


@task(name="try-start-backtest", task_run_name="try-start-backtest {name}",
      **api_task_options())
async def try_start_backtest(
    credentials: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    name: str,
    parameters: BacktestParameters | None = None,
    look_first: bool = False,
    since: datetime | None = None,
) -> Backtest | StartAdopted | StartRefused:
    """Start a backtest if the service takes it now; a :class:`StartRefused` holding the
    service's words, at once, if it refused while no node was free (nothing started, nothing
    retried).

    For a scheduler that submits again when one of its own backtests frees a node (the grid):
    a refusal is an answer there, not a failure, so the task run ends Completed and its log
    says so, instead of a Failed run with a traceback in the UI. After a refusal or a start
    without an answer the name is looked up (a late or lost answer may hide a start), so the
    answer can be trusted: a backtest started, a :class:`StartAdopted` (found by name), a
    refusal with nothing started,
    a :class:`~quantconnect_client.errors.TransientError` with nothing started, or a
    :class:`StartUnknownError` (the look-up failed too: pass ``look_first`` next time).

    Args:
        credentials: Who to be.
        project_id: The project.
        compile_id: A finished compile.
        name: The backtest's name (the key: one per set and run, :func:`backtest_name`).
        parameters: The algorithm's parameters.
        look_first: Look the name up before sending (an earlier start is unknown).
        since: When the caller first submitted this name (its clock): the look-ups' guard.
    """
    return await _start(credentials, project_id, compile_id, name, parameters,
                        retry_no_node=False, look_first=look_first, since=since)


async def _start(
    credentials: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    name: str,
    parameters: BacktestParameters | None,
    retry_no_node: bool,
    look_first: bool = False,
    since: datetime | None = None,
) -> Backtest | StartAdopted | StartRefused:
    """The one owner of an idempotent start: adopt what this name started, else create.

    Every look-up is the client's :meth:`~quantconnect_client.backtests.BacktestsAPI.
    find_created_since`, from ``since`` (or the task run's first attempt) less the clock
    tolerance. A task retry looks first; without ``retry_no_node`` (the grid's start) a refusal
    or a failed start is looked up once more before it is answered.
    """
    client = credentials.get_client()
    log = get_run_logger()
    retrying, first_attempt = retry_context()
    began = since or first_attempt or datetime.now(timezone.utc)
    guard = began - CLOCK_TOLERANCE

    async def adopted(why: str) -> StartAdopted | None:
        found = await in_thread(client.backtests.find_created_since, project_id, name, guard)
        if found is None:
            return None
        log.info("Backtest %r was started %s: %s", name, why, found.backtest_id)
        return StartAdopted(found)

    if retrying or look_first:
        try:
            earlier = await adopted("by an earlier attempt")
        except TransientError as lookup:
            if retry_no_node:
                raise
            raise StartUnknownError.of(None, lookup) from lookup
        if earlier is not None:
            return earlier
    try:
        started = await in_thread(
            client.backtests.create, project_id, compile_id, name, dict(parameters or {}),
            retry_no_node=retry_no_node,
        )
    except TransientError as failure:  # a refusal for lack of a node is one too
        if retry_no_node:
            raise  # the task's retry looks first
        try:
            found = await adopted("after all, its answer lost")
        except TransientError as lookup:
            raise StartUnknownError.of(failure, lookup) from lookup
        if found is not None:
            return found
        if not isinstance(failure, NoNodeAvailableError):
            raise
        log.info("Backtest %r not started: %s", name, failure)
        return StartRefused("; ".join(failure.service_errors) or str(failure))
    # The parameters as the algorithm reads them (text), which is what the client sent.
    shown = ", ".join(f"{k}={v}" for k, v in lean_parameters(parameters or {}).items())
    if len(shown) > MAX_LOGGED_PARAMETERS:
        shown = shown[:MAX_LOGGED_PARAMETERS] + " ..."
    log.info("Started backtest %r: %s%s", name, started.backtest_id,
             f" ({shown})" if shown else "")
    return started


def find_backtest(client: QuantConnectClient, project_id: int, name: str) -> BacktestSummary | None:
    """The project's backtest of this name, if any (the newest if several)."""
    matches = [b for b in client.backtests.list(project_id) if b.name == name]
    return max(matches, key=lambda b: str(b.created or ""), default=None)


@task(name="find-started-backtest", task_run_name="find-started-backtest {name}",
      **api_task_options())
async def find_started_backtest(
    credentials: QuantConnectCredentials, project_id: int, name: str,
    since: datetime | None = None,
) -> Backtest | None:
    """The backtest of this name, read, if one was started (since ``since``, less the clock
    tolerance, if given); None if not: the client's ``find_created_since``.

    For a caller that must know whether an earlier submission started it all the same (a
    second one must not be created).
    """
    guard = None if since is None else since - CLOCK_TOLERANCE
    return await in_thread(credentials.get_client().backtests.find_created_since, project_id,
                           name, guard)


@task(name="wait-for-backtest", task_run_name="wait-for-backtest {backtest_id}",
      **{**api_task_options(), "timeout_seconds": None})
async def wait_for_backtest(
    credentials: QuantConnectCredentials,
    project_id: int,
    backtest_id: str,
    timeout: float = 3600.0,
    progress_key: str | None = None,
    node_released: Callable[[], None] | None = None,
    schedule: ProgressSchedule | None = None,
    on_completed: Callable[[Backtest], None] | None = None,
) -> Backtest:
    """Wait until the backtest has finished and its results settled, showing its progress.

    No task timeout of its own: ``timeout`` (the client's deadline) bounds it.

    Args:
        credentials: Who to be.
        project_id: The backtest's project.
        backtest_id: The backtest.
        timeout: Seconds to wait in all (the client's deadline).
        progress_key: Key of the progress artifact (none: an unkeyed one).
        node_released: Called once, in the flow's event loop, when a read first shows the
            backtest completed or failed: its node is free from then on, although its results
            may take a moment more to settle (the grid hands the node to its next set then).
        schedule: When to read again (default: the client's :class:`ProgressSchedule`); one
            instance per wait.
        on_completed: Called once, in the flow's event loop, when a read first shows the
            backtest completed (not failed): what needs only a completed backtest (its charts,
            its orders) can start while ``totalPerformance`` settles. It gets that read (its
            period, for the chart's request).

    Raises:
        BacktestRuntimeError: The algorithm failed (with its error and stack trace).
        BacktestResultsIncompleteError: Results did not settle by the deadline.
    """
    client = credentials.get_client()
    logger = get_run_logger()
    artifact = await acreate_progress_artifact(
        0.0, key=progress_key, description=f"Backtest {backtest_id}"
    )
    log = ProgressLog()

    told: set[str] = set()  # which of the two callbacks ran (each runs once)

    async def show(backtest: Backtest, done: bool, completed: bool, final: bool) -> None:
        progress, text, status = backtest.progress, backtest.progress_text, backtest.status or ""
        if done and node_released is not None and "released" not in told:
            told.add("released")
            node_released()
        if completed and on_completed is not None and "completed" not in told:
            told.add("completed")
            on_completed(backtest)
        if not final:  # the final read's 100 % is written once the wait returns
            await aupdate_progress_artifact(artifact, round(progress * 100, 1))
        if log.due(progress):
            # The status carries its own percentage ("Running: 42%") unless the progress is
            # unreadable, when the line says what the service sent.
            shown = (status if "%" in status and text.endswith("%")
                     else f"{status} ({text})".strip())
            logger.info("Backtest %s: %s", backtest_id, shown)

    def on_progress(backtest: Backtest) -> None:
        # Called in the client's thread: hand the update to the flow's event loop. The
        # client's model holds a progress from 0 to 1 only (anything else reads as 0, and
        # progress_text says what arrived), so the artifact never gets nan or 500 %.
        completed = bool(backtest.completed and not backtest.failed)
        done = bool(completed or backtest.failed)
        final = bool(backtest.results_ready and not backtest.failed)
        anyio.from_thread.run(show, backtest, done, completed, final)

    finished = await in_thread(
        client.backtests.wait, project_id, backtest_id, timeout=timeout, on_progress=on_progress,
        schedule=schedule,
    )
    await aupdate_progress_artifact(artifact, 100.0)
    logger.info("Backtest %s finished: %s", backtest_id, finished.status)
    return finished


@task(name="read-backtest", task_run_name="read-backtest {backtest_id}", **api_task_options())
async def read_backtest(
    credentials: QuantConnectCredentials, project_id: int, backtest_id: str
) -> Backtest:
    """Read a backtest as the service has it now (results only once finished)."""
    return await in_thread(credentials.get_client().backtests.read, project_id, backtest_id)


@task(name="read-equity", task_run_name="read-equity {backtest_id}", **api_task_options())
async def read_equity(
    credentials: QuantConnectCredentials,
    project_id: int,
    backtest_id: str,
    backtest: Backtest | None = None,
    count: int = EQUITY_POINTS,
) -> list[tuple[float, float]]:
    """The equity curve of a finished backtest as ``(unix time, equity)`` (a candle gives its
    close); [] if the chart has no equity series.

    Args:
        credentials: Who to be.
        project_id: The backtest's project.
        backtest_id: The backtest.
        backtest: The backtest as read, if the caller has it: the request asks for its period.
        count: Points wanted (the service thins a longer series; the report downsamples what
            it gets itself, keeping each stretch's extremes).
    """
    chart = await in_thread(
        credentials.get_client().backtests.chart, project_id, backtest_id, EQUITY_CHART,
        count=count, backtest=backtest,
    )
    series = chart.series.get(EQUITY_SERIES)
    return series.points() if series is not None else []


@task(name="read-insights", task_run_name="read-insights {backtest_id}", **api_task_options())
async def read_insights(
    credentials: QuantConnectCredentials,
    project_id: int,
    backtest_id: str,
    limit: int = MAX_READ_INSIGHTS,
) -> list[Insight]:
    """The backtest's first ``limit`` insights (pages of 100; fewer if it has fewer)."""
    return await in_thread(
        credentials.get_client().backtests.insights, project_id, backtest_id, 0, limit
    )


@task(name="delete-backtest", task_run_name="delete-backtest {backtest_id}", **api_task_options())
async def delete_backtest(
    credentials: QuantConnectCredentials, project_id: int, backtest_id: str
) -> bool:
    """Delete (and so stop) a backtest. Returns False when it was already gone."""
    return await in_thread(_delete, credentials.get_client(), project_id, backtest_id)


def _delete(client: QuantConnectClient, project_id: int, backtest_id: str) -> bool:
    try:
        client.backtests.delete(project_id, backtest_id)
    except NotFoundError:
        return False
    return True


def delete_running_backtests(
    client: QuantConnectClient, project_id: int, name_contains: str | None = None
) -> list[str]:
    """Delete every backtest of the project that has not finished; their ids (an
    optimization's backtests are left to its abort).

    Blocking, with the ``(client, project_id)`` shape of a temporary project's clean-up step
    (``flows.common.temporary``), which may run in a state hook in another process.

    Args:
        client: Who to be.
        project_id: The project.
        name_contains: Only backtests whose name holds this (a flow run id, for an existing
            project that other backtests share).
    """
    deleted = []
    for summary in client.backtests.list(project_id):
        if name_contains is not None and name_contains not in summary.name:
            continue
        if summary.optimization_id:
            continue  # an optimization's: aborting the optimization stops it, not a delete
        if not _finished(summary) and _delete(client, project_id, summary.backtest_id):
            deleted.append(summary.backtest_id)
    return deleted


def _finished(summary: BacktestSummary) -> bool:
    # Anything not clearly over is deleted: a backtest in an unknown state may hold a node.
    return (summary.status or "").startswith(("Completed", "Runtime Error"))


@task(name="backtest-nodes", task_run_name="backtest-nodes {project_id}", **api_task_options())
async def backtest_node_count(credentials: QuantConnectCredentials, project_id: int) -> int:
    """How many backtests the account runs at once (its backtest nodes; at least 1)."""
    nodes = await in_thread(credentials.get_client().nodes.read, project_id)
    return max(1, int(nodes.backtest_node_count))


@task(name="stop-running-backtests", task_run_name="stop-running-backtests",
      **api_task_options())
async def stop_running_backtests(
    credentials: QuantConnectCredentials, project_ids: list[int], max_concurrency: int = 4
) -> dict[int, list[str]]:
    """For each project, delete its backtests that still run (the sweeper calls it before it
    removes orphaned temporary projects: a leaked running backtest holds a node).

    Retry-safe: a retry finds only what still runs. A project already gone maps to ``[]``.

    Returns:
        Project id -> the ids of the backtests deleted.
    """
    client = credentials.get_client()
    limiter = anyio.CapacityLimiter(max_concurrency)
    stopped: dict[int, list[str]] = {}

    async def one(project_id: int) -> None:
        async with limiter:
            try:
                stopped[project_id] = await in_thread(delete_running_backtests, client,
                                                      project_id)
            except NotFoundError:
                stopped[project_id] = []

    async with anyio.create_task_group() as group:
        for project_id in project_ids:
            group.start_soon(one, project_id)
    return {project_id: stopped[project_id] for project_id in project_ids}
