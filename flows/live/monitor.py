"""``monitor-live``: watch the selected live algorithms, report, emit an event per finding.

One run (a deployment runs it every 5 minutes):

1. Lists the account's projects (their names, for the pattern and the table) and its live
   algorithms, once each; the latest deployment of each selected project is watched if it has
   not ended, or ended within ``ended_alarm_minutes`` (or its project is named in the form).
2. Per running algorithm: its ``Strategy Equity`` chart (equity, drawdown from the peak, the
   UTC day's P&L, the age of the last point) and its last log line (its age). One request
   each, a second for the logs only past 250 lines: at most 3 per algorithm.
3. Findings: ``runtime-error``, ``stopped`` (ended recently), ``stale-logs``,
   ``stale-equity``, ``drawdown``, ``daily-loss``, and ``unknown`` when a read failed after
   its retries. A failed read is never taken for a stop, and never acted on.
4. Publishes a table artifact (one row per algorithm) and, when there are findings, a
   markdown artifact with each alarmed algorithm's equity chart; emits the Prefect event
   ``quantconnect.live.<finding>`` per finding, for a user's automation to notify them.
5. Only if the form says ``on_alarm: stop`` or ``liquidate``: ends the running algorithms
   whose findings are about them (stale, drawdown, daily loss) — never another one.

Example:
    >>> from flows.live.monitor import monitor_live_flow
    >>> monitor_live_flow.name
    'monitor-live'
"""

# No `from __future__ import annotations`: see flows/live/deploy.py (flow.serve() pickling).

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.events import emit_event

from flows.backtests.report import is_real_service
from flows.common.credentials import resolve_credentials
from flows.common.session import IN_MEMORY_RESULTS
from flows.live.forms import MonitorLiveOptions
from flows.live.report import ACTIONABLE, Alarm, MonitorReport, MonitorRow
from quantconnect_client.models.live import LiveAlgorithmSummary, has_ended
from tasks.credentials import QuantConnectCredentials
from tasks.live import (
    liquidate_live,
    list_live,
    read_live_chart,
    read_live_logs,
    stop_live,
)
from tasks.projects import list_projects

#: The chart whose ``Equity`` series the checks read.
EQUITY_CHART = "Strategy Equity"
#: Points asked for (enough for a day of minutes and a readable sparkline).
CHART_POINTS = 500
#: The most log lines one read returns.
LOG_PAGE = 250
#: What a deployment runs unless told otherwise: every live algorithm, report only.
DEFAULT_MONITOR = MonitorLiveOptions()
_STAMP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})")
#: Statuses that say the algorithm failed (the others among the endings say it stopped).
_FAILED = {"runtimeerror", "deployerror"}


def log_time(line: str) -> datetime | None:
    """The UTC time a log line starts with, if it starts with one.

    Example:
        >>> log_time("2026-01-02 03:04:05 Algorithm running")
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        >>> log_time("no time here") is None
        True
    """
    found = _STAMP.match(line)
    if found is None:
        return None
    try:
        return datetime.fromisoformat(f"{found[1]}T{found[2]}").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def drawdown_percent(points: Sequence[tuple[float, float]]) -> float | None:
    """How far the last equity is below the series' peak, in percent.

    Example:
        >>> drawdown_percent([(0, 100.0), (1, 120.0), (2, 90.0)])
        25.0
        >>> drawdown_percent([]) is None
        True
    """
    if not points:
        return None
    peak = max(value for _, value in points)
    return 0.0 if peak <= 0 else max(0.0, (peak - points[-1][1]) / peak * 100)


def daily_pnl(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """The UTC day's P&L and the day's starting equity: the last point against the last one
    before today (or today's first, for an algorithm deployed today).

    Example:
        >>> day = 86_400
        >>> daily_pnl([(0, 100.0), (day + 10, 104.0), (day + 20, 95.0)])
        (-5.0, 100.0)
    """
    if not points:
        return None
    last_time, last = points[-1]
    midnight = last_time - last_time % 86_400
    before = [value for t, value in points if t < midnight]
    start = before[-1] if before else next(value for t, value in points if t >= midnight)
    return last - start, start


def _age_minutes(then: datetime | float, now: datetime) -> float:
    moment = then if isinstance(then, datetime) else datetime.fromtimestamp(then, timezone.utc)
    return max(0.0, (now - moment).total_seconds() / 60)


def watched(
    algorithms: list[LiveAlgorithmSummary], names: dict[int, str], options: MonitorLiveOptions,
    now: datetime,
) -> list[LiveAlgorithmSummary]:
    """The latest deployment of each selected project, if it runs or ended recently (or its
    project was named)."""
    latest: dict[int, LiveAlgorithmSummary] = {}
    for algorithm in algorithms:
        pid = algorithm.project_id
        if pid is None or not options.wants(pid, names.get(pid)):
            continue
        if pid not in latest or str(algorithm.launched or "") >= str(latest[pid].launched or ""):
            latest[pid] = algorithm
    recent = now - timedelta(minutes=options.ended_alarm_minutes)
    return [a for pid, a in sorted(latest.items())
            if not a.ended or pid in options.project_ids
            or (a.stopped is not None and _aware(a.stopped) >= recent)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def status_alarms(algorithm: LiveAlgorithmSummary, options: MonitorLiveOptions,
                  now: datetime) -> list[Alarm]:
    """What the listed status says: a failure or a stop, if it happened within
    ``ended_alarm_minutes`` (an older or undated ending shows in the table, without an alarm:
    every run would otherwise raise it again)."""
    if not algorithm.ended:
        return []
    stopped = _aware(algorithm.stopped) if algorithm.stopped else None
    if stopped is None or stopped < now - timedelta(minutes=options.ended_alarm_minutes):
        return []
    when = f" at {stopped:%Y-%m-%d %H:%M:%S} UTC"
    if (algorithm.status or "").strip().lower() in _FAILED:
        return [Alarm(finding="runtime-error", reason=f"{algorithm.status}{when}: "
                      f"{algorithm.error or 'no message'}"[:500])]
    return [Alarm(finding="stopped", reason=f"{algorithm.status}{when}")]


def limit_alarms(row: MonitorRow, day_start: float | None,
                 options: MonitorLiveOptions) -> list[Alarm]:
    """The drawdown and daily-loss limits of the form against the row's readings."""
    found: list[Alarm] = []
    limit = options.max_drawdown_percent
    if limit is not None and row.drawdown_percent is not None and row.drawdown_percent > limit:
        found.append(Alarm(finding="drawdown", reason=f"equity {row.drawdown_percent:.2f}% "
                           f"below its peak (limit {limit:g}%)"))
    if row.daily_pnl is not None and row.daily_pnl < 0:
        loss = -row.daily_pnl
        percent = loss / day_start * 100 if day_start else None
        over = [f"{options.max_daily_loss_percent:g}%"
                for _ in [0] if options.max_daily_loss_percent is not None
                and percent is not None and percent > options.max_daily_loss_percent]
        over += [f"{options.max_daily_loss:,.2f}" for _ in [0]
                 if options.max_daily_loss is not None and loss > options.max_daily_loss]
        if over:
            share = f" ({percent:.2f}%)" if percent is not None else ""
            found.append(Alarm(finding="daily-loss", reason=f"lost {loss:,.2f}{share} today "
                               f"(limit {' and '.join(over)})"))
    return found


async def _read_equity(creds: QuantConnectCredentials, options: MonitorLiveOptions,
                       row: MonitorRow, now: datetime) -> float | None:
    """Equity readings from the chart into ``row``; the day's starting equity."""
    chart = await read_live_chart.fn(creds, row.project_id, EQUITY_CHART, count=CHART_POINTS)
    series = chart.chart.series.get("Equity") if chart.chart else None
    if series is None:
        if chart.loading:
            row.alarms.append(Alarm(finding="unknown", reason="the equity chart is loading"))
        return None
    # By time only, stable: points within one second keep their order (never by value).
    row.points = sorted(series.points(), key=lambda point: point[0])
    if not row.points:
        return None
    row.equity = row.points[-1][1]
    row.drawdown_percent = drawdown_percent(row.points)
    day = daily_pnl(row.points)
    row.daily_pnl = day[0] if day else None
    stale = options.stale_minutes
    age = _age_minutes(row.points[-1][0], now)
    if stale is not None and age > stale:
        row.alarms.append(Alarm(finding="stale-equity",
                                reason=f"no new equity point for {age:.1f} min"))
    return day[1] if day else None


async def _read_last_log(creds: QuantConnectCredentials, options: MonitorLiveOptions,
                         row: MonitorRow, now: datetime) -> None:
    """The last log line's age into ``row`` (one read, two past 250 lines)."""
    read = read_live_logs.fn
    assert row.deploy_id is not None
    logs = await read(creds, row.project_id, row.deploy_id, 0, LOG_PAGE)
    total = (logs.length - (logs.deployment_offset or 0) if logs.length is not None
             else len(logs.logs))
    lines = logs.logs
    if total > LOG_PAGE:
        lines = (await read(creds, row.project_id, row.deploy_id, total - LOG_PAGE,
                            total)).logs or lines
    stamps = [t for t in map(log_time, lines) if t is not None]
    if not stamps:
        return
    row.last_log_age_minutes = _age_minutes(max(stamps), now)
    stale = options.stale_minutes
    if stale is not None and row.last_log_age_minutes > stale:
        row.alarms.append(Alarm(finding="stale-logs", reason=f"no new log line for "
                                f"{row.last_log_age_minutes:.1f} min"))


async def check_algorithm(creds: QuantConnectCredentials, options: MonitorLiveOptions,
                          algorithm: LiveAlgorithmSummary, name: str | None,
                          now: datetime) -> MonitorRow:
    """Every check of one listed algorithm; a read that fails becomes an ``unknown`` finding.

    The reads are the tasks' own functions, not task runs: a monitor of a hundred algorithms
    on a 5-minute schedule would otherwise write some 270 task runs a run into the Prefect
    database and spend most of its time orchestrating them. They are plain reads, retried on
    transient failures by the client's own engine; the list and any stop stay task runs.
    """
    assert algorithm.project_id is not None
    row = MonitorRow(project_id=algorithm.project_id, project_name=name,
                     deploy_id=algorithm.deploy_id or None, status=algorithm.status or "?",
                     equity=algorithm.equity)
    row.alarms += status_alarms(algorithm, options, now)
    if algorithm.ended or not algorithm.deploy_id:
        return row
    day_start: float | None = None
    for what, read in (("equity chart", _read_equity), ("logs", _read_last_log)):
        try:
            started = await read(creds, options, row, now)
        except Exception as error:  # a failed read is unknown, never a stop
            row.alarms.append(Alarm(finding="unknown", reason=f"reading the {what} failed: "
                                    f"{type(error).__name__}"))
            continue
        if what == "equity chart":
            day_start = started
    row.alarms += limit_alarms(row, day_start, options)
    return row


async def check_all(creds: QuantConnectCredentials, options: MonitorLiveOptions,
                    algorithms: Sequence[LiveAlgorithmSummary], names: dict[int, str],
                    now: datetime) -> list[MonitorRow]:
    """:func:`check_algorithm` for each of ``algorithms``, ``options.max_concurrent_reads`` at
    once, in the algorithms' order.

    Why bounded: one at a time, a hundred algorithms at 100 ms a request take over 20 s, past a
    5-minute schedule's comfort on a slow link; all at once would burst a hundred requests
    into QuantConnect's rate limit. Each algorithm's own reads stay sequential (its log read
    depends on the first page), so the requests per algorithm do not change.
    """
    rows: list[MonitorRow | None] = [None] * len(algorithms)
    limiter = anyio.CapacityLimiter(options.max_concurrent_reads)

    async def one(index: int, algorithm: LiveAlgorithmSummary) -> None:
        async with limiter:
            rows[index] = await check_algorithm(creds, options, algorithm,
                                                names.get(algorithm.project_id or 0), now)

    async with anyio.create_task_group() as group:
        for index, algorithm in enumerate(algorithms):
            group.start_soon(one, index, algorithm)
    return [row for row in rows if row is not None]


def finding_event(row: MonitorRow, alarm: Alarm, simulated: bool) -> dict[str, Any]:
    """The Prefect event of one finding, as ``emit_event`` arguments: names, ids and the
    reason, never a credential.

    Example:
        >>> row = MonitorRow(project_id=7, project_name="Live/sma", status="Running")
        >>> event = finding_event(row, Alarm(finding="drawdown", reason="12% down"), True)
        >>> event["event"], event["resource"]["prefect.resource.id"]
        ('quantconnect.live.drawdown', 'quantconnect.live.7')
    """
    return {
        "event": f"quantconnect.live.{alarm.finding}",
        # Project 0 stands for the whole selection (the list itself could not be read).
        "resource": {"prefect.resource.id": f"quantconnect.live.{row.project_id or 'selection'}",
                     "prefect.resource.name": row.project_name or str(row.project_id),
                     "quantconnect.project-id": str(row.project_id),
                     "quantconnect.deploy-id": row.deploy_id or ""},
        "payload": {"project_id": row.project_id, "project_name": row.project_name,
                    "deploy_id": row.deploy_id, "status": row.status,
                    "finding": alarm.finding, "reason": alarm.reason, "equity": row.equity,
                    "drawdown_percent": row.drawdown_percent, "daily_pnl": row.daily_pnl,
                    "simulated": simulated},
    }


async def act(creds: QuantConnectCredentials, options: MonitorLiveOptions,
              row: MonitorRow) -> None:
    """``on_alarm`` on one alarmed running algorithm (the caller checked it was selected)."""
    if options.on_alarm == "none" or not any(a.finding in ACTIONABLE for a in row.alarms):
        return
    # A liquidation is never retried by a task: one whose answer was lost is read, not resent.
    end = (liquidate_live if options.on_alarm == "liquidate"
           else options.retries.bind(stop_live)[0])
    try:
        done = await end(creds, row.project_id)
    except Exception as error:
        row.action = f"{options.on_alarm} failed: {type(error).__name__}"
        return
    row.action = ({"stop": "stopped", "liquidate": "liquidated"}[options.on_alarm] if done
                  else "was not running")


@flow(**IN_MEMORY_RESULTS, name="monitor-live")
async def monitor_live_flow(
    options: MonitorLiveOptions = DEFAULT_MONITOR,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> MonitorReport:
    """Check the selected live algorithms, publish the table, emit an event per finding.

    Args:
        options: What to watch, the limits, and what to do on an alarm (default: nothing).
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        The typed report (also the table artifact ``options.artifact_key``).
    """
    log = get_run_logger()
    creds = await resolve_credentials(credentials, credentials_block)
    report = MonitorReport(simulated=not is_real_service(creds.to_settings().base_url))
    now = datetime.now(timezone.utc)
    try:
        list_all, list_algorithms = options.retries.bind(list_projects, list_live)
        projects = await list_all(creds)
        names = {p.project_id: p.name for p in projects}
        listed = await list_algorithms(creds)
        # Ages are the service's: its log lines and equity points carry its clock, and a local
        # clock off by minutes would raise (or hide) stale alarms. The client learnt the offset
        # from the answers above.
        now = creds.get_client().service_now()
    except Exception as error:
        # Nothing is known: say so (never "stopped"); named projects get their own row.
        reason = f"listing the live algorithms failed: {type(error).__name__}"
        log.warning("monitor-live: %s", reason)
        ids = options.project_ids or [0]
        report.rows = [MonitorRow(project_id=pid, project_name=None if pid else "all selected",
                                  alarms=[Alarm(finding="unknown", reason=reason)])
                       for pid in ids]
        listed, names = [], {}
    report.rows += await check_all(creds, options, watched(listed, names, options, now),
                                   names, now)
    for row in report.rows:
        if row.status.lower() not in ("unknown", "?") and not has_ended(row.status):
            await act(creds, options, row)
        for alarm in row.alarms:
            emit_event(**finding_event(row, alarm, report.simulated))
            log.warning("Live algorithm of %s: %s (%s)", row.label, alarm.finding, alarm.reason)
    with anyio.CancelScope(shield=True):
        await acreate_table_artifact(
            table=[row.table_row() for row in report.rows] or [{"project": "(none selected)"}],
            key=options.artifact_key,
            description=f"Live algorithms: {len(report.rows)} watched, "
            f"{len(report.alarms)} finding(s)" + (" (SIMULATED)" if report.simulated else ""),
        )
        if report.alarms:
            await acreate_markdown_artifact(
                markdown=report.alarm_markdown(), key=f"{options.artifact_key}-alarms",
                description=f"{len(report.alarms)} live algorithm finding(s)",
            )
    log.info("monitor-live: %s algorithm(s), %s finding(s)", len(report.rows),
             len(report.alarms))
    return report


__all__ = ["check_algorithm", "daily_pnl", "drawdown_percent", "finding_event", "log_time",
           "monitor_live_flow", "watched"]
