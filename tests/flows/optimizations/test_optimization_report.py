"""The optimizer's report and cost guard as pure functions: what a person reads in the artifact."""

from __future__ import annotations

import base64
import re

import pytest

from flows.optimizations.cost import estimate_cost
from flows.optimizations.forms import OptimizeOptions
from flows.optimizations.report import OptimizationReport, PointRow


def report(target: str = "SharpeRatio", target_to: str = "max") -> OptimizationReport:
    made = OptimizationReport(strategy="sma", target=target, target_to=target_to,  # type: ignore[arg-type]
                              parameter_names=["fast", "slow"], outcome="completed")
    made.rows = [
        PointRow(parameters={"fast": 5, "slow": 30}, target=10.0, sharpe=0.5, drawdown=10.0),
        PointRow(parameters={"fast": 5, "slow": 60}, target=20.0, sharpe=0.9, drawdown=20.0),
        PointRow(parameters={"fast": 10, "slow": 30}, status="failed"),
        PointRow(parameters={"fast": 10, "slow": 60}, target=5.0, sharpe=1.1, drawdown=5.0,
                 status="filtered"),
    ]
    made.best = made.ranked()[0]
    return made


def test_a_minimised_target_ranks_lowest_first_then_filtered_then_failed() -> None:
    ranked = report("Drawdown", "min").ranked()
    assert [(r.parameters["slow"], r.status) for r in ranked] == [
        (30, "ok"), (60, "ok"), (60, "filtered"), (30, "failed")]


def test_the_target_column_is_not_repeated_and_a_failed_point_has_no_number() -> None:
    table = report("Drawdown", "min").table()
    assert list(table[0]) == ["Rank", "fast", "slow", "Drawdown %", "Sharpe Ratio",
                              "Net Profit %", "Status"]
    assert table[-1]["Rank"] == "-" and table[-1]["Drawdown %"] == ""


def test_the_heatmap_shows_no_result_as_n_a_and_outlines_the_best() -> None:
    markdown = report().to_markdown()
    (encoded,) = re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", markdown)
    svg = base64.b64decode(encoded).decode()
    assert svg.count(">n/a<") == 2  # the failed point and the filtered one: no value drawn
    assert "stroke='#f59e0b'" in svg and "Sharpe Ratio by fast and slow" in svg


@pytest.mark.parametrize(("said", "shown"), [
    ("250.00", "250 QCC ($2.50)"), ("0.25", "0.25 QCC (under $0.01)"), ("0.00", "0 QCC ($0.00)"),
    ("n/a", "n/a"), ("-3", "-3"),
])
def test_what_was_consumed_shows_its_unit_and_dollars(said: str, shown: str) -> None:
    made = report()
    made.runtime = {"Consumed": said, "Completed": "3"}
    markdown = made.to_markdown()
    assert f"| Consumed | {shown} |" in markdown and "| Completed | 3 |" in markdown


def test_the_balance_shows_its_unit_and_dollars() -> None:
    made = report()
    made.cost = estimate_cost(time_seconds=60, backtests=4, node_type="O2-8", parallel_nodes=2,
                              balance_qcc=1234)
    assert "| Balance | 1,234 QCC ($12.34) |" in made.to_markdown()


def test_the_guard_names_each_bound_an_estimate_breaks() -> None:
    cost = estimate_cost(time_seconds=120, backtests=100, node_type="O4-12", parallel_nodes=6)
    assert cost.node_hours == pytest.approx(5.84) and cost.dollars == pytest.approx(1.76)
    assert cost.over(max_node_hours=5, max_dollars=1) == [
        "5.84 node-hours is more than the bound of 5", "$1.76 is more than the bound of $1.00"]
    assert cost.over(max_node_hours=6, max_dollars=2) == []


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"parameters": [{"name": "fast", "min": 5, "max": 20, "step": 0}]}, "step"),
        ({"parameters": [{"name": "fast", "min": 20, "max": 5, "step": 1}]}, "above max"),
        ({"node_type": "O8-16", "parallel_nodes": 7}, "at most 6"),
        ({"fixed": {"fast": 3}}, "either optimized or fixed"),
        ({"gate": {"thresholds": {"Drawdown": {"max": 0.3}}}}, "verify_best"),
        ({"parameters": []}, "parameters"),
        ({"parameters": [{"name": "fast", "min": 0, "max": 2e15, "step": 1e15}]}, "max"),
    ],
)
def test_bad_forms_are_refused_with_the_rule_named(fields: dict[str, object], said: str) -> None:
    base: dict[str, object] = {"parameters": [{"name": "fast", "min": 5, "max": 20, "step": 5}]}
    with pytest.raises(ValueError, match=said):
        OptimizeOptions.model_validate({**base, **fields})


def test_an_optimization_ended_at_its_target_value_says_so() -> None:
    # The optimizer ends once a point reaches the target value: 2 of 8 ran, and that is not a
    # partial result, so the report says why rather than leaving "Completed 2, Total 8".
    made = report()
    made.target_value, made.status = 0.8, "completed"
    made.runtime = {"Completed": "2", "Failed": "0", "Total": "8"}
    markdown = made.to_markdown()
    assert "stop at 0.8" in markdown and "a point reached the target value" in markdown
    made.runtime["Completed"] = "8"
    assert "a point reached the target value" not in made.to_markdown()
    made.target_value = None
    made.runtime["Completed"] = "2"
    assert "a point reached the target value" not in made.to_markdown()
