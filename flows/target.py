"""Where the command-line entry points (``make demo``, ``python -m flows.run``) send their
requests: QuantConnect itself when ``QC_*`` credentials are configured, the built-in emulator on
loopback otherwise; and a Prefect home of their own unless a Prefect server is configured.

Example:
    >>> from contextlib import ExitStack
    >>> with ExitStack() as stack:  # doctest: +SKIP
    ...     credentials = connect(stack)
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.credentials import QuantConnectCredentials


def isolate_prefect() -> None:
    """Give a command-line run its own Prefect home (``./.prefect-home``) unless
    ``PREFECT_API_URL`` names a server, and quiet the offline telemetry.

    Must run before Prefect is imported: its settings are read at import.
    """
    if not os.environ.get("PREFECT_API_URL"):
        os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect-home"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A first start migrates a new database, which can outlast Prefect's default start-up limit
    # on a busy machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "quantconnect_client")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


def where_to_look() -> str:
    """Where the runs' artifacts can be seen, in words for the console."""
    api_url = os.environ.get("PREFECT_API_URL")
    if api_url:
        return f"the Prefect UI at {api_url.removesuffix('/').removesuffix('/api')}"
    home = os.environ.get("PREFECT_HOME", ".prefect-home")
    return f"the Prefect UI of `PREFECT_HOME={home} .venv/bin/prefect server start` (kept there)"


def connect(stack: ExitStack) -> QuantConnectCredentials:
    """The credentials to run with; starts the emulator (stopped with ``stack``) if none are set.

    Prints which target it chose, so a user never mistakes simulated results for LEAN's.
    """
    from quantconnect_client import QuantConnectSettings
    from quantconnect_emulator import EmulatorServer
    from tasks.credentials import QuantConnectCredentials

    settings = QuantConnectSettings()
    if settings.has_credentials:
        print(f"Target: {settings.base_url} as user {settings.user_id}")
        return QuantConnectCredentials.from_settings(settings)
    emulator = stack.enter_context(EmulatorServer())
    print(f"Target: the built-in QuantConnect emulator at {emulator.base_url}")
    print("        (set QC_USER_ID and QC_API_TOKEN to use QuantConnect itself;")
    print("        the emulator's backtest results are simulated, not LEAN's)")
    return QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )
