"""``/live/*`` over HTTP (contract more §3): paper deploys on the job clock, one live algorithm
per project, busy live nodes, growing logs, the simulated portfolio and orders, stop,
liquidate, commands, the test controls, refused brokerages and injected faults."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from quantconnect_emulator import FaultKind

LABEL = "simulated by quantconnect_emulator; not LEAN results"
DEPLOY_ID = re.compile(r"^L-[0-9a-f]{32}$")
MAIN = """\
from AlgorithmImports import *


class Live(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2023, 1, 3)
        self.set_end_date(2023, 12, 29)
        self.set_cash(100000)
        self.add_equity("SPY", Resolution.DAILY)
"""
QUEUE, INIT, DAY = 2.0, 3.0, 10.0


@pytest.fixture
def ready(api, qc_emulator) -> tuple[int, str]:
    qc_emulator.set_jobs(compile_seconds=0.1, live_queue_seconds=QUEUE,
                         live_initializing_seconds=INIT, live_day_seconds=DAY, live_nodes=1,
                         backtest_seconds=1.0, total_performance_lag_seconds=0)
    pid = api.create_project("Live")["projectId"]
    api.put_file(pid, "main.py", MAIN)
    return pid, api.compile(pid)["compileId"]


def _node(api, pid: int) -> dict[str, Any]:
    live: list[dict[str, Any]] = api.ok("/projects/nodes/read", {"projectId": pid})["nodes"]["live"]
    return live[0]


def _deploy(api, pid: int, compile_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"projectId": pid, "compileId": compile_id, "nodeId": _node(api, pid)["id"],
            "versionId": "-1", "brokerage": {"id": "QuantConnectBrokerage"},
            "automaticRedeploy": False, "parameters": {}, "notification": {}}
    body.update(overrides)
    created: dict[str, Any] = api.ok("/live/create", body)
    return created


def _read(api, pid: int, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok("/live/read", {"projectId": pid, **extra})
    return answer


def test_a_paper_deploy_answers_its_id_and_reads_back_as_paper(api, ready):
    pid, compile_id = ready
    created = _deploy(api, pid, compile_id)
    assert created["projectId"] == pid and DEPLOY_ID.match(created["deployId"])
    assert isinstance(created["versionId"], int) and created["source"] == "api-v2"
    assert isinstance(created["responseCode"], str)
    assert created["live"]["brokerage"] == "PaperBrokerage"
    read = _read(api, pid)
    # Flat, no projectId, every key LEAN's reader requires present.
    assert "projectId" not in read
    for key in ("message", "status", "deployId", "cloneId", "launched", "stopped", "brokerage",
                "securityTypes", "projectName", "datacenter", "public", "success"):
        assert key in read, key
    assert read["deployId"] == created["deployId"] and read["brokerage"] == "PaperBrokerage"
    assert read["stopped"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", read["launched"])
    assert LABEL in read["description"]


def test_statuses_advance_in_queue_initializing_running_on_the_clock(api, ready, qc_emulator):
    pid, compile_id = ready
    _deploy(api, pid, compile_id)
    assert _read(api, pid)["status"] == "InQueue"
    assert _read(api, pid)["runtimeStatistics"] == {}
    qc_emulator.advance(QUEUE + 0.01)
    assert _read(api, pid)["status"] == "Initializing"
    qc_emulator.advance(INIT)
    running = _read(api, pid)
    assert running["status"] == "Running"
    assert len(running["runtimeStatistics"]) == 8


def test_one_live_algorithm_per_project_and_a_busy_node_is_refused(api, ready, qc_emulator):
    pid, compile_id = ready
    first = _deploy(api, pid, compile_id)
    assert "already has a live algorithm" in api.fail("/live/create", {
        "projectId": pid, "compileId": compile_id, "nodeId": _node(api, pid)["id"],
        "versionId": "-1", "brokerage": {"id": "QuantConnectBrokerage"}})
    node = _node(api, pid)
    assert node["busy"] is True and node["projectId"] == pid
    other = api.create_project("Other")["projectId"]
    api.put_file(other, "main.py", MAIN)
    other_compile = api.compile(other)["compileId"]
    assert "busy" in api.fail("/live/create", {
        "projectId": other, "compileId": other_compile, "nodeId": node["id"], "versionId": "-1",
        "brokerage": {"id": "QuantConnectBrokerage"}})
    assert "not found" in api.fail("/live/create", {
        "projectId": other, "compileId": other_compile, "nodeId": "LN-" + "0" * 32,
        "versionId": "-1", "brokerage": {"id": "QuantConnectBrokerage"}}).lower()
    # Stopping frees the node; the project may deploy again, with a new deployment.
    api.ok("/live/update/stop", {"projectId": pid})
    assert _node(api, pid)["busy"] is False
    second = _deploy(api, pid, compile_id)
    assert second["deployId"] != first["deployId"]
    listed = api.ok("/live/list", {"projectId": pid})["live"]
    assert {e["deployId"] for e in listed} == {first["deployId"], second["deployId"]}


def test_a_second_live_node_lets_two_projects_run(api, ready, qc_emulator):
    pid, compile_id = ready
    qc_emulator.set_jobs(live_nodes=2)
    _deploy(api, pid, compile_id)
    other = api.create_project("Other")["projectId"]
    api.put_file(other, "main.py", MAIN)
    free = [n for n in api.ok("/projects/nodes/read", {"projectId": other})["nodes"]["live"]
            if not n["busy"]]
    assert len(free) == 1
    _deploy(api, other, api.compile(other)["compileId"], nodeId=free[0]["id"])
    assert len(api.ok("/nodes/read")["live"]) == 2
    assert all(n["busy"] for n in api.ok("/nodes/read")["live"])


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"projectId": -1}, "projectid"),
        ({"compileId": " "}, "compileid"),
        ({"nodeId": " "}, "nodeid"),
        ({"brokerage": None}, "brokerage"),
        ({"brokerage": {"environment": "paper"}}, "id"),
        ({"brokerage": {"id": "InteractiveBrokersBrokerage", "ib-password": "hunter2"}},
         "not available"),
        ({"compileId": "f" * 32 + "-" + "f" * 32}, "compile id not found"),
    ],
)
def test_create_refusals(api, ready, overrides, words):
    pid, compile_id = ready
    body = {"projectId": pid, "compileId": compile_id, "nodeId": _node(api, pid)["id"],
            "versionId": "-1", "brokerage": {"id": "QuantConnectBrokerage"}}
    body.update(overrides)
    message = api.fail("/live/create", body)
    assert words in message.lower()
    assert "hunter2" not in message
    assert api.ok("/live/list", {"projectId": pid})["live"] == []


def test_another_brokerage_is_accepted_only_when_a_test_lists_it(api, ready, qc_emulator):
    pid, compile_id = ready
    qc_emulator.set_jobs(live_brokerages=["TradierBrokerage"])
    created = _deploy(api, pid, compile_id,
                      brokerage={"id": "TradierBrokerage", "tradier-access-token": "s3cret"})
    assert created["live"]["brokerage"] == "TradierBrokerage"
    everything = str(_read(api, pid)) + str(api.ok("/live/list")) + requests.get(
        f"{qc_emulator.control_url}/live", timeout=5).text + str(qc_emulator.requests_log())
    assert "s3cret" not in everything


def test_logs_grow_one_simulated_line_per_day_and_name_the_deployment(api, ready, qc_emulator):
    pid, compile_id = ready
    deploy_id = _deploy(api, pid, compile_id)["deployId"]
    body = {"projectId": pid, "algorithmId": deploy_id, "startLine": 0, "endLine": 250,
            "format": "json"}
    first = api.ok("/live/logs/read", body)
    assert len(first["logs"]) == 1 and deploy_id in first["logs"][0]
    assert first["deploymentOffset"] == 0 and first["length"] == 1
    qc_emulator.advance(QUEUE + INIT + 2 * DAY + 0.5)
    grown = api.ok("/live/logs/read", body)
    simulated = [line for line in grown["logs"] if "Simulated day" in line]
    assert len(simulated) == 3 and all(LABEL in line for line in simulated)
    assert grown["length"] == len(grown["logs"]) == 5
    assert api.ok("/live/logs/read", dict(body, startLine=1, endLine=3))["logs"] == \
        grown["logs"][1:3]
    assert "250" in api.fail("/live/logs/read", dict(body, endLine=251))
    # A second deployment's lines start after the first's.
    api.ok("/live/update/stop", {"projectId": pid})
    before = api.ok("/live/logs/read", body)["length"]
    second = _deploy(api, pid, compile_id)["deployId"]
    again = api.ok("/live/logs/read", dict(body, algorithmId=second))
    assert again["deploymentOffset"] == before and again["length"] == before + 1


def test_portfolio_and_orders_follow_the_backtest_simulation(api, ready, qc_emulator):
    pid, compile_id = ready
    _deploy(api, pid, compile_id)
    empty = api.ok("/live/orders/read", {"projectId": pid, "start": 0, "end": 100})
    assert empty["orders"] == [] and empty["length"] == 0
    portfolio = api.ok("/live/portfolio/read", {"projectId": pid})["portfolio"]
    assert portfolio["holdings"] == {} and portfolio["cash"]["USD"]["amount"] == 100000
    # The backtest of the same code: its orders are the live orders once every day has run.
    backtest = api.backtest(pid, compile_id)
    qc_emulator.advance(QUEUE + INIT + 300 * DAY)
    backtest_orders = api.ok("/backtests/orders/read", {
        "projectId": pid, "backtestId": backtest["backtestId"], "start": 0, "end": 100})
    live_orders = api.ok("/live/orders/read", {"projectId": pid, "start": 0, "end": 100})
    assert live_orders["length"] == backtest_orders["length"] > 0
    assert [o["quantity"] for o in live_orders["orders"]] == \
        [o["quantity"] for o in backtest_orders["orders"]]
    assert "1000" in api.fail("/live/orders/read", {"projectId": pid, "start": 0, "end": 1001})
    assert "end" in api.fail("/live/orders/read", {"projectId": pid, "start": 0})


def test_seeded_paper_holdings_show_then_liquidate_empties_and_stops(api, ready, qc_emulator):
    pid, compile_id = ready
    seed = {"id": "QuantConnectBrokerage",
            "holdings": [{"symbolId": "BTCUSD 2XR", "symbol": "BTCUSD", "quantity": 1,
                          "averagePrice": 100000}],
            "cash": [{"currency": "USD", "amount": 50000}]}
    _deploy(api, pid, compile_id, brokerage=seed)
    qc_emulator.advance(QUEUE + INIT + 0.5)
    holding = api.ok("/live/portfolio/read", {"projectId": pid})["portfolio"]["holdings"]
    assert holding["BTCUSD 2XR"]["a"] == 100000 and holding["BTCUSD 2XR"]["q"] == 1
    api.ok("/live/update/liquidate", {"projectId": pid})
    after = api.ok("/live/portfolio/read", {"projectId": pid})["portfolio"]
    assert after["holdings"] == {} and after["cash"]["USD"]["amount"] > 0
    read = _read(api, pid)
    assert read["status"] == "Liquidated" and read["stopped"] is not None
    assert "already ended" in api.fail("/live/update/stop", {"projectId": pid})
    assert "already ended" in api.fail("/live/update/liquidate", {"projectId": pid})
    assert api.ok("/live/list", {"status": "Liquidated"})["live"][0]["projectId"] == pid
    assert api.ok("/live/list", {"status": "Running"})["live"] == []
    assert "status" in api.fail("/live/list", {"status": "Sleeping"})


def test_stop_is_accepted_before_running_and_keeps_holdings(api, ready):
    pid, compile_id = ready
    _deploy(api, pid, compile_id)
    api.ok("/live/update/stop", {"projectId": pid})
    assert _read(api, pid)["status"] == "Stopped"
    assert api.ok("/live/list", {"status": "Stopped"})["live"][0]["status"] == "Stopped"


def test_reads_of_a_project_never_deployed_are_refused(api, ready):
    pid, _ = ready
    assert "No live deployment found" in api.fail("/live/read", {"projectId": pid})
    assert "No live deployment found" in api.fail("/live/update/stop", {"projectId": pid})
    assert api.fail("/live/read", {"projectId": -1})


def test_charts_grow_on_the_live_clock_and_refuse_bad_requests(api, ready, qc_emulator):
    pid, compile_id = ready
    _deploy(api, pid, compile_id)
    body = {"projectId": pid, "name": "Strategy Equity", "count": 1000, "start": 0, "end": 0}
    assert api.ok("/live/chart/read", body)["chart"]["series"]["Equity"]["values"] == []
    qc_emulator.advance(QUEUE + INIT + 4 * DAY + 0.5)
    values = api.ok("/live/chart/read", body)["chart"]["series"]["Equity"]["values"]
    assert len(values) == 5
    assert values[1][0] - values[0][0] == DAY
    assert "not found" in api.fail("/live/chart/read", dict(body, name="Nope"))
    assert api.fail("/live/chart/read", dict(body, start=10, end=5))
    assert api.fail("/live/chart/read", dict(body, name=" "))
    insights = api.ok("/live/insights/read", {"projectId": pid, "end": 1000})
    assert insights["insights"] == [] and insights["length"] == 0


def test_commands_need_a_running_algorithm_and_are_recorded(api, ready, qc_emulator):
    pid, compile_id = ready
    deploy_id = _deploy(api, pid, compile_id)["deployId"]
    command = {"$type": "", "action": "rebalance"}
    assert "not running" in api.fail("/live/commands/create",
                                     {"projectId": pid, "command": command})
    qc_emulator.advance(QUEUE + INIT + 0.5)
    api.ok("/live/commands/create", {"projectId": pid, "command": command})
    api.ok("/live/commands/broadcast", {"organizationId": qc_emulator.organization_id,
                                        "command": {"action": "all"}, "excludeProjectId": None})
    api.ok("/live/commands/broadcast", {"organizationId": qc_emulator.organization_id,
                                        "command": {"action": "none"}, "excludeProjectId": pid})
    inspected = requests.get(f"{qc_emulator.control_url}/live", timeout=5).json()
    commands = inspected["deployments"][0]["commands"]
    assert [(c["how"], c["command"]) for c in commands] == [
        ("command", command), ("broadcast", {"action": "all"})]
    logs = api.ok("/live/logs/read", {"projectId": pid, "algorithmId": deploy_id,
                                      "startLine": 0, "endLine": 250})["logs"]
    assert sum("Command received" in line for line in logs) == 2
    assert api.fail("/live/commands/create", {"projectId": pid, "command": "[1, 2]"})
    assert api.fail("/live/commands/broadcast", {"organizationId": "nope", "command": {}})


def test_controls_force_a_runtime_error_or_a_stop(api, ready, qc_emulator):
    pid, compile_id = ready
    _deploy(api, pid, compile_id)
    qc_emulator.advance(QUEUE + INIT + 0.5)
    answer = requests.post(f"{qc_emulator.control_url}/live/force-error",
                           json={"projectId": pid, "message": "Division by zero"}, timeout=5)
    assert answer.json()["status"] == "RuntimeError"
    read = _read(api, pid)
    assert read["status"] == "RuntimeError" and read["message"] == "Division by zero"
    listed = api.ok("/live/list", {"status": "RuntimeError"})["live"]
    assert listed[0]["error"] == "Division by zero"
    assert _node(api, pid)["busy"] is False
    again = requests.post(f"{qc_emulator.control_url}/live/force-stop",
                          json={"projectId": pid}, timeout=5).json()
    assert again["status"] == "refused"
    _deploy(api, pid, compile_id)
    stopped = requests.post(f"{qc_emulator.control_url}/live/force-stop",
                            json={"projectId": pid}, timeout=5).json()
    assert stopped["status"] == "Stopped" and _read(api, pid)["status"] == "Stopped"


def test_deleting_the_project_ends_its_live_algorithm(api, ready, qc_emulator):
    pid, compile_id = ready
    _deploy(api, pid, compile_id)
    api.ok("/projects/delete", {"projectId": pid})
    inspected = requests.get(f"{qc_emulator.control_url}/live", timeout=5).json()
    assert inspected["deployments"][0]["status"] == "Deleted"
    assert all(busy is None for busy in inspected["nodes"].values())


def test_faults_are_injected_on_live_paths(api, ready, qc_emulator):
    pid, compile_id = ready
    qc_emulator.inject(FaultKind.HTTP_502_HTML, path="/live/create")
    body = {"projectId": pid, "compileId": compile_id, "nodeId": _node(api, pid)["id"],
            "versionId": "-1", "brokerage": {"id": "QuantConnectBrokerage"}}
    assert api.call("/live/create", body).status_code == 502
    assert api.ok("/live/list", {"projectId": pid})["live"] == []
    qc_emulator.inject(FaultKind.AMBIGUOUS_WRITE, path="/live/create")
    with pytest.raises(requests.RequestException):
        api.call("/live/create", body)
    # The lost answer's deploy was applied: one live algorithm runs.
    assert len(api.ok("/live/list", {"projectId": pid})["live"]) == 1


def test_form_bodies_carry_the_brokerage_as_json(api, ready):
    pid, compile_id = ready
    import json

    form = {"projectId": pid, "compileId": compile_id, "nodeId": _node(api, pid)["id"],
            "versionId": "-1", "brokerage": json.dumps({"id": "QuantConnectBrokerage"})}
    response = api.call("/live/create", None, data=form,
                        headers={**api.headers(),
                                 "Content-Type": "application/x-www-form-urlencoded"})
    assert response.json()["success"] is True, response.text


def test_a_lagging_list_hides_a_new_deployment_for_a_while(api, ready, qc_emulator):
    pid, compile_id = ready
    qc_emulator.set_jobs(live_list_lag_seconds=30)
    created = _deploy(api, pid, compile_id)
    assert api.ok("/live/list", {"projectId": pid})["live"] == []
    assert "No live deployment found" in api.fail("/live/read", {"projectId": pid})
    assert "No live deployment found" in api.fail(
        "/live/read", {"projectId": pid, "deployId": created["deployId"]})
    qc_emulator.advance(30.01)
    listed = api.ok("/live/list", {"projectId": pid})["live"]
    assert [a["deployId"] for a in listed] == [created["deployId"]]
    assert _read(api, pid)["deployId"] == created["deployId"]
