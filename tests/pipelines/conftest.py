"""Pipeline tests: pure ones need nothing; those that touch Prefect (variables, artifacts,
flows) ask for ``prefect_server``, one test harness for the whole folder (tests/flows' pattern)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tasks.credentials import QuantConnectCredentials
from tests.harness import prefect_harness
from tests.helpers import credentials_for


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """The Prefect API URL: the harness of another test folder if one runs already (one
    temporary server per session, not two), else a new one."""
    yield from prefect_harness()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, as Prefect does."""
    return "asyncio"


@pytest.fixture
def emulator(qc_emulator):
    """The emulator with quick jobs: a compile of 0.2 s, a backtest of 0.5 s, results settling
    0.2 s after it completes."""
    qc_emulator.set_jobs(compile_seconds=0.2, backtest_seconds=0.5,
                         total_performance_lag_seconds=0.2)
    return qc_emulator


@pytest.fixture
def credentials(emulator) -> QuantConnectCredentials:
    return credentials_for(emulator)
