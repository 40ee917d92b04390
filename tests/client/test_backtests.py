"""Backtests over HTTP against the emulator: create, read, list, update, delete, charts,
orders, and the wait (finished rule, deadline, runtime errors, lost creates, busy nodes)."""

from __future__ import annotations

import json
import math
from types import MappingProxyType

import pytest

from quantconnect_client import (
    Backtest,
    BacktestResultsIncompleteError,
    BacktestRuntimeError,
    NoNodeAvailableError,
    NotFoundError,
    QuantConnectClient,
    RequestRejectedError,
    RetryPolicy,
    TransientError,
    ValidationError,
    WaitTimeoutError,
    parse_number,
)
from quantconnect_client.backtests import ORDERS_PAGE
from tests.canned_http import CannedResponse, canned_server
from tests.client.conftest import compiled_project, make_client

RAISING_INITIALIZE = '''from AlgorithmImports import *


class Failing(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2024, 1, 1)
        raise ValueError("no data for this test")
'''


def test_a_backtest_runs_to_final_results(client: QuantConnectClient, fast_jobs):
    pid, cid = compiled_project(client)
    started = client.backtests.create(pid, cid, "SMA fast", {"fast": 10, "slow": 30.5, "s": "SPY"})
    assert not started.completed and started.project_id == pid
    seen: list[Backtest] = []
    done = client.backtests.wait(pid, started.backtest_id, timeout=60, on_progress=seen.append)
    assert done.results_ready and done.completed and done.total_performance is not None
    # Sent as the text LEAN reads, so the service echoes text.
    assert done.parameter_set == {"fast": "10", "slow": "30.5", "s": "SPY"}
    assert done.statistics is not None and len(done.statistics) == 27
    sharpe = done.statistics.number("Sharpe Ratio")
    assert sharpe is not None and math.isfinite(sharpe)
    assert parse_number(done.statistics["Sharpe Ratio"]) == sharpe  # the raw text is kept
    assert done.runtime_statistics is not None and done.runtime_statistics.number("Equity")
    assert done.total_performance.portfolio_statistics
    assert seen and seen[-1].results_ready
    assert all(not b.results_ready for b in seen[:-1])  # placeholders were never the answer


def test_the_wait_waits_for_total_performance(client, fast_jobs):
    fast_jobs.set_jobs(backtest_seconds=0.3, total_performance_lag_seconds=1.5)
    pid, cid = compiled_project(client)
    started = client.backtests.create(pid, cid, "Lagging")
    seen: list[Backtest] = []
    done = client.backtests.wait(pid, started.backtest_id, on_progress=seen.append)
    assert done.total_performance is not None
    assert any(b.completed and b.total_performance is None for b in seen)  # the lag was seen


@pytest.mark.parametrize("missing", ["both", "statistics", "runtime_statistics"])
def test_the_wait_rides_out_completed_before_its_statistics(client, fast_jobs, missing):
    # The stage the lean CLI guards against: completed: true while statistics is [] and/or
    # runtimeStatistics null (the emulator's results_lag_seconds; contract section 7).
    fast_jobs.set_jobs(backtest_seconds=0.3, results_lag_seconds=3.0,
                       results_lag_missing=missing, total_performance_lag_seconds=0.3)  # fmt: skip
    pid, cid = compiled_project(client)
    started = client.backtests.create(pid, cid, "Statistics late")
    seen: list[Backtest] = []
    done = client.backtests.wait(pid, started.backtest_id, timeout=60, on_progress=seen.append)
    assert done.results_ready and done.total_performance is not None
    assert done.statistics is not None and len(done.statistics) == 27
    assert done.runtime_statistics is not None and len(done.runtime_statistics) == 8
    assert any(b.completed and not b.results_ready for b in seen)  # the stage was met
    final = client.backtests.read(pid, started.backtest_id)
    assert done.statistics.raw == final.statistics.raw  # the final numbers, nothing partial


def test_the_wait_never_returns_a_completed_backtest_without_statistics(client, fast_jobs):
    fast_jobs.set_jobs(backtest_seconds=0.2, results_lag_seconds=600)
    pid, cid = compiled_project(client)
    started = client.backtests.create(pid, cid, "Statistics never in")
    with pytest.raises(BacktestResultsIncompleteError) as caught:
        client.backtests.wait(pid, started.backtest_id, timeout=30, settle_timeout=1.0)
    assert caught.value.completed


def test_results_still_missing_at_the_deadline_say_so(client, fast_jobs):
    fast_jobs.set_jobs(backtest_seconds=60)
    pid, cid = compiled_project(client)
    running = client.backtests.create(pid, cid, "Too long")
    with pytest.raises(BacktestResultsIncompleteError, match="still running") as caught:
        client.backtests.wait(pid, running.backtest_id, timeout=1.0)
    assert not caught.value.completed and caught.value.last is not None
    assert isinstance(caught.value, WaitTimeoutError)

    fast_jobs.set_jobs(backtest_seconds=0.2, total_performance_lag_seconds=60)
    lagging = client.backtests.create(pid, cid, "Never settles")
    with pytest.raises(BacktestResultsIncompleteError, match="totalPerformance") as caught:
        client.backtests.wait(pid, lagging.backtest_id, timeout=30, settle_timeout=1.0)
    assert caught.value.completed


def test_a_raise_in_initialize_is_a_runtime_error_during_initialization(client, fast_jobs):
    pid = client.projects.create("Tests/Init Error", "Py").project_id
    client.files.update(pid, "main.py", RAISING_INITIALIZE)
    compiled = client.compiles.create(pid)
    client.compiles.wait(pid, compiled.compile_id)
    backtest = client.backtests.create(pid, compiled.compile_id, "Fails at start")
    with pytest.raises(BacktestRuntimeError) as caught:
        client.backtests.wait(pid, backtest.backtest_id)
    error = caught.value
    assert error.during_initialization and not error.retryable
    assert error.error and error.error.startswith("During the algorithm initialization")
    assert error.backtest_id == backtest.backtest_id


def test_a_runtime_error_after_initialization(client, fast_jobs):
    pid, cid = compiled_project(client)
    fast_jobs.force_runtime_error(pid, message="Division by zero in on_data", at_progress=0.5)
    backtest = client.backtests.create(pid, cid, "Fails later")
    with pytest.raises(BacktestRuntimeError, match="Division by zero") as caught:
        client.backtests.wait(pid, backtest.backtest_id)
    assert not caught.value.during_initialization
    assert caught.value.stacktrace is not None


def test_list_update_and_delete(client, fast_jobs):
    fast_jobs.set_jobs(backtest_seconds=60)
    pid, cid = compiled_project(client)
    first = client.backtests.create(pid, cid, "First")
    listed = client.backtests.list(pid)
    assert [b.backtest_id for b in listed] == [first.backtest_id]  # listed while it runs
    client.backtests.update(pid, first.backtest_id, name="Renamed", note="a note")
    again = client.backtests.read(pid, first.backtest_id)
    assert (again.name, again.note) == ("Renamed", "a note")
    client.backtests.delete(pid, first.backtest_id)  # a running one: stopped, node freed
    with pytest.raises(NotFoundError):
        client.backtests.read(pid, first.backtest_id)
    with pytest.raises(NotFoundError):
        client.backtests.delete(pid, first.backtest_id)
    assert fast_jobs.backtests() == [] or all(
        b["backtestId"] != first.backtest_id for b in fast_jobs.backtests()
    )
    with pytest.raises(ValueError, match="name or a note"):
        client.backtests.update(pid, first.backtest_id)


def test_list_with_statistics_gives_numbers(client, fast_jobs):
    pid, cid = compiled_project(client)
    done = client.backtests.wait(pid, client.backtests.create(pid, cid, "Listed").backtest_id)
    (summary,) = client.backtests.list(pid, include_statistics=True)
    assert summary.backtest_id == done.backtest_id and summary.sharpe_ratio is not None


def test_a_lost_create_does_not_start_a_second_backtest(client, fast_jobs):
    pid, cid = compiled_project(client)
    fast_jobs.inject("ambiguous_write", path="/backtests/create", count=1)
    backtest = client.backtests.create(pid, cid, "Exactly once")
    assert client.metrics.reconciled == 1
    assert [b["backtestId"] for b in fast_jobs.backtests()] == [backtest.backtest_id]


def test_find_created_since_reads_the_newest_of_that_name_since_then(client, fast_jobs):
    from datetime import timedelta

    pid, cid = compiled_project(client)
    assert client.backtests.find_created_since(pid, "Wanted") is None
    client.backtests.create(pid, cid, "Other")
    first = client.backtests.create(pid, cid, "Wanted")
    second = client.backtests.create(pid, cid, "Wanted")
    found = client.backtests.find_created_since(pid, "Wanted")
    assert found is not None and found.name == "Wanted"
    assert found.backtest_id in {first.backtest_id, second.backtest_id}
    later = client.service_now() + timedelta(hours=1)
    assert client.backtests.find_created_since(pid, "Wanted", later) is None
    with pytest.raises(ValidationError):
        client.backtests.find_created_since(pid, "")


def test_compile_id_not_found_right_after_a_compile_is_retried(client, qc_emulator):
    qc_emulator.set_jobs(compile_seconds=0.6, backtest_seconds=0.5)
    pid = client.projects.create("Tests/Early Create", "Py").project_id
    compiled = client.compiles.create(pid)  # not waited for: the service does not see it yet
    with make_client(qc_emulator, retry=RetryPolicy(max_attempts=3)) as patient:
        backtest = patient.backtests.create(pid, compiled.compile_id, "Early")
        assert patient.metrics.retries >= 1
    assert backtest.backtest_id


def the_only_node_held(client: QuantConnectClient, emulator) -> tuple[int, str]:
    """A project, compiled, whose long backtest holds the account's only node (the service
    refuses a start without a free node)."""
    emulator.set_jobs(backtest_nodes=1, node_mode="reject", backtest_seconds=60,
                      compile_seconds=0.1)
    pid, cid = compiled_project(client)
    client.backtests.create(pid, cid, "Holds the node")
    return pid, cid


def test_no_free_node_is_a_retryable_typed_error(client, qc_emulator):
    pid, cid = the_only_node_held(client, qc_emulator)
    with (
        make_client(qc_emulator, retry=RetryPolicy(max_attempts=1)) as impatient,
        pytest.raises(NoNodeAvailableError) as caught,
    ):
        impatient.backtests.create(pid, cid, "Refused")
    assert caught.value.retryable and caught.value.request_sent is False
    assert len(qc_emulator.backtests()) == 1


def test_a_caller_with_its_own_plan_gets_the_refusal_at_once_not_retried(client, qc_emulator):
    pid, cid = the_only_node_held(client, qc_emulator)
    before = len(qc_emulator.requests_log())
    with make_client(qc_emulator, retry=RetryPolicy(max_attempts=4)) as patient:
        with pytest.raises(NoNodeAvailableError):
            patient.backtests.create(pid, cid, "Refused", retry_no_node=False)
        assert patient.metrics.retries == 0
        sent = [e["path"] for e in qc_emulator.requests_log()[before:]]
        # The refusal, confirmed by the nodes (all busy); no backoff, no second try.
        assert sent == ["/backtests/create", "/projects/nodes/read"]
        with pytest.raises(NoNodeAvailableError):  # the default: retried like any transient
            patient.backtests.create(pid, cid, "Refused")
        assert patient.metrics.retries == 3
    assert len(qc_emulator.backtests()) == 1


def test_the_nodes_are_read_once_per_refusal_without_retries(client, qc_emulator):
    # The create's retries are the only ones: a failing nodes read is "unknown" (the words
    # decide), not three more requests inside every create attempt.
    pid, cid = the_only_node_held(client, qc_emulator)
    qc_emulator.inject("http_502_html", path="/projects/nodes/read", count=100)
    before = len(qc_emulator.requests_log())
    quick = RetryPolicy(max_attempts=3, backoff_seconds=0.01)
    with make_client(qc_emulator, retry=quick) as patient, pytest.raises(NoNodeAvailableError):
        patient.backtests.create(pid, cid, "Refused")
    sent = [e["path"] for e in qc_emulator.requests_log()[before:]]
    assert sent == ["/backtests/create", "/projects/nodes/read"] * 3
    assert len(qc_emulator.backtests()) == 1


def test_a_queued_backtest_waits_for_the_node(client, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=1, node_mode="queue", backtest_seconds=0.5,
                         compile_seconds=0.1, total_performance_lag_seconds=0.1)
    pid, cid = compiled_project(client)
    first = client.backtests.create(pid, cid, "First in line")
    second = client.backtests.create(pid, cid, "Second in line")
    assert second.queued
    seen: list[Backtest] = []
    done = client.backtests.wait(pid, second.backtest_id, on_progress=seen.append)
    assert done.results_ready and seen[0].queued
    assert client.backtests.wait(pid, first.backtest_id).results_ready


def test_bad_parameters_are_refused_before_any_request(client, fast_jobs):
    pid, cid = compiled_project(client)
    before = len(fast_jobs.requests_log())
    for bad in (
        {"flag": True},
        {"nested": {"a": 1}},
        {"listed": [1, 2]},
        {"none": None},
        {"nan": float("nan")},
        {"": 1},
        {1: 2},
        [("a", 1)],
    ):
        with pytest.raises(ValidationError):
            client.backtests.create(pid, cid, "Never", bad)  # type: ignore[arg-type]
    for bad_name in ("", "   ", "tab\tname", "x" * 201):
        with pytest.raises(ValidationError):
            client.backtests.create(pid, cid, bad_name)
    assert len(fast_jobs.requests_log()) == before
    assert fast_jobs.backtests() == []


def test_charts_are_read_after_the_loading_answer(client, fast_jobs):
    fast_jobs.set_jobs(chart_loading_seconds=1.5)
    pid, cid = compiled_project(client)
    done = client.backtests.wait(pid, client.backtests.create(pid, cid, "Charted").backtest_id)
    chart = client.backtests.chart(pid, done.backtest_id, "Strategy Equity", count=10)
    equity = chart.series["Equity"]
    assert equity.series_type == 2 and equity.points()
    reads = [r for r in fast_jobs.requests_log() if r["path"].endswith("/backtests/chart/read")]
    assert len(reads) >= 2  # the loading answer was read again


def test_orders_are_read(client, fast_jobs):
    pid, cid = compiled_project(client)
    done = client.backtests.wait(pid, client.backtests.create(pid, cid, "Orders").backtest_id)
    orders = client.backtests.orders(pid, done.backtest_id, 0, 500)
    assert orders and all(o.id > 0 for o in orders)
    assert orders[0].symbol is not None and orders[0].symbol.value


def test_the_wait_rides_out_transient_read_failures(client, fast_jobs):
    pid, cid = compiled_project(client)
    backtest = client.backtests.create(pid, cid, "Faulty reads")
    fast_jobs.inject("http_502_html", path="/backtests/read", count=4)
    done = client.backtests.wait(pid, backtest.backtest_id, timeout=60)
    assert done.results_ready
    # one read failed all 3 attempts (2 retries inside the call), and the wait read again
    assert client.metrics.retries == 4


def test_a_lost_delete_answer_counts_as_deleted(client, fast_jobs):
    fast_jobs.set_jobs(backtest_seconds=60)
    pid, cid = compiled_project(client)
    backtest = client.backtests.create(pid, cid, "Deleted once")
    fast_jobs.inject("ambiguous_write", path="/backtests/delete", count=1)
    client.backtests.delete(pid, backtest.backtest_id)
    assert client.metrics.reconciled == 1
    assert fast_jobs.backtests() == []


def json_answer(body: dict[str, object]) -> CannedResponse:
    return CannedResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def orders_page(ids) -> CannedResponse:
    return json_answer({"success": True, "orders": [{"id": i} for i in ids],
                        "length": len(list(ids))})


def asked_pages(srv) -> list[tuple[int, int]]:
    bodies = [json.loads(r["body"]) for r in srv.requests]
    return [(b["start"], b["end"]) for b in bodies]


@pytest.mark.parametrize(
    "overlap", [0, 1], ids=["end exclusive", "end inclusive (pages repeat an order)"]
)
def test_orders_are_read_in_pages_of_100_kept_once_and_stopped_at_end(overlap):
    # Exclusive: [0, 100) holds orders 1..100. Inclusive: [0, 100] holds 101 orders, and the
    # next page repeats the one at 100. Either way: the same 250 orders, once each.
    pages = [orders_page(range(first, first + 100 + overlap)) for first in (1, 101)]
    pages.append(orders_page(range(201, 251 + overlap)))
    with canned_server(*pages) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        orders = client.backtests.orders(5, "a" * 32, 0, 250)
        assert asked_pages(srv) == [(0, 100), (100, 200), (200, 250)]
    assert ORDERS_PAGE == 100
    assert [o.id for o in orders] == list(range(1, 251))


def test_a_malformed_order_does_not_end_the_read_early():
    # The bad order is dropped, but the page was full: the read goes on to the next page.
    first = json_answer({"success": True,
                         "orders": [{"id": "garbled"}, *({"id": i} for i in range(2, 101))]})
    with canned_server(first, orders_page(range(101, 201)), orders_page(range(201, 251))) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        orders = client.backtests.orders(5, "a" * 32, 0, 250)
        assert asked_pages(srv) == [(0, 100), (100, 200), (200, 250)]
    assert [o.id for o in orders] == list(range(2, 251))


def test_orders_run_out_early_and_a_service_refusing_pages_of_100_is_asked_in_99s():
    refusal = json_answer({"success": False,
                           "errors": ["end - start must be less than 100"]})
    with canned_server(refusal, orders_page(range(1, 100)), orders_page(range(100, 131))) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=RetryPolicy(max_attempts=1))
        orders = client.backtests.orders(5, "a" * 32, 0, 500)
        assert asked_pages(srv) == [(0, 100), (0, 99), (99, 198)]
    assert [o.id for o in orders] == list(range(1, 131))


def test_the_emulators_orders_are_read_whole(client, fast_jobs):
    pid, cid = compiled_project(client)
    done = client.backtests.wait(pid, client.backtests.create(pid, cid, "All orders").backtest_id)
    every = client.backtests.orders(pid, done.backtest_id, 0, 10_000)
    ids = [o.id for o in every]
    assert ids and len(ids) == len(set(ids)) == ids[-1] - ids[0] + 1
    assert [o.id for o in client.backtests.orders(pid, done.backtest_id, 1, 3)] == ids[1:3]


def chart_answer() -> CannedResponse:
    chart = {"name": "Strategy Equity", "series": {"Equity": {"values": [[1, 2.0], [2, 3.0]]}}}
    return json_answer({"success": True, "chart": chart})


def test_every_chart_request_carries_count_start_and_end():
    backtest = Backtest.model_validate({"backtestId": "a" * 32, "backtestStart":
                                        "2024-01-02 00:00:00", "backtestEnd": "2024-03-01"})
    with canned_server(chart_answer()) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        client.backtests.chart(5, "a" * 32, "Strategy Equity")
        client.backtests.chart(5, "a" * 32, "Strategy Equity", backtest=backtest, count=500)
        client.backtests.chart(5, "a" * 32, "Strategy Equity", start=10, end=20)
        before = len(srv.requests)
        with pytest.raises(ValueError, match="start <= end"):
            client.backtests.chart(5, "a" * 32, "Strategy Equity", start=20, end=10)
        with pytest.raises(ValueError, match="was given backtest"):
            client.backtests.chart(5, "b" * 32, "Strategy Equity", backtest=backtest)
        assert len(srv.requests) == before  # refused before any request
        sent = [json.loads(r["body"]) for r in srv.requests]
    assert all({"count", "start", "end"} <= set(body) for body in sent)
    unknown, known, given = sent
    assert unknown["count"] == 100 and unknown["start"] == 0  # LEAN's count; the widest range
    assert unknown["end"] > 1_700_000_000
    start, end = 1_704_153_600, 1_709_251_200  # 2024-01-02 and 2024-03-01, UTC
    assert (known["count"], known["start"], known["end"]) == (500, start, end + 2 * 86_400)
    assert (given["start"], given["end"]) == (10, 20)


@pytest.mark.parametrize(
    "period", [("2024-03-01", "2024-01-02"), ("1960-01-01", "1965-01-01")],
    ids=["ends before it starts", "before 1970"])
def test_a_period_no_request_can_carry_falls_back_to_the_widest_range(period):
    backtest = Backtest.model_validate(
        {"backtestId": "a" * 32, "backtestStart": period[0], "backtestEnd": period[1]})
    with canned_server(chart_answer()) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        client.backtests.chart(5, "a" * 32, "Strategy Equity", backtest=backtest)
        [body] = [json.loads(r["body"]) for r in srv.requests]
    assert body["start"] == 0 and body["end"] > 1_700_000_000


def test_parameters_go_as_the_text_lean_reads_so_equal_text_gives_equal_results(
    client, fast_jobs
):
    pid, cid = compiled_project(client)
    results = []
    for label, value in (("int", 10), ("float", 10.0), ("text", "10")):
        started = client.backtests.create(pid, cid, f"Fast {label}", {"fast": value})
        done = client.backtests.wait(pid, started.backtest_id)
        assert done.parameter_set == {"fast": "10"}
        results.append(done.statistics.raw if done.statistics else None)
    assert results[0] and results[0] == results[1] == results[2]


def test_any_mapping_is_a_parameter_set(client, fast_jobs):
    # BacktestParameters is a Mapping: a read-only one (a frozen form's) is a set like a dict.
    pid, cid = compiled_project(client)
    started = client.backtests.create(pid, cid, "Frozen", MappingProxyType({"fast": 10.0}))
    assert client.backtests.wait(pid, started.backtest_id).parameter_set == {"fast": "10"}


def running(progress: object) -> bytes:
    backtest = {"backtestId": "a" * 32, "status": "Running", "completed": False}
    return json.dumps({"success": True, "backtest": backtest}).encode()[:-2] + (
        f', "progress": {progress}' + "}}").encode()


@pytest.mark.parametrize("sent", ["NaN", "-Infinity", "5", "-0.5"])
def test_a_progress_that_is_no_fraction_is_not_shown_as_one(sent):
    response = CannedResponse(200, running(sent), {"Content-Type": "application/json"})
    with canned_server(response) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        read = client.backtests.read(5, "a" * 32)
        assert read.progress == 0.0
        # A deadline long enough for the first read even on a loaded machine: the message
        # describes the last read, and a deadline reached before any read says "never read".
        with pytest.raises(BacktestResultsIncompleteError) as caught:
            client.backtests.wait(5, "a" * 32, timeout=3.0)
    message = str(caught.value)
    assert "progress unknown" in message and "not a fraction" in message
    assert not any(shown in message for shown in ("nan%", "inf%", "500%", "-50%")), message


def completed(**fields: object) -> CannedResponse:
    backtest = {"backtestId": "a" * 32, "status": "Completed.", "completed": True,
                "progress": 1, **fields}
    return json_answer({"success": True, "backtest": backtest})


FINAL = {"statistics": {"Sharpe Ratio": "0.19"}, "runtimeStatistics": {"Equity": "$1"},
         "totalPerformance": {"portfolioStatistics": {"sharpeRatio": 0.19}}}


def test_statistics_that_are_no_map_are_named_as_the_problem():
    answer = completed(**{**FINAL, "statistics": "not available"})
    with canned_server(answer) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(BacktestResultsIncompleteError) as caught:
            client.backtests.wait(5, "a" * 32, timeout=30, settle_timeout=0.3)
    message = str(caught.value)
    assert "statistics is not a map" in message and "'not available'" in message
    assert "totalPerformance" not in message  # it did arrive


def test_completed_without_statistics_yet_is_not_final():
    # The stage the lean CLI guards against: completed, statistics [] and runtimeStatistics
    # null for a moment; the wait reads on, and says so if it never settles.
    early = completed(statistics=[], runtimeStatistics=None, totalPerformance=None)
    with canned_server(early, early, completed(**FINAL)) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        seen: list[Backtest] = []
        done = client.backtests.wait(5, "a" * 32, timeout=30, on_progress=seen.append)
        assert len(srv.requests) == 3
    assert done.results_ready and done.statistics is not None and len(done.statistics) == 1
    assert not seen[0].results_ready
    with canned_server(early) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(BacktestResultsIncompleteError) as caught:
            client.backtests.wait(5, "a" * 32, timeout=30, settle_timeout=0.3)
    assert "statistics is empty" in str(caught.value)
    assert "runtimeStatistics is null" in str(caught.value)


def test_a_refusal_in_other_words_while_every_node_is_busy_is_no_free_node(
    client, qc_emulator, monkeypatch
):
    from quantconnect_emulator.resources import backtests as emulated

    # The service's words are unconfirmed: the nodes, all busy, decide.
    monkeypatch.setattr(emulated, "NO_NODE", "Backtest deployment failed: capacity ({nodes}).")
    pid, cid = the_only_node_held(client, qc_emulator)
    with (
        make_client(qc_emulator, retry=RetryPolicy(max_attempts=1)) as impatient,
        pytest.raises(NoNodeAvailableError, match="all 1 backtest node"),
    ):
        impatient.backtests.create(pid, cid, "Refused", retry_no_node=False)
    assert len(qc_emulator.backtests()) == 1


def nodes_answer(*busy: bool) -> CannedResponse:
    nodes = [{"id": f"n{i}", "sku": "B-MICRO", "busy": b} for i, b in enumerate(busy)]
    return json_answer({"success": True, "nodes": {"backtest": nodes, "research": [],
                                                   "live": []}, "autoSelectNode": True})


def test_a_no_node_refusal_is_confirmed_by_the_nodes_before_it_is_believed():
    worded = json_answer({"success": False, "errors": ["No spare nodes available"]})
    other = json_answer({"success": False, "errors": ["Too many parameters"]})
    cid = "a" * 32 + "-" + "b" * 32
    once = RetryPolicy(max_attempts=1)
    # Worded as "no node", yet a node is free: sent again, not waited for as a busy account.
    with canned_server(worded, nodes_answer(True, False)) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=once)
        with pytest.raises(TransientError) as caught:
            client.backtests.create(5, cid, "Worded", retry_no_node=False)
    assert not isinstance(caught.value, NoNodeAvailableError)
    assert caught.value.request_sent is False
    # Another refusal while a node is free is the refusal it is (permanent).
    with canned_server(other, nodes_answer(False)) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=once)
        with pytest.raises(RequestRejectedError, match="Too many parameters") as rejected:
            client.backtests.create(5, cid, "Other", retry_no_node=False)
    assert not rejected.value.retryable
    # The same words while every node is busy: no free node, whatever the words.
    with canned_server(other, nodes_answer(True, True)) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=once)
        with pytest.raises(NoNodeAvailableError, match="Too many parameters"):
            client.backtests.create(5, cid, "Other", retry_no_node=False)
