"""The job model (states on the emulator's clock) and its control endpoints."""

from __future__ import annotations

import pytest
import requests

from quantconnect_emulator.account import ManualClock
from quantconnect_emulator.jobs import JobBoard, NoFreeSlotError, Stage

SCHEDULE = [Stage("running", 10), Stage("completed", 2, holds_slot=False), Stage("settled", 0)]


def _board(slots: int | None = 2, reject: bool = False) -> tuple[ManualClock, JobBoard]:
    clock = ManualClock(1000.0)
    return clock, JobBoard(clock, slots=slots, reject_when_busy=reject)


def test_states_follow_the_clock():
    clock, board = _board(slots=None)
    board.submit("a", SCHEDULE)
    assert (board.state("a"), board.progress("a")) == ("running", 0.0)
    clock.advance(5)
    assert (board.state("a"), board.progress("a")) == ("running", 0.5)
    clock.advance(5)
    assert (board.state("a"), board.progress("a")) == ("completed", 1.0)
    clock.advance(2)
    assert board.state("a") == "settled"


def test_advance_and_finish_on_demand():
    clock, board = _board(slots=None)
    board.submit("a", SCHEDULE)
    board.advance("a")
    assert board.state("a") == "completed"
    board.advance("a")
    assert board.state("a") == "settled"
    board.submit("b", SCHEDULE)
    board.finish("b")
    assert board.state("b") == "settled" and clock.time() == 1000.0


def test_slots_queue_jobs_and_start_them_when_one_frees():
    clock, board = _board(slots=2)
    for name in "abcde":
        board.submit(name, SCHEDULE, waiting="queued")
    assert [board.state(n) for n in "abcde"] == ["running"] * 2 + ["queued"] * 3
    clock.advance(10)  # a and b release at t=10: c and d start then, e waits
    assert [board.state(n) for n in "abcde"] == ["completed"] * 2 + ["running"] * 2 + ["queued"]
    assert board.jobs["c"].started_at == 1010.0
    clock.advance(25)  # c, d release at 20; e runs 20..30
    assert board.state("e") == "settled"
    assert board.jobs["e"].started_at == 1020.0
    assert board.peak_holding == 2


def test_a_big_clock_jump_still_runs_the_queue_in_order():
    clock, board = _board(slots=1)
    for name in "abc":
        board.submit(name, SCHEDULE)
    clock.advance(1000)
    assert [board.get(n).started_at for n in "abc"] == [1000.0, 1010.0, 1020.0]  # type: ignore[union-attr]
    assert board.peak_holding == 1


def test_stop_frees_the_slot_at_once():
    clock, board = _board(slots=1)
    board.submit("a", SCHEDULE)
    board.submit("b", SCHEDULE)
    clock.advance(3)
    board.stop("a", "deleted")
    assert board.state("a") == "deleted"
    assert board.state("b") == "running" and board.jobs["b"].started_at == 1003.0


def test_advancing_a_job_frees_its_slot_now_not_in_the_past():
    clock, board = _board(slots=1)
    board.submit("a", SCHEDULE)
    board.submit("b", SCHEDULE)
    clock.advance(4)
    board.advance("a")
    assert board.jobs["b"].started_at == 1004.0
    board.advance("b")  # a waiting job is never started beyond the slots
    assert board.holding() <= 1


def test_reject_mode_refuses_when_busy():
    clock, board = _board(slots=1, reject=True)
    board.submit("a", SCHEDULE)
    with pytest.raises(NoFreeSlotError):
        board.submit("b", SCHEDULE)
    clock.advance(10)
    board.submit("b", SCHEDULE)
    assert board.state("b") == "running"


def test_adding_slots_starts_waiting_jobs():
    _clock, board = _board(slots=1)
    board.submit("a", SCHEDULE)
    board.submit("b", SCHEDULE)
    board.configure(slots=2, reject_when_busy=False)
    assert board.state("b") == "running"


def test_clock_control_endpoints(qc_emulator):
    before = requests.get(f"{qc_emulator.control_url}/clock", timeout=5).json()["time"]
    moved = requests.post(
        f"{qc_emulator.control_url}/clock/advance", json={"seconds": 3600}, timeout=5
    ).json()["time"]
    assert moved - before >= 3600
    assert qc_emulator.advance(60) >= moved + 60
    refused = requests.post(
        f"{qc_emulator.control_url}/clock/advance", json={"seconds": -1}, timeout=5
    )
    assert refused.status_code == 422


def test_jobs_settings_endpoints(qc_emulator):
    url = f"{qc_emulator.control_url}/jobs"
    answer = requests.put(url, json={"backtest_nodes": 4, "node_mode": "reject"}, timeout=5)
    assert answer.status_code == 200 and answer.json()["backtest_nodes"] == 4
    current = requests.get(url, timeout=5).json()
    assert current["config"]["node_mode"] == "reject" and current["jobs"] == []
    assert requests.put(url, json={"backtest_nodes": 0}, timeout=5).status_code == 422
    assert requests.post(f"{url}/nope/finish", timeout=5).status_code == 404
    assert qc_emulator.set_jobs(compile_seconds=0.5).backtest_nodes == 4
    qc_emulator.set_jobs(qc_emulator.config.jobs)
