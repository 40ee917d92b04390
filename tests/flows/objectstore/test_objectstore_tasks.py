"""Object Store tasks in real Prefect flows against the emulator: each operation, and which
failures a task run retries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect import flow

from quantconnect_client import RequestRejectedError, ValidationError
from tasks import with_api_retries
from tasks.objectstore import (
    delete_object,
    download_object,
    list_objects,
    read_object_properties,
    upload_object,
)
from tests.flows.conftest import FAST_RETRIES
from tests.helpers import credentials_for

pytestmark = pytest.mark.anyio


def calls(emulator: Any, path: str) -> int:
    return sum(1 for r in emulator.requests_log() if r["path"] == path)


@pytest.fixture
def store_credentials(qc_emulator: Any) -> Any:
    # One client attempt per call: every transient failure reaches the task's own retries.
    return credentials_for(
        qc_emulator, organization_id=qc_emulator.organization_id, max_attempts=1
    )


def retried(task: Any) -> Any:
    return with_api_retries(task, FAST_RETRIES["task_retries"], 0)


async def test_every_operation_in_one_flow(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, tmp_path: Path
) -> None:
    qc_object_store.configure(get_seconds=0.2)
    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x00\x01weights")

    @flow
    async def round_trip() -> tuple[Any, ...]:
        uploaded = await upload_object(store_credentials, "models/weights.bin", str(source))
        properties = await read_object_properties(store_credentials, "models/weights.bin")
        listing = await list_objects(store_credentials, "models")
        written = await download_object(
            store_credentials, "models/weights.bin", str(tmp_path / "out.bin")
        )
        deleted = await delete_object(store_credentials, "models")
        return uploaded, properties, listing, written, deleted

    uploaded, properties, listing, written, deleted = await round_trip()
    assert uploaded.md5 == properties.md5 and properties.size == 9
    assert [o.name for o in listing.objects] == ["weights.bin"]
    assert Path(written).read_bytes() == source.read_bytes()
    assert deleted is True and qc_object_store.snapshot() == {}


async def test_a_transient_upload_failure_is_retried_by_the_task(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, tmp_path: Path
) -> None:
    source = tmp_path / "a.csv"
    source.write_bytes(b"a,b\n1,2\n")
    qc_emulator.inject("http_503_html", path="/object/set", count=1)

    @flow
    async def publish() -> Any:
        return await retried(upload_object)(store_credentials, "data/a.csv", str(source))

    result = await publish()
    assert result.size == 8
    assert calls(qc_emulator, "/object/set") == 2
    assert list(qc_object_store.snapshot()) == ["data/a.csv"]


async def test_a_quota_refusal_is_not_retried(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any, tmp_path: Path
) -> None:
    qc_object_store.configure(quota_bytes=3)
    source = tmp_path / "big.bin"
    source.write_bytes(b"too big")

    @flow
    async def publish() -> Any:
        return await retried(upload_object)(store_credentials, "big.bin", str(source))

    with pytest.raises(RequestRejectedError, match="quota"):
        await publish()
    assert calls(qc_emulator, "/object/set") == 1


async def test_a_bad_key_fails_before_any_request(
    qc_emulator: Any, store_credentials: Any, tmp_path: Path
) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"a")

    @flow
    async def publish() -> Any:
        return await retried(upload_object)(store_credentials, "a/../b", str(source))

    with pytest.raises(ValidationError):
        await publish()
    assert qc_emulator.requests_log() == []


async def test_a_retried_delete_after_a_lost_answer_succeeds(
    qc_emulator: Any, qc_object_store: Any, store_credentials: Any
) -> None:
    qc_object_store.seed("old/a.txt", b"a")
    qc_emulator.inject("ambiguous_write", path="/object/delete", count=1)

    @flow
    async def clean() -> bool:
        return bool(await retried(delete_object)(store_credentials, "old"))

    # The first attempt deleted the folder and lost its answer; the task's retry finds it gone.
    assert await clean() is False
    assert calls(qc_emulator, "/object/delete") == 2
    assert qc_object_store.snapshot() == {}


async def test_deleting_a_missing_key_fails_on_the_first_attempt(
    qc_emulator: Any, store_credentials: Any
) -> None:
    @flow
    async def clean() -> bool:
        return bool(await retried(delete_object)(store_credentials, "never/there"))

    with pytest.raises(RequestRejectedError):
        await clean()
    assert calls(qc_emulator, "/object/delete") == 1
