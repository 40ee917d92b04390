"""Several ``backtest-grid`` runs at once against one account's few backtest nodes, with a service
that queues and one that refuses when no node is free: never more backtests running than the
nodes, every set of every grid done (none starved), nothing left."""

from __future__ import annotations

import asyncio
import time

import pytest

from flows.backtests.forms import GridOptions, StrategyChoice
from flows.backtests.grid import backtest_grid
from flows.backtests.report import GridReport
from flows.common.options import RetryOptions
from quantconnect_emulator import EmulatorServer
from tests.reliability.backtest_soak import NodeMode, backtest_emulator, running_backtests
from tests.reliability.conftest import report_figures
from tests.reliability.soak import soak_credentials

pytestmark = pytest.mark.anyio

GRIDS = 3
NODES = 2
GRID = {"fast": [5, 10, 20]}
#: On the job clock: long enough that the grids contend for the nodes.
BACKTEST_SECONDS = 1.0


async def peak_waiting(server: EmulatorServer, peak: list[int]) -> None:
    """Keep in ``peak[0]`` the most backtests seen waiting for a node (queue mode)."""
    while True:
        peak[0] = max(peak[0], server.stats()["queued_backtests"])
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    "node_mode",
    # Refusals are where a grid could starve; a queue only waits (the soak's long run and the
    # pipelines' tests cover it), so it stays out of the normal suite's time.
    [pytest.param("queue", marks=pytest.mark.slow), "reject"],
)
async def test_several_grids_share_the_nodes(prefect_server, node_mode: NodeMode) -> None:
    with backtest_emulator(60, GRIDS * 10, nodes=NODES, node_mode=node_mode,
                           backtest_seconds=BACKTEST_SECONDS) as server:
        credentials = soak_credentials(server).model_copy(update={"read_timeout": 5.0})
        options = GridOptions(
            strategy=StrategyChoice(name_prefix="btconc-tmp-"),
            grid=GRID,
            max_concurrency=4,
            no_node_wait_seconds=0.2,
            retries=RetryOptions(task_retries=2, retry_delay_seconds=0.2),
        )
        started = time.perf_counter()

        async def one() -> tuple[float, GridReport]:
            report = await backtest_grid(options=options, credentials=credentials)
            return time.perf_counter() - started, report

        waiting = [0]
        watcher = asyncio.create_task(peak_waiting(server, waiting))
        try:
            results = await asyncio.gather(*(one() for _ in range(GRIDS)))
        finally:
            watcher.cancel()
        seconds = time.perf_counter() - started
        stats = server.stats()
        left_projects = server.projects(include_deleted=True)
        left_running = running_backtests(server)

    reports = [report for _, report in results]
    rows = [row for report in reports for row in report.rows]
    assert all(report.outcome == "completed" for report in reports)
    # None starved: every set of every grid completed.
    assert [row.outcome for row in rows] == ["completed"] * GRIDS * len(options.sets())
    assert stats["peak_running_backtests"] <= NODES
    assert stats["store"]["backtests_created"] == len(rows)
    assert left_projects == [] and left_running == [] and stats["running_backtests"] == 0
    finished = [f"{t:.1f}" for t in sorted(t for t, _ in results)]
    report_figures(
        f"backtest concurrency: {GRIDS} grids of {len(options.sets())} sets at once on "
        f"{NODES} nodes ({node_mode} mode)",
        [
            f"sets completed {sum(r.outcome == 'completed' for r in rows)}/{len(rows)} in "
            f"{seconds:.1f} s; grids finished after {', '.join(finished)} s",
            f"peak running backtests {stats['peak_running_backtests']} (nodes {NODES}); each "
            f"grid's concurrency {reports[0].concurrency}; most waiting in the queue {waiting[0]}; "
            f"starts refused {stats['store'].get('backtests_refused_no_node', 0)}, grid "
            f"resubmissions {sum(r.resubmissions for r in rows)} (most for one set "
            f"{max(r.resubmissions for r in rows)})",
            f"backtests created {stats['store']['backtests_created']} = sets {len(rows)}; "
            f"left: {len(left_projects)} projects, {len(left_running)} running backtests",
        ],
    )
