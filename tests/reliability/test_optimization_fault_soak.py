"""Fault soak of ``optimize-strategy``: runs against an emulator failing 20 % of requests (every
fault kind, every endpoint: lost answers on ``/optimizations/create`` and ``/compile/create``,
slow reads while an optimization is waited for). An optimization bills: none may be started
twice, none left running, no temporary project left.

The short soak runs in the normal suite; the long one is marked ``slow``
(``QC_OPTIMIZATION_SOAK_RUNS``, default 60, ``QC_OPTIMIZATION_SOAK_SEED``).
"""

from __future__ import annotations

import os

import pytest

from quantconnect_emulator import EmulatorServer, FaultKind
from tests.reliability.backtest_soak import quick_jobs
from tests.reliability.conftest import report_figures
from tests.reliability.optimization_soak import OptimizationSoakFigures, run_optimization_soak
from tests.reliability.soak import ALL_FAULTS, faulty

pytestmark = pytest.mark.anyio

SHORT_RUNS = 6
SHORT_CONCURRENCY = 3
LONG_RUNS = int(os.environ.get("QC_OPTIMIZATION_SOAK_RUNS", "60"))
LONG_CONCURRENCY = int(os.environ.get("QC_OPTIMIZATION_SOAK_CONCURRENCY", "4"))

#: Forced on top of the random faults, so that each short soak meets them whatever the draw:
#: lost answers of the optimization's create (the one that bills) and the compile's, and reads
#: answering late while an optimization is waited for.
FORCED = [
    (FaultKind.AMBIGUOUS_WRITE, "/optimizations/create", 2),
    (FaultKind.HTTP_500_EMPTY, "/optimizations/create", 1),
    (FaultKind.AMBIGUOUS_WRITE, "/compile/create", 1),
    (FaultKind.SLOW_RESPONSE, "/optimizations/read", 2),
]


def check(figures: OptimizationSoakFigures, title: str, completed_share: float) -> None:
    report_figures(title, figures.lines())
    assert figures.left_projects == [], "temporary projects were left behind (no sweeper ran)"
    assert figures.left_running == [], "an optimization was left running (it bills)"
    assert figures.removed_running == [], "a project went while its optimization still ran"
    assert figures.duplicate_names == [], "an optimization was started twice under one name"
    assert figures.created == figures.started_names >= figures.reported
    assert figures.unexplained == []
    assert figures.completed + sum(figures.failed.values()) == figures.runs
    # Failures are allowed if they name their cause (above); most runs complete.
    assert figures.completed >= figures.runs * completed_share, figures.failure_messages[:5]


async def run(runs: int, seed: int, concurrency: int) -> OptimizationSoakFigures:
    with EmulatorServer(seed=seed, request_log_size=max(20_000, runs * 300)) as server:
        # Points of 0.3 s, 0.3 s in `new`: an optimization is waited for over several reads.
        quick_jobs(server, backtest_seconds=0.3, optimization_new_seconds=0.3,
                   optimization_estimate_needs_backtest=True)
        faulty(server)
        for kind, path, count in FORCED:
            server.inject(kind, path=path, count=count)
        return await run_optimization_soak(server, runs, concurrency)


async def test_short_optimization_fault_soak() -> None:
    figures = await run(SHORT_RUNS, seed=25, concurrency=SHORT_CONCURRENCY)
    check(figures, f"optimization fault soak: {figures.runs} runs, 20% faults, "
                   f"{SHORT_CONCURRENCY} at once", completed_share=0.5)
    assert set(figures.faults) >= {kind.value for kind in ALL_FAULTS}
    assert "/optimizations/create ambiguous_write" in figures.faults_by_path
    assert "/optimizations/read slow_response" in figures.faults_by_path


@pytest.mark.slow
@pytest.mark.timeout(max(600, LONG_RUNS * 20))
async def test_long_optimization_fault_soak() -> None:
    seed = int(os.environ.get("QC_OPTIMIZATION_SOAK_SEED", "252"))
    figures = await run(LONG_RUNS, seed, LONG_CONCURRENCY)
    check(figures, f"optimization fault soak (long): {figures.runs} runs, 20% faults, "
                   f"{LONG_CONCURRENCY} at once", completed_share=0.9)
