"""Helpers shared by the Prefect-facing test folders."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import anyio
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId
from prefect.client.schemas.objects import TaskRun
from prefect.exceptions import ObjectNotFound

from tasks.credentials import QuantConnectCredentials


def credentials_for(emulator: Any, **overrides: Any) -> QuantConnectCredentials:
    """A credentials block for an emulator, with short timeouts so fault tests stay fast."""
    fields: dict[str, Any] = {
        "user_id": emulator.user_id,
        "api_token": emulator.api_token,
        "base_url": emulator.base_url,
        "read_timeout": 2.0,
        "connect_timeout": 2.0,
    }
    fields.update(overrides)
    return QuantConnectCredentials(**fields)


async def task_runs_of(flow_run_id: str | UUID, at_least: int) -> list[TaskRun]:
    """A flow run's task runs once the server has recorded at least ``at_least`` of them, each
    in a final state (it does so from events, a moment after the run), and their number has
    then stayed the same for a second, so a latecomer shows too; at most 30 s."""
    task_filter = TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[UUID(str(flow_run_id))]))
    deadline = time.monotonic() + 30
    seen, stable_since = -1, time.monotonic()
    async with get_client() as client:
        while time.monotonic() < deadline:
            runs = await client.read_task_runs(task_run_filter=task_filter)
            final = all(run.state is not None and run.state.is_final() for run in runs)
            if len(runs) != seen or not final:
                seen, stable_since = len(runs), time.monotonic()
            elif seen >= at_least and time.monotonic() - stable_since >= 1.0:
                break
            await anyio.sleep(0.2)
    return list(runs)


async def task_run_names(flow_run_id: str | UUID, at_least: int) -> list[str]:
    """A flow run's task run names (up to the first space), sorted (see :func:`task_runs_of`)."""
    return sorted(run.name.split(" ")[0] for run in await task_runs_of(flow_run_id, at_least))


async def recorded_task_run(task_run_id: str | UUID) -> TaskRun:
    """A task run as the server has it once it recorded its final state (it does so from
    events, a moment after the run; a loaded server takes longer), at most 30 s later.

    Until the server has processed the run's first event it does not know the run at all
    (HTTP 404): that is "not yet", like a state that is not final.
    """
    deadline = time.monotonic() + 30
    async with get_client() as client:
        while True:
            try:
                run = await client.read_task_run(UUID(str(task_run_id)))
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    raise
            else:
                final = run.state is not None and run.state.is_final()
                if final or time.monotonic() > deadline:
                    return run
            await anyio.sleep(0.2)
