"""Two ``deploy-live`` runs for one project at once, with and without ``replace``: at most one
live algorithm is started, the other run is refused, and with ``replace`` the fresh deploy of
one run is never stopped by the other while they overlap (a run created after the other's deploy is
a later request, and its replace replaces)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.backtests.forms import StrategyChoice
from flows.backtests.strategy_folder import load_strategy
from flows.live.deploy import deploy_live_flow
from flows.live.forms import DeployLiveOptions
from quantconnect_emulator import EmulatorServer
from tests.flows.live.helpers import deploy
from tests.reliability.conftest import report_figures
from tests.reliability.soak import soak_credentials

pytestmark = pytest.mark.anyio

RUNS = 2
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
