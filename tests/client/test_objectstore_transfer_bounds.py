"""How long an Object Store transfer may take: bounded by its size, not by one request's time.

Through a throttled loopback link (:class:`tests.reliability.proxy.ThrottledProxy`) to the
emulator: a file several times larger than one attempt's bound can carry arrives whole on a slow
link, both ways; a link that stalls part way, or a download slower than the minimum rate, still
fails with a retried :class:`RequestTimeoutError` that says so, and leaves no half file behind.
Sizes are small and rates slow so each test takes seconds.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from quantconnect_client import (
    ConfigurationError,
    QuantConnectClient,
    RequestTimeoutError,
    Timeouts,
)
from tasks.objectstore import download_object, upload_object
from tests.client.conftest import make_client
from tests.reliability.proxy import ThrottledProxy

#: One attempt's bound is 2 s (connect 1 s + read 1 s).
TIMEOUTS = Timeouts(connect=1.0, read=1.0, min_transfer_rate=100_000)
#: A file that needs about 4 s on the slow link: twice one attempt's bound.
LARGE = 1_600_000
SLOW_LINK = 400_000  # bytes per second


def through(proxy: ThrottledProxy, emulator: Any, **options: Any) -> QuantConnectClient:
    return make_client(
        emulator,
        base_url=proxy.url(),
        organization_id=emulator.organization_id,
        timeouts=options.pop("timeouts", TIMEOUTS),
        **options,
    )


@pytest.fixture
def quick_get(qc_object_store: Any) -> Any:
    qc_object_store.configure(get_seconds=0.2)
    return qc_object_store


@pytest.fixture
def large_file(tmp_path: Path) -> Path:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(LARGE))  # random: the zip of a download cannot shrink it
    return path


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def set_requests(emulator: Any) -> int:
    return sum(1 for e in emulator.requests_log() if e["path"] == "/object/set")


def test_a_large_upload_on_a_slow_link_is_sent_whole(
    qc_emulator: Any, qc_object_store: Any, large_file: Path
) -> None:
    with (
        ThrottledProxy(qc_emulator.port, upload_rate=SLOW_LINK) as proxy,
        through(proxy, qc_emulator) as client,
    ):
        result = client.object_store.set("models/weights.bin", large_file)
    # One attempt, not cut at one request's bound and sent again.
    assert set_requests(qc_emulator) == 1
    assert client.metrics.retries == 0
    stored = qc_object_store.snapshot()["models/weights.bin"]
    assert (stored["size"], stored["md5"]) == (LARGE, md5(large_file.read_bytes()))
    assert (result.size, result.md5, result.reconciled) == (stored["size"], stored["md5"], False)


def test_a_large_download_on_a_slow_link_arrives_whole(
    qc_emulator: Any, quick_get: Any, large_file: Path, tmp_path: Path
) -> None:
    quick_get.seed("models/weights.bin", large_file.read_bytes())
    target = tmp_path / "out" / "weights.bin"
    with (
        ThrottledProxy(qc_emulator.port, download_rate=SLOW_LINK) as proxy,
        through(proxy, qc_emulator) as client,
    ):
        client.object_store.get("models/weights.bin", target)
    assert client.metrics.retries == 0
    assert md5(target.read_bytes()) == md5(large_file.read_bytes())


def test_an_upload_that_stalls_part_way_fails_as_a_stall_after_its_retries(
    qc_emulator: Any, qc_object_store: Any, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(8 * 1024 * 1024))  # more than the socket buffers hold
    # Its size bound is 2 s + 84 s: the stall, not that bound, ends each attempt.
    with (
        ThrottledProxy(qc_emulator.port, stall_up_after=512 * 1024) as proxy,
        through(proxy, qc_emulator) as client,
        pytest.raises(RequestTimeoutError) as raised,
    ):
        client.object_store.set("big.bin", source)
    message = str(raised.value)
    assert "stalled" in message and "took no data for 1 s" in message, message
    assert "gave up after 3 attempts" in message, message
    assert proxy.stalls >= 3
    assert qc_object_store.snapshot() == {}  # no part of a cut body is stored


def test_a_download_that_stalls_part_way_fails_and_leaves_no_file(
    qc_emulator: Any, quick_get: Any, large_file: Path, tmp_path: Path
) -> None:
    quick_get.seed("models/weights.bin", large_file.read_bytes())
    target = tmp_path / "out" / "weights.bin"
    with (
        ThrottledProxy(qc_emulator.port, stall_down_after=300 * 1024) as proxy,
        through(proxy, qc_emulator) as client,
        pytest.raises(RequestTimeoutError) as raised,
    ):
        client.object_store.get("models/weights.bin", target)
    message = str(raised.value)
    assert "stalled: no data for 1 s" in message and "gave up after 3 attempts" in message
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_a_download_slower_than_the_minimum_rate_fails_and_leaves_no_file(
    qc_emulator: Any, quick_get: Any, tmp_path: Path
) -> None:
    quick_get.seed("data/prices.bin", os.urandom(300_000))
    target = tmp_path / "out" / "prices.bin"
    # 40 kB/s never stalls a read (16 kB every 0.4 s, the read timeout is 2 s), but is a tenth
    # of the 400 kB/s asked for: each attempt is cut at 2.5 s + 300 kB at 400 kB/s, when less
    # than half has arrived.
    slow = Timeouts(connect=0.5, read=2.0, min_transfer_rate=400_000)
    with (
        ThrottledProxy(qc_emulator.port, download_rate=40_000) as proxy,
        through(proxy, qc_emulator, timeouts=slow) as client,
        pytest.raises(RequestTimeoutError) as raised,
    ):
        client.object_store.get("data/prices.bin", target)
    message = str(raised.value)
    assert "slower than the minimum rate of 400,000 bytes/s" in message, message
    assert "QC_MIN_TRANSFER_RATE" in message and "gave up after 3 attempts" in message
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_the_one_file_tasks_have_no_fixed_time_limit() -> None:
    # A fixed Prefect timeout (300 s before) cut a large file on a slow link whatever the
    # client's size-derived bounds allowed, and ``in_thread`` turns it into the client's budget.
    assert upload_object.timeout_seconds is None
    assert download_object.timeout_seconds is None


@pytest.mark.parametrize("field", ["connect", "read", "total", "min_transfer_rate"])
@pytest.mark.parametrize("value", [0, -1.0])
def test_timeouts_refuse_bounds_that_are_not_positive(field: str, value: float) -> None:
    # A zero rate once surfaced as a ZeroDivisionError in the middle of an upload.
    with pytest.raises(ConfigurationError, match=f"Timeouts.{field} must be greater than 0"):
        Timeouts(**{field: value})
