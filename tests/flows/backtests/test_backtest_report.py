"""The report markdown: headline first, simulated label or link, everything after."""

from __future__ import annotations

from flows.backtests.gate import GateOptions, evaluate_gate
from flows.backtests.report import (
    HEADLINE_STATISTICS,
    SIMULATED_LABEL,
    BacktestReport,
    backtest_link,
    is_real_service,
)

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
    from flows.backtests.report import GridReport, GridRow

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


FORGED = ("```\n# ✅ Regression gate: passed\n![pixel](https://attacker.example/p.png)\n"
          "<img src='https://attacker.example/i.png'>\n[click](https://attacker.example)")


def rendered(markdown: str) -> list[tuple[str, str]]:
    """What a CommonMark renderer makes of ``markdown``: (token type, text) for headings,
    images, links, raw HTML and code blocks, inline tokens flattened."""
    from markdown_it import MarkdownIt

    found: list[tuple[str, str]] = []
    tokens = MarkdownIt("commonmark").parse(markdown)
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            found.append(("heading", tokens[index + 1].content))
        elif token.type in ("fence", "code_block", "html_block"):
            found.append((token.type, token.content))
        for child in token.children or []:
            if child.type in ("image", "link_open", "html_inline"):
                found.append((child.type, str(child.attrs.get("src") or child.attrs.get("href")
                                               or child.content)))
    return found


def forged(markdown: str) -> list[tuple[str, str]]:
    """Whatever the algorithm's text made into markup: forged headings, images, links, HTML."""
    return [(kind, text) for kind, text in rendered(markdown)
            if kind in ("image", "link_open", "html_inline", "html_block")
            or (kind == "heading" and "Regression gate: passed" in text)]


def test_algorithm_text_cannot_close_a_code_block_or_render_as_markdown():
    markdown = report(outcome="runtime error", error=FORGED, stacktrace="at x\n" + FORGED,
                      build_logs=["line 1", *FORGED.splitlines()],
                      statistics={"Sharpe Ratio": FORGED}, status=FORGED,
                      cleanup=[FORGED]).to_markdown()
    assert forged(markdown) == []
    blocks = [text for kind, text in rendered(markdown) if kind == "fence"]
    assert len(blocks) == 2 and all("```\n# ✅ Regression gate: passed" in b for b in blocks)


def test_a_code_block_fence_is_longer_than_any_run_of_backticks_inside():
    from flows.common.markdown import fenced

    assert fenced("plain") == ["```", "plain", "```"]
    lines = fenced("a\n`````\nb")
    assert lines[0] == lines[-1] == "``````"
    assert [text for kind, text in rendered("\n".join(lines)) if kind == "fence"] == [
        "a\n`````\nb\n"]


def test_a_hand_edited_baseline_cannot_forge_the_gate_verdict():
    from flows.backtests.gate import Baseline

    baseline = Baseline(strategy="s", statistics={"Sharpe Ratio": 1.0},
                        backtest_id=")\n\n# ✅ Regression gate: passed\n![p](https://attacker.example/p.png)")
    gate = evaluate_gate({"Sharpe Ratio": 0.1}, GateOptions(compare_to_baseline=True,
                                                             compared_statistics=["Sharpe Ratio"]),
                         baseline)
    markdown = report(gate=gate, outcome="regression").to_markdown()
    assert forged(markdown) == []
    assert ("heading", "Regression gate: REGRESSION ❌") in rendered(markdown)


def test_grid_and_lifecycle_reports_render_service_text_as_text():
    from flows.backtests.report import GridReport, GridRow
    from flows.projects.reports import LifecycleReport, StepRecord

    grid_report = GridReport(strategy="s", rank_by="Sharpe Ratio", outcome="failed",
                             error=FORGED, cleanup=[FORGED],
                             rows=[GridRow(index=0, parameters={"fast": 5}, outcome="failed",
                                           error=FORGED)])
    assert forged(grid_report.to_markdown()) == []
    lifecycle = LifecycleReport(project_name="prefect-tmp-x", language="Py", outcome="failed",
                                error=FORGED, cleanup=FORGED,
                                steps=[StepRecord(name="create", seconds=0.1, ok=False,
                                                  detail=FORGED)])
    assert forged(lifecycle.to_markdown()) == []


def test_a_link_is_made_only_of_an_id():
    url = "https://www.quantconnect.com/api/v2"
    assert backtest_link(url, 1, "a" * 32) is not None
    assert backtest_link(url, 1, "x) ![p](https://attacker.example/p.png") is None


def test_service_text_is_rendered_bounded_saying_what_was_cut_and_where_the_rest_is():
    huge = "E" * 3_000_000
    logs = [f"Build Error File: main.py Line {i} Column 1 - error {i}" for i in range(20_000)]
    markdown = report(outcome="runtime error", error=huge, stacktrace=huge,
                      build_logs=logs).to_markdown()
    assert len(markdown) < 100_000
    assert "more characters cut; the whole text: BacktestRuntimeError.stacktrace]" in markdown
    assert "2,998,000 more characters cut; the whole text: the exception" in markdown
    assert "19,950 more lines cut; the whole log: BuildError.logs]" in markdown
    assert logs[49] in markdown and logs[50] not in markdown
    grid_report = grid_with_error(huge)
    assert len(grid_report.to_markdown()) < 10_000


def grid_with_error(error: str):
    from flows.backtests.report import GridReport, GridRow

    return GridReport(strategy="s", rank_by="Sharpe Ratio", outcome="failed", error=error,
                      rows=[GridRow(index=0, parameters={}, outcome="failed", error=error)])


def test_the_grid_summary_ranks_with_net_profit_and_drawdown_beside():
    from flows.backtests.report import GridReport, GridRow

    rows = [GridRow(index=i, parameters={"fast": f}, outcome="completed", value=v,
                    statistics={"Sharpe Ratio": str(v), "Net Profit": f"{i}0%",
                                "Drawdown": f"{i}%"})
            for i, (f, v) in enumerate([(5, 0.5), (10, 1.5)])]
    markdown = GridReport(strategy="s", rank_by="Sharpe Ratio", rows=rows).to_markdown()
    assert "| rank | parameters | Sharpe Ratio | Net Profit | Drawdown |" in markdown
    assert "| 1 | fast=10 | 1.5 | 10% | 1% |" in markdown
    by_profit = GridReport(strategy="s", rank_by="Net Profit", rows=rows).to_markdown()
    assert "| rank | parameters | Net Profit | Drawdown |" in by_profit  # not twice


def test_parameters_are_shown_as_lean_got_them():
    # LEAN got "10" for 10.0: the report, the grid table and its summary say so.
    assert "- Parameters: fast=10, slow=30.5" in report(
        parameters={"fast": 10.0, "slow": 30.5}).to_markdown()
    ranked = grid()
    ranked.rows[2].parameters = {"fast": 9.0}
    assert ranked.table()[0]["parameters"] == "fast=9"
    assert "| 1 | fast=9 |" in ranked.to_markdown()
