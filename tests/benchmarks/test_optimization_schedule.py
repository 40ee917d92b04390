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


def _read(done: int, total: int, nodes: int,
          running: dict[str, float] | None = None) -> Optimization:
    backtests = {point: {"id": point, "progress": p} for point, p in (running or {}).items()}
    return Optimization.model_validate({
        "optimizationId": "O-1", "status": "running", "parallelNodes": nodes,
        "backtests": backtests,
        "runtimeStatistics": {"Completed": done, "Failed": 0, "Total": total}})


def _wait(delays, points: int, nodes: int, seconds: float, new: float = 1.0,
          progress: bool = False):
    """Reads until finished; (reads, lag after the last point's end). With ``progress`` each
    read lists the running points with their progress, held at 0.99 as the emulator does."""
    finish = new + math.ceil(points / nodes) * seconds
    moment, reads = 0.0, 0
    while True:
        moment += LATENCY
        reads += 1
        if moment >= finish:
            return reads, moment - finish
        rounds = 0 if moment < new else int((moment - new) // seconds)
        done = min(points, nodes * rounds)
        running = {}
        if progress and moment >= new:
            share = min(0.99, (moment - new - rounds * seconds) / seconds)
            running = {f"p{done + i}": share for i in range(min(nodes, points - done))}
        moment += delays(moment, _read(done, points, nodes, running))


def _against_lean(points: int, nodes: int, seconds: float, progress: bool
                  ) -> tuple[int, float, int]:
    """(reads, lag) of a fresh default schedule, and the ``lean`` schedule's reads."""
    clock = [0.0]
    schedule = OptimizationSchedule(clock=lambda: clock[0])

    def ours(moment: float, read: Optimization) -> float:
        clock[0] = moment
        return schedule(read)

    lean = lean_cli_schedule()
    lean_reads, _ = _wait(lambda _m, _r: next(lean), points, nodes, seconds)
    reads, lag = _wait(ours, points, nodes, seconds, progress=progress)
    return reads, lag, lean_reads


@pytest.mark.parametrize("progress", [False, True], ids=["counts", "progress"])
@pytest.mark.parametrize(("points", "nodes", "seconds"),
                         [(96, 4, 5.0), (96, 8, 5.0), (96, 4, 20.0), (24, 4, 20.0)])
def test_the_wait_notices_the_finish_within_a_second_on_half_the_reads(
        points, nodes, seconds, progress):
    reads, lag, lean_reads = _against_lean(points, nodes, seconds, progress)
    print(f"{points} points, {nodes} nodes, {seconds:g} s: {reads} reads (lean {lean_reads}),"
          f" lag {lag:.2f} s")
    assert lag <= 1.0
    assert reads <= lean_reads / 2


@pytest.mark.parametrize(("points", "nodes"), [(24, 4), (24, 8), (96, 4), (96, 8)])
def test_with_progress_the_benchmark_grids_need_a_handful_of_reads(points, nodes):
    """Section 8's grids (5 s per point): the rounds alone cannot be told apart early enough
    at 24 points; the running points' progress can."""
    reads, lag, lean_reads = _against_lean(points, nodes, 5.0, progress=True)
    print(f"{points} points, {nodes} nodes: {reads} reads (lean {lean_reads}), lag {lag:.2f} s")
    assert lag <= 1.0
    assert reads <= lean_reads / 2
    assert reads <= 8


def test_points_slower_than_their_first_pace_are_still_waited_for():
    """A forecast from the first readings that proves early ends in a few reads, not a burst:
    each read measures the points' pace again over a longer view."""
    clock = [0.0]
    schedule = OptimizationSchedule(clock=lambda: clock[0])

    def share(moment: float) -> float:  # 10 % in the first second, then at half that pace
        return min(0.99, 0.1 * min(moment - 1.0, 1.0) + 0.05 * max(moment - 2.0, 0.0))

    end, moment, reads = 20.0, 1.0, 0
    while moment < end:
        reads += 1
        clock[0] = moment
        delay = schedule(_read(0, 2, 2, {"a": share(moment), "b": share(moment)}))
        assert 0.5 <= delay <= 60.0
        moment += delay
    print(f"{reads} reads, lag {moment - end:.2f} s")
    assert reads <= 6
    assert moment - end <= 1.0


def test_unequal_rounds_fall_back_to_a_growing_delay():
    clock = [0.0]
    schedule = OptimizationSchedule(clock=lambda: clock[0])
    delays = []
    # Round 1 ends by 2 s, then nothing more for 30 s: no equal-length rounds fit.
    for moment, done in itertools.chain([(0.0, 0), (2.0, 4)], ((2.0 + t, 4) for t in (28, 30))):
        clock[0] = moment
        delays.append(schedule(_read(done, 96, 4)))
    assert all(0.5 <= d <= 60.0 for d in delays)


def test_a_point_held_at_its_end_is_not_counted_as_still_queued():
    """The last round's points held at 0.99 run with next to nothing left: the next read comes
    at once, not a whole point later."""
    clock = [0.0]
    schedule = OptimizationSchedule(clock=lambda: clock[0])
    for moment, share in ((1.0, 0.2), (2.0, 0.4)):  # 5-s points, the last of two rounds
        clock[0] = moment
        schedule(_read(2, 4, 2, {"a": share, "b": share}))
    clock[0] = 5.98
    assert schedule(_read(2, 4, 2, {"a": 0.99, "b": 0.99})) == 0.5  # the shortest delay


def test_a_failed_point_is_not_waited_for_as_if_it_ran():
    clock = [0.0]
    schedule = OptimizationSchedule(clock=lambda: clock[0])
    failed = {"id": "f", "progress": 0.3, "exitCode": 1}
    for moment, share in ((1.0, 0.2), (2.0, 0.4)):
        clock[0] = moment
        read = _read(1, 2, 2, {"a": share})
        read = Optimization.model_validate({**read.model_dump(by_alias=True),
                                            "backtests": {"a": {"id": "a", "progress": share},
                                                          "f": failed}})
        delay = schedule(read)
    # Only "a" is left (3 s at its pace), whatever the frozen progress of the failed one.
    assert delay == pytest.approx(3.0 + 0.05, abs=0.01)
