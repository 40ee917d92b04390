"""Two awaitables side by side, with the first failure raised as itself.

An anyio task group wraps whatever its tasks raise in an ``ExceptionGroup``; a flow step that
runs two requests at once wants the plain error instead (a ``BuildError`` stays a
``BuildError`` for the report and for the caller's ``except``). A cancellation from outside is
left to propagate as anyio handles it.

Example:
    >>> import anyio
    >>> async def two():
    ...     async def a() -> int:
    ...         return 1
    ...     async def b() -> str:
    ...         return "b"
    ...     return await side_by_side(a, b)
    >>> anyio.run(two)
    (1, 'b')
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")
U = TypeVar("U")


async def side_by_side(
    first: Callable[[], Awaitable[T]], second: Callable[[], Awaitable[U]]
) -> tuple[T, U]:
    """Run both, return both results; if one raises an ``Exception``, cancel the other and
    raise that exception (the first to fail, unwrapped).

    Example:
        >>> async def failing():
        ...     async def boom() -> None:
        ...         raise KeyError("x")
        ...     async def forever() -> None:
        ...         await anyio.sleep(3600)
        ...     await side_by_side(boom, forever)
        >>> anyio.run(failing)
        Traceback (most recent call last):
        ...
        KeyError: 'x'
    """
    results: dict[int, Any] = {}
    errors: list[Exception] = []

    async with anyio.create_task_group() as group:

        async def run(key: int, job: Callable[[], Awaitable[Any]]) -> None:
            try:
                results[key] = await job()
            except Exception as error:
                errors.append(error)
                group.cancel_scope.cancel()

        group.start_soon(run, 0, first)
        group.start_soon(run, 1, second)
    if errors:
        failure, *others = errors
        for other in others:
            # Both failed: the second is named on the first rather than lost (Python 3.11+).
            if hasattr(failure, "add_note"):
                failure.add_note(f"Alongside it: {type(other).__name__}: {other}")
        raise failure
    return results[0], results[1]


__all__ = ["side_by_side"]
