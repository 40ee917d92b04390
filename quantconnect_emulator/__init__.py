"""Offline emulator of the QuantConnect REST API v2.

The emulator is a FastAPI application served by uvicorn. It signs nothing and
stores everything in memory; it checks the same authentication headers as the
real service, answers with the same envelope, and can inject the transport
failures a real client meets in the wild (5xx, HTML error pages, 429, dropped
connections, slow answers, writes whose answer is lost).

Layout (split by resource, the way moto splits a service): ``account`` (the
lock, id generators, the clock; it tells the resources of its events),
``jobs`` (states that advance with the clock), ``resources/`` (one module per
API resource: models, operations, handlers and its own JSON; its docstring
says how to add a resource), ``registry`` (the action table the router
dispatches from, and :class:`~quantconnect_emulator.registry.Resource`, the
base of a resource's state), ``wire`` (only the formats every resource's JSON
shares), ``simulate`` (the deterministic backtest results and their
statistics), and around them ``routes``, ``middleware``, ``faults``,
``control``, ``config`` and ``cli``.

Example:
    >>> from quantconnect_emulator import EmulatorServer, FaultKind
    >>> with EmulatorServer(seed=1) as server:  # doctest: +SKIP
    ...     print(server.base_url)              # http://127.0.0.1:54321/api/v2
    ...     server.inject(FaultKind.HTTP_500_EMPTY, path="/projects/create")

The public names are imported lazily so that ``import quantconnect_emulator``
(done by the pytest plugin in every pytest session) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantconnect_emulator.app import Emulator, create_app
    from quantconnect_emulator.config import EmulatorConfig, FaultConfig, FaultKind, JobsConfig
    from quantconnect_emulator.server import EmulatorServer

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EmulatorServer",
    "FaultConfig",
    "FaultKind",
    "JobsConfig",
    "create_app",
]

_EXPORTS = {
    "Emulator": "quantconnect_emulator.app",
    "create_app": "quantconnect_emulator.app",
    "EmulatorConfig": "quantconnect_emulator.config",
    "FaultConfig": "quantconnect_emulator.config",
    "FaultKind": "quantconnect_emulator.config",
    "JobsConfig": "quantconnect_emulator.config",
    "EmulatorServer": "quantconnect_emulator.server",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'quantconnect_emulator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
