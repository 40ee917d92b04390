"""The main job (``make demo``): the temporary-project lifecycle check, then the example Python
strategy through the ``backtest-strategy`` pipeline, each printed readably.

With ``QC_USER_ID`` and ``QC_API_TOKEN`` set (environment or ``.env``) it runs against
QuantConnect itself; otherwise against the built-in emulator on loopback. Unless a Prefect server
is configured (``PREFECT_API_URL``), Prefect runs a temporary server with its home in
``./.prefect-home``, leaving the user's own Prefect home alone.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

from flows.target import connect, isolate_prefect, where_to_look


def main() -> int:
    """Run the lifecycle once, then backtest the example strategy; 0 when both completed."""
    isolate_prefect()
    import asyncio

    from flows.backtests.demo import run_backtest_demo
    from flows.projects.lifecycle import temporary_project_lifecycle
    from quantconnect_client import QuantConnectError

    with ExitStack() as stack:
        credentials = connect(stack)
        try:
            report = asyncio.run(temporary_project_lifecycle(credentials=credentials))
        except (QuantConnectError, AssertionError) as error:
            print(f"\nThe lifecycle check failed: {error}", file=sys.stderr)
            return 1
        print()
        print(report.to_markdown())
        if report.outcome != "completed":
            return 1
        print("\nNow the example strategy (strategies/sma_crossover_py) through backtest-strategy:")
        status = run_backtest_demo(credentials, ui_url=None)
    print(f"\nReports and artifacts: {where_to_look()}.")
    return status


if __name__ == "__main__":
    sys.exit(main())
