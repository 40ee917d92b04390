"""Optimizer runs that end abnormally while their optimization runs (it bills for its nodes):
killed outright (the sweeper aborts it, at once though the project is within its TTL, then
removes the project), killed under a runner (the crash hook aborts and removes, in the runner's
process) or cancelled through the Prefect API (the cancellation hook does, in the runner's
process). Each time: 0 optimizations left running, 0 temporary projects left, and no project
removed while its optimization still ran.

The runner machinery is the other kill tests' (:mod:`tests.reliability.test_kill_and_cancel`,
:mod:`tests.reliability.test_backtest_kill_and_cancel`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Cancelling, Crashed

from flows.common.temporary import temporary_run_id
from flows.projects.forms import SweepOptions
from flows.projects.sweep import sweep_temporary_projects
from tests.helpers import credentials_for
from tests.reliability.backtest_soak import quick_jobs
from tests.reliability.conftest import report_figures, start_python, subprocess_env, wait_for
from tests.reliability.optimization_soak import NO_BOUND, SOAK_PARAMETERS, OptimizationLedger
from tests.reliability.proxy import CuttableProxy
from tests.reliability.test_backtest_kill_and_cancel import (
    _cleaned_up,
    _hook_line,
    _only_run_process,
)
from tests.reliability.test_kill_and_cancel import (
    TemporaryFlow,
    _run_log_messages,
    _wait_for_deployment,
    _wait_for_final_state,
    projects_named,
    stop,
)

pytestmark = pytest.mark.anyio

KILL_PREFIX = "optkill-tmp-"
CRASH_PREFIX = "optcrash-tmp-"
CANCEL_PREFIX = "optcancel-tmp-"
CRASH_BLOCK = "reliability-optimization-crash"
CANCEL_BLOCK = "reliability-optimization-cancel"
#: On the job clock: every point is still running whenever the test acts.
FOREVER = 3600.0

OPTIMIZE_FLOW = TemporaryFlow(
    "flows.optimizations.optimize",
    "optimize_strategy",
    "optimize-strategy",
    lambda prefix, block: {
        "options": {
            "strategy": {"name_prefix": prefix},
            "parameters": SOAK_PARAMETERS,
            "parallel_nodes": 2,
            "reference_backtest": False,  # it would last FOREVER too
            "guard": NO_BOUND,
            "retries": {"task_retries": 1, "retry_delay_seconds": 0},
        },
        **({"credentials_block": block} if block else {}),
    },
)


def long_optimizations(emulator: Any) -> OptimizationLedger:
    """Points that never end, estimates without a backtest, and the ledger."""
    quick_jobs(emulator, backtest_seconds=FOREVER, optimization_new_seconds=0,
               optimization_estimate_needs_backtest=False)
    return OptimizationLedger(emulator)


def optimization_of(ledger: OptimizationLedger, emulator: Any, prefix: str) -> str | None:
    """The running optimization of the run's temporary project, once there is one."""
    projects = {p["projectId"] for p in projects_named(emulator, prefix)}
    running = set(ledger.running())
    found = [job for pid in projects for job in ledger.of_project(pid) if job in running]
    return found[0] if found else None


async def test_a_killed_optimizer_run_is_aborted_by_the_sweeper_within_the_ttl(
    qc_emulator, prefect_server, tmp_path: Path
) -> None:
    """kill -9 of a run in a process of its own while its optimization runs: nothing of the run
    runs again. Once Prefect shows the run ended (as zombie detection or an operator marks it),
    the next sweep aborts the optimization though the project is young (the default TTL keeps
    it), and a sweep past the TTL removes the project."""
    ledger = long_optimizations(qc_emulator)
    env = subprocess_env(
        prefect_server,
        QC_USER_ID=str(qc_emulator.user_id),
        QC_API_TOKEN=qc_emulator.api_token,
        QC_BASE_URL=qc_emulator.base_url,
    )
    process = start_python(OPTIMIZE_FLOW.run_one(KILL_PREFIX), env, tmp_path / "run.log")
    try:
        job = await asyncio.to_thread(
            wait_for, lambda: optimization_of(ledger, qc_emulator, KILL_PREFIX), 90,
            "the optimization")
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        stop(process, signal.SIGKILL)
    [project] = projects_named(qc_emulator, KILL_PREFIX)
    assert ledger.running() == [job]  # nothing ran after the kill
    credentials = credentials_for(qc_emulator)
    sweep = SweepOptions(name_prefix=KILL_PREFIX)  # the default TTL of an hour

    # Prefect still shows the killed run as Running: its optimization is left alone...
    alive = await sweep_temporary_projects(sweep, credentials=credentials)
    assert alive.orphaned_optimizations_aborted == 0 and ledger.running() == [job]
    # ...until the run is marked Crashed; then the next sweep aborts it, the project stays.
    run_id = temporary_run_id(project["name"], KILL_PREFIX)
    assert run_id is not None
    async with get_client() as client:
        await client.set_flow_run_state(run_id, Crashed(message="process killed"), force=True)
    aborting = await sweep_temporary_projects(sweep, credentials=credentials)
    assert (aborting.matched, aborting.orphaned_optimizations_aborted) == (0, 1)
    assert aborting.items[0].orphaned_optimizations == [job]
    assert ledger.running() == [] and ledger.aborted == [job]
    assert projects_named(qc_emulator, KILL_PREFIX) == [project]
    # Past the TTL the project goes, with nothing left running in it.
    removal = await sweep_temporary_projects(
        SweepOptions(name_prefix=KILL_PREFIX, ttl_minutes=0, purge=True), credentials=credentials)
    assert removal.deleted == 1 and qc_emulator.projects() == []
    assert ledger.removed_running == []
    report_figures(
        "optimization kill (SIGKILL of the run's process while its optimization runs), "
        "optimize-strategy",
        [
            f"optimization {job} running at the kill; afterwards: project live, 1 running",
            f"sweep (default TTL 60 min) while Prefect shows the run Running: aborted "
            f"{alive.orphaned_optimizations_aborted}",
            f"sweep (default TTL) after the run is marked Crashed: project kept, orphaned "
            f"optimizations aborted {aborting.orphaned_optimizations_aborted}",
            f"sweep (ttl 0): removed {removal.deleted}; left: projects "
            f"{len(qc_emulator.projects())}, running optimizations {len(ledger.running())}, "
            f"removed while running {len(ledger.removed_running)}",
        ],
    )


async def test_optimizer_runs_crashed_or_cancelled_while_their_optimizations_run(
    qc_emulator, prefect_server, tmp_path: Path
) -> None:
    ledger = long_optimizations(qc_emulator)
    proxy = CuttableProxy(qc_emulator.port)
    await credentials_for(qc_emulator).asave(CRASH_BLOCK, overwrite=True)
    await credentials_for(qc_emulator, base_url=proxy.url(), max_attempts=1).asave(
        CANCEL_BLOCK, overwrite=True)
    log = tmp_path / "serve.log"
    pids: dict[str, int] = {}
    held: dict[str, str] = {}
    runs: dict[str, FlowRun] = {}
    runner = start_python(
        OPTIMIZE_FLOW.serve(), subprocess_env(prefect_server, PREFECT_RUNNER_POLL_FREQUENCY="1"),
        log,
    )
    try:
        await _wait_for_deployment(OPTIMIZE_FLOW.deployment, 60)

        async def start(prefix: str, block: str, **options: Any) -> None:
            parameters = OPTIMIZE_FLOW.parameters(prefix, block)
            parameters["options"].update(options)
            runs[prefix] = await run_deployment(  # type: ignore[misc]
                OPTIMIZE_FLOW.deployment, parameters=parameters, timeout=0
            )

        async def running(prefix: str) -> None:
            held[prefix] = await asyncio.to_thread(
                wait_for, lambda: optimization_of(ledger, qc_emulator, prefix), 90,
                f"{prefix} optimization")

        # Crash: the run's process is SIGKILLed while its optimization runs; the runner sees
        # it die and runs the crash hook.
        await start(CRASH_PREFIX, CRASH_BLOCK)
        await running(CRASH_PREFIX)
        pids[CRASH_PREFIX] = await asyncio.to_thread(_only_run_process, runner)
        os.kill(pids[CRASH_PREFIX], signal.SIGKILL)
        # Cancel: the run's process loses its network (the saved block follows the service),
        # then the run is cancelled through the API. Its wait for the optimization runs in a
        # thread a cancellation cannot stop, trying the cut network until the run's deadline:
        # 9 s (the cancel comes at once) lets it end before the runner's fixed 30 s grace.
        await start(CANCEL_PREFIX, CANCEL_BLOCK, timeout_minutes=0.15)
        await running(CANCEL_PREFIX)
        await credentials_for(qc_emulator).asave(CANCEL_BLOCK, overwrite=True)
        proxy.cut()
        async with get_client() as client:
            result: Any = await client.set_flow_run_state(runs[CANCEL_PREFIX].id, Cancelling())
        assert result.status.value == "ACCEPT"
        crashed = await _wait_for_final_state(runs[CRASH_PREFIX].id, 60)
        await _cleaned_up(qc_emulator, CRASH_PREFIX)
        crash_hook = await _hook_line(log, runs[CRASH_PREFIX].id, "ended Crashed")
        cancelled = await _wait_for_final_state(runs[CANCEL_PREFIX].id, 90)
        await _cleaned_up(qc_emulator, CANCEL_PREFIX)
        cancel_hook = await _hook_line(log, runs[CANCEL_PREFIX].id, "ended Cancelling")
        cancel_messages = await _run_log_messages(runs[CANCEL_PREFIX].id)
    finally:
        proxy.cut()
        stop(runner, signal.SIGKILL)
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    assert crashed == "Crashed" and "removed 1 temporary project(s)" in crash_hook
    assert cancelled == "Cancelled" and "removed 1 temporary project(s)" in cancel_hook
    # Each optimization was aborted before its project went; none is left running.
    assert sorted(ledger.aborted) == sorted(held.values())
    assert ledger.removed_running == [] and ledger.running() == []
    assert qc_emulator.projects() == []
    # The cancelled run's own clean-up could not reach the service: the hook did the work.
    assert any(m.startswith("Clean-up: could not abort optimization") for m in cancel_messages)
    assert any(m.startswith("Safety net: could not remove") for m in cancel_messages)

    report_figures(
        "optimization kill under a runner (SIGKILL of the flow-run process while its "
        "optimization runs, flow.serve), optimize-strategy",
        [f"run -> {crashed}; optimization {held[CRASH_PREFIX]} running at the kill",
         f"runner's on_crashed hook (credentials from the saved block): {crash_hook}"],
    )
    report_figures(
        "optimization cancellation through the Prefect API while its optimization runs "
        "(flow.serve), optimize-strategy",
        [f"run -> {cancelled}; optimization {held[CANCEL_PREFIX]} running at the cancel; the "
         "flow process's own clean-up could not reach the service (network cut)",
         f"runner's on_cancellation hook (credentials from the saved block): {cancel_hook}"],
    )
    report_figures(
        "optimization crash / cancel: what was left",
        [f"optimizations created {len(ledger.created)}, aborted {len(ledger.aborted)}, running "
         f"{len(ledger.running())}, removed with their project while running "
         f"{len(ledger.removed_running)}; projects {len(qc_emulator.projects())}"],
    )
