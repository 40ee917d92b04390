"""The main job (``make demo``): the temporary-project lifecycle check, then the example Python
strategy through the ``backtest-strategy`` pipeline, each printed readably.

With ``QC_USER_ID`` and ``QC_API_TOKEN`` set (environment or ``.env``) it runs against
QuantConnect itself; otherwise against the built-in emulator on loopback. Unless a Prefect server
is configured (``PREFECT_API_URL``), Prefect runs a temporary server with its home in
``./.prefect-home``, leaving the user's own Prefect home alone.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path


def _isolate_prefect() -> None:
    # Must run before Prefect is imported: its settings are read at import.
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect-home"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A first start migrates a new database, which can outlast Prefect's default start-up limit
    # on a busy machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "quantconnect_client")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


def _where_to_look() -> str:
    """Where the runs' artifacts (the lifecycle report, the backtest report) can be seen."""
    api_url = os.environ.get("PREFECT_API_URL")
    if api_url:
        return f"the Prefect UI at {api_url.removesuffix('/').removesuffix('/api')}"
    home = os.environ.get("PREFECT_HOME", ".prefect-home")
    return f"the Prefect UI of `PREFECT_HOME={home} .venv/bin/prefect server start` (kept there)"


def main() -> int:
    """Run the lifecycle once, then backtest the example strategy; 0 when both completed."""
    _isolate_prefect()
    import asyncio

    from flows.backtest_demo import run_backtest_demo
    from flows.lifecycle import temporary_project_lifecycle
    from quantconnect_client import QuantConnectError, QuantConnectSettings
    from quantconnect_emulator import EmulatorServer
    from tasks.credentials import QuantConnectCredentials

    settings = QuantConnectSettings()
    with ExitStack() as stack:
        if settings.has_credentials:
            credentials = QuantConnectCredentials.from_settings(settings)
            print(f"Target: {settings.base_url} as user {settings.user_id}")
        else:
            emulator = stack.enter_context(EmulatorServer())
            credentials = QuantConnectCredentials(
                user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
            )
            print(f"Target: the built-in QuantConnect emulator at {emulator.base_url}")
            print("        (set QC_USER_ID and QC_API_TOKEN to use QuantConnect itself;")
            print("        the emulator's backtest results are simulated, not LEAN's)")
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
    print(f"\nReports and artifacts: {_where_to_look()}.")
    return status


if __name__ == "__main__":
    sys.exit(main())
