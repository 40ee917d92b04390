"""End to end: ``prefect.yaml`` deployed to a real server, runs picked up by a real process worker.

Runs once per server database (SQLite; PostgreSQL when installed). The tests of this file share
one stack (test_e2e_backtests.py has its own); each checks its own runs, and the stack's teardown
checks that every run it saw completed and that no temporary project is left (so no test's
verdict depends on another's).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
import yaml

from deployments import CREDENTIALS_BLOCK_NAME, PREFECT_YAML, REPO_ROOT, WORK_POOL_NAME
from deployments.spec import load_deployment_specs
from flows.common.temporary import RENAMED_SUFFIX
from quantconnect_client import RECYCLE_BIN_PREFIX, QuantConnectClient
from tests.deployments.conftest import Stack
from tests.deployments.stack import PREFECT, run_cli

pytestmark = pytest.mark.e2e

LIFECYCLE = "temporary-project-lifecycle/lifecycle-check"
SWEEPER = "sweep-temporary-projects/sweeper"
INVENTORY = "project-inventory/inventory"
BULK_UPDATE = "bulk-update-projects/bulk-update"
ORPHAN_PREFIX = "e2e-orphan-"
TEMPORARY_PREFIXES = ("prefect-tmp-", ORPHAN_PREFIX)


def _emulator_client(stack: Stack) -> QuantConnectClient:
    return QuantConnectClient(
        stack.emulator.user_id, stack.emulator.api_token, base_url=stack.emulator.base_url
    )


def _temporary_projects(stack: Stack) -> list[str]:
    names = [p["name"].removeprefix(RECYCLE_BIN_PREFIX) for p in stack.emulator.projects()]
    return [n for n in names if n.startswith(TEMPORARY_PREFIXES)]


def _created_names(stack: Stack) -> list[str]:
    return [
        str(entry.get("name"))
        for entry in stack.emulator.requests_log()
        if entry["path"].endswith("/projects/create") and entry.get("status") == 200
    ]


def test_deploy_all_registers_what_prefect_yaml_says(stack: Stack) -> None:
    with stack.client() as client:
        for spec in load_deployment_specs():
            flow = spec.load_flow()
            deployment = client.read_deployment_by_name(f"{flow.name}/{spec.name}")
            assert deployment.work_pool_name == WORK_POOL_NAME
            assert deployment.entrypoint == spec.entrypoint
            assert deployment.enforce_parameter_schema is True
            # Credentials by block name only: nothing secret in the deployment.
            assert deployment.parameters == spec.parameters
            assert deployment.parameters["credentials_block"] == CREDENTIALS_BLOCK_NAME
            assert stack.emulator.api_token not in deployment.model_dump_json()
            # The pull step points at the checkout `prefect deploy` ran in.
            assert deployment.pull_steps == [
                {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO_ROOT)}}
            ]
            assert deployment.job_variables == {"env": spec.env}
            shipped = [
                (s.active, getattr(s.schedule, "cron", None), getattr(s.schedule, "interval", None))
                for s in deployment.schedules
            ]
            assert shipped == [(s.active, s.cron, s.interval) for s in spec.prefect_schedules()]
            limit = spec.prefect_concurrency_limit()
            gcl = deployment.global_concurrency_limit
            if limit is None:
                assert gcl is None
            elif isinstance(limit, int):
                assert gcl is not None and gcl.limit == limit
            else:
                assert gcl is not None and gcl.limit == limit.limit
                assert deployment.concurrency_options is not None
                assert deployment.concurrency_options.collision_strategy == limit.collision_strategy

        pool = client.read_work_pool(WORK_POOL_NAME)
        assert pool.type == "process" and pool.concurrency_limit == 4


def test_invalid_parameters_are_rejected_before_a_run_starts(stack: Stack) -> None:
    from prefect.exceptions import PrefectHTTPStatusError

    with stack.client() as client:
        before = len(client.read_flow_runs())
        with pytest.raises(PrefectHTTPStatusError) as rejected:
            stack.run_deployment(
                LIFECYCLE,
                parameters={"options": {"language": "Java"}},
                timeout=0,
            )
        assert rejected.value.response.status_code == 409
        assert "Java" in rejected.value.response.text or "language" in rejected.value.response.text
        # The same through the CLI: a non-zero exit that says why, and still no run.
        cli = subprocess.run(
            [PREFECT, "--no-prompt", "deployment", "run", LIFECYCLE,
             "--params", '{"options": {"language": "Java"}}'],
            env=stack.server.env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
        )
        said = cli.stdout + cli.stderr
        assert cli.returncode != 0, said
        assert "language" in said or "Java" in said, said
        assert len(client.read_flow_runs()) == before


def test_lifecycle_runs_from_the_cli_and_from_run_deployment(stack: Stack) -> None:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    # One transient failure (on whichever run reads first; the inventory lists with
    # /projects/read too): the client retries it, and its warning reaches that run's logs.
    stack.emulator.inject("http_503_html", path="/projects/read", count=1)
    cli = subprocess.Popen(
        [
            PREFECT,
            "--no-prompt",
            "deployment",
            "run",
            LIFECYCLE,
            "--params",
            '{"options": {"language": "C#"}}',
        ],
        env=stack.server.env(),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        inventory = stack.run_deployment(INVENTORY, timeout=0)
        lifecycle = stack.run_deployment(LIFECYCLE, timeout=150, poll_interval=1)
        output, _ = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, output
    found = re.search(r"UUID: ([0-9a-f-]{36})", output)
    assert found, output
    from_cli = UUID(found.group(1))

    runs = stack.wait_for_runs([lifecycle.id, from_cli, inventory.id])
    assert [r.state.type.value for r in runs] == ["COMPLETED"] * 3, stack.logs()
    assert runs[1].parameters["options"]["language"] == "C#"
    created = _created_names(stack)
    for run in runs[:2]:
        assert f"prefect-tmp-{run.id}" in created
    assert _temporary_projects(stack) == []

    # A run's last logs reach the API as its process exits, just after its final state.
    retry_logged = False
    deadline = time.monotonic() + 20
    with stack.client() as client:
        while not retry_logged and time.monotonic() < deadline:
            logs = client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[r.id for r in runs]))
            )
            retry_logged = any(
                log.name == "quantconnect_client" and "retrying" in log.message for log in logs
            )
            time.sleep(0.5)
    assert retry_logged, f"no client retry in the runs' logs\n{stack.logs()}"


def test_bulk_update_changes_only_the_chosen_folder_when_asked(stack: Stack) -> None:
    qc = _emulator_client(stack)
    ids = {name: qc.projects.create(name, "Py").project_id
           for name in ("E2E-Bulk/Alpha", "E2E-Bulk/Beta", "E2E-Other/Gamma")}
    try:
        # As from the UI: first the dry run (the default), then the same change for real.
        options: dict[str, Any] = {"folder": "E2E-Bulk", "description": "Reviewed (e2e)"}
        dry = stack.run_deployment(
            BULK_UPDATE, parameters={"options": options}, timeout=150, poll_interval=1
        )
        unchanged = qc.projects.read(ids["E2E-Bulk/Alpha"]).description
        applied = stack.run_deployment(
            BULK_UPDATE, parameters={"options": {**options, "dry_run": False}},
            timeout=150, poll_interval=1,
        )
        runs = stack.wait_for_runs([dry.id, applied.id])
        assert [r.state.type.value for r in runs] == ["COMPLETED"] * 2, stack.logs()
        assert runs[1].parameters["credentials_block"] == CREDENTIALS_BLOCK_NAME
        described = {name: qc.projects.read(pid).description for name, pid in ids.items()}
        assert unchanged != "Reviewed (e2e)"  # the dry run changed nothing
        assert described["E2E-Bulk/Alpha"] == described["E2E-Bulk/Beta"] == "Reviewed (e2e)"
        assert described["E2E-Other/Gamma"] != "Reviewed (e2e)"
    finally:
        for project_id in ids.values():
            qc.projects.purge(project_id)


def test_a_schedule_fires_the_sweeper_on_its_own(stack: Stack) -> None:
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.schedules import IntervalSchedule

    qc = _emulator_client(stack)
    # Named as a killed run's project would be: `<prefix><flow run id>` (no such run exists).
    live = qc.projects.create(f"{ORPHAN_PREFIX}{uuid4()}", "Py")
    binned = qc.projects.create(f"{ORPHAN_PREFIX}{uuid4()}{RENAMED_SUFFIX}", "Py")
    qc.projects.delete(binned.project_id)
    keeper = qc.projects.create("keep-me", "Py")

    with stack.client() as client:
        deployment = client.read_deployment_by_name(SWEEPER)
        # The shipped half-hourly schedule stays; a test schedule is added beside it, with its
        # own parameters. Its first run comes due in 5 s (a slot the scheduler has time to see
        # coming); the next a minute later, long after the first has finished and the schedule
        # is gone: with `collision_strategy: CANCEL_NEW`, overlapping runs would be cancelled.
        [schedule] = client.create_deployment_schedules(
            deployment.id,
            [
                DeploymentScheduleCreate(
                    schedule=IntervalSchedule(
                        interval=timedelta(seconds=60),
                        anchor_date=datetime.now(timezone.utc) + timedelta(seconds=5),
                    ),
                    active=True,
                    parameters={
                        "options": {
                            "name_prefix": ORPHAN_PREFIX,
                            "ttl_minutes": 0,
                            "include_recycle_bin": True,
                            "purge": True,
                        }
                    },
                )
            ],
        )
        try:
            deadline = time.monotonic() + 150
            while True:
                runs = [
                    r
                    for r in client.read_flow_runs(
                        deployment_filter=DeploymentFilter(
                            id=DeploymentFilterId(any_=[deployment.id])
                        )
                    )
                    if r.auto_scheduled
                    and r.parameters.get("options", {}).get("name_prefix") == ORPHAN_PREFIX
                    and r.state is not None
                    and r.state.is_final()
                ]
                if runs:
                    break
                assert time.monotonic() < deadline, f"no scheduled sweep finished\n{stack.logs()}"
                time.sleep(0.5)
        finally:
            client.delete_deployment_schedule(deployment.id, schedule.id)

    assert runs[0].state is not None and runs[0].state.is_completed(), stack.logs()
    names = [p["name"] for p in stack.emulator.projects()]
    assert not [n for n in names if ORPHAN_PREFIX in n]
    assert "keep-me" in names
    qc.projects.purge(keeper.project_id)
    assert live.project_id not in [p["projectId"] for p in stack.emulator.projects()]


def test_a_worker_runs_from_a_git_clone_with_the_documented_pull_step(stack: Stack) -> None:
    """prefect.yaml's alternative for workers on other machines: clone, then run from the clone
    (here a bare clone of this checkout's commit, by ``file://`` URL)."""
    if stack.database != "sqlite":
        pytest.skip("the pull step does not depend on the server's database")
    origin = stack.workdir / "origin.git"
    run_cli(["git", "clone", "--quiet", "--bare", str(REPO_ROOT), str(origin)], os.environ,
            stack.workdir)
    document = yaml.safe_load(PREFECT_YAML.read_text())
    del document["build"]  # nothing about the deploying machine's directory is needed
    document["pull"] = [
        {"prefect.deployments.steps.git_clone": {"id": "clone", "repository": origin.as_uri()}},
        {"prefect.deployments.steps.set_working_directory": {
            "directory": "{{ clone.directory }}"}},
        # Evidence of where the run started (the worker removes its run directory afterwards).
        {"prefect.deployments.steps.run_shell_script": {
            "script": f"cp flows/projects/inventory.py {stack.workdir / 'pulled-inventory.py'}"}},
    ]
    [inventory] = [d for d in document["deployments"] if d["name"] == "inventory"]
    document["deployments"] = [{**inventory, "name": "inventory-from-git"}]
    variant = stack.workdir / "prefect-git.yaml"
    variant.write_text(yaml.safe_dump(document, sort_keys=False))
    run_cli([PREFECT, "--no-prompt", "deploy", "--prefect-file", str(variant),
             "--name", "inventory-from-git"], stack.server.env(), REPO_ROOT)

    run = stack.run_deployment("project-inventory/inventory-from-git", timeout=150,
                               poll_interval=1)
    assert run.state is not None and run.state.is_completed(), stack.logs()
    with stack.client() as client:
        deployment = client.read_deployment_by_name("project-inventory/inventory-from-git")
    assert deployment.pull_steps is not None
    assert deployment.pull_steps[0]["prefect.deployments.steps.git_clone"]["repository"] == (
        origin.as_uri()
    )
    committed = run_cli(["git", "show", "HEAD:flows/projects/inventory.py"], os.environ,
                        REPO_ROOT).stdout
    assert (stack.workdir / "pulled-inventory.py").read_text() == committed  # ran in the clone


def test_serve_runs_a_deployment_without_a_worker(stack: Stack) -> None:
    """``python -m deployments.serve``: the same deployment, served from one process."""
    if stack.database != "sqlite":
        pytest.skip("the serve entry point does not depend on the server's database")
    from prefect.exceptions import ObjectNotFound

    from tests.deployments.stack import VENV_BIN, spawn, stop

    # The served deployment takes the place of the worker's one of the same name.
    with stack.client() as client:
        client.delete_deployment(client.read_deployment_by_name(INVENTORY).id)
    log = stack.workdir / "serve.log"
    served = spawn(
        [
            str(VENV_BIN / "python"),
            "-m",
            "deployments.serve",
            "--only",
            "inventory",
            "--limit",
            "1",
        ],
        stack.server.env(PREFECT_RUNNER_POLL_FREQUENCY="1"),
        log,
        cwd=REPO_ROOT,  # as a user starts it: from the checkout (the project is not installed)
    )
    try:
        with stack.client() as client:
            deadline = time.monotonic() + 60
            while True:
                assert served.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                with contextlib.suppress(ObjectNotFound):
                    deployment = client.read_deployment_by_name(INVENTORY)
                    break
                time.sleep(0.5)
        assert deployment.work_pool_name is None
        run = stack.run_deployment(INVENTORY, timeout=120, poll_interval=1)
        assert run.state is not None and run.state.is_completed(), log.read_text()
        assert run.work_pool_name is None
        assert str(run.id) in log.read_text()
    finally:
        stop(served)
