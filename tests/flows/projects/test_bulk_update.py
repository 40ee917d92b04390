"""The bulk-update flow on real Prefect against the emulator."""

from __future__ import annotations

import json
from uuid import UUID

import pydantic
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.common.options import RetryOptions
from flows.projects.bulk_update import bulk_update_projects, previous_files, restore_previous_files
from flows.projects.forms import BulkUpdateOptions
from tasks import update_projects
from tests.helpers import credentials_for, recorded_task_run, task_run_names
from tests.reliability.conftest import report_figures

pytestmark = pytest.mark.anyio


async def test_bulk_update_dry_run_then_apply(qc_emulator, credentials):
    client = credentials.get_client()
    ids = {
        name: client.projects.create(name, "Py").project_id
        for name in ("Strategies/Alpha", "Strategies/Beta", "Research/Gamma")
    }
    options = BulkUpdateOptions(
        folder="Strategies", description="Reviewed", file_name="main.py", file_content="# v2\n"
    )
    planned = await bulk_update_projects(options, credentials=credentials)
    assert [item.name for item in planned] == ["Strategies/Alpha", "Strategies/Beta"]
    assert all(item.action.startswith("would set") for item in planned)
    assert client.projects.read(ids["Strategies/Alpha"]).description in (None, "")

    applied = await bulk_update_projects(
        options.model_copy(update={"dry_run": False, "max_concurrency": 2}),
        credentials=credentials,
    )
    assert [item.action for item in applied] == ["set description, file main.py"] * 2
    for name in ("Strategies/Alpha", "Strategies/Beta"):
        assert client.projects.read(ids[name]).description == "Reviewed"
        assert client.files.read(ids[name], "main.py").content == "# v2\n"
    assert client.projects.read(ids["Research/Gamma"]).description != "Reviewed"
    assert qc_emulator.stats()["peak_in_flight"] <= 2


def test_bulk_update_needs_a_change():
    with pytest.raises(pydantic.ValidationError, match="nothing to change"):
        BulkUpdateOptions(folder="Strategies")
    with pytest.raises(pydantic.ValidationError, match="go together"):
        BulkUpdateOptions(file_name="main.py")


async def test_bulk_update_runs_in_batches_and_isolates_a_failed_project(qc_emulator):
    # No client retries: the injected 503 fails one project's update for good.
    credentials = credentials_for(qc_emulator, max_attempts=1)
    client = credentials.get_client()
    ids = [client.projects.create(f"Batch/P{i}", "Py").project_id for i in range(5)]
    qc_emulator.inject("http_503_html", path="/projects/update", count=1)
    options = BulkUpdateOptions(
        folder="Batch", description="Reviewed", dry_run=False, batch_size=2, max_concurrency=1,
        retries=RetryOptions(task_retries=0),
    )
    state = await bulk_update_projects(options, credentials=credentials, return_state=True)

    assert state.is_failed()
    error = await state.result(raise_on_failure=False)  # type: ignore[misc]
    assert isinstance(error, RuntimeError) and "1 of 5 updates failed" in str(error)
    descriptions = [client.projects.read(i).description for i in ids]
    assert descriptions[0] != "Reviewed" and descriptions[1:] == ["Reviewed"] * 4
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    # 5 projects in batches of 2: three task runs, not one (or two) per project.
    names = await task_run_names(flow_run_id, at_least=4)
    assert names == ["list-projects"] + ["update-projects"] * 3
    async with get_client() as prefect:
        artifacts = await prefect.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    [artifact] = [a for a in artifacts if a.key == "quantconnect-bulk-update"]
    rows = json.loads(str(artifact.data))  # a table artifact's data: its rows as JSON
    assert [row["action"] for row in rows] == ["failed"] + ["set description"] * 4
    assert "503" in str(rows[0]["error"])


async def test_update_projects_refuses_an_empty_change_without_retrying(qc_emulator, credentials):
    @flow
    async def nothing() -> tuple[UUID | None, object]:
        state = await update_projects(credentials, [1, 2], return_state=True)  # type: ignore[misc]
        error = await state.result(raise_on_failure=False)  # type: ignore[misc]
        return state.state_details.task_run_id, error

    task_run_id, error = await nothing()
    assert isinstance(error, ValueError) and "nothing to change" in str(error)
    assert qc_emulator.requests_log() == []  # refused before any request
    assert update_projects.retries > 0  # it could have been retried...
    assert task_run_id is not None
    task_run = await recorded_task_run(task_run_id)
    assert task_run.run_count == 1  # ...but a permanent error is not


async def test_a_transient_failure_is_retried_for_that_project_only(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    client = credentials.get_client()
    ids = [client.projects.create(f"Retry/P{i}", "Py").project_id for i in range(3)]
    qc_emulator.inject("http_503_html", path="/projects/update", count=1)
    options = BulkUpdateOptions(
        folder="Retry", description="Reviewed", dry_run=False, max_concurrency=1,
        retries=RetryOptions(task_retries=1, retry_delay_seconds=0),
    )
    items = await bulk_update_projects(options, credentials=credentials)
    assert [item.action for item in items] == ["set description"] * 3
    assert all(client.projects.read(pid).description == "Reviewed" for pid in ids)
    updates = [r["project_id"] for r in qc_emulator.requests_log()
               if r["path"] == "/projects/update"]
    assert updates == [ids[0], ids[1], ids[2], ids[0]]  # the retry redid the failed one only


@pytest.mark.parametrize("pattern", ["*", "**", "*?*", "?*", "*[!\x00]*"])
@pytest.mark.parametrize("folder", [None, "", "/", " / "])
def test_a_real_run_over_every_project_must_be_confirmed(pattern, folder):
    with pytest.raises(pydantic.ValidationError, match="all_projects"):
        BulkUpdateOptions(description="x", dry_run=False, name_pattern=pattern, folder=folder)


async def test_a_pattern_that_happens_to_match_every_project_is_refused(qc_emulator, credentials):
    client = credentials.get_client()
    ids = [client.projects.create(name, "Py").project_id for name in ("alpha", "beta/gamma")]
    seeded = len(qc_emulator.requests_log())
    options = BulkUpdateOptions(
        name_pattern="[a-z]*", file_name="main.py", file_content="# oops\n", dry_run=False
    )
    with pytest.raises(ValueError, match="matches all 2 live projects"):
        await bulk_update_projects(options, credentials=credentials)
    writes = [r for r in qc_emulator.requests_log()[seeded:] if r["path"] != "/projects/read"]
    assert writes == []
    assert all(client.files.read(pid, "main.py").content != "# oops\n" for pid in ids)
    # Confirmed, the same selection runs.
    confirmed = options.model_copy(update={"all_projects": True})
    assert len(await bulk_update_projects(confirmed, credentials=credentials)) == 2
    report_figures(
        "bulk update: patterns that select every project",
        ["refused without all_projects before any request: '*', '**', '*?*', '?*', "
         "'*[!\\x00]*' (by what they match); '[a-z]*' over an all-lower-case account "
         "(by the account's names): 0 writes"],
    )


@pytest.mark.parametrize(
    "name", ["../main.py", "", "Strategies//main.py", "/main.py", "a:b.py", "a?.py", " lead.py"]
)
def test_a_file_name_the_service_refuses_is_refused_before_the_run(name):
    with pytest.raises(pydantic.ValidationError, match="file_name"):
        BulkUpdateOptions(folder="Strategies", file_name=name, file_content="x")


async def test_a_file_overwrite_keeps_what_it_replaced_and_can_be_undone(qc_emulator, credentials):
    client = credentials.get_client()
    ids = [client.projects.create(f"Undo/P{i}", "Py").project_id for i in range(3)]
    originals = {}
    for i, pid in enumerate(ids):
        client.files.update(pid, "main.py", f"# original {i}\n")
        originals[pid] = f"# original {i}\n"
    options = BulkUpdateOptions(
        folder="Undo", file_name="main.py", file_content="# wrong\n", dry_run=False,
        batch_size=2,
    )
    state = await bulk_update_projects(options, credentials=credentials, return_state=True)
    items = await state.aresult()
    assert all(client.files.read(pid, "main.py").content == "# wrong\n" for pid in ids)
    assert [item.previous_file for item in items] == ["13 characters kept"] * 3
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    kept = await previous_files(run_id)
    assert {row["project_id"]: row["previous_content"] for row in kept} == originals

    assert await restore_previous_files(str(run_id), credentials=credentials) == 3
    assert {pid: client.files.read(pid, "main.py").content for pid in ids} == originals
    report_figures(
        "bulk update: a wrong file overwrite undone",
        [f"3 projects overwritten; previous contents kept for {len(kept)} (artifact "
         "quantconnect-bulk-update-previous-files); restore_previous_files put back 3/3"],
    )


def test_a_real_run_over_every_project_can_be_confirmed():
    assert BulkUpdateOptions(description="x", dry_run=False, all_projects=True).all_projects
    assert not BulkUpdateOptions(description="x", dry_run=False, folder="Strategies").dry_run
    assert BulkUpdateOptions(description="x").dry_run  # a dry run may look at everything
