"""Helpers for task bodies: run the blocking client off the event loop, know if this is a retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from prefect.context import TaskRunContext

T = TypeVar("T")


async def in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call in a worker thread so concurrent tasks overlap."""
    return await anyio.to_thread.run_sync(partial(function, *args, **kwargs))


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
