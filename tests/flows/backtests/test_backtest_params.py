"""The flows' parameter forms refuse bad values before a run exists."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from flows.backtests.forms import MAX_GRID_SETS, BacktestOptions, GridOptions, StrategyChoice


def test_defaults_backtest_the_python_example():
    options = BacktestOptions()
    assert options.strategy.strategy_folder == "strategies/sma_crossover_py"
    assert options.gate is None and options.parameters == {}


def test_exactly_one_strategy_source():
    assert StrategyChoice(strategy_folder=None, project_id=7).project_id == 7
    assert StrategyChoice(strategy_folder="  ", project_id=7).strategy_folder is None
    with pytest.raises(ValidationError, match="exactly one"):
        StrategyChoice(strategy_folder="strategies/x", project_id=7)
    with pytest.raises(ValidationError, match="exactly one"):
        StrategyChoice(strategy_folder=None)


@pytest.mark.parametrize("value", [True, [1], {"a": 1}, None])
def test_backtest_parameters_are_strings_or_numbers_only(value):
    with pytest.raises(ValidationError):
        BacktestOptions(parameters={"fast": value})


def test_parameter_names_are_checked():
    with pytest.raises(ValidationError):
        BacktestOptions(parameters={"": 1})
    assert BacktestOptions(parameters={"fast": 5, "symbol": "SPY", "w": 0.5}).parameters["w"] == 0.5


def test_the_gate_form_refuses_unknown_statistics():
    with pytest.raises(ValidationError, match="Sharpe Ratio"):
        BacktestOptions.model_validate({"gate": {"thresholds": {"Sharp": {"min": 1}}}})


def test_a_grid_is_every_combination_in_order_over_the_fixed_parameters():
    grid = GridOptions(grid={"fast": [5, 10], "slow": [30, 60]}, fixed={"symbol": "SPY", "fast": 1})
    assert grid.sets() == [
        {"symbol": "SPY", "fast": 5, "slow": 30},
        {"symbol": "SPY", "fast": 5, "slow": 60},
        {"symbol": "SPY", "fast": 10, "slow": 30},
        {"symbol": "SPY", "fast": 10, "slow": 60},
    ]


def test_an_explicit_list_is_taken_as_given_without_duplicates():
    grid = GridOptions(parameter_sets=[{"fast": 5}, {"fast": 7}, {"fast": 5}])
    assert grid.sets() == [{"fast": 5}, {"fast": 7}]


def test_grid_or_list_not_both_nor_neither():
    with pytest.raises(ValidationError, match="exactly one"):
        GridOptions()
    with pytest.raises(ValidationError, match="exactly one"):
        GridOptions(grid={"a": [1]}, parameter_sets=[{"a": 1}])
    # Empty values, grids and lists are refused by the JSON schema too (minItems/minProperties),
    # so a server with enforce_parameter_schema refuses them before a run exists.
    with pytest.raises(ValidationError, match="at least 1 item"):
        GridOptions(grid={"a": [1], "b": []})
    with pytest.raises(ValidationError, match="at least 1 item"):
        GridOptions(grid={})
    with pytest.raises(ValidationError, match="at least 1 item"):
        GridOptions(parameter_sets=[])
    schema = GridOptions.model_json_schema()
    grid = next(s for s in schema["properties"]["grid"]["anyOf"] if s.get("type") == "object")
    [values] = grid["patternProperties"].values()
    assert grid["minProperties"] == 1 and values["minItems"] == 1


def test_the_cap_is_checked_without_building_the_product():
    huge = {f"p{i}": list(range(10)) for i in range(12)}  # 10**12 sets: never enumerated
    with pytest.raises(ValidationError, match="more than max_sets=50"):
        GridOptions(grid=huge)
    with pytest.raises(ValidationError):
        GridOptions(grid={"a": [1]}, max_sets=MAX_GRID_SETS + 1)


def test_rank_by_is_a_drop_down_of_numeric_statistics():
    schema = GridOptions.model_json_schema()
    rank_by = schema["properties"]["rank_by"]
    enum = rank_by.get("enum") or schema["$defs"][rank_by["$ref"].split("/")[-1]]["enum"]
    assert "Sharpe Ratio" in enum and "Lowest Capacity Asset" not in enum
    with pytest.raises(ValidationError):
        GridOptions(grid={"a": [1]}, rank_by="Sharpe")


def test_every_field_has_help_text_for_the_ui_form():
    from flows.backtests.forms import GateRunOptions, JobLimits, ReportOptions
    from flows.backtests.gate import GateOptions, Threshold

    for model in (BacktestOptions, GridOptions, GateRunOptions, StrategyChoice, JobLimits,
                  ReportOptions, GateOptions, Threshold):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(
    ("flow_name", "parameters"),
    [
        ("backtest", {"options": {"gate": {"thresholds": {"Sharpe": {"min": 1}}}}}),
        ("backtest", {"options": {"parameters": {"fast": True}}}),
        ("backtest", {"options": {"limits": {"backtest_timeout_minutes": 0}}}),
        ("backtest", {"options": {"parameters": {"fast": 10**30}}}),
        ("backtest", {"options": {"parameters": {"fast": 1e30}}}),
        ("backtest", {"options": {"parameters": {"fast": float("inf")}}}),
        ("backtest", {"options": {"parameters": {"fast": "x" * 10_000}}}),
        ("backtest", {"options": {"parameters": {f"p{i}": 1 for i in range(10_000)}}}),
        ("backtest", {"options": {"backtest_name": "nightly\nrun"}}),
        ("backtest", {"options": {"gate": {"thresholds": {"Drawdown": {"max": float("inf")}}}}}),
        ("grid", {"options": {"grid": {"fast": [1, 10**30]}}}),
        ("grid", {"options": {"grid": {"fast": [1]}, "fixed": {"s": "x" * 10_000}}}),
        ("grid", {"options": {"grid": {"fast": [1]}, "rank_by": "Sharpe"}}),
        ("grid", {"options": {"grid": {"fast": [1]}, "max_concurrency": 0}}),
        ("gate", {"options": {"project_id": 1, "backtest_id": "x", "strategy_key": "s",
                              "gate": {"thresholds": {"Drawdown %": {"max": 0.2}}}}}),
    ],
)
def test_the_deployment_schema_refuses_bad_parameters_before_a_run_exists(flow_name,
                                                                           parameters):
    # What the server checks with enforce_parameter_schema (HTTP 409 before a run is made).
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import ValidationError as SchemaError
    from prefect.utilities.schema_tools.validation import validate

    from flows.backtests.grid import backtest_grid
    from flows.backtests.strategy import backtest_strategy, regression_gate

    flows: dict[str, Any] = {"backtest": backtest_strategy, "grid": backtest_grid,
                             "gate": regression_gate}
    function = flows[flow_name]
    schema = parameter_schema(function.fn).model_dump_for_openapi()
    with pytest.raises(SchemaError):
        validate(parameters, schema, raise_on_error=True, preprocess=True,
                 ignore_required=True)
    good: dict[str, dict[str, Any]] = {"backtest": {"options": {"parameters": {"fast": 5}}},
            "grid": {"options": {"grid": {"fast": [1, 2]}}},
            "gate": {"options": {"project_id": 1, "backtest_id": "x", "strategy_key": "s",
                                 "gate": {"thresholds": {"Drawdown": {"max": 0.2}}}}}}
    validate(good[flow_name], schema, raise_on_error=True, preprocess=True, ignore_required=True)


@pytest.mark.parametrize(
    "parameters",
    [{"fast": float("nan")}, {"fast": float("inf")}, {"fast": 10**30}, {"fast": -(10**30)},
     {"fast": 1e30}, {"fast": "x" * 10_000}, {f"p{i}": 1 for i in range(10_000)}],
    ids=["nan", "inf", "10**30", "-10**30", "1e30", "10000 characters", "10000 keys"],
)
def test_parameters_the_client_refuses_are_refused_by_every_form(parameters):
    # The client's rules (quantconnect_client.validation.validate_parameters), in the forms.
    with pytest.raises(ValidationError):
        BacktestOptions(parameters=parameters)
    with pytest.raises(ValidationError):
        GridOptions(parameter_sets=[parameters])
    with pytest.raises(ValidationError):
        GridOptions(grid={"fast": [1]}, fixed=parameters)
    if len(parameters) == 1:  # a value: as one of a grid's values too
        [(name, value)] = parameters.items()
        with pytest.raises(ValidationError):
            GridOptions(grid={name: [1, value]})


def test_the_limits_themselves_are_accepted():
    from quantconnect_client.validation import (
        MAX_PARAMETER_NUMBER,
        MAX_PARAMETER_TEXT_LENGTH,
        MAX_PARAMETERS,
    )

    options = BacktestOptions(parameters={"n": MAX_PARAMETER_NUMBER, "t": "x" *
                                          MAX_PARAMETER_TEXT_LENGTH, "f": 0.5})
    assert options.parameters["n"] == MAX_PARAMETER_NUMBER  # an int stays an int
    assert len(BacktestOptions(parameters={f"p{i}": 1 for i in range(MAX_PARAMETERS)})
               .parameters) == MAX_PARAMETERS


@pytest.mark.parametrize("name", ["nightly\nrun", "tab\there", "bell\x07"])
def test_a_backtest_label_with_a_control_character_is_refused(name):
    with pytest.raises(ValidationError):
        BacktestOptions(backtest_name=name)


def test_a_blank_backtest_label_is_no_label():
    assert BacktestOptions(backtest_name="  ").backtest_name is None
    assert BacktestOptions(backtest_name="nightly run").backtest_name == "nightly run"


def test_a_grid_set_with_the_fixed_parameters_is_one_backtest_and_bounded():
    with pytest.raises(ValidationError, match="has 201 parameters"):
        GridOptions(parameter_sets=[{"fast": 1}], fixed={f"p{i}": 1 for i in range(200)})
    assert GridOptions(grid={"p0": [1]}, fixed={f"p{i}": 1 for i in range(200)}).sets()
