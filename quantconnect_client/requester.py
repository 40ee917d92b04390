"""What the resource APIs need from the client: the narrow interface they are typed against.

``client.projects``, ``client.backtests`` and the rest send requests and read a few settings;
they do not need the whole :class:`~quantconnect_client.QuantConnectClient`. Typing them against
these protocols says exactly what they use (and lets a test hand them anything that provides
it). :class:`Caller` is enough for plain idempotent calls; :class:`Requester` adds the single
attempt, the retry engine for writes that reconcile, the time bound and the service's clock.

Example:
    >>> from quantconnect_client import QuantConnectClient
    >>> client: Requester = QuantConnectClient(user_id=1, api_token="t")  # checked by mypy
    >>> client.call_bound > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar

from .errors import TransientError
from .retry import RetryPolicy

T = TypeVar("T")


class Caller(Protocol):
    """Sends idempotent calls (retried on transient failures)."""

    @property
    def organization_id(self) -> str | None:
        """The default organization, if the client has one."""
        ...

    def call(self, endpoint: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """An idempotent call with retries; returns the answer's envelope."""
        ...


class Requester(Caller, Protocol):
    """Everything a resource API uses: calls, single attempts, retries, bounds and clocks."""

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy, which the waits' reads follow too."""
        ...

    @property
    def call_bound(self) -> float:
        """The longest one call may take, in seconds."""
        ...

    def post(self, endpoint: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """One signed attempt, without retries."""
        ...

    def with_retries(
        self,
        endpoint: str,
        attempt: Callable[[], T],
        *,
        reconcile: Callable[[], T | None] | None = None,
        raise_at_once: tuple[type[TransientError], ...] = (),
    ) -> T:
        """Run ``attempt`` under the retry policy, reconciling a write whose answer was lost."""
        ...

    def count_retry(self, *_: object) -> None:
        """Count one repeated attempt (a wait's read after a failure)."""
        ...

    def service_now(self) -> datetime:
        """The service's current time, as best known."""
        ...


__all__ = ["Caller", "Requester"]
