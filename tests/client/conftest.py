from __future__ import annotations

from collections.abc import Iterator

import pytest

from quantconnect_client import QuantConnectClient, RetryPolicy, Timeouts

#: Fast retries so fault tests take milliseconds, not seconds.
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.05)


def make_client(emulator, **overrides) -> QuantConnectClient:
    options = {
        "user_id": emulator.user_id,
        "api_token": emulator.api_token,
        "base_url": emulator.base_url,
        "timeouts": Timeouts(connect=2.0, read=2.0),
        "retry": FAST_RETRY,
    }
    options.update(overrides)
    return QuantConnectClient(**options)


@pytest.fixture
def client(qc_emulator) -> Iterator[QuantConnectClient]:
    with make_client(qc_emulator) as client:
        yield client


#: Job timings for tests: quick, but with every stage (queue, run, the totalPerformance lag).
FAST_JOBS = {
    "compile_seconds": 0.2,
    "backtest_seconds": 1.0,
    "total_performance_lag_seconds": 0.3,
    "chart_loading_seconds": 0.0,
}


@pytest.fixture
def fast_jobs(qc_emulator):
    """The emulator with quick jobs (a test may call ``set_jobs`` again on top)."""
    qc_emulator.set_jobs(**FAST_JOBS)
    return qc_emulator


def compiled_project(client: QuantConnectClient, name: str = "Tests/Backtest", language="Py"):
    """A new project, compiled: (project id, compile id)."""
    project = client.projects.create(name, language)
    compiled = client.compiles.create(project.project_id)
    client.compiles.wait(project.project_id, compiled.compile_id, timeout=30)
    return project.project_id, compiled.compile_id
