"""Fault soak: lifecycle runs against an emulator failing 20 % of requests, every fault kind.

The short soak runs in the normal suite; ``make soak`` runs the long one (``QC_SOAK_RUNS``,
default 500).
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.conftest import report_figures
from tests.reliability.soak import ALL_FAULTS, SoakFigures, faulty, run_soak, soak_emulator

pytestmark = pytest.mark.anyio

SHORT_RUNS = 30
CONCURRENCY = 8
LONG_RUNS = int(os.environ.get("QC_SOAK_RUNS", "500"))
LONG_CONCURRENCY = int(os.environ.get("QC_SOAK_CONCURRENCY", "6"))


def check(figures: SoakFigures, title: str) -> None:
    report_figures(title, figures.lines())
    assert figures.left == [], "temporary projects were left behind (no sweeper ran)"
    assert figures.duplicate_names == [], "a project was created twice"
    # The request log and the store agree on how many creates took effect.
    assert figures.creates_processed == figures.store["projects_created"]
    assert figures.unexplained == []
    assert figures.completed + sum(figures.failed.values()) == figures.runs
    assert figures.completed >= figures.runs * 0.9, figures.failure_messages[:5]


async def run(runs: int, seed: int, concurrency: int = CONCURRENCY) -> SoakFigures:
    with soak_emulator(seed, runs) as server:
        faulty(server)
        return await run_soak(server, runs, concurrency)


async def test_short_fault_soak() -> None:
    figures = await run(SHORT_RUNS, seed=6)
    check(figures, f"fault soak: {SHORT_RUNS} lifecycle runs, 20% faults, {CONCURRENCY} at once")
    # Every fault kind was exercised.
    assert set(figures.faults) >= {kind.value for kind in ALL_FAULTS}
    assert figures.client_retries > 0


@pytest.mark.slow
@pytest.mark.timeout(max(300, LONG_RUNS * 6))
async def test_long_fault_soak() -> None:
    seed = int(os.environ.get("QC_SOAK_SEED", "66"))
    figures = await run(LONG_RUNS, seed, LONG_CONCURRENCY)
    title = f"fault soak (long): {LONG_RUNS} lifecycle runs, 20% faults, {LONG_CONCURRENCY} at once"
    check(figures, title)
