"""``client.live`` over HTTP against the emulator: checks before any request, paper deploys,
the reads, stop and liquidate, commands, never two live algorithms for one project whatever
faults occur, brokerage secrets kept out of every text, and lenient models."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from quantconnect_client import (
    Brokerage,
    LiveAlgorithm,
    NotFoundError,
    Portfolio,
    QuantConnectClient,
    QuantConnectError,
    RequestRejectedError,
    ValidationError,
    WaitTimeoutError,
    operation_budget,
)
from quantconnect_client.live import DeployOutcomeUnknownError
from quantconnect_client.models.live import LiveAlgorithmSummary
from quantconnect_emulator import FaultKind
from tests.canned_http import CannedResponse, canned_server

MAIN = """\
from AlgorithmImports import *


class Live(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2023, 1, 3)
        self.set_end_date(2023, 6, 30)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.DAILY)
"""
FAST = [0.05]
SECRET = "s3cret-tradier-token-0451"


@pytest.fixture
def quick(qc_emulator):
    qc_emulator.set_jobs(compile_seconds=0.1, live_queue_seconds=0.1,
                         live_initializing_seconds=0.1, live_day_seconds=0.2, live_nodes=1)
    return qc_emulator


@pytest.fixture
def project(client, quick) -> tuple[int, str]:
    created = client.projects.create("Tests/Live", "Py")
    client.files.update(created.project_id, "main.py", MAIN)
    compiled = client.compiles.create(created.project_id)
    client.compiles.wait(created.project_id, compiled.compile_id, timeout=30)
    return created.project_id, compiled.compile_id


def _creates(emulator) -> int:
    return sum(1 for r in emulator.requests_log() if r["path"] == "/live/create")


def _node(client: QuantConnectClient, pid: int) -> str:
    return client.live.free_nodes(pid)[0].id


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c: c.live.create(0, "a-b", "LV01"), "projectid"),
        (lambda c: c.live.create(1, "bad id!", "LV01"), "compileid"),
        (lambda c: c.live.create(1, "a-b", " "), "nodeid"),
        (lambda c: c.live.create(1, "a-b", "LV01", version_id=""), "versionid"),
        (lambda c: c.live.create(1, "a-b", "LV01", brokerage={"token": "x"}), "needs an 'id'"),
        (lambda c: c.live.create(1, "a-b", "LV01", brokerage={"id": "X", "key": 5}),
         "must be text"),
        (lambda c: c.live.create(1, "a-b", "LV01", parameters={"": "1"}), "name"),
        (lambda c: c.live.list(status="Sleeping"), "not one of"),
        (lambda c: c.live.logs(1, "L-1", 0, 251), "at most 250"),
        (lambda c: c.live.orders(1, 0, 1001), "at most 1000"),
        (lambda c: c.live.orders(1, 5, 2), "0 <= start <= end"),
        (lambda c: c.live.insights(1, 0, 101), "at most 100"),
        (lambda c: c.live.chart(1, " "), "name"),
        (lambda c: c.live.chart(1, "Drawdown", start=9, end=1), "after"),
        (lambda c: c.live.chart(1, "Drawdown", count=0), "count"),
        (lambda c: c.live.command(1, ["buy"]), "mapping"),
        (lambda c: c.live.command(1, {"x": float("nan")}), "plain json"),
        (lambda c: c.live.broadcast({"x": 1}, organization_id="o", exclude_project_id=-3),
         "positive"),
        (lambda c: c.live.broadcast({"x": 1}), "organization id"),
        (lambda c: c.live.read(1, "no spaces please"), "deployid"),
        (lambda c: c.live.create(1, "a-b", "LV01", brokerage=Brokerage(
            id="TradierBrokerage", credentials={"id": "QuantConnectBrokerage"})), "reserved"),
        (lambda c: c.live.create(1, "a-b", "LV01", brokerage=Brokerage(
            id="TradierBrokerage", credentials={"Holdings": "[]"})), "reserved"),
    ],
)
def test_bad_input_is_refused_before_any_request(client, call, words):
    before = client.metrics.requests
    with pytest.raises(ValidationError) as caught:
        call(client)
    assert words in str(caught.value).lower()
    assert client.metrics.requests == before


def test_a_paper_deploy_runs_and_every_read_answers(client, project, quick):
    pid, compile_id = project
    nodes = client.live.nodes(pid)
    assert len(nodes) == 1 and not nodes[0].busy
    deployed = client.live.create(pid, compile_id, nodes[0].id)
    assert deployed.project_id == pid and deployed.deploy_id.startswith("L-")
    assert deployed.is_paper and not deployed.ended
    assert client.live.nodes(pid)[0].busy and client.live.free_nodes(pid) == []
    running = client.live.wait(pid, deployed.deploy_id, timeout=10, schedule=FAST)
    assert running.status == "Running" and running.project_id == pid
    assert running.equity is not None and running.files
    quick.advance(5)
    assert [a.deploy_id for a in client.live.list(status="running")] == [deployed.deploy_id]
    portfolio = client.live.portfolio(pid)
    assert isinstance(portfolio, Portfolio) and portfolio.cash["USD"].amount != 0
    assert client.live.orders(pid).length is not None
    logs = client.live.logs(pid, deployed.deploy_id)
    assert any(deployed.deploy_id in line for line in logs.logs)
    assert logs.deployment_offset == 0 and (logs.length or 0) >= len(logs.logs) > 2
    chart = client.live.chart(pid, "Strategy Equity", count=1000)
    assert chart.chart is not None and chart.chart.series["Equity"].values
    assert client.live.insights(pid).insights == []
    client.live.command(pid, {"$type": "", "action": "rebalance"})
    client.live.broadcast({"action": "all"}, organization_id=quick.organization_id)
    inspected = requests.get(f"{quick.control_url}/live", timeout=5).json()
    assert [c["how"] for c in inspected["deployments"][0]["commands"]] == ["command",
                                                                          "broadcast"]
    client.live.liquidate(pid)
    ended = client.live.read(pid)
    assert ended.status == "Liquidated" and ended.ended and ended.stopped is not None
    assert client.live.portfolio(pid).holdings == {}
    assert client.live.free_nodes(pid)


def test_stop_and_a_refused_second_stop(client, project, quick):
    pid, compile_id = project
    client.live.create(pid, compile_id, _node(client, pid))
    client.live.stop(pid)
    assert client.live.read(pid).status == "Stopped"
    with pytest.raises(RequestRejectedError, match="already ended"):
        client.live.stop(pid)


def test_a_second_deploy_is_refused_before_it_is_sent(client, project, quick):
    pid, compile_id = project
    first = client.live.create(pid, compile_id, _node(client, pid))
    with pytest.raises(RequestRejectedError) as caught:
        client.live.create(pid, compile_id, "LV01-anything")
    assert first.deploy_id in str(caught.value) and "stop" in str(caught.value)
    assert _creates(quick) == 1
    assert len(client.live.list(pid)) == 1


@pytest.mark.parametrize(
    "kind",
    [FaultKind.AMBIGUOUS_WRITE, FaultKind.CONNECTION_DROP, FaultKind.HTTP_500_EMPTY,
     FaultKind.HTTP_502_HTML, FaultKind.HTTP_503_HTML, FaultKind.HTTP_429],
)
def test_a_retried_deploy_never_starts_two_live_algorithms(client, project, quick, kind):
    pid, compile_id = project
    quick.set_faults(retry_after_seconds=0)
    quick.inject(kind, path="/live/create", count=2)
    if kind in (FaultKind.AMBIGUOUS_WRITE, FaultKind.HTTP_429):
        deployed = client.live.create(pid, compile_id, _node(client, pid))
        listed = client.live.list(pid)
        assert [a.deploy_id for a in listed] == [deployed.deploy_id]
    else:
        # Not applied, but the client cannot know: it does not send the create again.
        with pytest.raises(DeployOutcomeUnknownError, match="may have taken effect"):
            client.live.create(pid, compile_id, _node(client, pid), confirm_seconds=0.3)
        assert client.live.list(pid) == [] and _creates(quick) == 1
    assert quick.stats()["faults_injected"][kind.value] >= 1
    if kind is FaultKind.AMBIGUOUS_WRITE:
        # Applied at the first attempt, adopted: never sent a second time.
        assert client.metrics.reconciled == 1 and _creates(quick) == 1


def test_faults_on_every_attempt_leave_at_most_one_live_algorithm(client, project, quick):
    pid, compile_id = project
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/live/create", count=10)
    quick.inject(FaultKind.HTTP_502_HTML, path="/live/list", count=1)
    deployed = client.live.create(pid, compile_id, _node(client, pid))
    assert [a.deploy_id for a in client.live.list(pid)] == [deployed.deploy_id]


def test_a_stop_whose_answer_was_lost_counts_as_done(client, project, quick):
    pid, compile_id = project
    client.live.create(pid, compile_id, _node(client, pid))
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/live/update/stop")
    client.live.stop(pid)
    assert client.live.read(pid).status == "Stopped"
    assert client.metrics.reconciled == 1


def test_a_command_whose_answer_was_lost_is_not_sent_again(client, project, quick):
    pid, compile_id = project
    deployed = client.live.create(pid, compile_id, _node(client, pid))
    client.live.wait(pid, deployed.deploy_id, timeout=10, schedule=FAST)
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/live/commands/create")
    with pytest.raises(QuantConnectError, match="not sent again"):
        client.live.command(pid, {"$type": "OrderCommand", "quantity": 10})
    inspected = requests.get(f"{quick.control_url}/live", timeout=5).json()
    assert len(inspected["deployments"][0]["commands"]) == 1


def test_reading_a_project_never_deployed_is_not_found(client, project):
    pid, _ = project
    with pytest.raises(NotFoundError, match="No live deployment found"):
        client.live.read(pid)


def test_wait_ends_at_its_deadline_with_the_last_read(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(live_queue_seconds=1_000)
    deployed = client.live.create(pid, compile_id, _node(client, pid))
    with pytest.raises(WaitTimeoutError) as caught:
        client.live.wait(pid, deployed.deploy_id, timeout=0.3, schedule=FAST)
    assert isinstance(caught.value.last, LiveAlgorithm)
    assert caught.value.last.status == "InQueue"


def test_a_runtime_error_ends_the_wait_with_its_message(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(live_queue_seconds=1_000)
    deployed = client.live.create(pid, compile_id, _node(client, pid))
    requests.post(f"{quick.control_url}/live/force-error",
                  json={"projectId": pid, "message": "Boom"}, timeout=5)
    ended = client.live.wait(pid, deployed.deploy_id, timeout=5, schedule=FAST)
    assert ended.status == "RuntimeError" and ended.message == "Boom" and ended.ended


def test_brokerage_secrets_appear_in_no_repr_log_error_or_result(client, project, quick,
                                                                  caplog):
    pid, compile_id = project
    caplog.set_level(logging.DEBUG)
    brokerage = Brokerage(id="TradierBrokerage", credentials={"tradier-access-token": SECRET})
    texts = [repr(brokerage), str(brokerage), str(brokerage.model_dump()),
             brokerage.model_dump_json()]
    # Refused (the emulator holds no brokerage accounts): the error names no secret.
    with pytest.raises(RequestRejectedError) as caught:
        client.live.create(pid, compile_id, _node(client, pid), brokerage=brokerage)
    texts += [str(caught.value), repr(caught.value), *caught.value.service_errors]
    # Accepted once a test lists it: the result names no secret either.
    quick.set_jobs(live_brokerages=["TradierBrokerage"])
    deployed = client.live.create(pid, compile_id, _node(client, pid),
                                  brokerage={"id": "TradierBrokerage",
                                             "tradier-access-token": SECRET})
    texts += [repr(deployed), deployed.model_dump_json(), repr(client.live.read(pid)),
              caplog.text, json.dumps(quick.requests_log())]
    assert not deployed.is_paper
    assert all(SECRET not in text for text in texts)


def test_a_service_that_echoes_a_credential_has_it_masked():
    echo = {"success": False, "errors": [f"Invalid tradier-access-token {SECRET}"]}
    answers = [
        CannedResponse(body=json.dumps({"success": True, "live": []}).encode(),
                       headers={"Content-Type": "application/json"}),
        CannedResponse(body=json.dumps(echo).encode(),
                       headers={"Content-Type": "application/json"}),
    ]
    with canned_server(*answers) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(RequestRejectedError) as caught:
            client.live.create(5, "a" * 32 + "-" + "b" * 32, "LN-1", brokerage=Brokerage(
                id="TradierBrokerage", credentials={"tradier-access-token": SECRET}))
        sent = [r for r in srv.requests if r["path"].endswith("/live/create")]
    assert SECRET not in str(caught.value) + "".join(caught.value.service_errors)
    assert "[secret]" in str(caught.value)
    assert len(sent) == 1 and SECRET in sent[0]["body"]  # it did go where it belongs


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ({"a": 100000, "q": 1}, (100000.0, 1.0, 0.0)),
        ({"averagePrice": 5, "quantity": -2, "marketValue": "-10"}, (5.0, -2.0, -10.0)),
        ({}, (0.0, 0.0, 0.0)),
    ],
)
def test_holdings_read_short_or_long_keys_missing_as_zero(wire, expected):
    holding = Portfolio.model_validate({"holdings": {"BTCUSD 2XR": wire}, "cash": []}).holdings
    found = holding["BTCUSD 2XR"]
    assert (found.average_price, found.quantity, found.market_value) == expected


def test_cash_keys_in_any_case_and_statuses_as_numbers():
    cash = Portfolio.model_validate({"cash": {"USD": {"Symbol": "USD", "AMOUNT": "12.5"}}}).cash
    assert cash["USD"].amount == 12.5
    summary = LiveAlgorithmSummary.model_validate(
        {"deployId": "L-1", "status": 7, "launched": "2024-05-01T12:00:00Z", "equity": "12"})
    assert summary.status == "RuntimeError" and summary.ended and summary.equity == 12
    read: Any = LiveAlgorithm.model_validate({"status": "LoggingIn", "charts": [{"name": "A"}],
                                              "runtimeStatistics": []})
    assert not read.ended and read.charts == {"A": {"name": "A"}} and read.runtime_statistics == {}


# ---------------------------------------------------------------- lost answers and echoes

JSON = {"Content-Type": "application/json"}
CID = "a" * 32 + "-" + "b" * 32
TRADIER = Brokerage(id="TradierBrokerage", credentials={"tradier-access-token": SECRET})


def _ok(body: dict[str, Any]) -> CannedResponse:
    return CannedResponse(body=json.dumps({"success": True, **body}).encode(), headers=JSON)


def _sent_creates(srv: Any) -> int:
    return sum(1 for r in srv.requests if r["path"].endswith("/live/create"))


def test_a_lost_create_answer_with_a_lagging_list_is_not_sent_again():
    # The list never shows the new deployment (it lags): the create is not resent.
    with canned_server(_ok({"live": []}), CannedResponse(status=502, body=b"bad gateway"),
                       _ok({"live": []})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(DeployOutcomeUnknownError, match="may have taken effect") as caught:
            client.live.create(5, CID, "LN-1", confirm_seconds=0.5)
        assert _sent_creates(srv) == 1
    assert not caught.value.retryable


def test_a_lost_create_answer_adopts_the_deployment_that_shows_up_late():
    new = {"projectId": 5, "deployId": "L-" + "c" * 32, "status": "InQueue"}
    with canned_server(_ok({"live": []}), CannedResponse(status=502, body=b"bad gateway"),
                       _ok({"live": []}), _ok({"live": []}), _ok({"live": [new]})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        got = client.live.create(5, CID, "LN-1", confirm_seconds=20)
        assert _sent_creates(srv) == 1
    assert got.deploy_id == new["deployId"]


def test_a_lost_create_answer_never_adopts_an_older_deployment():
    now = datetime.now(timezone.utc)
    old = {"projectId": 5, "deployId": "L-" + "0" * 32, "status": "Stopped",
           "launched": (now - timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")}
    with canned_server(_ok({"live": [old]}), CannedResponse(status=502, body=b"x"),
                       _ok({"live": [old]})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(DeployOutcomeUnknownError):
            client.live.create(5, CID, "LN-1", confirm_seconds=0.3)
        assert _sent_creates(srv) == 1


def test_an_echoed_credential_in_a_5xx_body_is_masked_before_it_is_logged(caplog):
    caplog.set_level(logging.DEBUG, logger="quantconnect_client")
    new = {"projectId": 5, "deployId": "L-" + "c" * 32, "status": "InQueue"}
    with canned_server(_ok({"live": []}),
                       CannedResponse(status=500, body=f"error: bad token {SECRET}".encode()),
                       _ok({"live": [new]})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        got = client.live.create(5, CID, "LN-1", brokerage=TRADIER)
    assert got.deploy_id == new["deployId"]
    assert "create" in caplog.text and SECRET not in caplog.text


def test_an_echoed_credential_is_masked_in_the_whole_exception_chain():
    with canned_server(_ok({"live": []}),
                       CannedResponse(status=503, body=f"bad token {SECRET}".encode(),
                                      headers={"Retry-After": "5"}),
                       _ok({"live": []})) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url)
        with pytest.raises(QuantConnectError) as caught, operation_budget(2.0):
            client.live.create(5, CID, "LN-1", brokerage=TRADIER, confirm_seconds=0.3)
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert len(chain) >= 2  # the original failure is still chained, masked
    assert SECRET not in "".join(traceback.format_exception(caught.value))
    assert all(SECRET not in str(e) and SECRET not in repr(e) for e in chain)


def test_a_liquidation_whose_answer_was_lost_is_read_not_sent_again(client, project, quick):
    pid, compile_id = project
    deployed = client.live.create(pid, compile_id, _node(client, pid))
    client.live.wait(pid, deployed.deploy_id, timeout=10, schedule=FAST)
    quick.set_faults(retry_after_seconds=0)
    quick.inject(FaultKind.HTTP_502_HTML, path="/live/update/liquidate", count=5)
    with pytest.raises(DeployOutcomeUnknownError, match="not sent again") as caught:
        client.live.liquidate(pid, confirm_seconds=0.3)
    assert not caught.value.retryable
    sent = [r for r in quick.requests_log() if r["path"] == "/live/update/liquidate"]
    assert len(sent) == 1 and client.live.read(pid).status == "Running"


def test_a_liquidation_applied_but_unanswered_counts_as_done(client, project, quick):
    pid, compile_id = project
    deployed = client.live.create(pid, compile_id, _node(client, pid))
    client.live.wait(pid, deployed.deploy_id, timeout=10, schedule=FAST)
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/live/update/liquidate")
    client.live.liquidate(pid)
    sent = [r for r in quick.requests_log() if r["path"] == "/live/update/liquidate"]
    assert len(sent) == 1 and client.live.read(pid).status == "Liquidated"


def test_a_credential_cannot_override_the_brokerage_id_on_the_wire():
    wire = Brokerage(id="TradierBrokerage", environment="live",
                     credentials={"id": "Other", "environment": "paper"}).wire()
    assert (wire["id"], wire["environment"]) == ("TradierBrokerage", "live")


def test_a_lost_create_answer_waits_out_a_lagging_list(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(live_list_lag_seconds=1.0)
    quick.inject(FaultKind.AMBIGUOUS_WRITE, path="/live/create")
    deployed = client.live.create(pid, compile_id, _node(client, pid), confirm_seconds=10)
    assert _creates(quick) == 1 and client.metrics.reconciled == 1
    assert [a.deploy_id for a in client.live.list(pid)] == [deployed.deploy_id]


def test_a_wait_right_after_create_takes_not_found_for_not_yet(client, project, quick):
    pid, compile_id = project
    quick.set_jobs(live_list_lag_seconds=0.5)
    deployed = client.live.create(pid, compile_id, _node(client, pid))
    reached = client.live.wait(pid, deployed.deploy_id, timeout=10, schedule=FAST)
    assert reached.status == "Running" and reached.deploy_id == deployed.deploy_id
