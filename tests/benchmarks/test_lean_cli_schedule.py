"""The ``lean`` CLI's fixed read schedule, the backtest-wait benchmark's baseline."""

from __future__ import annotations

import itertools

from benchmarks.backtest_wait import lean_cli_schedule


def test_the_lean_cli_schedule():
    delays = list(itertools.islice(lean_cli_schedule(), 80))
    assert delays[:4] == [0.25] * 4 and delays[4:13] == [1.0] * 9
    assert delays[13:23] == [2.0] * 10 and delays[23:77] == [5.0] * 54 and delays[77:] == [10.0] * 3
