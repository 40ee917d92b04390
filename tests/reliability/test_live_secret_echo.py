"""A 5xx answer whose body echoes the request (as some debugging proxies' error pages do):
the API token, its signed header and the brokerage's credentials reach no exception message
and no log line. The echoing server is a real HTTP server on loopback, the client is real."""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from quantconnect_client import Brokerage, QuantConnectClient
from quantconnect_client.live import DeployOutcomeUnknownError
from quantconnect_client.retry import RetryPolicy

TOKEN = "tok-echo-5ecret-77a1"
BROKER_SECRET = "ib-echo-pa55-4410"


#: The pages the server sent: proof the secrets were there to leak.
PAGES: list[str] = []


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path.endswith("/live/list"):  # let the deploy reach its own request
            self._send(200, b'{"success": true, "live": [], "errors": []}', "application/json")
            return
        # The secrets first: a client that shows a body's start would show them.
        page = json.dumps({"authorization": self.headers.get("authorization"),
                           "body": body.decode("latin-1"), "headers": dict(self.headers)})
        PAGES.append(page)
        self._send(500, page.encode(), "text/html")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v2"
    server.shutdown()
    server.server_close()


def _chain(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error.args)


def test_an_echoing_5xx_leaks_no_secret(echo_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = QuantConnectClient(12345, TOKEN, base_url=echo_url,
                                retry=RetryPolicy(max_attempts=2, backoff_seconds=0.05))
    brokerage = Brokerage(id="InteractiveBrokersBrokerage",
                          credentials={"ib-user-name": "someone", "ib-password": BROKER_SECRET})
    with pytest.raises(DeployOutcomeUnknownError) as caught:
        # A short look for the deployment of the lost answer (not LOST_CREATE_SECONDS): its
        # reads still run, and what they raise is masked too.
        client.live.create(1, "c-1", "LN-1", brokerage=brokerage, confirm_seconds=0.5)
    text = _chain(caught.value) + caplog.text
    echoed = "".join(PAGES)
    assert BROKER_SECRET in echoed and "Basic " in echoed  # the answers held the secrets
    assert "500" in text  # the failure itself is reported
    signed = [json.loads(page)["authorization"].split()[-1] for page in PAGES]
    for secret in (TOKEN, BROKER_SECRET, *signed):
        assert secret not in text, f"{secret!r} reached an exception or a log line"
