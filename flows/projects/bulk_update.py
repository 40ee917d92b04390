"""Bulk changes: set the description and/or replace a file in every matching project.

Dry run by default, since it is meant to be started from the Prefect UI. A real run over every
project (decided from what the selection matches) needs ``all_projects``. Before a file is
overwritten anywhere, the run keeps every project's previous contents in a table artifact
(:data:`PREVIOUS_FILES_KEY`); :func:`restore_previous_files` writes them back.

Example:
    >>> import asyncio
    >>> from flows.projects.bulk_update import bulk_update_projects
    >>> from flows.projects.forms import BulkUpdateOptions
    >>> options = BulkUpdateOptions(folder="Strategies", description="Reviewed", dry_run=False)
    >>> asyncio.run(bulk_update_projects(options))  # doctest: +SKIP
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import json
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from pydantic import BaseModel

from flows.common.credentials import resolve_credentials
from flows.common.options import RetryOptions
from flows.common.selection import selects, selects_everything
from flows.common.session import IN_MEMORY_RESULTS
from flows.projects.forms import EVERY_PROJECT_NEEDS_CONFIRMATION, BulkUpdateOptions
from tasks import Outcome, Outcomes, list_projects, read_files, update_file, update_projects
from tasks.credentials import QuantConnectCredentials

#: Key of the table artifact with the contents a run's file overwrite replaced (one row per
#: project: ``project_id``, ``name``, ``file_name``, ``previous_content``).
PREVIOUS_FILES_KEY = "quantconnect-bulk-update-previous-files"


class BulkUpdateItem(BaseModel):
    """What happened to one project."""

    project_id: int
    name: str
    action: str
    error: str | None = None
    error_type: str | None = None
    retryable: bool | None = None
    previous_description: str | None = None  # what a description change replaced
    previous_file: str | None = None  # what a file overwrite replaced (its size; see the key)

    def record(self, outcome: Outcome, done: str) -> None:
        """Take a batch outcome: ``done`` on success, else the typed failure."""
        if outcome.succeeded:
            self.action = done
            return
        self.action, self.error = "failed", str(outcome)
        self.error_type, self.retryable = outcome.error_type, outcome.retryable


def _failed_outcomes(ids: list[int], error: Exception) -> Outcomes:
    message = f"{type(error).__name__}: {error}"
    return {pid: Outcome(succeeded=False, error_type=type(error).__name__, message=message)
            for pid in ids}


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
        ValueError: A real run whose selection matches every project, without
            ``all_projects`` (nothing is changed).
        RuntimeError: Some updates failed (after the table is published).
    """
    logger = get_run_logger()
    creds = await resolve_credentials(credentials, credentials_block)
    (listing,) = options.retries.bind(list_projects)
    projects = await listing(creds)
    if options.needs_confirmation() and selects_everything(
        options.folder, options.name_pattern, projects
    ):
        raise ValueError(f"{EVERY_PROJECT_NEEDS_CONFIRMATION}: the selection matches all "
                         f"{len(projects)} live projects")
    targets = [
        p for p in sorted(projects, key=lambda p: p.name)
        if selects(p, options.folder, options.name_pattern)
    ]
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
        # Batches, not task runs per project: see `tasks.batches`.
        for start in range(0, len(items), options.batch_size):
            batch = items[start : start + options.batch_size]
            await _update_batch(creds, options, batch)
            logger.info("Updated %d/%d", start + len(batch), len(items))
    failed = sum(item.action == "failed" for item in items)
    await acreate_table_artifact(
        table=[item.model_dump() for item in items],
        key="quantconnect-bulk-update",
        description=f"Bulk update ({planned}): {len(items)} project(s), {failed} failed"
        + (" (dry run)" if options.dry_run else "")
        + (f"; previous files under key {PREVIOUS_FILES_KEY}"
           if options.file_name and not options.dry_run else ""),
    )
    if failed:
        raise RuntimeError(f"{failed} of {len(items)} updates failed; see the table")
    return items


async def _update_batch(
    creds: QuantConnectCredentials, options: BulkUpdateOptions, batch: list[BulkUpdateItem]
) -> None:
    """Keep what the file overwrite replaces (published before anything is written), then
    change the projects whose previous contents are kept."""
    read, update = options.retries.bind(read_files, update_projects)
    ids = [item.project_id for item in batch]
    if options.file_name is not None:
        try:
            previous = await read(creds, ids, options.file_name, options.max_concurrency)
        except Exception as error:
            previous = _failed_outcomes(ids, error)
        for item in batch:
            item.record(previous[item.project_id], item.action)
            content = previous[item.project_id].value
            item.previous_file = None if content is None else f"{len(content)} characters kept"
        await acreate_table_artifact(
            table=[
                {"project_id": item.project_id, "name": item.name,
                 "file_name": options.file_name,
                 "previous_content": previous[item.project_id].value}
                for item in batch if previous[item.project_id].succeeded
            ],
            key=PREVIOUS_FILES_KEY,
            description=f"What the bulk update's overwrite of {options.file_name} replaced "
            "(restore with flows.projects.bulk_update.restore_previous_files)",
        )
        batch = [item for item in batch if item.action != "failed"]
        ids = [item.project_id for item in batch]
    try:
        outcomes = await update(
            creds,
            ids,
            description=options.description,
            file_name=options.file_name,
            file_content=options.file_content,
            max_concurrency=options.max_concurrency,
        )
    except Exception as error:
        outcomes = _failed_outcomes(ids, error)
    for item in batch:
        item.record(outcomes[item.project_id], f"set {', '.join(options.changes())}")


async def previous_files(flow_run_id: UUID | str) -> list[dict[str, Any]]:
    """The rows a bulk-update run kept before overwriting files (all its batches)."""
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(str(flow_run_id))])
            )
        )
    rows: list[dict[str, Any]] = []
    for artifact in artifacts:
        if artifact.key == PREVIOUS_FILES_KEY:
            rows += json.loads(str(artifact.data))
    return rows


@flow(**IN_MEMORY_RESULTS, name="restore-previous-files")
async def restore_previous_files(
    flow_run_id: str,
    retries: RetryOptions = RetryOptions(),  # noqa: B008 - an immutable-by-use default
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> int:
    """Undo a bulk update's file overwrite: write back each project's previous contents.

    Args:
        flow_run_id: The bulk-update run to undo.
        retries: Task retries.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        How many files were restored.
    """
    creds = await resolve_credentials(credentials, credentials_block)
    rows = [row for row in await previous_files(flow_run_id) if row["previous_content"] is not None]
    (writer,) = retries.bind(update_file)
    for row in rows:
        await writer(creds, row["project_id"], row["file_name"], row["previous_content"])
    get_run_logger().info("Restored %d file(s) of run %s", len(rows), flow_run_id)
    return len(rows)
