"""One ``deploy-live`` run at a time per project, across processes and workers.

Why a Prefect global concurrency limit: the runs that race can live in different processes (two
workers, a UI click and a schedule), so an in-process lock would not hold; the Prefect server
is the one place they all share. ``concurrency()`` limits nothing when the limit does not
exist unless ``strict=True`` (see the Prefect notes), so the limit (one slot) is created first
and then taken strictly: a missing limit is an error, never a silent pass. The cost is about
three API calls per run (create, acquire, release) plus a lease renewal while it is held,
which is nothing next to a deploy's minutes.

A folder's deploy needs a second slot before it has a project id: two runs of one folder would
each find no ``Live/<folder>`` project and each create one, then hold different projects' slots
and deploy twice. :func:`name_lock` serialises the find-or-create by the project's name (and
account, language, service), with the same mechanism; it is held only for that step.

Example:
    >>> lock_name(42)
    'quantconnect-live-deploy-project-42'
    >>> name_lock_name("https://www.quantconnect.com/api/v2", 7, "Py", "Live/sma")[:36]
    'quantconnect-live-deploy-name-06c61e'
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from datetime import datetime
from hashlib import sha256
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
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


def name_lock_name(base_url: str, user_id: int, language: str, project_name: str) -> str:
    """The global concurrency limit that serialises creating the project ``project_name``.

    A hash: a project name may hold any character and be long, a limit's name may not; the
    service and account are in it so that unrelated accounts never wait for each other. Not
    the organization: the lookup lists every project of the account, whichever organization
    a run names (or none), so two runs naming it differently must still share one slot.
    """
    key = "\n".join([base_url, str(user_id), language, project_name])
    return f"quantconnect-live-deploy-name-{sha256(key.encode()).hexdigest()[:32]}"


@asynccontextmanager
async def _slot(name: str, timeout_seconds: float | None) -> AsyncIterator[None]:
    """Hold the one slot of the limit ``name`` for the block (created first, taken strictly)."""
    await _ensure_limit(name)
    async with concurrency(name, occupy=1, timeout_seconds=timeout_seconds, strict=True):
        yield


def project_lock(project_id: int, timeout_seconds: float | None
                 ) -> AbstractAsyncContextManager[None]:
    """Hold the project's deploy slot for the block (waiting up to ``timeout_seconds``).

    Raises:
        TimeoutError: Another run held the slot for longer than ``timeout_seconds``.
    """
    return _slot(lock_name(project_id), timeout_seconds)


def name_lock(name: str, timeout_seconds: float | None) -> AbstractAsyncContextManager[None]:
    """Hold the slot of a project name (from :func:`name_lock_name`) for the block: one run at
    a time finds or creates that project.

    Raises:
        TimeoutError: Another run held the slot for longer than ``timeout_seconds``.
    """
    return _slot(name, timeout_seconds)


def _record_name(project_id: int) -> str:
    return f"quantconnect_live_last_deploy_{project_id}"


async def record_deploy(project_id: int, deploy_id: str, run_id: UUID | None = None) -> None:
    """Note (in a Prefect variable) that a run (``run_id``) has just deployed ``deploy_id`` to
    the project.

    Why: serialising is not enough for ``replace``. Two runs started together may still reach
    the slot one after the other, and the later one would then stop the earlier one's fresh
    algorithm and deploy another. The variable's ``updated`` stamp is on the Prefect server's
    clock, the same clock as a flow run's ``created``, so "deployed after this run began" needs
    no trust in any machine's clock.
    """
    value = {"deploy_id": deploy_id, "run_id": None if run_id is None else str(run_id)}
    await Variable.aset(_record_name(project_id), value, overwrite=True)


async def deployed_since(project_id: int, deploy_id: str, since: datetime | None) -> bool:
    """Whether another run deployed ``deploy_id`` to the project after ``since`` (a flow run's
    creation on the Prefect server's clock; None: unknown, so no)."""
    if since is None:
        return False
    async with get_client() as client:
        record = await client.read_variable_by_name(_record_name(project_id))
        value = record.value if record is not None else None
        recorded, by = (value.get("deploy_id"), value.get("run_id")) if isinstance(value, dict) \
            else (value, None)
        if record is None or recorded != deploy_id or record.updated is None:
            return False
        # A server on SQLite stamps updates with CURRENT_TIMESTAMP, to the whole second, while
        # a run's creation keeps its microseconds: compare at the second.
        stamp, began = record.updated.replace(microsecond=0), since.replace(microsecond=0)
        if stamp != began:
            return stamp > began
        # Within the same second, the deploying run settles it: one that had ended before this
        # run began deployed before it (a deploy, then a replace right after); otherwise, or if
        # it cannot be told, the deploy counts as after (refusing is the safe side).
        if by is None:
            return True
        try:
            run = await client.read_flow_run(UUID(str(by)))
        except (ObjectNotFound, ValueError):
            return True
        return run.end_time is None or run.end_time >= since


__all__ = ["deployed_since", "lock_name", "name_lock", "name_lock_name", "project_lock",
           "record_deploy"]
