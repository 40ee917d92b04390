"""``python -m flows.run``: the newcomer's way to backtest a strategy folder of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.run import backtest_options, grid_options, main, parse_args

EXAMPLE = Path(__file__).resolve().parents[2] / "strategies" / "sma_crossover_py"


@pytest.fixture
def own_folder(tmp_path: Path) -> Path:
    """A strategy folder outside the checkout, as a user's own would be."""
    folder = tmp_path / "my_sma"
    shutil.copytree(EXAMPLE, folder)
    return folder


@pytest.fixture
def target(emulator, monkeypatch):
    """QC_* pointing at the test's emulator, as a user's .env would for QuantConnect."""
    monkeypatch.setenv("QC_USER_ID", str(emulator.user_id))
    monkeypatch.setenv("QC_API_TOKEN", emulator.api_token)
    monkeypatch.setenv("QC_BASE_URL", emulator.base_url)
    return emulator


def test_a_folder_of_ones_own_is_backtested_with_its_parameters_and_gated(
    prefect_server, target, own_folder, capsys
):
    status = main(["backtest", str(own_folder), "--param", "fast=7", "--param", "slow=21",
                   "--max", "Drawdown=0.99"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Backtest of my_sma: completed" in out
    assert "Regression gate: passed" in out and "Drawdown max 0.99" in out
    creates = [r for r in target.requests_log() if r["path"] == "/backtests/create"]
    assert len(creates) == 1
    assert target.projects() == []  # the temporary project is gone


def test_a_failing_gate_is_a_non_zero_exit_with_the_table(
    prefect_server, target, own_folder, capsys
):
    status = main(["backtest", str(own_folder), "--min", "Sharpe Ratio=1000"])
    captured = capsys.readouterr()
    assert status == 1
    assert "Sharpe Ratio" in captured.err and "min 1000" in captured.err


def test_a_grid_prints_ranking_net_profit_and_drawdown(prefect_server, target, own_folder, capsys):
    status = main(["grid", str(own_folder), "--grid", "fast=5,10", "--grid", "slow=30"])
    out = capsys.readouterr().out
    assert status == 0, out
    header = next(line for line in out.splitlines() if "parameters" in line and "rank" in line)
    assert "Sharpe Ratio" in header and "net profit" in header and "drawdown" in header
    assert "fast=5, slow=30" in out and "fast=10, slow=30" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["backtest", "FOLDER", "--param", "bad name=1"],
        ["backtest", "FOLDER", "--max", "No Such Statistic=1"],
        ["grid", "FOLDER", "--grid", "fast="],
    ],
)
def test_bad_arguments_are_refused_before_any_request(target, own_folder, argv, capsys):
    argv = [str(own_folder) if a == "FOLDER" else a for a in argv]
    assert main(argv) == 2
    assert "Refused before anything ran" in capsys.readouterr().err
    assert target.requests_log() == []


def test_parameters_reach_the_form_as_typed(own_folder):
    # LEAN reads text: a number parse would turn 007 into 7 and 1e3 into 1000.0.
    typed = ["007", "1_000", "1e3", "10.0", "nan"]
    params = [a for i, t in enumerate(typed) for a in ("--param", f"p{i}={t}")]
    options = backtest_options(parse_args(["backtest", str(own_folder), *params]))
    assert options.parameters == {f"p{i}": t for i, t in enumerate(typed)}
    grid = grid_options(parse_args(["grid", str(own_folder), "--grid", "fast=007, 1e3",
                                    "--param", "slow=10.0"]))
    assert grid.grid == {"fast": ["007", "1e3"]} and grid.fixed == {"slow": "10.0"}
