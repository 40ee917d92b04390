"""Backtest insights (``/backtests/read/insights``): the client's paged read, over HTTP against
the emulator's simulated insights and against canned answers for the paging rules."""

from __future__ import annotations

import json

import pytest

from quantconnect_client import NotFoundError, QuantConnectClient, RequestRejectedError
from quantconnect_client.models.backtests import INSIGHTS_PAGE, Insight
from quantconnect_emulator.resources.backtest_results import INSIGHT_SOURCE_MODEL
from tests.canned_http import CannedResponse, canned_server
from tests.client.conftest import compiled_project


def finished(client: QuantConnectClient, name: str = "Insights") -> tuple[int, str]:
    pid, cid = compiled_project(client)
    done = client.backtests.wait(pid, client.backtests.create(pid, cid, name).backtest_id)
    return pid, done.backtest_id


def test_the_emulators_insights_follow_the_simulated_trades(client, fast_jobs):
    pid, bid = finished(client)
    insights = client.backtests.insights(pid, bid, 0, 10_000)
    orders = client.backtests.orders(pid, bid, 0, 10_000)
    assert insights and len(insights) * 2 == len(orders)  # one per trade, two orders per trade
    assert len({i.id for i in insights}) == len(insights)
    first = insights[0]
    assert first.source_model == INSIGHT_SOURCE_MODEL and "simulated" in (first.tag or "")
    assert first.type == "price" and first.direction in ("up", "down")
    assert orders[0].symbol is not None and first.symbol == orders[0].symbol.id
    assert first.close_time is not None and first.generated_time is not None
    assert first.period == first.close_time - first.generated_time > 0
    assert all(i.score_final for i in insights)  # the backtest is over: every one scored
    # Deterministic: read again, the same insights; a window reads the same ones.
    assert client.backtests.insights(pid, bid, 0, 10_000) == insights
    assert client.backtests.insights(pid, bid, 1, 3) == insights[1:3]


def test_both_paths_are_served_and_wide_pages_refused(client, fast_jobs, qc_emulator):
    pid, bid = finished(client)
    payload = {"projectId": pid, "backtestId": bid, "start": 0, "end": 100}
    official = client.post("/backtests/read/insights", payload)
    lean = client.post("/backtests/insights/read", payload)
    assert official["insights"] == lean["insights"]
    assert official["length"] == len(official["insights"])
    with pytest.raises(RequestRejectedError, match="too large"):
        client.post("/backtests/read/insights", {**payload, "end": 200})
    with pytest.raises(RequestRejectedError):
        client.post("/backtests/read/insights", {**payload, "start": 5, "end": 5})
    asked = [r for r in qc_emulator.requests_log() if r["path"] == "/backtests/read/insights"]
    assert len(asked) == 3


def test_unknown_backtests_and_bad_ranges(client, fast_jobs):
    pid, _ = finished(client)
    with pytest.raises(NotFoundError):
        client.backtests.insights(pid, "0" * 32)
    with pytest.raises(ValueError, match="start < end"):
        client.backtests.insights(pid, "0" * 32, 10, 10)
    with pytest.raises(ValueError, match="non-negative"):
        client.backtests.insights(pid, "0" * 32, -1, 10)


def test_insights_are_readable_while_the_backtest_runs(client, qc_emulator):
    qc_emulator.set_jobs(compile_seconds=0.2, backtest_seconds=600.0)
    pid, cid = compiled_project(client)
    bid = client.backtests.create(pid, cid, "Running").backtest_id
    qc_emulator.advance(300.0)  # half-way
    halfway = client.backtests.insights(pid, bid, 0, 10_000)
    qc_emulator.advance(600.0)
    final = client.backtests.insights(pid, bid, 0, 10_000)
    assert 0 < len(halfway) < len(final)
    assert [i.id for i in final[: len(halfway)]] == [i.id for i in halfway]
    assert all(i.score_final for i in final)


def _answer(body: dict[str, object]) -> CannedResponse:
    return CannedResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _page(numbers: range) -> CannedResponse:
    return _answer({"success": True, "insights": [{"id": f"{n:032x}"} for n in numbers],
                    "length": len(numbers)})


def _asked(srv) -> list[tuple[int, int]]:
    return [(b["start"], b["end"]) for b in (json.loads(r["body"]) for r in srv.requests)]


@pytest.mark.parametrize("overlap", [0, 1], ids=["end exclusive", "end inclusive"])
def test_insights_are_read_in_pages_of_100_once_each_until_they_run_out(overlap):
    pages = [_page(range(first, first + 100 + overlap)) for first in (1, 101)]
    pages.append(_page(range(201, 231)))
    with canned_server(*pages) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        insights = client.backtests.insights(5, "a" * 32, 0, 1_000)
        assert _asked(srv) == [(0, 100), (100, 200), (200, 300)]
    assert INSIGHTS_PAGE == 100
    assert [int(i.id, 16) for i in insights] == list(range(1, 231))
    assert all(isinstance(i, Insight) for i in insights)


def test_a_malformed_insight_does_not_end_the_read_early():
    first = _answer({"success": True,
                     "insights": [{"id": None}, *({"id": f"{n:032x}"} for n in range(2, 101))]})
    with canned_server(first, _page(range(101, 150))) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        insights = client.backtests.insights(5, "a" * 32, 0, 500)
        assert _asked(srv) == [(0, 100), (100, 200)]
    assert [int(i.id, 16) for i in insights] == list(range(2, 150))
