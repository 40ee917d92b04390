"""When and how long to wait before retrying a transient failure.

Example:
    >>> policy = RetryPolicy(max_attempts=3, backoff_seconds=0.5, max_backoff_seconds=4)
    >>> 0 <= policy.delay(attempt=2) <= 1.0
    True
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import TransientError


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
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** max(0, attempt - 2))
        backoff = self.rng.uniform(0, ceiling)
        if error is not None and error.retry_after is not None:
            return max(backoff, error.retry_after)
        return backoff

    def should_retry(self, attempt: int, error: TransientError) -> bool:
        """True if attempt ``attempt`` failed with ``error`` and another one is allowed."""
        if attempt >= self.max_attempts:
            return False
        return error.retry_after is None or error.retry_after <= self.max_retry_after_seconds


#: A policy that never retries: for callers (such as Prefect tasks) that retry themselves.
NO_RETRY = RetryPolicy(max_attempts=1)
