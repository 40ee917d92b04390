"""Prefect tasks over the file reads a verification needs (and a content update)."""

from __future__ import annotations

from prefect import task

from quantconnect_client import ProjectFile

from ._run import in_thread
from .credentials import QuantConnectCredentials
from .retries import api_task_options


@task(name="list-files", task_run_name="list-files {project_id}", **api_task_options())
async def list_files(credentials: QuantConnectCredentials, project_id: int) -> list[ProjectFile]:
    """All files of a project, with contents."""
    return await in_thread(credentials.get_client().files.list, project_id)


@task(name="read-file", task_run_name="read-file {project_id}/{name}", **api_task_options())
async def read_file(
    credentials: QuantConnectCredentials, project_id: int, name: str
) -> ProjectFile:
    """One file of a project."""
    return await in_thread(credentials.get_client().files.read, project_id, name)


@task(name="update-file", task_run_name="update-file {project_id}/{name}", **api_task_options())
async def update_file(
    credentials: QuantConnectCredentials, project_id: int, name: str, content: str
) -> None:
    """Replace a file's contents (idempotent)."""
    await in_thread(credentials.get_client().files.update, project_id, name, content)
