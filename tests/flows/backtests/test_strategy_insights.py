"""backtest-strategy reads the backtest's insights into its report, on real Prefect against the
emulator; a read that fails leaves the section out and the run completes."""

from __future__ import annotations

from typing import Any

import pytest

from flows.backtests.forms import BacktestOptions
from flows.backtests.strategy import backtest_strategy
from tests.flows.backtests.helpers import FAST, artifact_markdown, paths

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]

OPTIONS = BacktestOptions(report={"chart": False}, retries=FAST)


async def test_the_report_shows_the_backtests_insights(emulator: Any, credentials: Any) -> None:
    report = await backtest_strategy(options=OPTIONS, credentials=credentials)
    assert report.outcome == "completed"
    assert report.insights is not None and report.insights.count > 0
    assert not report.insights.capped
    assert sum(report.insights.by_direction.values()) == report.insights.count
    assert 0 < len(report.insights.first) <= 20
    assert "/backtests/read/insights" in paths(emulator, "/backtests/read/insights")
    markdown = await artifact_markdown(str(report.flow_run_id))
    assert f"- {report.insights.count} insight(s)" in markdown
    assert "| generated | symbol | direction | period |" in markdown


async def test_an_unreadable_insights_list_leaves_the_section_out(
    emulator: Any, credentials: Any
) -> None:
    emulator.inject("http_500_empty", "/backtests/read/insights", count=1000)
    report = await backtest_strategy(options=OPTIONS, credentials=credentials)
    assert report.outcome == "completed" and report.statistics
    assert report.insights is None
    assert paths(emulator, "/backtests/read/insights")  # it was tried
    markdown = await artifact_markdown(str(report.flow_run_id))
    assert "Insights" not in markdown
