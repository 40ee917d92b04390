"""One Prefect test server per session, whichever test folder asks for it first."""

from __future__ import annotations

from collections.abc import Iterator


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
    with prefect_test_harness(server_startup_timeout=60):
        yield str(prefect.settings.PREFECT_API_URL.value())
