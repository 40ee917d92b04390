"""Backtest runs that end abnormally while their backtest runs (it holds one of the account's
nodes): killed outright (the sweeper cleans up), killed under a runner (the crash hook cleans up,
in the runner's process) or cancelled through the Prefect API (the cancellation hook cleans up,
in the runner's process). Each time the node must be free again and nothing left.

The three runs share one ``flow.serve`` runner and overlap in time (a runner costs seconds to
start, and a cancelled run's process gets the runner's fixed 30 s grace before it is killed), so
one test shows all three; each reports its own figures. The outright kill takes the runner down
with the run's process, so that nothing but the sweeper can clean up.

The runner machinery (``flow.serve`` in a child process, finding the flow-run process, waiting
for final states) is the project-management tests' (:mod:`tests.reliability.test_kill_and_cancel`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Cancelling, Crashed

from flows.projects.forms import SweepOptions
from flows.projects.sweep import sweep_temporary_projects
from tests.helpers import credentials_for
from tests.reliability.backtest_soak import quick_jobs, running_backtests
from tests.reliability.conftest import report_figures, start_python, subprocess_env, wait_for
from tests.reliability.proxy import CuttableProxy
from tests.reliability.test_kill_and_cancel import (
    TemporaryFlow,
    _process_of_flow_run,
    _run_log_messages,
    _wait_for_deployment,
    _wait_for_final_state,
    projects_named,
    stop,
)

pytestmark = pytest.mark.anyio

KILL_PREFIX = "btkill-tmp-"
CRASH_PREFIX = "btcrash-tmp-"
CANCEL_PREFIX = "btcancel-tmp-"
CRASH_BLOCK = "reliability-backtest-crash"
CANCEL_BLOCK = "reliability-backtest-cancel"
#: On the job clock: the backtest is still running whenever the test acts.
FOREVER = 3600.0

BACKTEST_FLOW = TemporaryFlow(
    "flows.backtests.strategy",
    "backtest_strategy",
    "backtest-strategy",
    lambda prefix, block: {
        "options": {
            "strategy": {"name_prefix": prefix},
            "retries": {"task_retries": 1, "retry_delay_seconds": 0},
        },
        **({"credentials_block": block} if block else {}),
    },
)


def long_backtests(emulator: Any) -> None:
    quick_jobs(emulator, backtest_seconds=FOREVER)


def backtest_of(emulator: Any, prefix: str) -> dict[str, Any] | None:
    """The running backtest of the run's temporary project, once there is one."""
    projects = {p["projectId"] for p in projects_named(emulator, prefix)}
    found = [b for b in running_backtests(emulator) if b["projectId"] in projects]
    return found[0] if found else None


def api_paths(emulator: Any, project_id: int) -> list[str]:
    """The writes that removed things of ``project_id``, in order."""
    wanted = ("/backtests/delete", "/projects/delete")
    return [e["path"].rsplit("/api/v2", 1)[-1] for e in emulator.requests_log()
            if e["path"].endswith(wanted) and e["project_id"] == project_id]


async def test_the_sweeper_deletes_running_backtests_before_removing_a_project(
    qc_emulator, prefect_server
) -> None:
    """What a killed backtest run leaves (a temporary project whose backtest still runs) is
    swept backtest first: whether deleting a project stops its backtests is unconfirmed for the
    real service (the emulator does stop them), and a leaked one holds a node for up to 12 h."""
    long_backtests(qc_emulator)
    client = credentials_for(qc_emulator).get_client()
    # A run id Prefect does not know: not active, so the sweep may take its project.
    project = client.projects.create(f"{KILL_PREFIX}{uuid.uuid4()}", "Py")
    built = client.compiles.wait(
        project.project_id, client.compiles.create(project.project_id).compile_id
    )
    client.backtests.create(project.project_id, built.compile_id, "left running")
    sweep = SweepOptions(name_prefix=KILL_PREFIX, ttl_minutes=0, purge=True)
    await sweep_temporary_projects(sweep, credentials=credentials_for(qc_emulator))
    assert qc_emulator.projects() == []
    assert api_paths(qc_emulator, project.project_id)[:1] == ["/backtests/delete"]


def _only_run_process(runner: subprocess.Popen[bytes]) -> int:
    """The pid of the runner's one flow-run process (a ``multiprocessing`` child)."""
    unknown = uuid.uuid4()  # matches no environment: only the spawned child is found
    return int(wait_for(lambda: _process_of_flow_run(runner.pid, unknown), 10, "the run's pid"))


async def _hook_line(log: Path, run_id: object, needle: str) -> str:
    lines = await asyncio.to_thread(
        wait_for,
        lambda: [line for line in log.read_text().splitlines()
                 if str(run_id) in line and needle in line and "temporary project" in line],
        15,
        "the hook's log line",
    )
    return str(lines[-1]).split(" - ")[-1]


async def _cleaned_up(emulator: Any, prefix: str) -> None:
    await asyncio.to_thread(
        wait_for, lambda: not projects_named(emulator, prefix), 30, f"the clean-up of {prefix}"
    )


async def test_backtest_runs_killed_crashed_or_cancelled_while_their_backtests_run(
    qc_emulator, prefect_server, tmp_path: Path
) -> None:
    long_backtests(qc_emulator)
    qc_emulator.set_jobs(backtest_nodes=3)
    crashed = cancelled = ""
    proxy = CuttableProxy(qc_emulator.port)
    await credentials_for(qc_emulator).asave(CRASH_BLOCK, overwrite=True)
    await credentials_for(qc_emulator, base_url=proxy.url(), max_attempts=1).asave(
        CANCEL_BLOCK, overwrite=True)
    log = tmp_path / "serve.log"
    pids: dict[str, int] = {}
    runner = start_python(
        BACKTEST_FLOW.serve(), subprocess_env(prefect_server, PREFECT_RUNNER_POLL_FREQUENCY="1"),
        log,
    )
    try:
        await _wait_for_deployment(BACKTEST_FLOW.deployment, 60)
        runs: dict[str, FlowRun] = {}
        held: dict[str, dict[str, Any]] = {}

        async def start(prefix: str, block: str, **options: Any) -> None:
            parameters = BACKTEST_FLOW.parameters(prefix, block)
            parameters["options"].update(options)
            runs[prefix] = await run_deployment(  # type: ignore[misc]
                BACKTEST_FLOW.deployment, parameters=parameters, timeout=0
            )

        async def running(prefix: str) -> None:
            held[prefix] = await asyncio.to_thread(
                wait_for, lambda: backtest_of(qc_emulator, prefix), 90, f"{prefix} backtest"
            )

        # The runner's children do not say which run they run: a run's process is found while
        # it is the only one.
        # Crash: the run's process is SIGKILLed while its backtest runs; the runner sees it die.
        await start(CRASH_PREFIX, CRASH_BLOCK)
        await running(CRASH_PREFIX)
        pids[CRASH_PREFIX] = await asyncio.to_thread(_only_run_process, runner)
        os.kill(pids[CRASH_PREFIX], signal.SIGKILL)
        # Cancel: the run's process loses its network (the saved block follows the service),
        # then the run is cancelled through the API. Its wait for the backtest runs in a
        # thread that a cancellation cannot stop and that keeps trying the cut network until
        # the run's deadline: a deadline of 9 s (the cancel comes at once) lets the process
        # end well before the runner's fixed 30 s grace.
        await start(CANCEL_PREFIX, CANCEL_BLOCK, limits={"backtest_timeout_minutes": 0.15})
        await start(KILL_PREFIX, CRASH_BLOCK)
        await running(CANCEL_PREFIX)
        await credentials_for(qc_emulator).asave(CANCEL_BLOCK, overwrite=True)
        proxy.cut()
        async with get_client() as client:
            result: Any = await client.set_flow_run_state(runs[CANCEL_PREFIX].id, Cancelling())
        assert result.status.value == "ACCEPT"
        await running(KILL_PREFIX)
        crashed = await _wait_for_final_state(runs[CRASH_PREFIX].id, 60)
        await _cleaned_up(qc_emulator, CRASH_PREFIX)
        crash_hook = await _hook_line(log, runs[CRASH_PREFIX].id, "ended Crashed")
        cancelled = await _wait_for_final_state(runs[CANCEL_PREFIX].id, 90)
        await _cleaned_up(qc_emulator, CANCEL_PREFIX)
        cancel_hook = await _hook_line(log, runs[CANCEL_PREFIX].id, "ended Cancelling")
        cancel_messages = await _run_log_messages(runs[CANCEL_PREFIX].id)
        # Kill outright (the cancelled run's process is gone: this one is the only one left).
        pids[KILL_PREFIX] = await asyncio.to_thread(_only_run_process, runner)

        # Kill outright: the runner first (nothing may run a hook), then the run's process.
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
        os.kill(pids[KILL_PREFIX], signal.SIGKILL)
    finally:
        proxy.cut()
        stop(runner, signal.SIGKILL)
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    crash_writes = api_paths(qc_emulator, held[CRASH_PREFIX]["projectId"])
    cancel_writes = api_paths(qc_emulator, held[CANCEL_PREFIX]["projectId"])
    assert crashed == "Crashed" and "removed 1 temporary project(s)" in crash_hook
    assert cancelled == "Cancelled" and "removed 1 temporary project(s)" in cancel_hook
    # Each hook stopped the backtest before it removed the project.
    for writes in (crash_writes, cancel_writes):
        assert writes[:1] == ["/backtests/delete"] and "/projects/delete" in writes
    # The cancelled run's own clean-up could not reach the service: the hook did the work.
    assert any(m.startswith("Safety net: could not remove") for m in cancel_messages)

    # Nothing ran after the outright kill: its project is live, its backtest holds a node.
    [project] = projects_named(qc_emulator, KILL_PREFIX)
    assert qc_emulator.stats()["running_backtests"] == 1
    async with get_client() as client:
        # As Prefect's zombie detection (or an operator) marks a run whose process died.
        await client.set_flow_run_state(runs[KILL_PREFIX].id, Crashed(message="killed"),
                                        force=True)
    sweep = SweepOptions(name_prefix=KILL_PREFIX, ttl_minutes=0, purge=True,
                         include_recycle_bin=True)
    report = await sweep_temporary_projects(sweep, credentials=credentials_for(qc_emulator))
    kill_writes = api_paths(qc_emulator, project["projectId"])
    assert report.matched == report.deleted == 1
    assert qc_emulator.projects() == []
    assert qc_emulator.stats()["running_backtests"] == 0
    # The sweep stopped the backtest itself before it removed the project.
    assert kill_writes[:1] == ["/backtests/delete"] and report.backtests_stopped == 1

    def status(prefix: str) -> str:
        return f"backtest {held[prefix]['backtestId']} {held[prefix]['status']}"

    report_figures(
        "backtest kill under a runner (SIGKILL of the flow-run process while its backtest "
        "runs, flow.serve), backtest-strategy",
        [
            f"run -> {crashed}; {status(CRASH_PREFIX)} at the kill",
            f"runner's on_crashed hook (credentials from the saved block): {crash_hook}",
            f"its writes on the project: {', '.join(crash_writes)}",
        ],
    )
    report_figures(
        "backtest cancellation through the Prefect API while its backtest runs (flow.serve), "
        "backtest-strategy",
        [
            f"run -> {cancelled}; {status(CANCEL_PREFIX)} at the cancel; the flow process's own "
            "clean-up could not reach the service (network cut)",
            f"runner's on_cancellation hook (credentials from the saved block): {cancel_hook}",
            f"its writes on the project: {', '.join(cancel_writes)}",
        ],
    )
    report_figures(
        "backtest kill (SIGKILL of the run's process and its runner while the backtest runs), "
        "backtest-strategy",
        [
            f"{status(KILL_PREFIX)} at the kill; afterwards: project live, 1 backtest running",
            f"sweep (ttl 0, run marked Crashed): matched {report.matched}, removed "
            f"{report.deleted}; its writes on the project: {', '.join(kill_writes)}",
            f"the sweep stopped {report.backtests_stopped} running backtest(s) before it removed "
            "the project",
        ],
    )
    report_figures(
        "backtest kill / crash / cancel: what was left",
        [f"projects {len(qc_emulator.projects())}, running backtests "
         f"{qc_emulator.stats()['running_backtests']} (peak "
         f"{qc_emulator.stats()['peak_running_backtests']} on 3 nodes)"],
    )
