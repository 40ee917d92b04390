"""The client's one retry engine: :class:`RetryPolicy` (how many attempts, how long between
them) and :func:`retry_call` (one operation run under a policy).

Every retrying path of the client goes through :func:`retry_call`: each call, a create's
reconciliation, ``projects.purge``, the re-send after a clock correction, and the reads of the
waits (:func:`~quantconnect_client.polling.poll`). It stays inside the active time budget
(:mod:`quantconnect_client.budget`) and sleeps through
:func:`~quantconnect_client.cancellation.cancellable_sleep`.

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
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .budget import current_budget, describe_seconds
from .cancellation import cancellable_sleep
from .errors import (
    AuthenticationError,
    BudgetExhaustedError,
    QuantConnectError,
    TransientError,
)

logger = logging.getLogger("quantconnect_client")

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


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
    # What the call has learnt so far lives here, not on the errors met on the way: only the
    # error that ends the call is told (by ``ending``), once.
    applied = False  # may an earlier attempt of the write have taken effect?
    resigned = False  # was the request sent once more after a clock correction?
    last: QuantConnectError | None = None

    def ending(error: E) -> E:
        # The error raised speaks for the whole call: an earlier attempt may have been applied
        # even when this last request (a reconciling read, say) never left.
        if applied and isinstance(error, TransientError):
            error.request_sent = True
        return error

    while True:
        budget = current_budget()
        if budget is not None and budget.remaining() <= 0:
            raise ending(budget.exhausted(what, last)) from last
        number += 1
        try:
            if applied and reconcile is not None:
                found = reconcile()
                if found is not None:
                    if on_reconciled is not None:
                        on_reconciled()
                    logger.info(
                        "%s took effect although its answer was lost; not sending it again.", what
                    )
                    return found
                applied = False
            return attempt()
        except BudgetExhaustedError as error:
            ending(error)
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
            applied = applied or (error.request_sent and reconcile is not None)
            if isinstance(error, raise_at_once):
                ending(error)
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
                ending(error)
                raise
            if number >= policy.max_attempts:
                error.add_note_to_message(
                    f"(gave up after {number} attempt{'s' if number != 1 else ''} "
                    f"over {elapsed:.1f} s)"
                )
                ending(error)
                raise
            delay = policy.delay(number + 1, error)
            if budget is not None and delay >= budget.remaining():
                raise ending(budget.exhausted(what, error, wait=delay)) from error
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


__all__ = ["NO_RETRY", "RetryPolicy", "retry_call"]
