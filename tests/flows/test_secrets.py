"""The token never reaches the Prefect API: run logs, parameters, task runs, artifacts."""

from __future__ import annotations

import base64

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.logging.handlers import APILogHandler

from flows.lifecycle import temporary_project_lifecycle
from flows.parameters import LifecycleOptions
from quantconnect_emulator import EmulatorServer
from tests.helpers import credentials_for

pytestmark = pytest.mark.anyio

TOKEN = "qc-token-5e1f2a9b-do-not-leak"


async def everything_the_api_holds_about(flow_run_id) -> str:
    await APILogHandler.aflush()  # logs travel to the API in batches
    async with get_client() as client:
        flow_run = await client.read_flow_run(flow_run_id)
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
        task_runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id]))
        )
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    parts = [flow_run.model_dump_json()]
    parts += [log.model_dump_json() for log in logs]
    parts += [task_run.model_dump_json() for task_run in task_runs]
    parts += [artifact.model_dump_json() for artifact in artifacts]
    assert logs and task_runs and artifacts  # there was something to look at
    return "\n".join(parts)


@pytest.mark.parametrize("outcome", ["completed", "failed"])
async def test_token_absent_from_logs_parameters_and_artifacts(outcome):
    with EmulatorServer(api_token=TOKEN) as emulator:
        credentials = credentials_for(emulator)
        options = LifecycleOptions(expected_files=None if outcome == "completed" else ["x.py"])
        emulator.inject("http_502_html", path="/projects/read", count=1)
        state = await temporary_project_lifecycle(
            options=options, credentials=credentials, return_state=True
        )
        assert state.is_completed() == (outcome == "completed")
        text = await everything_the_api_holds_about(state.state_details.flow_run_id)
    assert TOKEN not in text
    assert base64.b64encode(TOKEN.encode()).decode() not in text
    assert "**********" in text  # the block parameter is stored masked
