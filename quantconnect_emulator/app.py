"""The emulator's shared state (:class:`Emulator`) and the ASGI app factory.

Example:
    >>> from quantconnect_emulator import EmulatorConfig, create_app
    >>> app = create_app(EmulatorConfig(seed=1))
    >>> app.state.emulator.stats()["store"]["projects_created"]
    0

Serve ``app`` with any ASGI server; :class:`~quantconnect_emulator.server.EmulatorServer`
does it with uvicorn in a background thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from quantconnect_emulator import control, routes
from quantconnect_emulator.account import Account, Clock
from quantconnect_emulator.auth import check_request_auth
from quantconnect_emulator.config import CONTROL_PREFIX, EmulatorConfig, FaultConfig, JobsConfig
from quantconnect_emulator.faults import FaultEngine
from quantconnect_emulator.middleware import EmulatorMiddleware, install_drop_log_filter
from quantconnect_emulator.requestlog import RequestLog
from quantconnect_emulator.resources import CONTROLS
from quantconnect_emulator.resources.projects import Projects

#: Counters ``stats()["store"]`` always reports (zero until something happens).
STORE_COUNTERS = (
    "projects_created",
    "projects_updated",
    "projects_soft_deleted",
    "projects_purged",
    "files_created",
    "files_updated",
    "files_renamed",
    "files_deleted",
)


class Emulator:
    """Everything one emulator holds: config, the account, faults, request log.

    Shared by the ASGI app (routes, control endpoints, middleware) and by
    :class:`~quantconnect_emulator.server.EmulatorServer`; all parts are
    thread-safe.

    Args:
        config: The configuration (defaults to ``EmulatorConfig()``).
        clock: The clock of the account's jobs and timestamps (default: wall
            time that :meth:`advance` can move forward).
    """

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.account = Account(self.config, clock=clock)
        self.faults = FaultEngine(self.config.faults, seed=self.config.seed)
        self.log = RequestLog(self.config.request_log_size)
        #: Set while the server shuts down: stalled answers are released.
        self.closing = False

    def check_auth(self, headers: Mapping[str, str]) -> str | None:
        """Check a request's signature now: None if authentic, else the service's message."""
        config = self.config
        return check_request_auth(
            headers,
            user_id=config.user_id,
            api_token=config.api_token.get_secret_value(),
            # Real time, not the job clock: advancing jobs must not age every signature.
            now=time.time(),
            max_age_seconds=config.max_timestamp_age_seconds,
            max_future_seconds=config.max_timestamp_future_seconds,
        )

    def reset(self) -> None:
        """Forget projects, jobs, counters, the request log and queued faults; send the
        ``slow_response`` answers held now.

        The configuration (fault and job settings included) is kept, and so
        are the id generators' positions: no id is dealt twice in a process.
        """
        self.account = self.account.renewed()
        self.faults.reset()
        self.log.clear()

    def set_faults(self, config: FaultConfig) -> None:
        """Replace the fault configuration."""
        self.faults.set_config(config)

    def set_jobs(self, config: JobsConfig) -> None:
        """Replace the job settings (nodes, mode, durations) from now on."""
        account = self.account
        with account.lock:
            account.jobs_config = config
            account.jobs_changed()

    def advance(self, seconds: float) -> float:
        """Move the job clock forward; return its new time (Unix seconds)."""
        self.account.clock.advance(seconds)
        return self.account.clock.time()

    def projects(self, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every project with its files (``inRecycleBin`` marks deleted ones)."""
        return Projects.of(self.account).snapshot(include_deleted=include_deleted)

    def stats(self) -> dict[str, Any]:
        """Request, fault and in-flight counters, plus the account's counters."""
        result = self.faults.snapshot()
        account = self.account
        with account.lock:
            store = {name: account.counters.get(name, 0) for name in STORE_COUNTERS}
            store.update({k: v for k, v in account.counters.items() if k not in store})
            store.update(Projects.of(account).counters())
            result.update(account.extra_stats())
        result.update(account.checks.stats())
        result["store"] = store
        return result


def create_app(
    config: EmulatorConfig | None = None, *, emulator: Emulator | None = None
) -> FastAPI:
    """Build the ASGI application.

    Args:
        config: Configuration for a new :class:`Emulator` (ignored if
            ``emulator`` is given).
        emulator: An existing emulator to serve (shared with the caller).

    Returns:
        A FastAPI app; its :class:`Emulator` is ``app.state.emulator``.
    """
    emulator = emulator or Emulator(config)
    install_drop_log_filter()
    app = FastAPI(
        title="QuantConnect API v2 emulator",
        description="Offline emulator of the QuantConnect REST API v2.",
        docs_url=f"{CONTROL_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{CONTROL_PREFIX}/openapi.json",
    )
    app.state.emulator = emulator
    app.include_router(routes.router)
    app.include_router(control.router)
    for resource_router in CONTROLS:
        app.include_router(resource_router, prefix=CONTROL_PREFIX, tags=["emulator control"])
    app.add_middleware(EmulatorMiddleware, emulator=emulator)
    return app
