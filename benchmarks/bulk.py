"""Section 2: sweep N temporary projects: a sequential plain loop versus the sweeper flow.

Before each run the emulator is reset (projects, counters and peak in flight) and N projects are
seeded through the client with the latency switched off; seeding is not timed. Both sides send
the same QuantConnect requests: one list, then one delete per project (the sweeper also asks
Prefect, in one call, whether the runs named in those projects still run).
"""

from __future__ import annotations

import uuid
from typing import Any

from quantconnect_client import QuantConnectClient

from .plain import plain_sweep
from .services import EmulatorProcess
from .timing import median, settle, window

#: The sweeper's default prefix, so ``SweepOptions(ttl_minutes=0, ...)`` finds the seeded projects.
PREFIX = "prefect-tmp-"


def seed(emulator: EmulatorProcess, client: QuantConnectClient, count: int) -> None:
    """Reset the emulator and create ``count`` temporary projects without latency."""
    emulator.reset()
    emulator.set_latency(0)
    try:
        for index in range(count):
            # Named as a temporary flow names its project (`<prefix><run id>`), the only names
            # the sweeper matches; no Prefect run has these ids, so none is spared.
            client.projects.create(f"{PREFIX}{uuid.UUID(int=index + 1)}", "Py")
    finally:
        emulator.set_latency(emulator.latency_ms)


async def run_bulk(
    emulator: EmulatorProcess, count: int, concurrencies: list[int], repetitions: int
) -> dict[str, Any]:
    """Time the plain loop and the sweeper at each concurrency, ``repetitions`` times each.

    Returns:
        One entry per variant with medians (wall, requests per second), the floor, the highest
        peak in flight seen, its bound, and whether every run removed every project.
    """
    from flows.projects.forms import SweepOptions
    from flows.projects.sweep import sweep_temporary_projects
    from tasks.credentials import QuantConnectCredentials

    latency = emulator.latency_ms / 1000
    client = QuantConnectClient(emulator.user_id, emulator.api_token, base_url=emulator.base_url)
    credentials = QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )

    async def once(concurrency: int | None) -> dict[str, Any]:
        seed(emulator, client, count)
        settle()
        before = emulator.stats()["requests_total"]
        with window() as span:
            if concurrency is None:
                removed = plain_sweep(emulator.base_url, emulator.user_id, emulator.api_token,
                                      PREFIX)
            else:
                report = await sweep_temporary_projects(
                    # The plain loop's requests: these projects never ran a backtest or an
                    # optimization.
                    SweepOptions(ttl_minutes=0, max_concurrency=concurrency,
                                 stop_running_backtests=False,
                                 abort_running_optimizations=False),
                    credentials=credentials,
                )
                removed = report.deleted if not report.failed else -report.failed
        stats = emulator.stats()
        starts = [float(e["monotonic"]) for e in emulator.requests_log()
                  if span.start <= float(e["monotonic"]) <= span.end]
        return {
            "wall": span.seconds,
            # For the flow: creating and starting the flow run (for the loop: nothing).
            "before_first": (min(starts) - span.start) if starts else span.seconds,
            "requests": stats["requests_total"] - before,
            "peak": stats["peak_in_flight"],
            "complete": removed == count and stats["store"]["projects_live"] == 0,
        }

    await once(concurrencies[0])  # warm-up of the flow, not reported
    variants: list[dict[str, Any]] = []
    plan: list[tuple[str, int | None]] = [("plain loop (sequential)", None)]
    plan += [(f"sweeper flow, concurrency {c}", c) for c in concurrencies]
    for label, concurrency in plan:
        runs = [await once(concurrency) for _ in range(repetitions)]
        bound = concurrency or 1
        wall = median([r["wall"] for r in runs])
        requests = max(r["requests"] for r in runs)
        floor = (1 + count / bound) * latency  # one list, then N deletes, `bound` at a time
        variants.append({
            "label": label,
            "concurrency": bound,
            "wall_s": round(wall, 4),
            "samples_s": [round(r["wall"], 4) for r in runs],
            "requests": requests,
            "requests_per_second": round(requests / wall, 1) if wall else 0.0,
            "floor_s": round(floor, 4),
            "before_first_request_s": round(median([r["before_first"] for r in runs]), 4),
            "wall_to_floor": round(wall / floor, 3) if floor else None,
            "peak_in_flight": max(r["peak"] for r in runs),
            "bound": bound,
            "within_bound": all(r["peak"] <= bound for r in runs),
            "completed": all(r["complete"] for r in runs),
        })
    client.close()
    plain_wall = variants[0]["wall_s"] or 1e-9
    for variant in variants:
        variant["speedup_vs_plain"] = round(plain_wall / variant["wall_s"], 2)
    return {
        "n": count,
        "latency_ms": emulator.latency_ms,
        "repetitions": repetitions,
        "variants": variants,
        "target_speedup_at_16": 10.0,
    }
