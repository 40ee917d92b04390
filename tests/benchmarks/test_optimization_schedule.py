"""The optimization wait's schedule against the ``lean`` CLI's, on a modelled optimization.

The model is the emulator's: ``nodes`` points at a time, ``seconds`` each, after ``new``
seconds; a read at moment ``t`` sees the rounds ended by then. No HTTP: the clock is the
model's, so the figures are exact and the test is fast.
"""

from __future__ import annotations

import itertools
import math

import pytest

from benchmarks.backtest_wait import lean_cli_schedule
from quantconnect_client.models.optimizations import Optimization
from quantconnect_client.optimizations import OptimizationSchedule

LATENCY = 0.1


def _read(done: int, total: int, nodes: int) -> Optimization:
    return Optimization.model_validate({
        "optimizationId": "O-1", "status": "running", "parallelNodes": nodes,
        "runtimeStatistics": {"Completed": done, "Failed": 0, "Total": total}})


def _wait(delays, points: int, nodes: int, seconds: float, new: float = 1.0):
    """Reads until finished; (reads, lag after the last point's end)."""
    finish = new + math.ceil(points / nodes) * seconds
    moment, reads = 0.0, 0
    while True:
        moment += LATENCY
        reads += 1
        if moment >= finish:
            return reads, moment - finish
        done = 0 if moment < new else min(points, nodes * int((moment - new) // seconds))
        moment += delays(moment, _read(done, points, nodes))


@pytest.mark.parametrize(("points", "nodes", "seconds"),
                         [(96, 4, 5.0), (96, 8, 5.0), (96, 4, 20.0), (24, 4, 20.0)])
def test_the_wait_notices_the_finish_within_a_second_on_half_the_reads(points, nodes, seconds):
    clock = [0.0]
    schedule = OptimizationSchedule(clock=lambda: clock[0])

    def ours(moment: float, read: Optimization) -> float:
        clock[0] = moment
        return schedule(read)

    lean = lean_cli_schedule()
    lean_reads, _ = _wait(lambda _m, _r: next(lean), points, nodes, seconds)
    reads, lag = _wait(ours, points, nodes, seconds)
    print(f"{points} points, {nodes} nodes, {seconds:g} s: {reads} reads (lean {lean_reads}),"
          f" lag {lag:.2f} s")
    assert lag <= 1.0
    assert reads <= lean_reads / 2


def test_unequal_rounds_fall_back_to_a_growing_delay():
    clock = [0.0]
    schedule = OptimizationSchedule(clock=lambda: clock[0])
    delays = []
    # Round 1 ends by 2 s, then nothing more for 30 s: no equal-length rounds fit.
    for moment, done in itertools.chain([(0.0, 0), (2.0, 4)], ((2.0 + t, 4) for t in (28, 30))):
        clock[0] = moment
        delays.append(schedule(_read(done, 96, 4)))
    assert all(0.5 <= d <= 60.0 for d in delays)
