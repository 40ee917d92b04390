"""The backtest tasks against the emulator: retry-safe writes, build logs, clean-up helpers,
and the state hooks that stop a run's backtests from another process."""

from __future__ import annotations

import logging
import uuid

import anyio
import pytest
from prefect import flow
from prefect.client.schemas.objects import FlowRun
from prefect.states import Crashed

from flows.backtests.pipeline import BACKTEST_HOOKS, stop_backtests_in_existing_project
from flows.common.options import RetryOptions
from quantconnect_client.errors import BuildError, WaitTimeoutError
from tasks._run import in_thread
from tasks.backtests import (
    StartRefused,
    backtest_name,
    backtest_node_count,
    compile_project,
    delete_backtest,
    delete_running_backtests,
    start_backtest,
    stop_running_backtests,
    try_start_backtest,
    upload_strategy,
    wait_for_backtest,
)
from tests.flows.backtests.helpers import existing_project, paths
from tests.helpers import credentials_for, task_runs_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]


def compiled(credentials, project_id: int) -> str:
    client = credentials.get_client()
    return str(client.compiles.wait(project_id, client.compiles.create(project_id).compile_id)
               .compile_id)


async def test_an_upload_writes_only_what_differs(emulator, credentials):
    project_id = await existing_project(emulator, credentials)
    files = {"main.py": "x = 1\n", "lib/signals.py": "y = 2\n"}
    assert sorted(await upload_strategy(credentials, project_id, files)) == [
        "lib/signals.py", "main.py"]
    writes = len(paths(emulator, "/files/create", "/files/update"))
    assert await upload_strategy(credentials, project_id, files) == []  # what a retry does
    assert len(paths(emulator, "/files/create", "/files/update")) == writes
    stored = {f.name: f.content for f in credentials.get_client().files.list(project_id)}
    assert stored["main.py"] == "x = 1\n" and stored["lib/signals.py"] == "y = 2\n"


async def test_a_build_error_fails_the_task_with_its_logs_in_the_run_log(emulator, credentials,
                                                                         caplog):
    project_id = await existing_project(emulator, credentials)
    credentials.get_client().files.update(project_id, "main.py", "def broken(:\n")
    caplog.set_level(logging.ERROR)
    with pytest.raises(BuildError) as caught:
        await compile_project(credentials, project_id)
    build_lines = [r.getMessage() for r in caplog.records if "Build log:" in r.getMessage()]
    assert build_lines and all(line.split("Build log: ")[1] in caught.value.logs
                               for line in build_lines)
    assert "main.py" in str(caught.value)
    assert any("main.py" in line and "Line 1" in line for line in build_lines)


async def test_a_compile_past_its_timeout_fails_naming_it_and_is_not_started_again(
    emulator, credentials
):
    project_id = await existing_project(emulator, credentials)
    emulator.set_jobs(compile_seconds=3600)
    retried = compile_project.with_options(retries=2, retry_delay_seconds=0)

    @flow
    async def build() -> object:
        state = await retried(credentials, project_id, timeout=1.5,
                              return_state=True)  # type: ignore[misc]
        return await state.aresult(raise_on_failure=False)

    error = await build()
    assert isinstance(error, WaitTimeoutError), error
    assert "within the compile timeout of 1.5 s (compile_timeout_seconds)" in str(error)
    assert error.reads >= 1 and "still in the queue" in str(error)
    assert len(paths(emulator, "/compile/create")) == 1  # not retried: one compile, not three


async def test_the_compile_is_bounded_by_its_compile_timeout_not_the_standard_task_timeout():
    # The standard task timeout (300 s) would become the client's budget and end a longer
    # compile timeout early, with a retryable error that starts another compile; the client's
    # deadline (the compile timeout) bounds the task instead, as for the backtest's wait.
    assert compile_project.timeout_seconds is None
    assert RetryOptions(task_retries=3).apply(compile_project).timeout_seconds is None
    assert wait_for_backtest.timeout_seconds is None


async def test_a_bad_compile_timeout_is_refused_before_any_request(emulator, credentials):
    with pytest.raises(ValueError, match="compile timeout must be a positive number"):
        await compile_project(credentials, 1, timeout=float("nan"))
    assert emulator.requests_log() == []


async def test_a_retried_start_adopts_the_backtest_its_lost_answer_started(emulator):
    # One attempt per client call: the lost answer reaches Prefect, which retries the task.
    credentials = credentials_for(emulator, max_attempts=1)
    project_id = await existing_project(emulator, credentials)
    compile_id = compiled(credentials, project_id)
    emulator.inject("ambiguous_write", path="/backtests/create", count=1)
    retried = start_backtest.with_options(retries=1, retry_delay_seconds=0)

    @flow
    async def start() -> str:
        backtest = await retried(credentials, project_id, compile_id, "prefect run-1 set 0")
        return backtest.backtest_id

    backtest_id = await start()
    assert len(paths(emulator, "/backtests/create")) == 1  # the retry listed, then adopted
    [only] = emulator.backtests()
    assert only["backtestId"] == backtest_id


async def test_a_refused_try_start_is_an_answer_not_a_failed_task_run(emulator):
    emulator.set_jobs(backtest_nodes=1, node_mode="reject", backtest_seconds=3600)
    credentials = credentials_for(emulator, max_attempts=4)
    project_id = await existing_project(emulator, credentials)
    compile_id = compiled(credentials, project_id)
    holder = credentials.get_client().backtests.create(project_id, compile_id, "holds the node")
    before = len(paths(emulator, "/backtests/create"))

    @flow
    async def offer() -> tuple[object, str]:
        from prefect.runtime import flow_run

        answer = await try_start_backtest(credentials, project_id, compile_id,
                                          "prefect run-1 set 1")
        return answer, str(flow_run.id)

    refused, flow_run_id = await offer()
    assert isinstance(refused, StartRefused) and refused.reason  # the service's words
    assert len(paths(emulator, "/backtests/create")) == before + 1  # at once, not retried
    [run] = await task_runs_of(flow_run_id, at_least=1)
    assert run.state is not None and run.state.is_completed()  # no Failed run, no traceback
    credentials.get_client().backtests.delete(project_id, holder.backtest_id)

    @flow
    async def offer_again() -> object:
        return await try_start_backtest(credentials, project_id, compile_id, "prefect run-1 set 1")

    started = await offer_again()
    assert started is not None and [b["name"] for b in emulator.backtests()] == [
        "prefect run-1 set 1"]


async def test_deleting_a_backtest_twice_is_fine(emulator, credentials):
    project_id = await existing_project(emulator, credentials)
    client = credentials.get_client()
    started = client.backtests.create(project_id, compiled(credentials, project_id), "b")
    assert await delete_backtest(credentials, project_id, started.backtest_id) is True
    assert await delete_backtest(credentials, project_id, started.backtest_id) is False


async def test_the_node_count_is_the_accounts_backtest_nodes(emulator, credentials):
    emulator.set_jobs(backtest_nodes=3)
    project_id = await existing_project(emulator, credentials)
    assert await backtest_node_count(credentials, project_id) == 3


async def started_backtests(emulator, credentials, names: list[str]) -> tuple[int, list[str]]:
    """A project with long backtests of these names (the first one finished)."""
    project_id = await existing_project(emulator, credentials)
    client = credentials.get_client()
    compile_id = compiled(credentials, project_id)
    emulator.set_jobs(backtest_seconds=0, backtest_nodes=4, total_performance_lag_seconds=0)
    ids = [client.backtests.create(project_id, compile_id, names[0]).backtest_id]
    client.backtests.wait(project_id, ids[0])
    emulator.set_jobs(backtest_seconds=3600)
    ids += [client.backtests.create(project_id, compile_id, n).backtest_id for n in names[1:]]
    return project_id, ids


async def test_only_running_backtests_are_deleted_and_only_the_runs_own(emulator, credentials):
    run = str(uuid.uuid4())
    names = [backtest_name(run, "done"), backtest_name(run, "mine"), "someone else's"]
    project_id, (done, mine, other) = await started_backtests(emulator, credentials, names)
    client = credentials.get_client()
    assert delete_running_backtests(client, project_id, run) == [mine]
    assert {b["backtestId"] for b in emulator.backtests()} == {done, other}
    assert delete_running_backtests(client, project_id) == [other]


async def test_the_sweepers_stop_task_stops_running_backtests_per_project(emulator,
                                                                          credentials):
    project_id, (_, running) = await started_backtests(emulator, credentials, ["a", "b"])
    stopped = await stop_running_backtests(credentials, [project_id, 2_000_000_000])
    assert stopped == {project_id: [running], 2_000_000_000: []}
    assert emulator.stats()["running_backtests"] == 0


async def test_the_crash_hook_stops_the_runs_backtests_in_an_existing_project(emulator,
                                                                              credentials):
    await credentials.save("pipelines-hook-test", overwrite=True)
    run = uuid.uuid4()
    project_id, (_, mine, other) = await started_backtests(
        emulator, credentials, ["old", backtest_name(str(run)), "someone else's"])
    flow_run = FlowRun(id=run, flow_id=uuid.uuid4(), name="crashed-run", parameters={
        "options": {"strategy": {"strategy_folder": None, "project_id": project_id}},
        "credentials_block": "pipelines-hook-test",
    })
    assert stop_backtests_in_existing_project in BACKTEST_HOOKS["on_crashed"]
    stop_backtests_in_existing_project(None, flow_run, Crashed())  # type: ignore[arg-type]
    running = {b["backtestId"] for b in emulator.backtests() if b["stage"] == "running"}
    assert running == {other} and mine not in {b["backtestId"] for b in emulator.backtests()}
    assert len(emulator.projects()) == 1  # the user's project stays


async def test_the_temporary_projects_hook_deletes_its_running_backtests_first(emulator,
                                                                             credentials):
    await credentials.save("pipelines-hook-test", overwrite=True)
    run = uuid.uuid4()
    client = credentials.get_client()
    project = client.projects.create(f"prefect-tmp-{run}", "Py")
    compile_id = compiled(credentials, project.project_id)
    emulator.set_jobs(backtest_seconds=3600)
    client.backtests.create(project.project_id, compile_id, backtest_name(str(run)))
    flow_run = FlowRun(id=run, flow_id=uuid.uuid4(), name="crashed-run",
                       parameters={"credentials_block": "pipelines-hook-test"})
    for hook in BACKTEST_HOOKS["on_crashed"]:
        hook(None, flow_run, Crashed())  # type: ignore[arg-type]
    assert emulator.projects() == [] and emulator.stats()["running_backtests"] == 0
    order = paths(emulator, "/backtests/delete", "/projects/delete")
    assert order[0] == "/backtests/delete" and "/projects/delete" in order


def test_the_package_exports_the_backtest_tasks_like_the_project_tasks():
    import tasks
    import tasks.backtests

    names = ["backtest_name", "backtest_node_count", "compile_project", "delete_backtest",
             "delete_running_backtests", "find_backtest", "find_started_backtest",
             "read_backtest", "read_equity", "start_backtest", "stop_running_backtests",
             "try_start_backtest", "upload_strategy", "wait_for_backtest"]
    for name in names:
        assert name in tasks.__all__ and getattr(tasks, name) is getattr(tasks.backtests, name)
    assert {"create_project", "delete_projects", "with_api_retries"} <= set(tasks.__all__)



def reads_of(emulator, path: str):
    return lambda: len(paths(emulator, path))


async def cancel_once_read(start, reads, times: int = 2) -> int:
    """Run ``start`` until the emulator has had ``times`` reads, cancel it, and wait for it to
    end; the reads counted at the cancel."""
    async with anyio.create_task_group() as group:
        group.start_soon(start)
        with anyio.fail_after(60):  # a bound on the wait, not a timing assertion
            while reads() < times:
                await anyio.sleep(0.05)
        at_cancel = int(reads())
        group.cancel_scope.cancel()
    return at_cancel


async def test_a_cancelled_wait_in_a_worker_thread_stops_reading_the_backtest(emulator,
                                                                              credentials):
    # A queued backtest (the only node is busy) is read every couple of seconds, until the
    # deadline unless the wait notices that its caller was cancelled.
    project_id = await existing_project(emulator, credentials)
    compile_id = compiled(credentials, project_id)
    emulator.set_jobs(backtest_seconds=3600, backtest_nodes=1)
    client = credentials.get_client()
    client.backtests.create(project_id, compile_id, "holds the node")
    queued = client.backtests.create(project_id, compile_id, "queued").backtest_id
    reads = reads_of(emulator, "/backtests/read")

    at_cancel = await cancel_once_read(
        lambda: in_thread(client.backtests.wait, project_id, queued, timeout=40), reads)
    await anyio.sleep(5)  # more than two of the queued backtest's read intervals
    assert reads() - at_cancel <= 1  # a read already in flight may land; none after it


async def test_cancelling_a_run_stops_its_compile_tasks_reads(emulator, credentials):
    project_id = await existing_project(emulator, credentials)
    emulator.set_jobs(compile_seconds=3600)
    reads = reads_of(emulator, "/compile/read")

    @flow
    async def building() -> None:
        await compile_project(credentials, project_id, timeout=40)

    at_cancel = await cancel_once_read(building, reads)
    await anyio.sleep(5)  # more than two of the compile's read intervals
    assert reads() - at_cancel <= 1


async def test_a_progress_that_is_no_fraction_is_logged_as_what_arrived(caplog):
    import json

    from tasks.credentials import QuantConnectCredentials
    from tests.canned_http import CannedResponse, canned_server

    def answer(text: str) -> CannedResponse:
        return CannedResponse(200, text.encode(), {"Content-Type": "application/json"})

    running = ('{"success": true, "backtest": {"backtestId": "%s", "status": "Running",'
               ' "completed": false, "progress": NaN}}' % ("a" * 32))
    final = json.dumps({"success": True, "backtest": {
        "backtestId": "a" * 32, "status": "Completed.", "completed": True, "progress": 1,
        "statistics": {"Sharpe Ratio": "0.19"}, "runtimeStatistics": {"Equity": "$1"},
        "totalPerformance": {"portfolioStatistics": {"sharpeRatio": 0.19}}}})
    caplog.set_level(logging.INFO)
    with canned_server(answer(running), answer(final)) as srv:
        credentials = QuantConnectCredentials(user_id=1, api_token="t", base_url=srv.url)

        @flow
        async def wait() -> object:
            return await wait_for_backtest(credentials, 5, "a" * 32, timeout=30)

        done = await wait()
    assert done.results_ready  # type: ignore[attr-defined]
    lines = [r.getMessage() for r in caplog.records if "Backtest " + "a" * 32 in r.getMessage()]
    assert any("progress unknown (the service sent a float: nan" in line for line in lines)
    assert not any("nan%" in line for line in lines), lines
