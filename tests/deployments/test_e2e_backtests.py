"""End to end: the backtest deployments of ``prefect.yaml`` on a real server and process worker.

The nightly backtest (with its regression gate) from the CLI and from ``run_deployment``, the
grid, the optimizer and the live trio (deploy, monitor, stop) from ``run_deployment``, and
invalid forms refused before a run exists. A stack of
``conftest.py`` of its own; its teardown checks that no temporary project is left.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from deployments import REPO_ROOT
from flows.common.temporary import temporary_run_id
from quantconnect_client import RECYCLE_BIN_PREFIX, QuantConnectClient
from quantconnect_client.models.live import PAPER_NAMES
from tests.deployments.conftest import Stack
from tests.deployments.stack import PREFECT

pytestmark = pytest.mark.e2e

NIGHTLY = "backtest-strategy/nightly-backtest"
GRID = "backtest-grid/grid"
OPTIMIZER = "optimize-strategy/optimizer"
DEPLOY = "deploy-live/deploy-live"
MONITOR = "monitor-live/monitor-live"
STOP = "stop-live/stop-live"
# The live project the shipped deploy-live form names.
LIVE_PROJECT = "Live/sma_crossover_py"


def _backtests_created(stack: Stack) -> int:
    # The counter appears with the account's first backtest.
    return int(stack.emulator.stats()["store"].get("backtests_created", 0))


def _nothing_running_or_left(stack: Stack) -> None:
    assert stack.emulator.stats()["running_backtests"] == 0
    names = [p["name"].removeprefix(RECYCLE_BIN_PREFIX) for p in stack.emulator.projects()]
    assert [n for n in names if temporary_run_id(n) is not None] == []


def _artifact_keys(stack: Stack, run_id: UUID) -> set[str]:
    with stack.client() as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key for a in artifacts if a.key}


def test_nightly_backtest_runs_from_the_cli_and_from_run_deployment(stack: Stack) -> None:
    created_before = _backtests_created(stack)
    cli = subprocess.run(
        [PREFECT, "--no-prompt", "deployment", "run", NIGHTLY],
        env=stack.server.env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr
    found = re.search(r"UUID: ([0-9a-f-]{36})", cli.stdout)
    assert found, cli.stdout
    # The CLI's run is scheduled; this one is awaited. Both run on the worker, one at a time
    # (CANCEL_NEW would cancel a second while the first runs, so wait for the first).
    [from_cli] = stack.wait_for_runs([UUID(found.group(1))], timeout=240)
    awaited = stack.run_deployment(NIGHTLY, timeout=240, poll_interval=1)
    runs = [from_cli, *stack.wait_for_runs([awaited.id], timeout=240)]
    assert [r.state.type.value for r in runs] == ["COMPLETED"] * 2, stack.logs()
    # Each run made exactly one backtest, showed its report, and left nothing running.
    assert _backtests_created(stack) - created_before == 2
    for run in runs:
        assert "quantconnect-backtest-report" in _artifact_keys(stack, run.id)
    _nothing_running_or_left(stack)


def test_grid_runs_on_the_nodes_and_is_ranked(stack: Stack) -> None:
    created_before = _backtests_created(stack)
    options = {
        "strategy": {"strategy_folder": "strategies/sma_crossover_py"},
        "grid": {"fast": [5, 10], "slow": [30]},
        "max_concurrency": 2,
    }
    run = stack.run_deployment(GRID, parameters={"options": options}, timeout=240, poll_interval=1)
    [done] = stack.wait_for_runs([run.id], timeout=240)
    assert done.state is not None and done.state.type.value == "COMPLETED", stack.logs()
    assert _backtests_created(stack) - created_before == 2
    assert stack.emulator.stats()["peak_running_backtests"] <= stack.emulator.stats()[
        "backtest_nodes"
    ]
    assert "quantconnect-backtest-grid" in _artifact_keys(stack, run.id)
    _nothing_running_or_left(stack)


def test_the_optimizer_runs_on_demand_within_its_guard(stack: Stack) -> None:
    options = {
        "strategy": {"strategy_folder": "strategies/sma_crossover_py"},
        "parameters": [{"name": "fast", "min": 5, "max": 10, "step": 5}],
        "fixed": {"slow": 30},
        "parallel_nodes": 2,
    }
    run = stack.run_deployment(OPTIMIZER, parameters={"options": options}, timeout=240,
                               poll_interval=1)
    [done] = stack.wait_for_runs([run.id], timeout=240)
    assert done.state is not None and done.state.type.value == "COMPLETED", stack.logs()
    assert "quantconnect-optimization" in _artifact_keys(stack, run.id)
    _nothing_running_or_left(stack)


@pytest.mark.parametrize(
    ("deployment", "options", "said"),
    [
        (GRID, {"grid": {"fast": []}}, "grid"),
        (GRID, {"grid": {"fast": [True, False]}}, "fast"),
        (NIGHTLY, {"parameters": {"fast": {"nested": 1}}}, "parameters"),
        (OPTIMIZER, {"parameters": [{"name": "fast", "min": 5, "max": 20, "step": 0}]}, "step"),
        (OPTIMIZER, {"parameters": [{"name": "fast", "min": 5, "max": 20, "step": 5}],
                     "parallel_nodes": 99}, "parallel_nodes"),
    ],
    ids=["empty-grid", "bool-values", "nested-parameter", "zero-step", "too-many-nodes"],
)
def test_invalid_backtest_forms_are_refused_before_a_run_exists(
    stack: Stack, deployment: str, options: dict[str, object], said: str
) -> None:
    from prefect.exceptions import PrefectHTTPStatusError

    with stack.client() as client:
        before = len(client.read_flow_runs())
        with pytest.raises(PrefectHTTPStatusError) as refused:
            stack.run_deployment(deployment, parameters={"options": options}, timeout=0)
        assert refused.value.response.status_code == 409
        assert said in refused.value.response.text
        assert len(client.read_flow_runs()) == before
        if said != "grid":
            # The CLI goes through the same server-side check: one form is enough (each CLI
            # run is a new Python process importing Prefect, seconds of CPU).
            return
        cli = subprocess.run(
            [PREFECT, "--no-prompt", "deployment", "run", deployment,
             "--params", json.dumps({"options": options})],
            env=stack.server.env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
        )
        assert cli.returncode != 0, cli.stdout + cli.stderr
        assert len(client.read_flow_runs()) == before


@pytest.fixture
def qc(stack: Stack) -> Iterator[QuantConnectClient]:
    client = QuantConnectClient(
        stack.emulator.user_id, stack.emulator.api_token, base_url=stack.emulator.base_url
    )
    try:
        yield client
    finally:
        # Whatever the test reached: nothing stays live, and the project goes.
        for project in client.projects.list():
            if project.name == LIVE_PROJECT:
                if client.live.list(project_id=project.project_id, status="Running"):
                    client.live.stop(project.project_id)
                client.projects.purge(project.project_id)
        client.close()


def _completed(stack: Stack, name: str, options: dict[str, object] | None = None) -> UUID:
    parameters = {"options": options} if options is not None else None
    run = stack.run_deployment(name, parameters=parameters, timeout=240, poll_interval=1)
    [done] = stack.wait_for_runs([run.id], timeout=240)
    assert done.state is not None and done.state.type.value == "COMPLETED", stack.logs()
    return UUID(str(run.id))


def test_deploy_monitor_and_stop_live_run_on_the_worker(stack: Stack,
                                                        qc: QuantConnectClient) -> None:
    deployed = _completed(stack, DEPLOY)
    assert "quantconnect-live-deploy" in _artifact_keys(stack, deployed)
    running = qc.live.list(status="Running")
    assert len(running) == 1, running
    [project_id] = [algorithm.project_id for algorithm in running]
    assert project_id is not None
    assert [p.name for p in qc.projects.list() if p.project_id == project_id] == [LIVE_PROJECT]
    # Paper trading: the shipped form never reaches a real brokerage.
    brokerage = qc.live.read(project_id).brokerage or ""
    assert brokerage.lower() in PAPER_NAMES, brokerage

    monitored = _completed(stack, MONITOR, {"project_ids": [project_id], "on_alarm": "none"})
    assert "quantconnect-live-monitor" in _artifact_keys(stack, monitored)
    # The monitor only reads: the algorithm still runs.
    assert len(qc.live.list(project_id=project_id, status="Running")) == 1

    stopped = _completed(stack, STOP, {"project_ids": [project_id]})
    assert "quantconnect-live-stop" in _artifact_keys(stack, stopped)
    assert qc.live.list(status="Running") == []
