"""``client.object_store`` over HTTP against the emulator: every operation, its checks before
any request, the download job's wait, streaming, and uploads under lost answers."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantconnect_client import (
    NotFoundError,
    QuantConnectClient,
    QuantConnectError,
    RequestRejectedError,
    ValidationError,
    WaitTimeoutError,
)
from quantconnect_client.models.objectstore import ObjectEntry, ObjectListing
from quantconnect_client.multipart import CHUNK_BYTES, MultipartUpload
from tests.client.conftest import make_client

HELLO = b"Hello, world!"


@pytest.fixture
def client(qc_emulator: Any) -> Iterator[QuantConnectClient]:
    with make_client(qc_emulator, organization_id=qc_emulator.organization_id) as made:
        yield made


@pytest.fixture
def quick_get(qc_object_store: Any) -> Any:
    """Download jobs ready after a fifth of a second of real time."""
    qc_object_store.configure(get_seconds=0.2)
    return qc_object_store


def api_requests(qc_emulator: Any, path: str) -> list[dict[str, Any]]:
    return [e for e in qc_emulator.requests_log() if e["path"] == path]


def test_set_from_bytes_then_properties(client: QuantConnectClient, qc_object_store: Any) -> None:
    result = client.object_store.set("test_key_1", HELLO)
    assert (result.size, result.md5, result.reconciled) == (
        13,
        "6cd3556deb0da54bca060b4c39479839",
        False,
    )
    found = client.object_store.properties("test_key_1")
    assert (found.size, found.md5, found.mime, found.preview) == (
        13,
        result.md5,
        "text/plain",
        "Hello, world!",
    )
    assert qc_object_store.content("test_key_1") == HELLO


def test_set_from_a_path_and_from_a_file_object(
    client: QuantConnectClient, qc_object_store: Any, tmp_path: Path
) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(CHUNK_BYTES * 3 + 17))  # several chunks and a remainder
    client.object_store.set("models/weights.bin", source)
    assert qc_object_store.content("models/weights.bin") == source.read_bytes()
    with source.open("rb") as handle:
        handle.seek(100)  # read from the current position
        client.object_store.set("models/tail.bin", handle)
        assert not handle.closed  # the caller's file stays the caller's
    assert qc_object_store.content("models/tail.bin") == source.read_bytes()[100:]


@pytest.mark.parametrize("key", ["", "a/../b", "a//b", "what?", "a.b.c", "/", 7])
def test_bad_keys_are_refused_before_any_request(
    client: QuantConnectClient, qc_emulator: Any, key: Any
) -> None:
    with pytest.raises(ValidationError):
        client.object_store.set(key, b"x")
    with pytest.raises(ValidationError):
        client.object_store.properties(key)
    assert qc_emulator.requests_log() == []


def test_size_limit_and_sources_are_checked_before_any_request(
    client: QuantConnectClient, qc_emulator: Any, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="max_bytes"):
        client.object_store.set("big.bin", b"x" * 11, max_bytes=10)
    with pytest.raises(ValidationError, match="not a file"):
        client.object_store.set("a.bin", tmp_path / "missing.bin")

    class Pipe(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

    with pytest.raises(ValidationError, match="seekable"):
        client.object_store.set("a.bin", Pipe())  # type: ignore[arg-type]
    assert qc_emulator.requests_log() == []


def test_an_organization_is_required(qc_emulator: Any) -> None:
    with make_client(qc_emulator) as bare, pytest.raises(ValidationError, match="organization"):
        bare.object_store.list()
    assert qc_emulator.requests_log() == []


def test_quota_refusal_is_permanent_and_not_retried(
    client: QuantConnectClient, qc_emulator: Any, qc_object_store: Any
) -> None:
    qc_object_store.configure(quota_bytes=5)
    with pytest.raises(RequestRejectedError, match="quota"):
        client.object_store.set("a.bin", b"123456")
    assert len(api_requests(qc_emulator, "/object/set")) == 1


def test_lost_upload_answer_is_checked_not_sent_twice(
    client: QuantConnectClient, qc_emulator: Any, qc_object_store: Any
) -> None:
    qc_emulator.inject("ambiguous_write", path="/object/set", count=1)
    result = client.object_store.set("data/prices.csv", b"date,close\n2024-01-02,1\n")
    assert result.reconciled is True
    assert client.metrics.reconciled == 1
    assert len(api_requests(qc_emulator, "/object/set")) == 1  # found by properties
    assert list(qc_object_store.snapshot()) == ["data/prices.csv"]
    assert qc_object_store.content("data/prices.csv") == b"date,close\n2024-01-02,1\n"


def test_lost_answer_of_a_changed_object_uploads_again(
    client: QuantConnectClient, qc_emulator: Any, qc_object_store: Any
) -> None:
    qc_emulator.inject("connection_drop", path="/object/set", count=1)  # not applied
    result = client.object_store.set("a.txt", b"second")
    assert result.reconciled is False
    assert len(api_requests(qc_emulator, "/object/set")) == 2
    assert qc_object_store.content("a.txt") == b"second"


def test_transient_failure_resends_the_whole_body(
    client: QuantConnectClient, qc_emulator: Any, qc_object_store: Any, tmp_path: Path
) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(os.urandom(CHUNK_BYTES + 5))
    qc_emulator.inject("http_502_html", path="/object/set", count=2)
    client.object_store.set("f.bin", source)
    assert len(api_requests(qc_emulator, "/object/set")) == 3
    assert qc_object_store.content("f.bin") == source.read_bytes()
    assert client.metrics.retries == 2


def test_list_root_folders_and_keys(client: QuantConnectClient) -> None:
    client.object_store.set("root/file.txt", b"abc")
    client.object_store.set("root/child/grand.txt", b"de")
    root = client.object_store.list()
    assert root.path == "/"
    assert [(o.key, o.folder) for o in root.objects] == [("root", True)]
    assert root.object_storage_used == 5
    inner = client.object_store.list("/root")
    assert sorted((o.normalized_key, o.folder) for o in inner.objects) == [
        ("root/child", True),
        ("root/file.txt", False),
    ]
    assert client.object_store.list("nothing/here").objects == []


def test_listing_model_reads_is_folder_and_null_objects() -> None:
    assert ObjectEntry.model_validate({"key": "/a", "isFolder": True}).folder is True
    assert ObjectEntry.model_validate({"key": "/a"}).normalized_key == "a"
    assert ObjectListing.model_validate({"objects": None}).objects == []


def test_delete_file_folder_and_missing(client: QuantConnectClient, qc_object_store: Any) -> None:
    client.object_store.set("d/a.txt", b"a")
    client.object_store.set("d/e/b.txt", b"b")
    client.object_store.set("keep.txt", b"k")
    client.object_store.delete("d/a.txt")
    with pytest.raises(NotFoundError):
        client.object_store.delete("d/a.txt")
    client.object_store.delete("d")
    assert list(qc_object_store.snapshot()) == ["keep.txt"]


def test_lost_delete_answer_counts_as_done(
    client: QuantConnectClient, qc_emulator: Any, qc_object_store: Any
) -> None:
    client.object_store.set("a.txt", b"a")
    qc_emulator.inject("ambiguous_write", path="/object/delete", count=1)
    client.object_store.delete("a.txt")
    assert client.metrics.reconciled == 1
    assert qc_object_store.snapshot() == {}


def test_get_waits_for_the_job_then_streams_to_the_path(
    client: QuantConnectClient, qc_emulator: Any, quick_get: Any, tmp_path: Path
) -> None:
    content = os.urandom(CHUNK_BYTES * 2 + 3)
    client.object_store.set("/CI_TEST/model.p", content)
    target = client.object_store.get("CI_TEST/model.p", tmp_path / "out" / "model.p")
    assert target.read_bytes() == content
    reads = api_requests(qc_emulator, "/object/get")
    assert len(reads) >= 2  # the start, then reads until the link was ready
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.p"]  # no temporaries


@pytest.mark.parametrize(
    "fault", ["ambiguous_write", "connection_drop", "http_503_html", "http_429"]
)
def test_a_failed_download_link_is_fetched_again_and_never_half_written(
    client: QuantConnectClient, qc_emulator: Any, quick_get: Any, tmp_path: Path, fault: str
) -> None:
    # ambiguous_write serves half of the real zip (its answer cut): a truncated zip may still
    # open, so the length it declared is what refuses it.
    content = os.urandom(CHUNK_BYTES * 2 + 3)
    quick_get.seed("models/m.bin", content)
    qc_emulator.inject(fault, path="/object/get/download", count=1)
    target = client.object_store.get("models/m.bin", tmp_path / "out" / "m.bin")
    assert target.read_bytes() == content
    links = api_requests(qc_emulator, "/object/get/download")
    assert [entry["fault"] for entry in links] == [fault, None]
    assert client.metrics.retries >= 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.bin"]


def test_a_full_disk_is_the_disk_s_error_and_not_fetched_again(
    client: QuantConnectClient,
    qc_emulator: Any,
    quick_get: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The disk is the one part faked: its spool refuses writes past one chunk, as a full disk
    # does. The link is fine, so the download must not be fetched again nor called a dropped
    # connection.
    real = tempfile.TemporaryFile

    class FullDisk(io.BufferedRandom):
        def write(self, data: Any) -> int:
            if self.tell() + len(data) > CHUNK_BYTES:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return super().write(data)

    def spool(*args: Any, **kwargs: Any) -> io.BufferedRandom:
        return FullDisk(real(*args, buffering=0, **kwargs))  # type: ignore[arg-type]

    monkeypatch.setattr(tempfile, "TemporaryFile", spool)
    quick_get.seed("models/big.bin", os.urandom(CHUNK_BYTES * 3))
    with pytest.raises(OSError) as raised:
        client.object_store.get("models/big.bin", tmp_path / "out" / "big.bin")
    assert raised.value.errno == errno.ENOSPC
    assert not isinstance(raised.value, QuantConnectError)
    assert len(api_requests(qc_emulator, "/object/get/download")) == 1
    assert list((tmp_path / "out").iterdir()) == []


def test_get_replaces_the_destination_only_when_complete(
    client: QuantConnectClient, quick_get: Any, tmp_path: Path
) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")
    client.object_store.set("a.txt", b"new")
    client.object_store.get("a.txt", target)
    assert target.read_bytes() == b"new"


def test_download_to_a_folder(client: QuantConnectClient, quick_get: Any, tmp_path: Path) -> None:
    client.object_store.set("f/a.txt", b"a")
    client.object_store.set("f/g/b.txt", b"b")
    written = client.object_store.download_to(["f"], tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == ["f/a.txt", "f/g/b.txt"]
    assert (tmp_path / "f" / "g" / "b.txt").read_bytes() == b"b"


def test_get_of_missing_or_folder_key(
    client: QuantConnectClient, quick_get: Any, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError):
        client.object_store.get("nope.txt", tmp_path / "x")
    client.object_store.set("f/a.txt", b"a")
    with pytest.raises(NotFoundError, match="download_to"):
        client.object_store.get("f", tmp_path / "x")


def test_get_without_export_permission(client: QuantConnectClient, qc_object_store: Any) -> None:
    client.object_store.set("a.txt", b"a")
    qc_object_store.configure(downloads_enabled=False)
    with pytest.raises(RequestRejectedError, match="derivative export"):
        client.object_store.get("a.txt", "/nonexistent/never-written")


def test_get_times_out_while_the_job_builds(
    client: QuantConnectClient, qc_object_store: Any, tmp_path: Path
) -> None:
    qc_object_store.configure(get_seconds=3600)
    client.object_store.set("a.txt", b"a")
    with pytest.raises(WaitTimeoutError):
        client.object_store.get("a.txt", tmp_path / "a.txt", timeout=0.6)
    assert not (tmp_path / "a.txt").exists()


def test_expired_link_is_refused(
    client: QuantConnectClient, qc_emulator: Any, qc_object_store: Any, tmp_path: Path
) -> None:
    qc_object_store.configure(get_seconds=0, url_seconds=10)
    client.object_store.set("a.txt", b"a")
    job = client.object_store.start_get(["a.txt"])
    qc_emulator.advance(11)
    with pytest.raises(RequestRejectedError, match="403"):
        client.object_store._fetch(job.url or "", io.BytesIO())


def test_transient_read_of_the_job_is_retried(
    client: QuantConnectClient, qc_emulator: Any, quick_get: Any, tmp_path: Path
) -> None:
    client.object_store.set("a.txt", b"a")
    qc_emulator.inject("http_503_html", path="/object/get", count=2)
    assert client.object_store.get("a.txt", tmp_path / "a.txt").read_bytes() == b"a"


def test_multipart_body_streams_in_chunks(tmp_path: Path) -> None:
    """Reading the body of a 24 MiB upload never holds more than a few chunks."""
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(24):
            out.write(os.urandom(1024 * 1024))
    upload = MultipartUpload(
        {"key": "big.bin"},
        "objectData",
        "big.bin",
        lambda: source.open("rb"),
        size=source.stat().st_size,
    )
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        body = upload.open()
        total = 0
        for chunk in body:
            digest.update(chunk)
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == len(body) == upload.length
    assert peak < 4 * CHUNK_BYTES


def test_every_upload_attempt_is_signed_afresh(qc_emulator: Any, qc_object_store: Any) -> None:
    """A resent body carries a new signature (a clock that ticks a second per reading)."""
    import time

    ticks = iter(range(10_000))
    start = time.time()
    with make_client(
        qc_emulator,
        organization_id=qc_emulator.organization_id,
        clock=lambda: start + next(ticks),
    ) as ticking:
        qc_emulator.inject("http_500_empty", path="/object/set", count=2)
        ticking.object_store.set("a.txt", b"a")
    stamps = [e["timestamp"] for e in api_requests(qc_emulator, "/object/set")]
    assert len(stamps) == 3 and len(set(stamps)) == 3
    assert qc_object_store.content("a.txt") == b"a"
