"""The backtest-grid flow on the harness against the emulator: one compile, every set, ranked;
nodes that queue or refuse; a failing set reported; nothing left behind."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from flows.backtests.forms import GridOptions
from flows.backtests.grid import GridFailedError, backtest_grid
from tests.flows.backtests.helpers import FAST, INIT_RAISES, artifacts_of, existing_project, paths
from tests.helpers import credentials_for, task_runs_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]


def grid_options(**fields) -> GridOptions:
    base = {"grid": {"fast": [5, 10], "slow": [30, 60]}, "retries": FAST,
            "no_node_wait_seconds": 0.2}
    return GridOptions.model_validate({**base, **fields})


async def table_of(flow_run_id: str) -> list[dict[str, object]]:
    import json

    [table] = [a for a in await artifacts_of(flow_run_id) if a.key == "quantconnect-backtest-grid"]
    data = table.data if isinstance(table.data, list) else json.loads(str(table.data))
    return list(data)


async def test_every_set_runs_on_one_compile_ranked_and_nothing_is_left(emulator, credentials):
    report = await backtest_grid(options=grid_options(), credentials=credentials)
    assert report.outcome == "completed" and len(report.rows) == 4
    assert all(row.outcome == "completed" for row in report.rows)
    assert len(paths(emulator, "/compile/create")) == 1
    assert len(paths(emulator, "/backtests/create")) == 4
    assert report.concurrency == 2 == report.backtest_nodes  # the emulator's default nodes
    assert emulator.stats()["peak_running_backtests"] <= 2
    values = [row.value or 0.0 for row in report.ranked()]
    assert values == sorted(values, reverse=True)  # Sharpe: higher first
    assert len({tuple(sorted(r.statistics.items())) for r in report.rows}) > 1  # params matter
    table = await table_of(str(report.flow_run_id))
    assert [row["rank"] for row in table] == [1, 2, 3, 4]
    assert emulator.projects() == [] and emulator.stats()["running_backtests"] == 0


async def test_the_form_cap_bounds_concurrency_below_the_nodes(emulator, credentials):
    emulator.set_jobs(backtest_nodes=4)
    report = await backtest_grid(options=grid_options(max_concurrency=1), credentials=credentials)
    assert report.concurrency == 1 and report.backtest_nodes == 4
    assert emulator.stats()["peak_running_backtests"] == 1


async def failed_grid(options: GridOptions, credentials) -> tuple[BaseException, str]:
    """Run a grid that is to fail: its error and its flow run id."""
    with anyio.fail_after(120):  # a bound on the test, not a timing assertion
        state = await backtest_grid(options=options, credentials=credentials,
                                    return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, BaseException), error
    return error, str(state.state_details.flow_run_id)


async def occupy_a_node(emulator, credentials) -> tuple[int, str]:
    """Someone else's long backtest, holding the account's only node."""
    client = credentials.get_client()
    project_id = await existing_project(emulator, credentials)
    emulator.set_jobs(compile_seconds=0)
    built = client.compiles.wait(project_id, client.compiles.create(project_id).compile_id)
    emulator.set_jobs(backtest_seconds=3600)
    other = client.backtests.create(project_id, built.compile_id, "someone else's")
    emulator.set_jobs(backtest_seconds=0.5, compile_seconds=0.2)
    return project_id, other.backtest_id


async def run_until_then_free(emulator, credentials, options, project_id, backtest_id, ready):
    """Run the grid; once ``ready()`` says it met the busy node, free the node."""
    result = {}

    async def grid():
        result["report"] = await backtest_grid(options=options, credentials=credentials)

    async with anyio.create_task_group() as group:
        group.start_soon(grid)
        with anyio.fail_after(120):  # a bound on the wait, not a timing assertion
            while not ready():
                await anyio.sleep(0.05)
        credentials.get_client().backtests.delete(project_id, backtest_id)
    return result["report"]


async def test_a_service_that_refuses_without_a_free_node_gets_the_set_resubmitted(emulator):
    emulator.set_jobs(backtest_nodes=1, node_mode="reject")
    # One attempt per call and no task retries: the refusal reaches the flow at once.
    credentials = credentials_for(emulator, max_attempts=1)
    project_id, other = await occupy_a_node(emulator, credentials)
    options = grid_options(grid={"fast": [5, 10]}, retries={"task_retries": 0})
    refused_once = lambda: len(paths(emulator, "/backtests/create")) >= 3  # noqa: E731
    report = await run_until_then_free(emulator, credentials, options, project_id, other,
                                       refused_once)
    assert all(row.outcome == "completed" for row in report.rows)  # never the set's failure
    assert sum(row.resubmissions for row in report.rows) >= 1
    assert report.concurrency == 1
    assert emulator.stats()["running_backtests"] == 0
    assert [p["projectId"] for p in emulator.projects()] == [project_id]  # only the user's


async def test_a_service_that_queues_is_waited_for(emulator, credentials):
    emulator.set_jobs(backtest_nodes=1, node_mode="queue")
    project_id, other = await occupy_a_node(emulator, credentials)
    options = grid_options(grid={"fast": [5, 10]})
    queued = lambda: any(b["status"] == "In Queue..." for b in emulator.backtests())  # noqa: E731
    report = await run_until_then_free(emulator, credentials, options, project_id, other, queued)
    assert all(row.outcome == "completed" for row in report.rows)
    assert all(row.resubmissions == 0 for row in report.rows)
    assert emulator.stats()["peak_running_backtests"] == 1


async def test_a_failing_set_is_reported_not_fatal(emulator, credentials):
    emulator.set_jobs(backtest_nodes=1)
    project_id = await existing_project(emulator, credentials)
    emulator.force_runtime_error(project_id, message="Index out of range", at_progress=0.3)
    options = GridOptions.model_validate({
        "strategy": {"strategy_folder": None, "project_id": project_id},
        "parameter_sets": [{"fast": 5}, {"fast": 7}, {"fast": 9}],
        "rank_by": "Drawdown", "retries": FAST,
    })
    report = await backtest_grid(options=options, credentials=credentials)
    assert report.outcome == "completed"
    [failed] = report.failed
    assert failed.index == 0 and "Index out of range" in str(failed.error)
    assert [r.outcome for r in report.rows[1:]] == ["completed", "completed"]
    table = await table_of(str(report.flow_run_id))
    assert table[-1]["set"] == 0 and table[-1]["rank"] == "-"
    assert "BacktestRuntimeError" in str(table[-1]["error"])
    assert emulator.stats()["running_backtests"] == 0


async def test_when_every_set_fails_the_run_fails(emulator, credentials, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "main.py").write_text(INIT_RAISES)
    options = grid_options(strategy={"strategy_folder": str(folder)},
                           grid={"fast": [1, 2]})
    with pytest.raises(GridFailedError, match="none of the 2"):
        await backtest_grid(options=options, credentials=credentials)
    assert emulator.projects() == [] and emulator.stats()["running_backtests"] == 0
    # The clean-up lists the project's backtests for running ones before it purges the
    # project (into the bin and out of it, then the read that shows it gone).
    tail = [e["path"] for e in emulator.requests_log()][-4:]
    assert tail == ["/backtests/list", "/projects/delete", "/projects/delete",
                    "/projects/read"], tail


async def test_cancelling_a_grid_deletes_its_running_backtests(emulator, credentials):
    emulator.set_jobs(backtest_seconds=3600)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: backtest_grid(options=grid_options(), credentials=credentials))
        with anyio.fail_after(120):
            while len(emulator.backtests()) < 2:
                await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert emulator.stats()["running_backtests"] == 0 and emulator.projects() == []


async def test_sets_past_the_deadline_are_deleted_and_reported(emulator, credentials):
    emulator.set_jobs(backtest_seconds=3600)
    options = grid_options(grid={"fast": [5, 10]}, limits={"backtest_timeout_minutes": 0.02})
    state = await backtest_grid(options=options, credentials=credentials, return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, GridFailedError)
    assert emulator.stats()["running_backtests"] == 0 and emulator.projects() == []
    table = await table_of(str(state.state_details.flow_run_id))
    assert all("BacktestResultsIncompleteError" in str(row["error"]) for row in table)
    # Each set's backtest was deleted by the set itself (before its project went).
    assert paths(emulator, "/backtests/delete", "/projects/delete")[:2] == [
        "/backtests/delete", "/backtests/delete"]


async def test_a_set_that_completed_but_whose_results_are_late_is_not_deleted(
    emulator, credentials
):
    # In the user's own project: a backtest that ran to the end is kept even when its
    # totalPerformance is still missing at the deadline (only a running one is deleted).
    project_id = await existing_project(emulator, credentials)
    emulator.set_jobs(backtest_seconds=0.2, total_performance_lag_seconds=600)
    options = grid_options(
        strategy={"strategy_folder": None, "project_id": project_id},
        grid={"fast": [5]},
        limits={"backtest_timeout_minutes": 0.05},
    )
    state = await backtest_grid(options=options, credentials=credentials, return_state=True)
    assert isinstance(await state.aresult(raise_on_failure=False), GridFailedError)
    assert paths(emulator, "/backtests/delete") == []
    [kept] = credentials.get_client().backtests.list(project_id)
    assert kept.name is not None and "set 0" in kept.name


async def test_a_build_error_stops_the_grid_before_any_backtest(emulator, credentials,
                                                                tmp_path):
    from quantconnect_client.errors import BuildError
    from tests.flows.backtests.helpers import strategy_folder

    options = grid_options(strategy={"strategy_folder": strategy_folder(tmp_path, "x = (\n")})
    state = await backtest_grid(options=options, credentials=credentials, return_state=True)
    assert isinstance(await state.aresult(raise_on_failure=False), BuildError)
    table = await table_of(str(state.state_details.flow_run_id))
    assert [row["outcome"] for row in table] == ["not run"] * 4
    assert paths(emulator, "/backtests/create") == [] and emulator.projects() == []


async def test_a_node_goes_to_the_next_set_when_its_backtest_completes_not_when_it_settles(
    emulator, credentials
):
    # One node, results that settle long after completion: the second set must start on the
    # freed node while the first still waits for its totalPerformance.
    emulator.set_jobs(backtest_nodes=1, backtest_seconds=0.5, total_performance_lag_seconds=3)
    seen: dict[str, dict[str, Any]] = {}  # the emulator forgets them with their project
    result = {}

    async def grid():
        result["report"] = await backtest_grid(
            options=grid_options(grid={"fast": [5, 10]}, max_concurrency=1),
            credentials=credentials,
        )

    async with anyio.create_task_group() as group:
        group.start_soon(grid)
        with anyio.fail_after(120):  # a bound on the wait, not a timing assertion
            while "report" not in result:
                seen.update({b["backtestId"]: b for b in emulator.backtests()})
                await anyio.sleep(0.02)
    report = result["report"]
    assert report.outcome == "completed" and len(report.rows) == 2
    first, second = sorted(seen.values(), key=lambda b: b["started_at"])
    assert first["settled_at"] is not None and second["started_at"] is not None
    assert second["started_at"] < first["settled_at"]
    assert emulator.stats()["peak_running_backtests"] == 1
    assert emulator.projects() == [] and emulator.stats()["running_backtests"] == 0


async def watch_grid(emulator, credentials, options, until=None, then=None):
    """Run the grid, keeping the emulator's last word on every backtest (they go with the
    temporary project); once ``until()`` holds, call ``then()`` once."""
    seen: dict[str, dict[str, Any]] = {}
    result: dict[str, Any] = {}

    async def grid():
        state = await backtest_grid(options=options, credentials=credentials, return_state=True)
        result["state"] = state

    async with anyio.create_task_group() as group:
        group.start_soon(grid)
        with anyio.fail_after(120):  # a bound on the wait, not a timing assertion
            while "state" not in result:
                snapshot = emulator.backtests()
                seen.update({b["backtestId"]: b for b in snapshot})
                result.setdefault("snapshots", []).append(snapshot)
                if until is not None and then is not None and until():
                    then()
                    then = None
                await anyio.sleep(0.02)
    return result["state"], seen, result.get("snapshots", [])


async def test_a_service_that_queues_gets_one_extra_set_per_node_and_never_more_running(
    emulator, credentials
):
    # Backtests long enough that a probe slowed by a loaded machine still meets busy nodes.
    emulator.set_jobs(backtest_nodes=2, node_mode="queue", backtest_seconds=1.5)
    options = grid_options(grid={"fast": [5, 10, 15], "slow": [30, 60]})  # 6 sets
    state, seen, snapshots = await watch_grid(emulator, credentials, options)
    report = await state.aresult()
    assert report.outcome == "completed" and report.node_mode == "queue"
    assert all(row.outcome == "completed" and row.resubmissions == 0 for row in report.rows)
    assert emulator.stats()["peak_running_backtests"] == 2  # the service never ran more
    # Exactly one backtest per set (nothing lost, nothing twice), each of them started once.
    assert len(paths(emulator, "/backtests/create")) == 6 == len(seen)
    assert sorted(b["name"].rsplit(" ", 1)[-1] for b in seen.values()) == [str(i) for i in range(6)]
    # While two ran, the service held submitted sets in its queue, at most one per node.
    queued = [sum(b["status"] == "In Queue..." for b in snap) for snap in snapshots]
    assert max(queued) >= 1 and max(queued) <= 2
    assert emulator.projects() == [] and emulator.stats()["running_backtests"] == 0


@pytest.mark.parametrize(
    "wording", [None, "Deployment failed: capacity of {nodes} reached."],
    ids=["the emulator's words", "words of its own"],
)
async def test_a_service_that_refuses_is_found_out_by_one_probe_and_no_set_is_lost(
    emulator, credentials, monkeypatch, wording
):
    from quantconnect_emulator.resources import backtests as emulated

    # The service's words for "no free node" are unconfirmed (the emulator's are its own):
    # with other words the run behaves the same, since the nodes, all busy, say so.
    if wording is not None:
        monkeypatch.setattr(emulated, "NO_NODE", wording)
    # Backtests long enough that a probe slowed by a loaded machine still meets busy nodes.
    emulator.set_jobs(backtest_nodes=2, node_mode="reject", backtest_seconds=1.5)
    options = grid_options(grid={"fast": [5, 10, 15], "slow": [30, 60]})
    state, seen, _ = await watch_grid(emulator, credentials, options)
    report = await state.aresult()
    assert report.outcome == "completed" and report.node_mode == "reject"
    assert all(row.outcome == "completed" for row in report.rows)
    assert sum(row.resubmissions for row in report.rows) == 1  # the probe, refused once
    # The refusal came back at once (the client retries transient failures, not this one).
    assert len(paths(emulator, "/backtests/create")) == 7
    assert emulator.stats()["peak_running_backtests"] == 2
    assert len(seen) == 6  # one backtest per set
    # The refusal is an answer: no task run of the grid shows as Failed in the UI.
    runs = await task_runs_of(str(report.flow_run_id), at_least=len(report.rows) + 1)
    assert [r.name for r in runs if r.state is None or not r.state.is_completed()] == []
    markdown = await artifacts_of(str(report.flow_run_id))
    [summary] = [a for a in markdown if a.key == "quantconnect-backtest-grid-summary"]
    assert "a start beyond them: refused" in str(summary.data)


async def test_an_extra_start_that_finds_a_node_free_says_nothing_of_the_node_mode(emulator):
    # Backtests that end at once: every start, the probe's too, finds a node free. Only an
    # "In Queue..." answer shows that the service queues (CI once saw a probe accepted on a
    # node freed on its way, then two sets refused as if queued extras).
    emulator.set_jobs(backtest_nodes=2, node_mode="reject", backtest_seconds=0)
    credentials = credentials_for(emulator, max_attempts=1)
    options = grid_options(grid={"fast": [5, 10, 15], "slow": [30, 60]})
    state, seen, _ = await watch_grid(emulator, credentials, options)
    report = await state.aresult()
    assert report.outcome == "completed" and report.node_mode == "unknown"
    assert all(row.outcome == "completed" and row.resubmissions == 0 for row in report.rows)
    assert len(seen) == 6
    [summary] = [a for a in await artifacts_of(str(report.flow_run_id))
                 if a.key == "quantconnect-backtest-grid-summary"]
    assert "a start beyond them: not seen" in str(summary.data)


async def test_an_unanswered_start_is_looked_up_then_sent_again_without_waiting_for_a_node(
    emulator, caplog
):
    import logging

    from quantconnect_emulator.config import FaultKind

    # A start that is dropped unprocessed: no node is busy, so nothing is worth waiting for.
    credentials = credentials_for(emulator, max_attempts=1)
    emulator.inject(FaultKind.CONNECTION_DROP, path="/backtests/create")
    options = grid_options(grid={"fast": [5]}, retries={"task_retries": 0},
                           no_node_wait_seconds=5)
    caplog.set_level(logging.INFO)
    report = await backtest_grid(options=options, credentials=credentials)
    [row] = report.rows
    assert row.outcome == "completed" and row.resubmissions == 1
    assert paths(emulator, "/backtests/create", "/backtests/list")[:3] == [
        "/backtests/create", "/backtests/list", "/backtests/create"]  # looked up in between
    assert "submitting again when a backtest node frees" not in caplog.text


async def test_a_look_up_without_an_answer_is_tried_again_not_the_end_of_the_set(emulator):
    from quantconnect_emulator.config import FaultKind

    # The start and then its look-up are dropped: one outage, not a reason to give the set up.
    credentials = credentials_for(emulator, max_attempts=1)
    emulator.inject(FaultKind.CONNECTION_DROP, path="/backtests/create")
    emulator.inject(FaultKind.CONNECTION_DROP, path="/backtests/list")
    options = grid_options(grid={"fast": [5]}, retries={"task_retries": 0})
    report = await backtest_grid(options=options, credentials=credentials)
    [row] = report.rows
    assert row.outcome == "completed" and not row.never_started
    # The failed look-up, the look-up that answered, then the start sent again: one backtest.
    assert paths(emulator, "/backtests/create", "/backtests/list")[:4] == [
        "/backtests/create", "/backtests/list", "/backtests/list", "/backtests/create"]
    assert len(paths(emulator, "/backtests/create")) == 2


async def test_the_last_unanswered_start_is_looked_up_before_the_set_gives_up(emulator):
    from flows.backtests.scheduler import MAX_UNSURE_SUBMISSIONS
    from quantconnect_emulator.config import FaultKind

    # Every start goes unanswered; the last one did start the backtest. It is adopted, not
    # left running on a node the run believes free.
    credentials = credentials_for(emulator, max_attempts=1)
    emulator.inject(FaultKind.CONNECTION_DROP, path="/backtests/create",
                    count=MAX_UNSURE_SUBMISSIONS - 1)
    emulator.inject(FaultKind.AMBIGUOUS_WRITE, path="/backtests/create")
    options = grid_options(grid={"fast": [5]}, retries={"task_retries": 0})
    report = await backtest_grid(options=options, credentials=credentials)
    [row] = report.rows
    assert row.outcome == "completed" and row.backtest_id is not None
    assert len(paths(emulator, "/backtests/create")) == MAX_UNSURE_SUBMISSIONS


async def test_a_resubmission_looks_the_set_up_by_name_and_adopts_a_start_whose_answer_was_lost(
    emulator,
):
    from quantconnect_emulator.config import FaultKind

    emulator.set_jobs(backtest_nodes=1, node_mode="reject")
    # One attempt per call and no task retries: the refusal and the lost answer reach the flow.
    credentials = credentials_for(emulator, max_attempts=1)
    project_id, other = await occupy_a_node(emulator, credentials)
    before = len(emulator.requests_log())
    options = grid_options(grid={"fast": [5]}, retries={"task_retries": 0},
                           no_node_wait_seconds=2)

    def refused_and_looked_up() -> bool:
        mine = [r["path"] for r in emulator.requests_log()[before:]]
        return "/backtests/list" in mine[mine.index("/backtests/create"):] if (
            "/backtests/create" in mine) else False

    def free_the_node_and_lose_the_next_answer() -> None:
        credentials.get_client().backtests.delete(project_id, other)
        emulator.inject(FaultKind.AMBIGUOUS_WRITE, path="/backtests/create")

    state, seen, _ = await watch_grid(emulator, credentials, options, refused_and_looked_up,
                                      free_the_node_and_lose_the_next_answer)
    report = await state.aresult()
    [row] = report.rows
    assert row.outcome == "completed" and row.resubmissions == 2
    # The start whose answer was lost did start it: it was found by name, not started again.
    mine = [b for b in seen.values() if "set 0" in str(b["name"])]
    assert len(mine) == 1 and row.backtest_id == mine[0]["backtestId"]
    # Someone else's start, the refused one, its look-up, the unanswered one, its look-up.
    assert paths(emulator, "/backtests/create", "/backtests/list")[:5] == [
        "/backtests/create", "/backtests/create", "/backtests/list", "/backtests/create",
        "/backtests/list"]
    assert len(paths(emulator, "/backtests/create")) == 3
    assert emulator.stats()["running_backtests"] == 0


async def test_resubmissions_end_at_the_deadline_with_an_error_naming_the_sets(emulator):
    emulator.set_jobs(backtest_nodes=1, node_mode="reject")
    credentials = credentials_for(emulator, max_attempts=1)
    project_id, other = await occupy_a_node(emulator, credentials)  # held for the whole run
    options = grid_options(grid={"fast": [5, 10]}, retries={"task_retries": 0},
                           limits={"backtest_timeout_minutes": 0.02})
    error, run_id = await failed_grid(options, credentials)
    assert isinstance(error, GridFailedError)
    assert "never started" in str(error) and "sets 0, 1" in str(error)
    # The refusal's own words are kept (they may name the real cause, a daily limit, say).
    said = "the service said: No spare nodes available"
    assert said in str(error)
    table = await table_of(run_id)
    assert all("never started" in str(row["error"]) and said in str(row["error"])
               for row in table)
    assert [b["backtestId"] for b in emulator.backtests()] == [other]  # none of the grid's
    credentials.get_client().backtests.delete(project_id, other)


async def test_a_set_refused_for_its_parameters_failed_it_did_not_go_unstarted(emulator,
                                                                               credentials):
    # More than 200 parameters are refused (by the form first; past it, by the client, as by
    # the service): that set fails in its row, for its own reason; it is not one of the sets
    # that found no node (the run is not failed for it).
    crowded = {"fast": 10, "slow": 30, **{f"extra_{i}": i for i in range(200)}}
    valid = grid_options(grid=None, parameter_sets=[{"fast": 5, "slow": 30}])
    options = valid.model_copy(update={"parameter_sets": [{"fast": 5, "slow": 30}, crowded]})
    unchecked = backtest_grid.with_options(validate_parameters=False)  # past the form
    report = await unchecked(options=options, credentials=credentials)
    assert report.outcome == "completed"
    good, bad = sorted(report.rows, key=lambda row: row.index)
    assert good.outcome == "completed" and bad.outcome == "failed"
    assert "202 backtest parameters; the maximum is 200" in str(bad.error)
    assert not bad.never_started
    assert emulator.projects() == []


async def test_refused_sets_wait_for_a_free_node_instead_of_waking_each_other(emulator):
    # Four sets, the only node held outside the run: each refusal must not wake the other
    # refused sets into submitting again at once (they would keep each other going at the
    # speed of the round trips); each waits for one of the run's backtests to free a node, or
    # for no_node_wait_seconds.
    emulator.set_jobs(backtest_nodes=1, node_mode="reject")
    credentials = credentials_for(emulator, max_attempts=1)
    project_id, other = await occupy_a_node(emulator, credentials)  # held for the whole run
    creates_before = len(paths(emulator, "/backtests/create"))
    options = grid_options(grid={"fast": [5, 10, 15, 20]}, retries={"task_retries": 0},
                           no_node_wait_seconds=5, limits={"backtest_timeout_minutes": 0.1})
    with anyio.fail_after(120):  # a bound on the test, not a timing assertion
        state = await backtest_grid(options=options, credentials=credentials,
                                    return_state=True)
    assert isinstance(await state.aresult(raise_on_failure=False), GridFailedError)
    creates = len(paths(emulator, "/backtests/create")) - creates_before
    # A deadline of 6 s and a 5 s wait: at most two submissions per set (the first, and one
    # after the wait), plus the probe's; the old loop sent about 150.
    assert 4 <= creates <= 9, creates
    assert [b["backtestId"] for b in emulator.backtests()] == [other]
    credentials.get_client().backtests.delete(project_id, other)


async def test_sets_equal_as_lean_reads_them_run_once_sent_as_that_text(emulator, credentials):
    # LEAN reads parameters as text: 10, 10.0 and "10" are one set, run once.
    options = grid_options(grid=None, parameter_sets=[{"fast": 10, "slow": 30},
                                                      {"fast": 10.0, "slow": "30"},
                                                      {"fast": "10", "slow": 30.0}])
    state, seen, _ = await watch_grid(emulator, credentials, options)
    report = await state.aresult()
    [row] = report.rows
    assert row.outcome == "completed" and row.parameters == {"fast": 10, "slow": 30}
    assert len(paths(emulator, "/backtests/create")) == 1
    [backtest] = seen.values()
    assert backtest["parameters"] == {"fast": "10", "slow": "30"}  # the text LEAN reads


async def test_a_compile_the_service_never_finds_is_named_as_the_cause(emulator):
    # Every start answered "Compile id not found": the run says so, not "no node".
    emulator.set_jobs(compile_not_found_seconds=3600)
    credentials = credentials_for(emulator, max_attempts=1)
    options = grid_options(grid={"fast": [5, 10]}, retries={"task_retries": 0})
    error, _ = await failed_grid(options, credentials)
    assert isinstance(error, GridFailedError)
    assert "Compile id not found" in str(error) and "sets 0, 1" in str(error)
    assert "node" not in str(error)
    assert emulator.backtests() == [] and emulator.projects() == []


async def test_a_set_that_breaks_on_a_defect_fails_its_row_and_the_run_names_it(
    emulator, credentials, monkeypatch
):
    from flows.backtests import grid, scheduler

    # A defect (not an API error) in one set's wait: that row fails, the other set runs, and
    # the run fails naming the error, not as an ExceptionGroup of its task group.
    original = scheduler.GridSchedule.__call__
    broken: list[object] = []

    def breaks_once(self, report):
        if not broken:
            broken.append(self)
            raise ZeroDivisionError("a defect in the read schedule")
        return original(self, report)

    monkeypatch.setattr(scheduler.GridSchedule, "__call__", breaks_once)
    emulator.set_jobs(backtest_seconds=3)  # long enough that each wait reads it running
    options = grid_options(grid={"fast": [5, 10]})
    error, run_id = await failed_grid(options, credentials)
    assert "ExceptionGroup" not in type(error).__name__, repr(error)  # not the task group's
    assert "ZeroDivisionError: a defect in the read schedule" in str(error)
    assert isinstance(error, grid.GridFailedError) and type(error).__name__ == (
        "SetsFailedUnexpectedlyError")
    table = await table_of(run_id)
    outcomes = sorted(str(row["outcome"]) for row in table)
    assert outcomes == ["completed", "failed"]
    [failed] = [row for row in table if row["outcome"] == "failed"]
    assert "ZeroDivisionError" in str(failed["error"])
    assert emulator.stats()["running_backtests"] == 0 and emulator.projects() == []


async def test_one_start_costs_no_more_requests_than_stated_and_task_retries_do_not_multiply(
    emulator,
):
    from flows.backtests.scheduler import MAX_UNSURE_SUBMISSIONS, start_requests_bound
    from quantconnect_emulator.config import FaultKind

    # Every start is dropped unprocessed, so nothing ever starts: the client's three attempts,
    # their reconciling look-ups, the task's look-up and the scheduler's rounds all run, and
    # the task's own retries (two here) add nothing.
    attempts = 3
    credentials = credentials_for(emulator, max_attempts=attempts)
    emulator.inject(FaultKind.CONNECTION_DROP, path="/backtests/create", count=1000)
    options = grid_options(grid={"fast": [5]})
    error, _ = await failed_grid(options, credentials)
    assert isinstance(error, GridFailedError) and "never started" in str(error)
    log = paths(emulator, "/backtests/create", "/backtests/list", "/backtests/read",
                "/projects/nodes/read")
    first = log.index("/backtests/create")
    last = len(log) - 1 - log[::-1].index("/backtests/create")
    start = [*log[first:last + 1], log[last + 1]]  # and the task's look-up after the last
    assert start[-1] == "/backtests/list"
    assert start.count("/backtests/create") == attempts * MAX_UNSURE_SUBMISSIONS
    # Each create answered by nothing, each followed by a look-up (the client's reconcile
    # between its attempts, the task's after its last): 18, within the stated 25.
    assert len(start) == 2 * attempts * MAX_UNSURE_SUBMISSIONS, start
    assert len(start) <= start_requests_bound(attempts), start
