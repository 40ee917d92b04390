"""The backtest-strategy flow on real Prefect against the emulator: every way it can end, and
that nothing is left behind (no project, no running backtest)."""

from __future__ import annotations

import uuid

import pytest

from flows.backtests.forms import BacktestOptions
from flows.backtests.gate import GateOptions
from flows.backtests.strategy import backtest_strategy
from tests.flows.backtests.helpers import (
    FAST,
    INIT_RAISES,
    artifact_markdown,
    artifacts_of,
    existing_project,
    paths,
    running,
    strategy_folder,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]



async def test_the_python_example_backtests_reports_and_leaves_nothing(emulator, credentials):
    options = BacktestOptions(parameters={"fast": 5, "slow": 20}, retries=FAST)
    report = await backtest_strategy(options=options, credentials=credentials)
    assert report.outcome == "completed"
    assert report.statistics["Sharpe Ratio"] and report.runtime_statistics["Equity"]
    assert report.simulated and report.link is None
    assert emulator.projects() == [] and running(emulator) == []
    markdown = await artifact_markdown(str(report.flow_run_id))
    assert "SIMULATED by the offline emulator" in markdown
    assert "data:image/svg+xml;base64," in markdown
    assert "fast=5, slow=20" in markdown
    assert report.period is not None and f"- Period: {report.period}" in markdown
    [progress] = [a for a in await artifacts_of(str(report.flow_run_id)) if a.type == "progress"]
    assert progress.data == 100.0 and str(report.backtest_id) in str(progress.description)


async def failed_run(**kwargs):
    """Run the flow expecting it to fail: (the exception, the flow run id)."""
    state = await backtest_strategy(return_state=True, **kwargs)
    assert state.is_failed(), state
    error = await state.aresult(raise_on_failure=False)
    return error, str(state.state_details.flow_run_id)


async def test_a_folder_the_service_would_refuse_fails_before_any_request(emulator, credentials,
                                                                          tmp_path):
    from flows.backtests.strategy_folder import StrategyFolderError

    folder = tmp_path / "empty"
    folder.mkdir()
    options = BacktestOptions.model_validate({"strategy": {"strategy_folder": str(folder)}})
    with pytest.raises(StrategyFolderError, match="it is empty"):
        await backtest_strategy(options=options, credentials=credentials)
    assert emulator.requests_log() == []


async def test_a_build_error_fails_with_its_logs_and_leaves_nothing(emulator, credentials,
                                                                    tmp_path):
    from quantconnect_client.errors import BuildError

    folder = strategy_folder(tmp_path, "def initialize(self:\n    pass\n")
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": folder}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, BuildError) and "main.py" in str(error)
    markdown = await artifact_markdown(run_id)
    assert markdown.startswith("# 🛠️ Backtest my_strategy: build error")
    assert "## Build logs" in markdown and "Line 1" in markdown
    assert emulator.projects() == []
    assert paths(emulator, "/backtests/create") == []


async def test_a_runtime_error_in_initialize_is_reported_and_cleaned_up(emulator, credentials,
                                                                        tmp_path):
    from quantconnect_client.errors import BacktestRuntimeError

    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": strategy_folder(tmp_path, INIT_RAISES)},
         "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, BacktestRuntimeError) and error.during_initialization
    markdown = await artifact_markdown(run_id)
    assert "runtime error" in markdown.splitlines()[0]
    assert emulator.projects() == [] and emulator.stats()["running_backtests"] == 0


async def test_a_runtime_error_later_on_in_an_existing_project(emulator, credentials):
    from quantconnect_client.errors import BacktestRuntimeError

    project_id = await existing_project(emulator, credentials)
    emulator.force_runtime_error(project_id, message="Division by zero in on_data",
                                 at_progress=0.5)
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, BacktestRuntimeError) and not error.during_initialization
    assert "Division by zero" in str(error)
    markdown = await artifact_markdown(run_id)
    assert "Division by zero in on_data" in markdown
    [project] = emulator.projects()  # the user's project stays
    assert project["projectId"] == project_id
    assert paths(emulator, "/backtests/chart/read") == []  # a failed backtest has no chart


async def test_the_chart_is_read_while_the_final_results_settle_and_the_report_is_whole(
    emulator, credentials
):
    # totalPerformance a while after completion: the chart, which needs only a completed
    # backtest, is read in that while, before the read that brings the final results.
    emulator.set_jobs(total_performance_lag_seconds=2)
    project_id = await existing_project(emulator, credentials)
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id}, "retries": FAST})
    report = await backtest_strategy(options=options, credentials=credentials)
    assert report.outcome == "completed" and report.statistics["Sharpe Ratio"]
    [backtest] = emulator.backtests()
    assert backtest["settled_at"] is not None
    order = paths(emulator, "/backtests/read", "/backtests/chart/read")
    assert order.count("/backtests/chart/read") == 1
    assert order.index("/backtests/chart/read") < len(order) - 1  # reads came after it
    assert order[-1] == "/backtests/read"  # the one with the final results
    markdown = await artifact_markdown(str(report.flow_run_id))
    assert "data:image/svg+xml;base64," in markdown and "## All statistics" in markdown


async def test_an_existing_project_is_backtested_and_kept_with_its_backtest(emulator,
                                                                           credentials):
    project_id = await existing_project(emulator, credentials)
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id},
         "backtest_name": "nightly", "retries": FAST})
    report = await backtest_strategy(options=options, credentials=credentials)
    assert report.outcome == "completed" and not report.temporary_project
    assert report.strategy == f"project {project_id}"
    [backtest] = emulator.backtests()
    assert backtest["name"] == f"prefect {report.flow_run_id} nightly"
    assert backtest["status"] == "Completed." and len(emulator.projects()) == 1


async def test_delete_backtest_removes_the_finished_backtest_of_an_existing_project(
    emulator, credentials
):
    project_id = await existing_project(emulator, credentials)
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id},
         "delete_backtest": True, "retries": FAST})
    report = await backtest_strategy(options=options, credentials=credentials)
    assert emulator.backtests() == [] and len(emulator.projects()) == 1
    assert report.cleanup == [f"deleted backtest {report.backtest_id} as asked"]


async def test_the_deadline_deletes_the_running_backtest_and_says_so(emulator, credentials):
    from flows.backtests.pipeline import BacktestDeadlineError

    emulator.set_jobs(backtest_seconds=3600)
    options = BacktestOptions.model_validate(
        {"limits": {"backtest_timeout_minutes": 0.02}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, BacktestDeadlineError)
    assert "did not finish within 0.02 min; it was deleted" in str(error)
    assert emulator.stats()["running_backtests"] == 0 and emulator.projects() == []
    # Deleted by the run before its project went (not only with it).
    assert paths(emulator, "/backtests/delete", "/projects/delete")[0] == "/backtests/delete"
    markdown = await artifact_markdown(run_id)
    assert markdown.startswith("# ⌛ Backtest sma_crossover_py: timed out")
    assert "at the deadline" in markdown


async def test_cancelling_the_run_while_its_backtest_runs_deletes_it_first(emulator,
                                                                           credentials):
    import anyio

    emulator.set_jobs(backtest_seconds=3600)
    options = BacktestOptions(retries=FAST)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: backtest_strategy(options=options, credentials=credentials))
        with anyio.fail_after(120):  # a bound on the wait, not a timing assertion
            while not emulator.backtests():
                await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert emulator.stats()["running_backtests"] == 0 and emulator.projects() == []
    deletes = paths(emulator, "/backtests/delete", "/projects/delete")
    assert deletes[0] == "/backtests/delete" and "/projects/delete" in deletes


async def test_a_regression_fails_the_run_with_the_table(emulator, credentials):
    from flows.backtests.gate import RegressionError

    options = BacktestOptions.model_validate(
        {"gate": {"thresholds": {"Sharpe Ratio": {"min": 1000}}}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, RegressionError)
    assert "| Sharpe Ratio | min 1000 |" in str(error)
    # The whole report travels with the error: a caller sees the numbers without the UI.
    assert error.report.outcome == "regression" and "Sharpe Ratio" in error.report.statistics
    assert error.report.parameters == options.parameters
    markdown = await artifact_markdown(run_id)
    assert markdown.startswith("# 📉 Backtest sma_crossover_py: regression")
    assert "### Regression gate: REGRESSION" in markdown
    # The error line names the regression; the table is the verdict's, not flattened into it.
    assert error.report.error == ("RegressionError: the regression gate found 1 regression(s) "
                                  "(Sharpe Ratio); the verdict is below")
    assert emulator.projects() == []


async def test_no_regression_passes_and_a_baseline_is_compared_once_accepted(emulator,
                                                                           credentials):
    import uuid

    key = f"qc-baseline-test-{uuid.uuid4().hex[:8]}"
    gate = {"thresholds": {"Sharpe Ratio": {"min": -1000}}, "compare_to_baseline": True,
            "baseline_key": key}
    first = await backtest_strategy(
        options=BacktestOptions.model_validate(
            {"gate": {**gate, "accept_baseline": "if passed"}, "retries": FAST}),
        credentials=credentials)
    assert first.outcome == "completed" and first.gate is not None and first.gate.accepted
    assert first.gate.notes[0] == "no baseline yet: nothing to compare with"
    again = await backtest_strategy(
        options=BacktestOptions.model_validate({"gate": gate, "retries": FAST}),
        credentials=credentials)
    assert again.gate is not None and again.gate.passed and again.gate.baseline is not None
    assert again.statistics == first.statistics  # the same inputs, the same (simulated) results
    assert "Sharpe Ratio vs baseline" in again.gate.checked


async def test_the_csharp_example_backtests(emulator, credentials):
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": "strategies/sma_crossover_cs"}, "retries": FAST})
    report = await backtest_strategy(options=options, credentials=credentials)
    assert report.outcome == "completed" and report.language == "C#"
    assert emulator.projects() == []


async def test_a_lost_start_answer_does_not_start_a_second_backtest(credentials, emulator):
    emulator.inject("ambiguous_write", path="/backtests/create", count=1)
    report = await backtest_strategy(options=BacktestOptions(retries=FAST),
                                     credentials=credentials)
    assert report.outcome == "completed"
    assert len(paths(emulator, "/backtests/create")) >= 1
    assert emulator.stats()["peak_running_backtests"] == 1


async def test_the_gate_flow_on_its_own_gates_a_backtest_that_already_ran(emulator,
                                                                         credentials):
    from flows.backtests.forms import GateRunOptions
    from flows.backtests.gate import RegressionError
    from flows.backtests.strategy import regression_gate

    project_id = await existing_project(emulator, credentials)
    report = await backtest_strategy(
        options=BacktestOptions.model_validate(
            {"strategy": {"strategy_folder": None, "project_id": project_id}, "retries": FAST}),
        credentials=credentials)
    target = {"project_id": project_id, "backtest_id": report.backtest_id,
              "strategy_key": "sma_crossover_py", "retries": FAST}
    passing = GateRunOptions.model_validate(
        {**target, "gate": {"thresholds": {"Total Orders": {"min": 0}}}})
    result = await regression_gate(options=passing, credentials=credentials)
    assert result.passed and result.checked == ["Total Orders min 0"]
    failing = GateRunOptions.model_validate(
        {**target, "gate": {"thresholds": {"Sharpe Ratio": {"min": 1000}}}})
    state = await regression_gate(options=failing, credentials=credentials, return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RegressionError) and "| Sharpe Ratio | min 1000 |" in str(error)
    markdown = await artifact_markdown(str(state.state_details.flow_run_id),
                                       "quantconnect-regression-gate")
    assert "### Regression gate: REGRESSION" in markdown and "| Sharpe Ratio |" in markdown


async def test_the_gate_flow_refuses_a_backtest_without_final_results(emulator, credentials):
    from flows.backtests.forms import GateRunOptions
    from flows.backtests.strategy import regression_gate

    project_id = await existing_project(emulator, credentials)
    client = credentials.get_client()
    compile_id = client.compiles.wait(project_id,
                                      client.compiles.create(project_id).compile_id).compile_id
    emulator.set_jobs(backtest_seconds=3600)
    running = client.backtests.create(project_id, compile_id, "still running")
    options = GateRunOptions.model_validate(
        {"project_id": project_id, "backtest_id": running.backtest_id, "strategy_key": "s",
         "gate": {"thresholds": {"Sharpe Ratio": {"min": 0}}}})
    with pytest.raises(ValueError, match="no final results yet"):
        await regression_gate(options=options, credentials=credentials)


async def test_the_gate_flow_refuses_a_failed_backtest_that_has_statistics():
    import json

    from flows.backtests.forms import GateRunOptions
    from flows.backtests.strategy import regression_gate
    from quantconnect_client.errors import BacktestRuntimeError
    from tasks.credentials import QuantConnectCredentials
    from tests.canned_http import CannedResponse, canned_server

    failed = json.dumps({"success": True, "backtest": {
        "backtestId": "a" * 32, "status": "Runtime Error", "completed": True, "progress": 1,
        "error": "boom", "statistics": {"Sharpe Ratio": "0.19"},
        "runtimeStatistics": {"Equity": "$1"},
        "totalPerformance": {"portfolioStatistics": {"sharpeRatio": 0.19}}}})
    with canned_server(CannedResponse(200, failed.encode(),
                                      {"Content-Type": "application/json"})) as srv:
        credentials = QuantConnectCredentials(user_id=1, api_token="t", base_url=srv.url)
        options = GateRunOptions.model_validate(
            {"project_id": 5, "backtest_id": "a" * 32, "strategy_key": "s", "retries": FAST,
             "gate": {"thresholds": {"Sharpe Ratio": {"min": 0}}}})
        state = await regression_gate(options=options, credentials=credentials,
                                      return_state=True)
        error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, BacktestRuntimeError) and "failed: boom" in str(error)
    assert state.is_failed()


async def test_the_gate_flow_takes_a_parameter_set_holding_non_scalars():
    import json

    from flows.backtests.forms import GateRunOptions
    from flows.backtests.gate import baseline_key, load_baseline
    from flows.backtests.strategy import regression_gate
    from tasks.credentials import QuantConnectCredentials
    from tests.canned_http import CannedResponse, canned_server

    done = json.dumps({"success": True, "backtest": {
        "backtestId": "a" * 32, "status": "Completed.", "completed": True, "progress": 1,
        "parameterSet": {"fast": 10.0, "on": True, "none": None, "nested": {"a": 1}},
        "statistics": {"Sharpe Ratio": "0.19"}, "runtimeStatistics": {"Equity": "$1"},
        "totalPerformance": {"portfolioStatistics": {"sharpeRatio": 0.19}}}})
    strategy = f"odd-params-{uuid.uuid4().hex[:8]}"
    with canned_server(CannedResponse(200, done.encode(),
                                      {"Content-Type": "application/json"})) as srv:
        credentials = QuantConnectCredentials(user_id=1, api_token="t", base_url=srv.url)
        options = GateRunOptions.model_validate(
            {"project_id": 5, "backtest_id": "a" * 32, "strategy_key": strategy,
             "retries": FAST, "gate": {"thresholds": {"Sharpe Ratio": {"min": 0}},
                                       "accept_baseline": "always"}})
        result = await regression_gate(options=options, credentials=credentials)
    assert result.passed and result.accepted
    stored = await load_baseline(baseline_key(strategy, simulated=True))
    assert stored is not None and stored.parameters == {
        "fast": "10", "on": "true", "none": "null", "nested": '{"a": 1}'}


async def test_a_failed_clean_up_of_an_existing_project_does_not_mask_the_runs_error(
    emulator, credentials
):
    from quantconnect_client.errors import BuildError

    project_id = await existing_project(emulator, credentials)
    emulator.force_build_error(project_id, message="the real error")
    emulator.inject("http_500_empty", path="/backtests/list", count=50)  # the clean-up's list
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, BuildError) and "the real error" in str(error)
    assert paths(emulator, "/backtests/list")  # the clean-up was tried, and failed
    markdown = await artifact_markdown(run_id)
    assert markdown.startswith("# 🛠️ Backtest")
    assert (f"- could not stop this run's running backtests in project {project_id}"
            in markdown)


async def test_a_completed_run_whose_clean_up_failed_fails_saying_so_and_keeps_its_results(
    emulator, credentials
):
    from flows.common.temporary import CleanupError

    project_id = await existing_project(emulator, credentials)
    emulator.inject("http_500_empty", path="/backtests/list", count=50)  # only the clean-up lists
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, CleanupError)
    assert f"could not stop this run's running backtests in project {project_id}" in str(error)
    assert "may still run" in str(error)
    [backtest] = emulator.backtests()
    assert backtest["status"] == "Completed."  # the work itself completed
    markdown = await artifact_markdown(run_id)
    assert "## Headline" in markdown and "Sharpe Ratio" in markdown  # the results are kept
    assert "CleanupError" in markdown and "## Clean-up" in markdown


async def run_texts(run_id: str) -> tuple[list[str], list[str]]:
    """Everything the run put into Prefect as text: its log messages (with their levels) and
    the state messages of the run and its task runs."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    await APILogHandler.aflush()
    logs: list[str] = []
    async with get_client() as client:
        while page := await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
            limit=200, offset=len(logs),
        ):
            logs += [f"{log.level} {log.message}" for log in page]
        run = await client.read_flow_run(uuid.UUID(run_id))
        tasks = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    states = [run.state.message or "" if run.state else "",
              *[(t.state.message or "") if t.state else "" for t in tasks]]
    return logs, states


async def test_a_3_mb_runtime_error_is_bounded_everywhere_and_kept_whole_by_the_error(
    emulator, credentials
):
    from quantconnect_client.errors import BacktestRuntimeError

    project_id = await existing_project(emulator, credentials)
    huge = "Boom: " + "x" * 3_000_000
    emulator.force_runtime_error(project_id, message=huge, at_progress=0.5)
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, BacktestRuntimeError) and error.error == huge  # kept whole
    assert len(str(error)) < 3_000
    assert "more characters cut; the whole text: BacktestRuntimeError.error]" in str(error)
    logs, states = await run_texts(run_id)
    assert max(len(state) for state in states) < 3_000, [len(s) for s in states]
    assert any("BacktestRuntimeError.error" in state for state in states)
    assert sum(len(line) for line in logs) < 50_000
    markdown = await artifact_markdown(run_id)
    assert len(markdown) < 30_000 and "Boom: xxx" in markdown
    # The report shows the message whole, with its note of where the whole error is.
    assert "more characters cut; the whole text: BacktestRuntimeError.error" in markdown


async def test_a_20000_line_build_log_is_logged_in_50_lines_and_kept_whole_by_the_error(
    emulator, credentials
):
    from quantconnect_client.errors import BuildError
    from quantconnect_emulator.resources.compiles import Compiles

    project_id = await existing_project(emulator, credentials)
    lines = [f"Build Error File: main.py Line {i} Column 1 - error {i}" for i in range(1, 20_001)]
    Compiles.of(emulator.emulator.account).forced_errors[project_id] = lines
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": None, "project_id": project_id}, "retries": FAST})
    error, run_id = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, BuildError) and list(error.logs) == lines  # kept whole
    logs, states = await run_texts(run_id)
    build_lines = [line for line in logs if "Build log:" in line]
    assert len(build_lines) == 51 and all(line.startswith("40 ") for line in build_lines)
    assert build_lines[-1].endswith("… [19,950 more lines cut; the whole log: BuildError.logs]")
    assert max(len(state) for state in states) < 3_000
    markdown = await artifact_markdown(run_id)
    assert len(markdown) < 30_000 and "19,950 more lines cut" in markdown


async def test_a_baseline_edited_into_nan_fails_the_run_before_any_request(emulator, credentials,
                                                                            tmp_path):
    # Found only after the backtest, it would have held a node for nothing.
    from prefect.variables import Variable

    from flows.backtests.gate import Baseline, baseline_key

    folder = strategy_folder(tmp_path, "x = 1\n", name=f"nan_{uuid.uuid4().hex[:8]}")
    key = baseline_key(folder.rsplit("/", 1)[-1], simulated=True)
    stored = Baseline(strategy="s", statistics={"Sharpe Ratio": 1.0}).model_dump(mode="json")
    stored["statistics"]["Sharpe Ratio"] = "NaN"
    await Variable.aset(key, stored)
    options = BacktestOptions.model_validate(
        {"strategy": {"strategy_folder": folder}, "gate": {"compare_to_baseline": True},
         "retries": FAST})
    error, _ = await failed_run(options=options, credentials=credentials)
    assert isinstance(error, ValueError) and repr(key) in str(error)
    assert "statistics.Sharpe Ratio" in str(error)
    assert emulator.requests_log() == []


async def test_the_gate_flow_refuses_an_edited_baseline_before_any_request(emulator,
                                                                             credentials):
    from prefect.variables import Variable

    from flows.backtests.forms import GateRunOptions
    from flows.backtests.gate import Baseline, baseline_key
    from flows.backtests.strategy import regression_gate

    strategy = f"edited-{uuid.uuid4().hex[:8]}"
    stored = Baseline(strategy=strategy, statistics={}).model_dump(mode="json")
    stored["statistics"]["Drawdown"] = "Infinity"
    await Variable.aset(baseline_key(strategy, simulated=True), stored)
    options = GateRunOptions(project_id=1, backtest_id="a" * 32, strategy_key=strategy,
                             gate=GateOptions(compare_to_baseline=True))
    state = await regression_gate(options=options, credentials=credentials, return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, ValueError) and "finite number" in str(error)
    assert emulator.requests_log() == []


async def test_the_equity_chart_is_asked_for_the_backtests_period():
    import json

    from prefect import flow

    from flows.backtests.forms import ReportOptions
    from flows.backtests.strategy import equity_chart
    from flows.common.options import RetryOptions
    from quantconnect_client.models import Backtest
    from tasks.credentials import QuantConnectCredentials
    from tests.canned_http import CannedResponse, canned_server

    chart = {"name": "Strategy Equity",
             "series": {"Equity": {"values": [[1704153600, 1.0], [1709251200, 2.0]]}}}
    answer = json.dumps({"success": True, "chart": chart}).encode()
    done = Backtest.model_validate({"backtestId": "a" * 32, "backtestStart": "2024-01-02",
                                    "backtestEnd": "2024-03-01"})
    with canned_server(CannedResponse(200, answer, {"Content-Type": "application/json"})) as srv:
        credentials = QuantConnectCredentials(user_id=1, api_token="t", base_url=srv.url)

        @flow
        async def draw() -> str | None:
            return await equity_chart(credentials, 5, "a" * 32, ReportOptions(),
                                      RetryOptions.model_validate(FAST), done)

        assert await draw()
        [body] = [json.loads(r["body"]) for r in srv.requests]
    assert (body["start"], body["end"]) == (1_704_153_600, 1_709_251_200 + 2 * 86_400)
