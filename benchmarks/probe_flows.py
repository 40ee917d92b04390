"""Tiny flows for the overhead section (importing this module imports Prefect).

Example:
    >>> import asyncio
    >>> seconds = asyncio.run(many_task_reads(credentials, project_id, 100))  # doctest: +SKIP
"""

from __future__ import annotations

import time

from prefect import flow

from tasks import read_project
from tasks.credentials import QuantConnectCredentials


@flow(name="bench-many-task-reads")
async def many_task_reads(credentials: QuantConnectCredentials, project_id: int, count: int
                          ) -> float:
    """Read one project ``count`` times, one task run each; returns the seconds inside the flow
    (so the flow run's own creation and completion are not counted)."""
    started = time.perf_counter()
    for _ in range(count):
        await read_project(credentials, project_id)
    return time.perf_counter() - started


@flow(name="bench-one-read")
async def one_read(credentials: QuantConnectCredentials, project_id: int) -> None:
    """A whole flow run around a single read task: the fixed cost of a flow run."""
    await read_project(credentials, project_id)
