"""``deploy-live`` in real Prefect against the emulator: a gated paper deploy, the gate
blocking a deploy, the real-money double confirmation (no request without it), ``replace``, no
second live algorithm under a lost answer, and the brokerage's secret kept out of Prefect."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.exceptions import ParameterTypeError

from flows.backtests.gate import RegressionError
from flows.live.deploy import LiveConflictError, deploy_live_flow
from flows.live.forms import DeployLiveOptions
from quantconnect_client import ConfigurationError, WaitTimeoutError
from quantconnect_client.live import DeployOutcomeUnknownError
from tests.flows.backtests.helpers import artifact_markdown, existing_project, paths
from tests.flows.live.test_live_tasks import _logs
from tests.helpers import credentials_for

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]

SECRET = "ib-pa55word-9931"
KEY = "quantconnect-live-deploy"


@pytest.fixture
def quick(emulator):
    emulator.set_jobs(live_queue_seconds=0.1, live_initializing_seconds=0.1,
                      live_day_seconds=0.2, live_nodes=2)
    return emulator


def _options(**fields) -> DeployLiveOptions:
    return DeployLiveOptions(deploy_timeout_minutes=0.5, **fields)


def _live(quick, credentials, project_id: int | None) -> list[str]:
    assert project_id is not None
    return [a.status or "" for a in credentials.get_client().live.list(project_id)]


async def test_a_gated_paper_deploy_of_a_folder_runs_in_a_kept_project(quick, credentials):
    state = await deploy_live_flow(_options(live_project_name="Live/tests"),
                                   credentials=credentials, return_state=True)
    report = await state.aresult()
    assert report.outcome == "running" and report.paper and report.backtest_id
    assert report.gate is not None and report.gate.passed
    assert _live(quick, credentials, report.project_id) == ["Running"]
    assert [p.name for p in credentials.get_client().projects.find_by_name("Live/tests")]
    markdown = await artifact_markdown(str(state.state_details.flow_run_id), KEY)
    assert "PAPER TRADING (no real money)" in markdown.splitlines()[0]
    logs = await _logs(str(state.state_details.flow_run_id))
    assert any("PAPER TRADING (no real money)" in line for line in logs)


async def test_the_gate_blocks_a_deploy(quick, credentials):
    project_id = await existing_project(quick, credentials)
    options = _options(strategy={"strategy_folder": None, "project_id": project_id},
                       gate={"thresholds": {"Sharpe Ratio": {"min": 1000}}})
    state = await deploy_live_flow(options, credentials=credentials, return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, RegressionError)
    assert paths(quick, "/live/create") == []
    markdown = await artifact_markdown(str(state.state_details.flow_run_id), KEY)
    assert "regression" in markdown.splitlines()[0]


@pytest.mark.parametrize(
    "fields",
    [{"brokerage": "InteractiveBrokersBrokerage"},
     {"brokerage": "InteractiveBrokersBrokerage", "confirm_real_money": True},
     {"brokerage": "InteractiveBrokersBrokerage", "brokerage_secret_block": "ib-keys"}],
    ids=["neither", "no-secret-block", "not-confirmed"],
)
async def test_real_money_without_both_confirmations_makes_no_request(quick, credentials,
                                                                      fields):
    before = len(quick.requests_log())
    with pytest.raises(ParameterTypeError, match="REAL MONEY"):
        await deploy_live_flow(options=fields, credentials=credentials)
    assert len(quick.requests_log()) == before


async def test_a_missing_secret_block_fails_before_any_request(quick, credentials):
    before = len(quick.requests_log())
    options = _options(brokerage="InteractiveBrokersBrokerage", confirm_real_money=True,
                       brokerage_secret_block=f"missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ConfigurationError, match="No Secret block"):
        await deploy_live_flow(options, credentials=credentials)
    assert len(quick.requests_log()) == before


async def test_real_money_confirmed_twice_deploys_and_keeps_the_secret_out(quick, credentials):
    quick.set_jobs(live_brokerages=["InteractiveBrokersBrokerage"])
    block = f"ib-keys-{uuid.uuid4().hex[:8]}"
    await Secret(value={"ib-user-name": "me", "ib-password": SECRET}).save(block)
    options = _options(brokerage="InteractiveBrokersBrokerage", confirm_real_money=True,
                       brokerage_secret_block=block, gate_backtest=False,
                       live_project_name="Live/real")
    state = await deploy_live_flow(options, credentials=credentials, return_state=True)
    report = await state.aresult()
    run_id = str(state.state_details.flow_run_id)
    assert report.outcome == "running" and not report.paper
    markdown = await artifact_markdown(run_id, KEY)
    assert "REAL MONEY with InteractiveBrokersBrokerage" in markdown.splitlines()[0]
    logs = await _logs(run_id)
    assert any("REAL MONEY" in line for line in logs)
    async with get_client() as prefect:
        run = await prefect.read_flow_run(uuid.UUID(run_id))
    texts = [markdown, *logs, report.model_dump_json(), str(run.parameters),
             str(quick.requests_log())]
    assert all(SECRET not in text for text in texts)


async def test_an_existing_live_algorithm_is_replaced_only_when_asked(quick, credentials):
    project_id = await existing_project(quick, credentials)
    choice = {"strategy_folder": None, "project_id": project_id}
    first = await deploy_live_flow(_options(strategy=choice, gate_backtest=False),
                                   credentials=credentials)
    creates = len(paths(quick, "/live/create"))
    with pytest.raises(LiveConflictError, match="replace: true"):
        await deploy_live_flow(_options(strategy=choice, gate_backtest=False),
                               credentials=credentials)
    assert len(paths(quick, "/live/create")) == creates  # refused before compiling
    second = await deploy_live_flow(_options(strategy=choice, gate_backtest=False,
                                             replace=True, liquidate_replaced=True),
                                    credentials=credentials)
    assert second.replaced == first.deploy_id and second.deploy_id != first.deploy_id
    statuses = {a.deploy_id: a.status for a in credentials.get_client().live.list(project_id)}
    assert statuses == {first.deploy_id: "Liquidated", second.deploy_id: "Running"}


@pytest.mark.parametrize("kind", ["ambiguous_write", "connection_drop", "http_502_html"])
async def test_a_lost_deploy_answer_never_makes_two_live_algorithms(quick, kind):
    credentials = credentials_for(quick, max_attempts=1)
    project_id = await existing_project(quick, credentials)
    quick.inject(kind, path="/live/create")
    options = _options(strategy={"strategy_folder": None, "project_id": project_id},
                       gate_backtest=False, retries={"task_retries": 2,
                                                     "retry_delay_seconds": 0},
                       lost_answer_seconds=0.3)
    if kind == "ambiguous_write":
        report = await deploy_live_flow(options, credentials=credentials)
        listed = credentials.get_client().live.list(project_id)
        assert [a.deploy_id for a in listed] == [report.deploy_id]
        assert report.outcome == "running"
    else:
        # Not applied, but nothing tells the client so: the create is never sent again.
        with pytest.raises(DeployOutcomeUnknownError, match="check the project"):
            await deploy_live_flow(options, credentials=credentials)
        assert credentials.get_client().live.list(project_id) == []
    assert paths(quick, "/live/create") == ["/live/create"]


async def test_a_replace_that_would_be_refused_stops_nothing(quick, credentials):
    project_id = await existing_project(quick, credentials)
    choice = {"strategy_folder": None, "project_id": project_id}
    first = await deploy_live_flow(_options(strategy=choice, gate_backtest=False),
                                   credentials=credentials)
    with pytest.raises(LiveConflictError, match=r"LN-typo.*nothing was stopped"):
        await deploy_live_flow(_options(strategy=choice, gate_backtest=False, replace=True,
                                        liquidate_replaced=True, node_id="LN-typo"),
                               credentials=credentials)
    statuses = {a.deploy_id: a.status for a in credentials.get_client().live.list(project_id)}
    assert statuses == {first.deploy_id: "Running"}
    assert paths(quick, "/live/update/liquidate") == []


async def test_a_deploy_that_fails_reports_its_logs(quick, credentials):
    project_id = await existing_project(quick, credentials)
    quick.set_jobs(live_queue_seconds=5)

    def fail_soon() -> None:
        # The algorithm fails while the flow waits for it to run.
        for _ in range(100):
            answer = requests.post(f"{quick.control_url}/live/force-error",
                                   json={"projectId": project_id, "message": "Boom"}, timeout=5)
            if answer.json().get("status") == "RuntimeError":
                return
            threading.Event().wait(0.1)

    worker = threading.Thread(target=fail_soon)
    worker.start()
    state = await deploy_live_flow(
        _options(strategy={"strategy_folder": None, "project_id": project_id},
                 gate_backtest=False), credentials=credentials, return_state=True)
    worker.join()
    error = await state.aresult(raise_on_failure=False)
    assert "RuntimeError" in str(error) and "Boom" in str(error)
    markdown = await artifact_markdown(str(state.state_details.flow_run_id), KEY)
    assert "deploy failed" in markdown.splitlines()[0] and "Last log lines" in markdown


async def test_a_secret_block_with_reserved_keys_fails_before_any_request(quick, credentials):
    block = f"ib-keys-{uuid.uuid4().hex[:8]}"
    await Secret(value={"ib-password": SECRET, "id": "QuantConnectBrokerage"}).save(block)
    before = len(quick.requests_log())
    options = _options(brokerage="InteractiveBrokersBrokerage", confirm_real_money=True,
                       brokerage_secret_block=block)
    with pytest.raises(ConfigurationError, match="reserved keys") as caught:
        await deploy_live_flow(options, credentials=credentials)
    assert len(quick.requests_log()) == before and SECRET not in str(caught.value)


async def test_a_refused_folder_deploy_writes_no_file_into_the_live_project(quick, credentials):
    options = _options(live_project_name="Live/refused", gate_backtest=False)
    first = await deploy_live_flow(options, credentials=credentials)
    before = len(quick.requests_log())
    with pytest.raises(LiveConflictError, match="replace: true"):
        await deploy_live_flow(options, credentials=credentials)
    after = [r["path"] for r in quick.requests_log()[before:]]
    assert not [p for p in after if p.startswith("/files/")], after
    assert _live(quick, credentials, first.project_id) == ["Running"]


async def test_a_deploy_still_deploying_at_the_deadline_says_so(quick, credentials):
    project_id = await existing_project(quick, credentials)
    quick.set_jobs(live_queue_seconds=1_000)
    options = DeployLiveOptions(strategy={"strategy_folder": None, "project_id": project_id},
                                gate_backtest=False, deploy_timeout_minutes=0.03)
    state = await deploy_live_flow(options, credentials=credentials, return_state=True)
    error = await state.aresult(raise_on_failure=False)
    assert isinstance(error, WaitTimeoutError)
    markdown = await artifact_markdown(str(state.state_details.flow_run_id), KEY)
    assert "timed out" in markdown.splitlines()[0]
    assert "still deploying" in markdown and "NOT stopped" in markdown
    assert "Last log lines" in markdown
    assert _live(quick, credentials, project_id) == ["InQueue"]
