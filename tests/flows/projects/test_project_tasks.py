"""Project tasks' read-back (``confirm``) and cached retry variants."""

from __future__ import annotations

import pytest
from prefect import flow

from flows.common.options import RetryOptions
from flows.projects.forms import LifecycleOptions
from flows.projects.lifecycle import temporary_project_lifecycle
from quantconnect_client import Project
from tasks import (
    ReadBackError,
    create_project,
    delete_project,
    delete_projects,
    read_project,
    update_project,
    update_projects,
    with_api_retries,
)
from tests.flows.conftest import FAST_RETRIES
from tests.helpers import credentials_for, task_run_names

pytestmark = pytest.mark.anyio


def paths(emulator) -> list[str]:
    return [r["path"] for r in emulator.requests_log()]


async def test_create_with_confirm_reads_the_project_back_in_the_same_task_run(
    qc_emulator, credentials
):
    @flow
    async def make() -> Project:
        return await create_project(credentials, "Confirm/create", "C#", confirm=True)

    project = await make()
    assert paths(qc_emulator) == ["/projects/create", "/projects/read"]
    assert (project.name, project.language) == ("Confirm/create", "C#")


async def test_a_failed_read_back_retries_the_task_without_a_second_project(qc_emulator):
    # No client retries: the failed read must fail the task run, and Prefect retries it.
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.inject("http_503_html", path="/projects/read", count=1)

    @flow
    async def make() -> Project:
        task = with_api_retries(create_project, FAST_RETRIES["task_retries"], 0)
        return await task(credentials, "Confirm/retried", "Py", confirm=True)

    project = await make()
    [only] = qc_emulator.projects()
    assert only["projectId"] == project.project_id
    # create, read back (503), then the retry reads the same project back by id: no second
    # create, and no search by name.
    assert paths(qc_emulator) == ["/projects/create", "/projects/read", "/projects/read"]


async def test_a_project_that_cannot_be_read_back_is_removed_by_id(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.inject("http_503_html", path="/projects/read", count=1)
    options = LifecycleOptions(
        authenticate_first=False, verify_files=False, retries=RetryOptions(task_retries=0)
    )
    state = await temporary_project_lifecycle(options, credentials, return_state=True)
    assert state.is_failed()
    error = await state.result(raise_on_failure=False)  # type: ignore[misc]
    assert isinstance(error, ReadBackError) and "reading it back failed" in str(error)
    assert qc_emulator.projects() == []  # the safety net purged it by the id the error carried
    listings = [r for r in qc_emulator.requests_log()
                if r["path"] == "/projects/read" and r["project_id"] is None]
    assert listings == []  # ...without searching by name


async def test_update_with_confirm_returns_the_project_read_back(qc_emulator, credentials):
    project_id = credentials.get_client().projects.create("Confirm/old", "Py").project_id

    @flow
    async def rename() -> tuple[Project | None, Project | None]:
        quiet = await update_project(credentials, project_id, description="first")
        loud = await update_project(credentials, project_id, name="Confirm/new", confirm=True)
        return quiet, loud

    quiet, loud = await rename()
    assert quiet is None
    assert loud is not None and loud.name == "Confirm/new" and loud.description == "first"
    assert paths(qc_emulator)[1:] == ["/projects/update", "/projects/update", "/projects/read"]


async def test_lifecycle_without_delete_check_makes_the_plain_scripts_five_requests(
    qc_emulator, credentials
):
    options = LifecycleOptions(
        authenticate_first=False, verify_files=False, purge=False, verify_deleted=False
    )
    report = await temporary_project_lifecycle(options, credentials)
    assert report.outcome == "completed"
    assert paths(qc_emulator) == [
        "/projects/create", "/projects/read", "/projects/update", "/projects/read",
        "/projects/delete",
    ]
    assert [s.name for s in report.steps] == [
        "create", "verify created", "update", "verify updated", "delete"
    ]
    [left] = qc_emulator.projects()
    assert left["name"] == f"Recycle Bin/{report.renamed_to}"


async def test_delete_with_confirm_returns_the_status_read_back(qc_emulator, credentials):
    client = credentials.get_client()
    binned, purged = (client.projects.create(f"Confirm/del-{i}", "Py").project_id for i in "ab")

    @flow
    async def remove() -> tuple[str | None, str | None, str | None]:
        quiet = await delete_project(credentials, binned)
        to_bin = await delete_project(credentials, purged, confirm=True)
        gone = await delete_project(credentials, purged, purge=True, confirm=True,
                                    in_recycle_bin=True)
        return quiet, to_bin, gone

    assert await remove() == (None, "in recycle bin", "gone")
    assert paths(qc_emulator)[2:] == [
        "/projects/delete",  # quiet: no read
        "/projects/delete", "/projects/read",  # confirmed: the status read back
        "/projects/delete", "/projects/read",  # the purge's own read suffices
    ]
    [left] = qc_emulator.projects()
    assert left["projectId"] == binned


async def test_a_failed_status_read_retries_the_task_without_a_second_delete(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    project_id = credentials.get_client().projects.create("Confirm/retried-del", "Py").project_id
    qc_emulator.inject("http_503_html", path="/projects/read", count=1)

    @flow
    async def remove() -> str | None:
        task = with_api_retries(delete_project, FAST_RETRIES["task_retries"], 0)
        return await task(credentials, project_id, confirm=True)

    assert await remove() == "in recycle bin"
    # delete, status read (503); the retry sees the project already in the bin: no 2nd delete.
    assert paths(qc_emulator)[1:] == [
        "/projects/delete", "/projects/read", "/projects/read", "/projects/read"
    ]


async def test_the_default_lifecycle_checks_each_delete_inside_its_task_run(
    qc_emulator, credentials
):
    report = await temporary_project_lifecycle(credentials=credentials)
    assert report.outcome == "completed" and report.flow_run_id is not None
    assert qc_emulator.projects() == []
    names = await task_run_names(report.flow_run_id, at_least=6)
    assert names == [
        "authenticate", "create-project", "delete-project", "list-files", "purge-project",
        "update-project",
    ]  # no separate status task runs: the deletes read the status back themselves
    steps = {step.name: step.detail for step in report.steps}
    assert (steps["verify deleted"], steps["verify purged"]) == ("in recycle bin", "gone")


def test_retry_variants_are_built_once_per_combination():
    assert with_api_retries(read_project, 3, 1.0) is with_api_retries(read_project, 3, 1)
    assert with_api_retries(read_project, 3, 1.0) is not with_api_retries(read_project, 1, 1.0)
    variant = RetryOptions(task_retries=4, retry_delay_seconds=0.5).apply(read_project)
    assert variant.retries == 4 and variant.name == read_project.name
    assert variant.timeout_seconds == read_project.timeout_seconds == 300
    # A run's retries keep a task's own options: the batch tasks stay without a timeout.
    assert RetryOptions(task_retries=1).apply(delete_projects).timeout_seconds is None
    assert RetryOptions(task_retries=1).apply(update_projects).timeout_seconds is None
    assert RetryOptions(task_retries=4, retry_delay_seconds=0.5).apply(read_project) is variant
