"""Fault soak of ``monitor-live``: monitor runs against live algorithms while 20 % of requests fail
(every fault kind): a read that failed is reported ``unknown``, **never** ``stopped`` or another
alarm, and never acted on (``on_alarm: stop``); the algorithms that really ended still raise
their alarm whenever their status could be read.

After the random runs, two runs meet forced faults: a chart read failing on every attempt,
and the list failing on every attempt of every task try (the whole selection is unknown).

The account: running paper algorithms, one stopped and one failed with a runtime error just
before the soak. A run without faults first shows what the truth is (only those two alarms).
The short soak runs in the normal suite; the long one is marked ``slow``
(``QC_LIVE_MONITOR_SOAK_RUNS``, default 100, ``QC_LIVE_MONITOR_SOAK_SEED``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests

from flows.common.options import RetryOptions
from flows.common.session import prefect_api_session
from flows.live.forms import MonitorLiveOptions
from flows.live.monitor import monitor_live_flow
from flows.live.report import MonitorReport
from quantconnect_emulator import EmulatorServer, FaultKind
from tests.flows.live.helpers import deploy
from tests.reliability.conftest import report_figures
from tests.reliability.live_soak import live_emulator
from tests.reliability.soak import ALL_FAULTS, faulty, soak_credentials

pytestmark = pytest.mark.anyio

RUNNING = 5
SHORT_RUNS = 12
SHORT_CONCURRENCY = 3
LONG_RUNS = int(os.environ.get("QC_LIVE_MONITOR_SOAK_RUNS", "100"))
#: The alarms that are true: the status the list gives for the two algorithms that ended.
TRUE_ALARMS = {"Live/msoak-stopped": "stopped", "Live/msoak-failed": "runtime-error"}
#: Limits checked every run but far from the simulation's readings: crossing one is an alarm
#: only a misread could raise.
OPTIONS = MonitorLiveOptions(
    stale_minutes=30, max_drawdown_percent=90, max_daily_loss_percent=90, on_alarm="stop",
    retries=RetryOptions(task_retries=2, retry_delay_seconds=0.2),
)

#: Forced after the random runs: the path, how many of its requests fail, the run's form.
FORCED = [("/live/chart/read", 3, OPTIONS.model_copy(update={"max_concurrent_reads": 1})),
          ("/live/list", 3 * (OPTIONS.retries.task_retries + 1), OPTIONS)]


@dataclass
class MonitorSoakFigures:
    runs: int = 0
    completed: int = 0
    seconds: float = 0.0
    rows: int = 0
    unknown: int = 0
    #: Runs whose list itself failed (one "unknown" row for the whole selection).
    list_failed: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    false_alarms: list[str] = field(default_factory=list)
    true_alarms: int = 0
    true_alarms_unknown: int = 0
    true_alarms_missed: list[str] = field(default_factory=list)
    rows_missing: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    ends_sent: int = 0
    still_running: int = 0
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items())
        findings = ", ".join(f"{k} {v}" for k, v in sorted(self.findings.items())) or "none"
        return [
            f"monitor runs {self.runs}: completed {self.completed}, in {self.seconds:.1f} s; "
            f"rows {self.rows}",
            f"API requests received {self.requests}; faults injected "
            f"{sum(self.faults.values())} ({faults})",
            f"findings: {findings}; unknown {self.unknown} (whole list unreadable in "
            f"{self.list_failed} runs)",
            f"false alarms {len(self.false_alarms)}; true alarms raised {self.true_alarms}, "
            f"unknown instead {self.true_alarms_unknown}, missed {len(self.true_alarms_missed)}; "
            f"rows missing without an unknown {len(self.rows_missing)}",
            f"actions {len(self.actions)}; stop/liquidate requests {self.ends_sent}; running "
            f"algorithms still running {self.still_running}/{RUNNING}",
            *[f"false alarm: {m}" for m in self.false_alarms[:5]],
        ]


def _account(server: EmulatorServer) -> dict[str, int]:
    """The running algorithms and the two that ended: project name -> id."""
    credentials = soak_credentials(server).model_copy(update={"read_timeout": 5.0})
    names = [f"Live/msoak-{i}" for i in range(RUNNING)] + list(TRUE_ALARMS)
    projects = {name: deploy(credentials, name) for name in names}
    client = credentials.get_client()
    client.live.stop(projects["Live/msoak-stopped"])
    answer = requests.post(f"{server.control_url}/live/force-error", timeout=5,
                           json={"projectId": projects["Live/msoak-failed"], "message": "Boom"})
    assert answer.json().get("status") == "RuntimeError", answer.text
    return projects


def judge(report: MonitorReport, projects: dict[str, int], figures: MonitorSoakFigures) -> None:
    """Add one run's rows to the figures."""
    names = {pid: name for name, pid in projects.items()}
    figures.rows += len(report.rows)
    seen: set[int] = set()
    for row in report.rows:
        findings = [a.finding for a in row.alarms]
        figures.unknown += findings.count("unknown")
        for finding in findings:
            figures.findings[finding] = figures.findings.get(finding, 0) + 1
        if row.action:
            figures.actions.append(f"{row.label}: {row.action}")
        if row.project_id == 0:
            figures.list_failed += 1
            continue
        seen.add(row.project_id)
        expected = TRUE_ALARMS.get(names.get(row.project_id, ""))
        wrong = [f for f in findings if f not in ("unknown", expected)]
        if wrong:
            figures.false_alarms.append(f"{row.label} ({row.status}): {wrong} "
                                        f"{[a.reason for a in row.alarms]}")
        if expected is not None:
            if expected in findings:
                figures.true_alarms += 1
            elif "unknown" in findings:
                figures.true_alarms_unknown += 1
            else:
                figures.true_alarms_missed.append(f"{row.label}: {row.status} {findings}")
    if not any(row.project_id == 0 for row in report.rows):
        # The list was read: every algorithm of the account has its row.
        figures.rows_missing += [n for n, pid in projects.items() if pid not in seen]


async def run_monitor_soak(server: EmulatorServer, runs: int,
                           concurrency: int) -> tuple[MonitorSoakFigures, MonitorReport]:
    """The account, a run without faults (the truth), then ``runs`` runs under faults."""
    projects = _account(server)
    credentials = soak_credentials(server)
    async with prefect_api_session():
        baseline = await monitor_live_flow(OPTIONS, credentials=credentials)
        before = len(server.requests_log())
        faulty(server)
        gate = asyncio.Semaphore(concurrency)
        figures = MonitorSoakFigures(runs=runs + len(FORCED))

        async def one() -> MonitorReport:
            async with gate:
                return await monitor_live_flow(  # type: ignore[no-any-return]
                    OPTIONS, credentials=credentials)

        started = time.perf_counter()
        reports = await asyncio.gather(*(one() for _ in range(runs)))
        # Whatever the draw: one run whose chart read fails on every attempt (one read at a
        # time, so the forced faults meet one algorithm), one whose list fails on every
        # attempt of every task try.
        for path, count, options in FORCED:
            server.inject(FaultKind.HTTP_503_HTML, path=path, count=count)
            reports.append(await monitor_live_flow(options, credentials=credentials))
        figures.seconds = time.perf_counter() - started
    server.set_faults(fault_rate=0.0)
    figures.completed = len(reports)
    for report in reports:
        judge(report, projects, figures)
    log = server.requests_log()
    figures.requests = len(log) - before
    figures.faults = dict(Counter(e["fault"] for e in log[before:] if e["fault"]))
    figures.ends_sent = sum(e["path"].endswith(("/live/update/stop", "/live/update/liquidate"))
                            for e in log[before:])
    client = credentials.get_client()
    figures.still_running = sum(
        not a.ended for a in client.live.list()
        if a.project_id in {projects[f"Live/msoak-{i}"] for i in range(RUNNING)})
    return figures, baseline


def check(figures: MonitorSoakFigures, baseline: MonitorReport, title: str) -> None:
    report_figures(title, figures.lines())
    truth = sorted((row.project_name, a.finding) for row in baseline.rows for a in row.alarms)
    assert truth == sorted(TRUE_ALARMS.items()), f"the run without faults found {truth}"
    assert figures.completed == figures.runs
    assert figures.false_alarms == [], "a fault was reported as an alarm"
    assert figures.true_alarms_missed == [], "a real ending went unreported"
    assert figures.rows_missing == [], "an algorithm was left out without an unknown"
    assert figures.actions == [] and figures.ends_sent == 0, "the monitor acted on a fault"
    assert figures.still_running == RUNNING


async def test_short_live_monitor_fault_soak() -> None:
    with live_emulator(28, live_nodes=RUNNING + len(TRUE_ALARMS)) as server:
        figures, baseline = await run_monitor_soak(server, SHORT_RUNS, SHORT_CONCURRENCY)
    check(figures, baseline, f"live monitor fault soak: {figures.runs} monitor-live runs over "
                             f"{RUNNING + len(TRUE_ALARMS)} algorithms, 20% faults, "
                             f"{SHORT_CONCURRENCY} at once, 2 more with forced failures")
    # The forced runs: one chart unreadable, one list unreadable.
    assert figures.unknown >= 2 and figures.list_failed >= 1
    assert figures.true_alarms > 0


@pytest.mark.slow
@pytest.mark.timeout(max(600, LONG_RUNS * 10))
async def test_long_live_monitor_fault_soak() -> None:
    seed = int(os.environ.get("QC_LIVE_MONITOR_SOAK_SEED", "288"))
    with live_emulator(seed, live_nodes=RUNNING + len(TRUE_ALARMS),
                       log_size=max(20_000, LONG_RUNS * 60)) as server:
        figures, baseline = await run_monitor_soak(server, LONG_RUNS, SHORT_CONCURRENCY)
    check(figures, baseline, f"live monitor fault soak (long): {figures.runs} monitor-live runs "
                             f"over {RUNNING + len(TRUE_ALARMS)} algorithms, 20% faults, "
                             f"{SHORT_CONCURRENCY} at once")
    assert set(figures.faults) >= {kind.value for kind in ALL_FAULTS}
