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
from .client import ClientMetrics, QuantConnectClient
from .errors import (
    AuthenticationError,
    BudgetExhaustedError,
    ClockSkewError,
    ConfigurationError,
    ConnectionFailedError,
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
from .retry import NO_RETRY, RetryPolicy, operation_budget, poll
from .settings import DEFAULT_BASE_URL, QuantConnectSettings
from .transport import Timeouts

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_RETRY",
    "RECYCLE_BIN_PREFIX",
    "AuthenticationError",
    "BudgetExhaustedError",
    "ClientMetrics",
    "ClockSkewError",
    "ConfigurationError",
    "ConnectionFailedError",
    "LeanVersion",
    "NotFoundError",
    "PayloadTooLargeError",
    "Project",
    "ProjectFile",
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
    "ServiceUnavailableError",
    "Timeouts",
    "TransientError",
    "UnexpectedResponseError",
    "ValidationError",
    "WaitTimeoutError",
    "__version__",
    "is_retryable",
    "operation_budget",
    "poll",
    "sign",
]
