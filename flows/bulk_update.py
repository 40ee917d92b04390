"""Bulk changes: set the description and/or replace a file in every matching project.

Dry run by default, since it is meant to be started from the Prefect UI.

Example:
    >>> import asyncio
    >>> from flows.bulk_update import bulk_update_projects
    >>> from flows.parameters import BulkUpdateOptions
    >>> options = BulkUpdateOptions(folder="Strategies", description="Reviewed", dry_run=False)
    >>> asyncio.run(bulk_update_projects(options))  # doctest: +SKIP
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from pydantic import BaseModel

from tasks import list_projects, update_projects
from tasks.credentials import QuantConnectCredentials

from .credentials import resolve_credentials
from .inventory import matches
from .parameters import BulkUpdateOptions
from .session import IN_MEMORY_RESULTS


class BulkUpdateItem(BaseModel):
    """What happened to one project."""

    project_id: int
    name: str
    action: str
    error: str | None = None
    previous_description: str | None = None  # what a description change replaced


@flow(**IN_MEMORY_RESULTS, name="bulk-update-projects")
async def bulk_update_projects(
    options: BulkUpdateOptions,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> list[BulkUpdateItem]:
    """Apply the same change to every live project matching a folder and name pattern.

    Args:
        options: Which projects, what change, dry run and concurrency.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        One item per matching project (also published as a table artifact).

    Raises:
        RuntimeError: Some updates failed (after the table is published).
    """
    logger = get_run_logger()
    creds = await resolve_credentials(credentials, credentials_block)
    api = options.retries.apply  # each task with the run's retries
    projects = await api(list_projects)(creds)
    targets = [p for p in sorted(projects, key=lambda p: p.name) if matches(p, options)]
    planned = ", ".join(options.changes())
    logger.info("%d of %d project(s) match; change: %s", len(targets), len(projects), planned)

    items = [
        BulkUpdateItem(
            project_id=p.project_id,
            name=p.name,
            action=f"would set {planned}",
            previous_description=p.description,
        )
        for p in targets
    ]
    if not options.dry_run:
        updater = api(update_projects)
        # Batches, not task runs per project: see `tasks.batches`.
        for start in range(0, len(items), options.batch_size):
            batch = items[start : start + options.batch_size]
            try:
                errors = await updater(
                    creds,
                    [item.project_id for item in batch],
                    description=options.description,
                    file_name=options.file_name,
                    file_content=options.file_content,
                    max_concurrency=options.max_concurrency,
                )
            except Exception as error:
                errors = {item.project_id: f"{type(error).__name__}: {error}" for item in batch}
            for item in batch:
                item.error = errors.get(item.project_id)
                item.action = "failed" if item.error else f"set {planned}"
            logger.info("Updated %d/%d", start + len(batch), len(items))
    failed = sum(item.action == "failed" for item in items)
    await acreate_table_artifact(
        table=[item.model_dump() for item in items],
        key="quantconnect-bulk-update",
        description=f"Bulk update ({planned}): {len(items)} project(s), {failed} failed"
        + (" (dry run)" if options.dry_run else ""),
    )
    if failed:
        raise RuntimeError(f"{failed} of {len(items)} updates failed; see the table")
    return items
