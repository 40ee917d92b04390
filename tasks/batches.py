"""Tasks that change many projects in one task run, a bounded number of requests at a time.

One task run per batch instead of per project: Prefect spends several milliseconds of CPU on
every task run (more with its server on the same machine), which would otherwise cap a bulk
change far below what the account's quota allows. Each project's outcome is returned, not
raised: one project's failure (already retried by the client) does not stop the others.

Example:
    >>> from prefect import flow
    >>> @flow
    ... async def tidy(credentials, ids):
    ...     await update_projects(credentials, ids, description="Reviewed")
    ...     return await delete_projects(credentials, {i: False for i in ids})
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from prefect import task

from quantconnect_client import QuantConnectClient, QuantConnectError

from ._run import in_thread, retry_context
from .credentials import QuantConnectCredentials
from .projects import _delete_one
from .retries import api_task_options

#: Project id -> None when the change was made, else what stopped it.
Outcomes = dict[int, str | None]


def _each_in_pool(
    project_ids: Iterable[int], change: Callable[[int], None], max_concurrency: int, name: str
) -> Outcomes:
    """Apply ``change`` to every project from ``max_concurrency`` threads; keep input order."""

    def one(project_id: int) -> tuple[int, str | None]:
        try:
            change(project_id)
        except QuantConnectError as error:
            return project_id, f"{type(error).__name__}: {error}"
        return project_id, None

    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix=name) as pool:
        return dict(pool.map(one, project_ids))


@task(
    name="delete-projects",
    task_run_name="delete-projects ({max_concurrency} at once)",
    **api_task_options(),
)
async def delete_projects(
    credentials: QuantConnectCredentials,
    deletions: dict[int, bool],
    max_concurrency: int = 4,
) -> Outcomes:
    """Delete many projects in one task run, at most ``max_concurrency`` requests in flight.

    Args:
        credentials: The credentials block.
        deletions: Project id -> whether to purge it (True) or move it to the recycle bin.
        max_concurrency: Deletes in flight at once.

    Returns:
        Project id -> None when deleted, else the error that stopped it. A task retry counts a
        project an earlier attempt already deleted as done.
    """
    client = credentials.get_client()
    retrying, _ = retry_context()

    def delete(project_id: int) -> None:
        _delete_one(client, project_id, deletions[project_id], retrying)

    return await in_thread(_each_in_pool, deletions, delete, max_concurrency, "qc-delete")


@task(
    name="update-projects",
    task_run_name="update-projects ({max_concurrency} at once)",
    **api_task_options(),
)
async def update_projects(
    credentials: QuantConnectCredentials,
    project_ids: list[int],
    description: str | None = None,
    file_name: str | None = None,
    file_content: str | None = None,
    max_concurrency: int = 4,
) -> Outcomes:
    """Set the same description and/or file contents in many projects, in one task run.

    Every change is idempotent, so a retried task run simply applies the batch again.

    Args:
        credentials: The credentials block.
        project_ids: The projects to change.
        description: The new description, if any.
        file_name: A file to overwrite in each project (with ``file_content``).
        file_content: That file's new contents.
        max_concurrency: Projects changed at once (each project's requests run in turn).

    Returns:
        Project id -> None when changed, else the error that stopped it.

    Raises:
        ValueError: Nothing to change, or a file name without contents (or the reverse).
    """
    if (file_name is None) != (file_content is None):
        raise ValueError("file_name and file_content go together")
    if description is None and file_name is None:
        raise ValueError("nothing to change: give a description and/or a file")
    client = credentials.get_client()

    def change(project_id: int) -> None:
        _update_one(client, project_id, description, file_name, file_content)

    return await in_thread(_each_in_pool, project_ids, change, max_concurrency, "qc-update")


def _update_one(
    client: QuantConnectClient,
    project_id: int,
    description: str | None,
    file_name: str | None,
    file_content: str | None,
) -> None:
    if description is not None:
        client.projects.update(project_id, description=description)
    if file_name is not None and file_content is not None:
        client.files.update(project_id, file_name, file_content)
