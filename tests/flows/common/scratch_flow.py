"""A second flow on the temporary-project mechanism, to show that any flow gets the lifecycle's
guarantees by using it (the kill, crash and cancel tests run it next to the lifecycle).

It is what a new temporary-using flow needs: the hooks on the decorator, the ``async with``.
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow.

from prefect import flow

from flows.common.credentials import resolve_credentials
from flows.common.temporary import cleanup_hooks, temporary_project
from tasks import read_file, update_file

SCRATCH_PREFIX = "scratch-tmp-"


@flow(name="temporary-scratch", **cleanup_hooks())
async def scratch_flow(
    prefix: str = SCRATCH_PREFIX, credentials_block: str | None = None, fail: bool = False
) -> str:
    """Make a temporary project, write and read back a file; ``fail`` raises in the middle."""
    creds = await resolve_credentials(None, credentials_block)
    async with temporary_project(creds, "Py", prefix=prefix) as tmp:
        project_id = tmp.project.project_id
        await update_file(creds, project_id, "main.py", "# scratch\n")
        if fail:
            raise ValueError("the scratch flow failed on purpose")
        return (await read_file(creds, project_id, "main.py")).content
