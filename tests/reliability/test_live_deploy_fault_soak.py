"""Fault soak of ``deploy-live``: runs against an emulator failing 20 % of requests (every fault
kind, every endpoint) plus forced lost answers on ``live/create``: **never two live algorithms
from one request**, every run either running or refused naming its cause, nothing temporary left.

Each run deploys the example folder to its own kept project (``Live/dsoak-<i>``), half of them
gated by a backtest; then the first runs are repeated as they were (a second click, a retried
schedule), which must find the algorithm and refuse.

The short soak runs in the normal suite; the long one is marked ``slow``
(``QC_LIVE_SOAK_RUNS``, default 60, ``QC_LIVE_SOAK_SEED``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from prefect.client.schemas.objects import State

from flows.backtests.gate import RegressionError
from flows.common.options import RetryOptions
from flows.common.session import prefect_api_session
from flows.live.deploy import LiveConflictError, LiveDeployError, deploy_live_flow
from flows.live.forms import DeployLiveOptions
from quantconnect_client import QuantConnectError
from quantconnect_client.live import DeployOutcomeUnknownError
from quantconnect_emulator import EmulatorServer, FaultKind
from tests.reliability.conftest import report_figures
from tests.reliability.live_soak import LiveLedger, live_emulator
from tests.reliability.soak import (
    ALL_FAULTS,
    faulty,
    soak_credentials,
    started_again_when_prefect_is_busy,
)

pytestmark = pytest.mark.anyio

SHORT_RUNS = 8
SHORT_REPEATS = 4
SHORT_CONCURRENCY = 4
LONG_RUNS = int(os.environ.get("QC_LIVE_SOAK_RUNS", "60"))
LONG_CONCURRENCY = int(os.environ.get("QC_LIVE_SOAK_CONCURRENCY", "4"))
PREFIX = "Live/dsoak-"
#: Forced on top of the random faults, so that each soak meets lost deploy answers.
FORCED = [(FaultKind.AMBIGUOUS_WRITE, "/live/create", 3),
          (FaultKind.AMBIGUOUS_WRITE, "/projects/create", 1)]
#: Errors a run may end with that say what happened (besides the client's typed errors).
NAMED = (QuantConnectError, LiveConflictError, LiveDeployError, RegressionError)


@dataclass
class DeploySoakFigures:
    runs: int = 0
    repeats: int = 0
    running: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    failure_messages: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    #: Completed runs whose report names an algorithm the service does not show running.
    not_running: list[str] = field(default_factory=list)
    #: Failed runs that left an algorithm running without a cause that says it may have.
    silent_deploys: list[str] = field(default_factory=list)
    repeats_deployed: int = 0
    #: Repeats of a run that went live, and how many of them were refused.
    repeats_of_running: int = 0
    repeats_refused: int = 0
    seconds: float = 0.0
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    lost_creates: int = 0
    creates_processed: int = 0
    deployed: int = 0
    duplicates: list[int] = field(default_factory=list)
    duplicate_projects: list[str] = field(default_factory=list)
    left_temporary: list[str] = field(default_factory=list)
    left_backtests: int = 0
    orchestration_errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items())
        refused = ", ".join(f"{k} {v}" for k, v in sorted(self.refused.items())) or "none"
        return [
            f"runs {self.runs} (+{self.repeats} repeated): running {self.running}, refused "
            f"{sum(self.refused.values())} ({refused}), in {self.seconds:.1f} s",
            f"API requests received {self.requests}; faults injected "
            f"{sum(self.faults.values())} ({faults}); lost live/create answers "
            f"{self.lost_creates}",
            f"live/create processed {self.creates_processed}; live algorithms started "
            f"{self.deployed}; duplicates (two in one project) {len(self.duplicates)}; "
            f"repeats of a run that went live {self.repeats_of_running}: refused "
            f"{self.repeats_refused}; repeats that deployed {self.repeats_deployed} (their "
            f"first run had deployed nothing)",
            f"projects named twice {len(self.duplicate_projects)}; left behind: "
            f"{len(self.left_temporary)} temporary projects, {self.left_backtests} running "
            f"backtests; failed runs that left an algorithm silently {len(self.silent_deploys)}",
            f"Prefect API errors (test server overloaded), runs started again: "
            f"{len(self.orchestration_errors)}",
            *[f"failed, its algorithm running: {m}" for m in self.silent_deploys[:5]],
            *[f"refusal: {m}" for m in self.failure_messages[:6]],
        ]


def _options(index: int) -> DeployLiveOptions:
    return DeployLiveOptions(
        live_project_name=f"{PREFIX}{index}",
        gate_backtest=index % 2 == 0,
        deploy_timeout_minutes=0.5,
        backtest_timeout_minutes=1,
        lost_answer_seconds=5,
        retries=RetryOptions(task_retries=2, retry_delay_seconds=0.2),
    )


async def run_deploy_soak(server: EmulatorServer, runs: int, repeats: int,
                          concurrency: int) -> DeploySoakFigures:
    """``runs`` deploys (``concurrency`` at a time), then the first ``repeats`` again."""
    ledger = LiveLedger(server)
    credentials = soak_credentials(server)
    gate = asyncio.Semaphore(concurrency)
    figures = DeploySoakFigures(runs=runs, repeats=repeats)

    async def one(index: int) -> State[Any]:
        async with gate:
            return await started_again_when_prefect_is_busy(
                lambda: deploy_live_flow(
                    options=_options(index), credentials=credentials, return_state=True),
                figures.orchestration_errors,
            )

    started = time.perf_counter()
    async with prefect_api_session():
        first = await asyncio.gather(*(one(i) for i in range(runs)))
        after_first = ledger.by_project()
        first_wave = len(ledger.created)
        again = await asyncio.gather(*(one(i) for i in range(repeats)))
    figures.seconds = time.perf_counter() - started

    projects = {p["name"]: p for p in server.projects(include_deleted=True)}
    client = credentials.get_client()
    refused: Counter[str] = Counter()
    for index, state in [*enumerate(first), *enumerate(again)]:
        name = f"{PREFIX}{index}"
        result = await state.result(raise_on_failure=False)  # type: ignore[misc]
        if state is not first[index] and first[index].is_completed():
            figures.repeats_of_running += 1
            figures.repeats_refused += isinstance(result, LiveConflictError)
        if state.is_completed():
            figures.running += 1
            live = client.live.read(result.project_id, result.deploy_id)
            if (live.status or "").lower() != "running" or projects.get(name, {}).get(
                    "projectId") != result.project_id:
                figures.not_running.append(f"{name}: {result.deploy_id} {live.status}")
            continue
        refused[type(result).__name__] += 1
        figures.failure_messages.append(f"{name}: {type(result).__name__}: {result}")
        if not (isinstance(result, NAMED) and str(result).strip()):
            figures.unexplained.append(f"{name}: {type(result).__name__}: {result!r}")
        project = projects.get(name)
        # What this run's wave started in its project (a repeat may deploy where the first
        # run made nothing, and that is not the first run's doing).
        wave = ledger.created[:first_wave] if state is first[index] else \
            ledger.created[first_wave:]
        made = project is not None and any(pid == project["projectId"] for pid, _ in wave)
        # A run that fails after its deploy was made must say so: the lost answer's error
        # ("may have taken effect"), or a deploy that did not reach Running in time.
        if made and not isinstance(result, (DeployOutcomeUnknownError, LiveDeployError,
                                            TimeoutError)):
            figures.silent_deploys.append(f"{name}: {type(result).__name__}: {result}")
    figures.refused = dict(refused)

    stats = server.stats()
    figures.requests = stats["requests_total"]
    figures.faults = {k: v for k, v in stats["faults_injected"].items() if v}
    log = server.requests_log()
    assert len(log) == stats["requests_total"], "the request log overflowed; raise its size"
    creates = [e for e in log if e["path"].endswith("/live/create")]
    figures.lost_creates = sum(e["fault"] == FaultKind.AMBIGUOUS_WRITE.value for e in creates)
    figures.creates_processed = sum(
        e["fault"] in (None, FaultKind.SLOW_RESPONSE.value, FaultKind.AMBIGUOUS_WRITE.value)
        for e in creates)
    per_project = ledger.by_project()
    figures.deployed = sum(per_project.values())
    figures.duplicates = sorted(pid for pid, n in per_project.items() if n > 1)
    figures.repeats_deployed = sum(per_project.values()) - sum(after_first.values())
    names = Counter(p["name"] for p in server.projects(include_deleted=True))
    figures.duplicate_projects = sorted(n for n, count in names.items() if count > 1)
    figures.left_temporary = sorted(n for n in names if not n.startswith(PREFIX))
    figures.left_backtests = stats["running_backtests"]
    return figures


def check(figures: DeploySoakFigures, title: str, running_share: float) -> None:
    report_figures(title, figures.lines())
    assert figures.duplicates == [], "two live algorithms were started in one project"
    assert figures.duplicate_projects == [], "a strategy's live project was created twice"
    assert figures.deployed <= figures.runs
    assert figures.repeats_refused == figures.repeats_of_running
    assert figures.not_running == []
    assert figures.unexplained == []
    assert figures.silent_deploys == []
    assert figures.running + sum(figures.refused.values()) == figures.runs + figures.repeats
    assert figures.left_temporary == [], "a temporary project was left behind"
    assert figures.left_backtests == 0, "a gate's backtest was left running"
    assert figures.running >= figures.runs * running_share, figures.failure_messages[:5]


async def run(runs: int, repeats: int, seed: int, concurrency: int) -> DeploySoakFigures:
    with live_emulator(seed, live_nodes=runs, log_size=max(20_000, runs * 400)) as server:
        faulty(server)
        for kind, path, count in FORCED:
            server.inject(kind, path=path, count=count)
        return await run_deploy_soak(server, runs, repeats, concurrency)


async def test_short_live_deploy_fault_soak() -> None:
    figures = await run(SHORT_RUNS, SHORT_REPEATS, seed=26, concurrency=SHORT_CONCURRENCY)
    check(figures, f"live deploy fault soak: {figures.runs} deploy-live runs + "
                   f"{figures.repeats} repeated, 20% faults, {SHORT_CONCURRENCY} at once",
          running_share=0.5)
    assert figures.lost_creates >= 3, "the forced lost deploy answers did not happen"
    # Every repeat of a run that went live was refused, not deployed again.
    assert figures.refused.get("LiveConflictError", 0) >= 1


@pytest.mark.slow
@pytest.mark.timeout(max(600, LONG_RUNS * 20))
async def test_long_live_deploy_fault_soak() -> None:
    seed = int(os.environ.get("QC_LIVE_SOAK_SEED", "266"))
    figures = await run(LONG_RUNS, LONG_RUNS // 4, seed, LONG_CONCURRENCY)
    check(figures, f"live deploy fault soak (long): {figures.runs} deploy-live runs + "
                   f"{figures.repeats} repeated, 20% faults, {LONG_CONCURRENCY} at once",
          running_share=0.8)
    assert set(figures.faults) >= {kind.value for kind in ALL_FAULTS}
