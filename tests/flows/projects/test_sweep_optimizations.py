"""The sweeper and the optimizations that runs killed outright left running in the projects it
keeps (too young to remove): real Prefect runs own them, the emulator runs them."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.states import Completed, Crashed, Failed, Running

from flows.optimizations.optimize import optimize_strategy
from flows.projects import sweep as sweep_module
from flows.projects.forms import SweepOptions
from flows.projects.sweep import sweep_temporary_projects
from tasks.optimizations import optimization_name
from tests.flows.projects.test_sweep_and_inventory import latest_artifact, seed
from tests.helpers import credentials_for

pytestmark = pytest.mark.anyio

GRID = [{"name": "fast", "min": 5, "max": 10, "step": 5}]


@flow(name="sweep-test-owner")
def _owner() -> None:
    """Only a flow for the runs below to belong to; never called."""


async def prefect_run(state: State[Any]) -> UUID:
    """A flow run Prefect knows, in ``state`` (as a run killed and marked, or a live one)."""
    async with get_client() as client:
        run = await client.create_flow_run(_owner)
        await client.set_flow_run_state(run.id, state, force=True)
    return run.id


def compiled(client: Any, project_id: int) -> str:
    job = client.compiles.create(project_id)
    return str(client.compiles.wait(project_id, job.compile_id).compile_id)


def running(qc_emulator: Any, client: Any) -> dict[str, str]:
    """Optimization id -> name, of those still running in any project."""
    return {o.optimization_id: o.name for p in qc_emulator.projects(include_deleted=False)
            for o in client.optimizations.list(p["projectId"]) if not o.finished}


async def test_orphaned_optimizations_of_kept_projects_are_aborted_and_no_others(
    qc_emulator, credentials
):
    qc_emulator.set_jobs(compile_seconds=0, backtest_seconds=3600)
    client = credentials.get_client()
    states: list[State[Any]] = [Crashed(), Failed(), Completed(), Running()]
    crashed, failed, completed, live = [await prefect_run(state) for state in states]
    unknown = uuid.uuid4()  # maybe another Prefect server's run: spared until the TTL
    # Young temporary projects (the default TTL of an hour keeps them all): the one of the
    # crashed run holds its own optimization and one of a failed run; the live run's holds its
    # own; one names no run, so its project's run owns it.
    mine = {run: f"prefect-tmp-{run}" for run in (crashed, live, unknown)}
    nameless_owner = f"prefect-tmp-{completed}-renamed"
    outside = "Strategies/Momentum"  # not the prefix: never touched, whoever owns its job
    ids = seed(credentials, [*mine.values(), nameless_owner, outside])
    started: dict[str, str] = {}
    for project, run, label in [(mine[crashed], crashed, "own"), (mine[crashed], failed, "other"),
                                (mine[live], live, "own"), (mine[unknown], unknown, "own"),
                                (nameless_owner, None, "by hand"), (outside, crashed, "user")]:
        pid = ids[project]
        name = optimization_name(str(run), label) if run else label
        job = client.optimizations.create(pid, compiled(client, pid), name, GRID,
                                          parallel_nodes=1)
        started[name] = job.optimization_id
    dead = {started[optimization_name(str(crashed), "own")],
            started[optimization_name(str(failed), "other")], started["by hand"]}

    # A dry run says what it would abort, and aborts nothing.
    before = running(qc_emulator, client)
    dry = await sweep_temporary_projects(SweepOptions(dry_run=True), credentials=credentials)
    assert (dry.matched, dry.orphaned_optimizations_aborted) == (0, 0)
    assert {i for item in dry.items for i in item.orphaned_optimizations} == dead
    assert running(qc_emulator, client) == before

    logged = len(qc_emulator.requests_log())
    report = await sweep_temporary_projects(SweepOptions(), credentials=credentials)
    listed = {r["project_id"] for r in qc_emulator.requests_log()[logged:]
              if r["path"] == "/optimizations/list"}
    assert (report.matched, report.deleted, report.orphaned_optimizations_aborted) == (0, 0, 3)
    kept = {item.project_id: item for item in report.items}
    assert set(kept) == {ids[mine[crashed]], ids[nameless_owner]}
    assert {item.action for item in kept.values()} == {"kept"}
    assert kept[ids[mine[crashed]]].optimizations_aborted == 2
    assert {i for item in kept.values() for i in item.orphaned_optimizations} == dead
    assert set(running(qc_emulator, client)) == set(before) - dead
    # Every project stays (they are within the TTL); the user's job was never looked at.
    assert len(qc_emulator.projects()) == 5
    assert ids[outside] not in listed and len(listed) == 4
    artifact = await latest_artifact("quantconnect-sweep")
    assert started["by hand"] in str(artifact.data)

    # Off: the young projects' optimizations are not even listed.
    count = len([r for r in qc_emulator.requests_log() if r["path"] == "/optimizations/list"])
    off = await sweep_temporary_projects(SweepOptions(abort_orphaned_optimizations=False),
                                         credentials=credentials)
    assert off.items == []
    assert len([r for r in qc_emulator.requests_log()
                if r["path"] == "/optimizations/list"]) == count


async def test_a_kept_project_whose_optimizations_cannot_be_listed_fails_the_sweep(
    qc_emulator,
):
    qc_emulator.set_jobs(compile_seconds=0, backtest_seconds=3600)
    credentials = credentials_for(qc_emulator, max_attempts=1)
    client = credentials.get_client()
    crashed = await prefect_run(Crashed())
    [pid] = seed(credentials, [f"prefect-tmp-{crashed}"]).values()
    job = client.optimizations.create(pid, compiled(client, pid),
                                      optimization_name(str(crashed)), GRID, parallel_nodes=1)
    qc_emulator.inject("http_500_empty", path="/optimizations/list", count=1)
    state = await sweep_temporary_projects(
        SweepOptions(retries={"task_retries": 0, "retry_delay_seconds": 0}),
        credentials=credentials, return_state=True,
    )
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RuntimeError) and "may still bill" in str(error)
    assert not client.optimizations.read(job.optimization_id).finished
    # The next sweep (the service answers again) aborts it.
    report = await sweep_temporary_projects(SweepOptions(), credentials=credentials)
    assert report.items[0].orphaned_optimizations == [job.optimization_id]
    assert client.optimizations.read(job.optimization_id).finished


async def test_unreadable_run_states_keep_the_sweep_s_record_and_fail_it(
    qc_emulator, credentials, monkeypatch
):
    # Prefect's API failing at this late step (after the deletions) once lost the sweep's
    # artifact and report; now the kept projects say why their optimizations were not checked.
    qc_emulator.set_jobs(compile_seconds=0, backtest_seconds=3600)
    client = credentials.get_client()
    crashed = await prefect_run(Crashed())
    [pid] = seed(credentials, [f"prefect-tmp-{crashed}"]).values()
    job = client.optimizations.create(pid, compiled(client, pid),
                                      optimization_name(str(crashed)), GRID, parallel_nodes=1)

    calls: list[int] = []

    async def unreachable_late(run_ids: Any) -> dict[UUID, State[Any]]:
        # The first lookup (which projects' runs are active) answers; the one after the
        # deletions, for the optimizations' owners, does not.
        calls.append(1)
        if len(calls) == 1:
            return await real(run_ids)
        raise ConnectionError("Prefect API unreachable")

    real = sweep_module.run_states
    monkeypatch.setattr(sweep_module, "run_states", unreachable_late)
    state = await sweep_temporary_projects(SweepOptions(), credentials=credentials,
                                           return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RuntimeError) and "may still bill" in str(error)
    artifact = await latest_artifact("quantconnect-sweep")
    assert "could not be read" in str(artifact.data)
    assert not client.optimizations.read(job.optimization_id).finished
    assert len(calls) == 2


async def optimizer_run(state: State[Any], project_id: int | str) -> UUID:
    """An ``optimize-strategy`` run on an existing project, as Prefect keeps it once it ended."""
    async with get_client() as client:
        run = await client.create_flow_run(
            optimize_strategy, parameters={"options": {"strategy": {"project_id": project_id}}})
        await client.set_flow_run_state(run.id, state, force=True)
    return run.id


async def test_a_killed_optimizer_run_on_a_users_project_has_its_optimization_aborted(
    qc_emulator, credentials
):
    # No TTL ever removes a user's project, so a kill -9 of a run given one left its
    # optimization billing for good; the sweeper now follows the optimizer's unfinished runs.
    qc_emulator.set_jobs(compile_seconds=0, backtest_seconds=3600)
    client = credentials.get_client()
    [pid, other] = seed(credentials, ["Strategies/Momentum", "Strategies/Carry"]).values()
    crashed = await optimizer_run(Crashed(), str(pid))  # as a form may hold it: "123"
    await optimizer_run(Failed(), pid)
    live = await prefect_run(Running())
    completed_elsewhere = await optimizer_run(Completed(), other)
    started = {}
    for project, label, name in [
        (pid, "killed", optimization_name(str(crashed), "sma")),
        (pid, "live", optimization_name(str(live), "sma")),  # another run, still running
        (pid, "user", "my own search"),  # the user's: no run in its name
        (other, "not followed", optimization_name(str(crashed), "x")),  # a Completed run's
    ]:
        job = client.optimizations.create(project, compiled(client, project), name, GRID,
                                          parallel_nodes=1)
        started[label] = job.optimization_id
    del completed_elsewhere

    dry = await sweep_temporary_projects(SweepOptions(dry_run=True), credentials=credentials)
    assert [i for item in dry.items for i in item.orphaned_optimizations] == [started["killed"]]
    assert not client.optimizations.read(started["killed"]).finished

    report = await sweep_temporary_projects(SweepOptions(), credentials=credentials)
    assert report.orphaned_optimizations_aborted == 1 and report.deleted == 0
    [row] = report.items
    assert (row.project_id, row.action) == (pid, "kept")
    status = {label: client.optimizations.read(i).status for label, i in started.items()}
    assert status.pop("killed") == "aborted"
    assert set(status.values()) <= {"new", "running"}, status  # the others still run
    assert len(qc_emulator.projects()) == 2  # a user's project is never removed

    # Off: the user's projects are not looked at.
    logged = len(qc_emulator.requests_log())
    await sweep_temporary_projects(SweepOptions(optimizer_lookback_hours=0),
                                   credentials=credentials)
    assert not [r for r in qc_emulator.requests_log()[logged:]
                if r["path"] == "/optimizations/list"]


async def test_unreadable_optimizer_runs_keep_the_sweep_s_record_and_fail_it(
    qc_emulator, credentials, monkeypatch
):
    [old] = seed(credentials, [f"prefect-tmp-{uuid.uuid4()}"]).values()  # a run Prefect lost

    async def unreachable(since: Any) -> set[int]:
        raise ConnectionError("Prefect API unreachable")

    monkeypatch.setattr(sweep_module, "optimizer_projects", unreachable)
    state = await sweep_temporary_projects(SweepOptions(ttl_minutes=0), credentials=credentials,
                                           return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RuntimeError) and "users' projects were not checked" in str(error)
    artifact = await latest_artifact("quantconnect-sweep")
    assert str(old) in str(artifact.data)  # the deletion done is on record
    assert "could not be read" in str(artifact.description)
    assert old not in {p["projectId"] for p in qc_emulator.projects(include_deleted=False)}
