"""Section 4: peak memory (RSS) of a process doing the work plainly versus through flows.

Each side runs in a fresh subprocess (``python -m benchmarks.memory plain|flow``) that does one
lifecycle and one sweep of the seeded projects, then prints its peak RSS (``VmHWM``) as JSON, so
neither side's figure includes the other's imports or the benchmark's own bookkeeping.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from quantconnect_client import QuantConnectClient

from .bulk import PREFIX, seed
from .services import EmulatorProcess


def rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (``VmHWM``) or current (``VmRSS``) resident memory in MiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # Elsewhere: the peak only (kilobytes on Linux, bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def run_memory(emulator: EmulatorProcess, count: int, concurrency: int) -> dict[str, Any]:
    """Peak RSS of the plain side and of the flow side, each in its own process."""
    client = QuantConnectClient(emulator.user_id, emulator.api_token, base_url=emulator.base_url)
    results: dict[str, Any] = {"sweep_n": count, "sweep_concurrency": concurrency}
    try:
        for mode in ("plain", "flow"):
            seed(emulator, client, count)
            output = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory", mode, emulator.base_url,
                 str(emulator.user_id), str(count), str(concurrency)],
                env=dict(os.environ, QC_BENCH_TOKEN=emulator.api_token),
                # From the checkout: `benchmarks`, `flows` and `tasks` are not installed.
                cwd=Path(__file__).resolve().parent.parent,
                capture_output=True, text=True, timeout=600, check=False,
            )
            lines = output.stdout.strip().splitlines()
            if output.returncode != 0 or not lines:
                raise RuntimeError(f"memory probe {mode} failed: {output.stderr[-2000:]}")
            results[mode] = json.loads(lines[-1])
    finally:
        client.close()
    results["benchmark_process_peak_rss_mb"] = round(rss_mb(), 1)
    return results


async def _flow_side(base_url: str, user_id: int, token: str, count: int, concurrency: int
                     ) -> bool:
    from flows.projects.forms import LifecycleOptions, SweepOptions
    from flows.projects.lifecycle import temporary_project_lifecycle
    from flows.projects.sweep import sweep_temporary_projects
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(user_id=user_id, api_token=token, base_url=base_url)
    lifecycle = await temporary_project_lifecycle(
        LifecycleOptions(authenticate_first=False, verify_files=False, purge=False), credentials
    )
    sweep = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=0, max_concurrency=concurrency, stop_running_backtests=False,
                     abort_running_optimizations=False),
        credentials=credentials,
    )
    return lifecycle.outcome == "completed" and sweep.deleted == count and not sweep.failed


def _probe(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("mode", choices=["plain", "flow"])
    parser.add_argument("base_url")
    parser.add_argument("user_id", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("concurrency", type=int)
    args = parser.parse_args(argv)
    token = os.environ["QC_BENCH_TOKEN"]  # not on the command line, where `ps` shows it
    started = time.perf_counter()
    if args.mode == "plain":
        from .plain import plain_lifecycle, plain_sweep

        after_imports = rss_mb("VmRSS")
        plain_lifecycle(args.base_url, args.user_id, token, f"{PREFIX}probe-lifecycle")
        ok = plain_sweep(args.base_url, args.user_id, token, PREFIX) == args.count
    else:
        import prefect  # noqa: F401 - counted in "after imports", as a flow process pays it


        after_imports = rss_mb("VmRSS")
        ok = asyncio.run(_flow_side(args.base_url, args.user_id, token, args.count,
                                    args.concurrency))
    print(json.dumps({
        "rss_after_imports_mb": round(after_imports, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "seconds": round(time.perf_counter() - started, 3),
        "completed": ok,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(_probe(sys.argv[1:]))
