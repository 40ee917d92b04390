"""A QuantConnect API v2 client: signed requests, typed lenient models, errors that say what
happened and whether a retry can help. It knows nothing of Prefect.

Example:
    >>> from quantconnect_client import QuantConnectClient
    >>> client = QuantConnectClient.from_settings()  # reads QC_*  # doctest: +SKIP
    >>> [p.name for p in client.projects.list()]  # doctest: +SKIP
    ['My Strategy']
"""

from ._version import __version__
from .account import Account, Card
from .auth import RequestSigner, sign
from .backtest_models import (
    Backtest,
    BacktestSummary,
    Chart,
    Order,
    OrderSymbol,
    Series,
    TotalPerformance,
)
from .client import ClientMetrics, QuantConnectClient
from .compiles import Compile
from .errors import (
    AuthenticationError,
    BacktestResultsIncompleteError,
    BacktestRuntimeError,
    BudgetExhaustedError,
    BuildError,
    BuildLogEntry,
    ClockSkewError,
    ConfigurationError,
    ConnectionFailedError,
    NoNodeAvailableError,
    NotFoundError,
    PayloadTooLargeError,
    QuantConnectError,
    RateLimitedError,
    RedirectError,
    RequestRejectedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServiceUnavailableError,
    TransientError,
    UnexpectedResponseError,
    ValidationError,
    WaitTimeoutError,
    is_retryable,
)
from .models import RECYCLE_BIN_PREFIX, LeanVersion, Project, ProjectFile
from .nodes import Node, ProjectNodes
from .objectstore import ObjectStoreAPI, validate_object_key
from .objectstore_models import ObjectEntry, ObjectListing, ObjectProperties, UploadResult
from .retry import NO_RETRY, RetryPolicy, operation_budget, poll
from .schedules import ProgressSchedule, lean_cli_schedule
from .settings import DEFAULT_BASE_URL, QuantConnectSettings
from .statistics import Statistics, parse_number
from .transport import Timeouts

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_RETRY",
    "RECYCLE_BIN_PREFIX",
    "Account",
    "AuthenticationError",
    "Backtest",
    "BacktestResultsIncompleteError",
    "BacktestRuntimeError",
    "BacktestSummary",
    "BudgetExhaustedError",
    "BuildError",
    "BuildLogEntry",
    "Card",
    "Chart",
    "ClientMetrics",
    "ClockSkewError",
    "Compile",
    "ConfigurationError",
    "ConnectionFailedError",
    "LeanVersion",
    "NoNodeAvailableError",
    "Node",
    "NotFoundError",
    "ObjectEntry",
    "ObjectListing",
    "ObjectProperties",
    "ObjectStoreAPI",
    "Order",
    "OrderSymbol",
    "PayloadTooLargeError",
    "ProgressSchedule",
    "Project",
    "ProjectFile",
    "ProjectNodes",
    "QuantConnectClient",
    "QuantConnectError",
    "QuantConnectSettings",
    "RateLimitedError",
    "RedirectError",
    "RequestRejectedError",
    "RequestSigner",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Series",
    "ServiceUnavailableError",
    "Statistics",
    "Timeouts",
    "TotalPerformance",
    "TransientError",
    "UnexpectedResponseError",
    "UploadResult",
    "ValidationError",
    "WaitTimeoutError",
    "__version__",
    "is_retryable",
    "lean_cli_schedule",
    "operation_budget",
    "parse_number",
    "poll",
    "sign",
    "validate_object_key",
]
