"""Progress lines come at each new tenth of the way, or after a quiet half-minute."""

from __future__ import annotations

from tasks.backtests import ProgressLog, backtest_name


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_per_tenth_and_one_after_a_quiet_interval():
    clock = Clock()
    log = ProgressLog(seconds=30, clock=clock)
    assert log.due(0.0)
    assert not log.due(0.01) and not log.due(0.09)
    assert log.due(0.1) and not log.due(0.12)
    clock.now = 29.9
    assert not log.due(0.12)
    clock.now = 40.0  # 30 s since the last line: the same progress deserves one
    assert log.due(0.12) and not log.due(0.12)
    assert log.due(1.0)


def test_progress_going_back_or_out_of_range_does_not_spam():
    log = ProgressLog(seconds=30, clock=Clock())
    assert log.due(0.55)
    assert not log.due(0.3)  # a read that lags behind is no news
    assert log.due(1.7)  # clamped to 1
    assert not log.due(1.0)


def test_backtest_names_carry_the_flow_run_id():
    assert backtest_name("abc") == "prefect abc"
    assert backtest_name("abc", "set 2").startswith("prefect abc ")
