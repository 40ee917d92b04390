"""One Prefect test server per session, whichever test folder asks for it first."""

from __future__ import annotations

from collections.abc import Iterator

#: How long a test server may take to answer its health check.
STARTUP_TIMEOUT_SECONDS = 180


def release_prefect_services() -> None:
    """Drain and stop this process's Prefect event and log workers.

    Both are process-wide singletons that keep the API URL they started with: after a test has
    pointed Prefect at another server (the end-to-end stack's), they would go on sending events
    and logs there, and the task runs that Prefect creates from events would never reach the
    next server. The next use starts them again against the current URL.
    """
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for result in (APILogWorker.drain_all(), EventsWorker.drain_all()):
            if inspect.isawaitable(result):
                await result

    run_coro_as_sync(drain())


def prefect_harness() -> Iterator[str]:
    """Yield the Prefect API URL: the running harness of another folder if there is one (one
    temporary server per session, not two), else a new one for as long as the caller holds it."""
    import prefect.settings
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.testing.utilities import prefect_test_harness

    running = SubprocessASGIServer._instances.get(None)
    current = prefect.settings.PREFECT_API_URL.value()
    if running is not None and current and current == running.api_url:
        yield current
        return
    release_prefect_services()
    # The server starts in a subprocess that runs its migrations first: on a loaded 2-core
    # machine (three xdist workers each starting one) that took over a minute (make test-compat,
    # 2026-12-06), so the bound is generous; a healthy start takes a few seconds.
    with prefect_test_harness(server_startup_timeout=STARTUP_TIMEOUT_SECONDS):
        yield str(prefect.settings.PREFECT_API_URL.value())
