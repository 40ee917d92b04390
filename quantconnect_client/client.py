"""The QuantConnect API v2 client: signing, retries, and the per-resource operations.

Example:
    >>> from quantconnect_client import QuantConnectClient
    >>> with QuantConnectClient(user_id=123, api_token="...") as client:  # doctest: +SKIP
    ...     client.authenticate()
    ...     project = client.projects.create("Scratch/demo", "Py")
    ...     client.projects.delete(project.project_id)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import SecretStr

from ._version import __version__
from .account import AccountAPI, read_lean_versions
from .auth import Clock, RequestSigner
from .backtests import BacktestsAPI
from .budget import current_budget, operation_budget
from .compiles import CompilesAPI
from .errors import ConfigurationError, ConnectionFailedError, TransientError
from .files import FilesAPI
from .live import LiveAPI
from .models import LeanVersion
from .multipart import MultipartUpload
from .nodes import NodesAPI
from .objectstore import ObjectStoreAPI
from .optimizations import OptimizationsAPI
from .projects import ProjectsAPI
from .redaction import redact_url
from .retry import RetryPolicy, retry_call
from .settings import DEFAULT_BASE_URL, QuantConnectSettings
from .transport import DEFAULT_MAX_RESPONSE_BYTES, Timeouts, Transport

T = TypeVar("T")

USER_AGENT = f"prefect-quantconnect/{__version__} (+quantconnect_client)"


@dataclass
class ClientMetrics:
    """Counters of what one client did; read them after a run (thread-safe increments).

    Attributes:
        requests: HTTP attempts made (every one, re-sends after a clock correction included).
        retries: Attempts that repeated a failed one (inside a call, or a wait's next read).
        reconciled: Writes found applied although their answer was lost (not sent again).
        unsent: Attempts that certainly never reached the service (connection refused, name
            not resolved, connect timeout): the service received ``requests - unsent``.
    """

    requests: int = 0
    retries: int = 0
    reconciled: int = 0
    unsent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)


class QuantConnectClient:
    """A session-based QuantConnect API v2 client.

    Every request carries a fresh signature (so every retry too). Transient failures are retried
    with exponential backoff and jitter, honouring ``Retry-After``; writes that may have been
    applied before their answer was lost are reconciled before being sent again.

    Args:
        user_id: QuantConnect user id.
        api_token: API token; kept as a ``SecretStr`` and only ever hashed.
        organization_id: Default organization for new projects.
        base_url: API root; the real service unless you point it at the emulator.
        timeouts: Connect/read timeouts and the bound of one attempt (default 5 s / 30 s,
            an attempt at most 35 s).
        retry: Retry policy for transient failures (default 3 attempts).
        clock: Local time source (tests pass a skewed one).
        pool_size: Pooled connections; keep it at or above your concurrency.
        max_response_bytes: Cap on one answer after decompression (default 64 MiB).

    Every call is bounded: attempts times the attempt bound + the waits between them
    (:attr:`call_bound`), and never more than an enclosing
    :func:`~quantconnect_client.operation_budget` leaves.

    Raises:
        ConfigurationError: A missing user id or token, or a malformed base URL.
    """

    def __init__(
        self,
        user_id: int,
        api_token: str | SecretStr,
        *,
        organization_id: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = time.time,
        pool_size: int = 16,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
            raise ConfigurationError("A QuantConnect user id (a positive integer) is required.")
        token = api_token if isinstance(api_token, SecretStr) else SecretStr(api_token or "")
        if not token.get_secret_value():
            raise ConfigurationError("A QuantConnect API token is required.")
        self.organization_id = organization_id
        self.retry = retry or RetryPolicy()
        self.metrics = ClientMetrics()
        self._signer = RequestSigner(user_id, token, clock=clock)
        self._transport = Transport(
            base_url,
            self._signer,
            timeouts=timeouts or Timeouts(),
            user_agent=USER_AGENT,
            pool_size=pool_size,
            max_response_bytes=max_response_bytes,
        )
        self.projects = ProjectsAPI(self)
        self.files = FilesAPI(self)
        self.compiles = CompilesAPI(self)
        self.backtests = BacktestsAPI(self)
        self.nodes = NodesAPI(self)
        self.account = AccountAPI(self)
        self.optimizations = OptimizationsAPI(self)
        self.object_store = ObjectStoreAPI(self)
        self.live = LiveAPI(self)

    @classmethod
    def from_settings(
        cls, settings: QuantConnectSettings | None = None, *, pool_size: int = 16
    ) -> QuantConnectClient:
        """Build a client from ``QC_*`` settings (environment or ``.env``).

        Args:
            settings: The settings (default: read from the environment now).
            pool_size: Pooled connections; keep it at or above your concurrency.

        Raises:
            ConfigurationError: ``QC_USER_ID`` or ``QC_API_TOKEN`` is not set.
        """
        settings = settings or QuantConnectSettings()
        if settings.user_id is None or settings.api_token is None:
            raise ConfigurationError(
                "QuantConnect credentials are not configured: set QC_USER_ID and QC_API_TOKEN."
            )
        return cls(
            settings.user_id,
            settings.api_token,
            organization_id=settings.organization_id,
            base_url=settings.base_url,
            timeouts=Timeouts(
                settings.connect_timeout,
                settings.read_timeout,
                min_transfer_rate=settings.min_transfer_rate,
            ),
            retry=RetryPolicy(max_attempts=settings.max_attempts),
            pool_size=pool_size,
            max_response_bytes=settings.max_response_bytes,
        )

    def __repr__(self) -> str:
        return (
            f"QuantConnectClient(user_id={self.user_id}, base_url={redact_url(self.base_url)!r}, "
            "api_token=SecretStr('**********'))"
        )

    def __enter__(self) -> QuantConnectClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    @property
    def user_id(self) -> int:
        """The user id requests are signed for."""
        return self._signer.user_id

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._transport.base_url

    @property
    def call_bound(self) -> float:
        """The longest one call may take, in seconds (its default time budget)."""
        return self.retry.call_bound(self._transport.timeouts.attempt)

    @property
    def clock_offset(self) -> float:
        """Seconds the client adds to the local clock, learned from the service."""
        return self._signer.clock_offset

    @property
    def timeouts(self) -> Timeouts:
        """The connect and read timeouts of every request (a download link's too)."""
        return self._transport.timeouts

    def service_now(self) -> datetime:
        """Our best estimate of the service's current time (UTC)."""
        return datetime.fromtimestamp(self._signer.current_time(), tz=timezone.utc)

    def authenticate(self) -> bool:
        """Check the credentials with ``/authenticate``.

        Returns:
            True (failures raise).

        Raises:
            AuthenticationError: The credentials were rejected.
        """
        self.call("/authenticate")
        return True

    def lean_versions(self) -> list[LeanVersion]:
        """The LEAN versions the service offers."""
        return read_lean_versions(self)

    def post(
        self,
        endpoint: str,
        payload: dict[str, Any] | None = None,
        *,
        upload: MultipartUpload | None = None,
    ) -> dict[str, Any]:
        """One signed attempt at ``endpoint``, without retries; returns the envelope (``upload``:
        a multipart body instead of JSON, see :mod:`quantconnect_client.multipart`)."""
        self.metrics.add("requests")
        budget = current_budget()
        if budget is not None:
            budget.count_attempt()
        try:
            return self._transport.post(endpoint, payload, upload=upload)
        except ConnectionFailedError as error:
            if not error.request_sent:
                self.metrics.add("unsent")
            raise

    def count_retry(self, *_: object) -> None:
        """Count one repeated attempt (the retry engine and the waits call it)."""
        self.metrics.add("retries")

    def call(self, endpoint: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """An idempotent call: ``post`` with retries on transient failures."""
        return self.with_retries(endpoint, lambda: self.post(endpoint, payload))

    def with_retries(
        self,
        endpoint: str,
        attempt: Callable[[], T],
        *,
        reconcile: Callable[[], T | None] | None = None,
        raise_at_once: tuple[type[TransientError], ...] = (),
        attempt_seconds: float | None = None,
    ) -> T:
        """Run ``attempt`` under the client's retry policy, within one call's time bound.

        Args:
            endpoint: For log lines and errors.
            attempt: One try of the operation (it signs afresh each time).
            reconcile: For writes that are not idempotent: after a failure that may have been
                applied, it looks at the service's state and returns the result if the write
                took effect (then nothing is sent again), or None to send it again.
            raise_at_once: Transient errors the caller handles itself (not retried).
            attempt_seconds: The bound of one attempt, when it is not one request's (a
                transfer's, :meth:`Timeouts.transfer`): the call's bound is that many attempts
                and the waits between them.
        """
        bound = self.call_bound if attempt_seconds is None else self.retry.call_bound(
            attempt_seconds
        )
        with operation_budget(bound):
            return retry_call(
                attempt,
                policy=self.retry,
                what=endpoint,
                reconcile=reconcile,
                on_retry=self.count_retry,
                on_reconciled=lambda: self.metrics.add("reconciled"),
                raise_at_once=raise_at_once,
            )
