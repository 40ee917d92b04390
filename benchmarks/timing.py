"""Timing helpers: medians, and where a run's wall time went according to the emulator's log.

The emulator logs each request's start (``time.monotonic()``, a clock shared by all processes of
the machine on Linux) and its duration. Bracketing a run with the same clock splits its wall time
into: before the first request, inside requests, between requests, and after the last one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


def median(values: list[float]) -> float:
    """The median, or 0.0 for no values."""
    return statistics.median(values) if values else 0.0


@dataclass
class Window:
    """A bracketed run: its start and end on the monotonic clock."""

    start: float = 0.0
    end: float = 0.0

    @property
    def seconds(self) -> float:
        """Wall time of the run."""
        return self.end - self.start


@contextmanager
def window() -> Iterator[Window]:
    """Bracket a block with ``time.monotonic()``.

    Example:
        >>> with window() as w:
        ...     pass
        >>> w.seconds >= 0
        True
    """
    span = Window(start=time.monotonic())
    try:
        yield span
    finally:
        span.end = time.monotonic()


@dataclass
class Breakdown:
    """Where a sequential run's wall time went, in seconds."""

    requests: int = 0
    paths: list[str] = field(default_factory=list)
    before_first: float = 0.0
    in_requests: float = 0.0
    between: float = 0.0
    after_last: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Rounded figures for the JSON report."""
        return {
            "requests": self.requests,
            "paths": self.paths,
            "before_first_request_s": round(self.before_first, 4),
            "in_requests_s": round(self.in_requests, 4),
            "between_requests_s": round(self.between, 4),
            "after_last_request_s": round(self.after_last, 4),
        }


def breakdown(span: Window, log: list[dict[str, Any]]) -> Breakdown:
    """Split ``span`` using the log entries that started inside it (sequential runs only)."""
    entries = sorted(
        (e for e in log if span.start <= float(e["monotonic"]) <= span.end),
        key=lambda e: float(e["monotonic"]),
    )
    result = Breakdown(requests=len(entries), paths=[str(e["path"]) for e in entries])
    if not entries:
        result.before_first = span.seconds
        return result
    first = float(entries[0]["monotonic"])
    last = entries[-1]
    last_end = float(last["monotonic"]) + float(last["duration_ms"]) / 1000
    result.before_first = first - span.start
    result.in_requests = sum(float(e["duration_ms"]) for e in entries) / 1000
    result.after_last = max(0.0, span.end - last_end)
    result.between = max(0.0, span.seconds - result.before_first - result.in_requests
                         - result.after_last)
    return result


#: Untimed pause before each timed run. With SQLite, the Prefect server is still writing the
#: previous run's events for a moment; a flow run created meanwhile may get "database is locked"
#: (HTTP 503) and Prefect's client then waits ~2 s before retrying. The pause keeps that
#: back-to-back artefact out of the medians (the README says so). ``--quick`` shortens it.
SETTLE_SECONDS = 0.5


def settle(seconds: float | None = None) -> None:
    """Wait, untimed, for the Prefect server to finish the previous run's writes."""
    time.sleep(SETTLE_SECONDS if seconds is None else seconds)
