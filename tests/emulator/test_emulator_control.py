"""Control endpoints, request log, server lifecycle and the qc-emulator command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests

from quantconnect_emulator import EmulatorServer, FaultConfig, FaultKind
from tests.emulator.conftest import wait_held

LOG_KEYS = {
    "seq", "monotonic", "wall_time", "method", "path", "timestamp", "status", "fault",
    "project_id", "name", "duration_ms",
}  # fmt: skip


def test_health(qc_emulator):
    response = requests.get(f"{qc_emulator.control_url}/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_state_lists_projects_with_files_and_recycle_bin(api, qc_emulator):
    kept = api.create_project("Kept")
    gone = api.create_project("Gone", "C#")
    api.ok("/projects/delete", {"projectId": gone["projectId"]})
    state = requests.get(f"{qc_emulator.control_url}/state", timeout=5).json()
    assert state["organizationId"] == qc_emulator.organization_id
    by_id = {p["projectId"]: p for p in state["projects"]}
    assert by_id[kept["projectId"]]["inRecycleBin"] is False
    assert by_id[gone["projectId"]]["inRecycleBin"] is True
    assert by_id[gone["projectId"]]["name"] == "Recycle Bin/Gone"
    assert [f["name"] for f in by_id[gone["projectId"]]["files"]] == ["Main.cs", "Research.ipynb"]
    live = requests.get(
        f"{qc_emulator.control_url}/state", params={"include_deleted": "false"}, timeout=5
    ).json()
    assert [p["name"] for p in live["projects"]] == ["Kept"]
    assert [p["name"] for p in qc_emulator.projects(include_deleted=False)] == ["Kept"]


def test_stats(api, qc_emulator):
    api.create_project()
    api.ok("/projects/read")
    api.ok("/projects/read")
    stats = requests.get(f"{qc_emulator.control_url}/stats", timeout=5).json()
    assert stats["requests_total"] == 3
    assert stats["requests_by_path"] == {"/projects/create": 1, "/projects/read": 2}
    assert stats["store"]["projects_created"] == 1
    assert stats["store"]["files_total"] == 2
    assert set(stats["faults_injected"]) == {kind.value for kind in FaultKind}
    assert stats == qc_emulator.stats()


def test_request_log_fields_and_no_credentials(api, qc_emulator):
    headers = api.headers()
    project = api.create_project("Logged")
    api.call("/projects/read", {"projectId": project["projectId"]}, headers=headers)
    api.call("/files/read", data={"projectId": str(project["projectId"]), "name": "main.py"})
    api.call("/authenticate", headers=api.headers(token="wrong"))
    entries = requests.get(f"{qc_emulator.control_url}/requests", timeout=5).json()["requests"]
    assert entries == qc_emulator.requests_log()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    for entry in entries:
        assert set(entry) == LOG_KEYS
        assert entry["method"] == "POST"
    create, read, files, auth = entries
    assert (create["path"], create["name"], create["status"]) == ("/projects/create", "Logged", 200)
    assert read["project_id"] == project["projectId"]
    assert read["timestamp"] == headers["Timestamp"]
    assert (files["project_id"], files["name"]) == (project["projectId"], "main.py")
    assert auth["status"] == 401
    text = json.dumps(entries).lower()
    assert qc_emulator.api_token.lower() not in text
    assert "authorization" not in text
    assert headers["Authorization"].split()[1].lower() not in text
    limited = requests.get(f"{qc_emulator.control_url}/requests?limit=1", timeout=5).json()
    assert limited["requests"] == entries[-1:]


def test_request_log_is_bounded(make_api):
    with EmulatorServer(request_log_size=3) as server:
        caller = make_api(server)
        try:
            for _ in range(5):
                caller.ok("/authenticate")
            assert [e["seq"] for e in server.requests_log()] == [3, 4, 5]
        finally:
            caller.close()


def test_reset_endpoint_keeps_fault_config(api, qc_emulator):
    api.create_project()
    qc_emulator.set_faults(latency_ms=1)
    qc_emulator.inject(FaultKind.HTTP_500_EMPTY, path="/files/read")
    response = requests.post(f"{qc_emulator.control_url}/reset", timeout=5)
    assert response.status_code == 200
    assert qc_emulator.projects() == []
    assert qc_emulator.requests_log() == []
    stats = qc_emulator.stats()
    assert stats["requests_total"] == 0 and stats["pending_injections"] == []
    assert stats["store"]["projects_created"] == 0
    assert qc_emulator.emulator.faults.config.latency_ms == 1


def test_get_and_put_faults(qc_emulator):
    url = f"{qc_emulator.control_url}/faults"
    assert requests.get(url, timeout=5).json() == FaultConfig().model_dump(mode="json")
    wanted = {"fault_rate": 0.5, "fault_kinds": ["http_429"], "paths": ["projects/read"]}
    response = requests.put(url, json=wanted, timeout=5)
    assert response.status_code == 200
    current = requests.get(url, timeout=5).json()
    assert current["fault_rate"] == 0.5 and current["fault_kinds"] == ["http_429"]
    assert current["paths"] == ["/projects/read"]
    assert current["latency_ms"] == 0  # PUT replaces the whole configuration
    assert requests.put(url, json={"fault_rate": 2}, timeout=5).status_code == 422
    assert requests.put(url, json={"fault_kinds": ["boom"]}, timeout=5).status_code == 422
    assert requests.put(url, json={"typo_field": 1}, timeout=5).status_code == 422


def test_inject_endpoint(api, qc_emulator):
    url = f"{qc_emulator.control_url}/inject"
    response = requests.post(
        url, json={"kind": "http_503_html", "path": "/projects/read", "count": 2}, timeout=5
    )
    assert response.status_code == 200
    assert response.json()["pending"] == [
        {"kind": "http_503_html", "path": "/projects/read", "count": 2}
    ]
    assert api.call("/authenticate").status_code == 200
    assert api.call("/projects/read").status_code == 503
    assert api.call("/projects/read").status_code == 503
    assert api.call("/projects/read").status_code == 200
    assert requests.post(url, json={"kind": "nope"}, timeout=5).status_code == 422
    assert requests.post(url, json={"kind": "http_429", "count": 0}, timeout=5).status_code == 422


def test_release_endpoint_answers_held_requests(api, qc_emulator):
    requests.put(f"{qc_emulator.control_url}/faults", json={"slow_response_seconds": 60},
                 timeout=5)
    qc_emulator.inject("slow_response", path="/projects/read")
    answer: list[int] = []
    held = threading.Thread(target=lambda: answer.append(api.call("/projects/read").status_code))
    held.start()
    try:
        wait_held(qc_emulator, 1)
        response = requests.post(f"{qc_emulator.control_url}/faults/release", timeout=5)
        held.join(timeout=10)
        assert response.status_code == 200 and response.json() == {"released": 1}
        assert answer == [200]
    finally:
        qc_emulator.release_held()


def test_control_docs_are_served(qc_emulator):
    assert requests.get(f"{qc_emulator.control_url}/openapi.json", timeout=5).status_code == 200


def test_many_servers_in_one_process(signer):
    started = time.monotonic()
    servers = [EmulatorServer(seed=i).start() for i in range(3)]
    try:
        assert time.monotonic() - started < 3.0
        assert len({server.port for server in servers}) == 3
        for index, server in enumerate(servers):
            headers = signer(server.user_id, server.api_token)
            requests.post(
                f"{server.base_url}/projects/create",
                json={"name": f"Only on {index}", "language": "Py"},
                headers=headers,
                timeout=5,
            )
        assert [[p["name"] for p in s.projects()] for s in servers] == [
            ["Only on 0"],
            ["Only on 1"],
            ["Only on 2"],
        ]
    finally:
        for server in servers:
            server.stop()
    assert not any(server.running for server in servers)


def test_start_is_fast_and_stop_is_clean(signer):
    started = time.monotonic()
    server = EmulatorServer()
    with server:
        assert time.monotonic() - started < 1.0
        assert server.base_url == f"http://127.0.0.1:{server.port}/api/v2"
        assert server.root_url == f"http://127.0.0.1:{server.port}"
        assert server.control_url == f"http://127.0.0.1:{server.port}/_emulator"
        # A client waiting on a stalled answer does not hold up stop().
        server.set_faults(slow_response_seconds=30)
        server.inject(FaultKind.SLOW_RESPONSE)
        outcome: list[object] = []

        def patient_client() -> None:
            try:
                outcome.append(
                    requests.post(
                        f"{server.base_url}/authenticate",
                        headers=signer(server.user_id, server.api_token),
                        timeout=10,
                    ).status_code
                )
            except requests.exceptions.RequestException as exc:
                outcome.append(exc)

        waiter = threading.Thread(target=patient_client)
        waiter.start()
        deadline = time.monotonic() + 5
        while server.stats()["in_flight"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 3.0
    assert not server.running
    waiter.join(5)
    assert outcome == [200]  # released with its answer when the server stopped
    try:
        requests.get(f"{server.root_url}/_emulator/health", timeout=1)
        raise AssertionError("server still answers after stop()")
    except requests.exceptions.ConnectionError:
        pass


def _run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "quantconnect_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl+C"):
            break
    return process, "".join(lines)


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_cli_serves_and_stops_on_sigterm(signer):
    process, banner = _run_cli("--user-id", "777", "--seed", "3", "--auth-failure-status", "200")
    try:
        first = banner.splitlines()[0]
        assert first.startswith("QuantConnect API emulator listening on http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[1]
        assert base_url.endswith("/api/v2")
        assert "user id:   777" in banner
        assert "api token: emulator-token" in banner
        response = requests.post(
            f"{base_url}/authenticate", headers=signer(777, "emulator-token"), timeout=5
        )
        assert response.json() == {"success": True}
        response = requests.post(
            f"{base_url}/authenticate", headers=signer(777, "wrong"), timeout=5
        )
        assert response.status_code == 200 and response.json()["success"] is False
    finally:
        assert _stop(process) == 0


def test_cli_never_prints_a_user_supplied_token(signer):
    process, banner = _run_cli(env={"QC_EMULATOR_API_TOKEN": "very-private-token"})
    try:
        assert "very-private-token" not in banner
        base_url = banner.splitlines()[0].rsplit(" ", 1)[1]
        headers = signer(123456, "very-private-token")
        response = requests.post(f"{base_url}/authenticate", headers=headers, timeout=5)
        assert response.json()["success"] is True
    finally:
        _stop(process)
    assert process.stderr is not None
    assert "very-private-token" not in process.stderr.read()


def test_cli_rejects_unknown_fault_kind():
    result = subprocess.run(
        [sys.executable, "-m", "quantconnect_emulator", "--faults", "http_500_empty,nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    # The input itself is hidden (settings errors never echo a value); the field and choices show.
    assert "fault_kinds" in result.stderr and "http_500_empty" in result.stderr


def test_server_can_be_restarted_and_keeps_its_state(make_api):
    server = EmulatorServer(seed=9)
    with server:
        caller = make_api(server)
        caller.create_project("Survivor")
        caller.close()
    with server:
        caller = make_api(server)
        try:
            assert [p["name"] for p in caller.ok("/projects/read")["projects"]] == ["Survivor"]
        finally:
            caller.close()
