"""The API token and request signatures never show in a repr, a log line, an exception text, or
on the wire."""

from __future__ import annotations

import hashlib
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


def signatures_of(token: str, timestamps: set[str]) -> set[str]:
    return {hashlib.sha256(f"{token}:{ts}".encode()).hexdigest() for ts in timestamps}


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


def test_a_signature_echoed_by_the_service_is_scrubbed_from_errors(caplog):
    # The service echoes the refused signature and its timestamp: together they authenticate
    # any request for two hours, so neither may reach a message.
    ts = "1700000000"
    echoed = hashlib.sha256(f"{DISTINCTIVE}:{ts}".encode()).hexdigest()
    body = (
        f'{{"success": false, "errors": ["Hash doesn\'t match. UID: 1 Hash: {echoed} '
        f"Timestamp: '{ts}'\"]}}"
    ).encode()
    with canned_server(CannedResponse(200, body, JSON)) as srv:
        client = QuantConnectClient(1, DISTINCTIVE, base_url=srv.url)
        with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as caught:
            client.authenticate()
        sent = {r["Timestamp"] for r in srv.requests}
    error = caught.value
    text = " ".join([str(error), repr(error), *error.service_errors, *map(str, error.args)])
    text += caplog.text
    assert "Hash doesn't match" in text
    assert echoed not in text and f"'{ts}'" not in text
    assert not signatures_of(DISTINCTIVE, sent | {ts}) & set(SIGNATURE_SHAPED.findall(text))
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
