"""Keeping Prefect's API round trips per flow run few: one session, no result-storage lookups.

Each flow run called outside such a session builds two new Prefect API clients (the engine's
async one, and a sync one that looks up the server's default result storage), and each new
client loads the whole CA bundle into an ``ssl.SSLContext`` even for an ``http://`` API: more
than the rest of Prefect's client-side bookkeeping around a five-request lifecycle (measured in
``benchmarks/README.md``). Inside a session, every run reuses the same two
clients and their open connections. Prefect's engine looks these clients up itself
(``AsyncClientContext`` / ``SyncClientContext``), so the flows need no change.

Example:
    >>> import asyncio
    >>> from flows.projects.lifecycle import temporary_project_lifecycle
    >>> async def every_minute() -> None:
    ...     async with prefect_api_session():
    ...         while True:
    ...             await temporary_project_lifecycle()
    ...             await asyncio.sleep(60)
    >>> asyncio.run(every_minute())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prefect.context import AsyncClientContext, SyncClientContext
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

#: ``@flow`` options for flows whose outputs are artifacts and a returned report, not persisted
#: results. Prefect otherwise asks its server on every run whether a default result storage is
#: configured, twice (once to pick the storage, once to decide whether to persist): two round
#: trips per run (``benchmarks/README.md`` has their cost). The storage named (Prefect's local
#: fallback, read once at import) is never written to while nothing is persisted; it also means
#: a server's default result storage is ignored: to persist, use
#: ``with_options(persist_result=True, result_storage=...)`` with a storage every process reads.
IN_MEMORY_RESULTS: dict[str, Any] = {
    "persist_result": False,
    "result_storage": PREFECT_LOCAL_STORAGE_PATH.value(),  # a Path: no block to look up
}


@asynccontextmanager
async def prefect_api_session() -> AsyncIterator[None]:
    """Share one async and one sync Prefect API client between the flow runs inside.

    Re-entrant: inside an existing session (or a flow run) it reuses that session's clients.
    The clients belong to the running event loop; open the session in the loop that calls the
    flows.
    """
    async with AsyncClientContext.get_or_create():
        with SyncClientContext.get_or_create():
            yield
