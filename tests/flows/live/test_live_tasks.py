"""The live-algorithm tasks against the emulator, in real Prefect flows: every operation, a
retried deploy that adopts instead of deploying twice, refusals never retried, commands never
sent twice, and brokerage secrets kept out of Prefect's logs and records."""

from __future__ import annotations

import uuid

import pytest
import requests
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler

from quantconnect_client import Brokerage, LiveAlgorithm, QuantConnectError, RequestRejectedError
from quantconnect_client.live import DeployOutcomeUnknownError
from tasks.live import (
    broadcast_live_command,
    deploy_live,
    liquidate_live,
    list_live,
    live_nodes,
    read_live,
    read_live_chart,
    read_live_insights,
    read_live_logs,
    read_live_orders,
    read_live_portfolio,
    send_live_command,
    stop_live,
    wait_for_live,
)
from tasks.retries import with_api_retries
from tests.flows.backtests.helpers import existing_project, paths
from tests.helpers import credentials_for, task_runs_of

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]

FAST = (0.05,)
SECRET = "tradier-s3cret-7781"


@pytest.fixture
def quick(emulator):
    emulator.set_jobs(live_queue_seconds=0.1, live_initializing_seconds=0.1,
                      live_day_seconds=0.2, live_nodes=1)
    return emulator


async def _compiled(quick, credentials) -> tuple[int, str]:
    project_id = await existing_project(quick, credentials)
    client = credentials.get_client()
    compiled = client.compiles.wait(project_id, client.compiles.create(project_id).compile_id)
    return project_id, compiled.compile_id


async def _logs(run_id: str) -> list[str]:
    await APILogHandler.aflush()
    found: list[str] = []
    async with get_client() as client:
        while page := await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(run_id)])),
            limit=200, offset=len(found),
        ):
            found += [log.message for log in page]
    return found


async def test_every_operation_in_one_flow(quick, credentials):
    project_id, compile_id = await _compiled(quick, credentials)

    @flow
    async def live() -> tuple[LiveAlgorithm, list[bool]]:
        deployed = await deploy_live(credentials, project_id, compile_id)
        nodes = await live_nodes(credentials, project_id)
        assert [n.busy for n in nodes] == [True]
        running = await wait_for_live(credentials, project_id, deployed.deploy_id, timeout=10,
                                      schedule=FAST)
        assert running.status == "Running"
        quick.advance(2)
        read = await read_live(credentials, project_id)
        assert read.deploy_id == deployed.deploy_id
        listed = await list_live(credentials, project_id, "Running")
        assert [a.deploy_id for a in listed] == [deployed.deploy_id]
        assert (await read_live_portfolio(credentials, project_id)).cash
        assert (await read_live_orders(credentials, project_id)).length is not None
        assert (await read_live_insights(credentials, project_id)).insights == []
        logs = await read_live_logs(credentials, project_id, deployed.deploy_id)
        assert any(deployed.deploy_id in line for line in logs.logs)
        chart = await read_live_chart(credentials, project_id, "Strategy Equity", count=50)
        assert chart.chart is not None
        await send_live_command(credentials, project_id, {"$type": "", "action": "go"})
        await broadcast_live_command(credentials, {"action": "all"},
                                     organization_id=quick.organization_id)
        ends = [await stop_live(credentials, project_id),
                await stop_live(credentials, project_id),
                await liquidate_live(credentials, project_id)]
        return await read_live(credentials, project_id), ends

    state = await live(return_state=True)  # type: ignore[misc]
    final, ends = await state.aresult()
    logs = await _logs(str(state.state_details.flow_run_id))
    assert any("paper trading (QuantConnectBrokerage, no real money)" in line for line in logs)
    assert final.status == "Stopped"
    assert ends == [True, False, False]  # the second stop and the liquidate found it ended
    inspected = requests.get(f"{quick.control_url}/live", timeout=5).json()
    assert [c["how"] for c in inspected["deployments"][0]["commands"]] == ["command",
                                                                          "broadcast"]
    assert paths(quick, "/live/create") == ["/live/create"]


async def test_a_retried_deploy_adopts_what_the_first_attempt_launched(quick):
    # No client-side retries: the lost answer fails the first task attempt, and the task's own
    # retry must find the live algorithm instead of deploying a second.
    credentials = credentials_for(quick, max_attempts=1)
    project_id, compile_id = await _compiled(quick, credentials)
    quick.inject("ambiguous_write", path="/live/create")

    @flow
    async def deploy() -> str:
        deployed = await with_api_retries(deploy_live, 2, 0)(credentials, project_id,
                                                             compile_id)
        return deployed.deploy_id

    deploy_id = await deploy()
    listed = credentials.get_client().live.list(project_id)
    assert [a.deploy_id for a in listed] == [deploy_id]
    assert paths(quick, "/live/create") == ["/live/create"]


async def test_a_lost_deploy_that_does_not_show_up_is_neither_resent_nor_retried(quick):
    # A 502 after the create may or may not have been applied: neither the client nor the
    # task sends it again.
    credentials = credentials_for(quick, max_attempts=3)
    project_id, compile_id = await _compiled(quick, credentials)
    quick.set_faults(retry_after_seconds=0)
    quick.inject("http_502_html", path="/live/create", count=10)

    @flow
    async def deploy() -> None:
        await with_api_retries(deploy_live, 2, 0)(credentials, project_id, compile_id,
                                                  confirm_seconds=0.3)

    state = await deploy(return_state=True)  # type: ignore[misc]
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, DeployOutcomeUnknownError) and "check the project" in str(error)
    runs = await task_runs_of(str(state.state_details.flow_run_id), at_least=1)
    assert [run.run_count for run in runs] == [1]
    assert paths(quick, "/live/create") == ["/live/create"]


async def test_a_deploy_over_a_running_algorithm_is_refused_and_not_retried(quick, credentials):
    project_id, compile_id = await _compiled(quick, credentials)
    first = credentials.get_client().live.create(
        project_id, compile_id, credentials.get_client().live.free_nodes(project_id)[0].id)

    @flow
    async def again() -> None:
        await with_api_retries(deploy_live, 2, 0)(credentials, project_id, compile_id,
                                                  node_id="LV01-any")

    state = await again(return_state=True)  # type: ignore[misc]
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RequestRejectedError) and first.deploy_id in str(error)
    runs = await task_runs_of(str(state.state_details.flow_run_id), at_least=1)
    assert [run.run_count for run in runs] == [1]
    assert paths(quick, "/live/create") == ["/live/create"]  # only the first deploy's


async def test_a_busy_organization_is_refused_before_any_deploy(quick, credentials):
    project_id, compile_id = await _compiled(quick, credentials)
    quick.set_jobs(live_nodes=0)

    @flow
    async def deploy() -> None:
        await deploy_live(credentials, project_id, compile_id)

    state = await deploy(return_state=True)  # type: ignore[misc]
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RequestRejectedError) and "No free live node" in str(error)
    assert paths(quick, "/live/create") == []


async def test_a_command_whose_answer_was_lost_is_neither_resent_nor_retried(quick,
                                                                           credentials):
    project_id, compile_id = await _compiled(quick, credentials)
    client = credentials.get_client()
    deployed = client.live.create(project_id, compile_id, client.live.free_nodes(project_id)[0].id)
    client.live.wait(project_id, deployed.deploy_id, timeout=10, schedule=FAST)
    quick.inject("ambiguous_write", path="/live/commands/create")

    @flow
    async def command() -> None:
        await send_live_command(credentials, project_id, {"$type": "OrderCommand",
                                                          "quantity": 10})

    state = await command(return_state=True)  # type: ignore[misc]
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, QuantConnectError) and "not sent again" in str(error)
    runs = await task_runs_of(str(state.state_details.flow_run_id), at_least=1)
    assert [run.run_count for run in runs] == [1]
    inspected = requests.get(f"{quick.control_url}/live", timeout=5).json()
    assert len(inspected["deployments"][0]["commands"]) == 1


async def test_brokerage_secrets_stay_out_of_prefect(quick, credentials):
    project_id, compile_id = await _compiled(quick, credentials)
    quick.set_jobs(live_brokerages=["TradierBrokerage"])
    brokerage = Brokerage(id="TradierBrokerage", credentials={"tradier-access-token": SECRET})

    @flow
    async def real() -> str:
        deployed = await deploy_live(credentials, project_id, compile_id, brokerage=brokerage)
        return deployed.model_dump_json()

    state = await real(return_state=True)  # type: ignore[misc]
    result = await state.aresult()
    run_id = str(state.state_details.flow_run_id)
    logs = await _logs(run_id)
    assert any("REAL MONEY with TradierBrokerage" in line for line in logs)
    runs = await task_runs_of(run_id, at_least=1)
    recorded = [run.model_dump_json() for run in runs]
    assert all(SECRET not in text for text in [result, *logs, *recorded])
