"""Section 8: waiting for an optimization, the ``lean`` CLI's schedule against this client's.

For each grid (``points`` parameter sets) on each count of parallel nodes, two optimizations of
one compiled project start together: (a) a plain loop reading ``/optimizations/read`` on the
``lean`` CLI's schedule (the backtest schedule of :func:`benchmarks.backtest_wait.
lean_cli_schedule`: 0.25 s x4, 1 s x9, 2 s x10, 5 s x54, then 10 s) until the status is
completed or aborted, (b) ``client.optimizations.wait`` (its default
:class:`~quantconnect_client.optimizations.OptimizationSchedule`). Every configuration runs at
the same time: the emulator's optimization cluster has no shared node limit.

The emulator runs an optimization's points ``parallelNodes`` at a time, ``backtest_seconds``
each, after ``optimization_new_seconds``; the moment its last point finishes is therefore its
submission (``submitted_at`` of ``GET /_emulator/jobs``, on the job clock, which nothing
advances here, so it is the wall clock) plus those. **Lag** = the moment the caller had the
finished optimization minus that moment; **reads** = ``/optimizations/read`` requests of the
wait. Target for (b): lag <= 1 s and reads <= half of (a)'s, in every configuration.

    .venv/bin/python -m benchmarks --sections optimization
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from quantconnect_client import NO_RETRY, QuantConnectClient

from .backtest_wait import lean_cli_schedule
from .services import EmulatorProcess

LEAN = "(a) lean CLI schedule"
CLIENT = "(b) client wait"
METHODS = (LEAN, CLIENT)
#: Target for (b): the finish noticed within this long (every sample) ...
TARGET_LAG_S = 1.0
#: ... with at most this share of (a)'s reads.
TARGET_READS_RATIO = 0.5
NEW_SECONDS = 1.0
FINISHED = ("completed", "aborted")


@dataclass
class Sample:
    """One wait for one optimization."""

    method: str
    points: int
    nodes: int
    reads: int
    lag_s: float
    complete: bool


def _client(emulator: EmulatorProcess) -> QuantConnectClient:
    return QuantConnectClient(
        emulator.user_id, emulator.api_token, base_url=emulator.base_url, retry=NO_RETRY
    )


def lean_cli_wait(client: QuantConnectClient, optimization_id: str) -> bool:
    """The plain loop: read on the lean CLI's schedule until finished. True if completed."""
    delays: Iterator[float] = lean_cli_schedule()
    while True:
        optimization = client.call("/optimizations/read", {"optimizationId": optimization_id})
        status = str(optimization.get("optimization", {}).get("status", "")).lower()
        if status in FINISHED:
            return status == "completed"
        time.sleep(next(delays))


def client_wait(client: QuantConnectClient, optimization_id: str) -> bool:
    """This client's wait, with its default schedule."""
    return (client.optimizations.wait(optimization_id, timeout=900).status or "") == "completed"


WAITS = {LEAN: lean_cli_wait, CLIENT: client_wait}


def _one_wait(emulator: EmulatorProcess, method: str, optimization_id: str) -> tuple[int, float,
                                                                                     bool]:
    with _client(emulator) as client:
        complete = WAITS[method](client, optimization_id)
        return client.metrics.requests, time.time(), complete


async def run_waits(emulator: EmulatorProcess, points: list[int], nodes: list[int],
                    backtest_seconds: float) -> list[Sample]:
    """Every configuration and method at once; the samples with their lags."""
    emulator.reset()
    emulator.set_jobs(compile_seconds=0.2, backtest_seconds=backtest_seconds,
                      optimization_new_seconds=NEW_SECONDS,
                      optimization_estimate_needs_backtest=False)
    with _client(emulator) as setup:
        project_id = setup.projects.create("Benchmarks/Optimization wait", "Py").project_id
        compiled = setup.compiles.create(project_id)
        setup.compiles.wait(project_id, compiled.compile_id)
        started: list[tuple[str, int, int, str]] = []
        for size, count, method in itertools.product(points, nodes, METHODS):
            job = setup.optimizations.create(
                project_id, compiled.compile_id, f"{method[:3]} {size} points {count} nodes",
                [{"name": "fast", "min": 1, "max": size, "step": 1}], parallel_nodes=count)
            started.append((method, size, count, job.optimization_id))
    done = await asyncio.gather(*(asyncio.to_thread(_one_wait, emulator, method, job_id)
                                  for method, _, _, job_id in started))
    submitted = {job["id"]: float(job["submitted_at"]) for job in emulator.jobs()
                 if job.get("submitted_at") is not None}
    samples = []
    for (method, size, count, job_id), (reads, had, complete) in zip(started, done, strict=True):
        last_point = (submitted.get(job_id, math.nan) + NEW_SECONDS
                      + math.ceil(size / count) * backtest_seconds)
        samples.append(Sample(method, size, count, reads, round(had - last_point, 3),
                              complete and job_id in submitted))
    return samples


def summarize(samples: list[Sample]) -> list[dict[str, Any]]:
    """One row per configuration and method, (b) against (a)."""
    rows: list[dict[str, Any]] = []
    for size, count in sorted({(s.points, s.nodes) for s in samples}):
        lean_reads = None
        for method in METHODS:
            group = [s for s in samples if (s.points, s.nodes, s.method) == (size, count, method)]
            if not group:
                continue
            reads = statistics.median(s.reads for s in group)
            row: dict[str, Any] = {
                "points": size, "nodes": count, "method": method, "samples": len(group),
                "reads": reads, "lag_s": round(statistics.median(s.lag_s for s in group), 3),
                "max_lag_s": round(max(s.lag_s for s in group), 3),
                "completed": all(s.complete for s in group),
            }
            if method == LEAN:
                lean_reads = reads
            elif lean_reads:
                row["reads_vs_lean"] = round(reads / lean_reads, 3)
                row["target_met"] = bool(row["max_lag_s"] <= TARGET_LAG_S
                                         and row["reads_vs_lean"] <= TARGET_READS_RATIO)
            rows.append(row)
    return rows


async def run_optimization_wait(emulator: EmulatorProcess, points: list[int], nodes: list[int],
                                backtest_seconds: float) -> dict[str, Any]:
    """Section 8 of ``python -m benchmarks``: every sample and the rows."""
    found = await run_waits(emulator, points, nodes, backtest_seconds)
    print(f"  {len(found)} optimization waits done", file=sys.stderr, flush=True)
    return {
        "latency_ms": emulator.latency_ms,
        "points": points,
        "nodes": nodes,
        "backtest_s": backtest_seconds,
        "new_s": NEW_SECONDS,
        "rows": summarize(found),
        "samples": [asdict(s) for s in found],
        "target_lag_s": TARGET_LAG_S,
        "target_reads_vs_lean": TARGET_READS_RATIO,
    }


def table(section: dict[str, Any]) -> str:
    """Markdown: one row per configuration and method."""
    lines = ["| points | nodes | method | reads | ÷ (a) reads | lag s | max lag s | target |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in section["rows"]:
        target = row.get("target_met")
        lines.append(
            f"| {row['points']} | {row['nodes']} | {row['method']} | {row['reads']:g} | "
            f"{row.get('reads_vs_lean', 1.0):.2f} | {row['lag_s']:.2f} | {row['max_lag_s']:.2f} "
            f"| {'' if target is None else ('met' if target else 'NOT met')} |")
    lines.append(
        f"{section['backtest_s']:g} s per point, {section['new_s']:g} s before the first, "
        f"{section['latency_ms']:g} ms per request; lag = the caller had the finished "
        f"optimization minus its last point's end; target for (b): lag <= "
        f"{section['target_lag_s']:g} s and reads <= {section['target_reads_vs_lean']:g} x (a)'s")
    return "\n".join(lines)
