"""Runs that end abnormally: killed outright (the sweeper cleans up), killed under a runner (the
crash hook cleans up, in the runner's process) or cancelled through the Prefect API (the
cancellation hook cleans up, in the runner's process).

Each runs twice: for the lifecycle, and for a second flow (``tests.flows.common.scratch_flow``) that
only uses the temporary-project mechanism of ``flows.common.temporary``, so the guarantees are the
mechanism's, not the lifecycle's."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Cancelling, Crashed

from flows.common.temporary import temporary_run_id
from flows.projects.forms import SweepOptions
from flows.projects.sweep import sweep_temporary_projects
from tests.helpers import credentials_for
from tests.reliability.conftest import (
    report_figures,
    start_python,
    subprocess_env,
    wait_for,
)
from tests.reliability.proxy import CuttableProxy

pytestmark = pytest.mark.anyio

KILL_PREFIX = "kill-tmp-"
CRASH_PREFIX = "crash-tmp-"
CANCEL_PREFIX = "cancel-tmp-"
CANCEL_BLOCK = "reliability-cancel"
CRASH_BLOCK = "reliability-crash"
SERVED_AS = "reliability-cancel"


@dataclass(frozen=True)
class TemporaryFlow:
    """A flow that makes a temporary project, and how to start it in another process."""

    module: str
    function: str
    flow_name: str
    parameters: Callable[[str, str | None], dict[str, Any]]

    @property
    def deployment(self) -> str:
        return f"{self.flow_name}/{SERVED_AS}"

    def run_one(self, prefix: str) -> str:
        """A run in a process of its own, with ``QC_*`` credentials."""
        return (
            f"import asyncio\nfrom {self.module} import {self.function}\n"
            f"asyncio.run({self.function}(**{self.parameters(prefix, None)!r}))\n"
        )

    def serve(self) -> str:
        """``flow.serve``: a runner that starts runs in child processes and watches for
        cancellation."""
        serve = f"{self.function}.serve(name={SERVED_AS!r})"
        return f"from {self.module} import {self.function}\n{serve}\n"


LIFECYCLE = TemporaryFlow(
    "flows.projects.lifecycle",
    "temporary_project_lifecycle",
    "temporary-project-lifecycle",
    lambda prefix, block: {
        "options": {"name_prefix": prefix},
        **({"credentials_block": block} if block else {}),
    },
)
SECOND_FLOW = TemporaryFlow(
    "tests.flows.common.scratch_flow",
    "scratch_flow",
    "temporary-scratch",
    lambda prefix, block: {"prefix": prefix, **({"credentials_block": block} if block else {})},
)
FLOWS = [pytest.param(LIFECYCLE, id="lifecycle"), pytest.param(SECOND_FLOW, id="second-flow")]


def projects_named(emulator: Any, prefix: str) -> list[dict[str, Any]]:
    return [
        p for p in emulator.projects() if p["name"].removeprefix("Recycle Bin/").startswith(prefix)
    ]


def hold_the_first_read(emulator: Any, seconds: float) -> None:
    """Keep the run busy right after its create: the verification read answers late."""
    emulator.set_faults(slow_response_seconds=seconds)
    emulator.inject("slow_response", path="/projects/read", count=1)


def the_run_is_held(emulator: Any) -> bool:
    """Whether the held read has arrived (acting before it would leave it armed for the next
    reader: a clean-up's listing would then stall instead)."""
    return not emulator.emulator.faults.pending_injections()


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize("temporary_flow", FLOWS)
async def test_sigkilled_run_leaves_a_project_the_sweeper_removes(
    qc_emulator, prefect_server, tmp_path: Path, temporary_flow: TemporaryFlow
) -> None:
    hold_the_first_read(qc_emulator, 30)
    env = subprocess_env(
        prefect_server,
        QC_USER_ID=str(qc_emulator.user_id),
        QC_API_TOKEN=qc_emulator.api_token,
        QC_BASE_URL=qc_emulator.base_url,
        QC_READ_TIMEOUT="60",
    )
    started = time.monotonic()
    process = start_python(temporary_flow.run_one(KILL_PREFIX), env, tmp_path / "run.log")
    try:
        [project] = await asyncio.to_thread(
            wait_for, lambda: projects_named(qc_emulator, KILL_PREFIX), 60, "the project"
        )
        await asyncio.to_thread(wait_for, lambda: the_run_is_held(qc_emulator), 30, "the read")
        created_after = time.monotonic() - started
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        stop(process, signal.SIGKILL)

    # Nothing ran after the kill: the project is still live.
    assert [p["name"] for p in projects_named(qc_emulator, KILL_PREFIX)] == [project["name"]]
    assert not project["name"].startswith("Recycle Bin/")

    sweep = SweepOptions(
        name_prefix=KILL_PREFIX, ttl_minutes=0, purge=True, include_recycle_bin=True
    )
    # Prefect still shows the killed run as Running: the sweeper spares its project...
    spared = await sweep_temporary_projects(sweep, credentials=credentials_for(qc_emulator))
    assert (spared.matched, spared.spared) == (0, 1)
    assert spared.items[0].run_state == "Running"
    # ...until the run is marked Crashed (as Prefect's heartbeat-based zombie detection, or an
    # operator, does for a run whose process died).
    run_id = temporary_run_id(project["name"], KILL_PREFIX)
    assert run_id is not None
    async with get_client() as client:
        await client.set_flow_run_state(run_id, Crashed(message="process killed"), force=True)
    report = await sweep_temporary_projects(sweep, credentials=credentials_for(qc_emulator))
    assert report.matched == report.deleted == 1
    assert report.items[0].project_id == project["projectId"]
    assert qc_emulator.projects() == []
    report_figures(
        f"kill test (SIGKILL right after the create), {temporary_flow.flow_name}",
        [
            f"project {project['name']} created {created_after:.1f} s after start; "
            "process SIGKILLed; project still live afterwards: yes",
            f"sweep (ttl 0) while Prefect shows the run Running: spared {spared.spared}",
            f"sweep after the run is marked Crashed: matched {report.matched}, removed "
            f"{report.deleted}; projects left: {len(qc_emulator.projects())}",
        ],
    )


def _process_of_flow_run(ancestor: int, flow_run_id: UUID) -> int | None:
    """The pid of the descendant of ``ancestor`` that runs ``flow_run_id``, or None while there
    is none. ``flow.serve`` runs each flow run in a ``multiprocessing`` spawn child (told which
    run through a pipe); other starters name the run in the child's environment."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    pending = list(children.get(ancestor, []))
    while pending:
        pid = pending.pop()
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode() in environ or b"spawn_main" in cmdline:
            return pid
        pending += children.get(pid, [])
    return None


@asynccontextmanager
async def served_run_held_after_create(
    emulator: Any, api_url: str, log: Path, temporary_flow: TemporaryFlow, prefix: str, block: str
) -> AsyncIterator[tuple[subprocess.Popen[bytes], FlowRun, dict[str, Any]]]:
    """``flow.serve`` in a child process and one run of it (``prefix``, saved block ``block``),
    held in the read right after its create: yields the runner, the run and its project; stops
    the runner on the way out."""
    runner = start_python(
        temporary_flow.serve(), subprocess_env(api_url, PREFECT_RUNNER_POLL_FREQUENCY="1"), log
    )
    try:
        await _wait_for_deployment(temporary_flow.deployment, 60)
        flow_run = await run_deployment(  # type: ignore[misc]
            temporary_flow.deployment,
            parameters=temporary_flow.parameters(prefix, block),
            timeout=0,
        )
        [project] = await asyncio.to_thread(
            wait_for, lambda: projects_named(emulator, prefix), 60, "the project"
        )
        await asyncio.to_thread(wait_for, lambda: the_run_is_held(emulator), 30, "the read")
        yield runner, flow_run, project
    finally:
        stop(runner)


@pytest.mark.parametrize("temporary_flow", FLOWS)
async def test_run_killed_under_a_runner_is_cleaned_up_by_its_crash_hook(
    qc_emulator, prefect_server, tmp_path: Path, temporary_flow: TemporaryFlow
) -> None:
    """SIGKILL of the process running a served flow: nothing in that process runs again, so the
    runner sees it die, marks the run Crashed and runs ``remove_leftovers`` itself (names from
    the run id, credentials from the saved block): no sweep needed."""
    hold_the_first_read(qc_emulator, 30)
    await credentials_for(qc_emulator, read_timeout=60).asave(CRASH_BLOCK, overwrite=True)
    log = tmp_path / "serve.log"
    async with served_run_held_after_create(
        qc_emulator, prefect_server, log, temporary_flow, CRASH_PREFIX, CRASH_BLOCK
    ) as (runner, flow_run, project):
        pid = await asyncio.to_thread(
            wait_for, lambda: _process_of_flow_run(runner.pid, flow_run.id), 10, "the run's pid"
        )
        os.kill(pid, signal.SIGKILL)
        final = await _wait_for_final_state(flow_run.id, 60)
        try:
            await asyncio.to_thread(
                wait_for, lambda: not projects_named(qc_emulator, CRASH_PREFIX), 30, "the clean-up"
            )
        except AssertionError as error:
            raise AssertionError(f"{error}; run ended {final}\n{log.read_text()[-4000:]}") from None
        hook_line = await asyncio.to_thread(
            wait_for,
            lambda: [line for line in log.read_text().splitlines()
                     if "ended Crashed" in line and "temporary project" in line],
            15,
            "the hook's log line",
        )

    assert final == "Crashed"
    assert "removed 1 temporary project(s)" in hook_line[-1]
    assert qc_emulator.projects() == []
    report_figures(
        f"kill under a runner (SIGKILL of the flow-run process, flow.serve), "
        f"{temporary_flow.flow_name}",
        [
            f"run {flow_run.id} -> {final}; project {project['projectId']} created before the "
            "kill",
            "runner's on_crashed hook (credentials from the saved block): "
            + hook_line[-1].split(" - ")[-1],
            f"projects left: {len(qc_emulator.projects())}",
        ],
    )


async def _wait_for_deployment(name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            try:
                await client.read_deployment_by_name(name)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def _wait_for_final_state(flow_run_id: UUID, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while True:
            state = (await client.read_flow_run(flow_run_id)).state
            if state is not None and state.is_final():
                return str(state.name)
            if time.monotonic() > deadline:
                raise AssertionError(f"run still {state and state.name} after {timeout:g} s")
            await asyncio.sleep(0.2)


async def _run_log_messages(flow_run_id: UUID) -> list[str]:
    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    return [log.message for log in logs]


@pytest.mark.parametrize("temporary_flow", FLOWS)
async def test_cancelled_run_is_cleaned_up_by_its_cancellation_hook(
    qc_emulator, prefect_server, tmp_path: Path, temporary_flow: TemporaryFlow
) -> None:
    """The flow process loses its network, then the run is cancelled: its own clean-up cannot
    reach the service, so the project is removed by ``remove_leftovers``, which the runner runs
    in its own process with credentials rebuilt from the saved block."""
    hold_the_first_read(qc_emulator, 20)
    proxy = CuttableProxy(qc_emulator.port)
    proxied = credentials_for(qc_emulator, base_url=proxy.url(), read_timeout=60, max_attempts=1)
    await proxied.asave(CANCEL_BLOCK, overwrite=True)
    log = tmp_path / "serve.log"
    try:
        async with served_run_held_after_create(
            qc_emulator, prefect_server, log, temporary_flow, CANCEL_PREFIX, CANCEL_BLOCK
        ) as (_, flow_run, project):
            # The service moves (the saved block follows it); the flow process's connection is
            # gone.
            await credentials_for(qc_emulator, read_timeout=60).asave(CANCEL_BLOCK, overwrite=True)
            proxy.cut()
            async with get_client() as client:
                result: Any = await client.set_flow_run_state(flow_run.id, Cancelling())
            assert result.status.value == "ACCEPT"
            final = await _wait_for_final_state(flow_run.id, 90)
            await asyncio.to_thread(
                wait_for, lambda: not projects_named(qc_emulator, CANCEL_PREFIX), 30, "the clean-up"
            )
            hook_line = await asyncio.to_thread(
                wait_for,
                lambda: [
                    line
                    for line in log.read_text().splitlines()
                    if "removed" in line and "temporary project" in line
                ],
                15,
                "the hook's log line",
            )
    finally:
        proxy.cut()

    assert final == "Cancelled"
    assert "ended Cancelling; removed 1 temporary project(s)" in hook_line[-1]
    # The runner ships its log lines in batches: wait for the hook's.
    hook_done = "Hook 'remove_leftovers' finished running successfully"
    deadline = time.monotonic() + 15
    messages = await _run_log_messages(flow_run.id)
    while not any(hook_done in m for m in messages):
        assert time.monotonic() < deadline, messages
        await asyncio.sleep(0.5)
        messages = await _run_log_messages(flow_run.id)
    # The flow's own safety net could not reach the service: the hook did the work.
    assert any(m.startswith("Safety net: could not remove") for m in messages), messages
    assert qc_emulator.projects() == []
    report_figures(
        f"cancellation through the Prefect API (flow.serve runner), {temporary_flow.flow_name}",
        [
            f"run {flow_run.id} -> {final}; project {project['projectId']} created before the "
            "cancel",
            "flow process's own clean-up: could not reach the service (network cut)",
            "runner's on_cancellation hook (credentials from the saved block): "
            + hook_line[-1].split(" - ")[-1],
            f"projects left: {len(qc_emulator.projects())}",
        ],
    )
