"""Many lifecycle runs against a faulty emulator, and the figures that show nothing went astray.

Used by the short soak in the normal suite and by ``make soak`` (the long one).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import State
from prefect.exceptions import PrefectHTTPStatusError

from flows.common.options import RetryOptions
from flows.common.session import prefect_api_session
from flows.projects.forms import LifecycleOptions
from flows.projects.lifecycle import VerificationError, temporary_project_lifecycle
from quantconnect_client import QuantConnectError
from quantconnect_emulator import EmulatorServer, FaultKind
from tasks.credentials import QuantConnectCredentials

#: Every transport fault the emulator can inject (the six of the issue plus 503 HTML).
ALL_FAULTS = list(FaultKind)
#: Faults under which the request is processed, whatever the client hears.
PROCESSED = {None, FaultKind.SLOW_RESPONSE.value, FaultKind.AMBIGUOUS_WRITE.value}
SOAK_PREFIX = "soak-tmp-"
#: Tries to start one run when the test's Prefect server is overloaded.
ORCHESTRATION_ATTEMPTS = 3

_T = TypeVar("_T")


async def started_again_when_prefect_is_busy(
    start: Callable[[], Awaitable[_T]], errors: list[str]
) -> _T:
    """``start()``, called again (up to ``ORCHESTRATION_ATTEMPTS`` in all) while the test's
    Prefect server refuses it, each refusal noted in ``errors``.

    Many runs at once on a loaded 2-core machine can overrun the test's SQLite Prefect server:
    it answers "locked" or 503 past its own client's retries, and the run never starts (or its
    own clean-up runs). That says nothing about our code, so the run starts anew; the emulator's
    state (or a soak's ledger) still shows whether anything was left behind.
    """
    for _ in range(ORCHESTRATION_ATTEMPTS - 1):
        try:
            return await start()
        except PrefectHTTPStatusError as error:
            errors.append(" ".join(str(error).split())[:120])
            await asyncio.sleep(5)
    return await start()


@dataclass
class SoakFigures:
    runs: int = 0
    completed: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    failure_messages: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    seconds: float = 0.0
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    client_requests: int = 0
    client_retries: int = 0
    client_reconciled: int = 0
    task_retries: int = 0
    creates_processed: int = 0
    duplicate_names: list[str] = field(default_factory=list)
    store: dict[str, int] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)
    orchestration_errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items())
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items())) or "none"
        return [
            f"runs {self.runs}: completed {self.completed}, failed {sum(self.failed.values())}"
            f" ({failed}), in {self.seconds:.1f} s",
            f"API requests received {self.requests}; faults injected "
            f"{sum(self.faults.values())} ({faults})",
            f"client: {self.client_requests} attempts, {self.client_retries} retries, "
            f"{self.client_reconciled} lost writes reconciled; Prefect task retries "
            f"{self.task_retries}",
            f"projects created {self.store.get('projects_created')} (creates processed "
            f"{self.creates_processed}), soft-deleted {self.store.get('projects_soft_deleted')}, "
            f"purged {self.store.get('projects_purged')}; duplicates "
            f"{len(self.duplicate_names)}; left behind {len(self.left)}",
            f"Prefect API errors (test server overloaded), runs started again: "
            f"{len(self.orchestration_errors)}",
            *[f"failure: {m}" for m in self.failure_messages[:5]],
        ]


def soak_emulator(seed: int, runs: int) -> EmulatorServer:
    """An emulator of its own, with a request log long enough for the whole soak."""
    return EmulatorServer(seed=seed, request_log_size=max(10_000, runs * 60))


def faulty(server: EmulatorServer, fault_rate: float = 0.2) -> None:
    """20 % of API requests fail, across every fault kind, with jittered latency."""
    server.set_faults(
        fault_rate=fault_rate,
        fault_kinds=ALL_FAULTS,
        latency_ms=2,
        latency_jitter_ms=30,
        slow_response_seconds=1.0,  # past the client's 0.5 s read timeout
        retry_after_seconds=1,
    )


def soak_credentials(server: EmulatorServer) -> QuantConnectCredentials:
    return QuantConnectCredentials(
        user_id=server.user_id,
        api_token=server.api_token,
        base_url=server.base_url,
        connect_timeout=1.0,
        read_timeout=0.5,
        max_attempts=3,
    )


async def _task_retries(flow_run_ids: list[UUID]) -> int:
    """Task attempts beyond the first, over all task runs of these flow runs."""
    total = 0
    async with get_client() as client:
        for start in range(0, len(flow_run_ids), 50):
            chunk = flow_run_ids[start : start + 50]
            offset = 0
            while True:
                task_runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)),
                    limit=200,
                    offset=offset,
                )
                total += sum(max(0, t.run_count - 1) for t in task_runs)
                if len(task_runs) < 200:
                    break
                offset += 200
    return total


async def run_soak(server: EmulatorServer, runs: int, concurrency: int) -> SoakFigures:
    """Run ``runs`` lifecycles, ``concurrency`` at a time, and gather the figures."""
    credentials = soak_credentials(server)
    client = credentials.get_client()
    before = (client.metrics.requests, client.metrics.retries, client.metrics.reconciled)
    options = LifecycleOptions(
        name_prefix=SOAK_PREFIX,
        retries=RetryOptions(task_retries=2, retry_delay_seconds=0.2),
    )
    gate = asyncio.Semaphore(concurrency)
    figures = SoakFigures(runs=runs)

    async def one() -> State[Any]:
        async with gate:
            return await started_again_when_prefect_is_busy(
                lambda: temporary_project_lifecycle(
                    options=options, credentials=credentials, return_state=True
                ),
                figures.orchestration_errors,
            )

    started = time.perf_counter()
    # One Prefect API session for every run, as a long-lived process would hold it: this also
    # checks that concurrent runs can share its clients.
    async with prefect_api_session():
        states = await asyncio.gather(*(one() for _ in range(runs)))
    figures.seconds = time.perf_counter() - started

    failed: Counter[str] = Counter()
    for state in states:
        if state.is_completed():
            figures.completed += 1
            continue
        error = await state.result(raise_on_failure=False)  # type: ignore[misc]
        failed[type(error).__name__] += 1
        figures.failure_messages.append(f"{type(error).__name__}: {error}")
        # A failure must name its cause: a typed client error with a message, never a bare one.
        if not (isinstance(error, QuantConnectError) and str(error).strip()) or isinstance(
            error, VerificationError
        ):
            figures.unexplained.append(f"{state.name}: {type(error).__name__}: {error!r}")
    figures.failed = dict(failed)

    stats = server.stats()
    figures.requests = stats["requests_total"]
    figures.faults = {k: v for k, v in stats["faults_injected"].items() if v}
    if stats["rate_limited"]:
        figures.faults["rate_limit"] = stats["rate_limited"]
    figures.store = stats["store"]
    figures.client_requests = client.metrics.requests - before[0]
    figures.client_retries = client.metrics.retries - before[1]
    figures.client_reconciled = client.metrics.reconciled - before[2]
    flow_run_ids = [s.state_details.flow_run_id for s in states if s.state_details.flow_run_id]
    figures.task_retries = await _task_retries(flow_run_ids)

    log = server.requests_log()
    assert len(log) == stats["requests_total"], "the request log overflowed; raise its size"
    processed = Counter(
        entry["name"]
        for entry in log
        if entry["path"] == "/projects/create" and entry["fault"] in PROCESSED
    )
    figures.creates_processed = sum(processed.values())
    figures.duplicate_names = sorted(name for name, n in processed.items() if n > 1)
    figures.left = [p["name"] for p in server.projects(include_deleted=True)]
    return figures
