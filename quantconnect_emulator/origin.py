"""Where the request being served was sent: the root URL links in an answer are built on.

An action handler sees only the account and the parameters; an answer that hands out a link
(``/object/get``'s download URL) must name the address the client reached, which only the
request knows (the port is chosen at start, a test may use ``localhost`` or ``127.0.0.1``).
The router sets it around each action, in the worker thread that runs the action.

Example:
    >>> with serving_root("http://127.0.0.1:8765"):
    ...     request_root()
    'http://127.0.0.1:8765'
    >>> request_root()
    'http://127.0.0.1'
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_ROOT: ContextVar[str | None] = ContextVar("quantconnect_emulator_request_root", default=None)

#: The root used outside a request (an action called directly, in a doctest).
FALLBACK_ROOT = "http://127.0.0.1"


@contextlib.contextmanager
def serving_root(root: str) -> Iterator[None]:
    """Make ``root`` (``scheme://host:port``, no path) the answer of :func:`request_root`."""
    token = _ROOT.set(root.rstrip("/"))
    try:
        yield
    finally:
        _ROOT.reset(token)


def request_root() -> str:
    """The root URL of the request being served (:data:`FALLBACK_ROOT` outside one)."""
    return _ROOT.get() or FALLBACK_ROOT
