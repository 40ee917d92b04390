"""A backtest run killed under a runner while its backtest runs: the runner's crash hooks, in
the runner's process, delete the running backtest and then the temporary project."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from prefect.deployments import run_deployment

from tests.helpers import credentials_for
from tests.pipelines.helpers import paths
from tests.reliability.conftest import start_python, subprocess_env, wait_for
from tests.reliability.test_kill_and_cancel import (
    _process_of_flow_run,
    _wait_for_deployment,
    _wait_for_final_state,
    stop,
)

pytestmark = pytest.mark.anyio

BLOCK = "pipelines-crash"
SERVED = "backtest-strategy/pipelines-crash"


async def test_a_run_killed_while_its_backtest_runs_leaves_nothing(
    emulator, prefect_server, tmp_path: Path
):
    emulator.set_jobs(backtest_seconds=3600)
    await credentials_for(emulator, read_timeout=30).asave(BLOCK, overwrite=True)
    log = tmp_path / "serve.log"
    runner = start_python(
        "from flows.backtest import backtest_strategy\n"
        "backtest_strategy.serve(name='pipelines-crash')\n",
        subprocess_env(prefect_server, PREFECT_RUNNER_POLL_FREQUENCY="1"),
        log,
    )
    try:
        await _wait_for_deployment(SERVED, 60)
        flow_run = await run_deployment(  # type: ignore[misc]
            SERVED, parameters={"credentials_block": BLOCK}, timeout=0
        )
        await asyncio.to_thread(wait_for, lambda: emulator.stats()["running_backtests"], 90,
                                "the backtest to run")
        pid = await asyncio.to_thread(
            wait_for, lambda: _process_of_flow_run(runner.pid, flow_run.id), 10, "the run's pid"
        )
        os.kill(pid, signal.SIGKILL)
        final = await _wait_for_final_state(flow_run.id, 60)
        try:
            await asyncio.to_thread(wait_for, lambda: not emulator.projects(), 30, "the clean-up")
        except AssertionError as error:
            raise AssertionError(f"{error}; run ended {final}\n{log.read_text()[-4000:]}") from None
    finally:
        stop(runner)
    assert final == "Crashed"
    assert emulator.stats()["running_backtests"] == 0
    # The hook stopped the backtest before it removed the project.
    order = paths(emulator, "/backtests/delete", "/projects/delete")
    assert order[0] == "/backtests/delete" and "/projects/delete" in order
