"""Tasks that change many projects in one task run, a bounded number of requests at a time.

One task run per batch instead of per project: Prefect spends several milliseconds of CPU on
every task run (more with its server on the same machine), which would otherwise cap a bulk
change far below what the account's quota allows. Each project's outcome is returned, not
raised: one project's failure (already retried by the client) does not stop the others. While a
transient failure is left, the task run raises a retryable error and Prefect retries it for the
projects that failed; its last attempt returns every outcome.

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
from typing import Any
from uuid import UUID

from prefect import task
from prefect.context import TaskRunContext

from quantconnect_client import QuantConnectClient, QuantConnectError

from ._run import in_thread, retry_context
from .credentials import QuantConnectCredentials
from .projects import _delete_one
from .retries import api_task_options

#: Project id -> None when the change was made, else what stopped it.
Outcomes = dict[int, str | None]

#: The batch tasks' options: the API defaults without a task timeout. Every request is bounded
#: by the client's timeouts and attempts, so a batch always ends; a Prefect timeout could not
#: stop its threads anyway and would report changes that were made as failed.
BATCH_TASK_OPTIONS: dict[str, Any] = {**api_task_options(), "timeout_seconds": None}

#: Projects each batch task run has finished, by task run id: a retry of the task run (Prefect
#: retries in the same process) skips them and redoes only what failed.
_done_by_task_run: dict[UUID, set[int]] = {}


class BatchIncompleteError(QuantConnectError):
    """Some projects of a batch failed transiently; the task run is retried for those only.

    Raised only while the task run has retries left; the last attempt returns every project's
    outcome instead, so no project's error is lost.
    """

    retryable = True

    def __init__(self, outcomes: Outcomes) -> None:
        failed = {pid: error for pid, error in outcomes.items() if error}
        first = next(iter(failed.values()), "")
        super().__init__(f"{len(failed)} of {len(outcomes)} project(s) failed transiently "
                         f"(first: {first}); retrying them")
        self.outcomes = outcomes


def _run_batch(
    project_ids: Iterable[int], change: Callable[[int], None], max_concurrency: int, name: str
) -> Outcomes:
    """Apply ``change`` to every project from ``max_concurrency`` threads (input order kept);
    skip those an earlier attempt of this task run finished; raise :class:`BatchIncompleteError`
    while a transient failure is left and the task run has retries to spend."""
    context = TaskRunContext.get()
    run_id = context.task_run.id if context is not None else None
    done = _done_by_task_run.setdefault(run_id, set()) if run_id is not None else set()
    errors: dict[int, QuantConnectError] = {}

    def one(project_id: int) -> None:
        if project_id in done:
            return
        try:
            change(project_id)
        except QuantConnectError as error:
            errors[project_id] = error
        else:
            done.add(project_id)

    ids = list(project_ids)
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix=name) as pool:
        list(pool.map(one, ids))
    outcomes: Outcomes = {
        pid: f"{type(errors[pid]).__name__}: {errors[pid]}" if pid in errors else None
        for pid in ids
    }
    retries_left = context is not None and context.task_run.run_count <= context.task.retries
    if retries_left and any(error.retryable for error in errors.values()):
        raise BatchIncompleteError(outcomes)
    if run_id is not None:
        _done_by_task_run.pop(run_id, None)
    return outcomes


@task(
    name="delete-projects",
    task_run_name="delete-projects ({max_concurrency} at once)",
    **BATCH_TASK_OPTIONS,
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
        Project id -> None when deleted, else the error that stopped it. Transient failures
        retry the task run for those projects only (and a project an earlier attempt deleted
        after all counts as done).
    """
    client = credentials.get_client()
    retrying, _ = retry_context()

    def delete(project_id: int) -> None:
        _delete_one(client, project_id, deletions[project_id], retrying)

    return await in_thread(_run_batch, deletions, delete, max_concurrency, "qc-delete")


@task(
    name="update-projects",
    task_run_name="update-projects ({max_concurrency} at once)",
    **BATCH_TASK_OPTIONS,
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

    Every change is idempotent; a retried task run redoes only the projects that failed.

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

    return await in_thread(_run_batch, project_ids, change, max_concurrency, "qc-update")


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
