"""A QuantConnect API v2 client: signed requests, typed lenient models, errors that say what
happened and whether a retry can help. It knows nothing of Prefect.

Example:
    >>> from quantconnect_client import QuantConnectClient
    >>> client = QuantConnectClient.from_settings()  # reads QC_*  # doctest: +SKIP
    >>> [p.name for p in client.projects.list()]  # doctest: +SKIP
    ['My Strategy']
"""

from ._version import __version__
from .auth import RequestSigner, sign
from .budget import operation_budget
from .client import ClientMetrics, QuantConnectClient
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
from .models import (
    RECYCLE_BIN_PREFIX,
    Account,
    Backtest,
    BacktestSummary,
    Card,
    Chart,
    Compile,
    Insight,
    LeanVersion,
    Node,
    Order,
    OrderSymbol,
    Project,
    ProjectFile,
    ProjectNodes,
    Series,
    Statistics,
    TotalPerformance,
    parse_number,
)
from .models.objectstore import ObjectEntry, ObjectListing, ObjectProperties, UploadResult
from .models.optimizations import (
    Estimate,
    Optimization,
    OptimizationBacktest,
    OptimizationConstraint,
    OptimizationParameter,
    OptimizationSummary,
)
from .objectstore import ObjectStoreAPI, validate_object_key
from .parameters import BacktestParameters, ParameterValue
from .polling import poll
from .retry import NO_RETRY, RetryPolicy
from .schedules import ProgressSchedule
from .settings import DEFAULT_BASE_URL, QuantConnectSettings
from .transport import Timeouts

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_RETRY",
    "RECYCLE_BIN_PREFIX",
    "Account",
    "AuthenticationError",
    "Backtest",
    "BacktestParameters",
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
    "Estimate",
    "Insight",
    "LeanVersion",
    "NoNodeAvailableError",
    "Node",
    "NotFoundError",
    "ObjectEntry",
    "ObjectListing",
    "ObjectProperties",
    "ObjectStoreAPI",
    "Optimization",
    "OptimizationBacktest",
    "OptimizationConstraint",
    "OptimizationParameter",
    "OptimizationSummary",
    "Order",
    "OrderSymbol",
    "ParameterValue",
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
    "operation_budget",
    "parse_number",
    "poll",
    "sign",
    "validate_object_key",
]
