"""Baselines live in Prefect Variables: stored, read back, replaced, refused when corrupt."""

from __future__ import annotations

import math
import uuid

import pytest
from prefect.variables import Variable

from flows.backtests.gate import Baseline, baseline_key, load_baseline, save_baseline

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]


def key() -> str:
    return baseline_key(f"test-{uuid.uuid4().hex[:8]}")


async def test_no_baseline_yet_reads_as_none():
    assert await load_baseline(key()) is None


async def test_a_saved_baseline_reads_back_and_is_replaced_by_the_next():
    name = key()
    first = Baseline(strategy="s", statistics={"Sharpe Ratio": 1.0, "Drawdown": 0.2},
                     backtest_id="a" * 32, parameters={"fast": 10})
    await save_baseline(name, first)
    assert await load_baseline(name) == first
    second = first.model_copy(update={"statistics": {"Sharpe Ratio": 2.0}})
    await save_baseline(name, second)
    stored = await load_baseline(name)
    assert stored is not None and stored.statistics == {"Sharpe Ratio": 2.0}


async def test_non_finite_numbers_of_a_run_are_not_stored():
    from flows.backtests.gate import GateOptions, run_gate

    strategy = f"strategy-{uuid.uuid4().hex[:8]}"
    numbers = {"Sharpe Ratio": math.inf, "Drawdown": math.nan, "Alpha": None, "Beta": 1.0,
               "Total Orders": 1e300}  # too big to store: it would overflow the tolerance
    await run_gate(numbers, GateOptions(accept_baseline="always"), strategy)
    stored = await load_baseline(baseline_key(strategy))
    assert stored is not None and stored.statistics == {"Alpha": None, "Beta": 1.0}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_a_hand_edited_non_finite_value_is_refused_naming_the_variable(value):
    # The Variables page stores what a person types: "NaN" would pass every comparison, and
    # "Infinity" makes the tolerance (5 % of the baseline) infinite.
    name = key()
    stored = Baseline(strategy="s", statistics={"Sharpe Ratio": 1.0}).model_dump(mode="json")
    stored["statistics"]["Sharpe Ratio"] = value
    await Variable.aset(name, stored)
    with pytest.raises(ValueError) as caught:
        await load_baseline(name)
    message = str(caught.value)
    assert repr(name) in message and "statistics.Sharpe Ratio" in message
    assert "finite number" in message


async def test_a_baseline_edited_down_to_nothing_fails_the_comparison():
    from flows.backtests.gate import GateOptions, run_gate

    strategy = f"strategy-{uuid.uuid4().hex[:8]}"
    emptied = Baseline(strategy=strategy, statistics={}).model_dump(mode="json")
    await Variable.aset(baseline_key(strategy), emptied)
    result = await run_gate({"Sharpe Ratio": 1.0}, GateOptions(compare_to_baseline=True),
                            strategy)
    assert not result.passed and result.checked == []
    assert "compared 0 statistics" in result.to_markdown()


async def test_a_variable_edited_into_nonsense_is_refused_with_advice():
    name = key()
    await Variable.aset(name, {"not": "a baseline"})
    with pytest.raises(ValueError, match="delete it to start afresh"):
        await load_baseline(name)


async def test_the_gate_compares_with_the_stored_baseline_and_accepts_only_when_asked():
    from flows.backtests.gate import GateOptions, run_gate

    strategy = f"strategy-{uuid.uuid4().hex[:8]}"
    good = {"Sharpe Ratio": 1.0, "Drawdown": 0.2}
    worse = {"Sharpe Ratio": 0.5, "Drawdown": 0.2}
    compare = GateOptions(compare_to_baseline=True)
    first = await run_gate(good, compare, strategy)
    assert first.passed and not first.accepted  # nothing stored: accepting is explicit
    assert await load_baseline(baseline_key(strategy)) is None

    accept = GateOptions(compare_to_baseline=True, accept_baseline="if passed")
    stored = await run_gate(good, accept, strategy, backtest_id="b" * 32)
    assert stored.accepted and stored.passed

    regressed = await run_gate(worse, accept, strategy)
    assert not regressed.passed and not regressed.accepted
    assert [f.statistic for f in regressed.findings] == ["Sharpe Ratio"]
    kept = await load_baseline(baseline_key(strategy))
    assert kept is not None and kept.backtest_id == "b" * 32  # a regression never replaces it

    reset = await run_gate(worse, GateOptions(compare_to_baseline=True, accept_baseline="always"),
                           strategy)
    assert reset.accepted and not reset.passed
    assert (await run_gate(worse, compare, strategy)).passed


async def test_simulated_results_never_share_a_baseline_with_real_ones():
    from flows.backtests.gate import GateOptions, run_gate

    strategy = f"strategy-{uuid.uuid4().hex[:8]}"
    accept = GateOptions(compare_to_baseline=True, accept_baseline="always")
    await run_gate({"Sharpe Ratio": 9.0}, accept, strategy, simulated=True)
    assert await load_baseline(baseline_key(strategy)) is None
    real = await run_gate({"Sharpe Ratio": 0.5}, GateOptions(compare_to_baseline=True), strategy)
    assert real.passed and real.baseline is None  # not compared with the emulator's 9.0


@pytest.mark.parametrize("value", [1e308, True], ids=["huge", "boolean"])
async def test_a_hand_edited_huge_or_boolean_value_is_refused_naming_the_variable(value):
    # 2 x |1e308| overflows to infinity and would allow any Sharpe; `true` is no statistic.
    name = key()
    stored = Baseline(strategy="s", statistics={"Sharpe Ratio": 1.0}).model_dump(mode="json")
    stored["statistics"]["Sharpe Ratio"] = value
    await Variable.aset(name, stored)
    with pytest.raises(ValueError) as caught:
        await load_baseline(name)
    message = str(caught.value)
    assert repr(name) in message and "statistics.Sharpe Ratio" in message
