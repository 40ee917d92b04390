"""Section 3: milliseconds per operation above a bare HTTP round trip, with no latency.

The emulator's latency is switched off, so what remains is the cost of each layer: a bare
keep-alive ``requests`` session (signing included), the docs' new connection per call, the
project client, a Prefect task run inside one flow, and a whole flow run around one task (with
new Prefect API clients per run, and inside one :func:`flows.common.session.prefect_api_session`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import requests

from quantconnect_client import QuantConnectClient
from quantconnect_client.auth import sign

from .plain import get_headers
from .services import EmulatorProcess
from .timing import median, settle

BATCHES = 3


async def _per_op(count: int, batch: Callable[[int], Awaitable[float]], prefect: bool = False
                  ) -> float:
    await batch(min(count, 5))  # warm-up
    samples = []
    for _ in range(BATCHES):
        if prefect:
            settle()
        samples.append(await batch(count) / count)
    return median(samples)


async def _per_run(runs: int, one: Callable[[], Awaitable[None]]) -> float:
    """Median seconds of single flow runs, each after the server settled (untimed).

    Back-to-back runs on a SQLite server sometimes meet "database is locked" and wait ~2 s in
    Prefect's client; a batch mean would mostly measure those waits.
    """
    await one()  # warm-up
    samples = []
    for _ in range(runs):
        settle()
        started = time.perf_counter()
        await one()
        samples.append(time.perf_counter() - started)
    return median(samples)


async def run_overhead(emulator: EmulatorProcess, count: int, flow_runs: int) -> dict[str, Any]:
    """Per-operation cost of each layer, as medians over a few batches.

    Args:
        emulator: The running emulator (its latency is set to 0 here, then restored).
        count: Reads per batch for the request-level layers.
        flow_runs: Single flow runs measured for each whole-flow-run layer (median).
    """
    from flows.common.session import prefect_api_session
    from tasks.credentials import QuantConnectCredentials

    from .probe_flows import many_task_reads, one_read

    emulator.reset()
    emulator.set_latency(0)
    client = QuantConnectClient(emulator.user_id, emulator.api_token, base_url=emulator.base_url)
    credentials = QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )
    session = requests.Session()
    url = f"{emulator.base_url}/projects/read"
    try:
        project_id = client.projects.create("bench-overhead", "Py").project_id
        payload = {"projectId": project_id}

        async def bare(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                headers = sign(emulator.user_id, emulator.api_token, int(time.time()))
                session.post(url, headers=headers, json=payload, timeout=30).json()
            return time.perf_counter() - started

        async def docs(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                requests.post(url, headers=get_headers(emulator.user_id, emulator.api_token),
                              json=payload, timeout=30).json()
            return time.perf_counter() - started

        async def with_client(n: int) -> float:
            started = time.perf_counter()
            for _ in range(n):
                client.projects.read(project_id)
            return time.perf_counter() - started

        async def task_runs(n: int) -> float:
            return await many_task_reads(credentials, project_id, n)

        async def flow_run() -> None:
            await one_read(credentials, project_id)

        async def flow_runs_in_session() -> float:
            async with prefect_api_session():
                return await _per_run(flow_runs, flow_run)

        per_op = {
            "bare_session": await _per_op(count, bare),
            "docs_new_connection": await _per_op(count, docs),
            "client": await _per_op(count, with_client),
            "task_in_flow": await _per_op(count, task_runs, prefect=True),
            "flow_run_one_task": await _per_run(flow_runs, flow_run),
            "flow_run_in_session": await flow_runs_in_session(),
        }
    finally:
        session.close()
        client.close()
        emulator.set_latency(emulator.latency_ms)
    base = per_op["bare_session"]
    return {
        "reads_per_batch": count,
        "flow_runs_per_batch": flow_runs,
        "batches": BATCHES,
        "per_op_ms": {k: round(v * 1000, 3) for k, v in per_op.items()},
        "over_bare_ms": {k: round((v - base) * 1000, 3) for k, v in per_op.items()},
    }
