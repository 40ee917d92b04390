"""Faults, latency, rate limit and in-flight counting, seen from a plain client."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import requests

from quantconnect_emulator import EmulatorServer, FaultConfig, FaultKind
from tests.emulator.conftest import wait_held

CONNECTION_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
FAST_KINDS = [
    FaultKind.HTTP_500_EMPTY,
    FaultKind.HTTP_502_HTML,
    FaultKind.HTTP_503_HTML,
    FaultKind.HTTP_429,
]


def _post(server, signer, path, json=None, timeout=5.0):
    """One request on a fresh connection (no session), like a naive client."""
    headers = signer(server.user_id, server.api_token)
    return requests.post(f"{server.base_url}{path}", json=json, headers=headers, timeout=timeout)


def test_http_500_empty(qc_emulator, signer):
    qc_emulator.inject(FaultKind.HTTP_500_EMPTY)
    response = _post(qc_emulator, signer, "/authenticate")
    assert response.status_code == 500
    assert response.content == b""


@pytest.mark.parametrize(
    ("kind", "status"), [(FaultKind.HTTP_502_HTML, 502), (FaultKind.HTTP_503_HTML, 503)]
)
def test_html_gateway_errors(qc_emulator, signer, kind, status):
    qc_emulator.inject(kind.value)  # the string value works too
    response = _post(qc_emulator, signer, "/projects/read")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text and str(status) in response.text
    with pytest.raises(ValueError):
        response.json()


def test_http_429_with_retry_after(qc_emulator, signer):
    qc_emulator.set_faults(retry_after_seconds=3)
    qc_emulator.inject(FaultKind.HTTP_429)
    response = _post(qc_emulator, signer, "/projects/read")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.text


def test_failed_requests_are_not_processed(qc_emulator, signer):
    for kind in FAST_KINDS:
        qc_emulator.inject(kind, path="/projects/create")
        response = _post(qc_emulator, signer, "/projects/create", {"name": "N", "language": "Py"})
        assert response.status_code >= 429
    assert qc_emulator.projects() == []


def test_connection_drop(qc_emulator, signer, caplog):
    qc_emulator.inject(FaultKind.CONNECTION_DROP, path="/projects/create")
    with caplog.at_level(logging.WARNING), pytest.raises(CONNECTION_ERRORS):
        _post(qc_emulator, signer, "/projects/create", {"name": "Dropped", "language": "Py"})
    assert qc_emulator.projects() == []  # not processed
    assert not [r for r in caplog.records if "without completing" in r.getMessage()]
    [entry] = qc_emulator.requests_log()
    assert (entry["fault"], entry["status"]) == ("connection_drop", None)
    # The server is fine afterwards, also on a kept-alive session.
    assert _post(qc_emulator, signer, "/authenticate").json()["success"] is True


def test_connection_drop_on_a_session(qc_emulator, api):
    api.ok("/authenticate")
    qc_emulator.inject(FaultKind.CONNECTION_DROP)
    with pytest.raises(CONNECTION_ERRORS):
        api.call("/projects/read")
    api.ok("/projects/read")


def test_ambiguous_write_applies_the_change(qc_emulator, signer):
    qc_emulator.inject(FaultKind.AMBIGUOUS_WRITE, path="/projects/create")
    with pytest.raises(CONNECTION_ERRORS):
        _post(qc_emulator, signer, "/projects/create", {"name": "Ghost", "language": "Py"})
    assert [p["name"] for p in qc_emulator.projects()] == ["Ghost"]
    assert qc_emulator.stats()["faults_injected"]["ambiguous_write"] == 1


def test_ambiguous_write_on_a_read_is_a_drop(qc_emulator, signer):
    qc_emulator.inject(FaultKind.AMBIGUOUS_WRITE)
    with pytest.raises(CONNECTION_ERRORS):
        _post(qc_emulator, signer, "/projects/read")


def test_slow_response_times_out_but_is_applied(qc_emulator, signer):
    qc_emulator.set_faults(slow_response_seconds=1.5)
    qc_emulator.inject(FaultKind.SLOW_RESPONSE, path="/projects/create")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        _post(qc_emulator, signer, "/projects/create", {"name": "Slow", "language": "Py"}, 0.5)
    assert time.monotonic() - started < 1.2
    assert [p["name"] for p in qc_emulator.projects()] == ["Slow"]
    # The client hung up: the request soon stops counting as in flight.
    deadline = time.monotonic() + 1.0
    while qc_emulator.stats()["in_flight"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert qc_emulator.stats()["in_flight"] == 0


def test_slow_response_answers_a_patient_client(qc_emulator, signer):
    qc_emulator.set_faults(slow_response_seconds=0.4)
    qc_emulator.inject(FaultKind.SLOW_RESPONSE)
    started = time.monotonic()
    response = _post(qc_emulator, signer, "/authenticate", timeout=5)
    assert time.monotonic() - started >= 0.38
    assert response.json() == {"success": True}


def test_released_slow_responses_answer_at_once_and_later_ones_are_held_again(
    qc_emulator, signer
):
    hold = 60.0
    qc_emulator.set_faults(slow_response_seconds=hold)
    qc_emulator.inject(FaultKind.SLOW_RESPONSE, path="/projects/create", count=3)
    answers: list[requests.Response] = []

    def create(name: str) -> None:
        answers.append(_post(qc_emulator, signer, "/projects/create",
                             {"name": name, "language": "Py"}, timeout=hold / 2))

    try:
        first = [threading.Thread(target=create, args=(f"Held {i}",)) for i in range(2)]
        for thread in first:
            thread.start()
        wait_held(qc_emulator, 2)
        assert answers == [] and len(qc_emulator.projects()) == 2  # applied, answers held
        released_at = time.monotonic()
        assert qc_emulator.release_held() == 2
        for thread in first:
            thread.join(timeout=10)
        assert time.monotonic() - released_at < hold / 10
        assert [a.status_code for a in answers] == [200, 200]
        assert all(a.json()["success"] for a in answers)
        # A release is not a switch: the third injected hold, sent after it, is held again.
        later = threading.Thread(target=create, args=("Later",))
        later.start()
        wait_held(qc_emulator, 1)
        time.sleep(0.5)
        assert len(answers) == 2 and later.is_alive()
        assert qc_emulator.release_held() == 1
        later.join(timeout=10)
        assert len(answers) == 3 and answers[-1].status_code == 200
    finally:
        qc_emulator.release_held()


def test_latency_is_not_cut_short_by_a_release(qc_emulator, signer):
    qc_emulator.set_faults(latency_ms=1500)
    answered: list[float] = []
    started = time.monotonic()

    def authenticate() -> None:
        _post(qc_emulator, signer, "/authenticate", timeout=10)
        answered.append(time.monotonic() - started)

    thread = threading.Thread(target=authenticate)
    thread.start()
    deadline = time.monotonic() + 1.0
    while qc_emulator.emulator.faults.snapshot()["in_flight"] < 1:  # in its latency wait
        assert time.monotonic() < deadline, "the request never reached the emulator"
        time.sleep(0.01)
    assert qc_emulator.release_held() == 0  # latency holds no answer
    time.sleep(0.2)
    assert thread.is_alive() and answered == []  # not answered at the release
    thread.join(timeout=10)
    assert answered and answered[0] >= 1.4


def test_a_reset_answers_the_held_ones(qc_emulator, signer):
    qc_emulator.set_faults(slow_response_seconds=60)
    qc_emulator.inject(FaultKind.SLOW_RESPONSE, path="/authenticate")
    answers: list[int] = []
    held = threading.Thread(target=lambda: answers.append(
        _post(qc_emulator, signer, "/authenticate", timeout=30).status_code))
    held.start()
    try:
        wait_held(qc_emulator, 1)
        qc_emulator.reset()
        held.join(timeout=10)
        assert answers == [200] and qc_emulator.emulator.faults.holding == 0
    finally:
        qc_emulator.release_held()


def test_injection_respects_path_and_count(qc_emulator, signer):
    qc_emulator.inject(FaultKind.HTTP_500_EMPTY, path="/api/v2/projects/create", count=2)
    assert _post(qc_emulator, signer, "/projects/read").status_code == 200
    body = {"name": "N", "language": "Py"}
    assert _post(qc_emulator, signer, "/projects/create", body).status_code == 500
    assert _post(qc_emulator, signer, "/projects/create", body).status_code == 500
    assert _post(qc_emulator, signer, "/projects/create", body).json()["success"] is True
    stats = qc_emulator.stats()
    assert stats["faults_injected"]["http_500_empty"] == 2
    assert stats["pending_injections"] == []


def test_injections_are_consumed_in_order(qc_emulator, signer):
    qc_emulator.inject(FaultKind.HTTP_502_HTML)
    qc_emulator.inject(FaultKind.HTTP_503_HTML)
    codes = [_post(qc_emulator, signer, "/authenticate").status_code for _ in range(3)]
    assert codes == [502, 503, 200]


def test_faults_never_touch_control_endpoints(qc_emulator):
    qc_emulator.set_faults(fault_rate=1.0, fault_kinds=["http_500_empty"], latency_ms=300)
    qc_emulator.inject(FaultKind.CONNECTION_DROP)
    started = time.monotonic()
    assert requests.get(f"{qc_emulator.control_url}/health", timeout=5).status_code == 200
    assert requests.get(f"{qc_emulator.control_url}/stats", timeout=5).status_code == 200
    assert time.monotonic() - started < 0.25
    assert qc_emulator.stats()["requests_total"] == 0


def test_fault_paths_limit_random_faults(qc_emulator, signer):
    qc_emulator.set_faults(fault_rate=1.0, fault_kinds=FAST_KINDS, paths=["/projects/create"])
    for _ in range(5):
        assert _post(qc_emulator, signer, "/authenticate").status_code == 200
    body = {"name": "N", "language": "Py"}
    assert _post(qc_emulator, signer, "/projects/create", body).status_code >= 429


def _fault_sequence(server, signer, n=30):
    for _ in range(n):
        _post(server, signer, "/authenticate")
    return [entry["fault"] for entry in server.requests_log()]


def test_random_faults_are_reproducible_with_a_seed(qc_emulator, signer):
    faults = FaultConfig(fault_rate=0.5, fault_kinds=FAST_KINDS)
    qc_emulator.set_faults(faults)
    first = _fault_sequence(qc_emulator, signer)
    assert 5 < sum(kind is not None for kind in first) < 25
    assert len({kind for kind in first if kind}) > 1
    qc_emulator.reset()
    assert _fault_sequence(qc_emulator, signer) == first
    with EmulatorServer(seed=qc_emulator.config.seed, faults=faults) as twin:
        assert _fault_sequence(twin, signer) == first
    with EmulatorServer(seed=1, faults=faults) as other:
        assert _fault_sequence(other, signer) != first


def test_fault_rate_statistics(qc_emulator, signer):
    qc_emulator.set_faults(fault_rate=0.25, fault_kinds=[FaultKind.HTTP_500_EMPTY])
    codes = [_post(qc_emulator, signer, "/authenticate").status_code for _ in range(80)]
    failures = codes.count(500)
    assert 8 <= failures <= 35
    assert qc_emulator.stats()["faults_injected"]["http_500_empty"] == failures


def test_rate_limit_answers_429(qc_emulator, api):
    qc_emulator.set_faults(rate_limit_per_second=5)
    codes = [api.call("/authenticate").status_code for _ in range(12)]
    assert codes[:5] == [200] * 5  # the burst
    assert 429 in codes
    response = api.call("/authenticate")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["success"] is False
    assert qc_emulator.stats()["rate_limited"] >= 1
    time.sleep(0.45)  # two tokens come back
    assert api.call("/authenticate").status_code == 200
    qc_emulator.set_faults(None)
    assert all(api.call("/authenticate").status_code == 200 for _ in range(10))


def test_latency_is_applied(qc_emulator, api):
    api.ok("/authenticate")
    qc_emulator.set_faults(latency_ms=150, latency_jitter_ms=50)
    started = time.monotonic()
    api.ok("/authenticate")
    assert 0.15 <= time.monotonic() - started < 0.6


def test_peak_in_flight_with_concurrent_requests(qc_emulator, signer):
    qc_emulator.set_faults(latency_ms=200)
    barrier = threading.Barrier(8)
    results: list[int] = []

    def worker():
        barrier.wait()
        results.append(_post(qc_emulator, signer, "/authenticate").status_code)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert results == [200] * 8
    assert elapsed < 0.8, "requests were not served concurrently"
    stats = qc_emulator.stats()
    assert stats["peak_in_flight"] == 8
    assert stats["in_flight"] == 0


def test_sequential_requests_peak_at_one(qc_emulator, api):
    qc_emulator.set_faults(latency_ms=20)
    for _ in range(5):
        api.ok("/authenticate")
    assert qc_emulator.stats()["peak_in_flight"] == 1
