"""ASGI middleware: path clean-up, latency, faults, rate limit, request log.

Wraps the FastAPI routes. For a request under ``/api/v2`` it

1. collapses repeated slashes (QuantConnect's own docs example requests
   ``.../api/v2//authenticate``) and drops a trailing slash;
2. reads the body (HTTP 413 over ``max_request_bytes``) and counts the request
   as in flight;
3. answers HTTP 429 + ``Retry-After`` if the rate limit is exceeded;
4. picks a fault (forced queue first, then random), sleeps the latency, and
   either answers with the fault or passes the request to the routes;
5. appends an entry to the request log: method, path, status, fault, and only for a request
   whose signature holds, the ``projectId``/``name`` of its parameters (an unauthenticated
   body is never parsed for the log).

The Object Store's download links (:data:`LINK_PREFIX`, handed out by ``/object/get``) get the
same latency and faults, logged and counted under :data:`LINK_PATH`, with no signature or rate
limit (a presigned link fails as a storage service does, not as the API).

Every other path (the control plane under ``/_emulator``, its docs) is served
only to requests whose ``Host`` names this machine — a loopback name or
address, the bound host, or one of ``allowed_hosts`` — else HTTP 421 (a
DNS-rebinding page cannot reach it under a foreign name), and whose ``Origin``,
when a browser sends one, is such a host too — else HTTP 403 (a cross-origin
``text/plain`` POST from a web page cannot reset the emulator).

How a connection is dropped (``connection_drop``, ``ambiguous_write``): the
middleware sends the response head with a ``Content-Length`` larger than the
body bytes it then sends, and returns without finishing the response. The
server (uvicorn) then closes the connection, so the client sees a truncated
body: ``requests`` raises ``ChunkedEncodingError`` ("IncompleteRead"), a
connection-level error. uvicorn logs an error for an unfinished response; a
log filter on ``uvicorn.error`` hides that one message for deliberate drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import re
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quantconnect_emulator.auth import AUTH_VERDICT_KEY
from quantconnect_emulator.config import API_PREFIX, FaultKind, is_loopback, normalize_api_path
from quantconnect_emulator.params import peek_params
from quantconnect_emulator.wire import datetime_iso

if TYPE_CHECKING:
    from quantconnect_emulator.app import Emulator
    from quantconnect_emulator.faults import Flight

_SLASHES = re.compile(r"/{2,}")
_POLL_SECONDS = 0.05

_HTML_502 = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
_HTML_503 = b"""<!DOCTYPE html>
<html>
<head><title>503 Service Temporarily Unavailable</title></head>
<body>
<center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

#: The download links ``/object/get`` hands out, and the path they are logged and faulted under.
LINK_PREFIX = "/_emulator/objectstore/download/"
LINK_PATH = "/object/get/download"

# ---------------------------------------------------------------- drop logging

_EXPECTED_DROP: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "quantconnect_emulator_expected_drop", default=False
)


class _ExpectedDropFilter(logging.Filter):
    """Hide uvicorn's "returned without completing response" for deliberate drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_EXPECTED_DROP.get() and "without completing response" in str(record.msg))


def install_drop_log_filter() -> None:
    """Attach the filter to the ``uvicorn.error`` logger once per process."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ExpectedDropFilter) for f in logger.filters):
        logger.addFilter(_ExpectedDropFilter())


# ------------------------------------------------------------------- helpers


def clean_path(path: str) -> str:
    """Collapse repeated slashes and drop a trailing one.

    Example:
        >>> clean_path("/api/v2//projects/read/")
        '/api/v2/projects/read'
    """
    path = _SLASHES.sub("/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path


async def _send_response(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> int:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return status


def host_of(value: str) -> str:
    """The host part of a ``Host`` header value (port and IPv6 brackets removed).

    Example:
        >>> host_of("[::1]:8765"), host_of("localhost:80"), host_of("Example.COM")
        ('::1', 'localhost', 'example.com')
    """
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _json_bytes(errors: list[str]) -> bytes:
    return json.dumps({"success": False, "errors": errors}).encode()


_JSON = (b"content-type", b"application/json; charset=utf-8")


async def _drop(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Promise more body than is sent, then leave the response unfinished."""
    declared = len(body) + 512
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(declared).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    _EXPECTED_DROP.set(True)


class _Captured:
    """A response produced by the routes but not yet sent."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body.extend(message.get("body", b""))

    async def replay(self, send: Send) -> int:
        headers = [(k, v) for k, v in self.headers if k.lower() != b"content-length"]
        return await _send_response(send, self.status, bytes(self.body), headers)


def _replay_receive(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _Exchange:
    """Bookkeeping of one API request: status, log entry, in-flight count.

    The request is finished (no longer in flight, entry appended to the log)
    just *before* the last byte of a complete response is handed to the
    server, so a client that has its answer always sees up-to-date counters
    and log. Incomplete answers are finished when the middleware returns.
    """

    def __init__(self, emulator: Emulator, send: Send, flight: Flight, entry: dict[str, Any]):
        self.emulator = emulator
        self.flight = flight
        self.entry = entry
        self._send = send
        self._status: int | None = None
        self._done = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._status = int(message["status"])
            # With an empty body the headers are the whole answer: a client may have it as
            # soon as they are written, so finish the bookkeeping first.
            if (b"content-length", b"0") in [(k.lower(), v) for k, v in message["headers"]]:
                self.entry["status"] = self._status
                self.finish()
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.entry["status"] = self._status
            self.finish()
        await self._send(message)

    def finish(self) -> None:
        if self._done:
            return
        self._done = True
        self.emulator.faults.end(self.flight)
        self.entry["duration_ms"] = round((time.monotonic() - self.entry["monotonic"]) * 1000, 3)
        self.emulator.log.append(self.entry)


class EmulatorMiddleware:
    """Pure ASGI middleware applying the emulator's transport behaviour.

    Args:
        app: The wrapped ASGI application (the routes).
        emulator: Shared state: config, store, fault engine, request log.
    """

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = clean_path(scope["path"])
        if path != scope["path"]:
            scope = dict(scope)
            scope["path"] = path
            scope["raw_path"] = path.encode()
        if path.lower() != API_PREFIX and not path.lower().startswith(API_PREFIX + "/"):
            refusal = self._control_refusal(Headers(scope=scope))
            if refusal is not None:
                status, message = refusal
                await _send_response(
                    send,
                    status,
                    json.dumps({"detail": message}).encode(),
                    [(b"content-type", b"application/json")],
                )
                return
            if path.startswith(LINK_PREFIX) and scope["method"] == "GET":
                await self._serve_link(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        await self._serve_api(scope, receive, send)

    async def _serve_link(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A download link: latency and faults as for the API, then the route."""
        faults = self.emulator.faults
        exchange = _Exchange(
            self.emulator,
            send,
            faults.begin(LINK_PATH),
            {
                "monotonic": time.monotonic(),
                "wall_time": datetime_iso(datetime.now(timezone.utc)),
                "method": "GET",
                "path": LINK_PATH,
                "timestamp": None,
                "status": None,
                "fault": None,
                "project_id": None,
                "name": None,
            },
        )
        try:
            kind = faults.choose_fault(LINK_PATH)
            exchange.entry["fault"] = kind.value if kind is not None else None
            delay = faults.latency_seconds()
            if delay > 0:
                await self._wait(delay, receive, exchange.flight)
            await self._respond(kind, scope, b"", receive, exchange)
        finally:
            exchange.finish()

    def _host_allowed(self, host: str) -> bool:
        config = self.emulator.config
        allowed = [config.host.lower(), *(name.lower() for name in config.allowed_hosts)]
        return is_loopback(host) or host in allowed or "*" in allowed

    def _control_refusal(self, headers: Headers) -> tuple[int, str] | None:
        """``(status, message)`` if the control plane must not answer this request."""
        host = host_of(headers.get("host", ""))
        if not self._host_allowed(host):
            return 421, "this emulator answers its control plane only under a loopback host name"
        origin = headers.get("origin")
        if origin is not None:
            origin_host = (urlsplit(origin.strip()).hostname or "") if origin != "null" else ""
            if not origin_host or not self._host_allowed(origin_host.lower()):
                return 403, "cross-origin requests to the emulator's control plane are refused"
        return None

    async def _serve_api(self, scope: Scope, receive: Receive, send: Send) -> None:
        emulator = self.emulator
        faults = emulator.faults
        api_path = normalize_api_path(scope["path"])
        headers = Headers(scope=scope)
        exchange = _Exchange(
            emulator,
            send,
            faults.begin(api_path),
            {
                "monotonic": time.monotonic(),
                "wall_time": datetime_iso(datetime.now(timezone.utc)),
                "method": scope["method"],
                "path": api_path[:300],
                "timestamp": headers.get("timestamp"),
                "status": None,
                "fault": None,
                "project_id": None,
                "name": None,
            },
        )
        entry = exchange.entry
        try:
            body = await self._read_body(receive)
            if body is None:  # client went away before sending its body
                return
            if len(body) > emulator.config.max_request_bytes:
                message = _json_bytes(["Request body too large"])
                await _send_response(exchange.send, 413, message, [_JSON])
                return
            # Checked once, here: the log reads an unauthenticated body for nothing (a hostile
            # body costs no parsing before the 401), and the routes answer by this verdict.
            auth_error = emulator.check_auth(headers)
            scope.setdefault("state", {})[AUTH_VERDICT_KEY] = auth_error
            if auth_error is None:
                entry.update(
                    peek_params(
                        content_type=headers.get("content-type", ""),
                        query_string=scope.get("query_string", b""),
                        body=body,
                    )
                )
            wait = faults.check_rate_limit()
            if wait is not None:
                entry["fault"] = "rate_limit"
                await self._send_rate_limited(exchange.send, wait)
                return
            kind = faults.choose_fault(api_path)
            entry["fault"] = kind.value if kind is not None else None
            delay = faults.latency_seconds()
            if delay > 0:
                await self._wait(delay, receive, exchange.flight)
            await self._respond(kind, scope, body, receive, exchange)
        finally:
            exchange.finish()

    async def _respond(
        self,
        kind: FaultKind | None,
        scope: Scope,
        body: bytes,
        receive: Receive,
        exchange: _Exchange,
    ) -> None:
        """Answer the request according to its fault."""
        replay = _replay_receive(body, receive)
        send = exchange.send
        if kind is None:
            await self.app(scope, replay, send)
        elif kind is FaultKind.HTTP_500_EMPTY:
            await _send_response(send, 500, b"", [])
        elif kind is FaultKind.HTTP_502_HTML:
            await _send_response(send, 502, _HTML_502, [(b"content-type", b"text/html")])
        elif kind is FaultKind.HTTP_503_HTML:
            await _send_response(send, 503, _HTML_503, [(b"content-type", b"text/html")])
        elif kind is FaultKind.HTTP_429:
            retry_after = str(self.emulator.faults.config.retry_after_seconds).encode()
            await _send_response(
                send,
                429,
                b"429 Too Many Requests",
                [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", retry_after)],
            )
        elif kind is FaultKind.CONNECTION_DROP:
            await _drop(send, 200, [_JSON], b'{"success": true, "errors": []}')
        else:
            captured = _Captured()
            await self.app(scope, replay, captured.send)
            if kind is FaultKind.AMBIGUOUS_WRITE:
                await _drop(send, captured.status, captured.headers, bytes(captured.body))
                return
            # SLOW_RESPONSE: processed now, answered later (unless the client gives up).
            seconds = self.emulator.faults.config.slow_response_seconds
            if not await self._wait(seconds, receive, exchange.flight, releasable=True):
                await captured.replay(send)

    async def _send_rate_limited(self, send: Send, wait: float) -> None:
        faults = self.emulator.faults
        retry_after = faults.retry_after_header(wait)
        rate = faults.config.rate_limit_per_second
        message = (
            f"Too many requests: the limit is {rate:g} requests per second. "
            f"Retry after {retry_after} second(s)."
        )
        await _send_response(
            send,
            429,
            _json_bytes([message]),
            [_JSON, (b"retry-after", str(retry_after).encode())],
        )

    async def _read_body(self, receive: Receive) -> bytes | None:
        limit = self.emulator.config.max_request_bytes
        chunks = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.extend(message.get("body", b""))
            if len(chunks) > limit or not message.get("more_body", False):
                return bytes(chunks)

    async def _wait(
        self, seconds: float, receive: Receive, flight: Flight, *, releasable: bool = False
    ) -> bool:
        """Sleep without blocking the loop; True if the client disconnected.

        A client that hangs up stops counting as in flight at once. The wait
        ends early when the server shuts down, and a ``releasable`` one (a
        ``slow_response``, not latency) when the held answers are released
        (:meth:`FaultEngine.release_held`).
        """
        deadline = time.monotonic() + seconds
        faults = self.emulator.faults
        listener: asyncio.Future[Message] = asyncio.ensure_future(receive())
        releases = faults.begin_hold() if releasable else None
        try:
            while True:
                remaining = deadline - time.monotonic()
                released = releases is not None and faults.releases != releases
                if remaining <= 0 or self.emulator.closing or released:
                    return False
                done, _ = await asyncio.wait({listener}, timeout=min(remaining, _POLL_SECONDS))
                if done:
                    if listener.result()["type"] == "http.disconnect":
                        faults.end(flight)
                        return True
                    listener = asyncio.ensure_future(receive())
        finally:
            if releases is not None:
                faults.end_hold()
            if not listener.done():
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await listener
