"""Configuration of the emulator: server, credentials, validation limits, faults.

Example:
    >>> from quantconnect_emulator.config import EmulatorConfig, FaultConfig, FaultKind
    >>> config = EmulatorConfig(
    ...     seed=7,
    ...     faults=FaultConfig(fault_rate=0.2, fault_kinds=[FaultKind.HTTP_500_EMPTY]),
    ... )
    >>> config.api_token  # a secret: never shown
    SecretStr('**********')
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Path prefix of the emulated API (as on https://www.quantconnect.com/api/v2).
API_PREFIX = "/api/v2"
#: Path prefix of the emulator's own control endpoints (not part of the real API).
CONTROL_PREFIX = "/_emulator"
#: The token used when none is configured. Printing it is harmless.
DEFAULT_API_TOKEN = "emulator-token"
#: Default user id of the emulated account.
DEFAULT_USER_ID = 123456
#: Default organization id (32 lowercase hex characters, like the real ones).
DEFAULT_ORGANIZATION_ID = "5cad178b20a1d52567b534553413b691"


class FaultKind(str, Enum):
    """The transport failures the emulator can inject.

    Values are the exact names accepted by the CLI (``--faults``), by
    ``PUT /_emulator/faults`` and by ``POST /_emulator/inject``.
    """

    HTTP_500_EMPTY = "http_500_empty"
    """HTTP 500 with an empty body; the request is not processed."""
    HTTP_502_HTML = "http_502_html"
    """HTTP 502 with an HTML error page (``text/html``); not processed."""
    HTTP_503_HTML = "http_503_html"
    """HTTP 503 with an HTML error page (``text/html``); not processed."""
    HTTP_429 = "http_429"
    """HTTP 429 with a ``Retry-After`` header and a text body; not processed."""
    CONNECTION_DROP = "connection_drop"
    """Headers promise more body than is sent, then the connection is closed.

    The request is not processed. ``requests`` raises ``ChunkedEncodingError``
    (or ``ConnectionError``).
    """
    SLOW_RESPONSE = "slow_response"
    """The request is processed at once, but the answer is held back for
    ``slow_response_seconds`` (or until the client hangs up)."""
    AMBIGUOUS_WRITE = "ambiguous_write"
    """The request IS processed (its change applied), then the answer is lost
    as with ``connection_drop``."""


def normalize_api_path(path: str) -> str:
    """Return an API path relative to ``/api/v2``, e.g. ``"/projects/create"``.

    Accepts ``"projects/create"``, ``"/projects/create/"`` and
    ``"/api/v2/projects/create"``; repeated slashes are collapsed and the result
    is lower-case (routing is case-insensitive).

    Example:
        >>> normalize_api_path("/api/v2//Projects/Create/")
        '/projects/create'
    """
    parts = [part for part in path.strip().split("/") if part]
    if parts[:2] == ["api", "v2"]:
        parts = parts[2:]
    return ("/" + "/".join(parts)).lower()


class FaultConfig(BaseModel):
    """Latency, random faults and rate limiting applied to API requests.

    Control endpoints (``/_emulator/...``) are never delayed or faulted.

    Attributes:
        latency_ms: Fixed delay added to every API request.
        latency_jitter_ms: Extra delay drawn uniformly from ``0..latency_jitter_ms``.
        fault_rate: Probability (0..1) that a request gets a random fault.
        fault_kinds: Kinds a random fault is drawn from (default: all).
        slow_response_seconds: How long a ``slow_response`` holds its answer.
        retry_after_seconds: ``Retry-After`` value of an injected ``http_429``.
        rate_limit_per_second: Token-bucket rate limit (burst = the rate);
            requests over it get HTTP 429 + ``Retry-After``. ``None`` = off.
        paths: API paths random faults apply to (``None`` = every API path,
            ``/authenticate`` included). Written like ``"/projects/create"``.

    Example:
        >>> FaultConfig(fault_rate=0.5, paths=["/api/v2/projects/create"]).paths
        ['/projects/create']
    """

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    fault_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_kinds: list[FaultKind] = Field(default_factory=lambda: list(FaultKind))
    slow_response_seconds: float = Field(default=30.0, ge=0)
    retry_after_seconds: int = Field(default=1, ge=0)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    paths: list[str] | None = None

    @field_validator("paths")
    @classmethod
    def _normalize_paths(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [normalize_api_path(path) for path in value]


class EmulatorConfig(BaseModel):
    """Everything an emulator instance needs; immutable once the server runs.

    Attributes:
        host: Interface to listen on (loopback by default).
        port: TCP port; ``0`` picks a free port.
        user_id: The only valid user id.
        api_token: The API token the request hash is checked against (secret).
        organization_id: The account's (preferred) organization, 32 hex chars.
        max_timestamp_age_seconds: Oldest ``Timestamp`` accepted.
        max_timestamp_future_seconds: How far ahead of the server clock a
            ``Timestamp`` may be.
        auth_failure_status: ``401`` answers authentication failures with HTTP
            401 + ``WWW-Authenticate``; ``200`` answers them with HTTP 200 and
            ``success: false`` (both happen with the real service).
        max_name_length: Longest project name accepted.
        rename_duplicates_on_create: If true, creating a project with the name
            of a live project hands back ``"<name> 1"``, ``"<name> 2"``... (the
            real service has been seen to do so); default keeps the name.
        max_request_bytes: Larger request bodies get HTTP 413.
        request_log_size: How many API requests the request log keeps.
        seed: Seed of every random choice (ids, jitter, faults); ``None`` =
            not reproducible.
        faults: The initial :class:`FaultConfig` (changeable at run time).

    Example:
        >>> EmulatorConfig(api_token="s3cret", user_id=42).user_id
        42
    """

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    user_id: int = DEFAULT_USER_ID
    api_token: SecretStr = SecretStr(DEFAULT_API_TOKEN)
    organization_id: str = Field(default=DEFAULT_ORGANIZATION_ID, pattern=r"^[0-9a-f]{32}$")
    max_timestamp_age_seconds: int = Field(default=7200, ge=0)
    max_timestamp_future_seconds: int = Field(default=300, ge=0)
    auth_failure_status: Literal[401, 200] = 401
    max_name_length: int = Field(default=200, ge=1)
    rename_duplicates_on_create: bool = False
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    request_log_size: int = Field(default=10_000, ge=1)
    seed: int | None = None
    faults: FaultConfig = Field(default_factory=FaultConfig)

    def with_overrides(self, **overrides: object) -> EmulatorConfig:
        """Return a validated copy with some fields replaced.

        Example:
            >>> EmulatorConfig().with_overrides(port=8765).port
            8765
        """
        if not overrides:
            return self
        data = self.model_dump()
        data.update(overrides)
        return EmulatorConfig.model_validate(data)
