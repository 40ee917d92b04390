"""The main job (``make demo``): one temporary-project lifecycle run, printed readably.

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


def main() -> int:
    """Run the lifecycle once; 0 when it completed."""
    _isolate_prefect()
    import asyncio

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
            print("        (set QC_USER_ID and QC_API_TOKEN to use QuantConnect itself)")
        try:
            report = asyncio.run(temporary_project_lifecycle(credentials=credentials))
        except (QuantConnectError, AssertionError) as error:
            print(f"\nThe lifecycle check failed: {error}", file=sys.stderr)
            return 1
    print()
    print(report.to_markdown())
    return 0 if report.outcome == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
