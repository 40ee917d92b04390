"""Tasks that change many projects in one task run, a bounded number of requests at a time.

One task run per batch instead of per project: Prefect spends several milliseconds of CPU on
every task run (more with its server on the same machine), which would otherwise cap a bulk
change far below what the account's quota allows. Each project's :class:`Outcome` is returned,
not raised: one project's failure (already retried by the client) does not stop the others.
While a transient failure is left, the task run raises a retryable error and Prefect retries
it; the retry reads the service to see which changes already took effect (nothing is kept in
memory between attempts) and redoes only the others. Its last attempt returns every outcome.

Example:
    >>> from prefect import flow
    >>> @flow
    ... async def tidy(credentials, ids):
    ...     await update_projects(credentials, ids, description="Reviewed")
    ...     return await delete_projects(credentials, {i: False for i in ids})
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect import task
from prefect.context import TaskRunContext
from pydantic import BaseModel, ConfigDict

from quantconnect_client import NotFoundError, QuantConnectClient, QuantConnectError
from quantconnect_client.validation import validate_file_name

from ._run import in_thread, retry_context
from .credentials import QuantConnectCredentials
from .projects import delete_or_purge
from .retries import api_task_options

#: Requests in flight at once in a batch, unless the caller says otherwise.
DEFAULT_BATCH_CONCURRENCY = 4

#: The batch tasks' options: the API defaults without a task timeout. Every request is bounded
#: by the client's timeouts and attempts, so a batch always ends; a Prefect timeout could not
#: stop its threads anyway and would report changes that were made as failed.
BATCH_TASK_OPTIONS: dict[str, Any] = {**api_task_options(), "timeout_seconds": None}


class Outcome(BaseModel):
    """What happened to one project of a batch.

    Example:
        >>> from quantconnect_client import NotFoundError
        >>> Outcome.failed(NotFoundError("Project 7 not found"))
        Outcome(succeeded=False, error_type='NotFoundError', message='Project 7 not found', \
retryable=False, value=None)
        >>> str(Outcome.ok())
        'ok'
    """

    model_config = ConfigDict(frozen=True)

    succeeded: bool
    error_type: str | None = None
    message: str | None = None
    #: Whether trying again can help (a transient failure), so a flow resubmits only those.
    retryable: bool = False
    #: What the item read, for tasks that read (e.g. a file's contents).
    value: str | None = None

    @classmethod
    def ok(cls, value: str | None = None) -> Outcome:
        """A success (with what was read, if anything)."""
        return cls(succeeded=True, value=value)

    @classmethod
    def failed(cls, error: QuantConnectError) -> Outcome:
        """A failure, typed by the error that stopped it."""
        return cls(
            succeeded=False,
            error_type=type(error).__name__,
            message=str(error),
            retryable=error.retryable,
        )

    def __str__(self) -> str:
        return "ok" if self.succeeded else f"{self.error_type}: {self.message}"


#: Project id -> what happened to it.
Outcomes = dict[int, Outcome]


class BatchIncompleteError(QuantConnectError):
    """Some projects of a batch failed transiently; the task run is retried for those.

    Raised only while the task run has retries left; the last attempt returns every project's
    outcome instead, so no project's error is lost.
    """

    retryable = True

    def __init__(self, outcomes: Outcomes) -> None:
        failed = [outcome for outcome in outcomes.values() if not outcome.succeeded]
        first = str(failed[0]) if failed else ""
        super().__init__(f"{len(failed)} of {len(outcomes)} project(s) failed "
                         f"(first: {first}); retrying those that can succeed")
        self.outcomes = outcomes


def run_batch(
    project_ids: Iterable[int],
    change: Callable[[int], str | None],
    max_concurrency: int,
    name: str,
) -> Outcomes:
    """Apply ``change`` to every project from ``max_concurrency`` threads (input order kept);
    raise :class:`BatchIncompleteError` while a transient failure is left and the task run has
    retries to spend."""

    def one(project_id: int) -> Outcome:
        try:
            return Outcome.ok(change(project_id))
        except QuantConnectError as error:
            return Outcome.failed(error)

    ids = list(project_ids)
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix=name) as pool:
        # Each item in a copy of this thread's context, so a time budget set around the batch
        # bounds its items too.
        futures = [pool.submit(contextvars.copy_context().run, one, pid) for pid in ids]
        outcomes = {pid: future.result() for pid, future in zip(ids, futures, strict=True)}
    context = TaskRunContext.get()
    retries_left = context is not None and context.task_run.run_count <= context.task.retries
    if retries_left and any(o.retryable for o in outcomes.values()):
        raise BatchIncompleteError(outcomes)
    return outcomes


@task(
    name="delete-projects",
    task_run_name="delete-projects ({max_concurrency} at once)",
    **BATCH_TASK_OPTIONS,
)
async def delete_projects(
    credentials: QuantConnectCredentials,
    deletions: dict[int, bool],
    max_concurrency: int = DEFAULT_BATCH_CONCURRENCY,
    in_recycle_bin: list[int] | None = None,
) -> Outcomes:
    """Delete many projects in one task run, at most ``max_concurrency`` requests in flight.

    Args:
        credentials: The credentials block.
        deletions: Project id -> whether to purge it (True) or move it to the recycle bin.
        max_concurrency: Deletes in flight at once.
        in_recycle_bin: Projects to purge that were last seen in the recycle bin: one delete
            each before the read, not two.

    Returns:
        Project id -> its outcome. A retry of the task run reads each project first and counts
        one already deleted (by an earlier attempt) as done.
    """
    client = credentials.get_client()
    retrying, _ = retry_context()
    binned = set(in_recycle_bin or ())

    def delete(project_id: int) -> None:
        delete_or_purge(client, project_id, deletions[project_id], retrying,
                        in_recycle_bin=project_id in binned)

    return await in_thread(run_batch, deletions, delete, max_concurrency, "qc-delete")


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
    max_concurrency: int = DEFAULT_BATCH_CONCURRENCY,
) -> Outcomes:
    """Set the same description and/or file contents in many projects, in one task run.

    Every change is idempotent; a retried task run reads each project first and changes only
    what is not as asked yet.

    Args:
        credentials: The credentials block.
        project_ids: The projects to change.
        description: The new description, if any.
        file_name: A file to overwrite in each project (with ``file_content``).
        file_content: That file's new contents.
        max_concurrency: Projects changed at once (each project's requests run in turn).

    Returns:
        Project id -> its outcome.

    Raises:
        ValueError: Nothing to change, or a file name without contents (or the reverse).
        ValidationError: A file name the service would refuse (nothing is sent).
    """
    if (file_name is None) != (file_content is None):
        raise ValueError("file_name and file_content go together")
    if description is None and file_name is None:
        raise ValueError("nothing to change: give a description and/or a file")
    if file_name is not None:
        validate_file_name(file_name)
    client = credentials.get_client()
    retrying, _ = retry_context()

    def change(project_id: int) -> None:
        _set_description_and_file(client, project_id, description, file_name, file_content,
                                  retrying)

    return await in_thread(run_batch, project_ids, change, max_concurrency, "qc-update")


@task(
    name="read-files",
    task_run_name="read-files {file_name} ({max_concurrency} at once)",
    **BATCH_TASK_OPTIONS,
)
async def read_files(
    credentials: QuantConnectCredentials,
    project_ids: list[int],
    file_name: str,
    max_concurrency: int = DEFAULT_BATCH_CONCURRENCY,
) -> Outcomes:
    """Read the same file in many projects, in one task run (e.g. to keep what an overwrite
    will replace).

    Returns:
        Project id -> its outcome, whose ``value`` is the file's contents; a project without
        that file succeeds with ``value`` None.

    Raises:
        ValidationError: A file name the service would refuse (nothing is sent).
    """
    validate_file_name(file_name)
    client = credentials.get_client()

    def read(project_id: int) -> str | None:
        try:
            return client.files.read(project_id, file_name).content
        except NotFoundError:
            client.projects.read(project_id)  # the project exists: only the file is missing
            return None

    return await in_thread(run_batch, project_ids, read, max_concurrency, "qc-read")


def _set_description_and_file(
    client: QuantConnectClient,
    project_id: int,
    description: str | None,
    file_name: str | None,
    file_content: str | None,
    retrying: bool,
) -> None:
    """Set one project's description and/or overwrite one of its files, as asked; on a retry,
    first read what an earlier attempt changed (and leave what is already as asked)."""
    if description is not None and not (
        retrying and client.projects.read(project_id).description == description
    ):
        client.projects.update(project_id, description=description)
    if file_name is not None and file_content is not None and not (
        retrying and client.files.read(project_id, file_name).content == file_content
    ):
        client.files.update(project_id, file_name, file_content)
