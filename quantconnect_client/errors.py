"""The client's error hierarchy: what happened, and whether a retry can help.

Every error the client raises derives from :class:`QuantConnectError`. The one question a caller
(or a Prefect ``retry_condition_fn``) needs answered is :attr:`QuantConnectError.retryable`:
only :class:`TransientError` and its subclasses say yes.

Example:
    >>> from quantconnect_client import errors
    >>> errors.TransientError("HTTP 502").retryable
    True
    >>> errors.AuthenticationError("Hash doesn't match.").retryable
    False
"""

from __future__ import annotations

from collections.abc import Sequence


class QuantConnectError(Exception):
    """Base class of every error raised by the QuantConnect client.

    Attributes:
        endpoint: The API path that failed (for example ``/projects/read``), if known.
        status_code: The HTTP status code, if a response arrived.
        service_errors: The service's own ``errors`` list, verbatim.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        service_errors: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status_code = status_code
        self.service_errors: tuple[str, ...] = tuple(service_errors)

    def __str__(self) -> str:
        where = f" [{self.endpoint}]" if self.endpoint else ""
        return f"{self.message}{where}"


class ValidationError(QuantConnectError, ValueError):
    """A request was rejected locally, before any HTTP call: bad name, id, language, ..."""


class ConfigurationError(QuantConnectError):
    """The client is missing credentials or has an unusable setting (e.g. the base URL)."""


class AuthenticationError(QuantConnectError):
    """The service rejected the credentials or the request signature. Never retried.

    Raised for HTTP 401, and for HTTP 200 answers whose first error starts with
    ``Hash doesn't match`` or ``UserID not valid``.
    """


class ClockSkewError(AuthenticationError):
    """The service rejected the request's timestamp: the local clock is too far off."""


class RequestRejectedError(QuantConnectError):
    """The service answered ``success: false``: a business error such as a duplicate name.

    The service's messages are kept verbatim in :attr:`service_errors`.
    """


class NotFoundError(RequestRejectedError):
    """The project or file asked for does not exist (or no longer exists)."""


class UnexpectedResponseError(QuantConnectError):
    """The service answered with something that is not the documented envelope, or contradicts
    the request (for example a read by id that returns another project)."""


class PayloadTooLargeError(QuantConnectError):
    """HTTP 413: the upload is larger than the service accepts."""


class TransientError(QuantConnectError):
    """A failure that may pass: HTTP 5xx, a proxy's HTML error page, an empty body, a dropped
    connection or a timeout. Safe to retry after a delay.

    Attributes:
        retry_after: Seconds the service asked us to wait (``Retry-After``), if it said.
        request_sent: False when the request certainly never reached the service (a refused
            connection), so a retried write cannot have been applied twice.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status_code: int | None = None,
        service_errors: Sequence[str] = (),
        retry_after: float | None = None,
        request_sent: bool = True,
    ) -> None:
        super().__init__(
            message, endpoint=endpoint, status_code=status_code, service_errors=service_errors
        )
        self.retry_after = retry_after
        self.request_sent = request_sent


class RateLimitedError(TransientError):
    """HTTP 429: too many requests. :attr:`retry_after` holds the service's ``Retry-After``."""


class ServiceUnavailableError(TransientError):
    """HTTP 5xx (including a proxy's 502/503/504 HTML page) or an empty/non-JSON 5xx body."""


class ConnectionFailedError(TransientError):
    """The connection could not be made or was dropped before a complete answer arrived.

    ``request_sent`` tells the two apart: False for a refused/unresolvable connection,
    True for a connection dropped after the request went out (the write may have been applied).
    """


class RequestTimeoutError(TransientError):
    """No complete answer within the read timeout. The request may have been applied."""


def is_retryable(error: BaseException) -> bool:
    """Tell whether retrying the call that raised ``error`` can help.

    Example:
        >>> is_retryable(RateLimitedError("HTTP 429", retry_after=2))
        True
        >>> is_retryable(ValueError("bad"))
        False
    """
    return isinstance(error, QuantConnectError) and error.retryable
