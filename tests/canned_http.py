"""A tiny loopback HTTP server that answers every request with one canned response.

For wire shapes the emulator deliberately never produces (a base URL that serves a web page, a
misbehaving proxy, a service that answers with someone else's project): the client is still
tested over real HTTP, not with a mocked transport.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class CannedResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class CannedServer:
    url: str
    response: CannedResponse
    requests: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def canned_server(response: CannedResponse) -> Iterator[CannedServer]:
    """Serve ``response`` to every request on a free loopback port."""
    state = CannedServer(url="", response=response)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.requests.append({"path": self.path, **dict(self.headers)})
            reply = state.response
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/v2"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
