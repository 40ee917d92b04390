"""The deploy record of ``flows.live.lock`` against the Prefect test server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Completed, Running

from flows.live.lock import _record_name, deployed_since, record_deploy

pytestmark = pytest.mark.anyio


@flow(name="lock-test-deployer")
def _deployer() -> None:
    """Only a flow for the deploying runs below to belong to; never called."""


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
    assert await deployed_since(9001, "L-first", began - timedelta(seconds=1))
    assert not await deployed_since(9001, "L-first", None)


async def test_within_the_second_the_deploying_run_s_end_settles_it(prefect_server):
    # A deploy, then a replace started right after the deploying run ended, in the same second:
    # the replace is not a race (it once was refused as one, "deployed after this one began").
    async with get_client() as client:
        ended = await client.create_flow_run(_deployer)
        await client.set_flow_run_state(ended.id, Running(), force=True)
        active = await client.create_flow_run(_deployer)
        await client.set_flow_run_state(active.id, Running(), force=True)
        await record_deploy(9002, "L-ended", ended.id)
        await record_deploy(9003, "L-active", active.id)
        await client.set_flow_run_state(ended.id, Completed(), force=True)
        run = await client.read_flow_run(ended.id)
        assert run.end_time is not None
        stamps = {}
        for project in (9002, 9003):
            stored = await client.read_variable_by_name(_record_name(project))
            assert stored is not None and stored.updated is not None
            stamps[project] = stored.updated.replace(microsecond=0)
    # A run that began just after the deploying run ended: in the recorded second (its end
    # settles it) or a later one (the stamp does), never a race.
    assert not await deployed_since(9002, "L-ended", run.end_time + timedelta(microseconds=1))
    # Ended after this run began: a race.
    assert await deployed_since(9002, "L-ended", stamps[9002])
    # Still running: a race, whatever the microseconds.
    assert await deployed_since(9003, "L-active", stamps[9003] + timedelta(microseconds=999_000))
