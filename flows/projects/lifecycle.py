"""The temporary-project lifecycle check: create, verify, update, verify, delete, verify gone.

Only the steps live here: the project comes from :func:`flows.common.temporary.temporary_project`,
which removes it whatever ends the run, and the flow carries its state hooks
(:func:`flows.common.temporary.cleanup_hooks`).

Example:
    >>> import asyncio
    >>> from flows.projects.lifecycle import temporary_project_lifecycle
    >>> report = asyncio.run(temporary_project_lifecycle())  # QC_* credentials  # doctest: +SKIP
    >>> report.outcome  # doctest: +SKIP
    'completed'
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import time

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from flows.common.credentials import resolve_credentials
from flows.common.session import IN_MEMORY_RESULTS
from flows.common.temporary import RENAMED_SUFFIX, cleanup_hooks, temporary_project
from flows.projects.forms import LifecycleOptions
from flows.projects.reports import LifecycleReport
from quantconnect_client import Project, RequestRejectedError
from tasks import authenticate, delete_project, list_files, project_status, update_project
from tasks.credentials import QuantConnectCredentials

DEFAULT_FILES: dict[str, list[str]] = {
    "Py": ["main.py", "research.ipynb"],
    "C#": ["Main.cs", "Research.ipynb"],
}
#: The most writing the report may take at the end of a cancelled run.
REPORT_TIMEOUT_SECONDS = 30.0


class VerificationError(AssertionError):
    """The service's state does not match what the lifecycle step expected."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise VerificationError(message)


def _verify_project(
    project: Project, project_id: int, name: str, language: str, description: str | None = None
) -> None:
    _check(project.project_id == project_id, f"read back id {project.project_id}, not {project_id}")
    _check(not project.is_deleted, _left_our_hands(project_id, "in recycle bin"))
    _check(project.name == name, f"name is {project.name!r}, expected {name!r}")
    _check(project.language == language, f"language is {project.language!r}, not {language!r}")
    if description is not None:
        _check(
            project.description == description,
            f"description is {project.description!r}, expected {description!r}",
        )


@flow(**IN_MEMORY_RESULTS, name="temporary-project-lifecycle", **cleanup_hooks())
async def temporary_project_lifecycle(
    options: LifecycleOptions = LifecycleOptions(),  # noqa: B008 - an immutable-by-use default
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> LifecycleReport:
    """Create a temporary project, verify it, update it, verify, delete it, verify it is gone.

    Calling it many times from one long-lived process? Wrap the calls in
    :func:`flows.common.session.prefect_api_session` so they share one Prefect API client.

    Args:
        options: What to check and how (prefix, language, files, purge, retries).
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        The run's report (also published as a markdown artifact).

    Raises:
        VerificationError: The service's state did not match a step's expectation (also when
            the project left the run's hands, e.g. someone moved it to the recycle bin).
        QuantConnectError: An API call failed for good.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    # Each task the run uses, with the run's retries.
    authenticate_, list_files_, update, status_of, delete = options.retries.bind(
        authenticate, list_files, update_project, project_status, delete_project)
    creds = await resolve_credentials(credentials, credentials_block)
    report = LifecycleReport(project_name="", language=options.language)
    tmp = None
    try:
        async with temporary_project(
            creds, options.language, prefix=options.name_prefix, retries=options.retries,
            create=False,
        ) as tmp:
            report.flow_run_id, report.project_name = tmp.run_id, tmp.name
            renamed = tmp.name + RENAMED_SUFFIX
            if options.authenticate_first:
                async with report.step("authenticate"):
                    await authenticate_(creds)

            # Each write reads its project back in the same task run (`confirm`): the same
            # requests as separate read tasks, one task run fewer each (Prefect's bookkeeping
            # and three events for its server, per step; see benchmarks/README.md).
            async with report.step("create") as step:
                try:
                    project = await tmp.create(confirm=True)
                finally:
                    report.project_id = tmp.project_id
                project_id = project.project_id
                step.detail = f"id {project_id}, read back"

            async with report.step("verify created"):
                _verify_project(project, project_id, tmp.name, options.language)
                if options.verify_files:
                    expected = options.expected_files or DEFAULT_FILES[options.language]
                    files = await list_files_(creds, project_id)
                    missing = sorted(set(expected) - {f.name for f in files})
                    _check(not missing, f"missing files: {', '.join(missing)}")

            async with report.step("update") as step:
                try:
                    updated = await update(
                        creds, project_id, name=renamed, description=options.description,
                        confirm=True,
                    )
                except RequestRejectedError as error:
                    now = await status_of(creds, project_id)
                    _check(now == "live", _left_our_hands(project_id, now))
                    raise error from None
                report.renamed_to = renamed
                step.detail = "read back"

            async with report.step("verify updated"):
                if updated is None:  # `confirm=True` always returns the project read back
                    raise VerificationError("the update returned no project to check")
                _verify_project(
                    updated, project_id, renamed, options.language, options.description
                )

            # With the check on, each delete reads the status back within its own task run
            # (`confirm`): the same requests as separate status tasks, two task runs fewer.
            check = options.verify_deleted
            removed = False
            async with report.step("delete"):
                status = await delete(creds, project_id, confirm=check)

            if check:
                async with report.step("verify deleted") as step:
                    step.detail = str(status)
                    _check(status != "live", "the project is still live after the delete")
                    removed = status == "gone"

            if options.purge and not removed:
                async with report.step("purge"):
                    # The delete above moved it into the bin: one more delete, then the read.
                    status = await delete(
                        creds, project_id, purge=True, confirm=check, in_recycle_bin=True
                    )
                if check:
                    async with report.step("verify purged") as step:
                        step.detail = str(status)
                        _check(status == "gone", f"the project is {status} after the purge")
            tmp.release()  # removed (or, without purge, left in the bin on purpose)
        report.outcome = "completed"
        return report
    except BaseException as error:
        report.outcome = "failed"
        report.error = f"{type(error).__name__}: {error}"
        raise
    finally:
        report.cleanup = tmp.cleanup if tmp is not None else None
        report.total_seconds = round(time.perf_counter() - started, 4)
        # Shielded: a cancelled run still publishes what it did (bounded).
        with anyio.CancelScope(shield=True) as shield:
            shield.deadline = anyio.current_time() + REPORT_TIMEOUT_SECONDS
            await acreate_markdown_artifact(
                markdown=report.to_markdown(),
                key="quantconnect-lifecycle-report",
                description=f"QuantConnect lifecycle check ({report.outcome})",
            )
        logger.info(
            "Lifecycle %s in %.2f s (project %s)",
            report.outcome, report.total_seconds, report.project_id,
        )


def _left_our_hands(project_id: int, status: str) -> str:
    return (
        f"project {project_id} left this run's hands: it is {status} (someone else deleted it "
        "during the run)"
    )
