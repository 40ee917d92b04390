"""Bad input: each gets a clear, specific error; nothing is retried that a retry cannot cure;
nothing is created. The matrix (input, error, message, requests sent) is printed at the end."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest

from flows.projects.forms import LifecycleOptions
from flows.projects.lifecycle import temporary_project_lifecycle
from quantconnect_client import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    NotFoundError,
    QuantConnectClient,
    QuantConnectError,
    RetryPolicy,
    Timeouts,
    UnexpectedResponseError,
    ValidationError,
)
from quantconnect_emulator import EmulatorServer
from tests.canned_http import CannedResponse, canned_server
from tests.helpers import credentials_for
from tests.reliability.conftest import report_figures, table

ROWS: list[tuple[str, str, str, int]] = []


@pytest.fixture(scope="module", autouse=True)
def matrix() -> Iterator[None]:
    yield
    report_figures(
        "bad input matrix (requests = attempts the client sent)",
        table(("input", "error", "message", "requests"), ROWS),
    )


def client_for(base_url: str, user_id: int, token: str, **kwargs: Any) -> QuantConnectClient:
    return QuantConnectClient(
        user_id,
        token,
        base_url=base_url,
        timeouts=Timeouts(1.0, 2.0),
        retry=RetryPolicy(max_attempts=3, backoff_seconds=0.05),
        **kwargs,
    )


def record(label: str, error: BaseException, requests: int) -> None:
    message = " ".join(str(error).split())
    ROWS.append(
        (label, type(error).__name__, message[:90] + ("…" if len(message) > 90 else ""), requests)
    )


def expect(
    label: str,
    call: Callable[[], Any],
    error_class: type[BaseException],
    match: str,
    requests_of: Callable[[], int],
) -> BaseException:
    with pytest.raises(error_class, match=match) as raised:
        call()
    record(label, raised.value, requests_of())
    return raised.value


# ------------------------------------------------------------------ local checks: 0 requests

BAD_NAMES = [
    ("name ''", "", "must not be empty"),
    ("name ' Leading'", " Leading", "must not start or end with a space"),
    ("name '.'", ".", r"unsupported special character \(\.\)"),
    ("name 'CON'", "CON", "reserved device name"),
    ("name 'Folder/lpt1'", "Folder/lpt1", "reserved device name"),
    ("name 'x' * 201", "x" * 201, "201 characters long; the maximum is 200"),
    ("name 'Pröjekt'", "Pröjekt", r"unsupported special character \(ö\)"),
    ("name 'Recycle Bin/x'", "Recycle Bin/x", "Recycle Bin"),
    ("name None", None, "must be a string"),
]
BAD_LANGUAGES = [
    ("language 'Java'", "Java", "Unsupported project language 'Java'"),
    ("language ''", "", "Unsupported project language ''"),
]
BAD_IDS = [
    ("id 0", 0, "must be positive"),
    ("id -1", -1, "must be positive"),
    ("id 2**31", 2**31, "larger than any QuantConnect id"),
    ("id '12'", "12", "must be an integer, got str"),
    ("id 1.5", 1.5, "must be an integer, got float"),
    ("id True", True, "must be an integer, got bool"),
]


def _nothing_sent(emulator: EmulatorServer, client: QuantConnectClient) -> int:
    assert emulator.requests_log() == []
    assert emulator.stats()["store"]["projects_created"] == 0
    return client.metrics.requests


@pytest.mark.parametrize(("label", "name", "match"), BAD_NAMES, ids=[c[0] for c in BAD_NAMES])
def test_bad_project_names(qc_emulator, label, name, match) -> None:
    client = client_for(qc_emulator.base_url, qc_emulator.user_id, qc_emulator.api_token)
    expect(
        label,
        lambda: client.projects.create(name, "Py"),
        ValidationError,
        match,
        lambda: _nothing_sent(qc_emulator, client),
    )


@pytest.mark.parametrize(
    ("label", "language", "match"), BAD_LANGUAGES, ids=[c[0] for c in BAD_LANGUAGES]
)
def test_bad_languages(qc_emulator, label, language, match) -> None:
    client = client_for(qc_emulator.base_url, qc_emulator.user_id, qc_emulator.api_token)
    expect(
        label,
        lambda: client.projects.create("Fine name", language),
        ValidationError,
        match,
        lambda: _nothing_sent(qc_emulator, client),
    )


@pytest.mark.parametrize(("label", "project_id", "match"), BAD_IDS, ids=[c[0] for c in BAD_IDS])
def test_bad_ids(qc_emulator, label, project_id, match) -> None:
    client = client_for(qc_emulator.base_url, qc_emulator.user_id, qc_emulator.api_token)
    for operation in (
        client.projects.read,
        client.projects.delete,
        client.projects.purge,
        lambda i: client.projects.update(i, description="x"),
        client.files.list,
    ):
        with pytest.raises(ValidationError, match=match):
            operation(project_id)
    expect(
        f"{label} (read, update, delete, purge, files)",
        lambda: client.projects.read(project_id),
        ValidationError,
        match,
        lambda: _nothing_sent(qc_emulator, client),
    )


BAD_PARAMETERS = [
    ("parameter NaN", {"fast": float("nan")}, "must be a finite number"),
    ("parameter inf", {"fast": float("inf")}, "must be a finite number"),
    ("parameter of 10,000 characters", {"fast": "x" * 10_000},
     "10000 characters long; the maximum is 1000"),
    ("parameter 10**30", {"fast": 10**30}, "outside a 64-bit integer's range"),
    ("parameter 1e30", {"fast": 1e30}, "outside a 64-bit integer's range"),
    ("10,000 parameters", {f"p{i}": 1 for i in range(10_000)},
     "10000 backtest parameters; the maximum is 200"),
]


@pytest.mark.parametrize(("label", "parameters", "match"), BAD_PARAMETERS,
                         ids=[c[0] for c in BAD_PARAMETERS])
def test_bad_backtest_parameters(qc_emulator, label, parameters, match) -> None:
    client = client_for(qc_emulator.base_url, qc_emulator.user_id, qc_emulator.api_token)
    expect(
        label,
        lambda: client.backtests.create(1, "c" * 65, "a name", parameters),
        ValidationError,
        match,
        lambda: _nothing_sent(qc_emulator, client),
    )


def test_missing_credentials() -> None:
    expect(
        "user id 0",
        lambda: QuantConnectClient(0, "token"),
        ConfigurationError,
        "user id",
        lambda: 0,
    )
    expect(
        "empty API token",
        lambda: QuantConnectClient(123, ""),
        ConfigurationError,
        "API token is required",
        lambda: 0,
    )
    expect(
        "base URL 'ftp://…'",
        lambda: QuantConnectClient(123, "t", base_url="ftp://example.invalid/api/v2"),
        ConfigurationError,
        "must start with http",
        lambda: 0,
    )


# -------------------------------------------------------- answers a retry cannot change: 1 each


def test_unknown_project_id_is_not_found_and_not_retried(qc_emulator) -> None:
    client = client_for(qc_emulator.base_url, qc_emulator.user_id, qc_emulator.api_token)
    expect(
        "id 999999 (well formed, unknown)",
        lambda: client.projects.read(999_999),
        NotFoundError,
        "999999",
        lambda: _one_request(qc_emulator, client),
    )


def _one_request(emulator: EmulatorServer, client: QuantConnectClient) -> int:
    assert len(emulator.requests_log()) == client.metrics.requests == 1
    assert client.metrics.retries == 0
    assert emulator.stats()["store"]["projects_created"] == 0
    return client.metrics.requests


def test_wrong_token_is_an_authentication_error_sent_once(qc_emulator) -> None:
    client = client_for(qc_emulator.base_url, qc_emulator.user_id, "not-the-token")
    expect(
        "wrong token (HTTP 401)",
        lambda: client.projects.create("Never made", "Py"),
        AuthenticationError,
        "Hash doesn't match",
        lambda: _one_request(qc_emulator, client),
    )


def test_wrong_token_answered_with_http_200() -> None:
    with EmulatorServer(seed=5, auth_failure_status=200) as emulator:
        client = client_for(emulator.base_url, emulator.user_id, "not-the-token")
        expect(
            "wrong token (HTTP 200, success false)",
            lambda: client.projects.create("Never made", "Py"),
            AuthenticationError,
            "Hash doesn't match",
            lambda: _one_request(emulator, client),
        )


def test_wrong_user_id(qc_emulator) -> None:
    client = client_for(qc_emulator.base_url, qc_emulator.user_id + 1, qc_emulator.api_token)
    error = expect(
        "wrong user id",
        lambda: client.projects.create("Never made", "Py"),
        AuthenticationError,
        "UserID not valid",
        lambda: _one_request(qc_emulator, client),
    )
    assert str(qc_emulator.user_id + 1) in str(error)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_base_url_is_retried_then_named() -> None:
    # A refused connection may pass (a restarting proxy), so it is retried, and it is safe:
    # the service never saw the request.
    client = client_for(f"http://127.0.0.1:{_free_port()}/api/v2", 123, "token")
    error = expect(
        "unreachable base URL (refused)",
        lambda: client.projects.create("Never made", "Py"),
        ConnectionFailedError,
        "could not connect",
        lambda: client.metrics.requests,
    )
    assert isinstance(error, ConnectionFailedError) and error.request_sent is False
    assert client.metrics.requests == 3


@pytest.mark.parametrize(
    ("label", "status"),
    [("base URL answers an HTML page (200)", 200), ("base URL answers an HTML 404", 404)],
)
def test_base_url_answering_html(label: str, status: int) -> None:
    page = b"<html><head><title>QuantConnect - Home</title></head><body>hi</body></html>"
    response = CannedResponse(status=status, body=page, headers={"Content-Type": "text/html"})
    with canned_server(response) as server:
        client = client_for(server.url, 123, "token")
        error = expect(
            label,
            lambda: client.projects.create("Never made", "Py"),
            UnexpectedResponseError,
            "not JSON|base URL",
            lambda: len(server.requests),
        )
    assert len(server.requests) == client.metrics.requests == 1
    assert "QuantConnect - Home" in str(error) or "HTTP 404" in str(error)


def test_client_clock_hours_off_is_corrected_not_failed(qc_emulator) -> None:
    client = client_for(
        qc_emulator.base_url,
        qc_emulator.user_id,
        qc_emulator.api_token,
        clock=lambda: time.time() - 5 * 3600,
    )
    project = client.projects.create("Clock check", "Py")
    log = qc_emulator.requests_log()
    assert [entry["status"] for entry in log] == [401, 200]
    assert abs(client.clock_offset - 5 * 3600) < 60
    client.projects.purge(project.project_id)
    ROWS.append(
        (
            "client clock 5 h slow",
            "— (corrected)",
            f"rejected once, offset {client.clock_offset:+.0f} s learned from Date, re-signed",
            2,
        )
    )


# --------------------------------------------------------------- through the flow's parameters

BAD_OPTIONS = [
    ("options name_prefix 'bad.prefix'", {"name_prefix": "bad.prefix"}, "name_prefix"),
    ("options name_prefix 'CON/tmp-'", {"name_prefix": "CON/tmp-"}, "reserved device name"),
    ("options name_prefix ' tmp-'", {"name_prefix": " tmp-"}, "must not start or end"),
    ("options name_prefix ''", {"name_prefix": ""}, "name_prefix"),
    ("options name_prefix 'p' (too short)", {"name_prefix": "p"}, "at least 4 characters"),
    ("options name_prefix 'prodtmp' (no separator)", {"name_prefix": "prodtmp"}, "separator"),
    ("options language 'Java'", {"language": "Java"}, "language"),
    ("options task_retries 99", {"retries": {"task_retries": 99}}, "task_retries"),
    ("options typo 'nme_prefix'", {"nme_prefix": "x-"}, "nme_prefix"),
]


@pytest.mark.parametrize(
    ("label", "options", "field"), BAD_OPTIONS, ids=[c[0] for c in BAD_OPTIONS]
)
def test_invalid_lifecycle_options_rejected_by_the_model(label, options, field) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        LifecycleOptions.model_validate(options)
    assert field in str(raised.value)
    first = raised.value.errors()[0]
    where = ".".join(map(str, first["loc"]))
    ROWS.append((label, "pydantic ValidationError", f"{where}: {first['msg']}"[:90], 0))


@pytest.mark.anyio
async def test_invalid_options_fail_the_flow_before_anything_runs(qc_emulator) -> None:
    state = await temporary_project_lifecycle(
        options={"name_prefix": "bad.prefix"},  # type: ignore[arg-type]
        credentials=credentials_for(qc_emulator),
        return_state=True,
    )
    assert state.is_failed()
    assert "Validation of flow parameters failed" in (state.message or "")
    assert qc_emulator.requests_log() == []
    ROWS.append(
        (
            "flow run, options name_prefix 'bad.prefix'",
            f"run {state.name}",
            " ".join((state.message or "").split())[:90],
            0,
        )
    )


@pytest.mark.anyio
async def test_flow_without_credentials(qc_emulator) -> None:
    state = await temporary_project_lifecycle(return_state=True)
    error = await state.result(raise_on_failure=False)  # type: ignore[misc]
    assert isinstance(error, ConfigurationError)
    assert "QC_USER_ID" in str(error)
    record("flow run, no credentials at all", error, 0)
    state = await temporary_project_lifecycle(credentials_block="no-such-block", return_state=True)
    error = await state.result(raise_on_failure=False)  # type: ignore[misc]
    assert isinstance(error, ConfigurationError) and "'no-such-block'" in str(error)
    assert "deployments.setup" in str(error)  # says how to save one, or to use QC_*
    record("flow run, credentials_block 'no-such-block'", error, 0)
    assert qc_emulator.requests_log() == []


def test_every_error_is_a_typed_client_error() -> None:
    # Whatever came out of the matrix above names its cause with its own class.
    names = {row[1] for row in ROWS}
    assert "Exception" not in names and "RuntimeError" not in names
    assert issubclass(ValidationError, QuantConnectError)
