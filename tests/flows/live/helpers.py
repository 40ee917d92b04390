"""Helpers of the live flow tests: paper algorithms deployed straight through the client, and
the Prefect events a run emitted, read back from the test server."""

from __future__ import annotations

import inspect
import re
import time
from datetime import datetime
from typing import Any

import anyio
from prefect.client.orchestration import get_client
from prefect.events import Event
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
)
from prefect.events.worker import EventsWorker

from flows.backtests.strategy_folder import load_strategy
from tasks.credentials import QuantConnectCredentials

#: The example strategy over 2019's first quarter: a short simulation (about 64 days) that
#: ends below both its peak and its first day, so the drawdown and daily-loss checks have
#: something to find once it is used up.
_MAIN = load_strategy("strategies/sma_crossover_py").files[0].content
LOSING_QUARTER = re.sub(
    r"set_end_date\([^)]*\)", "set_end_date(2019, 3, 31)",
    re.sub(r"set_start_date\([^)]*\)", "set_start_date(2019, 1, 1)", _MAIN),
)


def deploy(credentials: QuantConnectCredentials, name: str, main: str = _MAIN) -> int:
    """A project named ``name`` whose paper live algorithm is running; its id."""
    client = credentials.get_client()
    project_id = int(client.projects.create(name, "Py").project_id)
    client.files.update(project_id, "main.py", main)
    compiled = client.compiles.wait(project_id, client.compiles.create(project_id).compile_id)
    deployed = client.live.create(project_id, compiled.compile_id,
                                  client.live.free_nodes(project_id)[0].id)
    client.live.wait(project_id, deployed.deploy_id, timeout=20, schedule=(0.05,))
    return project_id


def equity_points(credentials: QuantConnectCredentials, project_id: int) -> list[Any]:
    """The live equity series, once it no longer changes (its simulation is used up)."""
    client = credentials.get_client()
    before: list[Any] = []
    for _ in range(100):
        chart = client.live.chart(project_id, "Strategy Equity", count=500).chart
        assert chart is not None
        points = sorted(chart.series["Equity"].points(), key=lambda point: point[0])
        if points and points == before:
            return points
        before = points
        time.sleep(0.3)
    raise AssertionError("the equity series kept moving")


async def events_since(since: datetime, project_id: int | None = None, *, at_least: int = 1,
                       timeout: float = 60.0) -> list[Event]:
    """The ``quantconnect.live.*`` events the test server holds since ``since`` (about
    ``project_id`` if given), waiting until ``at_least`` arrived: the events worker and the
    server persist them asynchronously."""
    drained = EventsWorker.drain_all()
    if inspect.isawaitable(drained):
        await drained
    deadline = time.monotonic() + timeout
    found: list[Event] = []
    async with get_client() as client:
        while True:
            page = await client.read_events(
                filter=EventFilter(occurred=EventOccurredFilter(since=since),
                                   event=EventNameFilter(prefix=["quantconnect.live."])),
                limit=50,
            )
            found = [e for e in page.events
                     if project_id is None or e.resource.id == f"quantconnect.live.{project_id}"]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            await anyio.sleep(0.3)


__all__ = ["LOSING_QUARTER", "deploy", "equity_points", "events_since"]
