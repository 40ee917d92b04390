"""The API token never shows in a repr, a log line or an exception text."""

from __future__ import annotations

import logging
from contextlib import ExitStack

import pytest

from quantconnect_client import QuantConnectClient, QuantConnectError, RetryPolicy
from quantconnect_emulator import EmulatorServer
from tests.client.conftest import make_client

DISTINCTIVE = "tok-3c8d1f0e-please-never-print-me"


def test_token_absent_from_logs_reprs_and_errors(qc_emulator, caplog):
    messages: list[str] = []
    with caplog.at_level(logging.DEBUG), ExitStack() as stack:
        # A wrong token: the auth failure path.
        wrong = make_client(qc_emulator, api_token=DISTINCTIVE)
        messages.append(repr(wrong))
        with pytest.raises(QuantConnectError) as caught:
            wrong.authenticate()
        messages += [str(caught.value), repr(caught.value), repr(caught.value.service_errors)]

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


def test_client_never_puts_the_token_on_the_wire(qc_emulator):
    from tests.canned_http import CannedResponse, canned_server

    with canned_server(CannedResponse(200, b'{"success": true}')) as srv:
        QuantConnectClient(1, DISTINCTIVE, base_url=srv.url).authenticate()
        assert DISTINCTIVE not in str(srv.requests)
