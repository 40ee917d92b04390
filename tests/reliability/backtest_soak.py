"""Backtest pipelines (``backtest-strategy`` and ``backtest-grid``) run many times against a faulty
emulator, and the figures that show nothing went astray: no backtest started twice, no temporary
project and no running backtest left.

Used by the short backtest soak in the normal suite and by the long one (``-m slow``). The
lifecycle soak's fault mix and credentials (:mod:`tests.reliability.soak`) are reused as they are.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from prefect.client.schemas.objects import State

from flows.backtests.forms import BacktestOptions, GridOptions, StrategyChoice
from flows.backtests.grid import backtest_grid
from flows.backtests.strategy import backtest_strategy
from flows.common.options import RetryOptions
from flows.common.session import prefect_api_session
from quantconnect_client import QuantConnectError
from quantconnect_emulator import EmulatorServer
from quantconnect_emulator.resources.backtests import Backtests
from tests.reliability.soak import (
    _task_retries,
    soak_credentials,
    started_again_when_prefect_is_busy,
)

BACKTEST_SOAK_PREFIX = "btsoak-tmp-"
#: The grid each soak grid runs: four sets (two averages each).
SOAK_GRID: dict[str, list[str | int | float]] = {"fast": [5, 10], "slow": [30, 60]}
#: Short emulated jobs: a compile of 0.2 s, a backtest of 0.5 s, results 0.2 s later.
QUICK_JOBS: dict[str, float] = {
    "compile_seconds": 0.2,
    "backtest_seconds": 0.5,
    "total_performance_lag_seconds": 0.2,
}

NodeMode = Literal["queue", "reject"]


def quick_jobs(server: Any, **overrides: Any) -> None:
    """Give an emulator the quick jobs of :data:`QUICK_JOBS` (``overrides`` on top)."""
    settings: dict[str, Any] = {**QUICK_JOBS, **overrides}
    server.set_jobs(None, **settings)


class BacktestLedger:
    """Every backtest the emulator started, by name, as it started it (the store forgets a
    backtest once its project is removed, so duplicates must be seen at creation)."""

    def __init__(self, server: EmulatorServer) -> None:
        self.created: list[tuple[int, str, str]] = []
        self._lock = threading.Lock()
        backtests = Backtests.of(server.emulator.account)
        original = backtests.create

        def recording(project_id: int, compile_id: str, name: str,
                      parameters: dict[str, Any]) -> Any:
            backtest = original(project_id, compile_id, name, parameters)
            with self._lock:
                self.created.append((project_id, name, backtest.backtest_id))
            return backtest

        backtests.create = recording  # type: ignore[method-assign]

    def names(self) -> Counter[str]:
        """How many backtests were started under each name."""
        with self._lock:
            return Counter(name for _, name, _ in self.created)


@contextmanager
def backtest_emulator(
    seed: int, runs: int, *, nodes: int = 3, node_mode: NodeMode = "reject", **jobs: float
) -> Iterator[EmulatorServer]:
    """An emulator of its own with quick jobs (``jobs`` over :data:`QUICK_JOBS`) on ``nodes``
    backtest nodes, and a request log long enough for the whole soak."""
    with EmulatorServer(seed=seed, request_log_size=max(20_000, runs * 200)) as server:
        quick_jobs(server, backtest_nodes=nodes, node_mode=node_mode, **jobs)
        yield server


def running_backtests(server: EmulatorServer) -> list[dict[str, Any]]:
    """The emulator's backtests that still hold (or wait for) a node."""
    return [b for b in server.backtests()
            if not str(b.get("status", "")).startswith(("Completed", "Runtime Error"))]


@dataclass
class BacktestSoakFigures:
    strategy_runs: int = 0
    grid_runs: int = 0
    completed: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    failure_messages: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    faults_by_path: dict[str, int] = field(default_factory=dict)
    client_retries: int = 0
    client_reconciled: int = 0
    task_retries: int = 0
    grid_sets: int = 0
    grid_sets_completed: int = 0
    grid_resubmissions: int = 0
    grid_set_failures: list[str] = field(default_factory=list)
    #: Names the completed runs' reports hold a backtest for (each must exist exactly once).
    reported_backtests: int = 0
    duplicate_names: list[str] = field(default_factory=list)
    started_names: int = 0
    store: dict[str, int] = field(default_factory=dict)
    peak_running: int = 0
    nodes: int = 0
    left_projects: list[str] = field(default_factory=list)
    left_running: int = 0
    orchestration_errors: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.strategy_runs + self.grid_runs

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items())
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items())) or "none"
        writes = ", ".join(f"{k} {v}" for k, v in self.faults_by_path.items())
        return [
            f"runs {self.runs} ({self.strategy_runs} backtest-strategy, {self.grid_runs} "
            f"backtest-grid): completed {self.completed}, failed {sum(self.failed.values())} "
            f"({failed}), in {self.seconds:.1f} s",
            f"API requests received {self.requests}; faults injected "
            f"{sum(self.faults.values())} ({faults}); on job creates and waiting reads: {writes}",
            f"client: {self.client_retries} retries, {self.client_reconciled} lost writes "
            f"reconciled; Prefect task retries {self.task_retries}",
            f"grid sets {self.grid_sets}: completed {self.grid_sets_completed}; starts refused "
            f"for lack of a node {self.store.get('backtests_refused_no_node', 0)}, grid "
            f"resubmissions {self.grid_resubmissions}",
            f"backtests created {self.store.get('backtests_created', 0)} = distinct names started "
            f"{self.started_names} (reported by completed runs {self.reported_backtests}); "
            f"duplicates {len(self.duplicate_names)}; compiles created "
            f"{self.store.get('compiles_created', 0)}",
            f"peak running backtests {self.peak_running} on {self.nodes} nodes; left behind: "
            f"{len(self.left_projects)} temporary projects, {self.left_running} running backtests",
            f"Prefect API errors (test server overloaded), runs started again: "
            f"{len(self.orchestration_errors)}",
            *[f"failure: {m}" for m in self.failure_messages[:5]],
            *[f"grid set failed (reported in its row): {m}" for m in self.grid_set_failures[:5]],
        ]


def soak_retries() -> RetryOptions:
    return RetryOptions(task_retries=2, retry_delay_seconds=0.2)


def strategy_options(index: int) -> BacktestOptions:
    return BacktestOptions(
        strategy=StrategyChoice(name_prefix=BACKTEST_SOAK_PREFIX),
        parameters={"fast": 5 + index % 3, "slow": 30},
        retries=soak_retries(),
    )


def grid_options() -> GridOptions:
    return GridOptions(
        strategy=StrategyChoice(name_prefix=BACKTEST_SOAK_PREFIX),
        grid=SOAK_GRID,
        max_concurrency=4,
        no_node_wait_seconds=0.2,
        retries=soak_retries(),
    )


async def run_backtest_soak(
    server: EmulatorServer, strategy_runs: int, grid_runs: int, concurrency: int
) -> BacktestSoakFigures:
    """Run the flows, ``concurrency`` at a time (the grids spread among the others), and gather
    the figures."""
    ledger = BacktestLedger(server)
    credentials = soak_credentials(server)
    client = credentials.get_client()
    before = (client.metrics.retries, client.metrics.reconciled)
    gate = asyncio.Semaphore(concurrency)
    figures = BacktestSoakFigures(strategy_runs=strategy_runs, grid_runs=grid_runs)
    every = max(1, (strategy_runs + grid_runs) // max(1, grid_runs))
    kinds = ["grid" if grid_runs and i % every == every - 1 and i // every < grid_runs
             else "strategy" for i in range(strategy_runs + grid_runs)]
    assert kinds.count("grid") == grid_runs

    async def start(kind: str, index: int) -> State[Any]:
        if kind == "grid":
            return await backtest_grid(  # type: ignore[no-any-return]
                options=grid_options(), credentials=credentials, return_state=True
            )
        return await backtest_strategy(  # type: ignore[no-any-return]
            options=strategy_options(index), credentials=credentials, return_state=True
        )

    async def one(kind: str, index: int) -> State[Any]:
        async with gate:
            return await started_again_when_prefect_is_busy(
                lambda: start(kind, index), figures.orchestration_errors
            )

    started = time.perf_counter()
    async with prefect_api_session():
        states = await asyncio.gather(*(one(k, i) for i, k in enumerate(kinds)))
    figures.seconds = time.perf_counter() - started

    failed: Counter[str] = Counter()
    reported: list[str] = []
    for kind, state in zip(kinds, states, strict=True):
        result = await state.result(raise_on_failure=False)  # type: ignore[misc]
        if state.is_completed():
            figures.completed += 1
            if kind == "grid":
                figures.grid_sets += len(result.rows)
                figures.grid_sets_completed += sum(r.outcome == "completed" for r in result.rows)
                figures.grid_resubmissions += sum(r.resubmissions for r in result.rows)
                figures.grid_set_failures += [str(r.error) for r in result.rows
                                              if r.outcome != "completed"]
                reported += [f"prefect {result.flow_run_id} set {r.index}"
                             for r in result.rows if r.backtest_id]
            else:
                reported.append(str(result.backtest_name))
            continue
        failed[type(result).__name__] += 1
        figures.failure_messages.append(f"{kind}: {type(result).__name__}: {result}")
        # A failure names its cause: a typed client error with a message.
        if not (isinstance(result, QuantConnectError) and str(result).strip()):
            figures.unexplained.append(f"{state.name}: {type(result).__name__}: {result!r}")
    figures.failed = dict(failed)

    stats = server.stats()
    figures.requests = stats["requests_total"]
    figures.faults = {k: v for k, v in stats["faults_injected"].items() if v}
    log = server.requests_log()
    assert len(log) == stats["requests_total"], "the request log overflowed; raise its size"
    creates = ("/backtests/create", "/compile/create", "/backtests/read")
    by_path = Counter(
        f"{e['path'].rsplit('/api/v2', 1)[-1]} {e['fault']}"
        for e in log if e["fault"] and e["path"].endswith(creates)
    )
    figures.faults_by_path = dict(sorted(by_path.items()))
    figures.store = stats["store"]
    figures.client_retries = client.metrics.retries - before[0]
    figures.client_reconciled = client.metrics.reconciled - before[1]
    flow_run_ids = [s.state_details.flow_run_id for s in states if s.state_details.flow_run_id]
    figures.task_retries = await _task_retries(flow_run_ids)

    names = ledger.names()
    figures.started_names = len(names)
    figures.duplicate_names = sorted(n for n, count in names.items() if count > 1)
    figures.reported_backtests = len(reported)
    missing = [n for n in reported if n not in names]
    assert missing == [], f"reports name backtests the service never started: {missing[:3]}"
    figures.peak_running = stats["peak_running_backtests"]
    figures.nodes = stats.get("backtest_nodes", 0)
    figures.left_projects = [p["name"] for p in server.projects(include_deleted=True)]
    figures.left_running = stats["running_backtests"]
    return figures
