"""The deploy record of ``flows.live.lock`` against the Prefect test server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client

from flows.live.lock import _record_name, deployed_since, record_deploy

pytestmark = pytest.mark.anyio


async def test_a_deploy_recorded_within_the_second_a_run_began_counts_as_after_it(prefect_server):
    await record_deploy(9001, "L-first")
    async with get_client() as client:
        stored = await client.read_variable_by_name(_record_name(9001))
    assert stored is not None and stored.updated is not None
    # A run created later within the same second as the stored stamp (which a server on SQLite
    # keeps to the whole second) began before the deploy was recorded, or at the same time.
    began = stored.updated.replace(microsecond=0) + timedelta(microseconds=999_000)
    assert await deployed_since(9001, "L-first", began)
    assert not await deployed_since(9001, "L-other", began)
    assert not await deployed_since(9001, "L-first", began + timedelta(seconds=1))
    assert not await deployed_since(9001, "L-first", None)
