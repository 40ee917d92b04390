"""The temporary-project lifecycle flow on real Prefect against the emulator."""

from __future__ import annotations

import asyncio

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.common.options import RetryOptions
from flows.projects.forms import LifecycleOptions
from flows.projects.lifecycle import VerificationError, temporary_project_lifecycle
from quantconnect_client import AuthenticationError
from tests.flows.conftest import FAST_RETRIES
from tests.helpers import credentials_for

pytestmark = pytest.mark.anyio


def api_calls(emulator, path):
    return [r for r in emulator.requests_log() if r["path"].endswith(path)]


async def report_artifact(flow_run_id: str) -> str:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    [artifact] = [a for a in artifacts if a.key == "quantconnect-lifecycle-report"]
    return str(artifact.data)


async def test_happy_path_leaves_nothing_behind(qc_emulator, credentials):
    report = await temporary_project_lifecycle(credentials=credentials)
    assert report.outcome == "completed"
    assert [s.name for s in report.steps] == [
        "authenticate",
        "create",
        "verify created",
        "update",
        "verify updated",
        "delete",
        "verify deleted",
        "purge",
        "verify purged",
    ]
    assert all(step.ok for step in report.steps)
    assert report.project_name == f"prefect-tmp-{report.flow_run_id}"
    assert report.renamed_to == f"{report.project_name}-renamed"
    assert qc_emulator.projects() == []  # purged, not even in the recycle bin
    assert len(api_calls(qc_emulator, "/projects/create")) == 1
    assert report.flow_run_id is not None
    markdown = await report_artifact(report.flow_run_id)
    assert "completed" in markdown and str(report.project_id) in markdown


async def test_csharp_without_purge_leaves_only_a_recycle_bin_entry(qc_emulator, credentials):
    options = LifecycleOptions(language="C#", purge=False)
    report = await temporary_project_lifecycle(options=options, credentials=credentials)
    assert report.outcome == "completed"
    [left] = qc_emulator.projects()
    assert left["name"] == f"Recycle Bin/{report.renamed_to}"


async def test_transient_faults_are_retried_by_the_client(qc_emulator, credentials):
    qc_emulator.inject("http_502_html", path="/projects/create", count=1)
    qc_emulator.inject("http_500_empty", path="/projects/read", count=1)
    qc_emulator.inject("http_429", path="/projects/update", count=1)
    report = await temporary_project_lifecycle(credentials=credentials)
    assert report.outcome == "completed"
    creates = api_calls(qc_emulator, "/projects/create")
    assert len(creates) == 2
    assert int(creates[1]["timestamp"]) >= int(creates[0]["timestamp"])
    assert qc_emulator.projects() == []


async def test_transient_faults_are_retried_by_prefect_when_the_client_gives_up(qc_emulator):
    # One attempt per task run in the client: the retry must come from Prefect.
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.inject("http_503_html", path="/files/read", count=1)
    qc_emulator.inject("ambiguous_write", path="/projects/create", count=1)
    options = LifecycleOptions(retries=RetryOptions(**FAST_RETRIES))
    report = await temporary_project_lifecycle(options=options, credentials=credentials)
    assert report.outcome == "completed"
    assert len(api_calls(qc_emulator, "/files/read")) == 2
    # The create's answer was lost; the retried task adopted the project instead of a second.
    assert len(api_calls(qc_emulator, "/projects/create")) == 1
    assert qc_emulator.stats()["store"]["projects_created"] == 1
    assert qc_emulator.projects() == []


async def test_ambiguous_create_leaves_exactly_one_project(qc_emulator, credentials):
    qc_emulator.inject("ambiguous_write", path="/projects/create", count=1)
    report = await temporary_project_lifecycle(credentials=credentials)
    assert report.outcome == "completed"
    assert qc_emulator.stats()["store"]["projects_created"] == 1
    assert qc_emulator.projects() == []


async def test_failed_verification_still_deletes_the_project(qc_emulator, credentials):
    options = LifecycleOptions(expected_files=["main.py", "strategy.py"])
    state = await temporary_project_lifecycle(
        options=options, credentials=credentials, return_state=True
    )
    assert state.is_failed()
    with pytest.raises(VerificationError, match=r"missing files: strategy\.py"):
        await state.aresult()
    assert len(api_calls(qc_emulator, "/projects/create")) == 1
    assert qc_emulator.projects() == []
    markdown = await report_artifact(str(state.state_details.flow_run_id))
    assert "failed" in markdown and "removed 1 project" in markdown


async def test_safety_net_finds_a_project_whose_create_answer_never_came(qc_emulator):
    # The only create attempt's answer is lost; the project exists nevertheless.
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.inject("ambiguous_write", path="/projects/create", count=1)
    options = LifecycleOptions(retries=RetryOptions(task_retries=0, retry_delay_seconds=0))
    state = await temporary_project_lifecycle(
        options=options, credentials=credentials, return_state=True
    )
    assert state.is_failed()
    assert qc_emulator.stats()["store"]["projects_created"] == 1
    assert qc_emulator.projects() == []


async def test_a_flow_timeout_still_removes_the_project(qc_emulator):
    # The update stalls past the flow's own timeout: Prefect cancels the run's scope, and the
    # shielded clean-up must still purge the project.
    credentials = credentials_for(qc_emulator, read_timeout=10.0)
    qc_emulator.set_faults(slow_response_seconds=6)
    qc_emulator.inject("slow_response", path="/projects/update", count=1)
    timed = temporary_project_lifecycle.with_options(timeout_seconds=2)
    state = await timed(credentials=credentials, return_state=True)
    assert state.is_failed()
    assert state.name == "TimedOut"
    assert qc_emulator.projects() == []
    markdown = await report_artifact(str(state.state_details.flow_run_id))
    assert "removed 1 project" in markdown


async def test_an_auth_failure_fails_the_run_before_anything_is_made(qc_emulator, caplog):
    # That it is not retried is the retry rule's (tests/flows/common/test_task_retries.py).
    credentials = credentials_for(qc_emulator, api_token="not-the-token")
    options = LifecycleOptions(retries=RetryOptions(**FAST_RETRIES))
    state = await temporary_project_lifecycle(
        options=options, credentials=credentials, return_state=True
    )
    assert state.is_failed()
    with pytest.raises(AuthenticationError, match="Hash doesn't match"):
        await state.aresult()
    assert [r["path"] for r in qc_emulator.requests_log()] == ["/authenticate"]
    assert "Safety net" not in caplog.text  # nothing was made, so nothing to clean up
    assert "could not remove" not in caplog.text


async def test_a_project_binned_by_someone_else_mid_run_fails_verification(qc_emulator):
    # The run is held on its first file listing; meanwhile another hand moves the project to
    # the recycle bin. The run must not report "completed" for a project it no longer holds.
    credentials = credentials_for(qc_emulator, read_timeout=30)
    qc_emulator.set_faults(slow_response_seconds=3)
    qc_emulator.inject("slow_response", path="/files/read", count=1)
    run = asyncio.ensure_future(
        temporary_project_lifecycle(credentials=credentials, return_state=True)
    )
    while qc_emulator.emulator.faults.pending_injections():
        await asyncio.sleep(0.05)
    [project] = qc_emulator.projects()
    credentials.get_client().projects.delete(project["projectId"])  # someone else's delete
    state = await run

    assert state.is_failed()
    with pytest.raises(VerificationError, match="left this run's hands"):
        await state.aresult()
    assert qc_emulator.projects() == []  # and it is still removed
