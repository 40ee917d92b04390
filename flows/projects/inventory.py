"""A project inventory: which projects exist, as a table artifact in the Prefect UI.

Example:
    >>> import asyncio
    >>> from flows.projects.inventory import project_inventory
    >>> rows = asyncio.run(project_inventory())  # doctest: +SKIP
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from flows.common.credentials import resolve_credentials
from flows.common.selection import selects
from flows.common.session import IN_MEMORY_RESULTS
from flows.projects.forms import InventoryOptions
from flows.projects.reports import project_row
from tasks import list_projects
from tasks.credentials import QuantConnectCredentials


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
    (listing,) = options.retries.bind(list_projects)
    projects = await listing(creds, include_deleted=options.include_deleted)
    rows = [
        project_row(p)
        for p in sorted(projects, key=lambda p: p.name)
        if selects(p, options.folder, options.name_pattern)
    ]
    await acreate_table_artifact(
        table=rows,
        key="quantconnect-inventory",
        description=f"{len(rows)} QuantConnect project(s)",
    )
    get_run_logger().info("Inventory: %d of %d project(s)", len(rows), len(projects))
    return rows
