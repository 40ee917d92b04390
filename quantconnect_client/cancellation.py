"""Cancellable waits: the client's sleeps stop when the caller that runs it is cancelled.

Every wait of the client (between a poll's reads, between a call's attempts) sleeps through
:func:`cancellable_sleep`, which calls the check set by :func:`cancel_check`; a caller running
the client in a worker thread passes what tells that thread its caller was cancelled.

Example:
    >>> cancellable_sleep(0.01)  # no check set: a plain sleep
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: How often a wait of the client looks for a cancellation (see :func:`cancel_check`).
CANCEL_CHECK_SECONDS = 0.2

_CANCEL_CHECK: ContextVar[Callable[[], None] | None] = ContextVar(
    "quantconnect_cancel_check", default=None
)


@contextmanager
def cancel_check(check: Callable[[], None]) -> Iterator[None]:
    """Let the client's waits be cancelled: inside the block, every wait (between a poll's
    reads, between a call's attempts) calls ``check`` before it starts, at least every
    :data:`CANCEL_CHECK_SECONDS` while it lasts, and as it ends; ``check`` stops the operation
    by raising. Like budgets, it lives in a context variable.

    A caller that runs the client in a worker thread passes what tells that thread its caller
    was cancelled (for AnyIO: ``anyio.from_thread.check_cancelled``); a cancelled caller then
    no longer leaves its thread reading until the deadline. A request in flight ends as usual.

    Example:
        >>> def stop() -> None:
        ...     raise InterruptedError("the caller was cancelled")
        >>> with cancel_check(stop):
        ...     cancellable_sleep(60)
        Traceback (most recent call last):
        ...
        InterruptedError: the caller was cancelled
    """
    token = _CANCEL_CHECK.set(check)
    try:
        yield
    finally:
        _CANCEL_CHECK.reset(token)


def cancellable_sleep(seconds: float) -> None:
    """``time.sleep(seconds)``, in slices that call the active :func:`cancel_check`.

    Example:
        >>> cancellable_sleep(0.01)
    """
    check = _CANCEL_CHECK.get()
    if check is None:
        time.sleep(max(0.0, seconds))
        return
    end = time.monotonic() + seconds
    while True:
        check()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, CANCEL_CHECK_SECONDS))


__all__ = ["CANCEL_CHECK_SECONDS", "cancel_check", "cancellable_sleep"]
