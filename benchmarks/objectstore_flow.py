"""Object Store figures through the ``sync-object-store`` flow: 1,000 small files, one 50 MB file.

Not a test: ``python -m benchmarks.objectstore_flow [--small 1000] [--small-bytes 1024]
[--big-mb 50] [--latency-ms 0]`` starts a Prefect server and the emulator, each in its own
process, then runs the flow (real Prefect: task runs, the table artifact) and measures, each as
API requests the emulator received, seconds and peak memory of this process:

1. the first sync of the small files (every one uploaded);
2. a second sync of the same folder (nothing uploaded: sizes and MD5s match);
3. the first sync of the big file.

Memory: ``tracemalloc``'s peak of Python allocations during the run, and the process's peak RSS
(``VmHWM``: the interpreter, Prefect and imports included) after it. The client part alone is
measured by :mod:`benchmarks.objectstore_sync`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import requests

from quantconnect_emulator.config import DEFAULT_API_TOKEN, DEFAULT_ORGANIZATION_ID, DEFAULT_USER_ID

from .memory import rss_mb
from .objectstore_sync import start_emulator
from .services import PrefectServer


def _last_seq(control: str) -> int:
    entries = requests.get(f"{control}/requests", timeout=30).json()["requests"]
    return int(entries[-1]["seq"]) if entries else 0


def _api_requests_since(control: str, seq: int) -> int:
    entries = requests.get(f"{control}/requests", timeout=30).json()["requests"]
    return sum(1 for e in entries if int(e["seq"]) > seq and e["path"].startswith("/object/"))


async def _sync(control: str, base_url: str, folder: Path, prefix: str) -> dict[str, Any]:
    from flows.objectstore.forms import SyncOptions
    from flows.objectstore.sync import sync_object_store
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(
        user_id=DEFAULT_USER_ID, api_token=DEFAULT_API_TOKEN, base_url=base_url,
        organization_id=DEFAULT_ORGANIZATION_ID,
    )
    options = SyncOptions(folder=str(folder), prefix=prefix, max_bytes=200 * 1024 * 1024)
    seq = _last_seq(control)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        report = await sync_object_store(options, credentials=credentials)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "uploaded": report.count("uploaded"),
        "unchanged": report.count("unchanged"),
        "api_requests": _api_requests_since(control, seq),
        "seconds": round(seconds, 2),
        "traced_peak_mib": round(peak / 2**20, 2),
        "rss_peak_mib": round(rss_mb(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--small-bytes", type=int, default=1024)
    parser.add_argument("--big-mb", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    big_bytes = args.big_mb * 1_000_000
    home = Path(tempfile.mkdtemp(prefix="qc-bench-objsync-"))
    figures: dict[str, Any] = {}
    process, base_url = start_emulator(args.latency_ms, big_bytes + 1_000_000)
    try:
        control = base_url.rsplit("/api/", 1)[0] + "/_emulator"
        requests.put(
            f"{control}/objectstore/settings",
            json={"quota_bytes": 4 * big_bytes, "quota_files": args.small + 10},
            timeout=10,
        ).raise_for_status()
        with PrefectServer(home) as server:
            # Before Prefect is imported here: its settings are read at import time.
            os.environ.update({
                "PREFECT_HOME": str(home),
                "PREFECT_API_URL": server.api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
            })
            small = home / "small"
            small.mkdir()
            for index in range(args.small):
                (small / f"f{index:04d}.bin").write_bytes(os.urandom(args.small_bytes))
            big = home / "big"
            big.mkdir()
            with (big / "big.bin").open("wb") as out:
                for _ in range(args.big_mb):
                    out.write(os.urandom(1_000_000))
            figures["small_first_sync"] = asyncio.run(_sync(control, base_url, small, "bench/s"))
            figures["small_second_sync"] = asyncio.run(_sync(control, base_url, small, "bench/s"))
            figures["big_first_sync"] = asyncio.run(_sync(control, base_url, big, "bench/b"))
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)
    figures["setup"] = {"small_files": args.small, "small_bytes": args.small_bytes,
                        "big_bytes": big_bytes, "latency_ms": args.latency_ms}
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
