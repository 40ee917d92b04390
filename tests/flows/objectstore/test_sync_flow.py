"""The sync-object-store flow in real Prefect against the emulator over HTTP: what it uploads,
skips and deletes, its delete guard, dry run, a lost upload answer, and refused folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError as FormError

from flows.objectstore.folder import SyncFolderError
from flows.objectstore.forms import SyncOptions
from flows.objectstore.sync import sync_object_store
from tests.helpers import credentials_for

pytestmark = pytest.mark.anyio


def writes(emulator: Any, path: str) -> int:
    return sum(1 for r in emulator.requests_log() if r["path"] == path)


def api_calls(emulator: Any) -> int:
    return sum(1 for r in emulator.requests_log() if r["path"].startswith("/object/"))


@pytest.fixture
def store_credentials(qc_emulator: Any) -> Any:
    return credentials_for(qc_emulator, organization_id=qc_emulator.organization_id)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "prices").mkdir(parents=True)
    (root / "model.json").write_text('{"w": [1, 2, 3]}')
    (root / "prices" / "spy.csv").write_text("date,close\n2024-01-02,470.1\n")
    (root / "prices" / "qqq.csv").write_text("date,close\n2024-01-02,400.2\n")
    (root / ".hidden").write_text("not data")
    return root


def actions(report: Any) -> dict[str, str]:
    return {item.key: item.action for item in report.items}


async def test_first_sync_uploads_everything_and_a_second_uploads_nothing(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, folder: Path
) -> None:
    options = SyncOptions(folder=str(folder), prefix="research/v1")
    first = await sync_object_store(options, credentials=store_credentials)
    assert actions(first) == {
        "research/v1/model.json": "uploaded",
        "research/v1/prices/qqq.csv": "uploaded",
        "research/v1/prices/spy.csv": "uploaded",
    }
    assert first.skipped == [".hidden (hidden or cache)"]
    stored = qc_object_store.snapshot()
    assert sorted(stored) == sorted(actions(first))
    spy = (folder / "prices" / "spy.csv").read_bytes()
    assert qc_object_store.content("research/v1/prices/spy.csv") == spy
    assert writes(qc_emulator, "/object/set") == 3

    second = await sync_object_store(options, credentials=store_credentials)
    assert set(actions(second).values()) == {"unchanged"}
    assert writes(qc_emulator, "/object/set") == 3  # no new upload
    assert {i.remote_size for i in second.items} == {i.size for i in first.items}


async def test_a_changed_file_is_uploaded_again_even_at_the_same_size(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, folder: Path
) -> None:
    options = SyncOptions(folder=str(folder), prefix="research")
    await sync_object_store(options, credentials=store_credentials)
    spy = folder / "prices" / "spy.csv"
    spy.write_text(spy.read_text().replace("470.1", "471.9"))  # same size, other bytes
    (folder / "model.json").write_text('{"w": [1, 2, 3, 4]}')  # another size
    report = await sync_object_store(options, credentials=store_credentials)
    by_key = {item.key: item for item in report.items}
    assert by_key["research/prices/spy.csv"].action == "uploaded"
    assert by_key["research/prices/spy.csv"].reason == "content changed"
    assert by_key["research/model.json"].reason == "size changed"
    assert by_key["research/prices/qqq.csv"].action == "unchanged"
    assert writes(qc_emulator, "/object/set") == 3 + 2
    assert qc_object_store.content("research/prices/spy.csv") == spy.read_bytes()
    assert qc_object_store.snapshot()["research/prices/spy.csv"]["md5"] == hashlib.md5(
        spy.read_bytes()).hexdigest()


async def test_keys_the_folder_lacks_go_only_when_asked(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, folder: Path
) -> None:
    qc_object_store.seed("research/old/stale.csv", b"old")
    qc_object_store.seed("elsewhere/keep.csv", b"keep")
    kept = await sync_object_store(
        SyncOptions(folder=str(folder), prefix="research"), credentials=store_credentials
    )
    assert actions(kept)["research/old/stale.csv"] == "kept"
    assert writes(qc_emulator, "/object/delete") == 0

    pruned = await sync_object_store(
        SyncOptions(folder=str(folder), prefix="research", delete_missing=True),
        credentials=store_credentials,
    )
    assert actions(pruned)["research/old/stale.csv"] == "deleted"
    assert writes(qc_emulator, "/object/delete") == 1
    assert "research/old/stale.csv" not in qc_object_store.snapshot()
    assert qc_object_store.content("elsewhere/keep.csv") == b"keep"  # outside the prefix


@pytest.mark.parametrize("prefix", ["", "/", ".", " "])
async def test_deleting_with_a_match_all_prefix_needs_confirmation(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, folder: Path, prefix: str
) -> None:
    if prefix == " ":
        with pytest.raises(FormError):  # not a key at all
            SyncOptions(folder=str(folder), prefix=prefix, delete_missing=True)
        return
    qc_object_store.seed("other/precious.bin", b"\x00\x01")
    with pytest.raises(FormError, match="all_keys"):
        SyncOptions(folder=str(folder), prefix=prefix, delete_missing=True)
    # A run started with raw parameters (as the UI or an API call sends them) is refused by
    # Prefect's validation of the form before the flow body runs.
    with pytest.raises(Exception, match="all_keys"):
        await sync_object_store(
            {"folder": str(folder), "prefix": prefix, "delete_missing": True},  # type: ignore[call-overload]
            credentials=store_credentials,
        )
    assert writes(qc_emulator, "/object/delete") == 0
    assert "other/precious.bin" in qc_object_store.snapshot()

    confirmed = await sync_object_store(
        SyncOptions(folder=str(folder), prefix=prefix, delete_missing=True, all_keys=True),
        credentials=store_credentials,
    )
    assert actions(confirmed)["other/precious.bin"] == "deleted"
    assert sorted(qc_object_store.snapshot()) == ["model.json", "prices/qqq.csv",
                                                   "prices/spy.csv"]


async def test_a_dry_run_reads_but_writes_nothing(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, folder: Path
) -> None:
    qc_object_store.seed("research/model.json", (folder / "model.json").read_bytes())
    qc_object_store.seed("research/gone.csv", b"x")
    report = await sync_object_store(
        SyncOptions(folder=str(folder), prefix="research", delete_missing=True, dry_run=True),
        credentials=store_credentials,
    )
    assert actions(report) == {
        "research/gone.csv": "would delete",
        "research/model.json": "unchanged",
        "research/prices/qqq.csv": "would upload",
        "research/prices/spy.csv": "would upload",
    }
    assert writes(qc_emulator, "/object/set") == writes(qc_emulator, "/object/delete") == 0
    assert sorted(qc_object_store.snapshot()) == ["research/gone.csv", "research/model.json"]
    assert "2 to upload" in report.summary()


async def test_a_lost_upload_answer_leaves_one_object_of_the_right_size(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, tmp_path: Path
) -> None:
    content = os.urandom(300_000)
    (tmp_path / "weights.bin").write_bytes(content)
    qc_emulator.inject("ambiguous_write", path="/object/set", count=1)
    report = await sync_object_store(
        SyncOptions(folder=str(tmp_path), prefix="models"), credentials=store_credentials
    )
    [item] = report.items
    assert item.action == "uploaded" and item.reconciled is True
    assert writes(qc_emulator, "/object/set") == 1  # applied once, found by properties
    assert list(qc_object_store.snapshot()) == ["models/weights.bin"]
    assert qc_object_store.snapshot()["models/weights.bin"]["size"] == len(content)
    assert qc_object_store.content("models/weights.bin") == content


async def test_only_the_listed_files_are_published(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, folder: Path
) -> None:
    report = await sync_object_store(
        SyncOptions(folder=str(folder), prefix="p", files=["prices/spy.csv",
                                                            str(folder / "model.json")]),
        credentials=store_credentials,
    )
    assert actions(report) == {"p/model.json": "uploaded", "p/prices/spy.csv": "uploaded"}
    with pytest.raises(FormError, match="whole folder"):
        SyncOptions(folder=str(folder), prefix="p", files=["model.json"], delete_missing=True)


@pytest.mark.parametrize("case", ["link", "fifo", "escape", "absolute", "linked-dir", "bad-key",
                                  "empty"])
async def test_bad_paths_are_refused_before_any_request(
    qc_emulator: Any, store_credentials: Any, tmp_path: Path, case: str
) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "ok.csv").write_text("1")
    outside = tmp_path / "secret.txt"
    outside.write_text("token")
    files: list[str] | None = None
    expected = {"link": "symbolic link", "fifo": "FIFO", "escape": "not inside the folder",
                "absolute": "not inside the folder", "linked-dir": "symbolic link",
                "bad-key": "may hold only", "empty": "no files"}[case]
    if case == "link":
        (root / "secret.txt").symlink_to(outside)
    elif case == "fifo":
        os.mkfifo(root / "pipe")
    elif case == "escape":
        files = ["../secret.txt"]
    elif case == "absolute":
        files = [str(outside)]
    elif case == "linked-dir":
        (root / "via").symlink_to(tmp_path)
        files = ["via/secret.txt"]
    elif case == "bad-key":
        (root / "bad name?.csv").write_text("1")
    elif case == "empty":
        (root / "ok.csv").unlink()
    with pytest.raises(SyncFolderError, match=expected):
        await sync_object_store(
            SyncOptions(folder=str(root), prefix="data", files=files),
            credentials=store_credentials,
        )
    assert api_calls(qc_emulator) == 0


async def test_a_transient_failure_is_retried_without_sending_the_stored_files_again(
    qc_emulator: Any, qc_object_store: Any, folder: Path
) -> None:
    # One client attempt per call: the 503 reaches the batch task, which Prefect retries.
    credentials = credentials_for(
        qc_emulator, organization_id=qc_emulator.organization_id, max_attempts=1
    )
    qc_emulator.inject("http_503_html", path="/object/set", count=1)
    options = SyncOptions(folder=str(folder), prefix="r", max_concurrency=1,
                          retries={"task_retries": 2, "retry_delay_seconds": 0})
    report = await sync_object_store(options, credentials=credentials)
    assert set(actions(report).values()) == {"uploaded"}
    # 3 files: the first attempt stored 2 and lost 1; the retry sends only that one.
    assert writes(qc_emulator, "/object/set") == 3 + 1
    assert len(qc_object_store.snapshot()) == 3


async def test_a_refused_upload_is_a_failed_row_and_fails_the_run_after_the_table(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, folder: Path
) -> None:
    qc_object_store.configure(quota_files=2)
    with pytest.raises(RuntimeError, match="1 of 3 key"):
        await sync_object_store(SyncOptions(folder=str(folder), prefix="q"),
                                credentials=store_credentials)
    assert len(qc_object_store.snapshot()) == 2
    assert writes(qc_emulator, "/object/set") == 3  # a refusal is not retried


async def test_a_retried_delete_batch_counts_keys_an_earlier_attempt_deleted(
    qc_emulator: Any, qc_object_store: Any, folder: Path
) -> None:
    credentials = credentials_for(
        qc_emulator, organization_id=qc_emulator.organization_id, max_attempts=1
    )
    for name in ("a.csv", "b.csv", "c.csv"):
        qc_object_store.seed(f"r/old/{name}", b"old")
    await sync_object_store(SyncOptions(folder=str(folder), prefix="r"), credentials=credentials)
    qc_emulator.inject("http_503_html", path="/object/delete", count=1)
    options = SyncOptions(folder=str(folder), prefix="r", delete_missing=True, max_concurrency=1,
                          retries={"task_retries": 2, "retry_delay_seconds": 0})
    report = await sync_object_store(options, credentials=credentials)
    assert [i.key for i in report.items if i.action == "deleted"] == [
        "r/old/a.csv", "r/old/b.csv", "r/old/c.csv"]
    assert sorted(qc_object_store.snapshot()) == [
        "r/model.json", "r/prices/qqq.csv", "r/prices/spy.csv"]
