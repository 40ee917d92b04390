"""The API token and request signatures never show in a repr, a log line, an exception text, or
on the wire."""

from __future__ import annotations

import logging
import re
from contextlib import ExitStack

import pytest

from quantconnect_client import AuthenticationError, QuantConnectClient, RetryPolicy
from quantconnect_client.errors import QuantConnectError
from quantconnect_emulator import EmulatorServer
from tests.canned_http import CannedResponse, canned_server
from tests.client.conftest import make_client

DISTINCTIVE = "tok-3c8d1f0e-please-never-print-me"
SIGNATURE_SHAPED = re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
JSON = {"Content-Type": "application/json"}


def test_token_and_signatures_absent_from_logs_reprs_and_errors(qc_emulator, caplog):
    messages: list[str] = []
    with caplog.at_level(logging.DEBUG), ExitStack() as stack:
        # A wrong token: the auth failure path.
        wrong = make_client(qc_emulator, api_token=DISTINCTIVE)
        messages.append(repr(wrong))
        with pytest.raises(AuthenticationError) as refused:
            wrong.authenticate()
        messages += [str(refused.value), repr(refused.value), repr(refused.value.service_errors)]

        # The right token through every fault path, with debug logging on.
        emulator = stack.enter_context(EmulatorServer(api_token=DISTINCTIVE))
        client = make_client(
            emulator,
            api_token=DISTINCTIVE,
            retry=RetryPolicy(max_attempts=2, backoff_seconds=0.01),
        )
        for kind in ("http_500_empty", "http_502_html", "http_429", "connection_drop"):
            emulator.inject(kind, count=2)
            with pytest.raises(QuantConnectError) as caught:
                client.authenticate()
            messages += [str(caught.value), repr(caught.value)]
        project = client.projects.create("Tests/Secret", "Py")
        messages += [repr(client), repr(project), repr(client.metrics)]
        messages.append(str(emulator.requests_log()))
    text = "\n".join(messages) + caplog.text
    assert "Hash doesn't match" in text  # the failures did happen and were captured
    assert DISTINCTIVE not in text
    assert not SIGNATURE_SHAPED.search(text)


def test_client_never_puts_the_token_on_the_wire():
    with canned_server(CannedResponse(200, b'{"success": true, "projects": []}', JSON)) as srv:
        client = QuantConnectClient(1, DISTINCTIVE, base_url=srv.url)
        client.authenticate()
        client.projects.list()
        wire = srv.wire_text()
    assert "Authorization" in wire and "/api/v2/projects/read" in wire  # headers and paths kept
    assert DISTINCTIVE not in wire


def test_the_wire_check_can_fail():
    # The control for the test above: a token that does go out (in a body) is caught.
    with canned_server(CannedResponse(200, b'{"success": true}', JSON)) as srv:
        QuantConnectClient(1, "t", base_url=srv.url).post("/authenticate", {"x": DISTINCTIVE})
        assert DISTINCTIVE in srv.wire_text()
