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
from dataclasses import dataclass
from typing import Any

from .redaction import scrub


class QuantConnectError(Exception):
    """Base class of every error raised by the QuantConnect client.

    Messages and the service's errors are scrubbed of request signatures, signed timestamps and
    URL credentials (:func:`quantconnect_client.redaction.scrub`) here, once, so no path can
    carry one into a log line or a Prefect state message.

    Attributes:
        endpoint: The API path that failed (for example ``/projects/read``), if known.
        status_code: The HTTP status code, if a response arrived.
        service_errors: The service's own ``errors`` list, scrubbed of signatures.
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
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status_code = status_code
        self.service_errors: tuple[str, ...] = tuple(scrub(str(e)) for e in service_errors)

    def add_note_to_message(self, note: str) -> None:
        """Append ``note`` to the message (e.g. how many attempts were made)."""
        self.message = scrub(f"{self.message} {note}")
        self.args = (self.message,)

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


    #: Set by the transport when the refusal's ``Date`` showed our clock was off and the offset
    #: was corrected: sending the request once more, signed afresh, can then succeed.
    clock_corrected: bool = False


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


class RedirectError(UnexpectedResponseError):
    """The answer was an HTTP redirect (3xx). The API never redirects, so the request is not
    followed (it would re-send the request, and a file's source, to another place) nor retried.

    Attributes:
        location: The ``Location`` the answer pointed to (credentials removed), if any.
    """

    def __init__(self, message: str, *, location: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.location = scrub(location) if location else None


class ResponseTooLargeError(UnexpectedResponseError):
    """The answer (after decompression) is larger than the client's cap
    (``max_response_bytes``); reading stopped there."""


class WaitTimeoutError(QuantConnectError):
    """A wait (:func:`quantconnect_client.polling.poll`) reached its deadline before the thing
    waited for was done.

    Attributes:
        last: The last value read, if any read succeeded.
        reads: How many reads were made.
        elapsed: Seconds the wait lasted.
    """

    def __init__(
        self,
        message: str,
        *,
        last: Any = None,
        reads: int = 0,
        elapsed: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.last = last
        self.reads = reads
        self.elapsed = elapsed


@dataclass(frozen=True)
class BuildLogEntry:
    """One compiler message, read from a build log line.

    Attributes:
        file: The source file named, if the line names one.
        line: Its line number, if given.
        column: Its column, if given.
        message: What the compiler said.
        text: The log line as the service wrote it.
    """

    file: str | None
    line: int | None
    column: int | None
    message: str
    text: str

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        return f"{where}: {self.message}" if where else self.message


class BuildError(QuantConnectError):
    """The project did not compile (``state: BuildError``). Permanent: the code must change.

    Attributes:
        compile_id: The failed compile.
        logs: The compile's log lines, verbatim.
        entries: The error lines read as file, line, column and message.
    """

    def __init__(
        self,
        message: str,
        *,
        compile_id: str | None = None,
        logs: Sequence[str] = (),
        entries: Sequence[BuildLogEntry] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.compile_id = compile_id
        self.logs: tuple[str, ...] = tuple(scrub(line) for line in logs)
        self.entries: tuple[BuildLogEntry, ...] = tuple(entries)


class BacktestRuntimeError(QuantConnectError):
    """The backtest ran and failed (``error`` / ``stacktrace`` set). Permanent.

    Attributes:
        backtest_id: The failed backtest.
        error: The algorithm's error text.
        stacktrace: The stack trace the service reported, if any.
        during_initialization: True if it failed in ``initialize`` (``hasInitializeError``).
        backtest: The backtest as last read.
    """

    def __init__(
        self,
        message: str,
        *,
        backtest_id: str | None = None,
        error: str | None = None,
        stacktrace: str | None = None,
        during_initialization: bool = False,
        backtest: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.backtest_id = backtest_id
        self.error = scrub(error) if error else error
        self.stacktrace = scrub(stacktrace) if stacktrace else stacktrace
        self.during_initialization = during_initialization
        self.backtest = backtest


class PayloadTooLargeError(QuantConnectError):
    """HTTP 413: the upload is larger than the service accepts."""


class TransientError(QuantConnectError):
    """A failure that may pass: HTTP 5xx, a proxy's HTML error page, an empty body, a dropped
    connection or a timeout. Safe to retry after a delay.

    Attributes:
        retry_after: Seconds the service asked us to wait (``Retry-After``), if it said.
        request_sent: False when the request certainly never reached the service (a refused
            connection), so a retried write cannot have been applied twice. From a call with
            retries, False only if no attempt of a write may have been applied.
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


class BacktestResultsIncompleteError(WaitTimeoutError):
    """A backtest's results had not settled by the wait's deadline (still running, or completed
    without its final results). ``last`` holds the backtest as last read; its statistics are
    not results unless :attr:`completed` is true."""

    @property
    def completed(self) -> bool:
        """True if the backtest had completed and only its final results were missing."""
        return bool(getattr(self.last, "completed", False))


class NoNodeAvailableError(TransientError):
    """The service refused to start a backtest because no backtest node is free. Retryable once
    a running backtest ends (or is deleted); the request was not applied."""


class BudgetExhaustedError(TransientError):
    """The time an operation was given (:func:`quantconnect_client.operation_budget`, or the
    default bound of one call) is spent; the message says how many attempts over how long.
    Retryable: a later try, with a fresh budget, may succeed."""


def is_retryable(error: BaseException) -> bool:
    """Tell whether retrying the call that raised ``error`` can help.

    Example:
        >>> is_retryable(RateLimitedError("HTTP 429", retry_after=2))
        True
        >>> is_retryable(ValueError("bad"))
        False
    """
    return isinstance(error, QuantConnectError) and error.retryable
