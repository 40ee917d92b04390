"""Run the backtest flows on a strategy folder of your own, from the command line.

``make backtest`` and ``make grid`` call it; against the built-in emulator unless ``QC_*``
credentials are configured, with Prefect's temporary server in ``./.prefect-home`` unless
``PREFECT_API_URL`` names a server (the baseline a gate keeps lives in that server's Variables)::

    .venv/bin/python -m flows.run backtest ~/strategies/my_sma --param fast=10 --param slow=30
    .venv/bin/python -m flows.run backtest ~/strategies/my_sma --max Drawdown=0.3 --baseline
    .venv/bin/python -m flows.run grid ~/strategies/my_sma --grid fast=5,10,20 --grid slow=30,60

The exit status is 0 when the run completed (and its gate, if any, passed), 1 otherwise, 2 for
bad arguments (refused before anything runs).

Example:
    >>> options = backtest_options(parse_args(["backtest", "strategies/sma_crossover_py",
    ...     "--param", "fast=10", "--max", "Drawdown=0.5", "--baseline"]))
    >>> options.parameters, options.gate.thresholds["Drawdown"].max
    ({'fast': '10'}, 0.5)
    >>> grid_options(parse_args(["grid", "s", "--grid", "fast=5,10"])).grid
    {'fast': ['5', '10']}
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.target import connect, isolate_prefect, where_to_look

if TYPE_CHECKING:
    from flows.backtests.forms import BacktestOptions, GridOptions


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _bound(text: str) -> tuple[str, float]:
    name, value = _pair(text)
    try:
        return name, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected STATISTIC=NUMBER, got {text!r}") from None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line: ``backtest FOLDER [options]`` or ``grid FOLDER --grid NAME=V1,V2 ...``."""
    parser = argparse.ArgumentParser(prog="python -m flows.run", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("backtest", "backtest-strategy once"), ("grid", "backtest-grid")):
        command = commands.add_parser(name, help=f"run {text} on a strategy folder")
        command.add_argument("folder", help="the strategy folder (main.py or Main.cs in it)")
        command.add_argument("--param", action="append", type=_pair, default=[],
                             metavar="NAME=VALUE", help="a backtest parameter (repeatable)")
    backtest = commands.choices["backtest"]
    backtest.add_argument("--min", action="append", type=_bound, default=[],
                          metavar="STATISTIC=N", help="gate: the statistic must be at least N")
    backtest.add_argument("--max", action="append", type=_bound, default=[],
                          metavar="STATISTIC=N", help="gate: the statistic must be at most N")
    backtest.add_argument("--baseline", action="store_true",
                          help="gate: compare with the accepted baseline; accept this run's "
                          "result as the new one if it passes")
    grid = commands.choices["grid"]
    grid.add_argument("--grid", action="append", type=_pair, default=[], required=True,
                      metavar="NAME=V1,V2,...", help="values of one parameter (repeatable)")
    grid.add_argument("--rank-by", default="Sharpe Ratio", help="statistic to rank the sets by")
    return parser.parse_args(list(argv))


def _folder(args: argparse.Namespace) -> str:
    return str(Path(args.folder).expanduser().resolve())


def backtest_options(args: argparse.Namespace) -> BacktestOptions:
    """The ``backtest-strategy`` form for ``args`` (validated as the UI's form is)."""
    from flows.backtests.forms import BacktestOptions

    form: dict[str, Any] = {
        "strategy": {"strategy_folder": _folder(args)},
        # As typed: LEAN reads every parameter as text, so `007`, `1_000` and `1e3` reach the
        # algorithm unchanged rather than rewritten by a number parse.
        "parameters": dict(args.param),
    }
    thresholds: dict[str, dict[str, float]] = {}
    for key, bounds in (("min", args.min), ("max", args.max)):
        for statistic, number in bounds:
            thresholds.setdefault(statistic, {})[key] = number
    if thresholds or args.baseline:
        form["gate"] = {
            "thresholds": thresholds,
            "compare_to_baseline": args.baseline,
            "accept_baseline": "if passed" if args.baseline else "never",
        }
    return BacktestOptions.model_validate(form)


def grid_options(args: argparse.Namespace) -> GridOptions:
    """The ``backtest-grid`` form for ``args`` (validated as the UI's form is)."""
    from flows.backtests.forms import GridOptions

    return GridOptions.model_validate(
        {
            "strategy": {"strategy_folder": _folder(args)},
            "grid": {name: [v.strip() for v in values.split(",") if v.strip()]
                     for name, values in args.grid},
            "fixed": dict(args.param),
            "rank_by": args.rank_by,
        }
    )


def _print_grid(report: Any) -> None:
    columns = ["rank", "parameters", report.rank_by, "net profit", "drawdown", "outcome", "error"]
    rows = [[str(row.get(c, "")) for c in columns] for row in report.table()]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    for line in [columns, ["-" * w for w in widths], *rows]:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run the flow against the chosen target, print what it found."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    isolate_prefect()
    import asyncio

    from pydantic import ValidationError

    from flows.backtests.demo import summary
    from flows.backtests.grid import backtest_grid
    from flows.backtests.strategy import backtest_strategy

    try:
        options: Any = backtest_options(args) if args.command == "backtest" else grid_options(args)
    except ValidationError as error:
        print(f"Refused before anything ran:\n{error}", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        credentials = connect(stack)
        flow: Any = backtest_strategy if args.command == "backtest" else backtest_grid
        state = asyncio.run(flow(options=options, credentials=credentials, return_state=True))
        result = state.result(raise_on_failure=False)
    print()
    if args.command == "backtest" and not isinstance(result, BaseException):
        print(summary(result, options.report.artifact_key))
        if result.gate is not None:
            print(result.gate.to_markdown())
    elif args.command == "grid" and not isinstance(result, BaseException):
        print(f"Grid of {result.strategy}: {result.outcome}, ranked by {result.rank_by}")
        _print_grid(result)
    if isinstance(result, BaseException):
        print(f"The run ended {state.name}: {result}", file=sys.stderr)
    print(f"\nReports and artifacts: {where_to_look()}.")
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
