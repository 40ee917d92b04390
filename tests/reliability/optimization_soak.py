"""``optimize-strategy`` run many times against a faulty emulator (and killed, crashed or
cancelled), and the figures that show nothing went astray: no optimization started twice (an
optimization bills), none left running, no temporary project left.

The emulator forgets a project's optimizations when the project is removed, so "none left
running" is seen as it happens: :class:`OptimizationLedger` records every create, every abort
and every removal of a project whose optimization still ran. Used by the optimization kill and
cancel tests and by the short and long optimization soaks.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prefect.client.schemas.objects import State

from flows.backtests.forms import StrategyChoice
from flows.common.options import RetryOptions
from flows.common.session import prefect_api_session
from flows.optimizations.forms import OptimizeOptions
from flows.optimizations.optimize import optimize_strategy
from quantconnect_client import QuantConnectError
from quantconnect_emulator import EmulatorServer
from quantconnect_emulator.resources.optimizations import ENDED, Optimizations
from tests.reliability.soak import (
    _task_retries,
    soak_credentials,
    started_again_when_prefect_is_busy,
)

OPTIMIZATION_SOAK_PREFIX = "optsoak-tmp-"
#: Two parameters of two values each: four points, a heatmap.
SOAK_PARAMETERS = [{"name": "fast", "min": 5, "max": 10, "step": 5},
                   {"name": "slow", "min": 30, "max": 60, "step": 30}]
#: The highest bounds the form takes (the guard has tests of its own; here it must let the
#: optimization start however long the emulated backtests are).
NO_BOUND = {"max_node_hours": 10_000, "max_dollars": 100_000}


class OptimizationLedger:
    """Every optimization the emulator started, aborted, or dropped with its project while it
    still ran, in the order it happened (install it after any reset of the emulator)."""

    def __init__(self, server: EmulatorServer) -> None:
        self.created: list[tuple[int, str, str]] = []
        self.aborted: list[str] = []
        #: Optimizations still running when their project was removed (they could bill on
        #: where deleting a project does not stop them: unconfirmed for the service).
        self.removed_running: list[str] = []
        self._lock = threading.Lock()
        self._jobs = jobs = Optimizations.of(server.emulator.account)
        create, abort, removed = jobs.create, jobs.abort, jobs.project_removed

        def recording_create(*args: Any, **kwargs: Any) -> Any:
            job = create(*args, **kwargs)
            with self._lock:
                self.created.append((job.request.project_id, job.name, job.optimization_id))
            return job

        def recording_abort(optimization_id: str) -> None:
            abort(optimization_id)
            with self._lock:
                self.aborted.append(optimization_id)

        def recording_removed(project_id: int) -> None:
            running = [o.optimization_id for o in jobs.for_project(project_id)
                       if jobs.status(o) not in ENDED]
            removed(project_id)
            with self._lock:
                self.removed_running += running

        jobs.create = recording_create  # type: ignore[method-assign]
        jobs.abort = recording_abort  # type: ignore[method-assign]
        jobs.project_removed = recording_removed  # type: ignore[method-assign]

    def names(self) -> Counter[str]:
        """How many optimizations were started under each name."""
        with self._lock:
            return Counter(name for _, name, _ in self.created)

    def running(self) -> list[str]:
        """The optimizations that run (or wait to) now, in every project."""
        with self._jobs.account.lock:
            return [o.optimization_id for o in self._jobs.by_id.values()
                    if self._jobs.status(o) not in ENDED]

    def of_project(self, project_id: int) -> list[str]:
        with self._lock:
            return [job_id for pid, _, job_id in self.created if pid == project_id]


@dataclass
class OptimizationSoakFigures:
    runs: int = 0
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
    created: int = 0
    started_names: int = 0
    duplicate_names: list[str] = field(default_factory=list)
    #: Completed runs' optimizations: each must be one the service started.
    reported: int = 0
    aborted: int = 0
    points: int = 0
    left_projects: list[str] = field(default_factory=list)
    left_running: list[str] = field(default_factory=list)
    removed_running: list[str] = field(default_factory=list)
    orchestration_errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items())
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items())) or "none"
        writes = ", ".join(f"{k} {v}" for k, v in self.faults_by_path.items())
        return [
            f"runs {self.runs} optimize-strategy: completed {self.completed}, failed "
            f"{sum(self.failed.values())} ({failed}), in {self.seconds:.1f} s",
            f"API requests received {self.requests}; faults injected "
            f"{sum(self.faults.values())} ({faults}); on optimization requests: {writes}",
            f"client: {self.client_retries} retries, {self.client_reconciled} lost writes "
            f"reconciled; Prefect task retries {self.task_retries}",
            f"optimizations created {self.created} = distinct names started "
            f"{self.started_names} (reported by completed runs {self.reported}); started twice "
            f"{len(self.duplicate_names)}; aborted {self.aborted}; points ranked {self.points}",
            f"left behind: {len(self.left_projects)} temporary projects, "
            f"{len(self.left_running)} running optimizations; removed with their project while "
            f"running {len(self.removed_running)}",
            f"Prefect API errors (test server overloaded), runs started again: "
            f"{len(self.orchestration_errors)}",
            *[f"failure: {m}" for m in self.failure_messages[:5]],
        ]


def soak_options() -> OptimizeOptions:
    return OptimizeOptions.model_validate({
        "strategy": StrategyChoice(name_prefix=OPTIMIZATION_SOAK_PREFIX),
        "parameters": SOAK_PARAMETERS,
        "parallel_nodes": 2,
        "guard": NO_BOUND,
        "retries": RetryOptions(task_retries=2, retry_delay_seconds=0.2),
    })


async def run_optimization_soak(
    server: EmulatorServer, runs: int, concurrency: int
) -> OptimizationSoakFigures:
    """Run ``runs`` optimize-strategy flows, ``concurrency`` at a time, and gather the figures."""
    ledger = OptimizationLedger(server)
    credentials = soak_credentials(server)
    client = credentials.get_client()
    before = (client.metrics.retries, client.metrics.reconciled)
    gate = asyncio.Semaphore(concurrency)
    figures = OptimizationSoakFigures(runs=runs)

    async def one() -> State[Any]:
        async with gate:
            return await started_again_when_prefect_is_busy(
                lambda: optimize_strategy(
                    options=soak_options(), credentials=credentials, return_state=True),
                figures.orchestration_errors,
            )

    started = time.perf_counter()
    async with prefect_api_session():
        states = await asyncio.gather(*(one() for _ in range(runs)))
    figures.seconds = time.perf_counter() - started

    failed: Counter[str] = Counter()
    reported: list[str] = []
    for state in states:
        result = await state.result(raise_on_failure=False)  # type: ignore[misc]
        if state.is_completed():
            figures.completed += 1
            figures.points += len(result.rows)
            reported.append(str(result.optimization_id))
            continue
        failed[type(result).__name__] += 1
        figures.failure_messages.append(f"{type(result).__name__}: {result}")
        # A failure names its cause: a typed client error with a message.
        if not (isinstance(result, QuantConnectError) and str(result).strip()):
            figures.unexplained.append(f"{state.name}: {type(result).__name__}: {result!r}")
    figures.failed = dict(failed)

    stats = server.stats()
    figures.requests = stats["requests_total"]
    figures.faults = {k: v for k, v in stats["faults_injected"].items() if v}
    log = server.requests_log()
    assert len(log) == stats["requests_total"], "the request log overflowed; raise its size"
    by_path = Counter(f"{e['path'].rsplit('/api/v2', 1)[-1]} {e['fault']}"
                      for e in log if e["fault"] and "/optimizations/" in e["path"])
    figures.faults_by_path = dict(sorted(by_path.items()))
    figures.client_retries = client.metrics.retries - before[0]
    figures.client_reconciled = client.metrics.reconciled - before[1]
    run_ids = [s.state_details.flow_run_id for s in states if s.state_details.flow_run_id]
    figures.task_retries = await _task_retries(run_ids)

    names = ledger.names()
    figures.created = len(ledger.created)
    figures.started_names = len(names)
    figures.duplicate_names = sorted(n for n, count in names.items() if count > 1)
    started_ids = {job_id for _, _, job_id in ledger.created}
    figures.reported = len(reported)
    missing = [r for r in reported if r not in started_ids]
    assert missing == [], f"reports name optimizations the service never started: {missing[:3]}"
    figures.aborted = len(ledger.aborted)
    figures.left_projects = [p["name"] for p in server.projects(include_deleted=True)]
    figures.left_running = ledger.running()
    figures.removed_running = list(ledger.removed_running)
    return figures
