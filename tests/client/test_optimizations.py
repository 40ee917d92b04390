"""``client.optimizations`` over HTTP against the emulator: checks before any request, the
operations, the wait, a lost create adopted, and lenient models."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from quantconnect_client import (
    NotFoundError,
    Optimization,
    OptimizationParameter,
    RequestRejectedError,
    ValidationError,
    WaitTimeoutError,
)
from quantconnect_client.models.optimizations import EULER_SEARCH
from quantconnect_client.optimizations import MAX_BACKTESTS, grid_size
from quantconnect_emulator import FaultKind
from tasks.backtests import delete_running_backtests

MAIN = """\
from AlgorithmImports import *


class Grid(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2023, 1, 3)
        self.set_end_date(2023, 6, 30)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.DAILY)
        self.fast = int(self.get_parameter("fast", 10))
"""
GRID = [OptimizationParameter(name="fast", min=5, max=20, step=5),
        OptimizationParameter(name="slow", min=30, max=40, step=10)]
FAST = [0.05]  # read schedule for tests


@pytest.fixture
def quick(qc_emulator):
    qc_emulator.set_jobs(compile_seconds=0.1, backtest_seconds=0.2, optimization_new_seconds=0.1,
                         total_performance_lag_seconds=0,
                         optimization_estimate_needs_backtest=False)
    return qc_emulator


@pytest.fixture
def project(client, quick) -> tuple[int, str]:
    created = client.projects.create("Tests/Optimize", "Py")
    client.files.update(created.project_id, "main.py", MAIN)
    compiled = client.compiles.create(created.project_id)
    client.compiles.wait(created.project_id, compiled.compile_id, timeout=30)
    return created.project_id, compiled.compile_id


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"node_type": "B2-8"}, "node type"),
        ({"parallel_nodes": 25}, "maximum number of parallel nodes for O2-8 is 24"),
        ({"node_type": "O8-16", "parallel_nodes": 7}, "O8-16 is 6"),
        ({"parallel_nodes": 0}, "at least 1"),
        ({"parameters": []}, "at least one parameter"),
        ({"parameters": [{"name": "symbol", "value": "SPY"}]}, "at least one parameter"),
        ({"parameters": [{"name": "a", "min": 1, "max": 2, "step": 0}]}, "step"),
        ({"parameters": [{"name": "a", "min": 1, "max": 2, "step": -1}]}, "step"),
        ({"parameters": [{"name": "a", "min": 3, "max": 2, "step": 1}]}, "greater than max"),
        ({"parameters": [{"name": "a", "min": 0, "max": math.inf, "step": 1}]}, "finite"),
        ({"parameters": [{"name": "a", "min": 0, "max": 1, "step": 1e-12}]}, "more than"),
        ({"parameters": [{"name": "a", "min": 0, "max": 1, "step": 1},
                         {"name": "a", "min": 0, "max": 1, "step": 1}]}, "repeat"),
        ({"parameters": {"name": "a"}}, "list"),
        ({"target": "Alpha"}, "target"),
        ({"target_to": "up"}, "target_to"),
        ({"strategy": "Random"}, "strategy"),
        ({"constraints": [{"target": "Drawdown", "operator": "About", "targetValue": 1}]},
         "operator"),
        ({"constraints": [{"target": "Beta", "operator": "Less", "targetValue": 1}]}, "target"),
        ({"constraints": [{"target": "Drawdown", "operator": "Less"}]}, "target_value"),
        ({"estimated_cost": -1}, "estimated_cost"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_requests_are_refused_before_any_http_call(client, overrides, words):
    arguments: dict[str, Any] = {"name": "grid", "parameters": GRID, **overrides}
    with pytest.raises(ValidationError, match=f"(?i){words}"):
        client.optimizations.create(7, "a" * 32, **arguments)
    assert client.metrics.requests == 0


def test_estimate_and_grid_size(client, project):
    pid, compile_id = project
    assert grid_size(GRID) == 8
    estimate = client.optimizations.estimate(pid, "grid", GRID, node_type="O2-8",
                                             parallel_nodes=4)
    assert estimate.estimate_id and estimate.balance == 0
    assert estimate.time == pytest.approx(math.ceil(2 * 0.2))  # 8 backtests, 4 at a time
    # Without a node type the service's own default applies; nothing extra is sent.
    assert client.optimizations.estimate(pid, "grid", GRID, compile_id=compile_id).time == 1


def test_create_wait_and_the_best_point_rerun_as_a_backtest(client, project):
    pid, compile_id = project
    created = client.optimizations.create(pid, compile_id, "grid", GRID, parallel_nodes=4,
                                          constraints=[{"target": "Drawdown",
                                                        "operator": "LessOrEqual",
                                                        "targetValue": 1}])
    assert created.status == "new" and created.node_type == "O2-8"
    seen: list[tuple[int, int]] = []
    done = client.optimizations.wait(created.optimization_id, timeout=30, schedule=FAST,
                                     on_progress=lambda o: seen.append(o.progress))
    assert done.finished and done.status == "completed"
    assert done.progress == (8, 8) and seen[-1] == (8, 8)
    assert seen == sorted(seen)  # progress only grows
    assert len(done.backtests) == 8 and done.parallel_nodes == 4
    best = done.best()
    assert best is not None and best.succeeded
    sharpe = best.statistic("Sharpe Ratio")
    assert sharpe == max(b.statistic("Sharpe Ratio") or -math.inf for b in done.backtests.values())

    rerun = client.backtests.create(pid, compile_id, "best again", best.parameter_set)
    result = client.backtests.wait(pid, rerun.backtest_id, timeout=30)
    assert result.statistics is not None
    assert result.statistics.number("Sharpe Ratio") == pytest.approx(sharpe)
    assert result.statistics.number("Drawdown") == pytest.approx(best.statistic("Drawdown") / 100)

    listed = client.optimizations.list(pid)
    assert [o.optimization_id for o in listed] == [created.optimization_id]
    assert listed[0].sharpe_ratio == pytest.approx(sharpe, abs=5e-4)


def test_an_optimizations_backtests_are_listed_with_its_id(client, project, quick):
    pid, compile_id = project
    own = client.backtests.create(pid, compile_id, "plain", {"fast": "5"})
    client.backtests.wait(pid, own.backtest_id, timeout=30)
    quick.set_jobs(backtest_seconds=3600)  # the optimization's points run while we look
    created = client.optimizations.create(pid, compile_id, "grid", GRID, parallel_nodes=2)
    deadline = time.monotonic() + 30
    while client.optimizations.read(created.optimization_id).count("Running") != 2:
        assert time.monotonic() < deadline, "the optimization never ran"
        time.sleep(0.05)
    listed = client.backtests.list(pid, include_statistics=True)
    ids = {b.backtest_id: b.optimization_id for b in listed}
    assert ids.pop(own.backtest_id) is None
    assert list(ids.values()) == [created.optimization_id] * 2  # the two running on 2 nodes
    running = [b for b in listed if b.optimization_id]
    assert all((b.status or "").startswith("Running") for b in running)
    assert {b.parameter_set["slow"] for b in running} == {"30", "40"}
    # The clean-up of running backtests leaves an optimization's alone: its abort stops them.
    assert delete_running_backtests(client, pid) == []
    assert client.optimizations.read(created.optimization_id).status == "running"
    client.optimizations.abort(created.optimization_id)


def test_a_target_value_ends_the_optimization_at_the_first_point_reaching_it(
    client, project, quick
):
    pid, compile_id = project
    full = client.optimizations.create(pid, compile_id, "all", GRID, parallel_nodes=2)
    full = client.optimizations.wait(full.optimization_id, timeout=30, schedule=FAST)
    by_set = {(b.parameter_set["fast"], b.parameter_set["slow"]): b.statistic("Sharpe Ratio")
              for b in full.backtests.values()}
    # On 2 nodes the grid runs in rounds of 2, in its order: fast 5, 10, 15, 20 by slow 30, 40.
    order = [(f, s) for f in ("5", "10", "15", "20") for s in ("30", "40")]
    # Reached within the first two rounds (less a margin: the statistics are rounded).
    wanted = max(by_set[key] for key in order[:4]) - 0.01
    stopped = client.optimizations.create(pid, compile_id, "to a target", GRID,
                                          parallel_nodes=2, target_value=wanted)
    stopped = client.optimizations.wait(stopped.optimization_id, timeout=30, schedule=FAST)
    assert stopped.status == "completed"
    done, total = stopped.progress
    assert total == 8 and done in (2, 4) and len(stopped.backtests) == done
    assert stopped.count("In Queue") == 0
    best = stopped.best()
    assert best is not None and best.statistic("Sharpe Ratio") >= wanted
    assert stopped.target_value == pytest.approx(wanted)
    # Not reached: every point runs.
    unreached = client.optimizations.create(pid, compile_id, "too high", GRID, parallel_nodes=2,
                                            target_value=max(by_set.values()) + 100)
    unreached = client.optimizations.wait(unreached.optimization_id, timeout=30, schedule=FAST)
    assert unreached.progress == (8, 8)


def test_wait_ends_at_its_deadline_with_the_last_read(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(backtest_seconds=1_000)
    created = client.optimizations.create(pid, compile_id, "slow", GRID)
    with pytest.raises(WaitTimeoutError) as caught:
        client.optimizations.wait(created.optimization_id, timeout=0.5, schedule=FAST)
    last = caught.value.last
    assert isinstance(last, Optimization) and not last.finished
    assert last.progress == (0, 8)


def test_a_create_whose_answer_was_lost_is_adopted_not_started_twice(client, project, quick):
    pid, compile_id = project
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/optimizations/create")
    created = client.optimizations.create(pid, compile_id, "lost answer", GRID)
    listed = client.optimizations.list(pid)
    assert [o.optimization_id for o in listed] == [created.optimization_id]
    assert client.metrics.reconciled == 1
    assert quick.stats()["faults_injected"]["ambiguous_write"] == 1


def test_a_refused_create_is_not_retried(client, project, quick):
    pid, _ = project
    before = client.metrics.requests
    with pytest.raises(RequestRejectedError):
        client.optimizations.create(pid, "f" * 32 + "-" + "f" * 32, "no such compile", GRID)
    assert client.metrics.requests == before + 1
    assert client.optimizations.list(pid) == []


def test_update_abort_delete(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(backtest_seconds=1_000)
    optimization_id = client.optimizations.create(pid, compile_id, "grid", GRID).optimization_id
    client.optimizations.update(optimization_id, "renamed")
    assert client.optimizations.read(optimization_id).name == "renamed"
    client.optimizations.abort(optimization_id)
    aborted = client.optimizations.wait(optimization_id, timeout=5, schedule=FAST)
    assert aborted.status == "aborted" and aborted.finished
    with pytest.raises(RequestRejectedError):
        client.optimizations.abort(optimization_id)  # already ended
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/optimizations/delete")
    client.optimizations.delete(optimization_id)  # the lost answer: it reads as gone
    with pytest.raises(NotFoundError):
        client.optimizations.read(optimization_id)
    assert client.optimizations.list(pid) == []


def test_a_lost_abort_answer_counts_as_aborted(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(backtest_seconds=1_000)
    optimization_id = client.optimizations.create(pid, compile_id, "grid", GRID).optimization_id
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/optimizations/abort")
    client.optimizations.abort(optimization_id)
    assert client.optimizations.read(optimization_id).status == "aborted"
    assert client.metrics.reconciled == 1


def test_euler_search_and_the_statistics_object_form(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(optimization_statistics="object")
    euler = [OptimizationParameter(name="fast", min=10, max=50, step=20, min_step=5)]
    created = client.optimizations.create(pid, compile_id, "euler", euler,
                                          strategy=EULER_SEARCH, target="Drawdown",
                                          target_to="min")
    done = client.optimizations.wait(created.optimization_id, timeout=30, schedule=FAST)
    assert len(done.backtests) > 3  # the coarse grid's three, then refinements
    best = done.best()
    assert best is not None and len(best.statistics) == 25  # indices 0..24
    drawdowns = [b.statistic("Drawdown") for b in done.backtests.values()]
    assert best.statistic("Drawdown") == min(d for d in drawdowns if d is not None)
    assert best.parameter_set["fast"].isdigit()


def test_unknown_ids(client, quick):
    with pytest.raises(NotFoundError):
        client.optimizations.read("O-" + "0" * 32)
    with pytest.raises(ValidationError):
        client.optimizations.read(" ")


def test_models_read_every_empty_form_and_short_statistics():
    read = Optimization.model_validate({
        "optimizationId": "O-" + "a" * 32, "status": "Completed", "backtests": [],
        "runtimeStatistics": [], "constraints": None, "gridLayout": None,
        "requested": "2021-12-16 00:51:58", "created": "2021-12-16T00:51:58.123Z",
        "criterion": {"target": "['TotalPerformance'].['PortfolioStatistics'].['SharpeRatio']",
                      "extremum": "max", "targetValue": None},
    })
    assert read.finished and read.backtests == {} and read.progress == (0, 0)
    assert read.requested is not None and read.requested.tzinfo is not None
    assert read.target == "SharpeRatio" and read.best() is None
    short = Optimization.model_validate({
        "optimizationId": "O-" + "b" * 32, "status": "weird",
        "criterion": {"target": "TotalPerformance.PortfolioStatistics.SharpeRatio"},
        "backtests": {"k": {"id": "b1", "exitCode": 0, "statistics": [1.0, 2.0],
                            "parameterSet": {"fast": 10}}},
    })
    assert not short.finished  # an unknown status is not finished
    only = short.backtests["k"]
    assert only.statistic("Sharpe Ratio") is None and only.parameter_set == {"fast": "10"}
    assert short.best() is None  # a short array gives no value, not an IndexError


def test_the_grid_cap_is_the_clients_and_named():
    with pytest.raises(ValidationError, match=str(MAX_BACKTESTS)):
        grid_size([{"name": "a", "min": 0, "max": MAX_BACKTESTS, "step": 1}])
    assert grid_size([{"name": "a", "min": 0, "max": MAX_BACKTESTS - 1, "step": 1}]) == \
        MAX_BACKTESTS

