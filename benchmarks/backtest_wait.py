"""Section 5: waiting for a backtest, three ways, against the moment its results settled.

For each emulated backtest duration (compile ~1 s), backtests start together on their own nodes,
``samples`` of each kind: (a) a plain loop on the ``lean`` CLI's schedule (reads at 0.25 s x4,
1 s x9, 2 s x10, 5 s x54, then 10 s; done when ``error``/``stacktrace`` is set, or when
``completed`` with ``runtimeStatistics`` not null and ``statistics`` a dict, then a re-read every
10 s, up to 6 times, until ``totalPerformance`` is filled), (b) this client's
``client.backtests.wait`` (progress-driven schedule), (c) the ``backtest-strategy`` flow on the
example strategy folder (its own temporary project, upload, compile, backtest, report, clean-up).

The emulator states, for every backtest, when its results settle (``settled_at`` on its job
clock, which is the wall clock here: nothing advances it). Figures per wait: the reads of
``/backtests/read`` spent, and the delay from settlement to the moment the caller had the
results. For (c) two moments: the end of the read that delivered the results inside the flow
(from the emulator's request log) and the flow run's return to its caller (after the report, the
equity chart and the temporary project's removal).

    .venv/bin/python -m benchmarks.backtest_wait                      # (a), (b): 5, 20, 60 s
    .venv/bin/python -m benchmarks.backtest_wait --durations 5 --samples 1 --json /tmp/w.json

Limits: the emulator's progress grows linearly with time (LEAN's follows the simulated days,
which is rarely that even), so the progress-driven wait is at its best here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from quantconnect_client import NO_RETRY, QuantConnectClient

from .services import EmulatorProcess

#: The ``lean`` CLI's re-reads for ``totalPerformance`` once a backtest looks done.
LEAN_SETTLE_READS = 6
LEAN_SETTLE_DELAY = 10.0
#: The example strategy the flow variant backtests.
STRATEGY = Path(__file__).resolve().parents[1] / "strategies" / "sma_crossover_py"

LEAN = "(a) lean CLI schedule"
CLIENT = "(b) client wait"
FLOW = "(c) backtest-strategy flow"
METHODS = (LEAN, CLIENT, FLOW)


def lean_cli_schedule() -> Iterator[float]:
    """The ``lean`` CLI's delays between backtest reads: 0.25 s 4 times, 1 s 9 times, 2 s 10
    times, 5 s 54 times, then 10 s (from ``lean/components/cloud/cloud_runner.py``); the
    baseline the client's :class:`~quantconnect_client.ProgressSchedule` is measured against.
    """
    return itertools.chain(
        itertools.repeat(0.25, 4),
        itertools.repeat(1.0, 9),
        itertools.repeat(2.0, 10),
        itertools.repeat(5.0, 54),
        itertools.repeat(10.0),
    )


@dataclass
class Sample:
    """One wait."""

    method: str
    duration: float
    round: int
    reads: int
    delay_after_settled: float
    complete: bool
    #: (c) only: when the read that delivered the results ended, after settlement.
    results_read_delay: float | None = None
    #: (c) only: every request the run made to the service.
    requests: int | None = None
    #: (c) only: the requests it made after the results were in (chart, clean-up).
    requests_after_results: int | None = None


def lean_cli_wait(client: QuantConnectClient, project_id: int, backtest_id: str) -> bool:
    """The plain loop: the lean CLI's schedule and finished rule. True if results settled."""
    payload = {"projectId": project_id, "backtestId": backtest_id}
    delays: Iterator[float] = lean_cli_schedule()
    while True:
        backtest = client.call("/backtests/read", payload)["backtest"]
        if backtest.get("error") or backtest.get("stacktrace"):
            return True
        if (
            backtest.get("completed")
            and backtest.get("runtimeStatistics") is not None
            and isinstance(backtest.get("statistics"), dict)
        ):
            break
        time.sleep(next(delays))
    for _ in range(LEAN_SETTLE_READS):
        if backtest.get("totalPerformance"):
            return True
        time.sleep(LEAN_SETTLE_DELAY)
        backtest = client.call("/backtests/read", payload)["backtest"]
    return bool(backtest.get("totalPerformance"))


def client_wait(client: QuantConnectClient, project_id: int, backtest_id: str) -> bool:
    """This client's wait."""
    return client.backtests.wait(project_id, backtest_id, timeout=900).results_ready


WAITS = {LEAN: lean_cli_wait, CLIENT: client_wait}


def _client(emulator: EmulatorProcess) -> QuantConnectClient:
    return QuantConnectClient(
        emulator.user_id, emulator.api_token, base_url=emulator.base_url, retry=NO_RETRY
    )


def settle_moment(record: dict[str, Any]) -> float | None:
    """When a backtest's results settle (or it fails), Unix seconds on the job clock."""
    moment = record.get("settled_at") or record.get("failed_at")
    return None if moment is None else float(moment)


class BacktestWatcher:
    """Keeps the emulator's last word on every backtest it saw (a temporary project's
    backtests vanish with the project), read every ``interval`` seconds while open. The
    moments (``started_at``, ``completed_at``, ``settled_at``) are known ahead once a
    backtest runs, so a slow poll loses nothing."""

    def __init__(self, emulator: EmulatorProcess, interval: float = 0.5) -> None:
        self._emulator = emulator
        self._interval = interval
        self.records: dict[str, dict[str, Any]] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def refresh(self) -> None:
        """Read the emulator's backtests now."""
        self.records.update({b["backtestId"]: b for b in self._emulator.backtests()})

    def settled(self, backtest_id: str) -> float | None:
        """When that backtest's results settled, if known."""
        record = self.records.get(backtest_id)
        return None if record is None else settle_moment(record)

    async def _run(self) -> None:
        while not self._stop.is_set():
            await asyncio.to_thread(self.refresh)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)

    async def __aenter__(self) -> BacktestWatcher:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def _script_wait(
    emulator: EmulatorProcess, method: str, duration: float, number: int, project_id: int,
    backtest_id: str,
) -> tuple[Sample, str]:
    with _client(emulator) as client:
        complete = WAITS[method](client, project_id, backtest_id)
        had_results = time.time()
        reads = client.metrics.requests
    sample = Sample(method, duration, number, reads, had_results, complete)
    return sample, backtest_id  # the delay is filled in once the settle moment is known


async def _flow_wait(emulator: EmulatorProcess, duration: float, number: int,
                     watcher: BacktestWatcher) -> Sample:
    from flows.backtests.forms import BacktestOptions, StrategyChoice
    from flows.backtests.strategy import backtest_strategy
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )
    options = BacktestOptions(strategy=StrategyChoice(strategy_folder=str(STRATEGY)))
    report = await backtest_strategy(options, credentials)
    had_results = time.time()
    settled = watcher.settled(report.backtest_id or "")
    # The project is gone with its backtests; the request log still names it.
    offset = time.time() - time.monotonic()  # Linux: one monotonic clock for all processes
    entries = [e for e in emulator.requests_log() if e.get("project_id") == report.project_id]
    reads = [e for e in entries if e["path"] == "/backtests/read"]
    delivered = None
    if settled is not None:
        # The emulator answers after its latency, so the read that saw the settled results is
        # the first to end after they settled (it may have started just before).
        ends = [float(e["monotonic"]) + float(e["duration_ms"]) / 1000 + offset for e in reads]
        after = [end for end in ends if end >= settled]
        if after:
            delivered = after[0]
    reads_spent = len([e for e in reads if delivered is None
                       or float(e["monotonic"]) + offset < delivered])  # the delivering one too
    return Sample(
        FLOW, duration, number, reads_spent,
        round(had_results - settled, 3) if settled is not None else float("nan"),
        report.outcome == "completed" and settled is not None,
        results_read_delay=round(delivered - settled, 3) if delivered and settled else None,
        requests=len(entries),
        requests_after_results=None if delivered is None else len(
            [e for e in entries if float(e["monotonic"]) + offset >= delivered]),
    )


async def run_waits(
    emulator: EmulatorProcess,
    durations: list[float],
    samples: int,
    *,
    lag: float,
    with_flow: bool = True,
) -> list[Sample]:
    """For each duration, ``samples`` waits of each method side by side.

    Durations run one after another: a backtest's length is the emulator's setting when it is
    created, and the flow creates its backtest a few seconds after it starts.
    """
    methods = [m for m in METHODS if with_flow or m != FLOW]
    emulator.reset()
    emulator.set_jobs(backtest_nodes=max(2, samples * len(methods)), node_mode="queue",
                      compile_seconds=1.0, total_performance_lag_seconds=lag)
    setup = _client(emulator)
    project_id = setup.projects.create("Benchmarks/Backtest wait", "Py").project_id
    compiled = setup.compiles.create(project_id)
    setup.compiles.wait(project_id, compiled.compile_id)
    results: list[Sample] = []
    async with BacktestWatcher(emulator) as watcher:
        for duration in durations:
            emulator.set_jobs(backtest_seconds=duration)
            jobs: list[Any] = []
            for number in range(1, samples + 1):
                for method in WAITS:
                    name = f"{method} {duration:g}s round {number}"
                    backtest = setup.backtests.create(project_id, compiled.compile_id, name)
                    jobs.append(asyncio.to_thread(_script_wait, emulator, method, duration,
                                                  number, project_id, backtest.backtest_id))
                if FLOW in methods:
                    jobs.append(_flow_wait(emulator, duration, number, watcher))
            done = await asyncio.gather(*jobs)
            watcher.refresh()
            for item in done:
                if isinstance(item, Sample):
                    results.append(item)
                    continue
                sample, backtest_id = item
                settled = watcher.settled(backtest_id)
                sample.complete = sample.complete and settled is not None
                sample.delay_after_settled = round(
                    sample.delay_after_settled - settled, 3) if settled else float("nan")
                results.append(sample)
            print(f"  waits of {duration:g} s: {len(done)} done", file=sys.stderr, flush=True)
    setup.close()
    return results


def summarize(samples: list[Sample]) -> list[dict[str, Any]]:
    """Medians per duration and method, with the reads relative to (a) and the targets."""
    rows: list[dict[str, Any]] = []
    for duration in sorted({s.duration for s in samples}):
        lean_reads = None
        for method in METHODS:
            group = [s for s in samples if s.duration == duration and s.method == method]
            if not group:
                continue
            reads = statistics.median(s.reads for s in group)
            delays = [s.delay_after_settled for s in group]
            delivered = [s.results_read_delay for s in group if s.results_read_delay is not None]
            requests = [s.requests for s in group if s.requests is not None]
            after = [s.requests_after_results for s in group
                     if s.requests_after_results is not None]
            if method == LEAN:
                lean_reads = reads
            row: dict[str, Any] = {
                "duration_s": duration,
                "method": method,
                "samples": len(group),
                "reads": reads,
                "delay_s": round(statistics.median(delays), 3),
                "max_delay_s": round(max(delays), 3),
                "results_read_delay_s": (round(statistics.median(delivered), 3)
                                         if delivered else None),
                "requests": statistics.median(requests) if requests else None,
                "requests_after_results": statistics.median(after) if after else None,
                "completed": all(s.complete for s in group),
            }
            if lean_reads:
                row["reads_vs_lean"] = round(reads / lean_reads, 3)
            if method != LEAN:
                row["target_met"] = bool(row["delay_s"] <= TARGET_DELAY_S
                                         and row.get("reads_vs_lean", 0) <= TARGET_READS_RATIO)
            rows.append(row)
    return rows


#: Targets for (b) and (c): delivered within this long of settlement (median)...
TARGET_DELAY_S = 1.0
#: ... with at most this share of (a)'s reads.
TARGET_READS_RATIO = 0.5


async def run_backtest_wait(
    emulator: EmulatorProcess, durations: list[float], samples: int, lag: float
) -> dict[str, Any]:
    """Section 5 of ``python -m benchmarks``: every sample, and the medians."""
    from flows.common.session import prefect_api_session

    async with prefect_api_session():
        found = await run_waits(emulator, durations, samples, lag=lag)
    return {
        "latency_ms": emulator.latency_ms,
        "durations_s": durations,
        "samples_per_method": samples,
        "compile_s": 1.0,
        "total_performance_lag_s": lag,
        "rows": summarize(found),
        "samples": [asdict(s) for s in found],
        "target_delay_s": TARGET_DELAY_S,
        "target_reads_vs_lean": TARGET_READS_RATIO,
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: medians per duration and method."""
    lines = [
        "| duration | method | reads | ÷ (a) reads | delay after settled s | max s "
        "| results read s | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        read_delay = row["results_read_delay_s"]
        target = row.get("target_met")
        lines.append(
            f"| {row['duration_s']:g} s | {row['method']} | {row['reads']:g} | "
            f"{row.get('reads_vs_lean', 1.0):.2f} | {row['delay_s']:.2f} | "
            f"{row['max_delay_s']:.2f} | "
            f"{'' if read_delay is None else f'{read_delay:.2f}'} | "
            f"{'' if target is None else ('met' if target else 'NOT met')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point for (a) and (b) alone (no Prefect server): prints the table,
    writes samples with ``--json``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[5.0, 20.0, 60.0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--lag", type=float, default=1.0, help="totalPerformance lag, s")
    parser.add_argument("--json", help="write every sample here")
    args = parser.parse_args(argv)
    with EmulatorProcess(args.latency_ms) as emulator:
        found = asyncio.run(run_waits(emulator, args.durations, args.samples, lag=args.lag,
                                      with_flow=False))
    print(table(summarize(found)))
    if args.json:
        payload: dict[str, Any] = {"arguments": vars(args),
                                   "samples": [asdict(s) for s in found]}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
    return 0 if all(s.complete for s in found) else 1


if __name__ == "__main__":
    sys.exit(main())
