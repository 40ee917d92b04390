"""Section 9: what one ``monitor-live`` run costs for 1, 10, 100 and 500 live algorithms.

The account only grows: before each size the missing paper live algorithms are deployed
through the client (their own project, the example strategy, a compile, ``/live/create``) with
the emulator's latency off, untimed; then the latency is set back and one ``monitor-live`` run
(default options: every algorithm the account holds... selected here by their project ids, so
only this section's) is measured: **requests** (the emulator's request log during the run),
**seconds** (the call), **peak memory** (this process's ``VmHWM`` over the run, reset just
before it through ``/proc/self/clear_refs``) and the growth of each per algorithm more since
the previous size (flat = linear). Target: at most 3 requests per algorithm, linear growth, 100
algorithms in under 10 s at 100 ms per request.

It measures whatever the monitor does when it runs: the figures change when the monitor's reads
do (concurrent reads shorten the seconds, not the requests).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from quantconnect_client import NO_RETRY, QuantConnectClient

from .backtest_wait import STRATEGY
from .memory import rss_mb
from .scale import _reset_peak
from .services import EmulatorProcess

#: Targets: requests per algorithm per run, and seconds for 100 algorithms.
TARGET_REQUESTS_PER_ALGORITHM = 3.0
TARGET_SECONDS_FOR_100 = 10.0


def _deploy(client: QuantConnectClient, number: int, main: str) -> int:
    """One project with a running paper live algorithm; its id."""
    project_id = int(client.projects.create(f"Benchmarks/Live {number:04d}", "Py").project_id)
    client.files.update(project_id, "main.py", main)
    compiled = client.compiles.wait(project_id, client.compiles.create(project_id).compile_id,
                                    timeout=60)
    node = client.live.free_nodes(project_id)[0].id
    client.live.create(project_id, compiled.compile_id, node)
    return project_id


def _last_seq(emulator: EmulatorProcess) -> int:
    entries = emulator.requests_log()
    return int(entries[-1]["seq"]) if entries else 0


async def _monitor(emulator: EmulatorProcess, project_ids: list[int]) -> dict[str, Any]:
    from flows.live.forms import MonitorLiveOptions
    from flows.live.monitor import monitor_live_flow
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )
    options = MonitorLiveOptions(project_ids=project_ids)
    seq = _last_seq(emulator)
    _reset_peak()
    before = rss_mb("VmRSS")
    started = time.perf_counter()
    report = await monitor_live_flow(options, credentials=credentials)
    seconds = time.perf_counter() - started
    peak = rss_mb()
    requests = [e for e in emulator.requests_log() if int(e["seq"]) > seq]
    return {
        "algorithms": len(project_ids),
        "rows": len(report.rows),
        "running": sum(1 for row in report.rows if row.status == "Running"),
        "requests": len(requests),
        "requests_per_algorithm": round(len(requests) / len(project_ids), 2),
        "seconds": round(seconds, 2),
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "completed": len(report.rows) == len(project_ids),
    }


def _growth(rows: list[dict[str, Any]], row: dict[str, Any], key: str) -> float | None:
    earlier = [r for r in rows if r["algorithms"] < row["algorithms"]]
    if not earlier:
        return None
    previous = earlier[-1]
    more = int(row["algorithms"]) - int(previous["algorithms"])
    return round(float(row[key] - previous[key]) / more, 4)


async def run_monitor_cost(emulator: EmulatorProcess, sizes: list[int]) -> dict[str, Any]:
    """Section 9 of ``python -m benchmarks``: one row per size."""
    from flows.common.session import prefect_api_session

    main = (STRATEGY / "main.py").read_text(encoding="utf-8")
    emulator.reset()
    emulator.set_jobs(live_nodes=max(sizes), live_queue_seconds=0.0,
                      live_initializing_seconds=0.0)
    deployed: list[int] = []
    rows: list[dict[str, Any]] = []
    async with prefect_api_session():
        for size in sorted(sizes):
            emulator.set_latency(0)
            with QuantConnectClient(emulator.user_id, emulator.api_token,
                                    base_url=emulator.base_url, retry=NO_RETRY) as client:
                while len(deployed) < size:
                    deployed.append(_deploy(client, len(deployed) + 1, main))
            emulator.set_latency(emulator.latency_ms)
            row = await _monitor(emulator, deployed[:size])
            for key in ("requests", "seconds", "peak_rss_mb"):
                row[f"{key}_per_more"] = _growth(rows, row, key)
            rows.append(row)
            print(f"  monitor over {size}: {row['seconds']} s", file=sys.stderr, flush=True)
    return {
        "latency_ms": emulator.latency_ms,
        "sizes": sorted(sizes),
        "rows": rows,
        "target_requests_per_algorithm": TARGET_REQUESTS_PER_ALGORITHM,
        "target_seconds_for_100": TARGET_SECONDS_FOR_100,
    }


def table(section: dict[str, Any]) -> str:
    """Markdown: one row per size."""
    lines = ["| algorithms | requests | per algorithm | seconds | peak MiB | requests / 1 more "
             "| s / 1 more | MiB / 1 more | running rows |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def more(value: float | None) -> str:
        return "" if value is None else f"{value:g}"

    for row in section["rows"]:
        lines.append(
            f"| {row['algorithms']} | {row['requests']} | {row['requests_per_algorithm']:g} | "
            f"{row['seconds']:.2f} | {row['peak_rss_mb']:.0f} | {more(row['requests_per_more'])} "
            f"| {more(row['seconds_per_more'])} | {more(row['peak_rss_mb_per_more'])} | "
            f"{row['running']} / {row['rows']} |")
    # At the largest size, where the run's fixed requests (the list) weigh least.
    per = section["rows"][-1]["requests_per_algorithm"] if section["rows"] else 0.0
    hundred = [r["seconds"] for r in section["rows"] if r["algorithms"] == 100]
    verdicts = [f"requests per algorithm at the largest size {per:g} (target <= "
                f"{section['target_requests_per_algorithm']:g}: "
                f"{'met' if per <= section['target_requests_per_algorithm'] else 'NOT met'})"]
    if hundred:
        fast = hundred[0] < section["target_seconds_for_100"]
        verdicts.append(f"100 algorithms in {hundred[0]:.1f} s (target < "
                        f"{section['target_seconds_for_100']:g} s: {'met' if fast else 'NOT met'})")
    lines.append("; ".join(verdicts) + f"; {section['latency_ms']:g} ms per request, one run "
                 "per size, default options, selected by project id")
    return "\n".join(lines)
