"""``monitor-live`` over a hundred live algorithms at 100 ms a request: the reads run a few at a
time, so the run takes under 10 s (about 20 s one at a time), still at most three reads per
algorithm, and nothing reads as stopped."""

from __future__ import annotations

import time

import pytest

from flows.backtests.strategy_folder import load_strategy
from flows.common.options import RetryOptions
from flows.live.forms import MonitorLiveOptions
from flows.live.monitor import monitor_live_flow
from quantconnect_emulator import EmulatorServer
from tests.reliability.conftest import report_figures
from tests.reliability.soak import soak_credentials

# Slow: deploying the hundred algorithms takes about two minutes of the test's three.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ALGORITHMS = 100
LATENCY_MS = 100
EXAMPLE = load_strategy("strategies/sma_crossover_py").files[0].content


async def test_a_hundred_algorithms_at_100_ms_are_read_in_under_10_s() -> None:
    with EmulatorServer(seed=32) as server:
        server.set_jobs(live_queue_seconds=0.05, live_initializing_seconds=0.05,
                        live_day_seconds=0.2, live_nodes=ALGORITHMS)
        credentials = soak_credentials(server).model_copy(update={"read_timeout": 5.0})
        client = credentials.get_client()
        deployed = []
        for i in range(ALGORITHMS):
            project_id = int(client.projects.create(f"Live/scale-{i}", "Py").project_id)
            client.files.update(project_id, "main.py", EXAMPLE)
            compiled = client.compiles.wait(project_id,
                                            client.compiles.create(project_id).compile_id)
            node = client.live.free_nodes(project_id)[0].id
            deployed.append((project_id,
                             client.live.create(project_id, compiled.compile_id, node).deploy_id))
        for project_id, deploy_id in deployed:
            client.live.wait(project_id, deploy_id, timeout=30, schedule=(0.05,))
        server.set_faults(latency_ms=LATENCY_MS)
        before = len(server.requests_log())
        started = time.perf_counter()
        report = await monitor_live_flow(
            MonitorLiveOptions(stale_minutes=None,
                               retries=RetryOptions(task_retries=1, retry_delay_seconds=0.2)),
            credentials=credentials)
        seconds = time.perf_counter() - started
        made = len(server.requests_log()) - before

    findings = sorted({a.finding for row in report.rows for a in row.alarms})
    report_figures("live monitor scale", [
        f"{ALGORITHMS} live algorithms at {LATENCY_MS} ms a request: {seconds:.1f} s, "
        f"{made} requests ({(made - 2) / ALGORITHMS:.1f} per algorithm), findings {findings}"])
    assert len(report.rows) == ALGORITHMS
    assert "stopped" not in findings and "unknown" not in findings
    assert made <= 2 + 3 * ALGORITHMS
    assert seconds < 10, f"{ALGORITHMS} algorithms took {seconds:.1f} s"
