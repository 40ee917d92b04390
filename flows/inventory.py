"""A project inventory: which projects exist, as a table artifact in the Prefect UI.

Example:
    >>> import asyncio
    >>> from flows.inventory import project_inventory
    >>> rows = asyncio.run(project_inventory())  # doctest: +SKIP
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

from fnmatch import fnmatchcase

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from quantconnect_client import Project
from tasks import list_projects
from tasks.credentials import QuantConnectCredentials

from .credentials import resolve_credentials
from .parameters import BulkUpdateOptions, InventoryOptions
from .reports import project_row
from .session import IN_MEMORY_RESULTS


def matches(project: Project, options: InventoryOptions | BulkUpdateOptions) -> bool:
    """Whether a project belongs in the inventory."""
    if options.folder:
        folder = options.folder.strip("/") + "/"
        if not project.name.startswith(folder):
            return False
    return fnmatchcase(project.name, options.name_pattern)


@flow(**IN_MEMORY_RESULTS, name="project-inventory")
async def project_inventory(
    options: InventoryOptions = InventoryOptions(),  # noqa: B008 - an immutable-by-use default
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> list[dict[str, object]]:
    """List projects (filtered by name pattern and folder) into a table artifact.

    Returns:
        One row per project: id, name, language, created, modified, deleted, description.
    """
    creds = await resolve_credentials(credentials, credentials_block)
    api = options.retries.apply  # each task with the run's retries
    projects = await api(list_projects)(creds, include_deleted=options.include_deleted)
    rows = [project_row(p) for p in sorted(projects, key=lambda p: p.name) if matches(p, options)]
    await acreate_table_artifact(
        table=rows,
        key="quantconnect-inventory",
        description=f"{len(rows)} QuantConnect project(s)",
    )
    get_run_logger().info("Inventory: %d of %d project(s)", len(rows), len(projects))
    return rows
