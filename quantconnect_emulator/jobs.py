"""Jobs whose state advances with the emulator's clock, or on demand.

The idea is moto's "managed state": a job never runs anything; it has a
*schedule* of stages, each lasting some seconds on the account's clock, and its
state at any moment is computed from the time elapsed since it started. Tests
drive it without sleeping: ``advance()`` jumps to the next stage,
``finish()`` to the last one, ``stop(state)`` ends it in a given state (a
deleted backtest, a forced error), and moving the clock moves every job.

A :class:`JobBoard` holds the jobs of one kind and, when given a number of
*slots* (backtest nodes), starts a job only when a slot is free: until then the
job waits in its ``waiting`` state, and it starts at the moment a running job
releases its slot (jobs are settled lazily, on each read, in time order).

Example:
    >>> from quantconnect_emulator.account import ManualClock
    >>> clock = ManualClock(0.0)
    >>> board = JobBoard(clock, slots=1)
    >>> schedule = [Stage("running", 10), Stage("done", 0, holds_slot=False)]
    >>> first = board.submit("a", schedule)
    >>> second = board.submit("b", schedule)
    >>> board.state("a"), board.state("b")
    ('running', 'queued')
    >>> clock.advance(10)
    >>> board.state("a"), board.state("b"), board.progress("b")
    ('done', 'running', 0.0)
    >>> _ = board.finish("b"); board.state("b"), board.peak_holding
    ('done', 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account, Clock


class NoFreeSlotError(Exception):
    """A job was refused because every slot is busy (``reject`` mode)."""


@dataclass(frozen=True)
class Stage:
    """One stage of a schedule: ``state`` for ``seconds`` (the last stage lasts forever).

    ``holds_slot`` is true while the job occupies a slot (a backtest node).
    """

    state: str
    seconds: float
    holds_slot: bool = True


@dataclass
class Job:
    """One job: its schedule, when it was submitted and started, and any forced end."""

    job_id: str
    schedule: list[Stage]
    submitted_at: float
    waiting: str = "queued"
    started_at: float | None = None
    skipped: float = 0.0
    skipped_at: float | None = None
    stopped: str | None = None
    stopped_at: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def hold_seconds(self) -> float:
        """Seconds of schedule during which the job holds its slot."""
        total = 0.0
        for stage in self.schedule[:-1]:
            if not stage.holds_slot:
                break
            total += stage.seconds
        return total

    def elapsed(self, now: float) -> float | None:
        """Schedule time reached at ``now`` (``None`` before the start)."""
        if self.started_at is None:
            return None
        end = self.stopped_at if self.stopped_at is not None else now
        return max(0.0, end - self.started_at) + self.skipped

    def stage_index(self, now: float) -> int | None:
        """Index of the current stage at ``now`` (``None``: not started)."""
        elapsed = self.elapsed(now)
        if elapsed is None:
            return None
        for index, stage in enumerate(self.schedule[:-1]):
            if elapsed < stage.seconds:
                return index
            elapsed -= stage.seconds
        return len(self.schedule) - 1

    def state(self, now: float) -> str:
        """The state at ``now``: forced end, waiting state, or the schedule's stage."""
        if self.stopped is not None:
            return self.stopped
        index = self.stage_index(now)
        return self.waiting if index is None else self.schedule[index].state

    def seconds_in_stage(self, now: float) -> float:
        """Seconds spent in the current stage so far."""
        elapsed = self.elapsed(now)
        if elapsed is None:
            return 0.0
        for stage in self.schedule[:-1]:
            if elapsed < stage.seconds:
                return elapsed
            elapsed -= stage.seconds
        return elapsed

    def progress(self, now: float) -> float:
        """Fraction (0..1) of the first stage done: the "work" of the job."""
        elapsed = self.elapsed(now)
        if elapsed is None:
            return 0.0
        first = self.schedule[0].seconds if len(self.schedule) > 1 else 0.0
        if first <= 0 or self.stage_index(now) != 0:
            return 1.0 if self.stopped is None or elapsed >= first else min(1.0, elapsed / first)
        return min(1.0, elapsed / first)

    def entered_at(self, index: int) -> float | None:
        """Clock time at which the job enters (or entered) stage ``index``.

        ``None`` before the job starts, or for a stage a forced stop skipped.
        """
        if self.started_at is None:
            return None
        planned = self.started_at + sum(stage.seconds for stage in self.schedule[:index])
        moment = planned - self.skipped
        if self.skipped_at is not None and moment < self.skipped_at:
            moment = max(moment, min(self.skipped_at, planned))  # a jump passed it then
        if self.stopped_at is not None and moment > self.stopped_at:
            return None
        return moment

    def release_time(self) -> float | None:
        """When the job gives its slot back (``None``: not started)."""
        if self.started_at is None:
            return None
        natural = self.started_at + self.hold_seconds - self.skipped
        if self.skipped_at is not None:
            # A jump forward frees the slot when it is made, not in the past.
            natural = max(natural, min(self.skipped_at, self.started_at + self.hold_seconds))
        if self.stopped_at is not None:
            return min(natural, self.stopped_at)
        return natural


class JobBoard:
    """The jobs of one kind, with an optional number of slots (see the module docstring).

    Args:
        clock: The account's clock.
        slots: How many jobs may hold a slot at once (``None`` = unlimited).
        reject_when_busy: Refuse a new job (:class:`NoFreeSlotError`) instead
            of queueing it when no slot is free.
    """

    def __init__(
        self, clock: Clock, *, slots: int | None = None, reject_when_busy: bool = False
    ) -> None:
        self.clock = clock
        self.slots = slots
        self.reject_when_busy = reject_when_busy
        self.jobs: dict[str, Job] = {}
        self._queue: list[Job] = []
        self._holding: list[Job] = []
        #: The most jobs that held a slot at the same moment.
        self.peak_holding = 0

    def configure(self, *, slots: int | None, reject_when_busy: bool) -> None:
        """Change the slots and the mode; waiting jobs start if slots were added."""
        self.settle()
        self.slots = slots
        self.reject_when_busy = reject_when_busy
        self.settle()

    def submit(
        self, job_id: str, schedule: list[Stage], *, waiting: str = "queued", **data: Any
    ) -> Job:
        """Add a job; it starts now if a slot is free, else waits (or is refused).

        Raises:
            NoFreeSlotError: No slot is free and the board rejects when busy.
        """
        now = self.clock.time()
        self.settle(now)
        if self.reject_when_busy and not self._has_free_slot():
            raise NoFreeSlotError(job_id)
        job = Job(job_id, list(schedule), submitted_at=now, waiting=waiting, data=dict(data))
        self.jobs[job_id] = job
        self._queue.append(job)
        self.settle(now)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job (settled to now), or ``None``."""
        self.settle()
        return self.jobs.get(job_id)

    def state(self, job_id: str) -> str:
        """The job's state now."""
        return self._require(job_id).state(self.clock.time())

    def progress(self, job_id: str) -> float:
        """The job's progress now (0..1)."""
        return self._require(job_id).progress(self.clock.time())

    def advance(self, job_id: str) -> Job:
        """Jump the job to the start of its next stage.

        A waiting job is left waiting: it starts only when a slot frees (advance
        the job that holds it), so the slots are never exceeded.
        """
        now = self.clock.time()
        job = self._require(job_id)
        if job.stopped is None and job.started_at is not None:
            index = job.stage_index(now)
            if index is not None and index < len(job.schedule) - 1:
                job.skipped += job.schedule[index].seconds - job.seconds_in_stage(now)
                job.skipped_at = now
        self.settle(now)
        return job

    def finish(self, job_id: str) -> Job:
        """Jump the job to its last stage."""
        job = self._require(job_id)
        while job.stopped is None and job.started_at is not None:
            index = job.stage_index(self.clock.time())
            if index is not None and index == len(job.schedule) - 1:
                break
            self.advance(job_id)
        return job

    def stop(self, job_id: str, state: str) -> Job:
        """End the job now in ``state`` (it releases its slot)."""
        now = self.clock.time()
        job = self._require(job_id)
        self.settle(now)
        if job.stopped is None:
            job.stopped = state
            job.stopped_at = now
            if job in self._queue:
                self._queue.remove(job)
        self.settle(now)
        return job

    def remove(self, job_id: str) -> None:
        """Forget a job (stopping it first)."""
        if job_id in self.jobs:
            self.stop(job_id, "deleted")
            del self.jobs[job_id]

    def holding(self) -> int:
        """How many jobs hold a slot now."""
        self.settle()
        return len(self._holding)

    def settle(self, now: float | None = None) -> None:
        """Release the slots due by ``now`` and start waiting jobs, in time order."""
        now = self.clock.time() if now is None else now
        while True:
            self._holding.sort(key=lambda job: job.release_time() or 0.0)
            if self._queue and self._has_free_slot():
                job = self._queue[0]
                self._start(job, max(job.submitted_at, self._last_release(now)))
                continue
            if self._holding:
                first = self._holding[0]
                released = first.release_time()
                if released is not None and released <= now:
                    self._holding.pop(0)
                    self._released_at = released
                    continue
            return

    # -------------------------------------------------------------- internals

    _released_at = float("-inf")

    def _last_release(self, now: float) -> float:
        return min(now, self._released_at)

    def _has_free_slot(self) -> bool:
        return self.slots is None or len(self._holding) < self.slots

    def _start(self, job: Job, at: float) -> None:
        if job in self._queue:
            self._queue.remove(job)
        job.started_at = at
        if job.hold_seconds > 0:
            self._holding.append(job)
            self.peak_holding = max(self.peak_holding, len(self._holding))

    def _require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job


class JobBoards:
    """Every job board of one account, by kind (an ``Account.part``).

    The control plane finds any job here by id (``/_emulator/jobs/{id}/finish``)
    without knowing which resource made it.
    """

    def __init__(self, account: Account) -> None:
        self.account = account
        self.boards: dict[str, JobBoard] = {}

    @classmethod
    def of(cls, account: Account) -> JobBoards:
        """The account's boards."""
        return account.part(cls)

    def board(self, kind: str, **options: Any) -> JobBoard:
        """The board of ``kind``, made with ``options`` on first use."""
        with self.account.lock:
            board = self.boards.get(kind)
            if board is None:
                board = JobBoard(self.account.clock, **options)
                self.boards[kind] = board
            return board

    def find(self, job_id: str) -> JobBoard | None:
        """The board holding ``job_id``."""
        with self.account.lock:
            for board in self.boards.values():
                if job_id in board.jobs:
                    return board
            return None

    def snapshot(self) -> list[dict[str, Any]]:
        """Every job: kind, id, state, progress and times."""
        with self.account.lock:
            now = self.account.clock.time()
            result = []
            for kind, board in self.boards.items():
                board.settle(now)
                for job in board.jobs.values():
                    result.append(
                        {
                            "kind": kind,
                            "id": job.job_id,
                            "state": job.state(now),
                            "progress": round(job.progress(now), 4),
                            "submitted_at": job.submitted_at,
                            "started_at": job.started_at,
                        }
                    )
            return result
