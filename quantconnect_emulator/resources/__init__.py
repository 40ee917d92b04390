"""The emulated API, one module per resource (the way moto splits a service).

Each module holds its models, one operation per API action (run under the
account's lock), the functions that render its models as the service's JSON
(with :mod:`quantconnect_emulator.wire` for the formats every answer shares)
and the handlers that turn request parameters into an operation and its
payload. Importing this package registers every action in
:data:`quantconnect_emulator.registry.HANDLERS`; :data:`RESOURCES` is the
resource registry the account tells of its events, :data:`CONTROLS` the test
controls the app mounts under ``/_emulator``.

How to add a resource (say ``optimizations``):

1. Write ``resources/optimizations.py`` with

   - its models (dataclasses) and the function(s) rendering them as JSON,
     beside them;
   - its state, a subclass of :class:`~quantconnect_emulator.registry.Resource`
     (one per account, ``Optimizations.of(account)``), with one operation per
     API action; it overrides only the events it needs:
     ``project_removed(project_id)`` (drop the project's state, stop its
     jobs), ``jobs_changed()`` (follow new ``account.jobs_config``) and
     ``stats()`` (top-level ``/_emulator/stats`` entries);
   - its jobs, if any, on ``JobBoards.of(account).board("optimization")``
     with a schedule of :class:`~quantconnect_emulator.jobs.Stage`: they
     advance with the job clock and settle when read (no tick to handle), and
     ``/_emulator/jobs/{id}/advance|finish`` finds them by id;
   - its handlers, ``@action("/optimizations/create")`` functions
     ``(account, params) -> payload``;
   - its test controls, if any, on an ``APIRouter`` named ``control``.

2. Here: import the module, add its state class to :data:`RESOURCES`, its
   ``control`` to :data:`CONTROLS`, its name to ``__all__``.

Nothing else changes: the account, the registry, the router and the app find
the resource through these two tuples. (New job settings, if it needs any,
are fields of :class:`~quantconnect_emulator.config.JobsConfig`.)

Example:
    >>> from quantconnect_emulator.registry import HANDLERS
    >>> "/projects/create" in HANDLERS and "/files/update" in HANDLERS
    True
    >>> [kind.__name__ for kind in RESOURCES]
    ['Projects', 'Compiles', 'Backtests', 'Nodes', 'Optimizations', 'ObjectStore', 'Live']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantconnect_emulator.resources import (
    account,
    backtests,
    compiles,
    files,
    lean,
    live,
    nodes,
    objectstore,
    optimizations,
    projects,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from quantconnect_emulator.registry import Resource

__all__ = [
    "CONTROLS",
    "RESOURCES",
    "account",
    "backtests",
    "compiles",
    "files",
    "lean",
    "live",
    "nodes",
    "objectstore",
    "optimizations",
    "projects",
]

#: Every resource that keeps state, in the order the account tells them of an event
#: (``Account.project_removed``, ``jobs_changed``, ``extra_stats``).
RESOURCES: tuple[type[Resource], ...] = (
    projects.Projects,
    compiles.Compiles,
    backtests.Backtests,
    nodes.Nodes,
    optimizations.Optimizations,
    objectstore.ObjectStore,
    live.Live,
)

#: The resources' test controls, mounted under ``/_emulator`` by the app.
CONTROLS: tuple[APIRouter, ...] = (
    projects.control, compiles.control, backtests.control, objectstore.control, live.control,
)
