"""The client's one retry engine, its time budgets, and the polling primitive built on them.

Three pieces, used by every retrying path of the client (each call, a create's reconciliation,
``projects.purge``, the re-send after a clock correction, and the waits for jobs):

* :class:`RetryPolicy`: how many attempts, and how long to wait between them;
* :func:`operation_budget`: a time limit shared by everything done inside it (attempts, their
  timeouts, and the sleeps between them), however deeply the calls nest;
* :func:`retry_call` runs one operation under a policy; :func:`poll` repeats a read on a
  schedule until a predicate holds.

Their sleeps (:func:`cancellable_sleep`) call the check set by :func:`cancel_check`, so a caller
running the client in a worker thread can stop a wait when it is itself cancelled.

The engine is a short loop rather than tenacity or stamina: what it must do besides "retry with
jittered backoff" (re-send once at once after a clock correction, ask a reconcile callback before
re-sending a write whose answer was lost, give up early when ``Retry-After`` or the budget says
so, and say in the error how many attempts over how long) would be callbacks around either
library, longer than the loop itself.

Example:
    >>> policy = RetryPolicy(max_attempts=3, backoff_seconds=0.5, max_backoff_seconds=4)
    >>> 0 <= policy.delay(attempt=2) <= 1.0
    True
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise TransientError("HTTP 502")
    ...     return "ok"
    >>> retry_call(flaky, policy=RetryPolicy(backoff_seconds=0.001), what="/demo")
    'ok'
    >>> with operation_budget(30):
    ...     0 < remaining_budget() <= 30
    True
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import (
    AuthenticationError,
    BudgetExhaustedError,
    QuantConnectError,
    TransientError,
    WaitTimeoutError,
)

logger = logging.getLogger("quantconnect_client")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring the service's ``Retry-After``.

    Attributes:
        max_attempts: Attempts in all, the first included; 1 disables retries.
        backoff_seconds: The base of the exponential backoff.
        max_backoff_seconds: Cap on one computed backoff (``Retry-After`` may ask for more).
        max_retry_after_seconds: The longest ``Retry-After`` obeyed; above it we give up, since
            waiting that long inside one call is worse than failing and letting the caller decide.
    """

    max_attempts: int = 3
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    max_retry_after_seconds: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, error: TransientError | None = None) -> float:
        """Seconds to wait before attempt number ``attempt`` (2 for the first retry).

        The computed backoff is drawn uniformly from ``[0, base * 2**(attempt-2)]`` ("full
        jitter"), so clients that failed together do not retry together. A ``Retry-After`` from
        the service is a floor.
        """
        backoff = self.rng.uniform(0, self._ceiling(attempt))
        if error is not None and error.retry_after is not None:
            return max(backoff, error.retry_after)
        return backoff

    def _ceiling(self, attempt: int) -> float:
        return float(
            min(self.max_backoff_seconds, self.backoff_seconds * 2.0 ** max(0, attempt - 2))
        )

    def should_retry(self, attempt: int, error: TransientError) -> bool:
        """True if attempt ``attempt`` failed with ``error`` and another one is allowed."""
        if attempt >= self.max_attempts:
            return False
        return error.retry_after is None or error.retry_after <= self.max_retry_after_seconds

    def call_bound(self, attempt_seconds: float) -> float:
        """The longest one call can take: every attempt at its bound, plus the longest sleeps.

        Args:
            attempt_seconds: The wall-clock bound of one attempt.

        Example:
            >>> RetryPolicy().call_bound(35.0)  # 3 attempts of 35 s, 2 waits of up to 60 s
            225.0
        """
        waits = sum(
            max(self._ceiling(n), self.max_retry_after_seconds)
            for n in range(2, self.max_attempts + 1)
        )
        return self.max_attempts * attempt_seconds + waits


#: A policy that never retries: for callers (such as Prefect tasks) that retry themselves.
NO_RETRY = RetryPolicy(max_attempts=1)


# ----------------------------------------------------------------------------------- budgets


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


# ------------------------------------------------------------------------------ cancelling

#: How often a wait of the client looks for a cancellation (see :func:`cancel_check`).
CANCEL_CHECK_SECONDS = 0.2

_CANCEL_CHECK: ContextVar[Callable[[], None] | None] = ContextVar(
    "quantconnect_cancel_check", default=None
)


@contextmanager
def cancel_check(check: Callable[[], None]) -> Iterator[None]:
    """Let the client's waits be cancelled: inside the block, every wait (between a poll's
    reads, between a call's attempts) calls ``check`` before it starts, at least every
    :data:`CANCEL_CHECK_SECONDS` while it lasts, and as it ends; ``check`` stops the operation
    by raising. Like budgets, it lives in a context variable.

    A caller that runs the client in a worker thread passes what tells that thread its caller
    was cancelled (for AnyIO: ``anyio.from_thread.check_cancelled``); a cancelled caller then
    no longer leaves its thread reading until the deadline. A request in flight ends as usual.

    Example:
        >>> def stop() -> None:
        ...     raise InterruptedError("the caller was cancelled")
        >>> with cancel_check(stop):
        ...     cancellable_sleep(60)
        Traceback (most recent call last):
        ...
        InterruptedError: the caller was cancelled
    """
    token = _CANCEL_CHECK.set(check)
    try:
        yield
    finally:
        _CANCEL_CHECK.reset(token)


def cancellable_sleep(seconds: float) -> None:
    """``time.sleep(seconds)``, in slices that call the active :func:`cancel_check`.

    Example:
        >>> cancellable_sleep(0.01)
    """
    check = _CANCEL_CHECK.get()
    if check is None:
        time.sleep(max(0.0, seconds))
        return
    end = time.monotonic() + seconds
    while True:
        check()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, CANCEL_CHECK_SECONDS))


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


# ------------------------------------------------------------------------------------ engine


def retry_call(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    what: str,
    reconcile: Callable[[], T | None] | None = None,
    on_retry: Callable[[int, QuantConnectError, float], None] | None = None,
    on_reconciled: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = cancellable_sleep,
    raise_at_once: tuple[type[TransientError], ...] = (),
) -> T:
    """Run ``attempt`` until it succeeds, fails permanently, or attempts or time run out.

    Args:
        attempt: One try of the operation (it signs afresh each time).
        policy: Attempts and delays.
        what: For log lines and errors (usually the endpoint).
        reconcile: For writes that are not idempotent: after a failure that may have been
            applied, it looks at the service's state and returns the result if the write took
            effect (then nothing is sent again), or None to send it again.
        on_retry: Called with (next attempt number, error, delay) before each wait.
        on_reconciled: Called when ``reconcile`` found the write applied.
        sleep: Waits between attempts (tests may pass a recorder).
        raise_at_once: Transient errors not retried, for a caller that handles them itself
            (a scheduler that resubmits a refused backtest when a node frees).

    Raises:
        TransientError: The last transient failure, its message saying how many attempts over
            how long (or why the client gave up early, e.g. a ``Retry-After`` past its limit).
            Its ``request_sent`` is True if any attempt of a reconciled write may have been
            applied, whatever the last request did.
        BudgetExhaustedError: The active budget ran out.
        QuantConnectError: A permanent failure, at once.
    """
    started = time.monotonic()
    number = 0
    unsure = False  # did an earlier attempt perhaps take effect?
    resigned = False
    last: QuantConnectError | None = None
    while True:
        budget = current_budget()
        if budget is not None and budget.remaining() <= 0:
            raise budget.exhausted(what, last) from last
        number += 1
        try:
            if unsure and reconcile is not None:
                found = reconcile()
                if found is not None:
                    if on_reconciled is not None:
                        on_reconciled()
                    logger.info(
                        "%s took effect although its answer was lost; not sending it again.", what
                    )
                    return found
                unsure = False
            return attempt()
        except BudgetExhaustedError as error:
            if unsure:
                error.request_sent = True  # as below: the error speaks for the whole call
            raise  # an inner call spent the shared budget: nothing is left to retry with
        except AuthenticationError as error:
            # Refused at the door for our clock, now corrected: the request was not applied, so
            # sending it once more at once is safe (and not a failure of the service).
            if not error.clock_corrected or resigned:
                raise
            resigned = True
            number -= 1
            last = error
            if on_retry is not None:
                on_retry(number + 1, error, 0.0)
        except TransientError as error:
            unsure = unsure or (error.request_sent and reconcile is not None)
            if unsure:
                # The error raised speaks for the whole call: an earlier attempt may have been
                # applied even when this last request (a reconciling read, say) never left.
                error.request_sent = True
            if isinstance(error, raise_at_once):
                raise
            last = error
            elapsed = time.monotonic() - started
            asked = error.retry_after
            if asked is not None and asked > policy.max_retry_after_seconds:
                error.add_note_to_message(
                    f"(the service asked to wait {describe_seconds(asked)} before retrying, "
                    f"longer than the client's limit of "
                    f"{describe_seconds(policy.max_retry_after_seconds)}, so it gave up)"
                )
                raise
            if number >= policy.max_attempts:
                error.add_note_to_message(
                    f"(gave up after {number} attempt{'s' if number != 1 else ''} "
                    f"over {elapsed:.1f} s)"
                )
                raise
            delay = policy.delay(number + 1, error)
            if budget is not None and delay >= budget.remaining():
                raise budget.exhausted(what, error, wait=delay) from error
            if on_retry is not None:
                on_retry(number + 1, error, delay)
            logger.warning(
                "%s failed (%s); retrying in %.2f s (attempt %d of %d).",
                what,
                error.message,
                delay,
                number + 1,
                policy.max_attempts,
            )
            sleep(delay)


# ----------------------------------------------------------------------------------- polling

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
