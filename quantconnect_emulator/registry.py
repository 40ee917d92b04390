"""The table of API actions that resource modules fill, and the one way to run them.

A resource module declares each API action with :func:`action`; the router
(:mod:`quantconnect_emulator.routes`) looks the path up in :data:`HANDLERS` and
calls :func:`dispatch`, which runs the handler under the account's one lock, so
every action is atomic whatever it changes (``files/update`` with content and a
new name, a backtest create that checks a compile and takes a node...). An
action registered with ``locked=False`` takes the lock itself, around its short
critical parts only: ``compile/create`` checks the sources between two of them,
so a long check holds no other request. Adding a resource adds entries here
without touching any other resource.

A resource that keeps state subclasses :class:`Resource`: the account makes one
per account on first use (``Projects.of(account)``) and tells every resource
listed in :data:`quantconnect_emulator.resources.RESOURCES` of the account's
events by calling its methods (a project removed, new job settings, the figures
for ``stats()``).

Example:
    >>> from quantconnect_emulator.params import Params
    >>> @action("/_doc/echo")
    ... def _echo(account, params):
    ...     return {"echo": params.get_str("text")}
    >>> dispatch("/_doc/echo", None, Params({"text": "hi"}))
    {'echo': 'hi'}
    >>> del HANDLERS["/_doc/echo"]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params

Handler = Callable[["Account", "Params"], dict[str, Any]]


class ApiError(Exception):
    """A business error: the API answers HTTP 200, ``success: false``, ``errors: [message]``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Action:
    """One API action: its path, its handler, whether the envelope is bare, and who locks.

    ``bare`` answers ``{"success": true}`` only (``/authenticate``, per the contract);
    ``locked=False``: the handler takes the account's lock itself, where it needs it.
    """

    path: str
    handler: Handler
    bare: bool = False
    locked: bool = True


#: Every emulated action, by path relative to ``/api/v2`` (lower case).
HANDLERS: dict[str, Action] = {}


class Resource:
    """The state of one resource in one account, and the account's events it hears.

    Each event is a method the account calls on every resource of
    :data:`quantconnect_emulator.resources.RESOURCES`, under its lock; the ones
    here do nothing, so a resource overrides only those it needs.

    Example:
        >>> from quantconnect_emulator.account import Account
        >>> from quantconnect_emulator.config import EmulatorConfig
        >>> account = Account(EmulatorConfig())
        >>> Resource.of(account) is Resource.of(account), Resource.of(account).stats()
        (True, {})
    """

    def __init__(self, account: Account) -> None:
        self.account = account

    @classmethod
    def of(cls: type[R], account: Account) -> R:
        """This resource's state in ``account`` (made on first use)."""
        return account.part(cls)

    def project_removed(self, project_id: int) -> None:
        """Drop what belongs to a project deleted (to the Recycle Bin) or purged."""

    def jobs_changed(self) -> None:
        """Follow the account's new job settings (``account.jobs_config``)."""

    def listed_backtests(self, project_id: int, with_statistics: bool) -> list[dict[str, Any]]:
        """``BacktestSummary`` values of this resource's own backtests that ``/backtests/list``
        shows with the project's (an optimization's)."""
        return []

    def stats(self) -> dict[str, Any]:
        """Top-level ``stats()`` entries of this resource."""
        return {}


R = TypeVar("R", bound=Resource)


def action(
    path: str, *, bare: bool = False, locked: bool = True
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``path``."""

    def register(handler: Handler) -> Handler:
        key = path.lower()
        if key in HANDLERS:
            raise ValueError(f"two handlers for {key}")
        HANDLERS[key] = Action(key, handler, bare, locked)
        return handler

    return register


def dispatch(path: str, account: Account | None, params: Params) -> dict[str, Any]:
    """Run the action of ``path`` under the account's lock (unless it locks itself); return its
    payload. Blocking: the router calls it in a worker thread, never on the event loop.

    Raises:
        KeyError: No action has this path.
        ApiError: The action refused the request.
    """
    known = HANDLERS[path]
    lock = account.lock if account is not None and known.locked else contextlib.nullcontext()
    with lock:
        return known.handler(account, params)  # type: ignore[arg-type]
