"""The temporary-project lifecycle check: create, verify, update, verify, delete, verify gone.

It never leaves a project behind: a failed step, an exception or a cancellation still removes
the project (the ``finally`` safety net in the run, then flow state hooks that rebuild what they
need from the run's id and parameters, in whichever process runs them). Only a run killed
outright escapes both; the sweeper (``flows.sweep``) catches those by name prefix.

Example:
    >>> import asyncio
    >>> from flows.lifecycle import temporary_project_lifecycle
    >>> report = asyncio.run(temporary_project_lifecycle())  # QC_* credentials  # doctest: +SKIP
    >>> report.outcome  # doctest: +SKIP
    'completed'
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import time
import uuid
from typing import Any

import anyio
from prefect import Flow, flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.schemas.objects import FlowRun, State
from prefect.logging import get_logger
from prefect.runtime import flow_run as current_flow_run

from quantconnect_client import RECYCLE_BIN_PREFIX, Project
from tasks import (
    ReadBackError,
    authenticate,
    create_project,
    delete_project,
    list_files,
    list_projects,
    update_project,
)
from tasks.credentials import QuantConnectCredentials

from .credentials import resolve_credentials, resolve_credentials_sync
from .parameters import DEFAULT_TEMPORARY_PREFIX, LifecycleOptions
from .reports import LifecycleReport
from .session import IN_MEMORY_RESULTS

DEFAULT_FILES: dict[str, list[str]] = {
    "Py": ["main.py", "research.ipynb"],
    "C#": ["Main.cs", "Research.ipynb"],
}
RENAMED_SUFFIX = "-renamed"

#: Credentials of runs in progress in this process, for the state hooks (a block passed as a
#: parameter is stored masked, so a hook cannot rebuild it from the run's parameters).
_active_runs: dict[str, QuantConnectCredentials] = {}
#: Failed runs whose own safety net removed everything: their failure hook has nothing to do.
_settled_runs: set[str] = set()
#: The most the clean-up at the end of a run may take, even when the run was cancelled.
CLEANUP_TIMEOUT_SECONDS = 120.0


class VerificationError(AssertionError):
    """The service's state does not match what the lifecycle step expected."""


def temporary_names(prefix: str, run_id: str) -> tuple[str, str]:
    """The temporary project's name and its name after the update step."""
    name = f"{prefix}{run_id}"
    return name, f"{name}{RENAMED_SUFFIX}"


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise VerificationError(message)


def _verify_project(
    project: Project, project_id: int, name: str, language: str, description: str | None = None
) -> None:
    _check(project.project_id == project_id, f"read back id {project.project_id}, not {project_id}")
    _check(project.name == name, f"name is {project.name!r}, expected {name!r}")
    _check(project.language == language, f"language is {project.language!r}, not {language!r}")
    if description is not None:
        _check(
            project.description == description,
            f"description is {project.description!r}, expected {description!r}",
        )


def _leftover_names(names: tuple[str, ...]) -> set[str]:
    return set(names) | {RECYCLE_BIN_PREFIX + n for n in names}


async def _safety_net(
    creds: QuantConnectCredentials, project_id: int | None, names: tuple[str, ...]
) -> tuple[bool, str]:
    """Remove whatever this run made; never raises (the run's own error matters more).

    Returns:
        Whether the run is known to leave nothing behind, and what was done.
    """
    try:
        ids = [project_id] if project_id is not None else []
        if not ids:
            # The create may have taken effect although no answer said so: look by name.
            projects = await list_projects(creds, include_deleted=True)
            ids = [p.project_id for p in projects if p.name in _leftover_names(names)]
        for leftover in ids:
            await delete_project(creds, leftover, purge=True)
        return True, f"removed {len(ids)} project(s) {ids}" if ids else "nothing to remove"
    except BaseException as error:
        return False, f"could not remove the project ({type(error).__name__}: {error})"


def remove_leftovers(flow: Flow[Any, Any], flow_run: FlowRun, state: State) -> None:
    """``on_failure`` / ``on_cancellation`` / ``on_crashed`` hook: purge the run's project.

    It may run in a worker's process after the flow's own was killed, so it rebuilds everything
    from the run: the names from its id and ``options.name_prefix``, the credentials from this
    process's record of the run, else the ``credentials_block`` parameter, else ``QC_*``. It does
    nothing when the run's own safety net already removed the project.
    """
    logger = get_logger("flows.lifecycle")
    run_id = str(flow_run.id)
    if run_id in _settled_runs:
        _settled_runs.discard(run_id)
        _active_runs.pop(run_id, None)
        return
    parameters: dict[str, Any] = dict(flow_run.parameters or {})
    options = parameters.get("options")
    prefix = DEFAULT_TEMPORARY_PREFIX
    if isinstance(options, dict):
        prefix = str(options.get("name_prefix") or prefix)
    elif isinstance(options, LifecycleOptions):
        prefix = options.name_prefix
    try:
        creds = _active_runs.get(run_id) or resolve_credentials_sync(
            None, parameters.get("credentials_block")
        )
        client = creds.get_client()
        wanted = _leftover_names(temporary_names(prefix, run_id))
        leftovers = [p for p in client.projects.list(include_deleted=True) if p.name in wanted]
        for project in leftovers:
            client.projects.purge(project.project_id)
        logger.info(
            "Run %s ended %s; removed %d temporary project(s).", run_id, state.name, len(leftovers)
        )
    except Exception as error:
        logger.error(
            "Run %s ended %s; could not remove its temporary project (%s: %s). "
            "The sweeper will.",
            run_id,
            state.name,
            type(error).__name__,
            error,
        )
    finally:
        _active_runs.pop(run_id, None)


@flow(
    **IN_MEMORY_RESULTS,
    name="temporary-project-lifecycle",
    on_failure=[remove_leftovers],
    on_cancellation=[remove_leftovers],
    on_crashed=[remove_leftovers],
)
async def temporary_project_lifecycle(
    options: LifecycleOptions = LifecycleOptions(),  # noqa: B008 - an immutable-by-use default
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> LifecycleReport:
    """Create a temporary project, verify it, update it, verify, delete it, verify it is gone.

    Calling it many times from one long-lived process? Wrap the calls in
    :func:`flows.session.prefect_api_session` so they share one Prefect API client.

    Args:
        options: What to check and how (prefix, language, files, purge, retries).
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        The run's report (also published as a markdown artifact).

    Raises:
        VerificationError: The service's state did not match a step's expectation.
        QuantConnectError: An API call failed for good.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    run_id = str(current_flow_run.id or uuid.uuid4())
    name, renamed = temporary_names(options.name_prefix, run_id)
    report = LifecycleReport(flow_run_id=run_id, project_name=name, language=options.language)
    api = options.retries.apply  # each task with the run's retries
    creds = await resolve_credentials(credentials, credentials_block)
    _active_runs[run_id] = creds
    project_id: int | None = None
    create_attempted = removed = False
    try:
        if options.authenticate_first:
            async with report.step("authenticate"):
                await api(authenticate)(creds)

        # Each write reads its project back in the same task run (`confirm`): the same
        # requests as separate read tasks, one task run fewer each (~10 ms of Prefect's
        # bookkeeping and three events for its server, per step).
        async with report.step("create") as step:
            create_attempted = True
            try:
                project = await api(create_project)(creds, name, options.language, confirm=True)
            except ReadBackError as error:  # made, then unreadable: remove it by id
                project_id = report.project_id = error.project_id
                raise
            project_id = report.project_id = project.project_id
            step.detail = f"id {project_id}, read back"

        async with report.step("verify created"):
            _verify_project(project, project_id, name, options.language)
            if options.verify_files:
                expected = options.expected_files or DEFAULT_FILES[options.language]
                files = await api(list_files)(creds, project_id)
                missing = sorted(set(expected) - {f.name for f in files})
                _check(not missing, f"missing files: {', '.join(missing)}")

        async with report.step("update") as step:
            updated = await api(update_project)(
                creds, project_id, name=renamed, description=options.description, confirm=True
            )
            report.renamed_to = renamed
            step.detail = "read back"

        async with report.step("verify updated"):
            if updated is None:  # `confirm=True` always returns the project read back
                raise VerificationError("the update returned no project to check")
            _verify_project(updated, project_id, renamed, options.language, options.description)

        # With the check on, each delete reads the status back within its own task run
        # (`confirm`): the same requests as separate status tasks, two task runs fewer.
        check = options.verify_deleted
        async with report.step("delete"):
            status = await api(delete_project)(creds, project_id, confirm=check)

        if check:
            async with report.step("verify deleted") as step:
                step.detail = str(status)
                _check(status != "live", "the project is still live after the delete")
                removed = status == "gone"

        if options.purge and not removed:
            async with report.step("purge"):
                status = await api(delete_project)(creds, project_id, purge=True, confirm=check)
            if check:
                async with report.step("verify purged") as step:
                    step.detail = str(status)
                    _check(status == "gone", f"the project is {status} after the purge")
        removed = True
        report.outcome = "completed"
        return report
    except BaseException as error:
        report.outcome = "failed"
        report.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        # Shielded: a flow timeout or cancellation cancels every await in its scope, and the
        # clean-up must still run (bounded, so a dead service cannot hold the run forever).
        deadline = anyio.current_time() + CLEANUP_TIMEOUT_SECONDS
        with anyio.CancelScope(shield=True, deadline=deadline):
            settled = removed or not create_attempted
            if not settled:
                settled, report.cleanup = await _safety_net(creds, project_id, (name, renamed))
                logger.warning("Safety net: %s", report.cleanup)
            report.total_seconds = round(time.perf_counter() - started, 4)
            await acreate_markdown_artifact(
                markdown=report.to_markdown(),
                key="quantconnect-lifecycle-report",
                description=f"QuantConnect lifecycle check ({report.outcome})",
            )
        if settled:
            _active_runs.pop(run_id, None)
            if report.outcome != "completed":
                _settled_runs.add(run_id)  # the failure hook that follows has nothing to do
        logger.info(
            "Lifecycle %s in %.2f s (project %s)", report.outcome, report.total_seconds, project_id
        )
