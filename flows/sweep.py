"""Sweep orphaned temporary projects: what runs killed outright (SIGKILL, a lost machine) left.

Example:
    >>> import asyncio
    >>> from flows.parameters import SweepOptions
    >>> from flows.sweep import sweep_temporary_projects
    >>> asyncio.run(sweep_temporary_projects(SweepOptions(dry_run=True)))  # doctest: +SKIP
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import time
from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from quantconnect_client import RECYCLE_BIN_PREFIX, Project
from tasks import delete_projects, list_projects
from tasks.credentials import QuantConnectCredentials

from .credentials import resolve_credentials
from .parameters import SweepOptions
from .reports import SweepItem, SweepReport
from .session import IN_MEMORY_RESULTS


def select_orphans(projects: list[Project], options: SweepOptions, now: datetime) -> list[Project]:
    """The projects a sweep removes: the prefix, older than the TTL (bin leftovers if asked).

    A project whose creation time is unknown is spared: age is the only evidence that no run
    still owns it.
    """
    cutoff = now - timedelta(minutes=options.ttl_minutes)
    chosen = []
    for project in projects:
        in_bin = project.is_deleted
        name = project.name[len(RECYCLE_BIN_PREFIX) :] if in_bin else project.name
        if not name.startswith(options.name_prefix) or (in_bin and not options.include_recycle_bin):
            continue
        if project.created is not None and project.created <= cutoff:
            chosen.append(project)
    return chosen


def _planned(project: Project, now: datetime) -> SweepItem:
    created = project.created or now
    return SweepItem(
        project_id=project.project_id,
        name=project.name,
        created=created.isoformat(),
        age_minutes=round((now - created).total_seconds() / 60, 1),
        action="would delete",
    )


@flow(**IN_MEMORY_RESULTS, name="sweep-temporary-projects")
async def sweep_temporary_projects(
    options: SweepOptions = SweepOptions(),  # noqa: B008 - an immutable-by-use default
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> SweepReport:
    """Delete temporary projects older than a TTL, with at most ``max_concurrency`` at once.

    Args:
        options: Prefix, TTL, recycle-bin handling, dry run and concurrency.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        What was found and done (also published as a table artifact).

    Raises:
        RuntimeError: Some deletes failed (after the report is published).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    creds = await resolve_credentials(credentials, credentials_block)
    api = options.retries.apply  # each task with the run's retries
    projects = await api(list_projects)(creds, include_deleted=True)
    now = creds.get_client().service_now()
    orphans = select_orphans(projects, options, now)
    logger.info(
        "%d project(s) examined, %d temporary orphan(s) older than %g min%s",
        len(projects),
        len(orphans),
        options.ttl_minutes,
        " (dry run)" if options.dry_run else "",
    )
    report = SweepReport(examined=len(projects), matched=len(orphans), dry_run=options.dry_run)
    report.items = [_planned(project, now) for project in orphans]
    if not options.dry_run:
        deleter = api(delete_projects)
        # Batches, not a task per project: Prefect's per-task-run cost would otherwise cap the
        # sweep well below the concurrency the account allows.
        for start in range(0, len(orphans), options.batch_size):
            batch = orphans[start : start + options.batch_size]
            deletions = {p.project_id: options.purge or p.is_deleted for p in batch}
            try:
                errors = await deleter(creds, deletions, options.max_concurrency)
            except Exception as error:
                errors = {pid: f"{type(error).__name__}: {error}" for pid in deletions}
            for item in report.items[start : start + len(batch)]:
                item.error = errors.get(item.project_id)
                purged = deletions[item.project_id]
                item.action = "failed" if item.error else ("purged" if purged else "deleted")
            logger.info("Swept %d/%d", start + len(batch), len(orphans))
    report.deleted = sum(item.action in ("deleted", "purged") for item in report.items)
    report.failed = sum(item.action == "failed" for item in report.items)
    report.seconds = round(time.perf_counter() - started, 4)
    await acreate_table_artifact(
        table=report.table(),
        key="quantconnect-sweep",
        description=(
            f"Sweep: {report.matched} matched, {report.deleted} removed, {report.failed} failed"
            + (" (dry run)" if options.dry_run else "")
        ),
    )
    if report.failed:
        raise RuntimeError(f"{report.failed} of {report.matched} deletes failed; see the table")
    return report
