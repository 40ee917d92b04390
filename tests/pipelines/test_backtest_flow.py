"""The backtest-strategy flow on real Prefect against the emulator: every way it can end, and
that nothing is left behind (no project, no running backtest)."""

from __future__ import annotations

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.backtest import backtest_strategy
from flows.backtest_params import BacktestOptions
from tests.helpers import credentials_for

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]

#: Task-level retries without waiting, so fault tests stay fast.
FAST = {"task_retries": 2, "retry_delay_seconds": 0}


@pytest.fixture
def emulator(qc_emulator):
    """Quick jobs: a compile of 0.2 s, a backtest of 0.5 s, results settling 0.2 s later."""
    qc_emulator.set_jobs(compile_seconds=0.2, backtest_seconds=0.5,
                         total_performance_lag_seconds=0.2)
    return qc_emulator


@pytest.fixture
def credentials(emulator):
    return credentials_for(emulator)


def running(emulator):
    return [b for b in emulator.backtests() if not str(b.get("status", "")).startswith(
        ("Completed", "Runtime Error"))]


async def artifact_markdown(flow_run_id: str, key: str = "quantconnect-backtest-report") -> str:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    [artifact] = [a for a in artifacts if a.key == key]
    return str(artifact.data)


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
