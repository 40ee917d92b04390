"""The report markdown: headline first, simulated label or link, everything after."""

from __future__ import annotations

from flows.backtest_report import (
    HEADLINE_STATISTICS,
    SIMULATED_LABEL,
    BacktestReport,
    backtest_link,
    is_real_service,
)
from flows.gate import GateOptions, evaluate_gate

STATISTICS = {
    "Total Orders": "68", "Average Win": "8.99%", "Compounding Annual Return": "8.443%",
    "Drawdown": "38.900%", "Net Profit": "8.459%", "Sharpe Ratio": "0.19",
    "Probabilistic Sharpe Ratio": "20.477%", "Win Rate": "32%", "Alpha": "-0.063",
    "Lowest Capacity Asset": "MDB WOU3US9M42N9",
}
RUNTIME = {"Equity": "$108,458.65", "Return": "8.46 %"}


def report(**overrides) -> BacktestReport:
    fields = dict(strategy="sma_crossover_py", outcome="completed", project_id=42,
                  backtest_id="a" * 32, backtest_name="bt", statistics=STATISTICS,
                  runtime_statistics=RUNTIME, parameters={"fast": 10, "slow": 30})
    fields.update(overrides)
    return BacktestReport(**fields)


def test_headline_statistics_come_first_in_their_order():
    markdown = report(simulated=False).to_markdown()
    headline = markdown.split("## Headline")[1].split("##")[0]
    rows = [line.split("|")[1].strip() for line in headline.splitlines() if line.startswith("| ")]
    assert rows[2:] == list(HEADLINE_STATISTICS)  # after the header and its rule
    assert markdown.index("## Headline") < markdown.index("## All statistics")
    assert markdown.index("## All statistics") < markdown.index("## Runtime statistics")


def test_all_statistics_and_runtime_statistics_are_listed():
    markdown = report().to_markdown()
    assert "| Lowest Capacity Asset | MDB WOU3US9M42N9 |" in markdown
    assert "| Equity | $108,458.65 |" in markdown and "| Return | 8.46 % |" in markdown
    assert "fast=10, slow=30" in markdown


def test_emulator_results_are_labelled_simulated_and_get_no_link():
    markdown = report(simulated=True).to_markdown()
    assert markdown.splitlines()[0].endswith("(SIMULATED)")
    assert SIMULATED_LABEL in markdown and "quantconnect.com/project" not in markdown


def test_the_link_is_made_only_for_the_real_service():
    real = "https://www.quantconnect.com/api/v2"
    expected = f"https://www.quantconnect.com/project/42/{'b' * 32}"
    assert backtest_link(real, 42, "b" * 32) == expected
    assert backtest_link("http://127.0.0.1:9000/api/v2", 42, "b" * 32) is None
    assert backtest_link("http://www.quantconnect.com/api/v2", 42, "b" * 32) is None
    assert backtest_link(real, None, "b") is None
    assert is_real_service(real)
    link = backtest_link(real, 42, "b" * 32)
    markdown = report(simulated=False, link=link).to_markdown()
    assert f"[Open the backtest on QuantConnect]({link})" in markdown
    assert "SIMULATED" not in markdown


def test_the_chart_goes_after_the_headline_and_the_gate_is_shown():
    gate = evaluate_gate({"Sharpe Ratio": 0.19}, GateOptions(thresholds={"Sharpe Ratio":
                                                                          {"min": 0.5}}))
    markdown = report(gate=gate, outcome="regression").to_markdown(chart="![equity](data:x)")
    assert markdown.index("## Headline") < markdown.index("![equity](data:x)")
    assert "### Regression gate: REGRESSION" in markdown
    assert markdown.startswith("# 📉 Backtest sma_crossover_py: regression")


def test_a_build_error_shows_its_logs_and_pipes_do_not_break_tables():
    logs = ["Build Error File: main.py Line 3 Column 5 - invalid syntax"]
    markdown = report(outcome="build error", statistics={}, runtime_statistics={},
                      build_logs=logs, error="x | y").to_markdown()
    assert "```\n" + logs[0] + "\n```" in markdown
    assert "**Error:** x \\| y" in markdown and "## Headline" not in markdown


def grid(rank_by="Sharpe Ratio", order="best first"):
    from flows.backtest_report import GridReport, GridRow

    rows = [
        GridRow(index=0, parameters={"fast": 5}, outcome="completed", value=0.5,
                statistics={"Sharpe Ratio": "0.5", "Drawdown": "30%"}),
        GridRow(index=1, parameters={"fast": 7}, outcome="failed", error="Runtime Error: boom"),
        GridRow(index=2, parameters={"fast": 9}, outcome="completed", value=1.5,
                statistics={"Sharpe Ratio": "1.5", "Drawdown": "10%"}),
        GridRow(index=3, parameters={"fast": 11}, outcome="completed", value=None,
                statistics={"Sharpe Ratio": "-"}),
    ]
    return GridReport(strategy="s", rank_by=rank_by, order=order, rows=rows, outcome="completed")


def test_grid_ranks_best_first_knowing_the_direction():
    assert [r.index for r in grid().ranked()] == [2, 0, 1, 3]
    low = grid(rank_by="Drawdown")
    for row, value in zip(low.rows, [0.3, None, 0.1, None], strict=True):
        row.value = value
    assert [r.index for r in low.ranked()] == [2, 0, 1, 3]  # lower drawdown is better
    assert [r.index for r in grid(order="lowest first").ranked()] == [0, 2, 1, 3]


def test_grid_table_and_summary_report_failures_without_hiding_them():
    report = grid()
    table = report.table()
    assert [row["rank"] for row in table] == [1, 2, "-", "-"]
    assert table[0]["parameters"] == "fast=9" and table[0]["Sharpe Ratio"] == "1.5"
    assert table[2]["error"] == "Runtime Error: boom"
    markdown = report.to_markdown()
    assert "- Sets: 4, completed 3, failed 1" in markdown
    assert "- set 1 ({'fast': 7}): Runtime Error: boom" in markdown
    assert "| 1 | fast=9 | 1.5 |" in markdown
