"""The backtest report's Insights section, from insights read over HTTP from the emulator."""

from __future__ import annotations

from flows.backtests.report import MAX_LISTED_INSIGHTS, BacktestReport, InsightSummary
from quantconnect_client import Insight
from tests.helpers import credentials_for


def _emulator_insights(emulator) -> list[Insight]:
    with credentials_for(emulator).get_client() as client:
        project = client.projects.create("Tests/Insights", "Py")
        compiled = client.compiles.create(project.project_id)
        client.compiles.wait(project.project_id, compiled.compile_id, timeout=30)
        started = client.backtests.create(project.project_id, compiled.compile_id, "Insights")
        done = client.backtests.wait(project.project_id, started.backtest_id, timeout=60)
        return client.backtests.insights(project.project_id, done.backtest_id, 0, 10_000)


def test_the_report_shows_the_insights_read_from_the_service(emulator):
    insights = _emulator_insights(emulator)
    summary = InsightSummary.of(insights)
    assert summary.count == len(insights) > 0
    assert sum(summary.by_direction.values()) == len(insights)
    assert summary.scored == len(insights) and summary.direction_hit_rate is not None
    assert len(summary.first) == min(len(insights), MAX_LISTED_INSIGHTS)
    markdown = BacktestReport(strategy="sma", outcome="completed", insights=summary).to_markdown()
    assert "## Insights" in markdown and f"- {len(insights)} insight(s)" in markdown
    assert "| generated | symbol | direction | period |" in markdown


def test_no_insights_no_section_and_their_text_stays_plain():
    plain = BacktestReport(strategy="sma", outcome="completed").to_markdown()
    assert "Insights" not in plain
    empty = BacktestReport(strategy="sma", outcome="completed", insights=InsightSummary.of([]))
    assert "Insights" not in empty.to_markdown()
    forged = Insight(id="c" * 32, ticker="![x](https://e.example/i.png)", direction="up|down")
    markdown = BacktestReport(strategy="sma", outcome="completed",
                              insights=InsightSummary.of([forged])).to_markdown()
    assert "![x](" not in markdown and "\\[x\\]" in markdown  # plain text, no image
    assert "up\\|down" in markdown
