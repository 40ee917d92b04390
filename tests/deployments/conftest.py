"""One real Prefect stack per end-to-end test file and server database.

A stack per file (module scope), not one for the folder: the files' stacks run on separate xdist
workers at once (tests/conftest.py), where one shared stack ran every end-to-end test in series.

The stack: a ``prefect server`` with its own home (SQLite, or a private PostgreSQL cluster), the
QuantConnect emulator, the work pool and credentials block made by ``deployments.setup``, a
``prefect worker`` subprocess, and the deployments of ``prefect.yaml`` made by
``prefect --no-prompt deploy --all`` from the repository root. Teardown stops the worker before
the server and the server before its database, whatever the tests did.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.objects import FlowRun

from deployments import REPO_ROOT, WORK_POOL_NAME
from flows.common.temporary import temporary_run_id
from tests.deployments.stack import (
    PREFECT,
    PostgresCluster,
    PrefectServer,
    postgres_unavailable_reason,
    run_cli,
    tail,
    worker,
)
from tests.harness import release_prefect_services

FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Stack:
    """A running server + worker with the ``prefect.yaml`` deployments applied."""

    database: str
    server: PrefectServer
    emulator: Any
    workdir: Path

    @property
    def worker_log(self) -> Path:
        return self.workdir / "worker.log"

    def cli(self, *args: str, timeout: float = 180) -> str:
        """Run ``prefect <args>`` against this server from the repository root."""
        command = [PREFECT, "--no-prompt", *args]
        return run_cli(command, self.server.env(), REPO_ROOT, timeout).stdout

    def run_deployment(self, name: str, **options: Any) -> FlowRun:
        """``prefect.deployments.run_deployment``, called from synchronous code."""
        from prefect.deployments import run_deployment

        run = run_deployment(name, **options)
        assert isinstance(run, FlowRun)
        return run

    def client(self) -> Any:
        from prefect.client.orchestration import get_client

        return get_client(sync_client=True)

    def logs(self) -> str:
        worker_log, server_log = tail(self.worker_log, 60), tail(self.server.log)
        return f"--- worker log\n{worker_log}\n--- server log\n{server_log}"

    def wait_for_runs(self, run_ids: list[Any], timeout: float = 150) -> list[Any]:
        """Wait until every run is in a final state; return the runs."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while True:
                runs = [client.read_flow_run(run_id) for run_id in run_ids]
                if all(
                    run.state is not None and run.state.type.value in FINAL_STATES for run in runs
                ):
                    return runs
                if time.monotonic() > deadline:
                    states = {str(r.id): r.state.name if r.state else None for r in runs}
                    raise AssertionError(
                        f"runs unfinished after {timeout} s: {states}\n{self.logs()}"
                    )
                time.sleep(0.5)


def _check_nothing_left(stack: Stack) -> None:
    """Whatever the tests ran: every run that started completed, no temporary project is left."""
    from quantconnect_client import RECYCLE_BIN_PREFIX

    with stack.client() as client:
        started = [r for r in client.read_flow_runs() if r.state and not r.state.is_scheduled()]
    runs = stack.wait_for_runs([r.id for r in started])
    states = {f"{r.name} ({r.id})": r.state.name for r in runs if r.state}
    assert set(states.values()) <= {"Completed"}, f"{states}\n{stack.logs()}"
    names = [p["name"].removeprefix(RECYCLE_BIN_PREFIX) for p in stack.emulator.projects()]
    assert not [n for n in names if temporary_run_id(n) is not None], names


def _database_params() -> list[Any]:
    reason = postgres_unavailable_reason()
    return [
        "sqlite",
        pytest.param(
            "postgresql", marks=pytest.mark.skipif(reason is not None, reason=reason or "")
        ),
    ]


@pytest.fixture(scope="module", params=_database_params())
def stack(request: pytest.FixtureRequest, qc_emulator_server: Any) -> Iterator[Stack]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from deployments.setup import main as setup_main

    database: str = request.param
    workdir = Path(tempfile.mkdtemp(prefix=f"qc-e2e-{database}-"))
    postgres = (
        PostgresCluster(Path(tempfile.mkdtemp(prefix="qc-e2e-pg-")))
        if database == "postgresql"
        else None
    )
    server: PrefectServer | None = None
    try:
        if postgres is not None:
            postgres.start()
        server = PrefectServer(
            home=workdir / "prefect-home",
            log_dir=workdir,
            database_url=postgres.url if postgres else None,
        )
        server.start()
        qc_emulator_server.reset()
        qc_emulator_server.set_faults(None)
        with contextlib.ExitStack() as running:
            running.enter_context(temporary_settings({PREFECT_API_URL: server.api_url}))
            # deployments.setup, as a user runs it: pool, block type, block from QC_*.
            env = running.enter_context(pytest.MonkeyPatch.context())
            env.setenv("QC_USER_ID", str(qc_emulator_server.user_id))
            env.setenv("QC_API_TOKEN", qc_emulator_server.api_token)
            env.setenv("QC_BASE_URL", qc_emulator_server.base_url)
            assert setup_main([]) == 0
            env.undo()
            # The worker starts away from the checkout: the pull step must take runs there.
            running.enter_context(worker(server, WORK_POOL_NAME, workdir, cwd=workdir))
            run_cli([PREFECT, "--no-prompt", "deploy", "--all"], server.env(), REPO_ROOT)
            stack = Stack(database, server, qc_emulator_server, workdir)
            try:
                yield stack
                _check_nothing_left(stack)
            finally:
                release_prefect_services()
    finally:
        # Workers stopped with the ExitStack above; now the server, then its database.
        if server is not None:
            server.stop()
        if postgres is not None:
            postgres.stop()
            shutil.rmtree(postgres.directory, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
