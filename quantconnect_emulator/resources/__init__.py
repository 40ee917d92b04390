"""The emulated API, one module per resource (the way moto splits a service).

Each module holds its models, one operation per API action (run under the
account's lock), the functions that render its models as the service's JSON
(with :mod:`quantconnect_emulator.wire` for the formats every answer shares)
and the handlers that turn request parameters into an operation and its
payload. Importing this package registers every action in
:data:`quantconnect_emulator.registry.HANDLERS`; a new resource is a new module
listed here.

Example:
    >>> from quantconnect_emulator.registry import HANDLERS
    >>> "/projects/create" in HANDLERS and "/files/update" in HANDLERS
    True
"""

from __future__ import annotations

from quantconnect_emulator.resources import (
    account,
    backtests,
    compiles,
    files,
    lean,
    nodes,
    projects,
)

__all__ = ["account", "backtests", "compiles", "files", "lean", "nodes", "projects"]
