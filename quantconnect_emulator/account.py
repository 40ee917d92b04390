"""The emulated account: one lock, the id generators, the clock, per-resource state.

Like a moto backend, an :class:`Account` is the whole state of one emulated
QuantConnect account. Its clock drives the jobs (compiles, backtests) only;
timestamps such as ``created`` and signature checks use the wall clock.
Resource modules (:mod:`quantconnect_emulator.resources`) keep their models in
it (:meth:`Account.part`) and run every operation under its one re-entrant
lock, so an API action is atomic whatever it touches. The account tells every
resource of :data:`~quantconnect_emulator.resources.RESOURCES` of its events by
calling that resource's method (:class:`~quantconnect_emulator.registry.Resource`):
a project removed, new job settings, the figures for ``stats()``.
``reset`` makes a new account, handing over the id generators and the clock:
ids never repeat within a process (a stale id from before a reset cannot reach
a new project), and the clock never runs backwards.

Example:
    >>> from quantconnect_emulator.config import EmulatorConfig
    >>> clock = ManualClock(1_700_000_000.0)
    >>> account = Account(EmulatorConfig(seed=3), clock=clock)
    >>> first = account.ids.project_id()
    >>> clock.advance(5)
    >>> account.clock.time()
    1700000005.0
    >>> fresh = account.renewed()
    >>> fresh.ids.project_id() > first
    True
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from quantconnect_emulator.checkrun import CheckRunner
from quantconnect_emulator.resources import RESOURCES

if TYPE_CHECKING:
    from quantconnect_emulator.config import EmulatorConfig, JobsConfig
    from quantconnect_emulator.registry import Resource

T = TypeVar("T")


class Clock(Protocol):
    """What the emulator asks of a clock: Unix seconds, and moving it forward."""

    def time(self) -> float:
        """Current Unix time in seconds."""

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""


class SystemClock:
    """Wall-clock time plus an offset that :meth:`advance` grows.

    Jobs follow this clock, so ``advance(60)`` finishes a one-minute backtest
    at once while the real time keeps flowing for everything else.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    def time(self) -> float:
        """Wall time plus the accumulated offset."""
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Add ``seconds`` (must be >= 0) to the offset."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds


class ManualClock:
    """A clock that moves only when told to (for tests and simulations).

    Example:
        >>> clock = ManualClock(10.0); clock.advance(2.5); clock.time()
        12.5
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = start

    def time(self) -> float:
        """The current (frozen) time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds`` (must be >= 0)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._now += seconds


class IdGenerator:
    """Project, file and job ids in the service's formats, never repeating.

    Seeded generators give the same sequence in every process; the sequence
    continues across :meth:`Account.renewed` because the generator is handed
    over, not re-created.
    """

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._next_project = self._rng.randint(21_000_000, 24_999_999)
        self._next_file = self._rng.randint(180_000_000, 240_000_000)

    def project_id(self) -> int:
        """The next project id (increasing, with gaps like the service's)."""
        with self._lock:
            value = self._next_project
            self._next_project += self._rng.randint(1, 37)
            return value

    def file_id(self) -> int:
        """The next file id."""
        with self._lock:
            value = self._next_file
            self._next_file += self._rng.randint(1, 9)
            return value

    def hex32(self) -> str:
        """32 random lowercase hex digits (backtest ids, channel suffixes)."""
        with self._lock:
            return f"{self._rng.getrandbits(128):032x}"

    def compile_id(self) -> str:
        """Two 32-hex hashes joined by ``-``, the service's compile id format."""
        return f"{self.hex32()}-{self.hex32()}"

    def random(self) -> random.Random:
        """A new generator seeded from this one (for one resource's own draws)."""
        with self._lock:
            return random.Random(self._rng.getrandbits(64))


class Account:
    """The state of one emulated account (see the module docstring).

    Args:
        config: The emulator's configuration (user, organization, limits, seed).
        clock: The clock jobs and timestamps follow (default :class:`SystemClock`).
        ids: An id generator to continue (from the account this one replaces).
        jobs: Job timings and nodes in force (default ``config.jobs``).
        checks: The code-check runner to continue (from the account this one replaces).
    """

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        jobs: JobsConfig | None = None,
        checks: CheckRunner | None = None,
    ) -> None:
        self.config = config
        self.user_id = config.user_id
        self.organization_id = config.organization_id
        self.clock: Clock = clock or SystemClock()
        self.ids = ids or IdGenerator(config.seed)
        #: Job timings and nodes now in force (``EmulatorServer.set_jobs`` replaces them).
        self.jobs_config: JobsConfig = jobs or config.jobs
        self.lock = threading.RLock()
        self.counters: Counter[str] = Counter()
        self._parts: dict[type[Any], Any] = {}
        #: The emulator's code checks (kept across resets: the server stops their children).
        self.checks = checks or CheckRunner()

    def renewed(self) -> Account:
        """A new, empty account continuing this one's ids and clock (``reset``)."""
        return Account(
            self.config, clock=self.clock, ids=self.ids, jobs=self.jobs_config, checks=self.checks
        )

    def part(self, factory: Callable[[Account], T]) -> T:
        """The state object of one resource, made on first use by ``factory(account)``.

        ``factory`` is usually the resource's state class; the same class always
        gives the same object for this account.
        """
        with self.lock:
            key: Any = factory
            part = self._parts.get(key)
            if part is None:
                part = factory(self)
                self._parts[key] = part
            return part  # type: ignore[no-any-return]

    def now(self) -> datetime:
        """Wall-clock time (UTC) for ``created``/``modified`` stamps.

        Deliberately not the job clock: advancing jobs must not stamp projects in
        the future of the ``Date`` header a client learns its clock offset from.
        """
        return datetime.now(timezone.utc)

    def count(self, name: str, amount: int = 1) -> None:
        """Add to one of the counters reported by ``stats()["store"]``."""
        with self.lock:
            self.counters[name] += amount

    def resources(self) -> list[Resource]:
        """The state of every resource of :data:`~quantconnect_emulator.resources.RESOURCES`,
        in its order (made on first use): the parts the account tells of its events."""
        with self.lock:
            return [self.part(kind) for kind in RESOURCES]

    def project_removed(self, project_id: int) -> None:
        """Tell the resources that keep per-project state (backtests...) to drop it."""
        with self.lock:
            for resource in self.resources():
                resource.project_removed(project_id)

    def listed_backtests(self, project_id: int, with_statistics: bool) -> list[dict[str, Any]]:
        """The backtests other jobs ran in the project (an optimization's), as
        ``/backtests/list`` shows them after the project's own."""
        with self.lock:
            return [summary for resource in self.resources()
                    for summary in resource.listed_backtests(project_id, with_statistics)]

    def jobs_changed(self) -> None:
        """Tell the job resources that :attr:`jobs_config` was replaced."""
        with self.lock:
            for resource in self.resources():
                resource.jobs_changed()

    def extra_stats(self) -> dict[str, Any]:
        """Top-level ``stats()`` entries the resources report (peaks...)."""
        result: dict[str, Any] = {}
        with self.lock:
            for resource in self.resources():
                result.update(resource.stats())
        return result
