"""Every refusal the emulator can answer, against the contract's error envelopes.

- business errors: HTTP 200, ``{"success": false, "errors": [non-empty text]}`` (contract §3);
- a refused signature: HTTP 401 with ``WWW-Authenticate`` (or, in the other mode the service is
  seen in, HTTP 200) and the same body (contract §2);
- transport failures: HTTP 500 with an empty body, 502/503 with an HTML page, 429 with a
  ``Retry-After`` in seconds (contract §3).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from quantconnect_emulator.server import EmulatorServer
from tests.conformance.conftest import END, LONG, START, World
from tests.conformance.contract import Failure
from tests.emulator.conftest import Api, sign


class Scene:
    """A project with a settled backtest: what the refusals below aim at."""

    def __init__(self, world: World) -> None:
        self.pid, self.compile_id = world.ready()
        self.backtest_id = world.backtest(self.pid, self.compile_id)
        world.advance(LONG + 60)


def _bt(s: Scene, **extra: Any) -> dict[str, Any]:
    return {"projectId": s.pid, "backtestId": s.backtest_id, **extra}


def _chart(s: Scene, **extra: Any) -> dict[str, Any]:
    defaults = {"name": "Strategy Equity", "count": 100, "start": START, "end": END}
    return _bt(s, **{**defaults, **extra})


#: id -> (path, body built from the scene). Unknown ids follow the contract's probes: project
#: ``-1``, backtest ``" "`` (backtests §3).
REFUSALS: dict[str, tuple[str, Callable[[Scene], dict[str, Any]]]] = {
    "projects/create bad name": ("/projects/create", lambda s: {"name": "a.b", "language": "Py"}),
    "projects/create bad language": ("/projects/create", lambda s: {"name": "x", "language": "Go"}),
    "projects/create missing name": ("/projects/create", lambda s: {"language": "Py"}),
    "projects/read unknown": ("/projects/read", lambda s: {"projectId": -1}),
    "projects/read start >= end": ("/projects/read", lambda s: {"start": 2, "end": 1}),
    "projects/update unknown": ("/projects/update", lambda s: {"projectId": -1, "name": "x"}),
    "projects/update bad name": ("/projects/update", lambda s: {"projectId": s.pid, "name": "a.b"}),
    "projects/delete unknown": ("/projects/delete", lambda s: {"projectId": -1}),
    "files/create unknown project": (
        "/files/create",
        lambda s: {"projectId": -1, "name": "a.py", "content": "a = 1"},
    ),
    "files/create existing": (
        "/files/create",
        lambda s: {"projectId": s.pid, "name": "main.py", "content": "a = 1"},
    ),
    "files/create empty content": (
        "/files/create",
        lambda s: {"projectId": s.pid, "name": "new.py", "content": ""},
    ),
    "files/read unknown project": ("/files/read", lambda s: {"projectId": -1}),
    "files/read missing file": ("/files/read", lambda s: {"projectId": s.pid, "name": "nope.py"}),
    "files/update empty content": (
        "/files/update",
        lambda s: {"projectId": s.pid, "name": "main.py", "content": ""},
    ),
    "files/update missing file": (
        "/files/update",
        lambda s: {"projectId": s.pid, "name": "nope.py", "content": "a = 1"},
    ),
    "files/update rename missing": (
        "/files/update",
        lambda s: {"projectId": s.pid, "name": "nope.py", "newName": "b.py"},
    ),
    "files/delete missing file": (
        "/files/delete",
        lambda s: {"projectId": s.pid, "name": "nope.py"},
    ),
    "compile/create unknown project": ("/compile/create", lambda s: {"projectId": -1}),
    "compile/read unknown compile": (
        "/compile/read",
        lambda s: {"projectId": s.pid, "compileId": "0" * 32 + "-" + "0" * 32},
    ),
    "backtests/create unknown project": (
        "/backtests/create",
        lambda s: {"projectId": -1, "compileId": s.compile_id, "backtestName": "x"},
    ),
    "backtests/create unknown compile": (
        "/backtests/create",
        lambda s: {"projectId": s.pid, "compileId": "1" * 32 + "-" + "1" * 32, "backtestName": "x"},
    ),
    "backtests/create nested parameter": (
        "/backtests/create",
        lambda s: {
            "projectId": s.pid,
            "compileId": s.compile_id,
            "backtestName": "x",
            "parameters": {"nested": {"a": 1}},
        },
    ),
    "backtests/read unknown project": ("/backtests/read", lambda s: _bt(s, projectId=-1)),
    "backtests/read unknown backtest": ("/backtests/read", lambda s: _bt(s, backtestId=" ")),
    "backtests/list unknown project": ("/backtests/list", lambda s: {"projectId": -1}),
    "backtests/update unknown backtest": (
        "/backtests/update",
        lambda s: _bt(s, backtestId=" ", name="x"),
    ),
    "backtests/delete unknown backtest": ("/backtests/delete", lambda s: _bt(s, backtestId=" ")),
    "backtests/chart/read unknown chart": ("/backtests/chart/read", lambda s: _chart(s, name=" ")),
    "backtests/chart/read start > end": (
        "/backtests/chart/read",
        lambda s: _chart(s, start=END, end=START),
    ),
    "backtests/chart/read unknown backtest": (
        "/backtests/chart/read",
        lambda s: _chart(s, backtestId=" "),
    ),
    "backtests/orders/read page of 200": (
        "/backtests/orders/read",
        lambda s: _bt(s, start=0, end=200),
    ),
    "backtests/orders/read unknown backtest": (
        "/backtests/orders/read",
        lambda s: _bt(s, backtestId=" ", start=0, end=100),
    ),
    "projects/nodes/read unknown project": ("/projects/nodes/read", lambda s: {"projectId": -1}),
    "projects/nodes/update unknown node": (
        "/projects/nodes/update",
        lambda s: {"projectId": s.pid, "nodes": ["no-such-node"]},
    ),
    "account/read unknown organization": ("/account/read", lambda s: {"organizationId": "f" * 32}),
    "organizations/read unknown organization": (
        "/organizations/read",
        lambda s: {"organizationId": "f" * 32},
    ),
    "nodes/read unknown organization": ("/nodes/read", lambda s: {"organizationId": "f" * 32}),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_business_error(world, case):
    scene = Scene(world)
    path, build = REFUSALS[case]
    world.expect(world.call(path, build(scene)), Failure)


def test_backtests_create_on_a_failed_build(world):
    pid = world.project()
    world.ok("/files/update", {"projectId": pid, "name": "main.py", "content": "junk junk }\n"})
    compile_id = world.ok("/compile/create", {"projectId": pid})["compileId"]
    world.advance(60)
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "x"}
    world.expect(world.call("/backtests/create", body), Failure)


@pytest.mark.parametrize("finished", [False, True], ids=["in-queue", "not-yet-visible"])
def test_backtests_create_with_a_compile_not_found_yet(world, finished):
    """``Compile id not found``: an unfinished compile, or just after ``BuildSuccess``."""
    world.jobs(compile_seconds=1_000 if not finished else 0, compile_not_found_seconds=1_000)
    pid = world.project()
    compile_id = world.ok("/compile/create", {"projectId": pid})["compileId"]
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "x"}
    world.expect(world.call("/backtests/create", body), Failure)


def test_no_free_node_refusal_in_reject_mode(world):
    world.jobs(backtest_nodes=1, node_mode="reject")
    pid, compile_id = world.ready()
    world.backtest(pid, compile_id, "holds the node")
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "refused"}
    world.expect(world.call("/backtests/create", body), Failure)


def _bad_headers(server: Any, how: str) -> dict[str, str]:
    if how == "missing":
        return {}
    if how == "wrong-token":
        return sign(server.user_id, "not-the-token")
    if how == "unknown-user":
        return sign(server.user_id + 1, server.api_token)
    if how == "stale-timestamp":
        return sign(server.user_id, server.api_token, ts=1_000_000_000)
    assert how == "not-basic"
    return {"Authorization": "Bearer " + base64.b64encode(b"x").decode(), "Timestamp": "1"}


AUTH_FAILURES = ["missing", "wrong-token", "unknown-user", "stale-timestamp", "not-basic"]


@pytest.mark.parametrize("path", ["/authenticate", "/projects/read"])
@pytest.mark.parametrize("how", AUTH_FAILURES)
def test_refused_signature_http_401(world, how, path):
    response = world.call(path, {}, headers=_bad_headers(world.server, how))
    world.expect(response, Failure, status=401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Basic")


def test_refused_signature_http_200_mode():
    with EmulatorServer(auth_failure_status=200) as server:
        caller = Api(server)
        try:
            response = caller.call("/projects/read", {}, headers=sign(server.user_id, "wrong"))
            World(server).expect(response, Failure, status=200)
        finally:
            caller.close()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("POST", "/no/such/endpoint", 404), ("PUT", "/projects/read", 405)],
    ids=["unknown-path", "wrong-method"],
)
def test_transport_refusals_keep_the_envelope(world, method, path, status):
    world.expect(world.call(path, {}, method=method), Failure, status=status)


def test_too_large_body_is_http_413():
    with EmulatorServer(max_request_bytes=1_000) as server:
        caller = Api(server)
        try:
            response = caller.call("/files/read", {"projectId": 1, "pad": "x" * 2_000})
            assert response.status_code == 413, response.text
        finally:
            caller.close()


@pytest.mark.parametrize("kind", ["http_500_empty", "http_502_html", "http_503_html", "http_429"])
def test_injected_transport_fault_shapes(world, kind):
    world.server.inject(kind, "/projects/read", 1)
    response = world.call("/projects/read", {})
    status = {"http_500_empty": 500, "http_502_html": 502, "http_503_html": 503, "http_429": 429}
    assert response.status_code == status[kind], response.text[:200]
    if kind == "http_500_empty":
        assert response.content == b""
    elif kind == "http_429":
        assert response.headers.get("Retry-After", "").isdigit()
    else:
        assert response.headers.get("content-type", "").startswith("text/html")
