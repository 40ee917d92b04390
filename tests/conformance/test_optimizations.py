"""Optimization answers against strict models written from the contract
(``quantconnect-api-more.md`` §1.1, §1.3-§1.5, §1.7), one per stage where the shape changes.

The models live here, beside their cases, until the contract models are split by resource.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from tests.conformance.contract import (
    BacktestSummary,
    BacktestSummaryWithStatistics,
    Failure,
    Fraction,
    GridChart,
    Hex32,
    NonEmptyText,
    Ok,
    OptimizationId,
    PlainDate,
    Strict,
    backtest_list,
)

GRID = "QuantConnect.Optimizer.Strategies.GridSearchOptimizationStrategy"
Target = Literal[
    "TotalPerformance.PortfolioStatistics.SharpeRatio",
    "TotalPerformance.PortfolioStatistics.CompoundingAnnualReturn",
    "TotalPerformance.PortfolioStatistics.ProbabilisticSharpeRatio",
    "TotalPerformance.PortfolioStatistics.Drawdown",
]
Status = Literal["new", "running", "completed", "aborted"]
NodeType = Literal["O2-8", "O4-12", "O8-16"]
Count = Annotated[str, Field(pattern=r"^\d+$")]
Clock = Annotated[str, Field(pattern=r"^\d{2,}:\d{2}:\d{2}$")]


class Estimate(Strict):
    estimateId: NonEmptyText
    time: Annotated[int, Field(ge=0)]
    balance: int


class EstimateAnswer(Ok):
    estimate: Estimate


class Criterion(Strict):
    target: Target
    extremum: Literal["max", "min"]
    targetValue: float | None


class RangeParameter(Strict):
    name: NonEmptyText
    min: float
    max: float
    step: Annotated[float, Field(gt=0)]
    minStep: Annotated[float, Field(gt=0)] | None = None


class StaticParameter(Strict):
    name: NonEmptyText
    value: str


class Constraint(Strict):
    target: Target
    operator: Literal["Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equals", "NotEqual"]
    targetValue: float


class Summary(Strict):
    optimizationId: OptimizationId
    projectId: int
    name: NonEmptyText
    status: Status
    nodeType: NodeType
    criterion: Criterion
    created: PlainDate
    psr: float | None
    sharpeRatio: float | None
    trades: int | None
    cloneId: int | None
    outOfSampleDays: int
    outOfSampleMaxEndDate: PlainDate | None
    parameters: list[RangeParameter | StaticParameter]


class SummaryList(Ok):
    optimizations: list[Summary]


class Created(Ok):
    optimizations: Annotated[list[Summary], Field(min_length=1, max_length=1)]


class RuntimeStatistics(Strict):
    Completed: Count
    Failed: Count
    Running: Count
    In_Queue: Count = Field(alias="In Queue")
    Total: Count
    Average_Length: Clock = Field(alias="Average Length")
    Total_Runtime: Clock = Field(alias="Total Runtime")
    Consumed: Annotated[str, Field(pattern=r"^\d+\.\d{2}$")]
    Note: str  # the emulator's label (a map of text: the contract leaves the keys open)


class FinishedBacktest(Strict):
    id: Hex32
    name: str
    progress: Annotated[float, Field(ge=1, le=1)]
    exitCode: int
    parameterSet: dict[str, str]
    statistics: Annotated[list[float], Field(min_length=21, max_length=21)]
    equity: Annotated[list[Annotated[list[float], Field(min_length=5, max_length=5)]],
                      Field(min_length=1)]
    startDate: PlainDate
    endDate: PlainDate


class RunningBacktest(Strict):
    id: Hex32
    name: str
    progress: Fraction
    exitCode: int
    parameterSet: dict[str, str]
    statistics: Annotated[list[Any], Field(max_length=0)]
    equity: Annotated[list[Any], Field(max_length=0)]
    startDate: PlainDate
    endDate: PlainDate


class Optimization(Strict):
    optimizationId: OptimizationId
    projectId: int
    name: NonEmptyText
    status: Status
    nodeType: NodeType
    snapshotId: int
    parallelNodes: Annotated[int, Field(ge=1)]
    criterion: Criterion
    optimizationTarget: Target
    targetValue: float | None
    strategy: Literal["QuantConnect.Optimizer.Strategies.GridSearchOptimizationStrategy",
                      "QuantConnect.Optimizer.Strategies.EulerSearchOptimizationStrategy"]
    requested: PlainDate
    constraints: list[Constraint]
    parameters: list[RangeParameter | StaticParameter]
    runtimeStatistics: RuntimeStatistics
    backtests: dict[str, FinishedBacktest | RunningBacktest]
    gridLayout: list[GridChart]
    outOfSampleDays: int
    outOfSampleMaxEndDate: PlainDate | None


class OptimizationAnswer(Ok):
    optimization: Optimization


def _body(pid: int, compile_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "projectId": pid, "name": "conformance", "strategy": GRID, "targetTo": "max",
        "target": "TotalPerformance.PortfolioStatistics.SharpeRatio", "targetValue": None,
        "parameters": [{"name": "fast", "min": 5, "max": 15, "step": 5},
                       {"name": "symbol", "value": "SPY"}],
        "constraints": [{"target": "TotalPerformance.PortfolioStatistics.Drawdown",
                         "operator": "Less", "targetValue": 0.9}],
        "estimatedCost": 1, "nodeType": "O2-8", "parallelNodes": 2,
    }
    if compile_id is not None:
        body["compileId"] = compile_id
    return {**body, **extra}


@pytest.fixture
def ready(world):
    world.jobs(backtest_seconds=10, optimization_new_seconds=5,
               optimization_estimate_needs_backtest=False)
    pid = world.project()
    return pid, world.compiled(pid)


@pytest.mark.parametrize("compiled", [False, True], ids=["no-compile", "with-compile"])
def test_optimizations_estimate(world, ready, compiled):
    pid, compile_id = ready
    body = _body(pid, compile_id if compiled else None)
    world.expect(world.call("/optimizations/estimate", body), EstimateAnswer)


def test_optimizations_create(world, ready):
    answer = world.expect(world.call("/optimizations/create", _body(*ready)), Created)
    assert answer.optimizations[0].status == "new"


@pytest.mark.parametrize("seconds", [0, 12, 20, 60], ids=["new", "running", "mixed", "done"])
def test_optimizations_read(world, ready, seconds):
    created = world.ok("/optimizations/create", _body(*ready))["optimizations"][0]
    world.advance(seconds)
    answer = world.expect(world.call("/optimizations/read",
                                     {"optimizationId": created["optimizationId"]}),
                          OptimizationAnswer)
    expected = {0: "new", 12: "running", 20: "running", 60: "completed"}[seconds]
    assert answer.optimization.status == expected


@pytest.mark.parametrize("count", [0, 1], ids=["empty", "one"])
def test_optimizations_list(world, ready, count):
    pid, compile_id = ready
    for _ in range(count):
        world.ok("/optimizations/create", _body(pid, compile_id))
    answer = world.expect(world.call("/optimizations/list", {"projectId": pid}), SummaryList)
    assert len(answer.optimizations) == count


@pytest.mark.parametrize("path", ["update", "abort", "delete"])
def test_optimizations_writes(world, ready, path):
    created = world.ok("/optimizations/create", _body(*ready))["optimizations"][0]
    body = {"optimizationId": created["optimizationId"], "name": "renamed"}
    world.expect(world.call(f"/optimizations/{path}", body), Ok)
    aborted = world.call("/optimizations/abort", body)
    if path != "update":  # aborted or gone: a second abort is refused
        world.expect(aborted, Failure)


@pytest.mark.parametrize(
    "path",
    ["/optimizations/read", "/optimizations/update", "/optimizations/abort",
     "/optimizations/delete"],
)
def test_optimizations_unknown_id_is_a_failure(world, path):
    world.expect(world.call(path, {"optimizationId": " ", "name": "x"}), Failure)


@pytest.mark.parametrize("path", ["/optimizations/estimate", "/optimizations/create"])
def test_optimizations_refusals_are_failures(world, ready, path):
    pid, compile_id = ready
    world.expect(world.call(path, _body(pid, compile_id, parameters=[])), Failure)
    world.expect(world.call(path, _body(-1, compile_id)), Failure)


@pytest.mark.parametrize("include", [False, True], ids=["plain", "includeStatistics"])
def test_an_optimizations_backtests_in_backtests_list(world, ready, include):
    # more §1.6: they appear in /backtests/list with optimizationId set (OpenAPI
    # BacktestSummaryResult); the strict summary model holds them as it holds a plain one.
    pid, _ = ready
    created = world.ok("/optimizations/create", _body(*ready))["optimizations"][0]
    world.advance(20)  # one point done, one running on the 2 nodes
    summary = BacktestSummaryWithStatistics if include else BacktestSummary
    answer = world.expect(world.call("/backtests/list", {"projectId": pid,
                                                         "includeStatistics": include}),
                          backtest_list(summary))
    assert {b.optimizationId for b in answer.backtests} == {created["optimizationId"]}
    statuses = sorted(b.status for b in answer.backtests)
    assert statuses[0] == "Completed." and statuses[-1].startswith("Running")
