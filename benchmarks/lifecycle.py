"""Section 1: one create -> read -> update -> read -> delete, three ways.

(a) the docs' plain script (new connection per call), (b) this project's client (pooled
session, signing, typed errors, retries), (c) the lifecycle flow through a running Prefect server
with the options closest to the same sequence. Each variant is warmed up once, then the variants
take turns, so a noisy moment of the machine hits all three alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from quantconnect_client import QuantConnectClient

from .plain import plain_lifecycle
from .services import EmulatorProcess
from .timing import Breakdown, breakdown, median, settle, window

VARIANTS = ("plain", "client", "flow")
LABELS = {
    "plain": "(a) plain script (docs)",
    "client": "(b) project client",
    "flow": "(c) lifecycle flow (Prefect)",
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


def _flow_runner(emulator: EmulatorProcess) -> Callable[[], Awaitable[None]]:
    from flows.lifecycle import temporary_project_lifecycle
    from flows.parameters import LifecycleOptions
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )
    options = LifecycleOptions(authenticate_first=False, verify_files=False, purge=False)

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
    """Measure the three variants ``repetitions`` times each (after one warm-up each).

    Returns:
        Per variant: wall-time samples and median, requests sent, floor, overhead and the
        median breakdown; plus the ratios to the plain script.
    """
    latency = emulator.latency_ms / 1000
    client = QuantConnectClient(emulator.user_id, emulator.api_token, base_url=emulator.base_url)
    run_flow = _flow_runner(emulator)

    async def once(variant: str) -> tuple[float, Breakdown]:
        emulator.reset()
        settle()
        name = f"bench-{variant}-{uuid.uuid4().hex[:12]}"
        with window() as span:
            if variant == "plain":
                plain_lifecycle(emulator.base_url, emulator.user_id, emulator.api_token, name)
            elif variant == "client":
                client_lifecycle(client, name)
            else:
                await run_flow()
        return span.seconds, breakdown(span, emulator.requests_log())

    for variant in VARIANTS:  # warm-up: connections, imports, the flow's registration
        await once(variant)
    samples: dict[str, list[tuple[float, Breakdown]]] = {v: [] for v in VARIANTS}
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
    extra = results["flow"]["requests"] - results["plain"]["requests"]
    fixed_flow = results["flow"]["overhead_s"]
    fixed_plain = results["plain"]["overhead_s"]
    return {
        "latency_ms": emulator.latency_ms,
        "repetitions": repetitions,
        "variants": results,
        "ratio_client_to_plain": round(results["client"]["wall_s"] / plain, 3),
        "ratio_flow_to_plain": round(results["flow"]["wall_s"] / plain, 3),
        # The flow sends `extra` more requests (its "verify deleted" read): the ratio without
        # them, i.e. for the same requests, isolates what Prefect itself adds.
        "flow_extra_requests": extra,
        "ratio_flow_to_plain_same_requests": round(
            (results["flow"]["wall_s"] - extra * latency) / plain, 3
        ),
        # Latency per request at which (c)/(a) would reach the target, other costs unchanged:
        # (n_c L + O_c) / (n_a L + O_a) = 1.25, with n requests and O overhead over the floor.
        "break_even_latency_ms": _break_even_ms(
            results["plain"]["requests"], results["flow"]["requests"], fixed_plain, fixed_flow
        ),
        "target_ratio_flow_to_plain": 1.25,
    }
