"""Many lifecycle runs at once against one emulator that enforces a request-rate limit."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import pytest

from flows.common.options import RetryOptions
from flows.projects.forms import LifecycleOptions
from flows.projects.lifecycle import temporary_project_lifecycle
from quantconnect_emulator import EmulatorServer
from tests.reliability.conftest import report_figures
from tests.reliability.soak import soak_credentials, started_again_when_prefect_is_busy

pytestmark = pytest.mark.anyio

#: Runs at once: enough that their first requests alone overrun the bucket. More only load the
#: Prefect test server: at 20, a loaded 2-core machine's SQLite server answered 503 to creating
#: a flow run (busy) after all of Prefect's own retries, which says nothing about the client.
RUNS = 12
RATE = 8.0  # requests per second; the emulator's token bucket holds a burst of as many


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any ``window``-second interval."""
    best, recent = 0, deque[float]()
    for moment in sorted(times):
        recent.append(moment)
        while moment - recent[0] > window:
            recent.popleft()
        best = max(best, len(recent))
    return best


async def test_concurrent_lifecycles_under_a_rate_limit() -> None:
    with EmulatorServer(seed=20) as server:
        server.set_faults(rate_limit_per_second=RATE, latency_ms=2, latency_jitter_ms=10)
        credentials = soak_credentials(server).model_copy(update={"read_timeout": 5.0})
        client = credentials.get_client()
        retries_before = client.metrics.retries
        # The core of the lifecycle (create, verify, rename, verify, delete, purge): fewer tasks
        # per run keep many runs at once affordable for the test server.
        options = LifecycleOptions(
            name_prefix="concurrent-tmp-",
            authenticate_first=False,
            verify_files=False,
            retries=RetryOptions(task_retries=5, retry_delay_seconds=0.5),
        )
        busy: list[str] = []
        started = time.perf_counter()
        states: list[Any] = await asyncio.gather(
            *(
                started_again_when_prefect_is_busy(
                    lambda: temporary_project_lifecycle(
                        options=options, credentials=credentials, return_state=True
                    ),
                    busy,
                )
                for _ in range(RUNS)
            )
        )
        seconds = time.perf_counter() - started
        log = server.requests_log()
        stats = server.stats()
        left = server.projects()

    completed = sum(state.is_completed() for state in states)
    admitted = [entry["monotonic"] for entry in log if entry["fault"] != "rate_limit"]
    peak = max_in_any_window(admitted)
    report_figures(
        f"concurrency: {RUNS} lifecycle runs at once, rate limit {RATE:g}/s (burst {RATE:g})",
        [
            f"completed {completed}/{RUNS} in {seconds:.1f} s; projects left {len(left)}",
            f"requests {stats['requests_total']}: admitted {len(admitted)}, answered 429 "
            f"{stats['rate_limited']}; client retries {client.metrics.retries - retries_before}",
            f"most requests admitted in any 1 s window: {peak} (limit + burst = {2 * RATE:g}); "
            f"peak in flight {stats['peak_in_flight']}",
            f"Prefect API errors (test server overloaded), runs started again: {len(busy)}",
        ],
    )
    assert completed == RUNS
    assert left == []
    assert stats["rate_limited"] > 0, "the limit never bit: the test proves nothing"
    # A token bucket admits at most rate * 1 s + its burst in any one second.
    assert peak <= 2 * RATE
