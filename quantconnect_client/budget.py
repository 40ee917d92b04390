"""Time budgets: a limit shared by everything one operation does, however deeply calls nest.

An :func:`operation_budget` bounds every attempt, its timeouts and the sleeps between attempts
made inside the block; the retry engine (:mod:`quantconnect_client.retry`), the polling
primitive (:mod:`quantconnect_client.polling`) and the transport read the time left from
:func:`remaining_budget` and count their attempts on :func:`current_budget`.

Example:
    >>> with operation_budget(30):
    ...     0 < remaining_budget() <= 30
    True
    >>> remaining_budget() is None
    True
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import BudgetExhaustedError


class Budget:
    """Time granted to one operation; see :func:`operation_budget`.

    Attributes:
        seconds: The time granted.
        deadline: ``time.monotonic()`` value at which it is spent.
    """

    def __init__(self, seconds: float, parent: Budget | None) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.parent = parent
        self.deadline = self.started + seconds
        if parent is not None and parent.deadline < self.deadline:
            self.deadline = parent.deadline
        self._attempts = 0
        self._lock = threading.Lock()

    @property
    def binding(self) -> Budget:
        """The budget whose deadline applies here (this one or an enclosing, shorter one)."""
        if self.parent is not None and self.parent.deadline <= self.started + self.seconds:
            return self.parent.binding
        return self

    @property
    def attempts(self) -> int:
        """HTTP attempts made inside this budget so far."""
        return self._attempts

    def remaining(self) -> float:
        """Seconds left (0 when spent)."""
        return max(0.0, self.deadline - time.monotonic())

    def count_attempt(self) -> None:
        """Record one HTTP attempt here and in every enclosing budget."""
        budget: Budget | None = self
        while budget is not None:
            with budget._lock:
                budget._attempts += 1
            budget = budget.parent

    def exhausted(
        self, what: str, last: BaseException | None = None, *, wait: float | None = None
    ) -> BudgetExhaustedError:
        """The error to raise when this budget is spent, or cannot cover a ``wait``."""
        binding = self.binding
        elapsed = time.monotonic() - binding.started
        asked = getattr(last, "retry_after", None)
        if wait is None or self.remaining() < 0.1:
            why = f"its time budget of {binding.seconds:g} s is spent"
        elif asked is not None and wait <= asked:
            why = (
                f"the service asked to wait {describe_seconds(asked)} before retrying, more "
                f"than the {self.remaining():.1f} s left of its time budget of "
                f"{binding.seconds:g} s"
            )
        else:
            why = (
                f"the next retry's wait of {wait:.1f} s is more than the {self.remaining():.1f} s "
                f"left of its time budget of {binding.seconds:g} s"
            )
        detail = f"; last error: {last}" if last is not None else ""
        return BudgetExhaustedError(
            f"Gave up on {what}: {why} ({binding.attempts} attempt(s) over {elapsed:.1f} s)"
            f"{detail}",
            endpoint=getattr(last, "endpoint", None),
            retry_after=asked,
            request_sent=getattr(last, "request_sent", True),
        )


_CURRENT_BUDGET: ContextVar[Budget | None] = ContextVar("quantconnect_budget", default=None)


def check_seconds(seconds: float, what: str) -> float:
    """``seconds`` as a float, if it is a positive finite number (``what`` names it otherwise).

    Raises:
        ValueError: It is not.

    Example:
        >>> check_seconds(2, "The compile timeout")
        2.0
    """
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{what} must be a positive number of seconds, got {seconds!r}")
    return float(seconds)


@contextmanager
def operation_budget(seconds: float) -> Iterator[Budget]:
    """Bound every client call made inside the block to ``seconds`` in all.

    Attempts, their connect/read timeouts and the sleeps between retries all fit in the time
    left; when it is spent, the call raises :class:`BudgetExhaustedError`. Budgets nest (an
    inner one never outlasts the outer) and live in a context variable, so they follow
    ``anyio.to_thread.run_sync`` and ``contextvars.copy_context`` into worker threads.

    Args:
        seconds: Time granted, > 0.

    Example:
        >>> with operation_budget(10), operation_budget(60) as inner:
        ...     inner.remaining() <= 10
        True
    """
    budget = Budget(check_seconds(seconds, "A budget"), _CURRENT_BUDGET.get())
    token = _CURRENT_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _CURRENT_BUDGET.reset(token)


def current_budget() -> Budget | None:
    """The innermost active budget, if any."""
    return _CURRENT_BUDGET.get()


def remaining_budget() -> float | None:
    """Seconds left in the active budget, or None without one."""
    budget = _CURRENT_BUDGET.get()
    return None if budget is None else budget.remaining()


def describe_seconds(seconds: float) -> str:
    """A duration as a person reads it.

    Example:
        >>> describe_seconds(3600), describe_seconds(90), describe_seconds(5)
        ('3600 s (1 hour)', '90 s (1.5 minutes)', '5 s')
    """
    if seconds >= 3600:
        hours = seconds / 3600
        return f"{seconds:g} s ({hours:g} hour{'s' if hours != 1 else ''})"
    if seconds >= 60:
        return f"{seconds:g} s ({seconds / 60:g} minutes)"
    return f"{seconds:g} s"


__all__ = [
    "Budget",
    "check_seconds",
    "current_budget",
    "describe_seconds",
    "operation_budget",
    "remaining_budget",
]
