"""Polling: a read repeated on a schedule until its value is final, within a deadline.

The waits for jobs (a compile, a backtest, a chart being built) are :func:`poll` calls: each
read is an ordinary client call (retried by :func:`~quantconnect_client.retry.retry_call`), the
whole wait runs inside one :func:`~quantconnect_client.budget.operation_budget`, and the sleeps
between reads are cancellable (:mod:`quantconnect_client.cancellation`).

Example:
    >>> values = iter([0.2, 0.7, 1.0])
    >>> poll(lambda: next(values), done=lambda v: v >= 1, schedule=[0.001], timeout=5)
    1.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from .budget import operation_budget
from .cancellation import cancellable_sleep
from .errors import QuantConnectError, TransientError, WaitTimeoutError
from .retry import RetryPolicy

logger = logging.getLogger("quantconnect_client")

T = TypeVar("T")

#: What to wait between reads: seconds in order (the last repeats), or a function of the last
#: value read.
Schedule = Iterable[float] | Callable[[T], float]


def poll(
    read: Callable[[], T],
    *,
    done: Callable[[T], bool],
    schedule: Schedule[T],
    timeout: float,
    on_progress: Callable[[T], None] | None = None,
    what: str = "the wait",
    policy: RetryPolicy | None = None,
    on_retry: Callable[[QuantConnectError], None] | None = None,
    sleep: Callable[[float], None] = cancellable_sleep,
) -> T:
    """Read until ``done(value)`` holds, on a schedule, within a deadline.

    Transient read failures (after the read's own retries) are retried with the policy's backoff
    while time is left; permanent ones are raised at once. The reads run inside an
    :func:`operation_budget` of ``timeout``, so no read outlasts the deadline; one last read is
    made at the deadline before giving up.

    Args:
        read: One read (for example ``lambda: client.backtests.read(pid, bid)``).
        done: True when the value read is final.
        schedule: Seconds to wait before each next read: a sequence (its last entry repeats) or
            a function of the last value.
        timeout: Seconds in all.
        on_progress: Called with every value read (its failures are logged, not raised: a
            progress display must not end the wait).
        what: Names the wait in errors and log lines.
        policy: Backoff for transient read failures (default :class:`RetryPolicy`).
        on_retry: Called with the failure before a read is repeated after one.
        sleep: Waits between reads.

    Returns:
        The first value for which ``done`` holds.

    Raises:
        WaitTimeoutError: The deadline came first (``.last`` holds the last value read).
        BudgetExhaustedError: An enclosing budget, shorter than ``timeout``, ran out.
        QuantConnectError: A permanent read failure.

    Example:
        >>> values = iter([0.2, 0.7, 1.0])
        >>> poll(lambda: next(values), done=lambda v: v >= 1, schedule=[0.001], timeout=5)
        1.0
    """
    policy = policy or RetryPolicy()
    delays = _delays(schedule)
    with operation_budget(timeout) as budget:
        own = budget.binding is budget
        reads = failures = 0
        last: T | None = None
        error: QuantConnectError | None = None
        while True:
            reads += 1
            try:
                value = read()
            except TransientError as failure:
                error, failures = failure, failures + 1
                pause = policy.delay(failures + 1, failure)
                if on_retry is not None:
                    on_retry(failure)
            else:
                error, failures, last = None, 0, value
                _report(on_progress, value, what)
                if done(value):
                    return value
                pause = delays(value)
            left = budget.remaining()
            if left <= 0:
                if not own:
                    raise budget.exhausted(what, error) from error
                raise WaitTimeoutError(
                    f"{what} did not finish within {timeout:g} s ({reads} reads)"
                    + (f"; last error: {error}" if error is not None else ""),
                    last=last,
                    reads=reads,
                    elapsed=time.monotonic() - budget.started,
                ) from error
            sleep(max(0.0, min(pause, left)))


def _delays(schedule: Schedule[T]) -> Callable[[T], float]:
    if callable(schedule):
        return schedule
    steps = iter(schedule)
    state = {"last": 1.0}

    def next_delay(_: T) -> float:
        state["last"] = next(steps, state["last"])
        return state["last"]

    return next_delay


def _report(on_progress: Callable[[T], None] | None, value: T, what: str) -> None:
    if on_progress is None:
        return
    try:
        on_progress(value)
    except Exception:  # a failing progress display must not end the wait
        logger.warning(
            "The progress callback of %s failed; the wait goes on.", what, exc_info=True
        )


__all__ = ["Schedule", "poll"]
