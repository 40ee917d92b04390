"""``/backtests/list``, ``update``, ``delete``, ``chart/read`` and ``orders/read`` against the
strict contract models (backtests §3, §7)."""

from __future__ import annotations

import pytest

from tests.conformance.conftest import END, LONG, OWN_CHART, START
from tests.conformance.contract import Backtest as AnyStage
from tests.conformance.contract import (
    BacktestSummary,
    BacktestSummaryWithStatistics,
    ChartAnswer,
    ChartLoading,
    Ok,
    Orders,
    backtest_answer,
    backtest_list,
)

#: Default charts (backtests §3 and §7) and the algorithm's own (``self.plot("Signals", ...)``).
CHARTS = [
    "Strategy Equity", "Benchmark", "Drawdown", "Capacity", "Exposure", "Assets Sales Volume",
    "Portfolio Turnover", "Portfolio Margin", OWN_CHART,
]  # fmt: skip


def _one_of_each_stage(world, qc_emulator):
    """A project whose backtests are settled, failed, running and waiting for a node."""
    world.jobs(backtest_nodes=2, node_mode="queue")
    pid, compile_id = world.ready()
    world.backtest(pid, compile_id, "settled", parameters={"fast": 5})
    world.advance(LONG + 60)
    failed = world.backtest(pid, compile_id, "failed")
    world.advance(10)
    qc_emulator.force_runtime_error(pid, failed, message="Boom")
    world.backtest(pid, compile_id, "running")
    world.backtest(pid, compile_id, "holds the second node")
    world.backtest(pid, compile_id, "waits")
    world.advance(LONG * 0.3)
    return pid


@pytest.mark.parametrize("include", [False, True], ids=["plain", "includeStatistics"])
def test_backtests_list(world, qc_emulator, include):
    pid = _one_of_each_stage(world, qc_emulator)
    summary = BacktestSummaryWithStatistics if include else BacktestSummary
    body = {"projectId": pid, "includeStatistics": include}
    answer = world.expect(world.call("/backtests/list", body), backtest_list(summary))
    statuses = {b.name: b.status for b in answer.backtests}
    assert statuses["settled"] == "Completed." and statuses["failed"] == "Runtime Error"
    assert statuses["running"].startswith("Running") and statuses["waits"] == "In Queue..."
    assert all(b.tags == [] for b in answer.backtests)  # §7: new backtests carry `tags: []`


def test_backtests_list_of_a_project_without_backtests(world):
    pid = world.project()
    world.expect(world.call("/backtests/list", {"projectId": pid}), backtest_list(BacktestSummary))


@pytest.mark.parametrize(
    "change",
    [{"name": "renamed"}, {"note": "my note"}, {"note": ""}],
    ids=["name", "note", "empty-note"],
)
def test_backtests_update(world, change):
    pid, backtest_id = world.started()
    body = {"projectId": pid, "backtestId": backtest_id, **change}
    world.expect(world.call("/backtests/update", body), Ok)
    read = world.read(pid, backtest_id)
    if "note" in change:  # §7: the note reads back as written, an empty one empty
        assert (read.json()["backtest"]["note"] or "") == change["note"]
    world.expect(read, backtest_answer(AnyStage))


@pytest.mark.parametrize("stage", ["running", "settled"])
def test_backtests_delete(world, stage):
    pid, backtest_id = world.settled() if stage == "settled" else world.started()
    body = {"projectId": pid, "backtestId": backtest_id}
    world.expect(world.call("/backtests/delete", body), Ok)


@pytest.mark.parametrize("name", CHARTS)
def test_backtests_chart_read(world, name):
    pid, backtest_id = world.settled()
    body = {
        "projectId": pid, "backtestId": backtest_id, "name": name,
        "count": 100, "start": START, "end": END,
    }  # fmt: skip
    answer = world.expect(world.call("/backtests/chart/read", body), ChartAnswer)
    assert answer.chart.name == name


def test_backtests_chart_read_while_running(world):
    pid, backtest_id = world.started()
    world.advance(LONG * 0.4)
    body = {"projectId": pid, "backtestId": backtest_id, "name": "Strategy Equity"}
    body.update(count=100, start=START, end=END)
    world.expect(world.call("/backtests/chart/read", body), ChartAnswer)


@pytest.mark.parametrize("why", ["queued", "being-built"])
def test_backtests_chart_read_while_loading(world, why):
    world.jobs(backtest_nodes=1, node_mode="queue", chart_loading_seconds=30)
    pid, compile_id = world.ready()
    first = world.backtest(pid, compile_id, "holds the node")
    waiting = world.backtest(pid, compile_id, "waits")
    target = waiting if why == "queued" else first
    body = {"projectId": pid, "backtestId": target, "name": "Strategy Equity"}
    body.update(count=100, start=START, end=END)
    world.expect(world.call("/backtests/chart/read", body), ChartLoading)


@pytest.mark.parametrize(("start", "end"), [(0, 100), (0, 3), (2, 50)])
def test_backtests_orders_read(world, start, end):
    """§7: a page may be 100 wide; ``length`` is the number of orders returned."""
    pid, backtest_id = world.settled()
    body = {"projectId": pid, "backtestId": backtest_id, "start": start, "end": end}
    answer = world.expect(world.call("/backtests/orders/read", body), Orders)
    assert len(answer.orders) <= end - start
