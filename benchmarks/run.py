"""``python -m benchmarks``: the cost of orchestration, side by side with a plain script.

Starts the emulator (default 100 ms per request) and a Prefect server with its own temporary
``PREFECT_HOME``, runs the chosen sections (all ten by default), prints markdown tables and
writes the figures as JSON.

Example:
    $ python -m benchmarks                       # full run (a few minutes)
    $ python -m benchmarks --quick --json /tmp/b.json
    $ python -m benchmarks --compare benchmarks/results/latest.json

Exit status: 0 when every run completed and no concurrency bound was exceeded, 1 otherwise
(timings never fail a run; the targets are reported as met or not).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import timing
from .report import compare, problems, render
from .services import EmulatorProcess, PrefectServer

RESULTS = Path(__file__).parent / "results"
SECTIONS = ("lifecycle", "bulk", "overhead", "memory", "wait", "grid", "scale", "optimization",
            "monitor", "objectstore")


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (``--quick`` changes the defaults it is given with)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true",
                        help="small, fast run: 5 ms latency, N=10, 1 repetition, concurrency 1,4, "
                        "short backtests, a 4-set grid, accounts of 40 and 80, small "
                        "optimizations, 1 and 4 live algorithms, 10 small files and 2 MB")
    parser.add_argument("--latency-ms", type=float, help="emulator latency per request (100)")
    parser.add_argument("--repetitions", type=int, help="lifecycle repetitions per variant (9)")
    parser.add_argument("--bulk-n", type=int, help="projects to sweep (200)")
    parser.add_argument("--bulk-repetitions", type=int, help="repetitions per bulk variant (3)")
    parser.add_argument("--concurrency", type=str, help="sweeper concurrencies (1,4,16)")
    parser.add_argument("--overhead-n", type=int, help="reads per overhead batch (200)")
    parser.add_argument("--wait-durations", type=str,
                        help="emulated backtest durations to wait for, s (5,20,60)")
    parser.add_argument("--wait-samples", type=int, help="waits per method and duration (3)")
    parser.add_argument("--grid-sets", type=int, help="parameter sets of the grid (24)")
    parser.add_argument("--grid-nodes", type=int, help="backtest nodes of the account (4)")
    parser.add_argument("--grid-seconds", type=float, help="seconds per grid backtest (5)")
    parser.add_argument("--grid-variants", default="flow,all,one",
                        help="grid variants to run: flow (the backtest-grid flow, both modes), "
                        "all (the all-at-once script), one (the one-by-one script)")
    parser.add_argument("--scale-sizes", type=str,
                        help="account sizes for the growth section (1000,5000,20000)")
    parser.add_argument("--opt-points", type=str,
                        help="points of the optimizations to wait for (24,96)")
    parser.add_argument("--opt-nodes", type=str, help="their parallel nodes (4,8)")
    parser.add_argument("--opt-seconds", type=float, help="seconds per optimization point (5)")
    parser.add_argument("--monitor-sizes", type=str,
                        help="live algorithms the monitor reads (1,10,100,500)")
    parser.add_argument("--store-small", type=int, help="small files to sync (1000)")
    parser.add_argument("--store-big-mb", type=int, help="size of the big file, MB (50)")
    parser.add_argument("--store-latency-ms", type=float, default=0.0,
                        help="latency of the object store section's own emulator (0)")
    parser.add_argument("--json", type=Path, dest="json_path",
                        help="write the figures here (default benchmarks/results/latest.json; "
                        "quick.json with --quick)")
    parser.add_argument("--compare", type=Path, help="print the changes since this JSON file")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--verbose", action="store_true", help="show Prefect's console logs")
    return parser


def apply_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options not given from the full or the quick defaults."""
    defaults: dict[str, Any] = (
        {"latency_ms": 5.0, "repetitions": 1, "bulk_n": 10, "bulk_repetitions": 1,
         "concurrency": "1,4", "overhead_n": 8, "wait_durations": "1", "wait_samples": 1,
         "grid_sets": 4, "grid_nodes": 2, "grid_seconds": 0.3, "scale_sizes": "40,80",
         "opt_points": "6", "opt_nodes": "2", "opt_seconds": 0.3, "monitor_sizes": "1,4",
         "store_small": 10, "store_big_mb": 2}
        if args.quick else
        {"latency_ms": 100.0, "repetitions": 9, "bulk_n": 200, "bulk_repetitions": 3,
         "concurrency": "1,4,16", "overhead_n": 200, "wait_durations": "5,20,60",
         "wait_samples": 3, "grid_sets": 24, "grid_nodes": 4, "grid_seconds": 5.0,
         "scale_sizes": "1000,5000,20000", "opt_points": "24,96", "opt_nodes": "4,8",
         "opt_seconds": 5.0, "monitor_sizes": "1,10,100,500", "store_small": 1000,
         "store_big_mb": 50}
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.concurrencies = [int(c) for c in str(args.concurrency).split(",") if c.strip()]
    if not args.concurrencies or min(args.concurrencies) < 1 or max(args.concurrencies) > 32:
        raise SystemExit("--concurrency takes values from 1 to 32, e.g. 1,4,16")
    args.wait_durations = [float(d) for d in str(args.wait_durations).split(",") if d.strip()]
    args.scale_sizes = [int(n) for n in str(args.scale_sizes).split(",") if n.strip()]
    args.opt_points = [int(n) for n in str(args.opt_points).split(",") if n.strip()]
    args.opt_nodes = [int(n) for n in str(args.opt_nodes).split(",") if n.strip()]
    args.monitor_sizes = [int(n) for n in str(args.monitor_sizes).split(",") if n.strip()]
    # totalPerformance arrives this long after completion (the emulator's default); quick mode
    # has it at once, or the lean CLI's 10 s re-read alone would outlast the whole section.
    args.lag = 0.0 if args.quick else 1.0
    args.grid_compile_seconds = 0.2 if args.quick else 1.0
    timing.SETTLE_SECONDS = 0.1 if args.quick else 0.5
    if args.json_path is None:
        args.json_path = RESULTS / ("quick.json" if args.quick else "latest.json")
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    # A misspelt or empty choice would otherwise run nothing and write an empty results file.
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(SECTIONS)}")
    if not args.sections:
        raise SystemExit(f"no section chosen; choose from {', '.join(SECTIONS)}")
    return args


def _meta(args: argparse.Namespace, server: PrefectServer) -> dict[str, Any]:
    import prefect

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "prefect": prefect.__version__,
        "quick": args.quick,
        "latency_ms": args.latency_ms,
        "repetitions": args.repetitions,
        "bulk_n": args.bulk_n,
        "bulk_repetitions": args.bulk_repetitions,
        "concurrencies": args.concurrencies,
        "overhead_n": args.overhead_n,
        "wait_durations_s": args.wait_durations,
        "wait_samples": args.wait_samples,
        "grid": {"sets": args.grid_sets, "nodes": args.grid_nodes,
                 "backtest_s": args.grid_seconds, "compile_s": args.grid_compile_seconds},
        "scale_sizes": args.scale_sizes,
        "optimization": {"points": args.opt_points, "nodes": args.opt_nodes,
                         "point_s": args.opt_seconds},
        "monitor_sizes": args.monitor_sizes,
        "object_store": {"small_files": args.store_small, "big_mb": args.store_big_mb},
        "total_performance_lag_s": args.lag,
        "prefect_server_start_s": round(server.started_in_seconds, 2),
    }


async def _sections(args: argparse.Namespace, emulator: EmulatorProcess) -> dict[str, Any]:
    from .backtest_wait import run_backtest_wait
    from .bulk import run_bulk
    from .grid import run_grid
    from .lifecycle import run_lifecycle
    from .memory import run_memory
    from .monitor_cost import run_monitor_cost
    from .objectstore import run_objectstore
    from .optimization_wait import run_optimization_wait
    from .overhead import run_overhead
    from .scale import run_scale

    runners: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "lifecycle": lambda: run_lifecycle(emulator, args.repetitions),
        "bulk": lambda: run_bulk(emulator, args.bulk_n, args.concurrencies,
                                 args.bulk_repetitions),
        "overhead": lambda: run_overhead(emulator, args.overhead_n, max(3, args.overhead_n // 10)),
        "memory": lambda: asyncio.to_thread(run_memory, emulator, args.bulk_n,
                                            max(args.concurrencies)),
        "wait": lambda: run_backtest_wait(emulator, args.wait_durations, args.wait_samples,
                                          args.lag),
        "grid": lambda: run_grid(emulator, args.grid_sets, args.grid_nodes, args.grid_seconds,
                                 args.lag, args.grid_compile_seconds,
                                 tuple(v.strip() for v in args.grid_variants.split(","))),
        "scale": lambda: run_scale(emulator, args.scale_sizes),
        "optimization": lambda: run_optimization_wait(emulator, args.opt_points, args.opt_nodes,
                                                      args.opt_seconds),
        "monitor": lambda: run_monitor_cost(emulator, args.monitor_sizes),
        "objectstore": lambda: run_objectstore(args.store_small, 1024, args.store_big_mb,
                                               args.store_latency_ms),
    }
    results: dict[str, Any] = {}
    took: dict[str, float] = {}
    for name, runner in runners.items():
        if name in args.sections:
            print(f"{name} ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            results[name] = await runner()
            took[name] = round(time.monotonic() - started, 1)
    results["section_seconds"] = took
    return results


def _flush_prefect() -> None:
    """Send the run logs and events still queued before the server goes away."""
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    args = apply_defaults(build_parser().parse_args(argv))
    home = Path(tempfile.mkdtemp(prefix="qc-bench-prefect-"))
    try:
        print("starting the Prefect server and the emulator ...", file=sys.stderr, flush=True)
        with PrefectServer(home) as server, EmulatorProcess(args.latency_ms) as emulator:
            # Before Prefect is imported here: its settings are read at import time.
            os.environ.update({
                "PREFECT_HOME": str(home),
                "PREFECT_API_URL": server.api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            })
            if not args.verbose:
                # Run logs still go to the server (as in production); only the console is quiet.
                os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
            meta = _meta(args, server)
            results = {"meta": meta, **asyncio.run(_sections(args, emulator))}
            _flush_prefect()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    results["problems"] = problems(results)
    print(render(results))
    if args.compare:
        print("\n" + compare(json.loads(args.compare.read_text()), results))
    args.json_path.parent.mkdir(parents=True, exist_ok=True)
    args.json_path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {args.json_path}", file=sys.stderr)
    return 1 if results["problems"] else 0
