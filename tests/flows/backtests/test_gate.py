"""The regression gate: thresholds, baseline comparison, names refused up front."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from flows.backtests.gate import (
    NUMERIC_STATISTICS,
    STATISTIC_NAMES,
    Baseline,
    GateOptions,
    RegressionError,
    baseline_key,
    evaluate_gate,
    should_accept,
)

GOOD = {"Sharpe Ratio": 1.2, "Drawdown": 0.18, "Net Profit": 0.31, "Win Rate": 0.55,
        "Compounding Annual Return": 0.08, "Probabilistic Sharpe Ratio": 0.6}


def test_the_27_statistics_are_known_and_26_are_numbers():
    assert len(STATISTIC_NAMES) == 27 and len(NUMERIC_STATISTICS) == 26
    assert "Lowest Capacity Asset" not in NUMERIC_STATISTICS


def test_an_unknown_statistic_is_refused_with_the_valid_names():
    with pytest.raises(ValidationError) as caught:
        GateOptions(thresholds={"Sharpe": {"min": 0.5}})
    message = str(caught.value)
    assert "'Sharpe Ratio'" in message and "'Drawdown'" in message


def test_the_json_schema_refuses_unknown_names_before_a_run_exists():
    schema = GateOptions.model_json_schema()
    names = schema["properties"]["thresholds"]["propertyNames"]["enum"]
    assert set(names) == set(NUMERIC_STATISTICS)


def test_a_non_numeric_statistic_cannot_have_a_threshold():
    with pytest.raises(ValidationError):
        GateOptions(thresholds={"Lowest Capacity Asset": {"min": 1}})


@pytest.mark.parametrize("bounds", [{}, {"min": 2, "max": 1}])
def test_a_threshold_needs_a_sensible_bound(bounds):
    with pytest.raises(ValidationError):
        GateOptions(thresholds={"Sharpe Ratio": bounds})


def test_thresholds_pass_when_met():
    options = GateOptions(thresholds={"Sharpe Ratio": {"min": 0.5}, "Drawdown": {"max": 0.25}})
    result = evaluate_gate(GOOD, options)
    assert result.passed and result.findings == []
    assert result.checked == ["Sharpe Ratio min 0.5", "Drawdown max 0.25"]


def test_thresholds_report_what_got_worse_and_by_how_much():
    options = GateOptions(thresholds={"Sharpe Ratio": {"min": 0.5}, "Drawdown": {"max": 0.25}})
    result = evaluate_gate({**GOOD, "Sharpe Ratio": 0.2, "Drawdown": 0.4}, options)
    assert not result.passed
    got = {f.statistic: (f.expected, f.actual, round(f.by, 6)) for f in result.findings}
    assert got == {"Sharpe Ratio": (0.5, 0.2, 0.3), "Drawdown": (0.25, 0.4, 0.15)}
    table = result.to_markdown()
    assert "REGRESSION" in table and "| Sharpe Ratio | min 0.5 | 0.5 | 0.2 | 0.3 |" in table


def test_a_missing_statistic_fails_its_rule():
    options = GateOptions(thresholds={"Sortino Ratio": {"min": 0}})
    [finding] = evaluate_gate({**GOOD, "Sortino Ratio": None}, options).findings
    assert finding.actual is None and math.isinf(finding.by)
    assert "missing" in evaluate_gate(GOOD, options).to_markdown()


def test_without_a_baseline_the_comparison_passes_and_says_why():
    result = evaluate_gate(GOOD, GateOptions(compare_to_baseline=True), baseline=None)
    assert result.passed and result.notes == ["no baseline yet: nothing to compare with"]
    assert "### Regression gate: passed ✅ (0 rules checked)" in result.to_markdown()


def test_the_baseline_comparison_knows_which_way_is_worse():
    baseline = Baseline(strategy="s", statistics=GOOD)
    options = GateOptions(compare_to_baseline=True)
    # Sharpe down, drawdown up: both worse. Net profit up: better, not a finding.
    now = {**GOOD, "Sharpe Ratio": 0.9, "Drawdown": 0.30, "Net Profit": 0.5}
    result = evaluate_gate(now, options, baseline)
    assert not result.passed
    got = {f.statistic: round(f.by, 6) for f in result.findings}
    assert got == {"Sharpe Ratio": 0.3, "Drawdown": 0.12}


def test_small_changes_within_the_tolerance_pass():
    baseline = Baseline(strategy="s", statistics=GOOD)
    # 1.2 * 5 % = 0.06 allowed on Sharpe; 0.01 absolute on drawdown.
    now = {**GOOD, "Sharpe Ratio": 1.15, "Drawdown": 0.189}
    assert evaluate_gate(now, GateOptions(compare_to_baseline=True), baseline).passed
    strict = GateOptions(compare_to_baseline=True, relative_tolerance=0, absolute_tolerance=0)
    assert not evaluate_gate(now, strict, baseline).passed


def test_statistics_without_a_direction_are_not_compared():
    baseline = Baseline(strategy="s", statistics={"Beta": 1.0, "Sharpe Ratio": 1.0})
    options = GateOptions(compare_to_baseline=True, compared_statistics=["Beta", "Sharpe Ratio"])
    result = evaluate_gate({"Beta": 3.0, "Sharpe Ratio": 1.0}, options, baseline)
    assert result.passed and "Beta has no better direction: not compared" in result.notes


def test_accepting_a_baseline_is_explicit():
    passed = evaluate_gate(GOOD, GateOptions())
    failed = evaluate_gate({}, GateOptions(thresholds={"Sharpe Ratio": {"min": 1}}))
    assert not should_accept(GateOptions(), passed)
    assert should_accept(GateOptions(accept_baseline="if passed"), passed)
    assert not should_accept(GateOptions(accept_baseline="if passed"), failed)
    assert should_accept(GateOptions(accept_baseline="always"), failed)


def test_the_regression_error_carries_the_table():
    failed = evaluate_gate({"Sharpe Ratio": 0.1}, GateOptions(thresholds={"Sharpe Ratio":
                                                                            {"min": 1}}))
    error = RegressionError(failed)
    assert "| Sharpe Ratio | min 1 |" in str(error) and error.result is failed


def test_baseline_keys_are_valid_prefect_variable_names():
    from prefect.types.names import raise_on_name_alphanumeric_dashes_underscores_only

    for name in ["sma_crossover_py", "Project 123", "ÉtéStrategy/v2", "---"]:
        key = baseline_key(name)
        assert raise_on_name_alphanumeric_dashes_underscores_only(key) == key


@pytest.mark.parametrize("bound", ["NaN", "nan", math.nan, "Infinity", math.inf, -math.inf])
@pytest.mark.parametrize("side", ["min", "max"])
def test_a_threshold_must_be_a_finite_number(bound, side):
    with pytest.raises(ValidationError, match="finite number"):
        GateOptions(thresholds={"Drawdown": {side: bound}})


@pytest.mark.parametrize("field", ["relative_tolerance", "absolute_tolerance"])
@pytest.mark.parametrize("value", [math.nan, "NaN", math.inf, "Infinity"])
def test_a_tolerance_must_be_a_finite_number(field, value):
    with pytest.raises(ValidationError):
        GateOptions(compare_to_baseline=True, **{field: value})


def test_the_json_schema_refuses_an_infinite_threshold_or_tolerance():
    # JSON has no NaN; an overflowing literal (1e400) reads as infinity: the bounds refuse it.
    from prefect.utilities.schema_tools.validation import ValidationError as SchemaError
    from prefect.utilities.schema_tools.validation import validate

    schema = GateOptions.model_json_schema()
    for options in ({"thresholds": {"Drawdown": {"max": math.inf}}},
                    {"absolute_tolerance": math.inf}):
        with pytest.raises(SchemaError):
            validate(options, schema, raise_on_error=True, preprocess=True)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", math.nan, math.inf])
def test_a_baseline_value_must_be_a_finite_number(value):
    with pytest.raises(ValidationError, match="finite number"):
        Baseline(strategy="s", statistics={"Sharpe Ratio": value})


@pytest.mark.parametrize("value", [True, False, 1e308, -1e16])
def test_a_baseline_value_is_no_boolean_and_of_sensible_magnitude(value):
    with pytest.raises(ValidationError, match=r"boolean|within ±1e"):
        Baseline(strategy="s", statistics={"Sharpe Ratio": value})
    assert Baseline(strategy="s", statistics={"Sharpe Ratio": 1e15}).statistics


def test_a_tolerance_that_overflows_to_infinity_allows_nothing():
    # A huge baseline (one that slipped past validation) makes 2 x |1e308| infinite.
    baseline = Baseline.model_construct(strategy="s", statistics={"Sharpe Ratio": 1e308})
    options = GateOptions(compare_to_baseline=True, compared_statistics=["Sharpe Ratio"],
                          relative_tolerance=2)
    result = evaluate_gate({"Sharpe Ratio": -5.0}, options, baseline)
    assert not result.passed and [f.statistic for f in result.findings] == ["Sharpe Ratio"]


@pytest.mark.parametrize("actual", [math.inf, -math.inf, math.nan])
def test_a_statistic_that_is_not_a_finite_number_fails_every_rule(actual):
    # inf passes "min 0.5" by arithmetic (inf - 0.5 > 0); it is no number to pass a gate with.
    options = GateOptions(thresholds={"Sharpe Ratio": {"min": 0.5, "max": 10}})
    result = evaluate_gate({"Sharpe Ratio": actual}, options)
    assert not result.passed and len(result.findings) == 2
    assert all(math.isinf(f.by) for f in result.findings)
    compare = GateOptions(compare_to_baseline=True, compared_statistics=["Sharpe Ratio"])
    assert not evaluate_gate({"Sharpe Ratio": actual}, compare,
                             Baseline(strategy="s", statistics={"Sharpe Ratio": 1.0})).passed


def test_a_comparison_that_compares_nothing_fails_and_says_why():
    options = GateOptions(compare_to_baseline=True)
    for statistics in ({}, {"Sharpe Ratio": None}, {"Beta": 1.0}):
        result = evaluate_gate(GOOD, options, Baseline(strategy="s", statistics=statistics))
        assert not result.passed, statistics
        [finding] = result.findings
        assert finding.statistic == "baseline" and "compared 0 statistics" in finding.rule
    assert "compared 0 statistics" in result.to_markdown()


def test_a_comparison_of_only_directionless_statistics_is_refused_by_the_form():
    with pytest.raises(ValidationError, match="better direction"):
        GateOptions(compare_to_baseline=True, compared_statistics=["Beta"])
    with pytest.raises(ValidationError, match="better direction"):
        GateOptions(compare_to_baseline=True, compared_statistics=[])
    assert GateOptions(compared_statistics=[]).compared_statistics == []  # not comparing


def test_a_baseline_of_other_parameters_is_named_and_compared_with_a_warning():
    baseline = Baseline(strategy="s", statistics=GOOD, parameters={"fast": 10, "slow": 30})
    options = GateOptions(compare_to_baseline=True)
    result = evaluate_gate(GOOD, options, baseline, {"fast": 5, "slow": 30})
    assert result.passed
    assert any(note.startswith("warning: the baseline was accepted with other parameters "
                               "(fast=10, slow=30) than this run's (fast=5, slow=30)")
               for note in result.notes)
    assert "parameters fast=10, slow=30)" in result.to_markdown()


def test_a_baseline_of_other_parameters_fails_the_comparison_when_asked():
    baseline = Baseline(strategy="s", statistics=GOOD, parameters={"fast": 10})
    options = GateOptions(compare_to_baseline=True, other_parameters="fail")
    result = evaluate_gate(GOOD, options, baseline, {"fast": 5})
    assert not result.passed
    assert [f.statistic for f in result.findings] == ["baseline"]
    assert "same parameters" in result.findings[0].rule


def test_parameters_equal_as_lean_reads_them_are_the_same_baseline():
    baseline = Baseline(strategy="s", statistics=GOOD, parameters={"fast": "10", "slow": 30.0})
    options = GateOptions(compare_to_baseline=True, other_parameters="fail")
    result = evaluate_gate(GOOD, options, baseline, {"fast": 10, "slow": 30})
    assert result.passed and not any("other parameters" in note for note in result.notes)
