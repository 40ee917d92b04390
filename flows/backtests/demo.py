"""The backtest part of ``make demo``: the Python example strategy through ``backtest-strategy``,
printed readably, with where to look in the Prefect UI.

Example:
    >>> from tasks.credentials import QuantConnectCredentials
    >>> creds = QuantConnectCredentials.from_settings()  # doctest: +SKIP
    >>> run_backtest_demo(creds)  # doctest: +SKIP
    0
"""

from __future__ import annotations

import asyncio
import sys

from flows.backtests.forms import BacktestOptions
from flows.backtests.report import HEADLINE_STATISTICS, BacktestReport
from flows.backtests.strategy import backtest_strategy
from tasks.credentials import QuantConnectCredentials

#: The demo's parameters: the example's defaults, spelled out so the report shows them.
DEMO_OPTIONS = BacktestOptions(parameters={"fast": 10, "slow": 30})


def summary(report: BacktestReport, artifact_key: str, ui_url: str | None = None) -> str:
    """What the demo prints: the outcome, the headline numbers and where the rest is.

    Example:
        >>> report = BacktestReport(strategy="sma", outcome="completed",
        ...                         statistics={"Sharpe Ratio": "0.5", "Alpha": "0.1"})
        >>> print(summary(report, "backtest-report"))
        Backtest of sma: completed
          Sharpe Ratio: 0.5
        SIMULATED by the offline emulator: these are not LEAN's results.
        Full report (chart, all statistics): artifact 'backtest-report' in the Prefect UI.
    """
    lines = [f"Backtest of {report.strategy}: {report.outcome}"]
    lines += [f"  {name}: {report.statistics[name]}"
              for name in HEADLINE_STATISTICS if name in report.statistics]
    if report.error:
        lines.append(f"  Error: {report.error}")
    if report.simulated:
        lines.append("SIMULATED by the offline emulator: these are not LEAN's results.")
    where = f"the Prefect UI at {ui_url}" if ui_url else "the Prefect UI"
    lines.append(f"Full report (chart, all statistics): artifact {artifact_key!r} in {where}.")
    return "\n".join(lines)


def run_backtest_demo(credentials: QuantConnectCredentials, ui_url: str | None = None) -> int:
    """Backtest the Python example once; print the headline; 0 when it completed.

    Args:
        credentials: The target (the built-in emulator's, or QuantConnect's).
        ui_url: The Prefect UI's address, if a server is configured.
    """
    from quantconnect_client import QuantConnectError

    try:
        report = asyncio.run(backtest_strategy(options=DEMO_OPTIONS, credentials=credentials))
    except (QuantConnectError, AssertionError, TimeoutError) as error:
        print(f"\nThe backtest pipeline failed: {error}", file=sys.stderr)
        return 1
    print()
    print(summary(report, DEMO_OPTIONS.report.artifact_key, ui_url))
    return 0 if report.outcome == "completed" else 1
