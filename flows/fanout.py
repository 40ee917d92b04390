"""Bounded fan-out for flows: run one coroutine per item, at most ``limit`` at once.

Example:
    >>> import asyncio
    >>> async def double(x: int) -> int:
    ...     return 2 * x
    >>> asyncio.run(run_bounded([1, 2, 3], double, limit=2))
    [2, 4, 6]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def run_bounded(
    items: Sequence[T],
    worker: Callable[[T], Awaitable[R]],
    *,
    limit: int,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    label: str = "Done",
) -> list[R]:
    """Await ``worker(item)`` for every item with at most ``limit`` in flight; keep input order.

    Progress is logged about every tenth of the way when a logger is given. The worker should
    handle its own per-item failures: one that raises cancels nothing else but is re-raised.
    """
    gate = asyncio.Semaphore(limit)
    done = 0
    step = max(1, len(items) // 10)

    async def one(item: T) -> R:
        nonlocal done
        async with gate:
            result = await worker(item)
        done += 1
        if logger is not None and (done % step == 0 or done == len(items)):
            logger.info("%s %d/%d", label, done, len(items))
        return result

    return list(await asyncio.gather(*(one(item) for item in items)))
