"""One HTTP attempt: send a signed request, turn the answer into a payload or a typed error.

The transport knows the envelope (``success``, ``errors``) and every failure shape the contract
lists; it does not retry (see :mod:`quantconnect_client.client`), except once, immediately, when
the service rejected our timestamp and its ``Date`` header lets us correct the clock.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from .auth import RequestSigner
from .errors import (
    AuthenticationError,
    ClockSkewError,
    ConfigurationError,
    ConnectionFailedError,
    NotFoundError,
    PayloadTooLargeError,
    QuantConnectError,
    RateLimitedError,
    RequestRejectedError,
    RequestTimeoutError,
    ServiceUnavailableError,
    TransientError,
    UnexpectedResponseError,
)

logger = logging.getLogger("quantconnect_client")

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


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for a connection, and then for each read of the answer."""

    connect: float = 5.0
    read: float = 30.0


def _snippet(response: requests.Response) -> str:
    """A short, safe description of a non-JSON body (an HTML page's title, or its start)."""
    text = response.text or ""
    if not text.strip():
        return "empty body"
    title = _HTML_TITLE.search(text)
    if title:
        return f"HTML page {title.group(1).strip()[:80]!r}"
    return f"body {text.strip()[:80]!r}"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date; rare enough to fall back on our own backoff


def _request_was_sent(error: requests.exceptions.ConnectionError) -> bool:
    """False only when the connection itself failed, so the service never saw the request."""
    text = repr(error)
    return not any(
        marker in text
        for marker in ("NewConnectionError", "NameResolutionError", "Failed to establish")
    )


class Transport:
    """Sends one signed POST to the API and returns the decoded payload.

    Args:
        base_url: API root, e.g. ``https://www.quantconnect.com/api/v2``.
        signer: Builds fresh authentication headers for each attempt.
        timeouts: Connect and read timeouts.
        user_agent: The ``User-Agent`` header.
        pool_size: Connections kept per host (bound it above your concurrency).
    """

    def __init__(
        self,
        base_url: str,
        signer: RequestSigner,
        *,
        timeouts: Timeouts,
        user_agent: str,
        pool_size: int = 16,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"Base URL {base_url!r} must start with http:// or https://."
            )
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.timeouts = timeouts
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def post(self, endpoint: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send ``payload`` to ``endpoint`` and return the successful envelope.

        Raises:
            QuantConnectError: A subclass saying what went wrong and whether to retry.
        """
        response = self._send(endpoint, payload)
        # Every answer tells the service's time: keep our signatures (and our notion of "when
        # did this call start", used to recognise a lost create) on the service's clock.
        learned = self.signer.learn_offset_from_date(response.headers.get("Date"))
        if learned is not None and response.status_code < 400:
            logger.info("Local clock is %+.0f s off QuantConnect's; compensating.", learned)
        try:
            return self._decode(endpoint, response)
        except AuthenticationError:
            # Our clock may be off: if the answer's Date showed it, sign again with the service's
            # time. The request was rejected at the door, so sending it again cannot apply twice.
            offset = learned
            if offset is None:
                raise
            logger.warning(
                "QuantConnect rejected the request signature and its clock differs from ours by "
                "%+.0f s; correcting the local clock offset and signing again.",
                offset,
            )
            return self._decode(endpoint, self._send(endpoint, payload))

    def _send(self, endpoint: str, payload: dict[str, Any] | None) -> requests.Response:
        url = f"{self.base_url}{endpoint}"
        timeout = (self.timeouts.connect, self.timeouts.read)
        try:
            return self.session.post(
                url, json=payload or {}, headers=self.signer.headers(), timeout=timeout
            )
        except requests.exceptions.ConnectTimeout:
            raise ConnectionFailedError(
                f"Timed out connecting to {self.base_url} after {self.timeouts.connect:g} s",
                endpoint=endpoint,
                request_sent=False,
            ) from None
        except requests.exceptions.ReadTimeout:
            raise RequestTimeoutError(
                f"No answer from {self.base_url} within {self.timeouts.read:g} s; the request "
                "may still have been applied",
                endpoint=endpoint,
            ) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as error:
            raise ConfigurationError(
                f"Unusable base URL {self.base_url!r}: {type(error).__name__}", endpoint=endpoint
            ) from None
        except requests.exceptions.ConnectionError as error:
            sent = _request_was_sent(error)
            what = (
                "the connection was dropped before a complete answer arrived"
                if sent
                else "could not connect"
            )
            raise ConnectionFailedError(
                f"{what} ({self.base_url}): {type(error).__name__}",
                endpoint=endpoint,
                request_sent=sent,
            ) from None
        except requests.exceptions.RequestException as error:
            # ChunkedEncodingError, ContentDecodingError, ...: the answer broke off.
            raise ConnectionFailedError(
                f"The answer from {self.base_url} broke off: {type(error).__name__}",
                endpoint=endpoint,
            ) from None

    def _decode(self, endpoint: str, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        body = self._json(response)

        if status == 401:
            raise self._auth_error(endpoint, status, _errors_of(body) or [_snippet(response)])
        if status == 429:
            raise RateLimitedError(
                "QuantConnect is rate limiting requests (HTTP 429)",
                endpoint=endpoint,
                status_code=status,
                retry_after=_retry_after(response),
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
                f"QuantConnect answered HTTP {status} ({_snippet(response)})",
                endpoint=endpoint,
                status_code=status,
                retry_after=_retry_after(response),
            )
        if body is None:
            if status < 300 and not response.content.strip():
                raise TransientError(
                    f"QuantConnect answered HTTP {status} with an empty body",
                    endpoint=endpoint,
                    status_code=status,
                )
            raise UnexpectedResponseError(
                f"{self.base_url} answered HTTP {status} with a {_snippet(response)}, not JSON; "
                "is the base URL the API root (…/api/v2)?",
                endpoint=endpoint,
                status_code=status,
            )
        if not isinstance(body, dict):
            raise UnexpectedResponseError(
                f"Expected a JSON object, got {type(body).__name__}",
                endpoint=endpoint,
                status_code=status,
            )
        if body.get("success") is True:
            if status >= 300:
                raise UnexpectedResponseError(
                    f"HTTP {status} with success=true", endpoint=endpoint, status_code=status
                )
            return body

        errors = _errors_of(body)
        if not errors and status >= 400:
            raise UnexpectedResponseError(
                f"{self.base_url}{endpoint} answered HTTP {status}; is the base URL right?",
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

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            return None

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
