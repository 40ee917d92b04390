"""One ``deploy-live`` run at a time per project, across processes and workers.

Why a Prefect global concurrency limit: the runs that race can live in different processes (two
workers, a UI click and a schedule), so an in-process lock would not hold; the Prefect server
is the one place they all share. ``concurrency()`` limits nothing when the limit does not
exist unless ``strict=True`` (see the Prefect notes), so the limit (one slot) is created first
and then taken strictly: a missing limit is an error, never a silent pass. The cost is about
three API calls per run (create, acquire, release) plus a lease renewal while it is held,
which is nothing next to a deploy's minutes.

Example:
    >>> lock_name(42)
    'quantconnect-live-deploy-project-42'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists
from prefect.variables import Variable


def lock_name(project_id: int) -> str:
    """The global concurrency limit that serialises deploys to ``project_id``."""
    return f"quantconnect-live-deploy-project-{project_id}"


async def _ensure_limit(name: str) -> None:
    """Create the one-slot limit ``name`` unless it exists (a race to create it is harmless)."""
    async with get_client() as client:
        with suppress(ObjectAlreadyExists):
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=1, active=True))


@asynccontextmanager
async def project_lock(project_id: int, timeout_seconds: float | None) -> AsyncIterator[None]:
    """Hold the project's deploy slot for the block (waiting up to ``timeout_seconds``).

    Raises:
        TimeoutError: Another run held the slot for longer than ``timeout_seconds``.
    """
    name = lock_name(project_id)
    await _ensure_limit(name)
    async with concurrency(name, occupy=1, timeout_seconds=timeout_seconds, strict=True):
        yield


def _record_name(project_id: int) -> str:
    return f"quantconnect_live_last_deploy_{project_id}"


async def record_deploy(project_id: int, deploy_id: str) -> None:
    """Note (in a Prefect variable) that a run has just deployed ``deploy_id`` to the project.

    Why: serialising is not enough for ``replace``. Two runs started together may still reach
    the slot one after the other, and the later one would then stop the earlier one's fresh
    algorithm and deploy another. The variable's ``updated`` stamp is on the Prefect server's
    clock, the same clock as a flow run's ``created``, so "deployed after this run began" needs
    no trust in any machine's clock.
    """
    await Variable.aset(_record_name(project_id), deploy_id, overwrite=True)


async def deployed_since(project_id: int, deploy_id: str, since: datetime | None) -> bool:
    """Whether another run deployed ``deploy_id`` to the project after ``since`` (a flow run's
    creation on the Prefect server's clock; None: unknown, so no)."""
    if since is None:
        return False
    async with get_client() as client:
        record = await client.read_variable_by_name(_record_name(project_id))
    if record is None or record.value != deploy_id or record.updated is None:
        return False
    # A server on SQLite stamps updates with CURRENT_TIMESTAMP, to the whole second, while a
    # run's creation keeps its microseconds: compare at the second, so that a deploy recorded
    # within the second this run began counts as after it (refusing is the safe side).
    return record.updated >= since.replace(microsecond=0)


__all__ = ["deployed_since", "lock_name", "project_lock", "record_deploy"]
