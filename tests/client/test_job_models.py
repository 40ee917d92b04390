"""Backtest models, statistics parsing and the wait's schedule (pure logic, no server)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from quantconnect_client import (
    Backtest,
    BacktestSummary,
    Chart,
    Order,
    ProgressSchedule,
    Statistics,
    parse_number,
)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("8.443%", 0.08443),
        ("$1,234.50", 1234.5),
        ("$-45,915.85", -45915.85),
        ("-$110.30", -110.3),
        ("8.46 %", 0.0846),
        ("-3.62%", -0.0362),
        ("68", 68.0),
        ("0.19", 0.19),
        ("$1600000.00", 1600000.0),
        ("-", None),
        ("", None),
        ("MDB WOU3US9M42N9", None),
        ("nan", None),
        (None, None),
        (True, None),
        (2.5, 2.5),
    ],
)
def test_statistics_text_becomes_numbers(text, number):
    assert parse_number(text) == number


def test_statistics_keep_the_raw_strings():
    stats = Statistics.model_validate({"Sharpe Ratio": "0.19", "Total Orders": 68, "X": None})
    assert stats.raw == {"Sharpe Ratio": "0.19", "Total Orders": "68", "X": ""}
    assert stats["Sharpe Ratio"] == "0.19" and "X" in stats and len(stats) == 3
    assert stats.numbers() == {"Sharpe Ratio": 0.19, "Total Orders": 68.0, "X": None}
    assert dict(stats.items()) == stats.raw and list(stats.keys()) == list(stats)
    assert Statistics.model_validate([]).raw == {}
    assert Statistics.model_validate(stats) is stats


def test_backtest_models_are_lenient():
    backtest = Backtest.model_validate(
        {
            "backtestId": "b" * 32,
            "created": "2024-01-02 03:04:05",
            "backtestStart": "2024-01-01T00:00:00Z",
            "parameterSet": [],
            "statistics": [],
            "runtimeStatistics": None,
            "totalPerformance": [],
            "charts": [],
            "progress": "0.25",
            "tradeableDates": "262",
            "brandNew": {"field": 1},
            "snapshotId": "not a number",
        }
    )
    assert backtest.created is not None and backtest.created.tzinfo is not None
    assert backtest.backtest_start is not None and backtest.backtest_start.year == 2024
    assert backtest.parameter_set == {} and backtest.charts == {}
    assert backtest.progress == 0.25 and backtest.tradeable_dates == 262
    assert backtest.total_performance is None and backtest.snapshot_id is None
    assert not backtest.results_ready and not backtest.failed

    summary = BacktestSummary.model_validate(
        {"backtestId": "c" * 32, "sharpeRatio": "1.5", "trades": None, "tags": None}
    )
    assert summary.sharpe_ratio == 1.5 and summary.tags == []
    chart = Chart.model_validate(
        {"name": "C", "chartType": 7, "series": {"S": {"seriesType": 99, "values": None}}}
    )
    assert chart.chart_type == 7 and chart.series["S"].series_type == 99  # open enums
    order = Order.model_validate({"id": 3, "type": 42, "status": 77, "quantity": "10"})
    assert (order.type, order.status, order.quantity) == (42, 77, 10.0)


def test_placeholder_statistics_of_a_running_backtest_are_not_results():
    placeholders = {"Total Orders": "0", "Sharpe Ratio": "0"}
    running = Backtest.model_validate(
        {"backtestId": "d" * 32, "completed": False, "statistics": placeholders,
         "runtimeStatistics": {"Equity": "$1"}, "totalPerformance": {"closedTrades": []}}
    )
    assert not running.results_ready
    settling = running.model_copy(update={"completed": True, "total_performance": None})
    assert not settling.results_ready
    failed = Backtest.model_validate({"backtestId": "e" * 32, "status": "Runtime Error"})
    assert failed.failed


def read(progress: float, *, completed: bool = False, queued: bool = False) -> SimpleNamespace:
    return SimpleNamespace(progress=progress, completed=completed, queued=queued)


def test_the_schedule_reads_about_when_the_backtest_will_be_done():
    now = [0.0]
    schedule = ProgressSchedule(clock=lambda: now[0])
    assert schedule(read(0.0)) == 0.5  # just started: look again soon
    now[0] = 0.5
    assert schedule(read(0.01)) == 1.0  # first sample of the rate
    now[0] = 1.5
    far = schedule(read(0.03))  # 0.02 per second: 48.5 s left
    assert far == pytest.approx(48.5 / 2)  # far off: half the time left
    now[0] = 45.0
    near = schedule(read(0.9))
    assert near == pytest.approx((0.1 * 44.5 / 0.89) + 0.15)  # close: just after the finish
    now[0] = 50.1
    assert schedule(read(1.0, completed=True)) == 0.75  # completed: results settle soon
    now[0] = 60.0
    assert schedule(read(1.0, completed=True)) > 0.75  # and the settle reads slow down


def test_the_schedule_backs_off_while_queued_and_respects_bounds():
    schedule = ProgressSchedule(min_interval=0.5, max_interval=3.0,
                                clock=itertools.count().__next__)
    delays = [schedule(read(0.0, queued=True)) for _ in range(5)]
    assert delays == [0.5, 1.0, 2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="min_interval"):
        ProgressSchedule(min_interval=0)
