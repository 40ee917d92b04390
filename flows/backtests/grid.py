"""The ``backtest-grid`` flow: one compile, many parameter sets, a ranked table.

The sets run as backtests of one compile, as many at once as the account has backtest nodes
(and no more than the form's cap). The run finds out which of two behaviours the service has
when no node is free (:class:`NodeBoard`): it submits one set beyond the nodes; if the service
queues it (``In Queue...``), one extra set per node stays submitted, so that the service starts
the next set the moment a node frees; if it refuses (``NoNodeAvailableError``), nothing is
submitted beyond the nodes again, and a refused set is submitted again when one of the run's
backtests frees its node. A refusal never counts as the set's failure; before a set is
submitted again its name is looked up (a start whose answer was lost is adopted, never
repeated), and the resubmissions end at the set's deadline (:class:`SetsNeverStartedError` names
the sets that never started, and why). A set that fails (runtime error, deadline) is reported in
its row; the others go on. A set that breaks on an error that is not the service's (a defect) is
reported in its row too (its backtest deleted), and the run then fails naming it
(:class:`SetsFailedUnexpectedlyError`). At the end everything goes: the temporary project with its
backtests, or, in an existing project, whatever this run left running.

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

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from flows.backtests.forms import GridOptions
from flows.backtests.pipeline import BACKTEST_HOOKS, outcome_of, prepare_run, strategy_project
from flows.backtests.report import GridReport, GridRow
from flows.common.session import IN_MEMORY_RESULTS
from flows.common.side_by_side import side_by_side
from quantconnect_client import QuantConnectError
from quantconnect_client.backtest_models import Backtest
from quantconnect_client.compiles import Compile
from quantconnect_client.errors import BacktestResultsIncompleteError, TransientError
from quantconnect_client.schedules import ProgressReport, ProgressSchedule
from tasks.backtests import (
    StartRefused,
    backtest_name,
    backtest_node_count,
    compile_project,
    delete_backtest,
    find_started_backtest,
    read_backtest,
    try_start_backtest,
    wait_for_backtest,
)
from tasks.credentials import QuantConnectCredentials

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


#: Seconds a set waits before it submits again after a lost create answer (it looks its
#: backtest up by name first, so a create that did take effect is adopted, not repeated).
UNSURE_RESUBMIT_SECONDS = 0.5
#: Lost create answers in a row after which a set fails (the service is not answering).
MAX_UNSURE_SUBMISSIONS = 3
#: The most a grid set sends a read ahead of the moment it should reach the service.
MAX_READ_LEAD = 0.5
#: A grid set halves the estimated time left with each read until this little is left, then
#: reads at the estimated finish: a few more reads than the client's default, for a rate
#: measured over most of the backtest rather than its first fraction of a second.
GRID_APPROACH_SECONDS = 1.5
#: The shortest delay between reads of a queued set.
MIN_QUEUED_READ_SECONDS = 0.5
#: Re-reads of a completed set in the last round, until its ``totalPerformance`` is in.
LAST_ROUND_SETTLE_SECONDS = 0.25


class GridSchedule(ProgressSchedule):
    """The read schedule of a grid set: the client's progress-driven one, with three changes.

    The rate is measured over most of the backtest (reads halve the time left until
    :data:`GRID_APPROACH_SECONDS` are left); near the finish a read is sent a round trip early
    (the time the previous read took, at most :data:`MAX_READ_LEAD`), so that it reaches the
    service just after the estimated finish: the node hand-over waits on that read. Once
    completed, the set re-reads every :data:`LAST_ROUND_SETTLE_SECONDS` if it is in the run's
    last round (the run's end waits for its slowest set), else on the client's slower settle
    schedule (its node is handed over already).

    Example:
        >>> from types import SimpleNamespace as Read
        >>> ticks = iter([0.0, 0.0, 0.2, 0.2])  # the schedule reads the clock twice a call
        >>> schedule = GridSchedule(lambda: True, clock=lambda: next(ticks))
        >>> schedule(Read(progress=0.0, completed=False, queued=True))
        0.5
        >>> schedule(Read(progress=1.0, completed=True, queued=False))
        0.25
    """

    def __init__(self, last_round: Callable[[], bool], **settings: Any) -> None:
        super().__init__(**{"min_interval": 0.1, "finish_margin": 0.05,
                            "approach": GRID_APPROACH_SECONDS, **settings})
        self._last_round = last_round
        self._called_at: float | None = None
        self._delay = 0.0

    def __call__(self, report: ProgressReport) -> float:
        now = self._clock()
        took = 0.0 if self._called_at is None else now - self._called_at - self._delay
        delay = super().__call__(report)
        if report.completed or report.progress >= 1.0:
            if self._last_round():
                delay = min(delay, LAST_ROUND_SETTLE_SECONDS)
        elif report.queued or report.progress <= 0.0:
            # A queued set starts when the service gives it a node; nothing waits on seeing
            # that at once (its finish is estimated from its reads while it runs).
            delay = max(delay, MIN_QUEUED_READ_SECONDS)
        else:
            delay = max(self.min_interval, delay - min(max(0.0, took), MAX_READ_LEAD))
        self._called_at, self._delay = now, delay
        return delay


class NodeBoard:
    """Which sets may submit a backtest now, in both behaviours of a busy service.

    ``nodes`` sets hold the account's nodes. While the service has not refused a start, up to
    ``extra`` more are submitted besides, for the service to queue (``In Queue...``) and start
    the moment a node frees; the first of them goes alone, as the probe of the service's
    behaviour. A refusal (``NoNodeAvailableError``) means the service does not queue: from then
    on no extra set is submitted, and a refused set submits again when one of the run's own
    backtests gives its node back (or after ``no_node_wait`` seconds, for a node held outside
    the run). A set holds its place from its submission until a read shows its backtest
    completed or failed (its node is free then).

    Example:
        >>> board = NodeBoard(nodes=2, extra=2, no_node_wait=15)
        >>> board.limit(), board.refused(), board.limit(), board.mode
        (4, None, 2, 'reject')
    """

    def __init__(self, nodes: int, extra: int, no_node_wait: float, sets: int = 0) -> None:
        self.nodes = nodes
        self.unstarted = sets
        self.extra = extra
        self.no_node_wait = no_node_wait
        self.holding = 0
        self.refusing = False  # the service refused a start: it does not queue
        self.queued_seen = False  # an extra set was accepted into the queue: the service queues
        self._probing = False
        self._answers_due = 0  # submissions within the nodes still waiting for their answer
        self._waiting: set[int] = set()  # the sets waiting for a place, by index
        self._changed: anyio.Event | None = None
        self._released: anyio.Event | None = None  # set only when a backtest frees its node

    @property
    def mode(self) -> Literal["queue", "reject", "unknown"]:
        """What the run has seen: ``reject``, ``queue`` or ``unknown``."""
        return "reject" if self.refusing else "queue" if self.queued_seen else "unknown"

    def limit(self) -> int:
        """How many sets may hold a place now."""
        return self.nodes + (0 if self.refusing else self.extra)

    def _may_take(self) -> bool:
        if self.holding >= self.limit():
            return False
        if self.holding < self.nodes:
            return True
        # Beyond the nodes only after the sets before have their answers (an extra start must
        # not take the node of one of them), and one probe at a time until the service showed
        # that it queues.
        return self._answers_due == 0 and (self.queued_seen or not self._probing)

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_for_change(self, timeout: float) -> None:
        """Until a place is given back or the board changes, at most ``timeout`` seconds."""
        if self._changed is None:
            self._changed = anyio.Event()
        changed = self._changed
        with anyio.move_on_after(max(0.0, timeout)):
            await changed.wait()

    async def wait_for_release(self, timeout: float) -> None:
        """Until one of the run's backtests frees its node, at most ``timeout`` seconds.

        Only a node that really came free wakes a refused set: another set's refusal, answer
        or place does not, or refused sets would wake each other and resubmit in a loop.
        """
        if self._released is None:
            self._released = anyio.Event()
        released = self._released
        with anyio.move_on_after(max(0.0, timeout)):
            await released.wait()

    async def take(self, order: int, deadline: float = math.inf) -> bool:
        """Wait for a place (by ``deadline``, on anyio's clock); whether it is an extra one.
        Places go by ``order`` (the set's index): a set submitted again goes before the sets
        that have not started yet.

        Raises:
            TimeoutError: The deadline passed first.
        """
        self._waiting.add(order)
        try:
            while not (order == min(self._waiting) and self._may_take()):
                left = deadline - anyio.current_time()
                if left <= 0:
                    raise TimeoutError
                await self.wait_for_change(left)
        finally:
            self._waiting.discard(order)
            self._notify()  # the next in order may take a place too
        extra = self.holding >= self.nodes
        self._probing = self._probing or (extra and not self.queued_seen)
        self._answers_due += 0 if extra else 1
        self.holding += 1
        return extra

    def answered(self, extra: bool) -> None:
        """A set's submission came back (accepted, refused or failed)."""
        self._answers_due -= 0 if extra else 1
        self._notify()

    def hold(self) -> None:
        """Count a set's place without waiting (its backtest turned out to exist)."""
        self.holding += 1

    def accepted(self, probe: bool, queued: bool = False) -> None:
        """A set's start was accepted; ``probe``: it was the probe; ``queued``: the answer said
        ``In Queue...``.

        Only the probe's queued answer shows that the service queues. A probe that found a node
        free (one came free between the set taking its place and its request arriving) shows
        nothing either way: the probe ends, and a later extra set probes again.

        Example:
            >>> board = NodeBoard(nodes=1, extra=1, no_node_wait=15)
            >>> board.hold(); board.accepted(False)
            >>> board.accepted(True, queued=False); board.mode
            'unknown'
            >>> board.accepted(True, queued=True); board.mode
            'queue'
        """
        if probe:
            self.queued_seen = self.queued_seen or (queued and not self.refusing)
            self._probing = False
        self.unstarted -= 1
        self._notify()

    def gave_up(self) -> None:
        """A set will not start (its deadline passed, or its start failed for good)."""
        self.unstarted -= 1
        self._notify()

    @property
    def last_round(self) -> bool:
        """Whether every set has started (or given up): the running ones are the last."""
        return self.unstarted <= 0

    def refused(self) -> None:
        """The service refused the set's start: it does not queue; the place is given back."""
        self.refusing = True
        self._probing = False
        self.give_back()

    def give_back(self, released: bool = False, probe: bool = False) -> None:
        """A set gave up its place; ``released``: its backtest ended, so a node is free;
        ``probe``: the place is the probe still waiting for its answer, which ends the probe
        whatever the answer was, so that a later extra set may probe again."""
        self.holding -= 1
        if probe and not self.queued_seen:
            self._probing = False
        if released and self._released is not None:
            self._released.set()
            self._released = None
        self._notify()


class _Place:
    """One set's place on the board, given back once whatever happens.

    ``probing``: the place is the probe and its answer has not come back. Only then does
    giving it back end the probe: a probe that was answered (its backtest found a node free)
    must not end the turn of a later probe when its backtest ends.

    Example:
        >>> board = NodeBoard(nodes=1, extra=1, no_node_wait=15)
        >>> first, second, third = _Place(board, 0), _Place(board, 1), _Place(board, 2)
        >>> anyio.run(first.take); board.answered(False); first.accepted(queued=False)
        >>> anyio.run(second.take); second.probing     # beyond the one node: the probe
        True
        >>> second.accepted(queued=False)  # a node had come free on its way: nothing learnt
        >>> first.release(); anyio.run(third.take); third.probing   # the next probe
        True
        >>> second.release(); board._may_take()  # the answered probe ends, the new one goes on
        False
    """

    def __init__(self, board: NodeBoard, order: int) -> None:
        self.board = board
        self.order = order
        self.held = False
        self.extra = False
        self.probing = False

    async def take(self, deadline: float = math.inf) -> None:
        self.extra = await self.board.take(self.order, deadline)
        # The board makes an extra place the probe while the service is not known to queue.
        self.probing = self.extra and not self.board.queued_seen
        self.held = True

    def hold(self) -> None:
        self.board.hold()
        self.extra, self.probing, self.held = False, False, True

    def accepted(self, queued: bool) -> None:
        """The set's start was accepted (``queued``: the answer said ``In Queue...``)."""
        self.board.accepted(self.probing, queued=queued)
        self.probing = False

    def give_back(self, released: bool = False) -> None:
        if self.held:
            self.held = False
            self.board.give_back(released=released, probe=self.probing)
            self.probing = False

    def release(self) -> None:
        """The set's backtest ended: its node is free."""
        self.give_back(released=True)

    def refused(self) -> None:
        if self.held:
            self.held = False
            self.probing = False
            self.board.refused()


class RunNotes:
    """What the run says about its sets besides their rows: why each set that never started
    did not, and which sets broke on an error that is not the service's (a defect)."""

    def __init__(self) -> None:
        self.never_started: dict[int, str] = {}  # set index -> its cause, briefly
        self.unexpected: dict[int, str] = {}  # set index -> "ErrorType: message"

    def note(self) -> str:
        """The run's message about them ("" if there is nothing to say).

        Example:
            >>> notes = RunNotes()
            >>> notes.never_started = {0: "no answer", 1: "no answer", 3: "no node"}
            >>> notes.unexpected = {2: "KeyError: 'x'"}
            >>> notes.note()
            "; never started: sets 0, 1 (no answer), set 3 (no node); failed on an unexpected \
error: set 2 (KeyError: 'x')"
        """
        parts = []
        if self.never_started:
            parts.append("never started: " + _by_cause(self.never_started))
        if self.unexpected:
            parts.append("failed on an unexpected error: " + _by_cause(self.unexpected))
        return "".join(f"; {part}" for part in parts)


def _by_cause(causes: dict[int, str]) -> str:
    """Sets grouped by their cause, in order of their first set: ``sets 0, 1 (cause)``."""
    groups: dict[str, list[int]] = {}
    for index in sorted(causes):
        groups.setdefault(causes[index][:MAX_CAUSE_CHARACTERS], []).append(index)
    shown = []
    for cause, indexes in groups.items():
        numbers = ", ".join(str(i) for i in indexes[:20]) + (", ..." if len(indexes) > 20 else "")
        shown.append(f"{'sets' if len(indexes) > 1 else 'set'} {numbers} ({cause})")
    return ", ".join(shown)


#: The most characters of one cause a run's message shows (the row holds the whole error).
MAX_CAUSE_CHARACTERS = 300


def _start_cause(error: QuantConnectError) -> str:
    """Why a set whose starts all failed transiently never started: the service's words if
    it answered (``Compile id not found``, say), else that no answer came."""
    if error.service_errors:
        return "the service answered " + "; ".join(repr(e) for e in error.service_errors)
    return f"no answer to its start ({type(error).__name__})"


def _never_started(row: GridRow, seconds: float, refused: int, unanswered: int,
                   notes: RunNotes, said: str = "") -> str:
    """Mark the row as never started and say why; ``said`` is the last refusal's words.

    A refusal while every node is busy is treated as "no node", whatever it says, but its
    words are kept: they may name the real cause (``Backtest limit of 200 per day reached``).
    """
    row.outcome, row.never_started = "failed", True
    cause = "NoNodeAvailableError" if refused else "TimeoutError"
    words = f": the service said: {said}" if refused and said else ""
    row.error = (f"{cause}: never started within {seconds:g} s ({refused} submission(s) "
                 f"refused for lack of a node, {unanswered} unanswered){words}")
    notes.never_started[row.index] = (
        f"no backtest node was free by its deadline{words}" if refused
        else "no answer to its start by its deadline")
    return row.error


async def _start_set(
    row: GridRow,
    creds: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    name: str,
    options: GridOptions,
    place: _Place,
    notes: RunNotes,
) -> Backtest | None:
    """Submit the set's backtest until the service takes it; None if it never started by the
    set's deadline (the row says why).

    After a refused or unanswered submission the name is looked up before anything else (a
    late or lost answer may hide a start, and an unanswered start whose last attempt never
    left may follow one that did), so a resubmission never makes a second backtest. The
    deadline (the backtest's, counted from the set's first submission) bounds the
    resubmissions.
    """
    log = get_run_logger()
    board = place.board
    await place.take()
    budget = options.limits.backtest_timeout_minutes * 60
    deadline = anyio.current_time() + budget
    unsure = refusals = unanswered = 0
    said = ""  # the last refusal's words
    while True:
        pending: TransientError | None = None  # the start got no answer (None: refused)
        # A refusal for lack of a node comes back at once, as an answer (not retried, not a
        # failed task run): it is how the run learns that the service does not queue, and
        # the board knows better than a backoff when a node frees.
        try:
            try:
                started = await options.retries.apply(try_start_backtest)(
                    creds, project_id, compile_id, name, row.parameters
                )
            finally:
                board.answered(place.extra)
            if not isinstance(started, StartRefused):
                place.accepted(queued=await _waits_for_a_node(place, creds, project_id, started))
                return started
            said = started.reason
            place.refused()
            row.resubmissions += 1
            refusals += 1
            unsure = 0
        except TransientError as error:
            place.give_back()
            unsure += 1
            unanswered += 1
            pending = error
            row.resubmissions += 0 if unsure >= MAX_UNSURE_SUBMISSIONS else 1
            log.warning("Set %d: its start failed for now (%s)", row.index, error)
            await anyio.sleep(UNSURE_RESUBMIT_SECONDS)
        except Exception:
            board.gave_up()  # refused for good (not for a node), or broke: the row says why
            raise
        try:
            adopted, unsure = await _look_up(row, creds, project_id, name, options, unsure)
        except BaseException:
            board.gave_up()  # the row says why; the last round must still be noticed
            raise
        if adopted is not None:
            log.info("Set %d: its backtest %s was started after all", row.index,
                     adopted.backtest_id)
            place.hold()  # it runs, or waits in the service's queue: it holds its place
            place.accepted(queued=adopted.queued)
            return adopted
        if pending is not None and unsure >= MAX_UNSURE_SUBMISSIONS:
            board.gave_up()  # unanswered too often, and not started: the row says why
            raise pending
        if pending is None and not place.extra:
            # Refused with a place of the run's own: a node is held outside the run. Wait for
            # one of the run's backtests to end, or a while for the other one.
            log.info("Set %d: submitting again when a backtest node frees", row.index)
            await board.wait_for_release(min(board.no_node_wait,
                                             deadline - anyio.current_time()))
        if not await _take_again(place, deadline):
            log.warning("Set %d: %s", row.index,
                        _never_started(row, budget, refusals, unanswered, notes, said))
            return None


async def _waits_for_a_node(
    place: _Place, creds: QuantConnectCredentials, project_id: int, started: Backtest
) -> bool:
    """Whether the probe's backtest waits in the service's queue: the service queues.

    A create answer says ``In Queue...`` even for a backtest about to run on a free node (the
    contract's first status), so it shows nothing; a read of the probe's backtest does. Only the
    probe is read: other sets' answers teach the board nothing. A read that fails shows nothing
    either, and a later extra set probes again.
    """
    if not (place.probing and started.queued):
        return False
    try:
        now = await read_backtest(creds, project_id, started.backtest_id)
    except QuantConnectError as error:
        get_run_logger().info("Probe %s: its read failed (%s); nothing learnt",
                              started.backtest_id, error)
        return False
    return now.queued


async def _look_up(
    row: GridRow,
    creds: QuantConnectCredentials,
    project_id: int,
    name: str,
    options: GridOptions,
    unsure: int,
) -> tuple[Backtest | None, int]:
    """The set's backtest if a submission started it after all, and ``unsure`` (the rounds in
    a row without an answer) updated: a failed look-up is one more such round, tried again
    after a pause; at :data:`MAX_UNSURE_SUBMISSIONS` its error is raised. Nothing is submitted
    again without a look-up that answered."""
    while True:
        try:
            found = await options.retries.apply(find_started_backtest)(creds, project_id, name)
            return found, unsure
        except TransientError as error:
            unsure += 1
            if unsure >= MAX_UNSURE_SUBMISSIONS:
                raise
            get_run_logger().warning("Set %d: its look-up got no answer (%s); looking again",
                                     row.index, error)
            await anyio.sleep(UNSURE_RESUBMIT_SECONDS)


async def _take_again(place: _Place, deadline: float) -> bool:
    """Take a place again for a resubmission; False (the set gave up) once ``deadline``
    (anyio's clock) has passed."""
    try:
        if anyio.current_time() >= deadline:
            raise TimeoutError
        await place.take(deadline)
    except TimeoutError:
        place.board.gave_up()
        return False
    return True


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
    api = options.retries.apply
    log = get_run_logger()
    name = backtest_name(run_id, f"set {row.index}")
    place = _Place(board, row.index)
    ended = False  # the wait came back: the backtest holds no node any more
    try:
        try:
            started = await _start_set(row, creds, project_id, compile_id, name, options, place,
                                       notes)
            if started is None:
                return
            row.backtest_id = started.backtest_id
            finished = await api(wait_for_backtest)(
                creds, project_id, started.backtest_id,
                timeout=options.limits.backtest_timeout_minutes * 60,
                node_released=place.release,
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
                notes.never_started[row.index] = _start_cause(error)
            log.warning("Set %d (%s) failed: %s", row.index, row.parameters, row.error)
            still_running = isinstance(error, BacktestResultsIncompleteError) and not (
                error.completed  # it ran to the end; only its final results are late: keep it
            )
            if still_running and row.backtest_id:
                # Past its deadline and still running: free its node for the others.
                await _delete_quietly(row, creds, project_id, options)
        except Exception as error:  # a defect (ours or Prefect's): the row says what broke
            row.error = f"{type(error).__name__}: {error}"
            notes.unexpected[row.index] = row.error
            log.error("Set %d (%s) failed on an unexpected error: %s", row.index,
                      row.parameters, row.error, exc_info=True)
            row.outcome = "failed"
            if row.backtest_id and not ended:
                # Its results will never be read: it must not hold a node (or run on).
                await _delete_quietly(row, creds, project_id, options)
    finally:
        # A set that had a backtest frees its node (ended, failed or deleted at its deadline).
        place.give_back(released=row.backtest_id is not None)


async def _delete_quietly(row: GridRow, creds: QuantConnectCredentials, project_id: int,
                          options: GridOptions) -> None:
    """Delete the set's backtest. A failed delete stays this row's problem, added to its
    error (the clean-up at the end of the run tries again), never the other sets'."""
    try:
        await options.retries.apply(delete_backtest)(creds, project_id, str(row.backtest_id))
    except QuantConnectError as failed:
        row.error = f"{row.error}; deleting it failed ({type(failed).__name__}: {failed})"
        get_run_logger().warning("Set %d: could not delete backtest %s: %s",
                                 row.index, row.backtest_id, failed)


async def _compile_and_count_nodes(
    creds: QuantConnectCredentials, project_id: int, options: GridOptions
) -> tuple[Compile, int]:
    """The compile and the node count, read side by side (neither needs the other)."""
    api = options.retries.apply
    return await side_by_side(
        lambda: api(compile_project)(
            creds, project_id, timeout=options.limits.compile_timeout_seconds
        ),
        lambda: api(backtest_node_count)(creds, project_id),
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
                report.node_mode = board.mode
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
