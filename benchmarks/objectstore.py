"""Section 10: the Object Store: 1,000 small files, one 50 MB file, a second sync of nothing.

The section starts an emulator of its own (requests up to the big file's size, a quota for
both folders; ``--store-latency-ms``, default 0: these figures are about bytes and counts) and
measures, each as Object Store requests the emulator received, seconds, and memory:

1. the ``sync-object-store`` flow's first sync of the small files (every one uploaded);
2. its second sync of the same, unchanged folder (no upload: sizes and MD5s match);
3. its first sync of the big file;
4. the client alone: the big file's ``object_store.set`` from a path, and 5. its
   ``object_store.get`` to a path (contents compared by MD5).

Memory: ``tracemalloc``'s peak of Python allocations during the step, and the process's RSS
growth (its ``VmHWM`` over the step, reset just before through ``/proc/self/clear_refs``, less
its RSS before). Promises: the second sync uploads 0 files; every step's allocation peak for the
big file stays under 2 x its size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import requests

from quantconnect_client import QuantConnectClient
from quantconnect_client.objectstore import file_md5
from quantconnect_emulator.config import DEFAULT_API_TOKEN, DEFAULT_ORGANIZATION_ID, DEFAULT_USER_ID

from .memory import rss_mb
from .scale import _reset_peak


def start_emulator(latency_ms: float, max_request_bytes: int) -> tuple[subprocess.Popen[str], str]:
    """The emulator in a subprocess; its API root."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "quantconnect_emulator", "--port", "0", "--seed", "1",
            "--latency-ms", str(latency_ms), "--max-request-bytes", str(max_request_bytes),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    base_url = ""
    for line in process.stdout:
        if "listening on" in line:
            base_url = line.split()[-1]
        if line.startswith("Press Ctrl+C"):
            break
    if not base_url:
        process.terminate()
        raise RuntimeError("the emulator did not start")
    return process, base_url


#: Most an upload or download of the big file may allocate, as a multiple of its size.
TARGET_MEMORY_RATIO = 2.0


def _last_seq(control: str) -> int:
    entries = requests.get(f"{control}/requests", timeout=30).json()["requests"]
    return int(entries[-1]["seq"]) if entries else 0


def _store_requests_since(control: str, seq: int) -> int:
    entries = requests.get(f"{control}/requests", timeout=30).json()["requests"]
    return sum(1 for e in entries if int(e["seq"]) > seq and e["path"].startswith("/object/"))


async def _measured(control: str, work: Callable[[], Awaitable[dict[str, Any]]]
                    ) -> dict[str, Any]:
    """Requests, seconds and memory of one step, with what the step reports."""
    seq = _last_seq(control)
    _reset_peak()
    before = rss_mb("VmRSS")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        found = await work()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        **found,
        "store_requests": _store_requests_since(control, seq),
        "seconds": round(seconds, 2),
        "traced_peak_mib": round(peak / 2**20, 2),
        "rss_growth_mib": round(rss_mb() - before, 1),
    }


async def run_objectstore(small: int, small_bytes: int, big_mb: int, latency_ms: float = 0.0
                          ) -> dict[str, Any]:
    """Section 10 of ``python -m benchmarks`` (the Prefect server is the run's)."""
    from flows.objectstore.forms import SyncOptions
    from flows.objectstore.sync import sync_object_store
    from tasks.credentials import QuantConnectCredentials

    big_bytes = big_mb * 1_000_000
    scratch = Path(tempfile.mkdtemp(prefix="qc-bench-store-"))
    process, base_url = start_emulator(latency_ms, big_bytes + 1_000_000)
    steps: dict[str, Any] = {}
    try:
        control = base_url.rsplit("/api/", 1)[0] + "/_emulator"
        requests.put(f"{control}/objectstore/settings",
                     json={"quota_bytes": 4 * big_bytes, "quota_files": small + 10,
                           "get_seconds": 0.5},
                     timeout=10).raise_for_status()
        small_dir, big_dir = scratch / "small", scratch / "big"
        small_dir.mkdir()
        big_dir.mkdir()
        for index in range(small):
            (small_dir / f"f{index:04d}.bin").write_bytes(os.urandom(small_bytes))
        big = big_dir / "big.bin"
        with big.open("wb") as out:
            for _ in range(big_mb):
                out.write(os.urandom(1_000_000))
        credentials = QuantConnectCredentials(
            user_id=DEFAULT_USER_ID, api_token=DEFAULT_API_TOKEN, base_url=base_url,
            organization_id=DEFAULT_ORGANIZATION_ID,
        )

        def sync(folder: Path, prefix: str) -> Callable[[], Awaitable[dict[str, Any]]]:
            async def work() -> dict[str, Any]:
                options = SyncOptions(folder=str(folder), prefix=prefix,
                                      max_bytes=4 * big_bytes)
                report = await sync_object_store(options, credentials=credentials)
                return {"uploaded": report.count("uploaded"),
                        "unchanged": report.count("unchanged")}
            return work

        steps["small_first_sync"] = await _measured(control, sync(small_dir, "bench/s"))
        steps["small_second_sync"] = await _measured(control, sync(small_dir, "bench/s"))
        steps["big_first_sync"] = await _measured(control, sync(big_dir, "bench/b"))
        with QuantConnectClient(DEFAULT_USER_ID, DEFAULT_API_TOKEN, base_url=base_url,
                                organization_id=DEFAULT_ORGANIZATION_ID) as client:
            store = client.object_store

            async def upload() -> dict[str, Any]:
                store.set("bench/client/big.bin", big, max_bytes=big_bytes)
                return {}

            async def download() -> dict[str, Any]:
                target = store.get("bench/client/big.bin", scratch / "out" / "big.bin")
                same = file_md5(lambda: target.open("rb")) == file_md5(lambda: big.open("rb"))
                return {"same_md5": same}

            steps["big_client_upload"] = await _measured(control, upload)
            steps["big_client_download"] = await _measured(control, download)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)
    big_steps = ("big_first_sync", "big_client_upload", "big_client_download")
    ratio = max(steps[s]["traced_peak_mib"] * 2**20 / big_bytes for s in big_steps)
    return {
        "small_files": small, "small_bytes": small_bytes, "big_bytes": big_bytes,
        "latency_ms": latency_ms, "steps": steps,
        "big_memory_ratio": round(ratio, 3),
        "target_memory_ratio": TARGET_MEMORY_RATIO,
        "second_sync_uploads": steps["small_second_sync"]["uploaded"],
        "completed": (steps["small_first_sync"]["uploaded"] == small
                      and steps["big_first_sync"]["uploaded"] == 1
                      and bool(steps["big_client_download"].get("same_md5"))),
    }


def table(section: dict[str, Any]) -> str:
    """Markdown: one row per step."""
    labels = {
        "small_first_sync": f"sync flow, {section['small_files']:,} small files, first",
        "small_second_sync": "sync flow, the same folder unchanged",
        "big_first_sync": f"sync flow, one {section['big_bytes'] / 1e6:g} MB file",
        "big_client_upload": "client object_store.set, the big file",
        "big_client_download": "client object_store.get, the big file",
    }
    lines = ["| step | uploaded | store requests | seconds | Python peak MiB | RSS growth MiB |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key, step in section["steps"].items():
        lines.append(f"| {labels[key]} | {step.get('uploaded', '')} | {step['store_requests']} "
                     f"| {step['seconds']:.2f} | {step['traced_peak_mib']:g} | "
                     f"{step['rss_growth_mib']:g} |")
    ratio, target = section["big_memory_ratio"], section["target_memory_ratio"]
    lines.append(
        f"second sync: {section['second_sync_uploads']} uploads (promise 0: "
        f"{'met' if section['second_sync_uploads'] == 0 else 'NOT met'}); big file: Python "
        f"peak {ratio:g} x its size (target < {target:g}: {'met' if ratio < target else 'NOT met'}"
        f"); {section['latency_ms']:g} ms per request, {section['small_bytes']:,} B per small file")
    return "\n".join(lines)
