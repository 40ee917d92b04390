"""The optimize-strategy flow on the harness against the emulator: the cost guard before any
create, the optimization aborted on every ending, a lost create adopted, the report's chart."""

from __future__ import annotations

import base64
import re
from typing import Any

import anyio
import pytest

from flows.optimizations.forms import OptimizeOptions
from flows.optimizations.optimize import (
    CostGuardError,
    OptimizationAbortedError,
    OptimizationDeadlineError,
    optimize_strategy,
)
from tests.flows.backtests.helpers import FAST, artifact_markdown, existing_project, paths

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]

TWO = [{"name": "fast", "min": 5, "max": 15, "step": 5},
       {"name": "slow", "min": 30, "max": 60, "step": 30}]
KEY = "quantconnect-optimization"
#: The highest bounds the form takes: for tests whose backtests last an hour on the job clock.
NO_BOUND = {"max_node_hours": 10_000, "max_dollars": 100_000}


@pytest.fixture(autouse=True)
def _estimates_without_a_backtest(emulator):
    """Runs with ``reference_backtest: false`` skip the backtest QuantConnect wants before an
    estimate; the emulator then answers as if it had run (the default refuses, tested below)."""
    emulator.set_jobs(optimization_estimate_needs_backtest=False)


def options(**fields: Any) -> OptimizeOptions:
    base: dict[str, Any] = {"parameters": TWO, "retries": FAST, "parallel_nodes": 3}
    return OptimizeOptions.model_validate({**base, **fields})


async def failed_run(opts: OptimizeOptions, credentials) -> tuple[BaseException, str]:
    """Run an optimization that is to fail: its error and its flow run id."""
    with anyio.fail_after(120):  # a bound on the test, not a timing assertion
        state = await optimize_strategy(options=opts, credentials=credentials,
                                        return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, BaseException), error
    return error, str(state.state_details.flow_run_id)


def svg_of(markdown: str) -> str:
    (encoded,) = re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", markdown)
    return base64.b64decode(encoded).decode()


async def test_a_grid_of_two_parameters_is_ranked_with_a_heatmap_and_nothing_left(
    emulator, credentials
):
    emulator.set_jobs(optimization_estimate_needs_backtest=True)  # the reference one satisfies it
    with anyio.fail_after(120):
        report = await optimize_strategy(options=options(), credentials=credentials)
    assert report.outcome == "completed" and report.status == "completed"
    assert len(report.rows) == 6 == report.cost.backtests  # type: ignore[union-attr]
    assert len(paths(emulator, "/optimizations/create")) == 1
    assert len(paths(emulator, "/optimizations/estimate")) == 1
    # The reference backtest came first: QuantConnect estimates only after one.
    order = paths(emulator, "/backtests/create", "/optimizations/estimate")
    assert order[0] == "/backtests/create" and order[1] == "/optimizations/estimate"
    targets = [row.target or 0.0 for row in report.ranked() if row.status == "ok"]
    assert targets == sorted(targets, reverse=True) and report.best == report.ranked()[0]
    markdown = await artifact_markdown(str(report.flow_run_id), KEY)
    assert "Best parameters:" in markdown and "(SIMULATED)" in markdown
    svg = svg_of(markdown)
    assert "Sharpe Ratio by fast and slow" in svg and svg.count("<rect x=") == 6
    assert "3 x O2-8" in markdown and "node-hours" in markdown
    assert emulator.projects() == [] and emulator.stats()["running_backtests"] == 0


async def test_one_parameter_gets_a_line_and_the_best_point_rerun_gives_its_numbers(
    emulator, credentials
):
    pid = await existing_project(emulator, credentials)  # kept: its backtests can be read after
    opts = options(parameters=[{"name": "fast", "min": 5, "max": 20, "step": 5}],
                   fixed={"slow": 30}, verify_best=True,
                   strategy={"project_id": pid, "strategy_folder": None})
    with anyio.fail_after(120):
        report = await optimize_strategy(options=opts, credentials=credentials)
    assert report.best is not None and report.best_backtest_id
    markdown = await artifact_markdown(str(report.flow_run_id), KEY)
    assert svg_of(markdown).count("<circle") == 4
    # The emulator's optimizer and plain backtests share one simulation: the best point run
    # again as a backtest scores what the optimizer said.
    rerun = credentials.get_client().backtests.read(pid, report.best_backtest_id)
    assert rerun.parameter_set == {"fast": f"{report.best.parameters['fast']:g}", "slow": "30"}
    assert rerun.statistics is not None
    assert rerun.statistics.numbers()["Sharpe Ratio"] == pytest.approx(report.best.sharpe)


async def test_an_estimate_over_the_bound_creates_nothing_and_says_which_bound(
    emulator, credentials
):
    emulator.set_jobs(backtest_seconds=30.0)  # the estimate reads as 30 s a backtest
    opts = options(parameters=[{"name": "fast", "min": 1, "max": 400, "step": 1}],
                   guard={"max_node_hours": 1, "max_dollars": 100}, reference_backtest=False)
    error, run_id = await failed_run(opts, credentials)
    assert isinstance(error, CostGuardError) and "node-hours" in str(error)
    assert paths(emulator, "/optimizations/create") == []
    markdown = await artifact_markdown(run_id, KEY)
    assert "over budget" in markdown and "Not started" in markdown and "bound of 1" in markdown
    assert emulator.projects() == []


async def test_at_the_deadline_the_optimization_is_aborted_and_the_run_says_so(
    emulator, credentials
):
    emulator.set_jobs(backtest_seconds=3600.0)
    opts = options(timeout_minutes=0.03, reference_backtest=False, guard=NO_BOUND)
    error, run_id = await failed_run(opts, credentials)
    assert isinstance(error, OptimizationDeadlineError)
    assert len(paths(emulator, "/optimizations/abort")) == 1
    markdown = await artifact_markdown(run_id, KEY)
    assert "timed out" in markdown and "aborted optimization O-" in markdown


async def test_a_lost_create_answer_is_adopted_not_started_twice(emulator, credentials):
    pid = await existing_project(emulator, credentials)
    emulator.inject("ambiguous_write", path="/optimizations/create")
    opts = options(strategy={"project_id": pid, "strategy_folder": None},
                   reference_backtest=False)
    with anyio.fail_after(120):
        report = await optimize_strategy(options=opts, credentials=credentials)
    listed = credentials.get_client().optimizations.list(pid)
    assert [o.optimization_id for o in listed] == [report.optimization_id]
    assert report.outcome == "completed"


async def test_a_failed_run_on_an_existing_project_aborts_what_it_started(
    emulator, credentials
):
    pid = await existing_project(emulator, credentials)
    emulator.set_jobs(backtest_seconds=3600.0)
    opts = options(strategy={"project_id": pid, "strategy_folder": None}, timeout_minutes=0.03,
                   reference_backtest=False, guard=NO_BOUND)
    error, _ = await failed_run(opts, credentials)
    assert isinstance(error, OptimizationDeadlineError)
    (optimization,) = credentials.get_client().optimizations.list(pid)
    assert optimization.status == "aborted"
    assert any(p["projectId"] == pid for p in emulator.projects())  # the user's project stays


async def test_an_optimization_aborted_from_outside_fails_the_run_as_partial(
    emulator, credentials
):
    pid = await existing_project(emulator, credentials)
    emulator.set_jobs(backtest_seconds=2.0)
    opts = options(strategy={"project_id": pid, "strategy_folder": None},
                   reference_backtest=False, parallel_nodes=1, guard=NO_BOUND)
    client = credentials.get_client()

    async def abort_once_running() -> None:
        # Someone aborts it in QuantConnect's UI while the run waits.
        with anyio.fail_after(60):
            while True:
                running = [o for o in client.optimizations.list(pid) if not o.finished]
                if running:
                    await anyio.to_thread.run_sync(client.optimizations.abort,
                                                   running[0].optimization_id)
                    return
                await anyio.sleep(0.1)

    async with anyio.create_task_group() as group:
        group.start_soon(abort_once_running)
        error, run_id = await failed_run(opts, credentials)
    assert isinstance(error, OptimizationAbortedError) and "of 6 point(s) ran" in str(error)
    markdown = await artifact_markdown(run_id, KEY)
    assert "aborted" in markdown.splitlines()[0] and "✅" not in markdown


async def test_without_a_reference_backtest_the_estimate_is_refused_as_the_service_does(
    emulator, credentials
):
    emulator.set_jobs(optimization_estimate_needs_backtest=True)
    error, _ = await failed_run(options(reference_backtest=False), credentials)
    assert "backtest" in str(error) and paths(emulator, "/optimizations/create") == []
    assert len(paths(emulator, "/optimizations/estimate")) == 1  # refused: not retried
