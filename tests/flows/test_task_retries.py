"""Task-level retries: only transient errors, and never sooner than ``Retry-After`` allows."""

from __future__ import annotations

import pytest
from prefect import flow

from tasks import api_task_options, authenticate
from tests.flows.conftest import credentials_for

pytestmark = pytest.mark.anyio


def attempts(emulator) -> int:
    return len([r for r in emulator.requests_log() if r["path"] == "/authenticate"])


async def test_a_transient_error_is_retried_by_prefect(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.inject("http_502_html", count=2)

    @flow
    async def check() -> bool:
        return await authenticate.with_options(**api_task_options(2, 0))(credentials)

    assert await check() is True
    assert attempts(qc_emulator) == 3


async def test_retry_after_longer_than_the_task_delays_is_not_retried_early(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.set_faults(retry_after_seconds=120)
    qc_emulator.inject("http_429", count=3)

    @flow
    async def check() -> bool:
        return await authenticate.with_options(**api_task_options(2, 0))(credentials)

    state = await check(return_state=True)
    assert state.is_failed()
    assert attempts(qc_emulator) == 1


async def test_a_permanent_error_is_not_retried_by_prefect(qc_emulator):
    credentials = credentials_for(qc_emulator, api_token="wrong", max_attempts=1)

    @flow
    async def check() -> bool:
        return await authenticate.with_options(**api_task_options(2, 0))(credentials)

    state = await check(return_state=True)
    assert state.is_failed()
    assert attempts(qc_emulator) == 1
