"""Two ``deploy-live`` runs for one project at once, with and without ``replace``: at most one
live algorithm is started, the other run is refused, and with ``replace`` the fresh deploy of
one run is never stopped by the other while they overlap (a run created after the other's deploy is
a later request, and its replace replaces). Two runs of one strategy *folder* at once, whose
project does not exist yet, make one project and start one live algorithm."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.backtests.forms import StrategyChoice
from flows.backtests.strategy_folder import load_strategy
from flows.live.deploy import deploy_live_flow
from flows.live.forms import DeployLiveOptions
from quantconnect_emulator import EmulatorServer
from quantconnect_emulator.registry import HANDLERS
from tests.flows.live.helpers import deploy
from tests.reliability.conftest import report_figures
from tests.reliability.soak import soak_credentials

pytestmark = pytest.mark.anyio

RUNS = 2
#: How long the emulator may hold the first create of the folder's project: the window in
#: which the other run, unserialised, finds no project and creates one too.
CREATE_HOLD_SECONDS = 8.0
CREATE = "/projects/create"
EXAMPLE = load_strategy("strategies/sma_crossover_py").files[0].content


@pytest.mark.parametrize("replace", [False, True])
async def test_two_deploys_at_once_start_at_most_one_algorithm(replace: bool) -> None:
    with EmulatorServer(seed=31) as server:
        server.set_jobs(live_queue_seconds=0.1, live_initializing_seconds=0.1,
                        live_day_seconds=0.2, live_nodes=4)
        credentials = soak_credentials(server).model_copy(update={"read_timeout": 5.0})
        client = credentials.get_client()
        if replace:
            project_id = deploy(credentials, "conc-live")
        else:
            project_id = int(client.projects.create("conc-live", "Py").project_id)
            client.files.update(project_id, "main.py", EXAMPLE)
        before = {a.deploy_id for a in client.live.list(project_id)}
        options = DeployLiveOptions(
            strategy=StrategyChoice(strategy_folder=None, project_id=project_id),
            gate_backtest=False, replace=replace, deploy_timeout_minutes=0.5)
        started = time.perf_counter()
        states: list[Any] = await asyncio.gather(*(
            deploy_live_flow(options=options, credentials=credentials, return_state=True)
            for _ in range(RUNS)))
        seconds = time.perf_counter() - started
        algorithms = client.live.list(project_id)

    new = [a for a in algorithms if a.deploy_id not in before]
    running = [a for a in algorithms if not a.ended]
    outcomes = sorted(["running" if s.is_completed() else type(await _exception(s)).__name__
                       for s in states])
    report_figures(
        f"live concurrency (replace={replace})",
        [f"{RUNS} deploy-live runs at once for one project: {len(new)} live algorithm(s) "
         f"started, {len(running)} running, outcomes {outcomes}, {seconds:.1f} s"],
    )
    assert len(running) == 1, f"{len(running)} live algorithms running for one project"
    if replace and not await _overlapped(states):
        # Under load the engine may create the second run only after the first deployed: two
        # requests one after the other, and a replace may then replace, as asked, or refuse
        # (a deploy within the second the run began counts as after it: the safe side).
        assert (len(new), outcomes) in [(2, ["running", "running"]),
                                        (1, ["LiveConflictError", "running"])], (new, outcomes)
        return
    assert len(new) <= 1, f"{len(new)} live algorithms started for one project"
    assert len(new) == 1 and running[0].deploy_id == new[0].deploy_id
    assert outcomes == ["LiveConflictError", "running"]


async def test_two_deploys_of_one_folder_at_once_make_one_project_and_one_algorithm() -> None:
    name = "Live/conc-folder"
    with EmulatorServer(seed=33) as server:
        server.set_jobs(live_queue_seconds=0.1, live_initializing_seconds=0.1,
                        live_day_seconds=0.2, live_nodes=4)
        credentials = soak_credentials(server).model_copy(update={"read_timeout": 10.0})
        options = DeployLiveOptions(live_project_name=name, gate_backtest=False,
                                    deploy_timeout_minutes=0.5)
        started = time.perf_counter()
        with _first_create_held(server):
            states: list[Any] = await asyncio.gather(*(
                deploy_live_flow(options=options, credentials=credentials, return_state=True)
                for _ in range(RUNS)))
        seconds = time.perf_counter() - started
        client = credentials.get_client()
        projects = client.projects.find_by_name(name)
        algorithms = [a for p in projects for a in client.live.list(p.project_id)]
    outcomes = sorted(["running" if s.is_completed() else type(await _exception(s)).__name__
                       for s in states])
    report_figures("live concurrency (one folder)", [
        f"{RUNS} deploy-live runs of one folder at once, its project not there yet: "
        f"{len(projects)} project(s) named {name}, {len(algorithms)} live algorithm(s), "
        f"outcomes {outcomes}, {seconds:.1f} s"])
    assert len(projects) == 1, f"{len(projects)} projects named {name}"
    assert len(algorithms) == 1, f"{len(algorithms)} live algorithms for one folder"
    assert outcomes == ["LiveConflictError", "running"]


@contextmanager
def _first_create_held(server: EmulatorServer) -> Iterator[None]:
    """This emulator holds its first ``projects/create`` until another project list was read
    (or ``CREATE_HOLD_SECONDS`` passed), before taking the account's lock: the other run's
    requests are answered meanwhile. Two runs then always meet in the window between one's
    find and its create, however far apart the engine begins them; a run that waits for the
    first to have made the project never lists meanwhile, and the hold ends at its deadline.
    """
    original = HANDLERS[CREATE]
    account = server.emulator.account
    first = threading.Event()

    def lists() -> int:
        return sum(e["path"].endswith("/projects/read") and e.get("project_id") is None
                   for e in server.requests_log())

    def held(on: Any, params: Any) -> Any:
        if on is account and not first.is_set():
            first.set()
            seen, deadline = lists(), time.monotonic() + CREATE_HOLD_SECONDS
            while lists() <= seen and time.monotonic() < deadline:
                time.sleep(0.05)
        with on.lock if original.locked and on is not None else nullcontext():
            return original.handler(on, params)

    # The table is the whole emulator's (every server of the process): restored at once.
    HANDLERS[CREATE] = dataclasses.replace(original, handler=held, locked=False)
    try:
        yield
    finally:
        HANDLERS[CREATE] = original


async def _overlapped(states: list[Any]) -> bool:
    """Whether the later-created run was created before the other run's deploy was made (on
    Prefect's clock: the end of its ``deploy-live`` task run). A run created after that is a
    later request, which a replace may replace."""
    async with get_client() as prefect:
        found = [await prefect.read_flow_run(s.state_details.flow_run_id) for s in states]
        runs = sorted((run for run in found if run.created is not None),
                      key=lambda run: run.created or 0)
        deploys = await prefect.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[runs[0].id])))
    ends = [t.end_time for t in deploys if t.name.startswith("deploy-live") and t.end_time]
    later = runs[-1].created
    return not ends or (later is not None and later < min(ends))


async def _exception(state: Any) -> BaseException:
    try:
        await state.aresult()
    except BaseException as error:
        return error
    raise AssertionError("a failed state without an exception")
