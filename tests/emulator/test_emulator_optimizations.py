"""``/optimizations/*`` over HTTP (contract more §1): shapes, the job clock, grid and Euler
search, constraints, abort, delete, refusals, encodings and faults."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from quantconnect_emulator import FaultKind

GRID = "QuantConnect.Optimizer.Strategies.GridSearchOptimizationStrategy"
EULER = "QuantConnect.Optimizer.Strategies.EulerSearchOptimizationStrategy"
SHARPE = "TotalPerformance.PortfolioStatistics.SharpeRatio"
DRAWDOWN = "TotalPerformance.PortfolioStatistics.Drawdown"
OPTIMIZATION_ID = re.compile(r"^O-[0-9a-f]{32}$")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LABEL = "simulated by quantconnect_emulator; not LEAN results"
#: Index -> the plain backtest's statistic it carries (contract more §1.5).
ORDER = (
    "Alpha", "Annual Standard Deviation", "Annual Variance", "Average Loss", "Average Win",
    "Beta", "Compounding Annual Return", "Drawdown", "Estimated Strategy Capacity",
    "Expectancy", "Information Ratio", "Loss Rate", "Net Profit", "Probabilistic Sharpe Ratio",
    "Profit-Loss Ratio", "Sharpe Ratio", "Total Fees", "Total Orders", "Tracking Error",
    "Treynor Ratio", "Win Rate",
)
MAIN = """\
from AlgorithmImports import *


class Grid(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2023, 1, 3)
        self.set_end_date(2023, 12, 29)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.DAILY)
        self.fast = int(self.get_parameter("fast", 10))
        self.slow = int(self.get_parameter("slow", 50))
"""
BT = 10.0  # seconds per backtest
NEW = 5.0  # seconds an optimization reads `new`


@pytest.fixture
def ready(api, qc_emulator) -> tuple[int, str]:
    # Estimates without the backtest QuantConnect wants first: these tests are about the rest.
    qc_emulator.set_jobs(backtest_seconds=BT, optimization_new_seconds=NEW, compile_seconds=0.1,
                         total_performance_lag_seconds=0,
                         optimization_estimate_needs_backtest=False)
    pid = api.create_project("Optimize")["projectId"]
    api.put_file(pid, "main.py", MAIN)
    return pid, api.compile(pid)["compileId"]


def _body(pid: int, compile_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "projectId": pid,
        "name": "grid",
        "target": SHARPE,
        "targetTo": "max",
        "targetValue": None,
        "strategy": GRID,
        "parameters": [
            {"name": "fast", "min": 252, "max": 273, "step": 21},
            {"name": "slow", "min": 10, "max": 110, "step": 50},
        ],
        "constraints": [],
        "estimatedCost": 1,
        "nodeType": "O2-8",
        "parallelNodes": 2,
    }
    if compile_id is not None:
        body["compileId"] = compile_id
    body.update(overrides)
    return body


def _create(api, pid: int, compile_id: str, **overrides: Any) -> dict[str, Any]:
    created = api.ok("/optimizations/create", _body(pid, compile_id, **overrides))
    assert isinstance(created["optimizations"], list) and len(created["optimizations"]) == 1
    summary: dict[str, Any] = created["optimizations"][0]
    return summary


def _read(api, optimization_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.ok("/optimizations/read", {"optimizationId": optimization_id})
    optimization: dict[str, Any] = body["optimization"]
    return optimization


def test_estimate_answers_id_time_and_balance_from_the_grid_and_nodes(api, ready):
    pid, compile_id = ready
    # 2 x 3 = 6 backtests, 2 at a time, 10 s each: 30 s for the whole job.
    estimate = api.ok("/optimizations/estimate", _body(pid))["estimate"]
    assert set(estimate) == {"estimateId", "time", "balance"}
    assert estimate["estimateId"] and estimate["balance"] == 0
    assert estimate["time"] == 3 * BT
    on_defaults = api.ok("/optimizations/estimate", _body(pid, compile_id, parallelNodes=None,
                                                         nodeType="O8-16"))["estimate"]
    assert on_defaults["time"] == math.ceil(6 / 3) * BT  # O8-16 runs 3 by default
    # The lean CLI's reading: time of one backtest.
    api.server.set_jobs(optimization_estimate_time="backtest")
    assert api.ok("/optimizations/estimate", _body(pid))["estimate"]["time"] == BT


def test_an_optimization_runs_new_then_running_then_completed_on_the_clock(api, ready):
    pid, compile_id = ready
    summary = _create(api, pid, compile_id)
    assert OPTIMIZATION_ID.match(summary["optimizationId"])
    assert summary["status"] == "new" and summary["nodeType"] == "O2-8"
    assert summary["criterion"] == {"target": SHARPE, "extremum": "max", "targetValue": None}
    assert summary["sharpeRatio"] is None and summary["psr"] is None
    first = _read(api, summary["optimizationId"])
    assert first["status"] == "new" and first["backtests"] == {}
    assert first["runtimeStatistics"]["Total"] == "6"
    assert first["runtimeStatistics"]["In Queue"] == "6"
    assert first["parallelNodes"] == 2 and first["strategy"] == GRID
    assert first["parameters"][0] == {"name": "fast", "min": 252, "max": 273, "step": 21}

    api.server.advance(NEW + BT / 2)  # first batch of two running
    running = _read(api, summary["optimizationId"])
    assert running["status"] == "running"
    stats = running["runtimeStatistics"]
    assert (stats["Completed"], stats["Running"], stats["In Queue"]) == ("0", "2", "4")
    assert all(b["statistics"] == [] and b["progress"] < 1 for b in running["backtests"].values())

    api.server.advance(BT)  # first batch done, second running
    later = _read(api, summary["optimizationId"])
    assert later["runtimeStatistics"]["Completed"] == "2"
    done = [b for b in later["backtests"].values() if b["progress"] == 1]
    assert len(done) == 2 and all(len(b["statistics"]) == 21 for b in done)

    api.server.advance(2 * BT)
    final = _read(api, summary["optimizationId"])
    assert final["status"] == "completed"
    assert final["runtimeStatistics"]["Completed"] == "6"
    assert final["runtimeStatistics"]["Note"] == LABEL
    sets = sorted(tuple(sorted(b["parameterSet"].items())) for b in final["backtests"].values())
    assert sets == sorted(
        (("fast", f), ("slow", s)) for f in ("252", "273") for s in ("10", "60", "110")
    )
    assert all(key == b["id"] for key, b in final["backtests"].items())
    listed = api.ok("/optimizations/list", {"projectId": pid})["optimizations"]
    assert [o["optimizationId"] for o in listed] == [summary["optimizationId"]]
    assert listed[0]["status"] == "completed" and listed[0]["sharpeRatio"] is not None


def test_the_best_point_rerun_as_a_backtest_gives_the_same_numbers(api, ready):
    pid, compile_id = ready
    summary = _create(api, pid, compile_id)
    api.server.advance(NEW + 3 * BT)
    final = _read(api, summary["optimizationId"])
    best = max(final["backtests"].values(), key=lambda b: b["statistics"][15])
    listed = api.ok("/optimizations/list", {"projectId": pid})["optimizations"][0]
    assert listed["sharpeRatio"] == pytest.approx(best["statistics"][15], abs=5e-4)

    plain = api.backtest(pid, compile_id, "rerun", parameters=best["parameterSet"])
    api.server.advance(BT + 1)
    rerun = api.read_backtest(pid, plain["backtestId"])
    assert rerun["status"] == "Completed."
    for index, name in enumerate(ORDER):
        text = rerun["statistics"][name].replace("%", "").replace("$", "").replace(",", "")
        assert best["statistics"][index] == pytest.approx(float(text)), name
    # Another point's numbers differ: the parameters reach the simulation.
    other = next(b for b in final["backtests"].values() if b["id"] != best["id"])
    assert other["statistics"] != best["statistics"]


def test_euler_search_refines_around_the_best_point_of_its_coarse_grid(api, ready):
    pid, compile_id = ready
    parameters = [{"name": "fast", "min": 10, "max": 50, "step": 20, "minStep": 5}]
    summary = _create(api, pid, compile_id, strategy=EULER, parameters=parameters)
    api.server.advance(NEW + 100 * BT)
    final = _read(api, summary["optimizationId"])
    assert final["status"] == "completed"
    values = [int(b["parameterSet"]["fast"]) for b in final["backtests"].values()]
    coarse = {10, 30, 50}
    assert coarse <= set(values) and len(values) == len(set(values)) > 3  # refined, no repeats
    by_value = {int(b["parameterSet"]["fast"]): b["statistics"][15]
                for b in final["backtests"].values()}
    best_coarse = max(coarse, key=lambda v: by_value[v])
    refined = set(values) - coarse
    assert all(abs(v - best_coarse) <= 20 and v % 5 == 0 for v in refined)
    # Without a minStep, Euler search makes the coarse pass only (LEAN sends minStep = step).
    plain = _create(api, pid, compile_id, strategy=EULER, name="coarse",
                    parameters=[{"name": "fast", "min": 10, "max": 50, "step": 20}])
    api.server.advance(NEW + 100 * BT)
    assert len(_read(api, plain["optimizationId"])["backtests"]) == 3
    api.server.set_jobs(optimization_euler=False)
    refused = api.fail("/optimizations/create", _body(pid, compile_id, strategy=EULER))
    assert "strategy" in refused


def test_constraints_filter_the_points_the_best_is_chosen_from(api, ready):
    pid, compile_id = ready
    impossible = [{"target": DRAWDOWN, "operator": "Less", "targetValue": -1}]
    summary = _create(api, pid, compile_id, constraints=impossible)
    api.server.advance(NEW + 3 * BT)
    final = _read(api, summary["optimizationId"])
    assert final["status"] == "completed" and len(final["backtests"]) == 6
    assert final["constraints"] == impossible
    listed = api.ok("/optimizations/list", {"projectId": pid})["optimizations"][0]
    assert listed["sharpeRatio"] is None and listed["trades"] is None  # none qualifies

    # Minimizing drawdown with everything allowed: the best is the smallest drawdown.
    loose = [{"target": DRAWDOWN, "operator": "lessorequal", "target-value": 1}]
    other = _create(api, pid, compile_id, name="min dd", targetTo="min", target=DRAWDOWN,
                    constraints=loose)
    api.server.advance(NEW + 3 * BT)
    read = _read(api, other["optimizationId"])
    assert read["constraints"] == [{"target": DRAWDOWN, "operator": "LessOrEqual",
                                    "targetValue": 1.0}]
    smallest = min(read["backtests"].values(), key=lambda b: b["statistics"][7])
    summary_two = next(o for o in api.ok("/optimizations/list", {"projectId": pid})
                       ["optimizations"] if o["optimizationId"] == other["optimizationId"])
    assert summary_two["trades"] is not None
    assert summary_two["criterion"]["extremum"] == "min"
    assert smallest["statistics"][7] == min(b["statistics"][7] for b in read["backtests"].values())


def test_abort_keeps_finished_backtests_and_stops_the_rest(api, ready):
    pid, compile_id = ready
    summary = _create(api, pid, compile_id)
    optimization_id = summary["optimizationId"]
    api.server.advance(NEW + BT + BT / 2)  # two done, two running
    api.ok("/optimizations/abort", {"optimizationId": optimization_id})
    aborted = _read(api, optimization_id)
    assert aborted["status"] == "aborted"
    assert len(aborted["backtests"]) == 2
    assert all(len(b["statistics"]) == 21 for b in aborted["backtests"].values())
    stats = aborted["runtimeStatistics"]
    assert (stats["Completed"], stats["Running"], stats["In Queue"]) == ("2", "0", "0")
    api.server.advance(10 * BT)
    assert _read(api, optimization_id)["backtests"] == aborted["backtests"]  # nothing more runs
    assert "ended" in api.fail("/optimizations/abort", {"optimizationId": optimization_id})
    listed = api.ok("/optimizations/list", {"projectId": pid})["optimizations"]
    assert [o["status"] for o in listed] == ["aborted"]  # an aborted job stays listed

    finished = _create(api, pid, compile_id, name="done")
    api.server.advance(NEW + 3 * BT)
    assert "ended" in api.fail("/optimizations/abort",
                               {"optimizationId": finished["optimizationId"]})
    just_made = _create(api, pid, compile_id, name="fresh")
    api.ok("/optimizations/abort", {"optimizationId": just_made["optimizationId"]})
    assert _read(api, just_made["optimizationId"])["backtests"] == {}


def test_update_renames_and_delete_removes(api, ready):
    pid, compile_id = ready
    optimization_id = _create(api, pid, compile_id)["optimizationId"]
    api.ok("/optimizations/update", {"optimizationId": optimization_id, "name": "renamed"})
    assert _read(api, optimization_id)["name"] == "renamed"
    assert "name" in api.fail("/optimizations/update", {"optimizationId": optimization_id})
    api.ok("/optimizations/delete", {"optimizationId": optimization_id})
    assert "not found" in api.fail("/optimizations/read", {"optimizationId": optimization_id})
    assert api.ok("/optimizations/list", {"projectId": pid})["optimizations"] == []


@pytest.mark.parametrize("path", ["read", "update", "abort", "delete"])
def test_unknown_ids_are_refused(api, ready, path):
    body = {"optimizationId": " ", "name": "x"}
    assert "not found" in api.fail(f"/optimizations/{path}", body).lower()


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"projectId": -1}, "Project not found"),
        ({"parameters": []}, "At least one parameter"),
        ({"parameters": [{"name": "x", "min": 1, "max": 2, "step": 0}]}, "step"),
        ({"parameters": [{"name": "x", "min": 3, "max": 2, "step": 1}]}, "min"),
        ({"parameters": [{"name": "x", "min": 0, "max": 10**9, "step": 1}]}, "more than 500"),
        ({"nodeType": "B2-8"}, "node type"),
        ({"parallelNodes": 25}, "maximum number of parallel nodes for O2-8 is 24"),
        ({"nodeType": "O8-16", "parallelNodes": 7}, "for O8-16 is 6"),
        ({"parallelNodes": 0}, "parallel nodes"),
        ({"target": "TotalPerformance.PortfolioStatistics.Alpha"}, "target"),
        ({"targetTo": "up"}, "targetTo"),
        ({"constraints": [{"target": SHARPE, "operator": "About", "targetValue": 1}]},
         "operator"),
        ({"constraints": [{"target": SHARPE, "operator": "Less"}]}, "targetValue"),
        ({"compileId": None}, "compileId"),
        ({"estimatedCost": None}, "estimatedCost"),
        ({"strategy": "Random"}, "strategy"),
    ],
)
def test_bad_requests_are_refused_and_nothing_starts(api, ready, overrides, words):
    pid, compile_id = ready
    message = api.fail("/optimizations/create", _body(pid, compile_id, **overrides))
    assert words in message
    assert api.ok("/optimizations/list", {"projectId": pid})["optimizations"] == []


def test_estimate_refuses_what_create_refuses(api, ready):
    pid, _ = ready
    assert "At least one parameter" in api.fail("/optimizations/estimate",
                                                _body(pid, parameters=[]))
    assert "Project not found" in api.fail("/optimizations/estimate", _body(-1))
    api.server.set_jobs(optimization_max_parameters=1)
    assert "maximum is 1" in api.fail("/optimizations/estimate", _body(pid))


def test_the_spellings_and_encodings_quantconnects_clients_use_are_accepted(api, ready):
    pid, compile_id = ready
    quoted = "['TotalPerformance'].['PortfolioStatistics'].['SharpeRatio']"
    form = {
        "projectId": pid, "compileId": compile_id, "name": "form", "target": quoted,
        "targetTo": "max", "targetValue": "", "strategy": GRID, "estimatedCost": "0.01",
        "nodeType": "O2-8", "parallelNodes": "12",
        "parameters[0][key]": "fast", "parameters[0][min]": "5", "parameters[0][max]": "15",
        "parameters[0][step]": "5", "parameters[0][min-step]": "5",
        "parameters[1][key]": "symbol", "parameters[1][value]": "SPY",
        "constraints[0][target]": quoted, "constraints[0][operator]": "greater",
        "constraints[0][target-value]": "-100",
    }
    response = api.call("/optimizations/create", data=urlencode(form),
                        headers={**api.headers(), **FORM}).json()
    assert response["success"] is True, response
    summary = response["optimizations"][0]
    assert summary["criterion"]["target"] == SHARPE
    assert summary["parameters"] == [
        {"name": "fast", "min": 5, "max": 15, "step": 5, "minStep": 5},
        {"name": "symbol", "value": "SPY"},
    ]
    api.server.advance(NEW + BT)
    read = _read(api, summary["optimizationId"])
    assert read["constraints"] == [{"target": SHARPE, "operator": "Greater",
                                    "targetValue": -100.0}]
    assert sorted(b["parameterSet"]["fast"] for b in read["backtests"].values()) == [
        "10", "15", "5"]
    assert all(b["parameterSet"]["symbol"] == "SPY" for b in read["backtests"].values())


def test_statistics_object_form_behind_its_switch(api, ready):
    pid, compile_id = ready
    api.server.set_jobs(optimization_statistics="object")
    summary = _create(api, pid, compile_id)
    api.server.advance(NEW + 3 * BT)
    backtest = next(iter(_read(api, summary["optimizationId"])["backtests"].values()))
    assert sorted(backtest["statistics"], key=int) == [str(i) for i in range(25)]


def test_a_deleted_project_takes_its_optimizations_along(api, ready):
    pid, compile_id = ready
    optimization_id = _create(api, pid, compile_id)["optimizationId"]
    api.ok("/projects/delete", {"projectId": pid})
    assert "not found" in api.fail("/optimizations/read", {"optimizationId": optimization_id})


def test_faults_are_injected_on_optimization_paths(api, ready, qc_emulator):
    pid, compile_id = ready
    qc_emulator.inject(FaultKind.HTTP_500_EMPTY, path="/optimizations/create")
    response = api.call("/optimizations/create", _body(pid, compile_id))
    assert response.status_code == 500
    assert api.ok("/optimizations/list", {"projectId": pid})["optimizations"] == []
    qc_emulator.inject(FaultKind.AMBIGUOUS_WRITE, path="/optimizations/create")
    with pytest.raises(requests.RequestException):
        api.call("/optimizations/create", _body(pid, compile_id))
    # The lost answer's write was applied: one optimization exists.
    assert len(api.ok("/optimizations/list", {"projectId": pid})["optimizations"]) == 1


def test_the_control_plane_finishes_an_optimization(api, ready, qc_emulator):
    pid, compile_id = ready
    optimization_id = _create(api, pid, compile_id)["optimizationId"]
    response = requests.post(f"{qc_emulator.control_url}/jobs/{optimization_id}/finish",
                             timeout=5)
    assert response.status_code == 200, response.text
    assert _read(api, optimization_id)["status"] == "completed"


def test_an_estimate_needs_a_completed_backtest_of_the_project_first(api, ready):
    pid, compile_id = ready
    api.server.set_jobs(optimization_estimate_needs_backtest=True, backtest_seconds=0)
    refused = api.fail("/optimizations/estimate", _body(pid))
    assert "backtest" in refused
    api.ok("/backtests/create", {"projectId": pid, "compileId": compile_id, "backtestName": "x"})
    assert api.ok("/optimizations/estimate", _body(pid))["estimate"]["estimateId"]


class TickingClock:
    """Moves a second forward at every read: what a loaded machine does between two reads."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        self.now += 1.0
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_one_read_is_one_snapshot_even_as_the_clock_moves() -> None:
    # Read twice in one answer, a job could end between the reads: the answer then said
    # "completed" while listing backtests still running, without statistics.
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.config import EmulatorConfig, JobsConfig
    from quantconnect_emulator.params import Params
    from quantconnect_emulator.resources.compiles import Compiles
    from quantconnect_emulator.resources.optimizations import (
        GRID_STRATEGY,
        Optimizations,
        parse_request,
        render,
    )
    from quantconnect_emulator.resources.projects import Projects

    jobs = JobsConfig(compile_seconds=0, backtest_seconds=10, optimization_new_seconds=5)
    account = Account(EmulatorConfig(seed=1, jobs=jobs), clock=TickingClock())
    project = Projects.of(account).create("Demo", "Py")
    build = Compiles.of(account).create(project.project_id)
    request = parse_request(Params({
        "projectId": project.project_id, "name": "o", "strategy": GRID_STRATEGY,
        "target": "TotalPerformance.PortfolioStatistics.SharpeRatio", "targetTo": "max",
        "compileId": build.compile_id,
        "parameters": [{"name": "fast", "min": 10, "max": 30, "step": 10}]}))
    optimizations = Optimizations.of(account)
    job = optimizations.create(request, "O2-8", 3, 1.0)
    for _ in range(30):  # through new, running and completed, a second per clock read
        with optimizations.one_instant():
            answer = render(optimizations, job)
        backtests = answer["backtests"].values()
        counts = answer["runtimeStatistics"]
        if answer["status"] == "completed":
            assert all(b["statistics"] for b in backtests), answer
            assert counts["Running"] == "0" and len(backtests) == 3
        running = sum(not b["statistics"] for b in backtests)
        assert str(running) == counts["Running"], answer
