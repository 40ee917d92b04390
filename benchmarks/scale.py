"""Section 7: how cost grows with the account: the inventory and the sweeper over N projects.

The account grows to each size in turn (1,000, 5,000, 20,000 by default): ``1 - orphan_share``
of it ordinary projects (``Strategies/Alpha 00042``, never touched by the sweeper), the rest
orphans named as a temporary flow names its project (``prefect-tmp-<uuid>``; no Prefect run has
those ids). Projects are seeded through the emulator's bulk control (no latency, no request
log), which is not timed. At each size the inventory lists every project into its table artifact,
then the sweeper (TTL 0, concurrency 16) looks the orphans' runs up in Prefect and deletes them.

Each flow runs in a fresh process (``python -m benchmarks.scale probe ...``) that reports its
wall time (the flow call only) and its peak resident memory (``VmHWM``); the emulator, in its
own process, is read from ``/proc/<pid>/status`` after each size. Figures are also given per
1,000 projects, so linear growth shows as a flat line. At the largest size each flow runs once
more under ``cProfile`` (untimed) to say where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import importlib
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .bulk import PREFIX
from .services import EmulatorProcess, proc_memory_mb

ORPHAN_SHARE = 0.05
SWEEP_CONCURRENCY = 16
FLOWS = ("inventory", "sweep")
#: Functions shown per profile.
PROFILE_TOP = 12


def _seed_to(emulator: EmulatorProcess, size: int, ordinary: int) -> tuple[int, int]:
    """Add ordinary projects up to ``(1 - share) x size`` and the orphans for this size."""
    wanted = round(size * (1 - ORPHAN_SHARE))
    names = [f"Strategies/Alpha {i:05d}" for i in range(ordinary, wanted)]
    orphans = size - wanted
    names += [f"{PREFIX}{uuid.uuid4()}" for _ in range(orphans)]
    if names:
        emulator.seed_projects(names)
    return wanted, orphans


def _probe(emulator: EmulatorProcess, orphans: int, profile: Path | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.scale", "probe", emulator.base_url,
               str(emulator.user_id), emulator.control_url, str(emulator.pid), "--orphans",
               str(orphans)]
    if profile is not None:
        command += ["--profile", str(profile)]
    output = subprocess.run(
        command, env=dict(os.environ, QC_BENCH_TOKEN=emulator.api_token),
        capture_output=True, text=True, timeout=900, check=False,
    )
    lines = output.stdout.strip().splitlines()
    if output.returncode != 0 or not lines:
        raise RuntimeError(f"scale probe failed: {output.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _per_thousand(value: float, size: int) -> float:
    return round(value * 1000 / size, 4)


def _marginal(rows: list[dict[str, Any]], row: dict[str, Any], key: str) -> float | None:
    """Growth of ``key`` per 1,000 more projects since the same flow's previous size."""
    earlier = [r for r in rows if r["flow"] == row["flow"] and r["projects"] < row["projects"]]
    if not earlier or row[key] is None or earlier[-1][key] is None:
        return None
    last = earlier[-1]
    growth: float = round((row[key] - last[key]) * 1000 / (row["projects"] - last["projects"]), 4)
    return growth


async def run_scale(emulator: EmulatorProcess, sizes: list[int], profile: bool = True
                    ) -> dict[str, Any]:
    """Every size in turn (the account only grows); the profiles at the largest."""
    emulator.reset()
    rows: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    ordinary = 0
    sizes = sorted(sizes)
    for size in sizes:
        ordinary, orphans = await asyncio.to_thread(_seed_to, emulator, size, ordinary)
        path = None
        if profile and size == sizes[-1]:
            path = Path(tempfile.gettempdir()) / f"qc-bench-{uuid.uuid4().hex}"
        try:
            probe = await asyncio.to_thread(_probe, emulator, orphans, path)
            for flow in FLOWS:
                found = probe[flow]
                memory = found["emulator"]
                row = {
                    "flow": flow,
                    "projects": size,
                    "orphans": orphans,
                    "wall_s": found["seconds"],
                    "wall_ms_per_1000": round(found["seconds"] * 1e6 / size, 1),
                    "requests": found["requests"],
                    "requests_per_1000": _per_thousand(found["requests"], size),
                    "list_request_s": found["list_request_s"],
                    "flow_rss_before_mb": found["rss_before_mb"],
                    "flow_peak_rss_mb": found["peak_rss_mb"],
                    "flow_rss_after_imports_mb": probe["rss_after_imports_mb"],
                    # What this flow's run added: its peak over its own start (the inventory
                    # runs first, so the sweep starts with what the process kept from it).
                    "flow_growth_mb": round(found["peak_rss_mb"] - found["rss_before_mb"], 1),
                    "emulator_rss_mb": memory.get("VmRSS"),
                    "emulator_peak_rss_mb": memory.get("VmHWM"),
                    "result": found["result"],
                    "completed": found["completed"] and (
                        flow != "sweep" or found["result"] == orphans),
                }
                row["wall_ms_per_1000_more"] = _marginal(rows, row, "wall_s")
                if row["wall_ms_per_1000_more"] is not None:
                    row["wall_ms_per_1000_more"] = round(row["wall_ms_per_1000_more"] * 1000, 1)
                row["flow_peak_mb_per_1000_more"] = _marginal(rows, row, "flow_growth_mb")
                row["emulator_mb_per_1000_more"] = _marginal(rows, row, "emulator_rss_mb")
                rows.append(row)
                print(f"  {flow} over {size}: {found['seconds']:.1f} s", file=sys.stderr,
                      flush=True)
            if path is not None:
                for flow in FLOWS:
                    profiles[flow] = {"projects": size, **_summary(path.with_suffix(f".{flow}"))}
        finally:
            if path is not None:
                for flow in FLOWS:
                    path.with_suffix(f".{flow}").unlink(missing_ok=True)
    return {
        "sizes": sizes,
        "orphan_share": ORPHAN_SHARE,
        "sweep_concurrency": SWEEP_CONCURRENCY,
        "latency_ms": emulator.latency_ms,
        "rows": rows,
        "profiles": profiles,
    }


#: Where own time is counted, by the path of the function's file (first match wins).
PACKAGES = (
    ("waiting for I/O (event loop idle)", ("select.epoll", "selectors.py")),
    ("prefect", ("/prefect/",)),
    ("pydantic", ("/pydantic/", "pydantic_core")),
    ("quantconnect_client", ("/quantconnect_client/",)),
    ("flows, tasks", ("/flows/", "/tasks/")),
    ("http (httpx, httpcore, requests, urllib3, ssl)",
     ("/httpx/", "/httpcore/", "/requests/", "/urllib3/", "_ssl.", "ssl.py")),
    ("json", ("json",)),
    ("asyncio, anyio, threads", ("/asyncio/", "/anyio/", "threading.py", "_thread.")),
    ("sqlalchemy, other imports", ("/sqlalchemy/", "importlib", "marshal.", "builtins.exec")),
)


def _package(file: str, function: str) -> str:
    where = f"{file}:{function}"
    for label, needles in PACKAGES:
        if any(needle in where for needle in needles):
            return label
    return "other"


def _summary(path: Path) -> dict[str, Any]:
    """Own time by package, and the functions with the most time of their own."""
    stats = pstats.Stats(str(path), stream=io.StringIO())
    entries = stats.stats  # type: ignore[attr-defined]
    total = max((ct for (_, _, _, ct, _) in entries.values()), default=0.0)
    by_package: dict[str, float] = {}
    for (file, _, function), (_, _, own, _, _) in entries.items():
        label = _package(file, function)
        by_package[label] = by_package.get(label, 0.0) + own

    def name(key: tuple[str, int, str]) -> str:
        file, line, function = key
        short = "/".join(Path(file).parts[-2:]) if file not in ("~", "") else ""
        return f"{short}:{line}({function})" if short else function

    by_own = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:PROFILE_TOP]
    return {
        "total_s": round(total, 3),
        "own_time_by_package_s": {k: round(v, 3) for k, v in
                                  sorted(by_package.items(), key=lambda i: -i[1])},
        "top_own_time": [{"function": name(k), "own_s": round(v[2], 3),
                          "cumulative_s": round(v[3], 3), "calls": v[1]}
                         for k, v in by_own],
    }


async def _run_flow(flow: str, base_url: str, user_id: int, token: str) -> tuple[Any, bool]:
    from flows.projects.forms import InventoryOptions, SweepOptions
    from flows.projects.inventory import project_inventory
    from flows.projects.sweep import sweep_temporary_projects
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(user_id=user_id, api_token=token, base_url=base_url)
    if flow == "inventory":
        rows = await project_inventory(InventoryOptions(), credentials)
        return len(rows), True
    report = await sweep_temporary_projects(
        SweepOptions(ttl_minutes=0, max_concurrency=SWEEP_CONCURRENCY), credentials=credentials
    )
    return report.deleted, not report.failed


def _reset_peak() -> None:
    """Start ``VmHWM`` again from the current RSS (Linux; elsewhere the peak stays)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _probe_main(argv: list[str]) -> int:
    import requests

    from .memory import rss_mb

    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale probe")
    parser.add_argument("base_url")
    parser.add_argument("user_id", type=int)
    parser.add_argument("control_url")
    parser.add_argument("emulator_pid", type=int)
    parser.add_argument("--orphans", type=int, default=0, help="orphans to re-seed to profile")
    parser.add_argument("--profile", type=Path, help="profile each flow once more, to PATH.flow")
    args = parser.parse_args(argv)
    token = os.environ["QC_BENCH_TOKEN"]  # not on the command line, where `ps` shows it
    # Imported before the clock starts: imports are not part of the flows' time.
    for module in ("flows.projects.inventory", "flows.projects.sweep"):
        importlib.import_module(module)
    control = requests.Session()

    def emulator(path: str) -> Any:
        return control.get(args.control_url + path, timeout=60).json()

    report: dict[str, Any] = {"rss_after_imports_mb": round(rss_mb("VmRSS"), 1)}
    for flow in FLOWS:
        # Each flow's peak from its own start: what the previous one left is in its "before".
        _reset_peak()
        before = rss_mb("VmRSS")
        requests_before = emulator("/stats")["requests_total"]
        started = time.perf_counter()
        result, ok = asyncio.run(_run_flow(flow, args.base_url, args.user_id, token))
        seconds = time.perf_counter() - started
        made = emulator("/stats")["requests_total"] - requests_before
        log = emulator(f"/requests?limit={made}")["requests"] if made else []
        lists = [e for e in log if e["path"] == "/projects/read" and e.get("project_id") is None]
        report[flow] = {
            # The emulator's answer to the list of every project, its latency included.
            "list_request_s": round(sum(float(e["duration_ms"]) for e in lists) / 1000, 3),
            "seconds": round(seconds, 3),
            "rss_before_mb": round(before, 1),
            "peak_rss_mb": proc_memory_mb().get("VmHWM", round(rss_mb(), 1)),
            "requests": made,
            "emulator": proc_memory_mb(args.emulator_pid),
            "result": result,
            "completed": ok,
        }
    if args.profile is not None:
        names = [f"{PREFIX}{uuid.uuid4()}" for _ in range(args.orphans)]
        if names:  # new orphans, so the profiled sweep deletes as many as the timed one
            control.post(args.control_url + "/projects/seed", json={"names": names},
                         timeout=120).raise_for_status()
        for flow in FLOWS:
            profiler = cProfile.Profile()
            profiler.enable()
            asyncio.run(_run_flow(flow, args.base_url, args.user_id, token))
            profiler.disable()
            profiler.dump_stats(str(args.profile.with_suffix(f".{flow}")))
    control.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        sys.exit(_probe_main(sys.argv[2:]))
    sys.exit("usage: python -m benchmarks.scale probe BASE_URL USER_ID CONTROL_URL EMULATOR_PID")
