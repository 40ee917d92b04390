"""Object Store figures: 1,000 small files and one 50 MB file through the client.

Not a test: ``python -m benchmarks.objectstore_sync [--small 1000] [--small-bytes 1024]
[--big-mb 50] [--latency-ms 0]`` starts the emulator in its own process (so the figures are the
client's alone), then measures, each as requests made, seconds and peak memory:

1. upload every small file (``object_store.set`` from a path);
2. a re-sync of the same folder: one listing, then each file's ``properties`` compared by size
   and MD5, nothing sent again (the check the sync flow makes);
3. the big file's upload, and 4. its download (``object_store.get`` to a path).

Memory: ``tracemalloc``'s peak of Python allocations during the step, and the process's peak RSS
(``VmHWM``, the interpreter and imports included) after it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from quantconnect_client import QuantConnectClient
from quantconnect_client.objectstore import file_md5
from quantconnect_emulator.config import DEFAULT_API_TOKEN, DEFAULT_ORGANIZATION_ID, DEFAULT_USER_ID

from .memory import rss_mb


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


def measure(client: QuantConnectClient, work: Callable[[], Any]) -> dict[str, float]:
    """Requests, seconds and memory of one step."""
    before = client.metrics.requests
    tracemalloc.start()
    started = time.perf_counter()
    try:
        work()
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {
        "requests": client.metrics.requests - before,
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
    process, base_url = start_emulator(args.latency_ms, big_bytes + 1_000_000)
    figures: dict[str, Any] = {}
    try:
        control = base_url.rsplit("/api/", 1)[0] + "/_emulator"
        requests.put(
            f"{control}/objectstore/settings",
            json={"quota_bytes": 4 * big_bytes, "quota_files": args.small + 10, "get_seconds": 0.5},
            timeout=10,
        ).raise_for_status()
        with tempfile.TemporaryDirectory() as scratch, QuantConnectClient(
            DEFAULT_USER_ID, DEFAULT_API_TOKEN, base_url=base_url,
            organization_id=DEFAULT_ORGANIZATION_ID,
        ) as client:
            root = Path(scratch)
            small = root / "small"
            small.mkdir()
            for index in range(args.small):
                (small / f"f{index:04d}.bin").write_bytes(os.urandom(args.small_bytes))
            big = root / "big.bin"
            with big.open("wb") as out:
                for _ in range(args.big_mb):
                    out.write(os.urandom(1_000_000))
            store = client.object_store

            def upload_small() -> None:
                for path in sorted(small.iterdir()):
                    store.set(f"bench/small/{path.name}", path)

            def resync_small() -> None:
                listed = {o.name: o.size for o in store.list("bench/small").objects}
                sent = 0
                for path in sorted(small.iterdir()):
                    size, md5 = file_md5(lambda p=path: p.open("rb"))  # type: ignore[misc]
                    if listed.get(path.name) == size:
                        found = store.properties(f"bench/small/{path.name}")
                        if found.md5 == md5:
                            continue
                    store.set(f"bench/small/{path.name}", path)
                    sent += 1
                assert sent == 0, sent

            def upload_big() -> None:
                store.set("bench/big.bin", big, max_bytes=big_bytes)

            def download_big() -> None:
                target = store.get("bench/big.bin", root / "out" / "big.bin")
                assert file_md5(lambda: target.open("rb")) == file_md5(lambda: big.open("rb"))

            figures["small_upload"] = measure(client, upload_small)
            figures["small_resync"] = measure(client, resync_small)
            figures["big_upload"] = measure(client, upload_big)
            figures["big_download"] = measure(client, download_big)
    finally:
        process.terminate()
        process.wait(timeout=10)
    figures["setup"] = {
        "small_files": args.small,
        "small_bytes": args.small_bytes,
        "big_bytes": big_bytes,
        "latency_ms": args.latency_ms,
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
