"""End to end: the live deployments of ``prefect.yaml`` on a real server and process worker.

``deploy-live`` as shipped (gate first, paper trading), then ``monitor-live`` and ``stop-live``
narrowed to the project it deployed, each from ``run_deployment``. Shares the stack of
``conftest.py``; the test removes the live project it made.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from quantconnect_client import QuantConnectClient
from quantconnect_client.models.live import PAPER_NAMES
from tests.deployments.conftest import Stack

pytestmark = pytest.mark.e2e

DEPLOY = "deploy-live/deploy-live"
MONITOR = "monitor-live/monitor-live"
STOP = "stop-live/stop-live"
# The live project the shipped deploy-live form names.
LIVE_PROJECT = "Live/sma_crossover_py"


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


def _artifact_keys(stack: Stack, run_id: UUID) -> set[str]:
    with stack.client() as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key for a in artifacts if a.key}


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
