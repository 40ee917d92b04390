"""When to read a running job again: the backtest wait's progress-driven schedule.

The service reports ``progress`` (0 to 1) on every read. :class:`ProgressSchedule` estimates the
rate from the reads so far and reads again when the estimate says the backtest will be done:
far from the end it halves the estimated time left (so a speed-up cannot make it late by more
than half), near the end it reads just after the estimated finish, and once the backtest has
completed it reads every 0.75 s, slowing to 5 s, until the final results are in. A queued
backtest is read at growing intervals up to 2 s. Every delay is bounded by ``min_interval`` and
``max_interval``.

Example:
    >>> from types import SimpleNamespace as Read
    >>> ticks = iter([0.0, 1.0, 2.0])
    >>> schedule = ProgressSchedule(clock=lambda: next(ticks))
    >>> schedule(Read(progress=0.0, completed=False, queued=False))
    0.5
    >>> schedule(Read(progress=0.1, completed=False, queued=False))  # first rate sample
    1.0
    >>> round(schedule(Read(progress=0.2, completed=False, queued=False)), 2)  # 8 s left
    8.15
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class ProgressReport(Protocol):
    """What the schedule reads from a job (a :class:`~quantconnect_client.Backtest` is one)."""

    @property
    def progress(self) -> float: ...

    @property
    def completed(self) -> bool: ...

    @property
    def queued(self) -> bool: ...


#: Longest delay between reads while queued (the delay doubles from ``min_interval``).
_QUEUE_INTERVAL = 2.0
#: Delay between reads once completed, until the results are in ...
_SETTLE_INTERVAL = 0.75
#: ... for this many seconds; then it grows by half each read ...
_SETTLE_FAST_SECONDS = 5.0
#: ... up to this.
_MAX_SETTLE_INTERVAL = 5.0


class ProgressSchedule:
    """Delays between reads of a backtest, from its progress; one instance per wait.

    Args:
        min_interval: Shortest delay between reads (raise it to spend fewer requests).
        max_interval: Longest delay while running (how long a finish may go unnoticed).
        approach: Below this many estimated seconds left, read just after the estimated finish
            (a schedule that must notice the finish at once, such as the grid's, raises it).
        finish_margin: Seconds added to the estimated finish (a read a little late beats a
            read a little early, which costs another).
        clock: Monotonic time source.
    """

    def __init__(
        self,
        *,
        min_interval: float = 0.5,
        max_interval: float = 60.0,
        approach: float = 10.0,
        finish_margin: float = 0.15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < min_interval <= max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.approach = approach
        self.finish_margin = finish_margin
        self._clock = clock
        self._anchor: tuple[float, float] | None = None  # first (time, progress) while running
        self._queued_reads = 0
        self._settle_started: float | None = None
        self._settle_delay = _SETTLE_INTERVAL

    def __call__(self, report: ProgressReport) -> float:
        """Seconds to wait before the next read, given the read just made."""
        now = self._clock()
        progress = min(1.0, max(0.0, float(report.progress or 0.0)))
        if report.completed or progress >= 1.0:
            return self._settling(now)
        if report.queued or progress <= 0.0:
            self._anchor = None
            delay = self.min_interval * 2.0**self._queued_reads
            self._queued_reads += 1
            return min(max(delay, self.min_interval), max(_QUEUE_INTERVAL, self.min_interval))
        self._queued_reads = 0
        if self._anchor is None or progress < self._anchor[1]:
            self._anchor = (now, progress)
            return self._clamp(2 * self.min_interval)  # a second sample gives the rate
        start, first = self._anchor
        if progress == first or now <= start:
            return self._clamp(2 * self.min_interval)
        left = (1.0 - progress) * (now - start) / (progress - first)
        if left <= self.approach:
            return self._clamp(left + self.finish_margin)
        return self._clamp(left / 2)

    def _settling(self, now: float) -> float:
        if self._settle_started is None:
            self._settle_started = now
        elif now - self._settle_started > _SETTLE_FAST_SECONDS:
            self._settle_delay = min(_MAX_SETTLE_INTERVAL, self._settle_delay * 1.5)
        return max(self.min_interval / 2, self._settle_delay)

    def _clamp(self, delay: float) -> float:
        return min(self.max_interval, max(self.min_interval, delay))


__all__ = ["ProgressReport", "ProgressSchedule"]
