"""Section 1: one create -> read -> update -> read -> delete, several ways.

(a) the docs' plain script (new connection per call), (b) this project's client (pooled
session, signing, typed errors, retries), (c) the lifecycle flow through a running Prefect server,
with the options that make exactly the same five requests, called from a long-lived process that
holds one Prefect API session (:func:`flows.common.session.prefect_api_session`); then two
variants that show what that design saves and what the default checks cost: (c1) the same flow
building new Prefect API clients for each run (what a one-off script pays), (c2) the flow in the
session with its default "verify deleted" read. Each variant is warmed up once, then the
variants take turns, so a noisy moment of the machine hits all of them alike.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from quantconnect_client import QuantConnectClient

from .plain import plain_lifecycle
from .services import EmulatorProcess
from .timing import Breakdown, breakdown, median, settle, window

VARIANTS = ("plain", "client", "flow", "flow_cold", "flow_verified")
LABELS = {
    "plain": "(a) plain script (docs)",
    "client": "(b) project client",
    "flow": "(c) lifecycle flow, one API session",
    "flow_cold": "(c1) same, new API clients per run",
    "flow_verified": "(c2) (c) + verify deleted (default)",
}


def client_lifecycle(client: QuantConnectClient, name: str) -> int:
    """The same five requests through :class:`QuantConnectClient`."""
    project = client.projects.create(name, "Py")
    client.projects.read(project.project_id)
    client.projects.update(project.project_id, name=f"{name}-renamed",
                           description="The new project name is awesome!")
    client.projects.read(project.project_id)
    client.projects.delete(project.project_id)
    return project.project_id


def _flow_runner(emulator: EmulatorProcess, *, verify_deleted: bool
                 ) -> Callable[[], Awaitable[None]]:
    from flows.projects.forms import LifecycleOptions
    from flows.projects.lifecycle import temporary_project_lifecycle
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )
    # The plain script's five requests: no credentials check, no file listing, no purge.
    options = LifecycleOptions(authenticate_first=False, verify_files=False, purge=False,
                               verify_deleted=verify_deleted)

    async def run() -> None:
        report = await temporary_project_lifecycle(options, credentials)
        if report.outcome != "completed":
            raise RuntimeError(f"lifecycle flow ended {report.outcome}: {report.error}")

    return run


def _break_even_ms(n_plain: int, n_flow: int, over_plain: float, over_flow: float,
                   target: float = 1.25) -> float | None:
    slope = target * n_plain - n_flow
    if slope <= 0:
        return None  # the flow's extra requests alone keep the ratio above the target
    return round(max(0.0, over_flow - target * over_plain) / slope * 1000, 1)


async def run_lifecycle(emulator: EmulatorProcess, repetitions: int) -> dict[str, Any]:
    """Measure every variant ``repetitions`` times (after one warm-up each).

    Returns:
        Per variant: wall-time samples and median, requests sent, floor, overhead and the
        median breakdown; plus the ratios to the plain script.
    """
    from flows.common.session import prefect_api_session

    latency = emulator.latency_ms / 1000
    client = QuantConnectClient(emulator.user_id, emulator.api_token, base_url=emulator.base_url)
    run_flow = _flow_runner(emulator, verify_deleted=False)
    run_flow_verified = _flow_runner(emulator, verify_deleted=True)
    # Captured before the session opens: cold runs start from here, without its clients.
    outside_session = contextvars.copy_context()

    async def run_cold() -> None:
        # A task copies the context current at its creation: inside ``run`` that is a copy
        # of ``outside_session`` (works on Python 3.10, unlike ``create_task(context=...)``).
        await outside_session.copy().run(asyncio.ensure_future, run_flow())

    async def once(variant: str) -> tuple[float, Breakdown]:
        emulator.reset()
        settle()
        name = f"bench-{variant}-{uuid.uuid4().hex[:12]}"
        with window() as span:
            if variant == "plain":
                plain_lifecycle(emulator.base_url, emulator.user_id, emulator.api_token, name)
            elif variant == "client":
                client_lifecycle(client, name)
            elif variant == "flow":
                await run_flow()
            elif variant == "flow_cold":
                await run_cold()
            else:
                await run_flow_verified()
        return span.seconds, breakdown(span, emulator.requests_log())

    samples: dict[str, list[tuple[float, Breakdown]]] = {v: [] for v in VARIANTS}
    async with prefect_api_session():  # (c1) runs step outside it: see `run_cold`
        for variant in VARIANTS:  # warm-up: connections, imports, the flow's registration
            await once(variant)
        for _ in range(repetitions):
            for variant in VARIANTS:
                samples[variant].append(await once(variant))
    client.close()

    results: dict[str, Any] = {}
    for variant, runs in samples.items():
        walls = [wall for wall, _ in runs]
        parts = [part for _, part in runs]
        requests = max(p.requests for p in parts)
        wall = median(walls)
        results[variant] = {
            "label": LABELS[variant],
            "wall_s": round(wall, 4),
            "samples_s": [round(w, 4) for w in walls],
            "requests": requests,
            "paths": parts[0].paths,
            "floor_s": round(requests * latency, 4),
            "overhead_s": round(wall - requests * latency, 4),
            "before_first_request_s": round(median([p.before_first for p in parts]), 4),
            "in_requests_s": round(median([p.in_requests for p in parts]), 4),
            "between_requests_s": round(median([p.between for p in parts]), 4),
            "after_last_request_s": round(median([p.after_last for p in parts]), 4),
            "completed": len(runs) == repetitions,
        }
    plain = results["plain"]["wall_s"] or 1e-9
    flow = results["flow"]
    return {
        "latency_ms": emulator.latency_ms,
        "repetitions": repetitions,
        "variants": results,
        "ratio_client_to_plain": round(results["client"]["wall_s"] / plain, 3),
        "ratio_flow_to_plain": round(flow["wall_s"] / plain, 3),
        "ratio_flow_cold_to_plain": round(results["flow_cold"]["wall_s"] / plain, 3),
        "ratio_flow_verified_to_plain": round(results["flow_verified"]["wall_s"] / plain, 3),
        # Each round runs (a) then (c) within seconds: their ratio shows the machine's noise.
        "round_ratios_flow_to_plain": [
            round(c / a, 3)
            for a, c in zip(results["plain"]["samples_s"], flow["samples_s"], strict=True)
        ],
        "session_saves_s": round(results["flow_cold"]["wall_s"] - flow["wall_s"], 4),
        # Latency per request at which (c)/(a) would reach the target, other costs unchanged:
        # (n_c L + O_c) / (n_a L + O_a) = 1.25, with n requests and O overhead over the floor.
        "break_even_latency_ms": _break_even_ms(
            results["plain"]["requests"], flow["requests"],
            results["plain"]["overhead_s"], flow["overhead_s"],
        ),
        "target_ratio_flow_to_plain": 1.25,
    }
