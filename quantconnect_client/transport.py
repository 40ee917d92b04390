"""One HTTP attempt: send a signed request, turn the answer into a payload or a typed error.

The transport knows the envelope (``success``, ``errors``) and every failure shape the contract
lists. It never retries (that is :func:`quantconnect_client.retry.retry_call`'s job) and never
follows a redirect. Every attempt has a wall-clock bound (``Timeouts.attempt``, and no more than
the active :func:`~quantconnect_client.budget.operation_budget` leaves) over all its phases, from
sending to the body's last byte (:mod:`quantconnect_client.deadline` cuts it), not only a bound
per socket read, and every answer a size cap (after decompression). An upload's bound grows with
its size (:meth:`Timeouts.transfer`), while a stalled one still fails at once: each block of the
body must be taken by the link within the connect timeout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict

from .auth import RequestSigner
from .budget import remaining_budget
from .deadline import AttemptDeadline, DeadlineAdapter, attempt_deadline
from .errors import (
    AuthenticationError,
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
)
from .multipart import MultipartBody, MultipartUpload
from .redaction import has_userinfo, redact_url, scrub
from .settings import DEFAULT_MIN_TRANSFER_RATE

logger = logging.getLogger("quantconnect_client")

#: Default cap on one answer, after decompression.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Only this much of a body is decoded to describe it in an error.
_SNIPPET_BYTES = 2048
_CHUNK_BYTES = 64 * 1024
# More than a loopback or WAN socket's send and receive buffers together hold (Linux grows each to
# a few MiB at most): the part of an upload that may still be on its way when it is handed over.
_IN_FLIGHT_BYTES = 16 * 1024 * 1024

_AUTH_FAILURE_PREFIXES = ("hash doesn't match", "userid not valid")
#: A timestamp refused as too old or too far ahead: an auth failure whatever the status code.
_STALE_TIMESTAMP = re.compile(r"timestamp is too (?:old|far)", re.IGNORECASE)
_CLOCK_PATTERN = re.compile(r"too old|in the future|expired|clock", re.IGNORECASE)
_NOT_FOUND_PATTERN = re.compile(
    r"not (?:be )?found|does ?n[o']t exist|not exist|no such|unable to find|"
    r"invalid project ?id|project id .*invalid",
    re.IGNORECASE,
)
_HTML_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)

#: Failures that happen before a request is written: the service cannot have seen it.
_NOT_SENT_TYPES: tuple[type[BaseException], ...] = (
    urllib3.exceptions.NewConnectionError,  # NameResolutionError derives from it
    urllib3.exceptions.ConnectTimeoutError,
    requests.exceptions.ConnectTimeout,
    ConnectionRefusedError,
    socket.gaierror,
)

#: requests' errors for a base URL it cannot use at all.
_UNUSABLE_URL = (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)


@dataclass(frozen=True)
class Timeouts:
    """How long one attempt may take.

    Attributes:
        connect: Seconds to establish the connection.
        read: Seconds to wait for each read of the answer.
        total: Wall-clock bound of an attempt that moves no file, connection to last byte
            (default: ``connect + read``), so a server that trickles its answer cannot hold a
            call; an upload's or a download's attempt is bounded by :meth:`transfer` instead.
        min_transfer_rate: The slowest average speed (bytes per second) an upload or a
            download may have: its attempt's bound is :meth:`transfer` of its size.
    """

    connect: float = 5.0
    read: float = 30.0
    total: float | None = None
    min_transfer_rate: float = DEFAULT_MIN_TRANSFER_RATE

    def __post_init__(self) -> None:
        # Checked here, not when a transfer divides by the rate: a zero would surface as a
        # ZeroDivisionError in the middle of an upload, a negative bound as an instant timeout.
        for field, value in (("connect", self.connect), ("read", self.read),
                             ("total", self.total), ("min_transfer_rate", self.min_transfer_rate)):
            if value is not None and not value > 0:
                raise ConfigurationError(f"Timeouts.{field} must be greater than 0, not {value!r}")

    @property
    def attempt(self) -> float:
        """The wall-clock bound of one attempt."""
        return self.total if self.total is not None else self.connect + self.read

    def transfer(self, size: int) -> float:
        """The wall-clock bound of one attempt that moves ``size`` bytes: one attempt's bound
        plus the time ``size`` takes at :attr:`min_transfer_rate`.

        Example:
            >>> Timeouts(connect=5, read=30, min_transfer_rate=1_000_000).transfer(50_000_000)
            85.0
        """
        return self.attempt + max(0, size) / self.min_transfer_rate


@dataclass(frozen=True)
class Answer:
    """What one attempt received: status, headers and the (decompressed) body."""

    status: int
    headers: CaseInsensitiveDict[str]
    content: bytes


_NOT_JSON = object()


def never_reached_service(error: BaseException) -> bool:
    """True when ``error`` shows the request was never written (decided by exception types in
    the cause chain, not by the wording of messages).

    Example:
        >>> never_reached_service(requests.exceptions.ConnectionError("Failed to establish"))
        False
        >>> never_reached_service(requests.exceptions.ConnectTimeout())
        True
    """
    return any(isinstance(e, _NOT_SENT_TYPES) for e in _chain(error))


def failure_reason(error: BaseException) -> str:
    """The operating system's reason for a network failure (e.g. ``Connection refused``), or
    the innermost exception's type name when there is none."""
    chain = list(_chain(error))
    for item in chain:
        if type(item).__module__ == "builtins" and isinstance(item, OSError) and item.strerror:
            return str(item.strerror)
    for item in chain:
        if isinstance(item, socket.gaierror):
            return "the host name could not be resolved"
    return type(chain[-1]).__name__


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception it wraps (causes, contexts, urllib3's ``reason``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        linked = [item.__cause__, item.__context__, getattr(item, "reason", None)]
        linked += [arg for arg in item.args if isinstance(arg, BaseException)]
        todo += [e for e in linked if isinstance(e, BaseException)]


class Transport:
    """Sends one signed POST to the API and returns the decoded payload.

    Args:
        base_url: API root, e.g. ``https://www.quantconnect.com/api/v2``.
        signer: Builds fresh authentication headers for each attempt.
        timeouts: Connect, read and whole-attempt bounds.
        user_agent: The ``User-Agent`` header.
        pool_size: Connections kept per host (bound it above your concurrency).
        max_response_bytes: Cap on one answer, after decompression.
    """

    def __init__(
        self,
        base_url: str,
        signer: RequestSigner,
        *,
        timeouts: Timeouts,
        user_agent: str,
        pool_size: int = 16,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self.signer = signer
        self.timeouts = timeouts
        self.max_response_bytes = max_response_bytes
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        adapter = DeadlineAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def post(
        self,
        endpoint: str,
        payload: dict[str, Any] | None = None,
        *,
        upload: MultipartUpload | None = None,
    ) -> dict[str, Any]:
        """Send ``payload`` to ``endpoint`` once and return the successful envelope.

        With ``upload`` the body is that multipart form instead (streamed, opened afresh for
        this attempt), signed the same way.

        Raises:
            QuantConnectError: A subclass saying what went wrong and whether to retry. An
                :class:`AuthenticationError` whose answer's ``Date`` showed our clock was off
                has ``clock_corrected`` set: sending again (signed afresh) can succeed.
        """
        answer = self._send(endpoint, payload, upload)
        body = self._parse(endpoint, answer)
        # Only the API's own answers (a JSON envelope, not a proxy's page) say what its clock is.
        envelope = isinstance(body, dict) and "success" in body
        date = answer.headers.get("Date") if envelope else None
        try:
            result = self._decode(endpoint, answer, body)
        except AuthenticationError as error:
            offset = self.signer.learn_offset_from_date(date, signature_accepted=False)
            if offset is not None:
                logger.warning(
                    "QuantConnect rejected the request signature and its clock differs from "
                    "ours by %+.0f s; correcting the local clock offset and signing again.",
                    offset,
                )
                error.clock_corrected = True
            raise
        except QuantConnectError:
            self.signer.learn_offset_from_date(date, signature_accepted=True)
            raise
        learned = self.signer.learn_offset_from_date(date, signature_accepted=True)
        if learned is not None:
            logger.info("Local clock is %+.0f s off QuantConnect's; compensating.", learned)
        return result

    # ------------------------------------------------------------------------------ sending

    def _send(
        self, endpoint: str, payload: dict[str, Any] | None, upload: MultipartUpload | None = None
    ) -> Answer:
        # An upload's bound grows with its size: one attempt's bound alone would make a large
        # file on a slow link impossible to send.
        bound = self.timeouts.attempt if upload is None else self.timeouts.transfer(upload.length)
        left = remaining_budget()
        if left is not None:
            bound = max(0.001, min(bound, left))
        started = time.monotonic()
        # Per-read timeouts alone would let a trickling server hold the attempt: past the
        # deadline its socket is cut, whichever phase (request, status line, headers, body).
        with attempt_deadline(started + bound) as watch:
            response = self._request(endpoint, payload, watch, started, bound, upload)
            try:
                content = self._read_body(endpoint, response, watch, started, bound)
            finally:
                response.close()
        return Answer(response.status_code, response.headers, content)

    def _request(
        self,
        endpoint: str,
        payload: dict[str, Any] | None,
        watch: AttemptDeadline,
        started: float,
        bound: float,
        upload: MultipartUpload | None = None,
    ) -> requests.Response:
        """Send the request and read the answer's status line and headers."""
        read = self.timeouts.read
        if upload is not None:
            # The last part of the body may sit in socket buffers when the client has handed it
            # over: the link is still carrying it while the answer is waited for. Only what the
            # buffers can hold, not the whole file, or a service that never answers a large
            # upload would hold each attempt for as long as the file takes to send.
            read += min(upload.length, _IN_FLIGHT_BYTES) / self.timeouts.min_transfer_rate
        timeout = (min(self.timeouts.connect, bound), min(read, bound))
        shown = redact_url(self.base_url)
        headers = self.signer.headers()  # fresh for every attempt, whatever the body
        body: dict[str, Any] = {"json": payload or {}}
        sending: MultipartBody | None = None
        if upload is not None:
            headers["Content-Type"] = upload.content_type
            sending = upload.open()
            body = {"data": sending}
        try:
            return self.session.post(
                f"{self.base_url}{endpoint}",
                **body,
                headers=headers,
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as error:
            if watch.expired:
                raise self._over_bound(
                    endpoint,
                    f"No complete status line and headers from {shown} within",
                    started,
                    bound,
                ) from None
            if isinstance(error, requests.exceptions.ConnectTimeout):
                raise ConnectionFailedError(
                    f"Timed out connecting to {shown} after {timeout[0]:g} s",
                    endpoint=endpoint,
                    request_sent=False,
                ) from None
            if isinstance(error, requests.exceptions.ReadTimeout):
                raise RequestTimeoutError(
                    f"No answer from {shown} within {timeout[1]:g} s; the request may still "
                    "have been applied",
                    endpoint=endpoint,
                ) from None
            if isinstance(error, _UNUSABLE_URL):
                raise ConfigurationError(
                    f"Unusable base URL {shown!r}: {type(error).__name__}", endpoint=endpoint
                ) from None
            if sending is not None and _timed_out(error) and not never_reached_service(error):
                # urllib3 sends the body under the connect timeout, block by block: a link that
                # took nothing for that long has stalled (a slow one keeps taking blocks).
                raise RequestTimeoutError(
                    f"The upload to {shown} stalled: the link took no data for "
                    f"{timeout[0]:g} s, about {sending.sent:,} of {len(sending):,} bytes "
                    "sent; the service stores no part of an incomplete body",
                    endpoint=endpoint,
                ) from None
            # Chained errors would carry urllib3's texts (with the URL) into tracebacks; the
            # reason and whether the request went out are kept instead.
            sent = not never_reached_service(error)
            what = (
                "the connection was dropped before a complete answer arrived"
                if sent
                else "could not connect"
            )
            raise ConnectionFailedError(
                f"{what} ({shown}): {failure_reason(error)}",
                endpoint=endpoint,
                request_sent=sent,
            ) from None

    def _read_body(
        self,
        endpoint: str,
        response: requests.Response,
        watch: AttemptDeadline,
        started: float,
        bound: float,
    ) -> bytes:
        """Read the body under the attempt's deadline and the size cap."""
        cap = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
        if declared.isdigit() and int(declared) > cap and not encoded:
            raise self._too_large(endpoint, f"it declares {int(declared):,} bytes")
        received = bytearray()
        raw = response.raw
        status = response.status_code
        try:
            while True:
                left = watch.deadline - time.monotonic()
                if left <= 0 or watch.expired:
                    break
                limit_socket_wait(raw, min(left, self.timeouts.read))
                chunk = raw.read1(_CHUNK_BYTES, decode_content=True)
                if not chunk:
                    if watch.expired:  # the end we saw may be the cut, not the answer's
                        break
                    return bytes(received)
                received += chunk
                if len(received) > cap:
                    raise self._too_large(endpoint, f"more than {cap:,} bytes arrived")
        except urllib3.exceptions.DecodeError:
            raise UnexpectedResponseError(
                f"The answer's {response.headers.get('Content-Encoding')} body could not be "
                "decompressed",
                endpoint=endpoint,
                status_code=status,
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            if watch.expired:
                pass  # cut at the deadline: reported below
            elif isinstance(error, urllib3.exceptions.ReadTimeoutError):
                raise RequestTimeoutError(
                    f"The answer from {redact_url(self.base_url)} stalled: no data for "
                    f"{self.timeouts.read:g} s after {len(received):,} bytes; the request may "
                    "have been applied",
                    endpoint=endpoint,
                    status_code=status,
                ) from None
            else:
                raise ConnectionFailedError(
                    "the connection was dropped before a complete answer arrived "
                    f"({redact_url(self.base_url)}, {len(received):,} bytes received): "
                    f"{failure_reason(error)}",
                    endpoint=endpoint,
                    status_code=status,
                ) from None
        raise self._over_bound(
            endpoint,
            f"The answer from {redact_url(self.base_url)} stalled: {len(received):,} bytes of "
            "its body, still incomplete at",
            started,
            bound,
            status,
        )

    @staticmethod
    def _over_bound(
        endpoint: str, what: str, started: float, bound: float, status: int | None = None
    ) -> RequestTimeoutError:
        """The error of an attempt cut at its wall-clock bound (``what`` says what was
        missing)."""
        return RequestTimeoutError(
            f"{what} the attempt's bound of {bound:g} s (gave up after "
            f"{time.monotonic() - started:.1f} s); the request may have been applied",
            endpoint=endpoint,
            status_code=status,
        )

    def _too_large(self, endpoint: str, detail: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"The answer is larger than the client accepts ({detail}; the cap is "
            f"{self.max_response_bytes:,} bytes, see max_response_bytes)",
            endpoint=endpoint,
        )

    # ----------------------------------------------------------------------------- decoding

    @staticmethod
    def _parse(endpoint: str, answer: Answer) -> Any:
        """The JSON value of the body, or ``_NOT_JSON``."""
        try:
            return json.loads(answer.content)
        except RecursionError:
            raise UnexpectedResponseError(
                "The answer's JSON is nested too deeply to read",
                endpoint=endpoint,
                status_code=answer.status,
            ) from None
        except ValueError:
            return _NOT_JSON

    def _decode(self, endpoint: str, answer: Answer, body: Any) -> dict[str, Any]:
        status = answer.status
        if 300 <= status < 400:
            location = answer.headers.get("Location")
            shown = redact_url(location) if location else None
            raise RedirectError(
                f"QuantConnect answered HTTP {status}, a redirect to "
                f"{shown or 'nowhere (no Location)'}; the API never redirects, so it was not "
                "followed: check the base URL",
                endpoint=endpoint,
                status_code=status,
                location=shown,
            )
        if status == 401:
            raise self._auth_error(endpoint, status, _errors_of(body) or [_snippet(answer)])
        if status == 429:
            raise RateLimitedError(
                "QuantConnect is rate limiting requests (HTTP 429)",
                endpoint=endpoint,
                status_code=status,
                retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
                request_sent=False,  # refused at the door: nothing to reconcile
            )
        if status == 408:
            raise RequestTimeoutError(
                "QuantConnect timed out reading the request (HTTP 408)",
                endpoint=endpoint,
                status_code=status,
            )
        if status == 413:
            raise PayloadTooLargeError(
                "The upload is larger than QuantConnect accepts (HTTP 413)",
                endpoint=endpoint,
                status_code=status,
            )
        if status >= 500:
            raise ServiceUnavailableError(
                f"QuantConnect answered HTTP {status} ({_snippet(answer)})",
                endpoint=endpoint,
                status_code=status,
                retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
            )
        if body is _NOT_JSON:
            if status < 300 and not answer.content.strip():
                raise TransientError(
                    f"QuantConnect answered HTTP {status} with an empty body",
                    endpoint=endpoint,
                    status_code=status,
                )
            raise UnexpectedResponseError(
                f"{redact_url(self.base_url)} answered HTTP {status} with a {_snippet(answer)}, "
                "not JSON; is the base URL the API root (…/api/v2)?",
                endpoint=endpoint,
                status_code=status,
            )
        if not isinstance(body, dict):
            kind = "null" if body is None else type(body).__name__
            raise UnexpectedResponseError(
                f"Expected a JSON object, got JSON {kind}", endpoint=endpoint, status_code=status
            )
        errors = _errors_of(body)
        if "success" not in body:
            raise UnexpectedResponseError(
                f"{redact_url(self.base_url)}{endpoint} answered HTTP {status} with a JSON "
                "object that is not the API's envelope (no 'success')"
                f"{': ' + '; '.join(errors) if errors else ''}{base_url_hint(self.base_url)}",
                endpoint=endpoint,
                status_code=status,
                service_errors=errors,
            )
        if body.get("success") is True:
            if status >= 300:
                raise UnexpectedResponseError(
                    f"HTTP {status} with success=true", endpoint=endpoint, status_code=status
                )
            return body

        if not errors and status >= 400:
            raise UnexpectedResponseError(
                f"{redact_url(self.base_url)}{endpoint} answered HTTP {status}; is the base URL "
                f"right?{base_url_hint(self.base_url)}",
                endpoint=endpoint,
                status_code=status,
            )
        first = errors[0] if errors else "request failed without a reason"
        if first.strip().lower().startswith(_AUTH_FAILURE_PREFIXES) or _STALE_TIMESTAMP.search(
            first
        ):
            raise self._auth_error(endpoint, status, errors)
        error_class: type[RequestRejectedError] = (
            NotFoundError if _NOT_FOUND_PATTERN.search(first) else RequestRejectedError
        )
        raise error_class(
            f"QuantConnect rejected the request: {'; '.join(errors) or first}",
            endpoint=endpoint,
            status_code=status,
            service_errors=errors,
        )

    def _auth_error(self, endpoint: str, status: int, errors: list[str]) -> QuantConnectError:
        detail = "; ".join(errors)
        error_class = ClockSkewError if _CLOCK_PATTERN.search(detail) else AuthenticationError
        hint = (
            "the local clock is too far from the service's"
            if error_class is ClockSkewError
            else f"check the user id ({self.signer.user_id}) and API token"
        )
        return error_class(
            f"QuantConnect authentication failed ({hint}): {detail}",
            endpoint=endpoint,
            status_code=status,
            service_errors=errors,
        )


def base_url_hint(base_url: str) -> str:
    """A hint for an answer that is not the API's, when the base URL lacks the API's path.

    Example:
        >>> base_url_hint("http://127.0.0.1:8000")
        ' (the base URL does not end in /api/v2: try http://127.0.0.1:8000/api/v2)'
        >>> base_url_hint("https://www.quantconnect.com/api/v2")
        ''
    """
    if base_url.rstrip("/").endswith("/api/v2"):
        return ""
    return (
        " (the base URL does not end in /api/v2: try "
        f"{redact_url(base_url.rstrip('/'))}/api/v2)"
    )


def validate_base_url(url: str) -> str:
    """Check the API root: http(s), and no user name or password in it (the API signs requests
    in headers; credentials in a URL would only leak into messages).

    Raises:
        ConfigurationError: With the URL shown without its credentials.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        shown = redact_url(url) if isinstance(url, str) else repr(url)
        raise ConfigurationError(f"Base URL {shown!r} must start with http:// or https://.")
    if has_userinfo(url):
        raise ConfigurationError(
            f"Base URL {redact_url(url)!r} holds a user name or password; QuantConnect "
            "authenticates by signed headers, so remove them from the URL."
        )
    return url.rstrip("/")


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds from now: a number of seconds or an HTTP date.

    Example:
        >>> retry_after_seconds("7"), retry_after_seconds("soon")
        (7.0, None)
        >>> retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT")  # in the past: retry now
        0.0
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - time.time())


def _timed_out(error: BaseException) -> bool:
    """True when a socket timeout is in ``error``'s chain (``socket.timeout`` is
    ``TimeoutError``)."""
    return any(isinstance(e, TimeoutError) for e in _chain(error))


def limit_socket_wait(raw: Any, seconds: float) -> None:
    """Let the next socket read wait no longer than ``seconds`` (the attempt's time left)."""
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: the read itself reports it
            sock.settimeout(max(0.001, seconds))


def _snippet(answer: Answer) -> str:
    """A short, safe description of a non-JSON body (an HTML page's title, or its start)."""
    # Scrubbed: a proxy's error page may echo the request, its Authorization header included.
    text = scrub(answer.content[:_SNIPPET_BYTES].decode("utf-8", "replace"))
    if not text.strip():
        return "empty body"
    title = _HTML_TITLE.search(text)
    if title:
        return f"HTML page {title.group(1).strip()[:80]!r}"
    return f"body {text.strip()[:80]!r}"


def _errors_of(body: Any) -> list[str]:
    """The service's error messages, from whichever of the shapes seen in the wild."""
    if not isinstance(body, dict):
        return []
    for key in ("errors", "messages"):
        value = body.get(key)
        if isinstance(value, list) and value:
            return [str(item) for item in value]
        if isinstance(value, str) and value:
            return [value]
    message = body.get("Message") or body.get("message")
    return [str(message)] if message else []
