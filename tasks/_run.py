"""Helpers for task bodies: run the blocking client off the event loop, within the task's time,
and know if this is a retry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import anyio.from_thread
import anyio.to_thread
from prefect.context import TaskRunContext

from quantconnect_client import operation_budget
from quantconnect_client.cancellation import cancel_check

T = TypeVar("T")


def task_time_limit() -> float | None:
    """The current task's timeout in seconds (None outside a task, or without one)."""
    context = TaskRunContext.get()
    if context is None or not context.task.timeout_seconds:
        return None
    return float(context.task.timeout_seconds)


def client_budget(seconds: float | None) -> AbstractContextManager[object]:
    """The one place a task's client work gets its time bound: every client call inside ends
    within ``seconds`` (attempts, timeouts and backoff included), else raises
    ``BudgetExhaustedError``; None sets no bound (the client's own per-call bounds remain).

    A Prefect task timeout cannot stop a thread blocked in I/O or asleep before a retry, so the
    bound must come from the client itself: ``quantconnect_client.operation_budget``.
    """
    return nullcontext() if seconds is None else operation_budget(seconds)


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call in a worker thread so concurrent tasks overlap, within the
    current task's timeout (see :func:`client_budget`).

    Cancelling the awaiting task (a cancelled flow run, a flow timeout) stops the client's
    waits: between reads and between attempts the thread checks its caller's cancellation
    (``quantconnect_client.cancellation.cancel_check``) and ends with it, instead of reading on
    until its deadline while the caller waits for it. A request in flight ends first, so a write
    is never cut off halfway; a shielded caller (a run's clean-up) is not cancelled.
    """
    seconds = task_time_limit()

    def bounded() -> T:
        worker = threading.current_thread()

        def check() -> None:
            # The check travels with the context, also into threads this call starts itself
            # (a batch's pool); only AnyIO's own worker thread can ask about the caller.
            if threading.current_thread() is worker:
                anyio.from_thread.check_cancelled()

        with client_budget(seconds), cancel_check(check):
            return function(*args, **kwargs)

    return await anyio.to_thread.run_sync(bounded)


def retry_context() -> tuple[bool, datetime | None]:
    """Whether the current task run is a retry, and when its first attempt started.

    A retried write may have taken effect in an earlier attempt whose answer was lost; the task
    uses the start time to recognise what that attempt made.
    """
    context = TaskRunContext.get()
    if context is None or context.task_run.run_count <= 1:
        return False, None
    started = context.task_run.start_time
    if started is None:
        return True, datetime.now(timezone.utc) - timedelta(hours=1)
    return True, started if started.tzinfo else started.replace(tzinfo=timezone.utc)
