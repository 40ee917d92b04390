"""The emulator's bulk seeding control, which the benchmark's large accounts rely on."""

from __future__ import annotations

import requests

from quantconnect_client import QuantConnectClient
from quantconnect_emulator import EmulatorServer


def _client(emulator: EmulatorServer) -> QuantConnectClient:
    return QuantConnectClient(emulator.user_id, emulator.api_token, base_url=emulator.base_url)


def test_seeded_projects_are_ordinary_projects_and_bypass_the_request_log(
    qc_emulator: EmulatorServer,
) -> None:
    answer = requests.post(
        f"{qc_emulator.control_url}/projects/seed",
        json={"names": ["Strategies/Alpha 1", "Strategies/Alpha 2"], "language": "Py"},
        timeout=10,
    )
    assert answer.status_code == 200
    ids = answer.json()["projectIds"]
    assert len(set(ids)) == 2
    assert qc_emulator.requests_log() == []  # not API requests: no latency, no log

    more = qc_emulator.seed_projects(["Strategies/Alpha 3"], language="C#")
    with _client(qc_emulator) as client:
        listed = {p.project_id: p for p in client.projects.list()}
        files = {f.name for f in client.files.list(ids[0])}
    assert set(listed) == {*ids, *more}
    assert listed[more[0]].name == "Strategies/Alpha 3"
    assert listed[more[0]].language == "C#"
    assert "main.py" in files  # the default files too
    assert qc_emulator.stats()["store"]["projects_created"] == 3


def test_seeding_refuses_a_name_the_service_would_refuse_and_creates_none(
    qc_emulator: EmulatorServer,
) -> None:
    answer = requests.post(
        f"{qc_emulator.control_url}/projects/seed",
        json={"names": ["fine", ""]}, timeout=10,
    )
    assert answer.status_code == 422
    answer = requests.post(
        f"{qc_emulator.control_url}/projects/seed", json={"names": []}, timeout=10
    )
    assert answer.status_code == 422
    assert qc_emulator.projects() == []
