"""Thin Prefect tasks over the client's project operations.

Every task takes a :class:`~tasks.credentials.QuantConnectCredentials` block (never a token
string), retries only transient failures, and is safe to retry: a retried create does not make
a second project, and a retried delete that already took effect succeeds.

Example:
    >>> from prefect import flow
    >>> @flow
    ... async def make_and_remove(credentials):
    ...     project = await create_project(credentials, "Scratch/demo", "Py")
    ...     await delete_project(credentials, project.project_id, purge=True)
"""

from __future__ import annotations

from typing import Literal

from prefect import get_run_logger, task

from quantconnect_client import NotFoundError, Project, QuantConnectClient, QuantConnectError
from quantconnect_client.auth import CLOCK_TOLERANCE

from ._run import in_thread, retry_context
from .credentials import QuantConnectCredentials
from .retries import api_task_options

ProjectStatus = Literal["live", "in recycle bin", "gone"]


@task(name="authenticate", task_run_name="authenticate", **api_task_options())
async def authenticate(credentials: QuantConnectCredentials) -> bool:
    """Check the credentials against ``/authenticate``; an auth failure fails at once."""
    client = credentials.get_client()
    return await in_thread(client.authenticate)


class ReadBackError(QuantConnectError):
    """A project was created (``project_id``) but reading it back failed (the ``__cause__``).

    As retryable as its cause. A retry of the task run finds this project by its name rather
    than creating another; a caller that gives up still knows which project to remove.
    """

    def __init__(self, project_id: int, cause: QuantConnectError) -> None:
        super().__init__(
            f"project {project_id} was created, but reading it back failed: {cause}",
            endpoint=cause.endpoint,
            status_code=cause.status_code,
            service_errors=cause.service_errors,
        )
        self.project_id = project_id
        self.retryable = cause.retryable
        self.retry_after: float | None = getattr(cause, "retry_after", None)


@task(name="create-project", task_run_name="create-project {name}", **api_task_options())
async def create_project(
    credentials: QuantConnectCredentials, name: str, language: str = "Py", confirm: bool = False
) -> Project:
    """Create a project; on a task retry, first adopt the one an earlier attempt made.

    A retried create is safe by one rule, the client's: the name is the key (give concurrent
    creates distinct names; the flows put the flow run id in it). A retry looks for a live
    project of that name and language created since the first attempt began, and returns it
    instead of creating another. Nothing is remembered between attempts.

    Args:
        credentials: Who to be.
        name: The project's name (folders with ``/``).
        language: ``Py`` or ``C#``.
        confirm: Read the project back by id after creating it and return what the service
            then holds: one more request in the same task run instead of another task run. A
            project a retry found is already what the service holds (it comes from a listing).

    Raises:
        ReadBackError: The project was created but could not be read back (``confirm``); a
            retry of the task run finds that project by name rather than creating another.
    """
    client = credentials.get_client()
    retrying, first_attempt = retry_context()
    if retrying and first_attempt is not None:
        found = await in_thread(
            client.projects.find_created_since, name, first_attempt - CLOCK_TOLERANCE, language
        )
        if found is not None:
            get_run_logger().info(
                "Retrying create of %r: an earlier attempt made it (id %s)", name, found.project_id
            )
            return found
    project = await in_thread(client.projects.create, name, language)
    get_run_logger().info("Project %r has id %s", project.name, project.project_id)
    if not confirm:
        return project
    try:
        return await in_thread(client.projects.read, project.project_id)
    except QuantConnectError as error:
        raise ReadBackError(project.project_id, error) from error


@task(name="read-project", task_run_name="read-project {project_id}", **api_task_options())
async def read_project(credentials: QuantConnectCredentials, project_id: int) -> Project:
    """Read one project by id (an answer about another project is an error)."""
    return await in_thread(credentials.get_client().projects.read, project_id)


@task(name="list-projects", task_run_name="list-projects", **api_task_options())
async def list_projects(
    credentials: QuantConnectCredentials, include_deleted: bool = False
) -> list[Project]:
    """All projects; those in ``Recycle Bin/`` only if asked."""
    client = credentials.get_client()
    return await in_thread(client.projects.list, include_deleted=include_deleted)


@task(name="update-project", task_run_name="update-project {project_id}", **api_task_options())
async def update_project(
    credentials: QuantConnectCredentials,
    project_id: int,
    name: str | None = None,
    description: str | None = None,
    confirm: bool = False,
) -> Project | None:
    """Rename a project and/or set its description (idempotent).

    Returns:
        With ``confirm``, the project read back by id after the update (one more request in
        the same task run, so a check costs no extra task run); otherwise None.
    """
    return await in_thread(_update_one, credentials.get_client(), project_id, name, description,
                           confirm)


def _update_one(
    client: QuantConnectClient,
    project_id: int,
    name: str | None,
    description: str | None,
    confirm: bool,
) -> Project | None:
    """Update a project and, with ``confirm``, read it back: one thread hop."""
    client.projects.update(project_id, name=name, description=description)
    return client.projects.read(project_id) if confirm else None


def _delete_run_name() -> str:
    """``delete-project <id>``, or ``purge-project <id>`` for a purge: a lifecycle's delete
    and purge read as two steps in the UI, not the same step twice."""
    from prefect.runtime import task_run

    parameters = task_run.parameters
    kind = "purge" if parameters.get("purge") else "delete"
    return f"{kind}-project {parameters.get('project_id')}"


@task(name="delete-project", task_run_name=_delete_run_name, **api_task_options())
async def delete_project(
    credentials: QuantConnectCredentials,
    project_id: int,
    purge: bool = False,
    confirm: bool = False,
    in_recycle_bin: bool = False,
) -> ProjectStatus | None:
    """Delete a project (into the recycle bin), or with ``purge`` remove it for good.

    A retry after a delete that took effect succeeds: it reads the project first, and one
    already in the recycle bin counts as deleted. A purge is retry-safe by itself: it deletes
    until a read finds nothing, so one already gone is done.

    Args:
        credentials: Who to be.
        project_id: The project.
        purge: Remove it for good (from the recycle bin too) instead of into the bin.
        confirm: Read the project's status after the delete, in the same task run (one more
            request, no extra task run), and return it. A purge needs no extra read: it
            ends only once a read finds nothing.
        in_recycle_bin: For a purge: the caller saw the project in the recycle bin, so one
            delete before the read, not two (a wrong guess costs a request, not an error).

    Returns:
        With ``confirm``, what the service then holds: ``"in recycle bin"`` or ``"gone"`` (or
        ``"live"`` if the delete did not take); otherwise None.

    Example:
        >>> status = await delete_project(credentials, 42, confirm=True)  # doctest: +SKIP
        >>> status  # doctest: +SKIP
        'in recycle bin'
    """
    retrying, _ = retry_context()
    return await in_thread(
        delete_or_purge, credentials.get_client(), project_id, purge, retrying, confirm,
        in_recycle_bin,
    )


def delete_or_purge(
    client: QuantConnectClient,
    project_id: int,
    purge: bool,
    retrying: bool,
    confirm: bool = False,
    in_recycle_bin: bool = False,
) -> ProjectStatus | None:
    """Delete or purge one project, blocking: the body of :func:`delete_project`, shared with
    the batch task ``tasks.batches.delete_projects`` (one rule for a retried delete).

    Args:
        client: Who to be.
        project_id: The project.
        purge: Remove it for good instead of into the recycle bin.
        retrying: An earlier attempt may have deleted it: read first, and count a project
            already in the bin as done (a first try never reads first).
        confirm: Then read its status (same thread hop, no extra task run).
        in_recycle_bin: For a purge: last seen in the recycle bin (one delete, not two,
            before the read).

    Returns:
        With ``confirm``, ``"in recycle bin"``, ``"gone"`` or ``"live"``; otherwise None.

    Raises:
        NotFoundError: No such project (on a retry too: gone means it never was).

    Example:
        >>> delete_or_purge(client, 42, purge=False, retrying=False)  # doctest: +SKIP
    """
    if purge:
        # Retry-safe by itself: it deletes (twice for a live project, once for one in the bin)
        # and returns only once a read finds nothing: that read is the confirmation.
        client.projects.purge(project_id, in_recycle_bin=in_recycle_bin)
        return "gone" if confirm else None
    if retrying:
        # What an earlier attempt did, read from the service: a soft delete leaves the project
        # in the bin; gone means it never was (or someone else purged it), as a first try says.
        status = _status(client, project_id)
        if status == "gone":
            raise NotFoundError(f"Project {project_id} not found", endpoint="/projects/read")
        if status == "live":
            client.projects.delete(project_id)
    else:
        client.projects.delete(project_id)
    return _status(client, project_id) if confirm else None


def _status(client: QuantConnectClient, project_id: int) -> ProjectStatus:
    """Whether a project is live, in the recycle bin, or gone (a read that finds nothing)."""
    try:
        project = client.projects.read(project_id)
    except NotFoundError:
        return "gone"
    return "in recycle bin" if project.is_deleted else "live"


@task(name="project-status", task_run_name="project-status {project_id}", **api_task_options())
async def project_status(
    credentials: QuantConnectCredentials, project_id: int
) -> ProjectStatus:
    """Whether a project is live, in the recycle bin, or gone (a read that fails: not found)."""
    return await in_thread(_status, credentials.get_client(), project_id)
