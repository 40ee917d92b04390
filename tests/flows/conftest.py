"""Flow tests run real Prefect: one test harness (a temporary server) per session, shared by
every room of ``tests/flows`` (``common``, ``projects``, ``backtests``) that asks for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tasks.credentials import QuantConnectCredentials
from tests.harness import prefect_harness
from tests.helpers import credentials_for


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """The Prefect API URL: this session's one test harness (tests/harness.py)."""
    yield from prefect_harness()


@pytest.fixture
def credentials(qc_emulator) -> QuantConnectCredentials:
    return credentials_for(qc_emulator)


@pytest.fixture
def emulator(qc_emulator):
    """The emulator with quick jobs: a compile of 0.2 s, a backtest of 0.5 s, results settling
    0.2 s after it completes."""
    qc_emulator.set_jobs(compile_seconds=0.2, backtest_seconds=0.5,
                         total_performance_lag_seconds=0.2)
    return qc_emulator


#: Task-level retries without waiting, so fault tests stay fast.
FAST_RETRIES = {"task_retries": 2, "retry_delay_seconds": 0}


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, as Prefect does."""
    return "asyncio"
