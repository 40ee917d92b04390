"""Each error class and each injected fault kind, as the client sees them over HTTP."""

from __future__ import annotations

import json
import logging
import time
from itertools import count
from typing import Any

import pytest

from quantconnect_client import (
    AuthenticationError,
    ClockSkewError,
    ConnectionFailedError,
    NotFoundError,
    QuantConnectClient,
    RateLimitedError,
    RequestTimeoutError,
    RetryPolicy,
    ServiceUnavailableError,
    Timeouts,
    TransientError,
    UnexpectedResponseError,
    ValidationError,
)
from quantconnect_emulator import EmulatorServer
from tests.canned_http import CannedResponse, canned_server
from tests.client.conftest import make_client

NO_RETRY = RetryPolicy(max_attempts=1)


def api_requests(emulator, path: str | None = None) -> list[dict[str, Any]]:
    log = emulator.requests_log()
    return [r for r in log if path is None or r["path"].endswith(path)]


@pytest.mark.parametrize(
    ("kind", "error_class"),
    [
        ("http_500_empty", ServiceUnavailableError),
        ("http_502_html", ServiceUnavailableError),
        ("http_503_html", ServiceUnavailableError),
        ("http_429", RateLimitedError),
        ("connection_drop", ConnectionFailedError),
    ],
)
def test_each_transient_fault_maps_to_a_retryable_error(qc_emulator, kind, error_class):
    with make_client(qc_emulator, retry=NO_RETRY) as client:
        qc_emulator.inject(kind, count=1)
        with pytest.raises(error_class) as caught:
            client.authenticate()
    assert caught.value.retryable
    assert caught.value.endpoint == "/authenticate"
    if kind == "http_429":
        assert caught.value.retry_after is not None
    if kind == "http_502_html":
        assert "HTML" in str(caught.value)


@pytest.mark.parametrize(
    "kind", ["http_500_empty", "http_502_html", "http_429", "connection_drop"]
)
def test_transient_faults_are_retried_with_a_fresh_signature(qc_emulator, kind):
    ticks = count(int(time.time()))
    with make_client(qc_emulator, clock=lambda: float(next(ticks))) as client:
        qc_emulator.set_faults(retry_after_seconds=0)
        qc_emulator.inject(kind, count=2)
        assert client.authenticate()
        assert client.metrics.retries == 2
    attempts = api_requests(qc_emulator, "/authenticate")
    assert len(attempts) == 3
    assert len({a["timestamp"] for a in attempts}) == 3  # a new timestamp on every attempt


def test_slow_response_times_out_and_is_retried(qc_emulator):
    qc_emulator.set_faults(slow_response_seconds=1.5)
    qc_emulator.inject("slow_response", path="/projects/read", count=1)
    with make_client(qc_emulator, timeouts=Timeouts(connect=1, read=0.4)) as client:
        assert client.projects.list() == []
        assert client.metrics.retries == 1
    with make_client(qc_emulator, timeouts=Timeouts(connect=1, read=0.4), retry=NO_RETRY) as c:
        qc_emulator.inject("slow_response", path="/projects/read", count=1)
        with pytest.raises(RequestTimeoutError, match=r"within 0\.4 s"):
            c.projects.list()


def test_retries_give_up_after_the_policy_allows(qc_emulator):
    qc_emulator.inject("http_500_empty", count=5)
    with make_client(qc_emulator) as client, pytest.raises(ServiceUnavailableError):
        client.authenticate()
    assert len(api_requests(qc_emulator, "/authenticate")) == 3


def test_retry_after_is_honoured(qc_emulator):
    qc_emulator.set_faults(retry_after_seconds=1)
    qc_emulator.inject("http_429", count=1)
    with make_client(qc_emulator) as client:
        client.authenticate()
    first, second = api_requests(qc_emulator, "/authenticate")
    assert second["monotonic"] - first["monotonic"] >= 0.95


def test_ambiguous_create_makes_exactly_one_project(qc_emulator):
    qc_emulator.inject("ambiguous_write", path="/projects/create", count=1)
    with make_client(qc_emulator) as client:
        project = client.projects.create("Tests/Ambiguous", "Py")
        assert client.metrics.reconciled == 1
    live = [p for p in qc_emulator.projects() if p["name"] == "Tests/Ambiguous"]
    assert [p["projectId"] for p in live] == [project.project_id]
    assert len(api_requests(qc_emulator, "/projects/create")) == 1


def test_ambiguous_delete_is_not_applied_twice(qc_emulator):
    with make_client(qc_emulator) as client:
        project = client.projects.create("Tests/Delete Once", "Py")
        qc_emulator.inject("ambiguous_write", path="/projects/delete", count=1)
        client.projects.delete(project.project_id)
        after = client.projects.read(project.project_id)  # soft-deleted, not purged
        assert after.is_deleted


@pytest.mark.parametrize("binned", [False, True], ids=["live", "in the bin"])
def test_a_purge_whose_delete_applied_twice_ends_gone(qc_emulator, binned):
    with make_client(qc_emulator) as client:
        project = client.projects.create("Tests/Purge Lost Answer", "Py")
        if binned:
            client.projects.delete(project.project_id)
        before = len(qc_emulator.requests_log())
        # Applied, answer lost: the client's retry meets what the first attempt did (for a
        # project in the bin: nothing left, "not found"), and the read settles it.
        qc_emulator.inject("ambiguous_write", path="/projects/delete", count=1)
        client.projects.purge(project.project_id, in_recycle_bin=binned)
    assert qc_emulator.projects() == []
    sent = [r["path"] for r in qc_emulator.requests_log()[before:]]
    assert sent[-1] == "/projects/read" and sent.count("/projects/delete") <= 3, sent


def test_ambiguous_file_create_and_rename_are_reconciled(qc_emulator):
    with make_client(qc_emulator) as client:
        pid = client.projects.create("Tests/Ambiguous Files", "Py").project_id
        qc_emulator.inject("ambiguous_write", path="/files/create", count=1)
        assert client.files.create(pid, "a.py", "A = 1\n").content == "A = 1\n"
        qc_emulator.inject("ambiguous_write", path="/files/update", count=1)
        client.files.rename(pid, "a.py", "b.py")
        assert {f.name for f in client.files.list(pid)} >= {"b.py"}
        assert client.metrics.reconciled == 2


@pytest.mark.parametrize("status", [401, 200])
def test_wrong_token_is_an_authentication_error_never_retried(status):
    with (
        EmulatorServer(auth_failure_status=status) as emulator,
        make_client(emulator, api_token="wrong-token") as client,
    ):
        with pytest.raises(AuthenticationError) as caught:
            client.projects.create("Tests/Never", "Py")
        assert len(api_requests(emulator, "/projects/create")) == 1
        assert emulator.projects() == []
    assert not caught.value.retryable
    assert caught.value.status_code == status
    assert "Hash doesn't match" in str(caught.value)


def test_wrong_user_id_is_an_authentication_error(qc_emulator):
    with (
        QuantConnectClient(
            qc_emulator.user_id + 1, qc_emulator.api_token, base_url=qc_emulator.base_url
        ) as client,
        pytest.raises(AuthenticationError, match=str(qc_emulator.user_id + 1)),
    ):
        client.authenticate()


def test_client_clock_hours_off_is_corrected_from_the_date_header(qc_emulator, caplog):
    skewed = lambda: time.time() - 3 * 3600  # noqa: E731
    with make_client(qc_emulator, clock=skewed) as client:
        with caplog.at_level(logging.WARNING, logger="quantconnect_client"):
            assert client.authenticate()
        assert abs(client.clock_offset - 3 * 3600) < 60
        assert client.projects.list() == []  # later calls sign with the corrected clock
    assert "correcting the local clock offset" in caplog.text


def test_clock_skew_without_a_date_header_is_reported(qc_emulator):
    stale = str(int(time.time()) - 4 * 3600)
    body = (
        b'{"success": false, "errors": ["Timestamp is too old for hash. Timestamp: '
        + stale.encode()
        + b'"]}'
    )
    with canned_server(CannedResponse(401, body, {"Content-Type": "application/json"})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=NO_RETRY)
        with pytest.raises(ClockSkewError, match="clock"):
            client.authenticate()


def test_unreachable_host_is_a_connection_error_that_never_reached_the_service():
    with canned_server(CannedResponse()) as srv:
        url = srv.url  # the port is closed once the server is gone
    client = QuantConnectClient(
        1, "t", base_url=url, retry=RetryPolicy(max_attempts=2, backoff_seconds=0.01)
    )
    with pytest.raises(ConnectionFailedError, match="could not connect") as caught:
        client.authenticate()
    assert caught.value.request_sent is False
    assert client.metrics.requests == client.metrics.unsent == 2


def test_a_base_url_serving_html_is_a_clear_permanent_error():
    page = b"<html><head><title>Welcome to nginx!</title></head><body>hi</body></html>"
    with canned_server(CannedResponse(200, page, {"Content-Type": "text/html"})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(UnexpectedResponseError, match="not JSON") as caught:
            client.authenticate()
        assert "Welcome to nginx!" in str(caught.value)
        assert len(srv.requests) == 1  # not retried


@pytest.mark.parametrize(
    ("body", "error_class", "fragment"),
    [
        (b'{"success": false, "errors": ["UserID not valid"]}', AuthenticationError, "UserID"),
        (b'{"success": false, "messages": ["Project not found"]}', NotFoundError, "not found"),
        (b'{"Message": "An error has occurred."}', UnexpectedResponseError, "An error has occ"),
        (b"[1, 2]", UnexpectedResponseError, "JSON object"),
        (b"", TransientError, "empty body"),
    ],
)
def test_other_envelopes_seen_in_the_wild(body, error_class, fragment):
    with canned_server(CannedResponse(200, body, {"Content-Type": "application/json"})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=NO_RETRY)
        with pytest.raises(error_class, match=fragment):
            client.authenticate()


def test_a_read_by_id_that_returns_another_project_is_an_error():
    body = (
        b'{"success": true, "projects": [{"projectId": 5, "name": "a"}, '
        b'{"projectId": 6, "name": "b"}], "versions": []}'
    )
    with canned_server(CannedResponse(200, body, {"Content-Type": "application/json"})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(UnexpectedResponseError, match="Asked for project 7"):
            client.projects.read(7)
        with pytest.raises(UnexpectedResponseError):
            client.projects.read(5)  # two projects for one id is wrong too


def test_requests_carry_user_agent_and_json(qc_emulator):
    with canned_server(CannedResponse(200, b'{"success": true}')) as srv:
        QuantConnectClient(1, "t", base_url=srv.url).authenticate()
        sent = srv.requests[0]
    assert sent["User-Agent"].startswith("prefect-quantconnect/")
    assert sent["Content-Type"] == "application/json"
    assert sent["Timestamp"].isdigit()


def test_clock_skew_is_corrected_when_auth_failures_answer_200(caplog):
    skewed = lambda: time.time() + 2 * 3600  # noqa: E731 - a clock running two hours ahead
    with EmulatorServer(auth_failure_status=200) as emulator:
        with make_client(emulator, clock=skewed) as client:
            with caplog.at_level(logging.WARNING, logger="quantconnect_client"):
                assert client.authenticate()
            assert abs(client.clock_offset + 2 * 3600) < 60
        without_date = make_client(emulator, clock=skewed, retry=NO_RETRY)
        without_date._signer.MIN_SKEW_SECONDS = 10**9  # refuse to learn: the error must show
        with pytest.raises(ClockSkewError, match="too far in the future"):
            without_date.authenticate()


def test_a_lost_create_never_adopts_a_project_of_another_language(qc_emulator):
    with make_client(qc_emulator) as client:
        theirs = client.projects.create("Tests/Shared Name", "Py")
        qc_emulator.inject("ambiguous_write", path="/projects/create", count=1)
        mine = client.projects.create("Tests/Shared Name", "C#")
    assert mine.project_id != theirs.project_id
    assert mine.language == "C#"
    assert qc_emulator.stats()["store"]["projects_created"] == 2


def test_a_lost_create_is_recognised_with_a_client_clock_minutes_fast(qc_emulator):
    fast = lambda: time.time() + 200  # noqa: E731 - within the service's window: no auth error
    qc_emulator.inject("ambiguous_write", path="/projects/create", count=1)
    with make_client(qc_emulator, clock=fast) as client:
        project = client.projects.create("Tests/Fast Clock", "Py")
        assert client.metrics.reconciled == 1
    assert [p["projectId"] for p in qc_emulator.projects()] == [project.project_id]


def test_http_408_is_transient():
    with canned_server(CannedResponse(408, b"")) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=NO_RETRY)
        with pytest.raises(RequestTimeoutError, match="408"):
            client.authenticate()


def test_purge_survives_refused_deletes_under_a_rate_limit(qc_emulator):
    with make_client(qc_emulator) as client:
        ids = [client.projects.create(f"Tests/Purge {i}", "Py").project_id for i in range(3)]
        qc_emulator.inject("http_429", path="/projects/delete", count=2)  # two refusals in a row
        client.projects.purge(ids[0])
        qc_emulator.set_faults(rate_limit_per_second=4, retry_after_seconds=0)
        for project_id in ids[1:]:  # refusals now land in whichever round they happen to
            client.projects.purge(project_id)
    assert qc_emulator.projects() == []
    assert qc_emulator.stats()["rate_limited"] > 0


def test_a_base_url_without_the_api_path_names_the_url_and_suggests_it(qc_emulator):
    root = qc_emulator.base_url.removesuffix("/api/v2")
    client = QuantConnectClient(qc_emulator.user_id, qc_emulator.api_token, base_url=root)
    with pytest.raises(UnexpectedResponseError) as caught:
        client.authenticate()
    message = str(caught.value)
    assert f"{root}/authenticate answered HTTP 404" in message
    assert f"try {root}/api/v2" in message
    assert qc_emulator.api_token not in message


def json_answer(body: dict[str, Any]) -> CannedResponse:
    return CannedResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("create", "answer"),
    [
        (lambda c: c.backtests.create(5, "a" * 32 + "-" + "b" * 32, "Named"),
         {"backtest": {"backtestId": "", "name": "Named", "status": "In Queue..."}}),
        (lambda c: c.backtests.create(5, "a" * 32 + "-" + "b" * 32, "Named"),
         {"backtest": {"name": "Named", "status": "In Queue..."}}),
        (lambda c: c.compiles.create(5), {"compileId": "", "state": "InQueue"}),
        (lambda c: c.compiles.create(5), {"compileId": "not an id!", "state": "InQueue"}),
        (lambda c: c.projects.create("Tests/No Id", "Py"),
         {"projects": [{"projectId": 0, "name": "Tests/No Id"}], "versions": []}),
    ],
    ids=["empty backtestId", "no backtestId", "empty compileId", "bad compileId",
         "projectId 0"],
)
def test_a_create_answer_without_a_usable_id_is_the_services_fault(create, answer):
    # The id is the service's to give: one that no request could use is an unexpected answer,
    # not a ValidationError blaming the caller when the id is sent back (wait, read, delete).
    with (
        canned_server(json_answer({"success": True, **answer})) as srv,
        QuantConnectClient(1, "t", base_url=srv.url, retry=NO_RETRY) as client,
        pytest.raises(UnexpectedResponseError) as caught,
    ):
        create(client)
    assert len(srv.requests) == 1  # not retried: a second create could start a second job
    assert not isinstance(caught.value, ValidationError)
    assert "Id" in str(caught.value)
