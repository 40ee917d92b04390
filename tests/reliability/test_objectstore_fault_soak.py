"""Fault soak of the Object Store: ``sync-object-store`` runs, then downloads, against an emulator
failing 20 % of requests (every fault kind, every endpoint, the download link too), with lost
answers forced on ``/object/set`` and on the download link.

Each run publishes a folder of its own under its own prefix (new files), changes it (two files
changed, one removed, one added) and syncs again with ``delete_missing``, then downloads every
key with the ``download-object`` task. The promises, as counts:

- 0 half files: every object in the store is, byte for byte (size and MD5), a version of its
  file that a sync published; every downloaded file equals the store's object; a download that
  failed left nothing at its destination, and no temporary file is left anywhere;
- 0 duplicate uploads: no content is stored twice under a key (a lost answer is looked up with
  ``/object/properties``, never sent again);
- every failure names its cause (a download answered "not found" does, for a key that no
  completed sync has published since its file appeared).

The short soak runs in the normal suite; the long one is marked ``slow``
(``QC_OBJECTSTORE_SOAK_RUNS``, default 60, ``QC_OBJECTSTORE_SOAK_SEED``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.client.schemas.objects import State

from flows.common.options import RetryOptions
from flows.common.session import IN_MEMORY_RESULTS, prefect_api_session
from flows.objectstore.forms import SyncOptions
from flows.objectstore.sync import sync_object_store
from quantconnect_client import QuantConnectError
from quantconnect_emulator import EmulatorServer, FaultKind
from quantconnect_emulator.resources.objectstore import ObjectStore
from tasks import with_api_retries
from tasks.credentials import QuantConnectCredentials
from tasks.objectstore import download_object
from tests.reliability.conftest import report_figures
from tests.reliability.soak import ALL_FAULTS, PROCESSED, faulty, soak_credentials

pytestmark = pytest.mark.anyio

SHORT_RUNS = 6
SHORT_CONCURRENCY = 3
LONG_RUNS = int(os.environ.get("QC_OBJECTSTORE_SOAK_RUNS", "60"))
LONG_CONCURRENCY = int(os.environ.get("QC_OBJECTSTORE_SOAK_CONCURRENCY", "4"))
LINK = "/object/get/download"
#: Sizes of each run's files: small ones, and ones of several 256 KiB chunks.
SIZES = {"a.txt": 120, "b.json": 3_000, "deep/c.bin": 70_000, "deep/d.bin": 600_000,
         "e.bin": 300_000}
RETRIES = RetryOptions(task_retries=2, retry_delay_seconds=0.2)

#: Forced on top of the random faults, so that each short soak meets them whatever the draw.
FORCED = [
    (FaultKind.AMBIGUOUS_WRITE, "/object/set", 3),
    (FaultKind.AMBIGUOUS_WRITE, LINK, 2),
    (FaultKind.CONNECTION_DROP, LINK, 1),
    (FaultKind.SLOW_RESPONSE, LINK, 1),
]


@dataclass
class ObjectSoakFigures:
    runs: int = 0
    syncs: int = 0
    syncs_completed: int = 0
    downloads: int = 0
    downloads_completed: int = 0
    seconds: float = 0.0
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    lost_set_answers: int = 0
    link_faults: int = 0
    uploads_stored: int = 0
    duplicates: list[str] = field(default_factory=list)
    half_in_store: list[str] = field(default_factory=list)
    half_at_destination: list[str] = field(default_factory=list)
    stray_files: list[str] = field(default_factory=list)
    stale_store: list[str] = field(default_factory=list)
    client_requests: int = 0
    client_retries: int = 0
    client_reconciled: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    failure_messages: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items())) or "none"
        return [
            f"runs {self.runs}: syncs {self.syncs_completed}/{self.syncs} completed, downloads "
            f"{self.downloads_completed}/{self.downloads} completed, in {self.seconds:.1f} s; "
            f"failures: {failed}",
            f"API and link requests received {self.requests}; faults injected "
            f"{sum(self.faults.values())} ({faults}); on the download link {self.link_faults}",
            f"client: {self.client_requests} attempts, {self.client_retries} retries, "
            f"{self.client_reconciled} lost writes reconciled; lost /object/set answers "
            f"{self.lost_set_answers}",
            f"uploads stored {self.uploads_stored}; duplicate uploads {len(self.duplicates)}; "
            f"half files: in the store {len(self.half_in_store)}, at a destination "
            f"{len(self.half_at_destination)}; stray files {len(self.stray_files)}",
            *[f"failure: {m}" for m in self.failure_messages[:5]],
        ]


@flow(**IN_MEMORY_RESULTS, name="soak-download-prefix")
async def download_keys(
    credentials: QuantConnectCredentials, keys: list[str], root: str
) -> dict[str, str]:
    """Download each key under ``root`` at its key's path; key -> "ok" or the error."""
    download = with_api_retries(download_object, RETRIES.task_retries,
                                RETRIES.retry_delay_seconds)
    outcome: dict[str, str] = {}
    for key in keys:
        try:
            await download(credentials, key, str(Path(root, *key.split("/"))), timeout=30.0)
            outcome[key] = "ok"
        except Exception as error:  # each key's fate is the figure
            outcome[key] = f"{type(error).__name__}: {error}"
    return outcome


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Run:
    """One run's folder, what its syncs published, and where it downloads."""

    number: int
    base: Path
    versions: dict[str, set[str]] = field(default_factory=dict)  # key -> md5s published
    final: dict[str, str] = field(default_factory=dict)  # key -> md5 of the last sync
    removed: set[str] = field(default_factory=set)
    synced: list[bool] = field(default_factory=list)
    downloaded: dict[str, str] = field(default_factory=dict)
    first_sync: dict[str, int] = field(default_factory=dict)  # key -> first sync that had it

    def never_published(self, key: str) -> bool:
        """No sync since the key's file first existed completed: the store may lack it."""
        return not any(self.synced[self.first_sync[key]:])

    @property
    def prefix(self) -> str:
        return f"soak/run-{self.number}"

    @property
    def folder(self) -> Path:
        return self.base / "src"

    @property
    def destination(self) -> Path:
        return self.base / "dest"

    def write(self, name: str, size: int) -> None:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(size)  # random: every version differs from every other
        path.write_bytes(data)
        key = f"{self.prefix}/{name}"
        self.first_sync.setdefault(key, len(self.synced))
        self.versions.setdefault(key, set()).add(md5(data))
        self.final[key] = md5(data)

    def change(self) -> None:
        """Two files changed (one at its size, one not), one removed, one added."""
        self.write("b.json", SIZES["b.json"])
        self.write("deep/d.bin", SIZES["deep/d.bin"] + 1_000)
        (self.folder / "a.txt").unlink()
        self.removed.add(f"{self.prefix}/a.txt")
        del self.final[f"{self.prefix}/a.txt"]
        self.write("deep/new.csv", 5_000)


async def one_run(run: Run, credentials: QuantConnectCredentials,
                  figures: ObjectSoakFigures) -> None:
    for name, size in SIZES.items():
        run.write(name, size)
    for delete_missing in (False, True):
        if delete_missing:
            run.change()
        options = SyncOptions(folder=str(run.folder), prefix=run.prefix,
                              delete_missing=delete_missing, retries=RETRIES)
        state: State[Any] = await sync_object_store(options, credentials, return_state=True)
        run.synced.append(state.is_completed())
        if not state.is_completed():
            error = await state.result(raise_on_failure=False)  # type: ignore[misc]
            record_failure(figures, f"sync {run.prefix}", error)
    keys = sorted(run.final)
    run.downloaded = await download_keys(credentials, keys, str(run.destination))
    for key, outcome in run.downloaded.items():
        if outcome != "ok":
            figures.failures["download " + outcome.split(":", 1)[0]] += 1
            figures.failure_messages.append(f"download {key}: {outcome}")
            kind = outcome.split(":", 1)[0]
            # Not found is the truth for a key whose every sync since its file appeared failed.
            missing = kind == "NotFoundError" and run.never_published(key)
            if kind not in EXPLAINED_DOWNLOAD_ERRORS and not missing:
                figures.unexplained.append(f"download {key}: {outcome}")


#: A download's failures the soak accepts: typed client errors with their reason.
EXPLAINED_DOWNLOAD_ERRORS = {
    "RequestTimeoutError", "ConnectionFailedError", "ServiceUnavailableError",
    "RateLimitedError", "TransientError", "BudgetExhaustedError", "UnexpectedResponseError",
}


def record_failure(figures: ObjectSoakFigures, what: str, error: Any) -> None:
    figures.failures[f"{what.split()[0]} {type(error).__name__}"] += 1
    figures.failure_messages.append(f"{what}: {type(error).__name__}: {error}")
    # A failed sync says which keys failed and why (its table); a bare error is unexplained.
    explained = isinstance(error, QuantConnectError) or (
        isinstance(error, RuntimeError) and "see the table" in str(error)
    )
    if not (explained and str(error).strip()):
        figures.unexplained.append(f"{what}: {type(error).__name__}: {error!r}")


def check_files(runs: list[Run], server: EmulatorServer, figures: ObjectSoakFigures) -> None:
    store = ObjectStore.of(server.emulator.account)
    snapshot = store.snapshot()
    uploads = store.uploads()
    figures.uploads_stored = len(uploads)
    stored = Counter((u["key"], u["md5"]) for u in uploads)
    figures.duplicates = sorted(f"{k} {m}" for (k, m), n in stored.items() if n > 1)
    published = {key: md5s for run in runs for key, md5s in run.versions.items()}
    for key, found in snapshot.items():
        if found["md5"] not in published.get(key, set()):
            figures.half_in_store.append(f"{key}: {found['size']} bytes, {found['md5']}")
    for run in runs:
        if run.synced[-1]:
            # A completed last sync: the prefix holds exactly the folder's last version.
            held = {k: v["md5"] for k, v in snapshot.items() if k.startswith(run.prefix + "/")}
            if held != run.final:
                figures.stale_store.append(run.prefix)
        expected_files = set()
        for key, outcome in run.downloaded.items():
            path = run.destination.joinpath(*key.split("/"))
            if outcome == "ok":
                expected_files.add(path)
                data = path.read_bytes() if path.is_file() else b""
                if md5(data) != snapshot.get(key, {}).get("md5"):
                    figures.half_at_destination.append(f"{key}: {len(data)} bytes")
            elif path.exists():
                figures.half_at_destination.append(f"{key}: left by a failed download")
        if run.destination.exists():
            for path in run.destination.rglob("*"):
                if path.is_file() and path not in expected_files:
                    figures.stray_files.append(str(path.relative_to(run.base)))


async def run_objectstore_soak(server: EmulatorServer, tmp: Path, runs: int,
                               concurrency: int) -> ObjectSoakFigures:
    credentials = soak_credentials(server).model_copy(
        update={"organization_id": server.organization_id}
    )
    client = credentials.get_client()
    before = (client.metrics.requests, client.metrics.retries, client.metrics.reconciled)
    figures = ObjectSoakFigures(runs=runs)
    all_runs = [Run(number, tmp / f"run-{number}") for number in range(runs)]
    gate = asyncio.Semaphore(concurrency)

    async def gated(run: Run) -> None:
        async with gate:
            await one_run(run, credentials, figures)

    started = time.perf_counter()
    async with prefect_api_session():
        await asyncio.gather(*(gated(run) for run in all_runs))
    figures.seconds = time.perf_counter() - started

    figures.syncs = sum(len(run.synced) for run in all_runs)
    figures.syncs_completed = sum(sum(run.synced) for run in all_runs)
    figures.downloads = sum(len(run.downloaded) for run in all_runs)
    figures.downloads_completed = sum(
        1 for run in all_runs for outcome in run.downloaded.values() if outcome == "ok"
    )
    stats = server.stats()
    figures.requests = stats["requests_total"]
    figures.faults = {k: v for k, v in stats["faults_injected"].items() if v}
    log = server.requests_log()
    assert len(log) == stats["requests_total"], "the request log overflowed; raise its size"
    figures.lost_set_answers = sum(
        1 for e in log if e["path"] == "/object/set" and e["fault"] == "ambiguous_write"
    )
    figures.link_faults = sum(1 for e in log if e["path"] == LINK and e["fault"] is not None)
    figures.client_requests = client.metrics.requests - before[0]
    figures.client_retries = client.metrics.retries - before[1]
    figures.client_reconciled = client.metrics.reconciled - before[2]
    check_files(all_runs, server, figures)
    # The request log and the store agree on how many uploads took effect: the duplicate count
    # misses none.
    processed = sum(1 for e in log if e["path"] == "/object/set" and e["fault"] in PROCESSED)
    assert figures.uploads_stored == processed
    return figures


def check(figures: ObjectSoakFigures, title: str, completed_share: float) -> None:
    report_figures(title, figures.lines())
    assert figures.half_in_store == [], "an object in the store is no version of its file"
    assert figures.half_at_destination == [], "a destination holds half a file"
    assert figures.stray_files == [], "a temporary or unexpected file was left"
    assert figures.duplicates == [], "a content was stored twice under one key"
    assert figures.stale_store == [], "a completed sync left the prefix unlike the folder"
    assert figures.unexplained == [], figures.unexplained[:3]
    assert figures.syncs_completed >= figures.syncs * completed_share, figures.failure_messages
    assert figures.downloads_completed >= figures.downloads * completed_share


async def run(tmp: Path, runs: int, seed: int, concurrency: int) -> ObjectSoakFigures:
    with EmulatorServer(seed=seed, request_log_size=max(10_000, runs * 400)) as server:
        store = ObjectStore.of(server.emulator.account)
        store.configure(get_seconds=0.2, quota_bytes=4 * 1024**3)
        faulty(server)
        for kind, path, count in FORCED:
            server.inject(kind, path=path, count=count)
        return await run_objectstore_soak(server, tmp, runs, concurrency)


async def test_short_objectstore_fault_soak(tmp_path: Path) -> None:
    figures = await run(tmp_path, SHORT_RUNS, seed=27, concurrency=SHORT_CONCURRENCY)
    check(figures, f"object store fault soak: {SHORT_RUNS} runs (2 syncs + downloads each), "
                   f"20% faults, {SHORT_CONCURRENCY} at once", completed_share=0.5)
    assert set(figures.faults) >= {kind.value for kind in ALL_FAULTS}
    assert figures.lost_set_answers >= 3 and figures.client_reconciled >= 1
    assert figures.link_faults >= 4


@pytest.mark.slow
@pytest.mark.timeout(max(600, LONG_RUNS * 15))
async def test_long_objectstore_fault_soak(tmp_path: Path) -> None:
    seed = int(os.environ.get("QC_OBJECTSTORE_SOAK_SEED", "277"))
    figures = await run(tmp_path, LONG_RUNS, seed, LONG_CONCURRENCY)
    check(figures, f"object store fault soak (long): {LONG_RUNS} runs, 20% faults, "
                   f"{LONG_CONCURRENCY} at once", completed_share=0.8)
