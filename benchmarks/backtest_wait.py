"""Waiting for a backtest: this client's wait next to a loop on the ``lean`` CLI's schedule.

For each emulated backtest duration, two backtests start at the same moment on their own nodes:
one waited for by ``client.backtests.wait`` (progress-driven schedule), one by a plain loop that
follows the ``lean`` CLI (reads at 0.25 s x4, 1 s x9, 2 s x10, 5 s x54, then 10 s; done when
``error``/``stacktrace`` is set, or when ``completed`` with ``runtimeStatistics`` not null and
``statistics`` a dict, then re-reads every 10 s, up to 6 times, until ``totalPerformance`` is
filled). A watcher reads the emulator's own state every 20 ms (in process, not over HTTP) to
know when each backtest's results settled. Figures per wait: reads made, and the delay between
settlement and the moment the caller had the results.

    .venv/bin/python -m benchmarks.backtest_wait                      # 5, 20, 60 s; 3 rounds
    .venv/bin/python -m benchmarks.backtest_wait --durations 5 --rounds 1 --json /tmp/w.json

Limits: the emulator's progress grows linearly with time (LEAN's follows the simulated days,
which is rarely that even), and answers take ``--latency-ms`` (default 50 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from quantconnect_client import NO_RETRY, QuantConnectClient, lean_cli_schedule
from quantconnect_emulator import EmulatorServer

#: The ``lean`` CLI's re-reads for ``totalPerformance`` once a backtest looks done.
LEAN_SETTLE_READS = 6
LEAN_SETTLE_DELAY = 10.0


@dataclass
class Sample:
    """One wait."""

    method: str
    duration: float
    round: int
    reads: int
    delay_after_settled: float
    complete: bool


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


WAITS = {"client wait": client_wait, "lean CLI schedule": lean_cli_wait}


class SettleWatcher:
    """Records, from the emulator's own state, when each backtest's results settled."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self._emulator = emulator
        self.settled: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SettleWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for backtest in self._emulator.backtests():
                if backtest["stage"] in ("settled", "error"):
                    self.settled.setdefault(backtest["backtestId"], now)
            time.sleep(0.02)


def run(durations: list[float], rounds: int, latency_ms: float, lag: float) -> list[Sample]:
    """Run every duration ``rounds`` times, both waits side by side."""
    samples: list[Sample] = []
    with EmulatorServer() as emulator:
        emulator.set_faults(latency_ms=latency_ms)
        emulator.set_jobs(
            backtest_nodes=2 * len(durations),
            compile_seconds=1.0,
            total_performance_lag_seconds=lag,
        )
        setup = _client(emulator)
        project_id = setup.projects.create("Benchmarks/Backtest wait", "Py").project_id
        compiled = setup.compiles.create(project_id)
        setup.compiles.wait(project_id, compiled.compile_id)
        for number in range(1, rounds + 1):
            started: list[tuple[str, float, str]] = []
            for duration in durations:
                emulator.set_jobs(backtest_seconds=duration)
                for method in WAITS:
                    name = f"{method} {duration:g}s round {number}"
                    backtest = setup.backtests.create(project_id, compiled.compile_id, name)
                    started.append((method, duration, backtest.backtest_id))
            results: list[Sample] = []
            with SettleWatcher(emulator) as watcher:
                threads = [
                    threading.Thread(
                        target=_measure,
                        args=(emulator, watcher, method, duration, number, project_id, bid,
                              results),
                    )
                    for method, duration, bid in started
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            samples += results
            print(f"round {number}: {len(results)} waits", file=sys.stderr)
    return samples


def _client(emulator: EmulatorServer) -> QuantConnectClient:
    return QuantConnectClient(
        emulator.user_id, emulator.api_token, base_url=emulator.base_url, retry=NO_RETRY
    )


def _measure(
    emulator: EmulatorServer,
    watcher: SettleWatcher,
    method: str,
    duration: float,
    number: int,
    project_id: int,
    backtest_id: str,
    results: list[Sample],
) -> None:
    with _client(emulator) as client:
        complete = WAITS[method](client, project_id, backtest_id)
        had_results = time.monotonic()
        reads = client.metrics.requests
    time.sleep(0.05)  # let the watcher see a settle that happened just before
    settled = watcher.settled.get(backtest_id, had_results)
    results.append(
        Sample(method, duration, number, reads, round(had_results - settled, 3), complete)
    )


def table(samples: list[Sample]) -> str:
    """Markdown: medians per duration and method."""
    lines = [
        "| duration | method | reads (median) | delay after settled, s (median) | max delay, s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for duration in sorted({s.duration for s in samples}):
        for method in WAITS:
            group = [s for s in samples if s.duration == duration and s.method == method]
            if not group:
                continue
            reads = statistics.median(s.reads for s in group)
            delays = [s.delay_after_settled for s in group]
            lines.append(
                f"| {duration:g} s | {method} | {reads:g} | {statistics.median(delays):.2f} | "
                f"{max(delays):.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; prints the table, writes samples with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[5.0, 20.0, 60.0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--lag", type=float, default=1.0, help="totalPerformance lag, s")
    parser.add_argument("--json", help="write every sample here")
    args = parser.parse_args(argv)
    samples = run(args.durations, args.rounds, args.latency_ms, args.lag)
    print(table(samples))
    if args.json:
        payload: dict[str, Any] = {"arguments": vars(args), "samples": [asdict(s) for s in samples]}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
    return 0 if all(s.complete for s in samples) else 1


if __name__ == "__main__":
    sys.exit(main())
