"""The grid's scheduler: which set may submit its backtest now, and one loop that starts a set.

Prefect-free: the flow (``flows.backtests.grid``) hands it the start and the probe's read as
callables, and it hands back the set's backtest (or None: never started) and its counts.

Two state machines, each a table:

- The service's **node mode** (:class:`NodeMode`, :data:`NODE_MODE_TRANSITIONS`): whether the
  service queues a start beyond the nodes (``In Queue...``) or refuses it
  (``NoNodeAvailableError``). The run finds out with one probe: the first set beyond the nodes.
- Each **set's state** (:class:`SetState`, :data:`SET_TRANSITIONS`): waiting for a place,
  submitting, probing, running, adopted (a start whose answer was lost, found by name), refused
  (for lack of a node), never started, ended.

``nodes`` sets hold the account's nodes. While the mode is not ``reject``, up to ``extra``
more are submitted besides, for the service to queue and start the moment a node frees; the
first of them goes alone, as the probe. After a refusal nothing is submitted beyond the nodes;
a refused set submits again when one of the run's backtests frees its node (or after
``no_node_wait`` seconds, for a node held outside the run). A set holds its place from its
submission until a read shows its backtest completed or failed (its node is free then).

Example:
    >>> board = Board(nodes=2, extra=2, sets=5)
    >>> [board.take(i) for i in (0, 1, 2)]
    [<SetState.SUBMITTING: 'submitting'>, <SetState.SUBMITTING: 'submitting'>, \
<SetState.PROBING: 'probing'>]
    >>> board.refused(2); board.mode, board.limit()
    (<NodeMode.REJECT: 'reject'>, 2)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

import anyio

from quantconnect_client.errors import TransientError
from quantconnect_client.models import Backtest
from quantconnect_client.schedules import ProgressReport, ProgressSchedule

#: Seconds a set waits before it submits again after a start without an answer (the task looked
#: its name up first, so a start that did take effect is adopted, not repeated).
UNSURE_RESUBMIT_SECONDS = 0.5
#: Requests in a row without an answer (starts and their look-ups) after which a set fails.
MAX_UNSURE_SUBMISSIONS = 3


def start_requests_bound(attempts: int) -> int:
    """The most requests one set's start costs until it runs or gives up for want of answers,
    with ``attempts`` client attempts per call (refused rounds aside: each waits for a node).

    One round is one task run of ``try-start-backtest`` (no task retries: the rounds are the
    retries): its look-up first if the last round's start is unknown (``/backtests/list``); the
    client's ``create`` (per attempt at most two requests: the create and the nodes read that
    types a refusal, or the reconciling look-up and the create after a lost answer; plus one
    create sent again once the clock was corrected: ``2 * attempts + 1``); then, after a failure,
    the task's look-up (a list, and a read if it found the backtest). The rounds end after
    :data:`MAX_UNSURE_SUBMISSIONS` unanswered requests: at most that many rounds, the last one
    perhaps adopting what it found.

    Example:
        >>> start_requests_bound(3), start_requests_bound(1)
        (25, 13)
    """
    call = 2 * attempts + 1
    return (MAX_UNSURE_SUBMISSIONS - 1) * (call + 1) + call + 2


class NodeMode(str, Enum):
    """What the run has seen of the service when no node is free."""

    UNKNOWN = "unknown"  # not seen yet: the probe goes
    QUEUE = "queue"  # the probe waited In Queue: one extra set per node
    REJECT = "reject"  # a start was refused for lack of a node: none beyond the nodes


class Evidence(Enum):
    """What a start shows of the node mode."""

    PROBE_QUEUED = "the probe's backtest, read after its start, waits In Queue"
    PROBE_SHOWED_NOTHING = ("the probe ran at once (a node freed on its way), its read failed, "
                            "it went unanswered or failed, or a lost start of it was adopted")
    REFUSED = "a start was refused for lack of a node"


_U, _Q, _R = NodeMode.UNKNOWN, NodeMode.QUEUE, NodeMode.REJECT
#: The node mode's transitions, every row. The comments name the race each row settles.
NODE_MODE_TRANSITIONS: Mapping[tuple[NodeMode, Evidence], NodeMode] = {
    # Only the probe's own read shows queueing, not its create answer (the contract's first
    # status is In Queue even on a free node) nor any other set's answer (3de6083).
    (_U, Evidence.PROBE_QUEUED): _Q,
    # A probe that found a node free says nothing either way; a later extra set probes again
    # (95c0a8d: it set queue mode, and two sets were refused as queued extras).
    (_U, Evidence.PROBE_SHOWED_NOTHING): _U,
    # A refusal is an answer, not a failure (e279bae): the service does not queue.
    (_U, Evidence.REFUSED): _R,
    (_Q, Evidence.PROBE_QUEUED): _Q,
    (_Q, Evidence.PROBE_SHOWED_NOTHING): _Q,
    # Refused after all (another client's backtests took the queue): it refuses now.
    (_Q, Evidence.REFUSED): _R,
    # A refusal outweighs a probe answered after it: nothing beyond the nodes again.
    (_R, Evidence.PROBE_QUEUED): _R,
    (_R, Evidence.PROBE_SHOWED_NOTHING): _R,
    (_R, Evidence.REFUSED): _R,
}


class SetState(str, Enum):
    """Where one set is."""

    WAITING = "waiting"  # for a place (first, or again after a start without an answer)
    SUBMITTING = "submitting"  # its start is on its way, within the nodes or a known queue
    PROBING = "probing"  # its start, beyond the nodes, is the probe of the node mode
    RUNNING = "running"  # started (or waiting in the service's queue): it holds its place
    ADOPTED = "adopted"  # a start whose answer was lost was found by name: as running
    REFUSED = "refused"  # for lack of a node: waits for one to free
    NEVER_STARTED = "never started"  # its deadline passed first
    ENDED = "ended"  # its backtest freed its node, or the set failed


class SetEvent(Enum):
    """What happens to a set."""

    TOOK_PLACE = "took a place within the nodes, or beyond them in a known queue"
    TOOK_PROBE = "took the place beyond the nodes that probes the node mode"
    STARTED = "its start was answered with a backtest"
    ADOPTED = "its start failed, and the look-up found the backtest it started"
    REFUSED = "its start was refused for lack of a node"
    UNANSWERED = "its start (or its look-up) got no answer"
    DEADLINE = "its deadline passed before it could take a place"
    RELEASED = "a read showed its backtest completed or failed: its node is free"
    FAILED = "its start failed for good, or the set broke (a defect), or it was cancelled"


_W, _S, _P = SetState.WAITING, SetState.SUBMITTING, SetState.PROBING
_RUN, _A, _REF = SetState.RUNNING, SetState.ADOPTED, SetState.REFUSED
_N, _E = SetState.NEVER_STARTED, SetState.ENDED
#: A set's transitions; any pair not listed is a defect (:class:`IllegalTransitionError`).
SET_TRANSITIONS: Mapping[tuple[SetState, SetEvent], SetState] = {
    # Places go by set index: a refused set goes before the sets not started yet (44b8b11).
    (_W, SetEvent.TOOK_PLACE): _S,
    (_W, SetEvent.TOOK_PROBE): _P,
    (_REF, SetEvent.TOOK_PLACE): _S,  # refused means reject mode: never a probe again
    (_S, SetEvent.STARTED): _RUN,
    (_P, SetEvent.STARTED): _RUN,  # the probe's read decides what it showed (3de6083)
    # A start whose answer was lost is looked up by the task before the set is answered, and
    # adopted, never repeated nor left running on a node the run counts free (2deab81).
    (_S, SetEvent.ADOPTED): _A,
    (_P, SetEvent.ADOPTED): _A,  # the probe ends, nothing learnt
    (_S, SetEvent.REFUSED): _REF,
    (_P, SetEvent.REFUSED): _REF,
    # A start without an answer is sent again after a pause, without waiting for a node
    # (c04abb5); a probe without an answer lets a later set probe (7b37c27).
    (_S, SetEvent.UNANSWERED): _W,
    (_P, SetEvent.UNANSWERED): _W,
    # Refused sets wait for one of the run's nodes to free, not for any change of the board,
    # so they do not wake each other into a create loop (7b37c27); at the deadline they give
    # up, named in SetsNeverStartedError (252d632).
    (_W, SetEvent.DEADLINE): _N,
    (_REF, SetEvent.DEADLINE): _N,
    # A set hands its node over when a read shows its backtest completed, not once its
    # results settle (d2968bc); an answered probe ending does not end a later probe (c04abb5).
    (_RUN, SetEvent.RELEASED): _E,
    (_A, SetEvent.RELEASED): _E,
    # A start refused for good, or a defect, counts as given up: the last round is still
    # noticed (0c04fe8, 7b37c27).
    (_W, SetEvent.FAILED): _E,
    (_S, SetEvent.FAILED): _E,
    (_P, SetEvent.FAILED): _E,
    (_REF, SetEvent.FAILED): _E,
    (_RUN, SetEvent.FAILED): _E,
    (_A, SetEvent.FAILED): _E,
}
#: The states in which a set holds a place.
HOLDING = frozenset({_S, _P, _RUN, _A})
#: The states of a set that has started, or never will.
SETTLED = frozenset({_RUN, _A, _N, _E})


class IllegalTransitionError(RuntimeError):
    """An event a set's state has no row for: a defect of the scheduler."""


@dataclass
class _Slot:
    state: SetState = SetState.WAITING
    extra: bool = False  # its place is beyond the nodes


class Board:
    """The scheduler's state, without time or waiting: the sets' states and the node mode.

    Every change goes through :data:`SET_TRANSITIONS` and :data:`NODE_MODE_TRANSITIONS`.

    Example:
        >>> board = Board(nodes=1, extra=1, sets=3)
        >>> board.take(0), board.may_take()  # the probe waits for set 0's answer
        (<SetState.SUBMITTING: 'submitting'>, False)
        >>> board.started(0); board.take(1)
        <SetState.PROBING: 'probing'>
        >>> board.started(1, queued=True); board.mode
        <NodeMode.QUEUE: 'queue'>
    """

    def __init__(self, nodes: int, extra: int, sets: int) -> None:
        self.nodes = nodes
        self.extra = extra
        self.mode = NodeMode.UNKNOWN
        self.slots = [_Slot() for _ in range(sets)]
        self.probe: int | None = None  # the set whose start probes the node mode
        self.releases = 0  # nodes the run's backtests freed: what wakes a refused set

    def state(self, index: int) -> SetState:
        """The set's state."""
        return self.slots[index].state

    @property
    def holding(self) -> int:
        """Sets holding a place."""
        return sum(slot.state in HOLDING for slot in self.slots)

    @property
    def last_round(self) -> bool:
        """Whether every set has started or never will: the running ones are the last."""
        return all(slot.state in SETTLED for slot in self.slots)

    def limit(self) -> int:
        """How many sets may hold a place now."""
        return self.nodes + (0 if self.mode is NodeMode.REJECT else self.extra)

    def may_take(self) -> bool:
        """Whether a set may take a place now (the order among waiting sets aside)."""
        if self.holding >= self.limit():
            return False
        if self.holding < self.nodes:
            return True
        # Beyond the nodes only once the sets within have their answers (an extra start must
        # not take the node of one of them), and one probe at a time until the service showed
        # that it queues.
        due = any(s.state is _S and not s.extra for s in self.slots)
        return not due and (self.mode is NodeMode.QUEUE or self.probe is None)

    def is_extra(self, index: int) -> bool:
        """Whether the set's place is beyond the nodes."""
        return self.slots[index].extra

    def take(self, index: int) -> SetState:
        """The set takes a place (:meth:`may_take` said so): submitting or probing."""
        slot = self.slots[index]
        slot.extra = self.holding >= self.nodes
        probe = slot.extra and self.mode is not NodeMode.QUEUE
        if probe:
            self.probe = index
        self._move(index, SetEvent.TOOK_PROBE if probe else SetEvent.TOOK_PLACE)
        return slot.state

    def started(self, index: int, queued: bool = False) -> None:
        """The set's start was answered; ``queued``: the probe's read showed it In Queue."""
        if self._end_probe(index):
            self._learn(Evidence.PROBE_QUEUED if queued else Evidence.PROBE_SHOWED_NOTHING)
        self._move(index, SetEvent.STARTED)

    def adopted(self, index: int) -> None:
        """A start of the set whose answer was lost was found: it runs, nothing learnt."""
        if self._end_probe(index):
            self._learn(Evidence.PROBE_SHOWED_NOTHING)
        self.slots[index].extra = False
        self._move(index, SetEvent.ADOPTED)

    def refused(self, index: int) -> None:
        """The set's start was refused for lack of a node: the place is given back."""
        self.probe = None  # reject mode: no probe again
        self._learn(Evidence.REFUSED)
        self._move(index, SetEvent.REFUSED)

    def unanswered(self, index: int) -> None:
        """The set's start got no answer: the place is given back, to be taken again."""
        if self._end_probe(index):
            self._learn(Evidence.PROBE_SHOWED_NOTHING)
        self._move(index, SetEvent.UNANSWERED)

    def never_started(self, index: int) -> None:
        """The set's deadline passed before it could take a place."""
        self._move(index, SetEvent.DEADLINE)

    def end(self, index: int, released: bool = False) -> None:
        """The set is done with its place, if it holds one: ``released``, its backtest freed
        its node (a read showed it completed or failed), else it failed. Once only."""
        if self.slots[index].state in (_N, _E):
            return
        if self._end_probe(index):
            self._learn(Evidence.PROBE_SHOWED_NOTHING)
        holds = self.slots[index].state in HOLDING
        self._move(index, SetEvent.RELEASED if released and holds else SetEvent.FAILED)
        if released and holds:
            self.releases += 1

    def _end_probe(self, index: int) -> bool:
        if self.probe == index and self.slots[index].state is _P:
            self.probe = None
            return True
        return False

    def _learn(self, evidence: Evidence) -> None:
        self.mode = NODE_MODE_TRANSITIONS[self.mode, evidence]

    def _move(self, index: int, event: SetEvent) -> None:
        slot = self.slots[index]
        try:
            slot.state = SET_TRANSITIONS[slot.state, event]
        except KeyError:
            raise IllegalTransitionError(
                f"set {index} is {slot.state.value}: {event.value}?") from None


class NodeBoard:
    """The :class:`Board` with waiting: sets wait for a place in index order, refused sets for
    a node of the run to free. On anyio's clock.

    Example:
        >>> board = NodeBoard(nodes=2, extra=2, no_node_wait=15, sets=3)
        >>> anyio.run(board.take, 0), board.limit()
        (<SetState.SUBMITTING: 'submitting'>, 4)
    """

    def __init__(self, nodes: int, extra: int, no_node_wait: float, sets: int = 0) -> None:
        self.board = Board(nodes, extra, sets)
        self.no_node_wait = no_node_wait
        self._asking: set[int] = set()  # the sets waiting inside take(), by index
        self._changed: anyio.Event | None = None
        self._released: anyio.Event | None = None

    @property
    def mode(self) -> NodeMode:
        """What the run has seen of the service's node mode."""
        return self.board.mode

    @property
    def last_round(self) -> bool:
        """Whether every set has started (or never will)."""
        return self.board.last_round

    def limit(self) -> int:
        """How many sets may hold a place now."""
        return self.board.limit()

    def change(self, event: Callable[[Board], None]) -> None:
        """Apply ``event`` to the board and wake whoever waits on what it changed."""
        releases = self.board.releases
        event(self.board)
        if self.board.releases != releases and self._released is not None:
            self._released.set()
            self._released = None
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def _wait_for_change(self, timeout: float) -> None:
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

    async def take(self, index: int, deadline: float = math.inf) -> SetState:
        """Wait for a place, by ``deadline`` (anyio's clock), in index order: a set submitted
        again goes before the sets that have not started yet.

        Raises:
            TimeoutError: The deadline passed first.
        """
        self._asking.add(index)
        try:
            while not (index == min(self._asking) and self.board.may_take()):
                left = deadline - anyio.current_time()
                if left <= 0:
                    raise TimeoutError
                await self._wait_for_change(left)
        finally:
            self._asking.discard(index)
        state = self.board.take(index)
        self.change(lambda board: None)  # the next in order may take a place too
        return state


@dataclass(frozen=True)
class Started:
    """A start's answer: the backtest; ``adopted``, found by name after the start failed."""

    backtest: Backtest
    adopted: bool = False


@dataclass(frozen=True)
class Refused:
    """A start refused for lack of a node (nothing started), with the service's words."""

    said: str


@dataclass(frozen=True)
class Unanswered:
    """A start with nothing started, or unknown: ``requests`` went unanswered (the start and
    its look-up: 2); ``looked_up``: the name was looked up after it, and nothing found."""

    error: TransientError
    looked_up: bool = True
    requests: int = 1


#: What a start comes back with (anything else it raises: a permanent error, a defect).
Answer = Started | Refused | Unanswered


@dataclass
class StartCounts:
    """What a set's start did, for its row: submissions again, refusals, unanswered starts."""

    resubmissions: int = 0
    refusals: int = 0
    unanswered: int = 0
    said: str = ""  # the last refusal's words


async def start_set(
    nodes: NodeBoard,
    index: int,
    budget: float,
    submit: Callable[[bool], Awaitable[Answer]],
    probe_queued: Callable[[Backtest], Awaitable[bool]],
    counts: StartCounts,
    log: logging.Logger | logging.LoggerAdapter[Any],
) -> Backtest | None:
    """Start set ``index``: take a place, submit, and on each answer move the set along its
    table until it runs; None if it never started within ``budget`` seconds of its first
    submission. ``submit(look_first)`` starts it (looking its name up first if an earlier start
    is unknown); ``probe_queued`` reads whether the probe's backtest waits In Queue.

    Raises:
        TransientError: :data:`MAX_UNSURE_SUBMISSIONS` requests in a row went unanswered.
        Exception: What ``submit`` raised (a permanent refusal, a defect): the set ended.
    """
    await nodes.take(index)
    deadline = anyio.current_time() + budget
    unsure = 0
    look_first = False
    while True:
        try:
            answer = await submit(look_first)
        except BaseException:
            nodes.change(lambda b: b.end(index))  # given up: the row says why
            raise
        if isinstance(answer, Started):
            if answer.adopted:
                if not look_first and unsure + 1 < MAX_UNSURE_SUBMISSIONS:
                    counts.resubmissions += 1  # a start failed before it was found
                log.info("Set %d: its backtest %s was started after all", index,
                         answer.backtest.backtest_id)
                nodes.change(lambda b: b.adopted(index))
                return answer.backtest
            queued = bool(nodes.board.state(index) is SetState.PROBING
                          and answer.backtest.queued and await probe_queued(answer.backtest))
            nodes.change(partial(Board.started, index=index, queued=queued))
            return answer.backtest
        if isinstance(answer, Refused):
            counts.said = answer.said
            counts.refusals += 1
            counts.resubmissions += 1
            unsure, look_first = 0, False
            extra = nodes.board.is_extra(index)
            nodes.change(lambda b: b.refused(index))
            if not extra:
                # Refused with a place of the run's own: a node is held outside the run. Wait
                # for one of the run's backtests to end, or a while for the other one.
                log.info("Set %d: submitting again when a backtest node frees", index)
                await nodes.wait_for_release(min(nodes.no_node_wait,
                                                 deadline - anyio.current_time()))
        else:
            unsure += answer.requests
            counts.unanswered += 1
            nodes.change(lambda b: b.unanswered(index))
            if unsure >= MAX_UNSURE_SUBMISSIONS:
                nodes.change(lambda b: b.end(index))
                raise answer.error
            counts.resubmissions += 1 if answer.looked_up or not look_first else 0
            look_first = not answer.looked_up
            log.warning("Set %d: its start failed for now (%s)", index, answer.error)
            await anyio.sleep(UNSURE_RESUBMIT_SECONDS)
        try:
            if anyio.current_time() >= deadline:
                raise TimeoutError
            await nodes.take(index, deadline)
        except TimeoutError:
            nodes.change(lambda b: b.never_started(index))
            return None


class GridSchedule(ProgressSchedule):
    """The read schedule of a grid set: the client's progress-driven one, with three changes.

    The rate is measured over most of the backtest (reads halve the time left until
    ``APPROACH`` seconds are left: a rate of most of the backtest, not its first fraction of a
    second); near the finish a read is sent a round trip early (the time the previous read
    took, at most ``MAX_READ_LEAD``), so that it reaches the service just after the estimated
    finish: the node hand-over waits on that read. A queued set is read at most every
    ``MIN_QUEUED_READ``. Once completed, the set re-reads every ``LAST_ROUND_SETTLE`` seconds
    if it is in the run's last round (the run's end waits for its slowest set), else on the
    client's slower settle schedule (its node is handed over already).

    Example:
        >>> from types import SimpleNamespace as Read
        >>> ticks = iter([0.0, 0.0, 0.2, 0.2])  # the schedule reads the clock twice a call
        >>> schedule = GridSchedule(lambda: True, clock=lambda: next(ticks))
        >>> schedule(Read(progress=0.0, completed=False, queued=True))
        0.5
        >>> schedule(Read(progress=1.0, completed=True, queued=False))
        0.25
    """

    APPROACH = 1.5
    MAX_READ_LEAD = 0.5
    MIN_QUEUED_READ = 0.5
    LAST_ROUND_SETTLE = 0.25

    def __init__(self, last_round: Callable[[], bool], **settings: Any) -> None:
        super().__init__(**{"min_interval": 0.1, "finish_margin": 0.05,
                            "approach": self.APPROACH, **settings})
        self._last_round = last_round
        self._called_at: float | None = None
        self._delay = 0.0

    def __call__(self, report: ProgressReport) -> float:
        now = self._clock()
        took = 0.0 if self._called_at is None else now - self._called_at - self._delay
        delay = super().__call__(report)
        if report.completed or report.progress >= 1.0:
            if self._last_round():
                delay = min(delay, self.LAST_ROUND_SETTLE)
        elif report.queued or report.progress <= 0.0:
            # A queued set starts when the service gives it a node; nothing waits on seeing
            # that at once (its finish is estimated from its reads while it runs).
            delay = max(delay, self.MIN_QUEUED_READ)
        else:
            delay = max(self.min_interval, delay - min(max(0.0, took), self.MAX_READ_LEAD))
        self._called_at, self._delay = now, delay
        return delay
