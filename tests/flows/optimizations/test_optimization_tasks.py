"""The optimization tasks against the emulator, in real Prefect flows: every operation, the
wait with its progress, retry-safe writes, and retries for transient errors only."""

from __future__ import annotations

from typing import Any

import pytest
from prefect import flow

from quantconnect_client import NotFoundError, ValidationError
from quantconnect_client.models.optimizations import Optimization
from tasks.optimizations import (
    abort_optimization,
    abort_optimizations,
    abort_optimizations_in,
    delete_optimization,
    estimate_optimization,
    list_optimizations,
    optimization_name,
    read_optimization,
    rename_optimization,
    running_optimizations_in,
    start_optimization,
    wait_for_optimization,
)
from tasks.retries import with_api_retries
from tests.flows.backtests.helpers import existing_project, paths
from tests.helpers import credentials_for, task_runs_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]

GRID = [{"name": "fast", "min": 5, "max": 15, "step": 5},
        {"name": "slow", "min": 20, "max": 30, "step": 10}]
FAST = (0.05,)


@pytest.fixture
def quick(emulator):
    emulator.set_jobs(backtest_seconds=0.2, optimization_new_seconds=0.1,
                      optimization_estimate_needs_backtest=False)
    return emulator


async def _compiled(quick, credentials) -> tuple[int, str]:
    project_id = await existing_project(quick, credentials)
    client = credentials.get_client()
    compiled = client.compiles.wait(project_id, client.compiles.create(project_id).compile_id)
    return project_id, compiled.compile_id


async def test_every_operation_in_one_flow(quick, credentials):
    project_id, compile_id = await _compiled(quick, credentials)

    @flow
    async def optimize() -> tuple[Optimization, list[str], bool, bool]:
        estimate = await estimate_optimization(credentials, project_id, "est", GRID,
                                               node_type="O4-12", parallel_nodes=2)
        assert estimate.estimate_id and estimate.time is not None
        started = await start_optimization(credentials, project_id, compile_id,
                                           optimization_name("run", "sma"), GRID,
                                           parallel_nodes=3, target="Drawdown", target_to="min")
        done = await wait_for_optimization(credentials, started.optimization_id, timeout=30,
                                           progress_key="optimization-progress", schedule=FAST)
        await rename_optimization(credentials, started.optimization_id, "renamed")
        read = await read_optimization(credentials, started.optimization_id)
        names = [o.name for o in await list_optimizations(credentials, project_id)]
        assert read.name == "renamed" and read.progress == done.progress
        aborted_after_end = await abort_optimization(credentials, started.optimization_id)
        deleted = await delete_optimization(credentials, started.optimization_id)
        again = await delete_optimization(credentials, started.optimization_id)
        return done, names, aborted_after_end, deleted and not again

    done, names, aborted_after_end, deleted_once = await optimize()
    assert done.status == "completed" and done.progress == (6, 6)
    best = done.best()
    assert best is not None and best.statistic("Drawdown") == min(
        b.statistic("Drawdown") or 0.0 for b in done.backtests.values())
    assert names == ["renamed"]
    assert aborted_after_end is False  # it had completed: refused, and that is an answer
    assert deleted_once is True
    assert paths(quick, "/optimizations/create") == ["/optimizations/create"]


async def test_abort_stops_a_running_optimization(quick, credentials):
    project_id, compile_id = await _compiled(quick, credentials)
    quick.set_jobs(backtest_seconds=1_000)

    @flow
    async def start_and_stop() -> tuple[bool, Optimization]:
        started = await start_optimization(credentials, project_id, compile_id, "stop me", GRID)
        aborted = await abort_optimization(credentials, started.optimization_id)
        return aborted, await wait_for_optimization(credentials, started.optimization_id,
                                                    timeout=10, schedule=FAST)

    aborted, final = await start_and_stop()
    assert aborted is True and final.status == "aborted" and final.backtests == {}


async def test_a_retried_start_adopts_what_the_first_attempt_started(quick):
    # No client-side retries: the lost answer fails the first task attempt, and the task's own
    # retry must find the optimization instead of starting a second.
    credentials = credentials_for(quick, max_attempts=1)
    project_id, compile_id = await _compiled(quick, credentials)
    quick.inject("ambiguous_write", path="/optimizations/create")

    @flow
    async def start() -> str:
        started = await with_api_retries(start_optimization, 2, 0)(
            credentials, project_id, compile_id, "once only", GRID)
        return started.optimization_id

    optimization_id = await start()
    listed = credentials.get_client().optimizations.list(project_id)
    assert [o.optimization_id for o in listed] == [optimization_id]
    assert paths(quick, "/optimizations/create") == ["/optimizations/create"]


async def test_transient_errors_are_retried_by_the_task(quick):
    credentials = credentials_for(quick, max_attempts=1)
    project_id, _ = await _compiled(quick, credentials)
    quick.inject("http_502_html", path="/optimizations/list", count=2)

    @flow
    async def listing() -> int:
        return len(await with_api_retries(list_optimizations, 2, 0)(credentials, project_id))

    assert await listing() == 0
    assert len(paths(quick, "/optimizations/list")) == 3


async def test_permanent_errors_are_not_retried(quick, credentials):
    project_id, compile_id = await _compiled(quick, credentials)

    @flow
    async def bad_read() -> None:
        await with_api_retries(read_optimization, 2, 0)(credentials, "O-" + "0" * 32)

    state = await bad_read(return_state=True)  # type: ignore[misc]
    assert state.is_failed()
    assert isinstance(await state.aresult(raise_on_failure=False), NotFoundError)
    assert len(paths(quick, "/optimizations/read")) == 1

    @flow
    async def bad_start() -> None:
        await start_optimization(credentials, project_id, compile_id, "bad", GRID,
                                 node_type="O2-8", parallel_nodes=99)

    state = await bad_start(return_state=True)  # type: ignore[misc]
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, ValidationError) and "parallel nodes" in str(error)
    assert paths(quick, "/optimizations/create") == []  # refused before any request
    runs = await task_runs_of(str(state.state_details.flow_run_id), at_least=1)
    assert [run.run_count for run in runs] == [1]  # and never retried


async def test_the_batch_tasks_answer_each_key_and_one_failure_stays_its_own(quick):
    # One project (or optimization) failing is that key's answer, a project already gone is
    # "nothing running" where the task says so, and the other keys' answers stand.
    credentials = credentials_for(quick, max_attempts=1)
    quick.set_jobs(backtest_seconds=3600)  # the optimization keeps running
    project_id, compile_id = await _compiled(quick, credentials)
    job = credentials.get_client().optimizations.create(
        project_id, compile_id, optimization_name("batch"), GRID, parallel_nodes=1)
    gone = project_id + 10_000

    @flow
    async def batches() -> tuple[dict[int, Any], dict[int, Any], dict[str, Any], dict[int, Any]]:
        listed = await running_optimizations_in(credentials, [gone, project_id])
        # One at a time, so the failure lands on the first key.
        quick.inject("http_500_empty", path="/optimizations/list", count=1)
        failed = await running_optimizations_in.with_options(retries=0)(
            credentials, [project_id, gone], max_concurrency=1)
        aborted = await abort_optimizations(credentials, [job.optimization_id, "O-unknown"])
        again = await abort_optimizations_in(credentials, [project_id, gone])
        return listed, failed, aborted, again

    listed, failed, aborted, again = await batches()
    assert listed[gone] == [] and [o.optimization_id for o in listed[project_id]] == [
        job.optimization_id]
    assert failed[gone] == [] and failed[project_id].startswith("ServiceUnavailableError: ")
    assert aborted[job.optimization_id] is True
    assert aborted["O-unknown"] is False  # gone: nothing to abort, not a failure
    assert again == {project_id: [], gone: []}  # nothing left running to abort
