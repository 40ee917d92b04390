"""Pipeline tests: pure ones need nothing; those that touch Prefect (variables, artifacts,
flows) ask for ``prefect_server``, one test harness for the whole folder (tests/flows' pattern)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, as Prefect does."""
    return "asyncio"
