"""Configuration of the emulator: server, credentials, validation limits, faults, jobs.

:class:`EmulatorConfig` is a pydantic-settings model: every field can come from a
``QC_EMULATOR_*`` environment variable, nested models with ``__`` between the
levels (``QC_EMULATOR_FAULTS__FAULT_RATE=0.1``, ``QC_EMULATOR_JOBS__BACKTEST_NODES=4``).
Values given in code (``EmulatorConfig(seed=1)``, ``EmulatorServer(seed=1)``) win
over the environment. The ``qc-emulator`` command line is generated from the same
model (see :mod:`quantconnect_emulator.cli`). Validation errors never echo the
offending input (a token pasted into the wrong variable stays hidden).

Every knob that could make the emulator hold memory or time without limit has
an upper bound (latency, stalls, ``Retry-After``, counts); bounds are in
:data:`LIMITS`.

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

import ipaddress
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
#: Prefix of the environment variables read by :class:`EmulatorConfig`.
ENV_PREFIX = "QC_EMULATOR_"

#: Upper bounds of the settings that cost the emulator time or memory.
LIMITS: dict[str, float] = {
    "latency_ms": 60_000,
    "slow_response_seconds": 600,
    "retry_after_seconds": 3_600,
    "rate_limit_per_second": 1_000_000,
    "inject_count": 10_000,
    "pending_injections": 1_000,
    "fault_paths": 1_000,
    "stats_paths": 1_000,
    "job_seconds": 86_400,
    "backtest_nodes": 1_000,
    "code_check_seconds": 600,
}

#: Host names that always mean "this machine" (checked on the control plane).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """True if ``host`` (a name or an address, IPv6 without brackets) is loopback.

    Example:
        >>> is_loopback("127.0.0.2"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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

    Each field's description (below it) is also its ``--help`` text.

    Example:
        >>> FaultConfig(fault_rate=0.5, paths=["/api/v2/projects/create"]).paths
        ['/projects/create']
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    latency_ms: float = Field(default=0.0, ge=0, le=LIMITS["latency_ms"])
    """Fixed delay added to every API request."""
    latency_jitter_ms: float = Field(default=0.0, ge=0, le=LIMITS["latency_ms"])
    """Extra delay drawn uniformly from ``0..latency_jitter_ms``."""
    fault_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """Probability (0..1) that a request gets a random fault."""
    fault_kinds: list[FaultKind] = Field(default_factory=lambda: list(FaultKind))
    """Kinds a random fault is drawn from (default: all)."""
    slow_response_seconds: float = Field(default=30.0, ge=0, le=LIMITS["slow_response_seconds"])
    """How long a ``slow_response`` holds its answer."""
    retry_after_seconds: int = Field(default=1, ge=0, le=int(LIMITS["retry_after_seconds"]))
    """``Retry-After`` value of an injected ``http_429``."""
    rate_limit_per_second: float | None = Field(
        default=None, gt=0, le=LIMITS["rate_limit_per_second"]
    )
    """Token-bucket rate limit (burst = the rate); requests over it get HTTP 429 and
    ``Retry-After``. ``None`` = off.
    """
    paths: list[str] | None = Field(default=None, max_length=int(LIMITS["fault_paths"]))
    """API paths random faults apply to (``None`` = every API path, ``/authenticate``
    included). Written like ``'/projects/create'``.
    """

    @field_validator("paths")
    @classmethod
    def _normalize_paths(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [normalize_api_path(path) for path in value]


class JobsConfig(BaseModel):
    """How compiles and backtests behave in time (all on the emulator's clock).

    Each field's description (below it) is also its ``--help`` text.

    Example:
        >>> JobsConfig(backtest_nodes=4, node_mode="reject").node_mode
        'reject'
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    compile_seconds: float = Field(default=1.0, ge=0, le=LIMITS["job_seconds"])
    """How long a compile stays ``InQueue``."""
    backtest_seconds: float = Field(default=5.0, ge=0, le=LIMITS["job_seconds"])
    """How long a backtest runs once it has a node."""
    backtest_nodes: int = Field(default=2, ge=1, le=int(LIMITS["backtest_nodes"]))
    """Backtest nodes of the account (how many run at once)."""
    node_mode: Literal["queue", "reject"] = "queue"
    """``'queue'``: a backtest without a free node waits (``In Queue...``); ``'reject'``: its
    create answers ``success:false``.
    """
    total_performance_lag_seconds: float = Field(default=1.0, ge=0, le=LIMITS["job_seconds"])
    """How long after ``completed`` the ``totalPerformance`` block stays empty (results settle
    in stages).
    """
    compile_not_found_seconds: float = Field(default=0.0, ge=0, le=LIMITS["job_seconds"])
    """How long after a compile's ``BuildSuccess`` ``/backtests/create`` still answers
    ``Compile id not found`` (third-party clients report this; off by default).
    """
    chart_loading_seconds: float = Field(default=0.0, ge=0, le=LIMITS["job_seconds"])
    """How long after a chart's first read ``/backtests/chart/read`` answers ``{'status':
    'loading'}`` (it always does while the backtest is queued)."""
    results_lag_seconds: float = Field(default=0.0, ge=0, le=LIMITS["job_seconds"])
    """How long a backtest already shows ``completed: true`` before its statistics are in (the
    stage the ``lean`` CLI guards against; off by default): see ``results_lag_missing``.
    """
    results_lag_missing: Literal["both", "statistics", "runtime_statistics"] = "both"
    """What that stage lacks: ``statistics`` is ``[]``, ``runtimeStatistics`` is ``null``, or
    both.
    """
    queued_statistics: Literal["list", "absent"] = "list"
    """``statistics`` on reads while a backtest waits for a node: ``[]`` (seen on the service) or
    left out. The create answer never carries ``[]`` (left out instead).
    """
    running_statistics: Literal["placeholders", "list"] = "placeholders"
    """``statistics`` on reads while a backtest runs: a finished zero-trade run's look (the
    service's placeholders) or ``[]`` (also seen).
    """
    optimization_new_seconds: float = Field(default=1.0, ge=0, le=LIMITS["job_seconds"])
    """How long a new optimization reads ``new`` before its backtests start (each of them then
    runs ``backtest_seconds``, ``parallelNodes`` at a time).
    """
    optimization_max_backtests: int = Field(default=500, ge=1, le=100_000)
    """Most backtests one optimization may hold (the grid's size; the service's limit is
    unconfirmed): a larger one is refused.
    """
    optimization_max_parameters: int | None = Field(default=None, ge=1, le=100)
    """Most optimized parameters per optimization (the ``lean`` CLI allows 2 in the cloud; the
    service's cap is unconfirmed): ``None`` for no cap.
    """
    optimization_euler: bool = True
    """Accept the Euler search strategy (coarse grid, then finer grids around the best point);
    QuantConnect's docs name only grid search in the cloud.
    """
    optimization_estimate_needs_backtest: bool = True
    """Refuse an estimate for a project without a completed backtest, as QuantConnect's docs
    say the service does (off: estimate any project, for tests that skip the backtest).
    """
    optimization_estimate_time: Literal["job", "backtest"] = "job"
    """What an estimate's ``time`` means: seconds of the whole job (OpenAPI) or of one backtest
    (the ``lean`` CLI's reading).
    """
    optimization_statistics: Literal["array", "object"] = "array"
    """An optimization backtest's ``statistics``: an array of 21 numbers (OpenAPI) or an object
    keyed by the index as text (LEAN's current serializer).
    """
    live_queue_seconds: float = Field(default=1.0, ge=0, le=LIMITS["job_seconds"])
    """How long a new live algorithm reads ``InQueue`` (waiting for its live node)."""
    live_initializing_seconds: float = Field(default=1.0, ge=0, le=LIMITS["job_seconds"])
    """How long it then reads ``Initializing`` before ``Running``."""
    live_day_seconds: float = Field(default=60.0, gt=0, le=LIMITS["job_seconds"])
    """Clock seconds per simulated trading day of a running live algorithm: each one adds a
    log line, an equity point, and moves the portfolio and orders on.
    """
    live_list_lag_seconds: float = Field(default=0.0, ge=0, le=LIMITS["job_seconds"])
    """How long a new live algorithm is missing from ``/live/list`` and ``/live/read`` after
    its create (the service's list can lag behind a create)."""
    live_nodes: int = Field(default=1, ge=0, le=int(LIMITS["backtest_nodes"]))
    """Live nodes of the account; each runs one live algorithm at a time (0: none at all)."""
    live_brokerages: list[str] = Field(default_factory=list, max_length=50)
    """Brokerage ids a deploy may use besides the paper ``QuantConnectBrokerage`` (the emulator
    holds no brokerage account, so it refuses every other one unless a test lists it here).
    """


class EmulatorConfig(BaseSettings):
    """Everything an emulator instance needs; immutable once the server runs.

    Read from ``QC_EMULATOR_*`` environment variables for fields not given in
    code (nested fields: ``QC_EMULATOR_FAULTS__LATENCY_MS``).

    Each field's description (below it) is also its ``--help`` text.

    Example:
        >>> EmulatorConfig(api_token="s3cret", user_id=42).user_id
        42
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        hide_input_in_errors=True,
    )

    host: str = "127.0.0.1"
    """Interface to listen on (loopback by default)."""
    allow_remote: bool = False
    """Must be true to listen on a non-loopback interface (the emulator then warns: its control
    plane has no authentication).
    """
    allowed_hosts: list[str] = Field(default_factory=list, max_length=100)
    """Extra ``Host`` names the control plane answers to (loopback names and the bound host are
    always allowed).
    """
    port: int = Field(default=0, ge=0, le=65535)
    """TCP port; ``0`` picks a free port."""
    user_id: int = Field(default=DEFAULT_USER_ID, ge=1)
    """The only valid user id."""
    api_token: SecretStr = SecretStr(DEFAULT_API_TOKEN)
    """The API token the request hash is checked against (secret)."""
    organization_id: str = Field(default=DEFAULT_ORGANIZATION_ID, pattern=r"^[0-9a-f]{32}$")
    """The account's (preferred) organization, 32 hex chars."""
    max_timestamp_age_seconds: int = Field(default=7200, ge=0)
    """Oldest ``Timestamp`` accepted."""
    max_timestamp_future_seconds: int = Field(default=300, ge=0)
    """How far ahead of the server clock a ``Timestamp`` may be."""
    auth_failure_status: Literal[401, 200] = 401
    """``401`` answers authentication failures with HTTP 401 + ``WWW-Authenticate``; ``200``
    answers them with HTTP 200 and ``success: false`` (both happen with the real service).
    """
    max_name_length: int = Field(default=200, ge=1)
    """Longest project name accepted."""
    rename_duplicates_on_create: bool = False
    """If true, creating a project with the name of a live project hands back ``'<name> 1'``,
    ``'<name> 2'``... (the real service has been seen to do so); default keeps the name.
    """
    recycle_bin_update: Literal["refuse", "keep"] = "refuse"
    """What ``projects/update`` does to a project in the Recycle Bin: ``'refuse'``
    (``success:false``) or ``'keep'`` (the change applies and the project stays in the bin).
    Unconfirmed upstream.
    """
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1)
    """Larger request bodies get HTTP 413."""
    code_check_seconds: float = Field(default=30.0, gt=0, le=LIMITS["code_check_seconds"])
    """Longest time a compile's code check may take (real time); a check over it ends the
    compile in ``BuildError`` saying so.
    """
    code_check_inline_bytes: int = Field(default=64 * 1024, ge=0)
    """Sources up to this many characters are checked in the server's process; larger ones in a
    child process, so that parsing them never stalls other requests.
    """
    request_log_size: int = Field(default=10_000, ge=1, le=10_000_000)
    """How many API requests the request log keeps."""
    seed: int | None = None
    """Seed of every random choice (ids, jitter, faults); ``None`` = not reproducible."""
    faults: FaultConfig = Field(default_factory=FaultConfig)
    """The initial :class:`FaultConfig` (changeable at run time)."""
    jobs: JobsConfig = Field(default_factory=JobsConfig)
    """The initial :class:`JobsConfig` (changeable at run time)."""

    @field_validator("auth_failure_status", mode="before")
    @classmethod
    def _status_from_text(cls, value: Any) -> Any:
        # The environment and the command line deliver text; the literal wants an int.
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        return value.strip().removeprefix("[").removesuffix("]")

    def check_bind(self) -> str | None:
        """Refuse a non-loopback interface unless ``allow_remote``; else a warning or None.

        Raises:
            ValueError: ``host`` is not loopback and ``allow_remote`` is false.

        Example:
            >>> EmulatorConfig(host="0.0.0.0", allow_remote=True).check_bind() is not None
            True
        """
        if is_loopback(self.host):
            return None
        if not self.allow_remote:
            raise ValueError(
                f"refusing to listen on {self.host!r}: the emulator's control plane "
                "(/_emulator/*) has no authentication; listen on 127.0.0.1, or set "
                "allow_remote (--allow-remote, QC_EMULATOR_ALLOW_REMOTE=1) to insist"
            )
        return (
            f"WARNING: the QuantConnect emulator listens on {self.host}, beyond this machine; "
            "anyone who can reach it can read every stored file and reset or reconfigure it"
        )

    def with_overrides(self, **overrides: object) -> EmulatorConfig:
        """Return a validated copy with some fields replaced.

        Example:
            >>> EmulatorConfig().with_overrides(port=8765).port
            8765
        """
        if not overrides:
            return self
        data = self.model_dump()
        data["api_token"] = self.api_token
        data.update(overrides)
        return type(self).model_validate(data)
