"""The emulator's shared state (:class:`Emulator`) and the ASGI app factory.

Example:
    >>> from quantconnect_emulator import EmulatorConfig, create_app
    >>> app = create_app(EmulatorConfig(seed=1))
    >>> app.state.emulator.store.counters()["projects_created"]
    0

Serve ``app`` with any ASGI server; :class:`~quantconnect_emulator.server.EmulatorServer`
does it with uvicorn in a background thread.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from quantconnect_emulator import control, routes
from quantconnect_emulator.config import CONTROL_PREFIX, EmulatorConfig, FaultConfig
from quantconnect_emulator.faults import FaultEngine
from quantconnect_emulator.middleware import EmulatorMiddleware, install_drop_log_filter
from quantconnect_emulator.requestlog import RequestLog
from quantconnect_emulator.store import Store


class Emulator:
    """Everything one emulated account holds: config, store, faults, request log.

    Shared by the ASGI app (routes, control endpoints, middleware) and by
    :class:`~quantconnect_emulator.server.EmulatorServer`; all parts are
    thread-safe.

    Args:
        config: The configuration (defaults to ``EmulatorConfig()``).
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.store = Store(
            user_id=self.config.user_id,
            organization_id=self.config.organization_id,
            max_name_length=self.config.max_name_length,
            seed=self.config.seed,
            rename_duplicates_on_create=self.config.rename_duplicates_on_create,
        )
        self.faults = FaultEngine(self.config.faults, seed=self.config.seed)
        self.log = RequestLog(self.config.request_log_size)
        #: Set while the server shuts down: stalled answers are released.
        self.closing = False

    def reset(self) -> None:
        """Forget projects, counters, the request log and queued faults.

        The configuration (fault configuration included) is kept.
        """
        self.store.reset()
        self.faults.reset()
        self.log.clear()

    def set_faults(self, config: FaultConfig) -> None:
        """Replace the fault configuration."""
        self.faults.set_config(config)

    def stats(self) -> dict[str, Any]:
        """Request, fault and in-flight counters plus store counters."""
        result = self.faults.snapshot()
        result["store"] = self.store.counters()
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
        description="Offline emulator of the QuantConnect REST API v2 (projects, files).",
        docs_url=f"{CONTROL_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{CONTROL_PREFIX}/openapi.json",
    )
    app.state.emulator = emulator
    app.include_router(routes.router)
    app.include_router(control.router)
    app.add_middleware(EmulatorMiddleware, emulator=emulator)
    return app
