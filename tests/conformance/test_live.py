"""Live-algorithm answers against strict models written from the contract
(``quantconnect-api-more.md`` §3.1-§3.7, §3.9), one per stage where the shape changes.

The models live here, beside their cases, until the contract models are split by resource.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, model_validator

from tests.conformance.contract import (
    Chart,
    EmptyList,
    Failure,
    NonEmptyText,
    Ok,
    Open,
    Order,
    PlainDate,
    ProjectFile,
    RuntimeMap,
    Strict,
    TrueValue,
)

DeployId = Annotated[str, Field(pattern=r"^L-[0-9a-zA-Z]{32}$")]
#: The status enum (LEAN's ``AlgorithmStatus`` names).
Status = Literal["DeployError", "InQueue", "Running", "Stopped", "Liquidated", "Deleted",
                 "Completed", "RuntimeError", "Invalid", "LoggingIn", "Initializing", "History",
                 "PendingInput"]


class Summary(Strict):
    """``LiveAlgorithmSummary`` (§3.3)."""

    projectId: int
    deployId: DeployId
    status: Status
    launched: PlainDate
    stopped: PlainDate | None
    brokerage: NonEmptyText
    subscription: str
    equity: Annotated[float, Field(ge=0)]
    environment: str
    description: str
    error: str
    leagues: list[str]


class Created(Ok):
    """``CreateLiveAlgorithmResponse`` (§3.2): the paper brokerage reads ``PaperBrokerage``."""

    projectId: int
    deployId: DeployId
    versionId: int
    source: NonEmptyText
    responseCode: str
    live: Summary


class ChartName(Strict):
    name: NonEmptyText


class Read(Ok):
    """``LiveAlgorithmResults``, flat, no ``projectId`` (§3.3)."""

    deployId: DeployId
    status: Status
    message: str
    cloneId: int
    launched: PlainDate
    stopped: PlainDate | None
    brokerage: NonEmptyText
    securityTypes: str
    projectName: NonEmptyText
    datacenter: NonEmptyText
    public: bool
    isPublicStreaming: bool
    files: list[ProjectFile]
    #: The 8 runtime statistics in LEAN's formats once running; empty before.
    runtimeStatistics: RuntimeMap | Annotated[dict[str, str], Field(max_length=0)]
    charts: dict[str, ChartName]
    description: str
    deploymentDetails: dict[str, str]


class Listed(Ok):
    live: list[Summary]


class Holding(Strict):
    """A Holding with short keys, zero values left out (§3.5)."""

    a: float | None = None
    q: float | None = None
    p: float | None = None
    v: float | None = None
    u: float | None = None
    up: float | None = None
    c: str | None = None
    r: float | None = None


class Cash(Strict):
    symbol: NonEmptyText
    amount: float
    conversionRate: float
    currencySymbol: str
    valueInAccountCurrency: float
    securitySymbols: list[str]


class Portfolio(Strict):
    holdings: dict[str, Holding]
    cash: dict[str, Cash]


class PortfolioAnswer(Ok):
    portfolio: Portfolio


class Orders(Ok):
    orders: list[Order]
    length: int

    @model_validator(mode="after")
    def _length(self) -> Orders:
        if self.length != len(self.orders):
            raise ValueError(f"length {self.length} != {len(self.orders)} orders returned")
        return self


class Insights(Ok):
    insights: list[Open]
    length: int


class Logs(Ok):
    logs: list[str]
    length: Annotated[int, Field(ge=0)]
    deploymentOffset: Annotated[int, Field(ge=0)]


class ChartAnswer(Strict):
    chart: Chart
    success: TrueValue
    errors: EmptyList = Field(default_factory=list)


@pytest.fixture
def ready(world):
    world.jobs(live_queue_seconds=2, live_initializing_seconds=2, live_day_seconds=10,
               live_nodes=1)
    pid = world.project()
    return pid, world.compiled(pid)


def _node(world, pid: int) -> str:
    node: str = world.ok("/projects/nodes/read", {"projectId": pid})["nodes"]["live"][0]["id"]
    return node


def _body(world, pid: int, compile_id: str, **extra: Any) -> dict[str, Any]:
    body = {"projectId": pid, "compileId": compile_id, "nodeId": _node(world, pid),
            "versionId": "-1", "brokerage": {"id": "QuantConnectBrokerage"},
            "automaticRedeploy": False, "parameters": {}, "notification": {}}
    return {**body, **extra}


@pytest.fixture
def deployed(world, ready):
    pid, compile_id = ready
    created = world.ok("/live/create", _body(world, pid, compile_id))
    return pid, created["deployId"]


def test_live_node_ids_have_the_contracts_form(world, ready):
    pid, _ = ready
    live = world.ok("/projects/nodes/read", {"projectId": pid})["nodes"]["live"]
    assert live and all(re.fullmatch(r"LN-[0-9a-f]{32}", node["id"]) for node in live), live


def test_live_create(world, ready):
    answer = world.expect(world.call("/live/create", _body(world, *ready)), Created)
    assert answer.live.brokerage == "PaperBrokerage" and answer.live.status == "InQueue"


@pytest.mark.parametrize("seconds", [0, 3, 30], ids=["in-queue", "initializing", "running"])
def test_live_read(world, deployed, seconds):
    pid, deploy_id = deployed
    world.advance(seconds)
    answer = world.expect(world.call("/live/read", {"projectId": pid, "deployId": deploy_id}),
                          Read)
    assert answer.status == {0: "InQueue", 3: "Initializing", 30: "Running"}[seconds]


@pytest.mark.parametrize("status", [None, "Running", "Stopped"])
def test_live_list(world, deployed, status):
    world.advance(10)
    body = {} if status is None else {"status": status}
    answer = world.expect(world.call("/live/list", body), Listed)
    assert len(answer.live) == (0 if status == "Stopped" else 1)


@pytest.mark.parametrize("path", ["/live/update/stop", "/live/update/liquidate"])
def test_live_stop_and_liquidate(world, deployed, path):
    pid, _ = deployed
    world.expect(world.call(path, {"projectId": pid}), Ok)
    world.expect(world.call(path, {"projectId": pid}), Failure)


@pytest.mark.parametrize("seconds", [0, 30])
def test_live_portfolio_read(world, deployed, seconds):
    world.advance(seconds)
    world.expect(world.call("/live/portfolio/read", {"projectId": deployed[0]}),
                 PortfolioAnswer)


def test_live_orders_read(world, deployed):
    world.advance(3_000)
    answer = world.expect(world.call("/live/orders/read",
                                     {"projectId": deployed[0], "start": 0, "end": 100}), Orders)
    assert answer.orders


def test_live_insights_read(world, deployed):
    world.expect(world.call("/live/insights/read", {"projectId": deployed[0], "end": 100}),
                 Insights)


def test_live_logs_read(world, deployed):
    pid, deploy_id = deployed
    world.advance(30)
    answer = world.expect(world.call("/live/logs/read", {
        "projectId": pid, "algorithmId": deploy_id, "startLine": 0, "endLine": 250,
        "format": "json"}), Logs)
    assert any(deploy_id in line for line in answer.logs)


def test_live_chart_read(world, deployed):
    world.advance(60)
    world.expect(world.call("/live/chart/read", {
        "projectId": deployed[0], "name": "Strategy Equity", "count": 100, "start": 0,
        "end": 0}), ChartAnswer)


def test_live_commands(world, deployed):
    pid, _ = deployed
    world.advance(10)
    world.expect(world.call("/live/commands/create",
                            {"projectId": pid, "command": {"$type": "", "x": 1}}), Ok)
    world.expect(world.call("/live/commands/broadcast", {
        "organizationId": world.server.organization_id, "command": {"x": 1},
        "excludeProjectId": None}), Ok)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/live/create", {"projectId": -1, "compileId": " ", "nodeId": " "}),
        ("/live/read", {"projectId": -1}),
        ("/live/chart/read", {"projectId": -1, "name": " ", "count": 1, "start": 5, "end": 1}),
        ("/live/logs/read", {"projectId": -1, "algorithmId": "x", "startLine": 0,
                             "endLine": 1}),
        ("/live/orders/read", {"projectId": -1, "start": 0, "end": 1}),
        ("/live/portfolio/read", {"projectId": -1}),
        ("/live/insights/read", {"projectId": -1, "end": 1}),
        ("/live/update/stop", {"projectId": -1}),
        ("/live/update/liquidate", {"projectId": -1}),
        ("/live/list", {"status": "Sleeping"}),
        ("/live/commands/create", {"projectId": -1, "command": {}}),
        ("/live/commands/broadcast", {"organizationId": " ", "command": {}}),
    ],
)
def test_live_refusals_are_failures(world, path, body):
    world.expect(world.call(path, body), Failure)
