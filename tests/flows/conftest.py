"""Flow tests run real Prefect: one test harness (a temporary server) for the whole folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tasks.credentials import QuantConnectCredentials


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


def credentials_for(emulator, **overrides) -> QuantConnectCredentials:
    fields = {
        "user_id": emulator.user_id,
        "api_token": emulator.api_token,
        "base_url": emulator.base_url,
        "read_timeout": 2.0,
        "connect_timeout": 2.0,
    }
    fields.update(overrides)
    return QuantConnectCredentials(**fields)


@pytest.fixture
def credentials(qc_emulator) -> QuantConnectCredentials:
    return credentials_for(qc_emulator)


#: Task-level retries without waiting, so fault tests stay fast.
FAST_RETRIES = {"task_retries": 2, "retry_delay_seconds": 0}


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, as Prefect does."""
    return "asyncio"
