"""The one place where the emulator's models become the service's JSON.

Resources keep plain dataclasses; every payload key and every format the
client sees (datetimes, ids, the documented shapes of ``Project``,
``ProjectFile``, ``LeanVersion``, ``AccountResponse``...) is written here, so a
field misnamed in one answer cannot differ from another answer. Datetimes go
out in the service's ``yyyy-MM-dd HH:mm:ss`` form (UTC), as the live service
sends them for projects, files, LEAN versions and backtests.

Example:
    >>> from datetime import datetime, timezone
    >>> datetime_plain(datetime(2021, 11, 26, 15, 18, 27, 693000, tzinfo=timezone.utc))
    '2021-11-26 15:18:27'
"""

from __future__ import annotations

import hashlib
import statistics
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from quantconnect_emulator.simulate import CHART_NAMES as SIM_CHARTS
from quantconnect_emulator.simulate import (
    SIMULATED_NOTE,
    Simulation,
    Trade,
    day_time,
    placeholder_statistics,
)
from quantconnect_emulator.stages import (
    DONE,
    ERROR,
    FINISHING,
    QUEUED,
    RUNNING,
    SETTLED,
    STATISTICS_IN,
    STATUS_QUEUED,
)
from quantconnect_emulator.templates import LEAN_VERSIONS

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.resources.backtests import Backtest, Backtests
    from quantconnect_emulator.resources.compiles import Compile
    from quantconnect_emulator.resources.projects import Project, ProjectFile


def datetime_iso(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2021-11-26T15:18:27.693Z``."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def datetime_plain(value: datetime) -> str:
    """The service's other datetime form, ``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def lean_versions() -> list[dict[str, Any]]:
    """``versions``: copies of the emulated LEAN versions (``LeanVersion`` shape)."""
    return [dict(version) for version in LEAN_VERSIONS]


def collaborator(account: Account) -> dict[str, Any]:
    """The account's user as a ``Collaborator`` (the owner of every project)."""
    user_id = account.user_id
    return {
        "uid": user_id,
        "liveControl": True,
        "permission": "write",
        "publicId": f"emulator_user_{user_id}",
        "profileImage": "https://cdn.quantconnect.com/web/i/users/profile/default.jpg",
        "email": f"user{user_id}@example.invalid",
        "name": "Emulator User",
        "bio": "",
        "owner": True,
    }


def project(account: Account, model: Project) -> dict[str, Any]:
    """A ``Project`` as ``projects/create`` and ``projects/read`` answer it."""
    return {
        "projectId": model.project_id,
        "organizationId": model.organization_id,
        "name": model.name,
        "modified": datetime_plain(model.modified),
        "created": datetime_plain(model.created),
        "ownerId": account.user_id,
        "language": model.language,
        "collaborators": [collaborator(account)],
        "leanVersionId": LEAN_VERSIONS[0]["id"],
        "leanPinnedToMaster": True,
        "owner": True,
        "description": model.description,
        "channelId": f"P{model.project_id}-{model.channel_suffix}",
        "parameters": [],
        "libraries": [],
        "grid": None,
        "liveGrid": None,
        "paperEquity": None,
        "lastLiveDeployment": None,
        "liveForm": None,
        "encrypted": False,
        "codeRunning": False,
        "leanEnvironment": 1,
        "encryptionKey": None,
    }


def project_file(owner: Project, model: ProjectFile) -> dict[str, Any]:
    """A ``ProjectFile``."""
    return {
        "id": model.file_id,
        "projectId": owner.project_id,
        "name": model.name,
        "content": model.content,
        "modified": datetime_plain(model.modified),
        "open": model.open,
        "isLibrary": model.is_library,
    }


def account(model: Account) -> dict[str, Any]:
    """QuantConnect's ``AccountResponse``: an account without QCC or a card on file (``card`` is
    ``null`` then, not an empty card: LEAN's own tests expect it)."""
    return {"organizationId": model.organization_id, "creditBalance": 0.0, "card": None}


def organization(model: Account) -> dict[str, Any]:
    """A minimal ``Organization`` (the emulated account's only one)."""
    return {
        "id": model.organization_id,
        "name": "Emulator Organization",
        "seats": 1,
        "type": "Quant Researcher",
        "credit": {"movements": [], "balance": 0.0},
        "products": [],
        "data": {"signedTime": None, "current": False},
        # The lean CLI's QCFullOrganization requires the members (lean/models/api.py).
        "members": [
            {"id": model.user_id, "name": "Emulator User", "isAdmin": True,
             "email": f"user{model.user_id}@example.invalid"}
        ],
    }


def compile_job(build: Compile, state: str, *, created: bool = False) -> dict[str, Any]:
    """A compile as ``/compile/create`` (``created``) or ``/compile/read`` answers it."""
    payload: dict[str, Any] = {
        "compileId": build.compile_id,
        "state": state,
        "projectId": build.project_id,
        "signature": build.signature,
        "signatureOrder": list(build.signature_order),
    }
    if created:
        # Only the create answer names the files' parameters (backtests §2; ReadCompileResponse
        # has compileId, state and logs).
        payload["parameters"] = [
            {"file": entry["file"], "parameters": list(entry["parameters"])}  # type: ignore[call-overload]
            for entry in build.report.file_parameters
        ]
    else:
        # Logs appear once the build is done; a build error is still success:true.
        payload["logs"] = [] if state == "InQueue" else list(build.logs)
    return payload


# ------------------------------------------------------------------ backtests

def _empty_map(value: dict[str, Any]) -> dict[str, Any] | list[Any]:
    """``parameterSet``: the service sends ``[]`` for no parameters (other maps are ``{}``)."""
    return value if value else []


def _timespan(seconds: float) -> str:
    """A C# ``TimeSpan`` string: ``d.hh:mm:ss`` (``hh:mm:ss`` under a day)."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{clock}" if days else clock


def _server_statistics(account: Account) -> dict[str, str]:
    # The simulated label lives here (and in the report, and in the emulator's own listing):
    # never in a field the user writes, such as the note or the tags.
    return {
        "Note": SIMULATED_NOTE,
        "Total Time (s)": f"{account.jobs_config.backtest_seconds:g}",
        "Server": "quantconnect_emulator",
    }


def chart_names(model: Backtest) -> list[str]:
    """The charts a backtest lists: LEAN's defaults, then the algorithm's own (``plot``)."""
    own = [name for name in model.charts if name not in SIM_CHARTS]
    return [*SIM_CHARTS, *own]


def _statistics_fields(
    account: Account, model: Backtest, stage: str, progress: float, created: bool
) -> dict[str, Any]:
    """``statistics`` and ``runtimeStatistics`` as the stage shows them (contract §7)."""
    jobs = account.jobs_config
    sim = model.simulation
    fields: dict[str, Any] = {}
    if created or stage == QUEUED:
        # Before it runs: no runtime statistics (null, never []); statistics [] on reads if so
        # configured, and never [] on the create answer (a map or absent there).
        if not created and jobs.queued_statistics == "list":
            fields["statistics"] = []
        fields["runtimeStatistics"] = None
    elif stage in (RUNNING, ERROR):
        placeholders = jobs.running_statistics == "placeholders" or stage == ERROR
        fields["statistics"] = placeholder_statistics(sim.cash) if placeholders else []
        fields["runtimeStatistics"] = sim.runtime_statistics(progress)
    elif stage == FINISHING:
        missing = jobs.results_lag_missing
        both = missing == "both"
        fields["statistics"] = [] if both or missing == "statistics" else dict(sim.statistics)
        fields["runtimeStatistics"] = (
            None if both or missing == "runtime_statistics" else sim.runtime_statistics(1.0)
        )
    else:
        fields["statistics"] = dict(sim.statistics)
        fields["runtimeStatistics"] = sim.runtime_statistics(progress)
    return fields


def backtest(
    account: Account, model: Backtest, backtests: Backtests, *, created: bool = False
) -> dict[str, Any]:
    """A ``Backtest`` as ``/backtests/read`` answers it, or ``/backtests/create`` (``created``:
    a just-created backtest answers ``In Queue...``, whether or not a node was free)."""
    stage = backtests.stage(model)
    progress = 0.0 if created else backtests.progress(model)
    sim = model.simulation
    failure = model.failure if stage == ERROR and not created else None
    started = stage != QUEUED and not created
    finished = stage in DONE and not created
    return {
        "backtestId": model.backtest_id,
        "projectId": model.project_id,
        "organizationId": account.organization_id,
        "name": model.name,
        "note": model.note,
        "status": STATUS_QUEUED if created else backtests.status(model),
        "completed": finished or failure is not None,
        "progress": round(progress, 4),
        "error": failure.error if failure else None,
        "stacktrace": failure.stacktrace if failure else None,
        "hasInitializeError": bool(failure and failure.during_initialization),
        "created": datetime_plain(model.created),
        "backtestStart": datetime_plain(_midnight(sim.start)),
        "backtestEnd": datetime_plain(_midnight(sim.end)),
        "tradeableDates": sim.days,
        "parameterSet": _empty_map(dict(model.parameters)),
        **_statistics_fields(account, model, stage, progress, created),
        "totalPerformance": total_performance(sim) if stage == SETTLED and started else None,
        "charts": {name: {"name": name} for name in chart_names(model)} if started else {},
        "rollingWindow": {},  # a map: LEAN's ReadBacktest refuses a list here
        "nodeName": "Emulated B2-8 node" if started else None,
        "optimizationId": None,
        "snapshotId": 0,
        "researchGuide": {"minutes": 0, "backtestCount": 1, "parameters": len(model.parameters)},
        "outOfSampleMaxEndDate": None,
        "outOfSampleDays": 0,
        "analysis": [],
        "serverStatistics": _server_statistics(account),
    }


def backtest_summary(
    model: Backtest, backtests: Backtests, with_statistics: bool
) -> dict[str, Any]:
    """A ``BacktestSummary`` of ``/backtests/list`` (numbers only ``with_statistics``)."""
    stage = backtests.stage(model)
    summary: dict[str, Any] = {
        "backtestId": model.backtest_id,
        "status": backtests.status(model),
        "name": model.name,
        "created": datetime_plain(model.created),
        "progress": round(backtests.progress(model), 4),
        "optimizationId": None,
        "tradeableDates": model.simulation.days,
        "parameterSet": _empty_map(dict(model.parameters)),
        "snapshotId": 0,
        "tags": [],  # the user's; a new backtest has none
    }
    if with_statistics:
        done = stage in STATISTICS_IN  # numbers only once the statistics are in
        p = model.simulation.portfolio
        trades = len(model.simulation.trades)

        def number(key: str) -> float | None:
            return round(p[key], 6) if done else None

        summary.update(
            {
                "sharpeRatio": number("sharpeRatio"),
                "alpha": number("alpha"),
                "beta": number("beta"),
                "compoundingAnnualReturn": number("compoundingAnnualReturn"),
                "drawdown": number("drawdown"),
                "lossRate": number("lossRate"),
                "netProfit": number("totalNetProfit"),
                "parameters": len(model.parameters),
                "psr": number("probabilisticSharpeRatio"),
                "securityTypes": "Equity",
                "sortinoRatio": number("sortinoRatio"),
                "treynorRatio": number("treynorRatio"),
                "trades": 2 * trades if done else None,
                "winRate": number("winRate"),
            }
        )
    return summary


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _trade_statistics(sim: Simulation) -> dict[str, Any]:
    trades = sim.trades
    pnl = [t.profit_loss for t in trades]
    wins = [x for x in pnl if x > 0]
    losses = [x for x in pnl if x <= 0]
    spans = [(sim.times[t.exit_index] - sim.times[t.entry_index]) for t in trades] or [0]
    win_spans = [s for s, x in zip(spans, pnl, strict=False) if x > 0] or [0]
    loss_spans = [s for s, x in zip(spans, pnl, strict=False) if x <= 0] or [0]
    fees = sum(t.fees for t in trades)
    streaks = {True: 0, False: 0}
    current, last = 0, None
    for x in pnl:
        won = x > 0
        current = current + 1 if won == last else 1
        last = won
        streaks[won] = max(streaks[won], current)
    count = len(trades) or 1
    total_profit, total_loss = sum(wins), sum(losses)

    def money(value: float) -> str:
        # LEAN serialises some decimals as strings: the client must accept both forms.
        return f"{value:.2f}"

    deviation = statistics.pstdev(pnl) if len(pnl) > 1 else 0.0
    downside = statistics.pstdev([x for x in pnl if x < 0]) if len(losses) > 1 else 0.0
    drawdown = sim.portfolio["drawdown"]
    start = sim.times[0]
    end = sim.times[-1]
    return {
        "startDateTime": datetime_iso(datetime.fromtimestamp(start, tz=timezone.utc)),
        "endDateTime": datetime_iso(datetime.fromtimestamp(end, tz=timezone.utc)),
        "totalNumberOfTrades": len(trades),
        "numberOfWinningTrades": len(wins),
        "numberOfLosingTrades": len(losses),
        "totalProfitLoss": money(sum(pnl)),
        "totalProfit": money(total_profit),
        "totalLoss": money(total_loss),
        "largestProfit": money(max(wins, default=0.0)),
        "largestLoss": money(min(losses, default=0.0)),
        "averageProfitLoss": money(sum(pnl) / count),
        "averageProfit": money(total_profit / len(wins) if wins else 0.0),
        "averageLoss": money(total_loss / len(losses) if losses else 0.0),
        "averageTradeDuration": _timespan(statistics.fmean(spans)),
        "averageWinningTradeDuration": _timespan(statistics.fmean(win_spans)),
        "averageLosingTradeDuration": _timespan(statistics.fmean(loss_spans)),
        "medianTradeDuration": _timespan(statistics.median(spans)),
        "medianWinningTradeDuration": _timespan(statistics.median(win_spans)),
        "medianLosingTradeDuration": _timespan(statistics.median(loss_spans)),
        "maxConsecutiveWinningTrades": streaks[True],
        "maxConsecutiveLosingTrades": streaks[False],
        "profitLossRatio": round(sim.portfolio["profitLossRatio"], 4),
        "winLossRatio": round(len(wins) / len(losses), 4) if losses else 0,
        "winRate": round(len(wins) / count, 4),
        "lossRate": round(len(losses) / count, 4),
        "averageMAE": round(-abs(total_loss) / count * 0.5, 2),
        "averageMFE": round(total_profit / count * 1.5, 2),
        "largestMAE": round(min(losses, default=0.0) * 1.5, 2),
        "largestMFE": round(max(wins, default=0.0) * 1.5, 2),
        "maximumClosedTradeDrawdown": round(min(losses, default=0.0), 2),
        "maximumIntraTradeDrawdown": round(min(losses, default=0.0) * 1.5, 2),
        "profitLossStandardDeviation": round(deviation, 2),
        "profitLossDownsideDeviation": round(downside, 2),
        "profitFactor": round(total_profit / abs(total_loss), 4) if total_loss else 0,
        "sharpeRatio": round(sim.portfolio["sharpeRatio"], 4),
        "sortinoRatio": round(sim.portfolio["sortinoRatio"], 4),
        "profitToMaxDrawdownRatio": round(sum(pnl) / (drawdown * sim.cash), 4) if drawdown else 0,
        "maximumEndTradeDrawdown": round(min(losses, default=0.0) * 0.5, 2),
        "averageEndTradeDrawdown": round(total_loss / count * 0.25, 2),
        "maximumDrawdownDuration": _timespan(sim.portfolio["drawdownRecovery"] * 86_400),
        "totalFees": money(fees),
    }


def _closed_trade(sim: Simulation, trade: Trade) -> dict[str, Any]:
    entry, exit_ = day_time(sim, trade.entry_index), day_time(sim, trade.exit_index, 19, 59)
    pnl = trade.profit_loss
    return {
        "symbol": dict(sim.symbol),
        "entryTime": datetime_iso(entry),
        "entryPrice": round(trade.entry_price, 2),
        "direction": trade.direction,
        "quantity": trade.quantity,
        "exitTime": datetime_iso(exit_),
        "exitPrice": round(trade.exit_price, 2),
        "profitLoss": round(pnl, 2),
        "totalFees": round(trade.fees, 2),
        "mae": round(-abs(pnl) * 0.5, 2),
        "mfe": round(abs(pnl) * 1.5, 2),
        "duration": _timespan((exit_ - entry).total_seconds()),
        "endTradeDrawdown": round(-abs(pnl) * 0.25, 2),
    }


def total_performance(sim: Simulation) -> dict[str, Any]:
    """``totalPerformance``: trade and portfolio statistics (fractions) and closed trades."""
    portfolio = {key: round(value, 6) for key, value in sim.portfolio.items()}
    return {
        "tradeStatistics": _trade_statistics(sim),
        "portfolioStatistics": portfolio,
        "closedTrades": [_closed_trade(sim, t) for t in sim.trades],
    }


SYMBOL_SERIES = "<symbol>"
_SERIES: dict[str, list[tuple[str, str, int, str]]] = {
    # chart -> [(series, unit, seriesType, color)]; seriesType 0 line, 2 candle, 3 bar.
    "Strategy Equity": [("Equity", "$", 2, "#ff9914"), ("Return", "%", 3, "#00a1e4")],
    "Benchmark": [("Benchmark", "$", 0, "#f5ae29")],
    "Drawdown": [("Equity Drawdown", "%", 0, "#ff0000")],
    "Capacity": [("Strategy Capacity", "$", 0, "#18a0fb")],
    "Exposure": [("Equity - Long Ratio", "", 0, "#2a9d8f")],
    # SYMBOL_SERIES: a series named after the traded symbol (``add_equity``'s ticker).
    "Assets Sales Volume": [(SYMBOL_SERIES, "$", 3, "#6c757d")],
    "Portfolio Turnover": [("Portfolio Turnover", "%", 0, "#7b2cbf")],
    "Portfolio Margin": [(SYMBOL_SERIES, "%", 5, "#1f77b4")],  # 5: stacked area
}


def _series_values(sim: Simulation, series: str, upto: int) -> list[list[float]]:
    times = sim.times[: upto + 1]
    if series == "Equity":
        return [
            [t, round(o, 2), round(h, 2), round(lo, 2), round(c, 2)]
            for t, (o, h, lo, c) in zip(times, sim.candles, strict=False)
        ]
    if series == "Return":
        previous = [sim.cash, *sim.equity]
        return [
            [t, round((previous[i + 1] / previous[i] - 1) * 100, 4)] for i, t in enumerate(times)
        ]
    if series == "Benchmark":
        return [[t, round(v, 2)] for t, v in zip(times, sim.benchmark, strict=False)]
    if series == "Equity Drawdown":
        peak, values = sim.cash, []
        for t, v in zip(times, sim.equity, strict=False):
            peak = max(peak, v)
            values.append([t, round((v / peak - 1) * 100, 4)])
        return values
    if series == "Strategy Capacity":
        return [[t, sim.capacity] for t in times[::5]]
    if series == "Equity - Long Ratio":
        return [
            [t, 1.0 if any(tr.entry_index <= i < tr.exit_index for tr in sim.trades) else 0.0]
            for i, t in enumerate(times)
        ]
    if series == "Margin":
        return [
            [t, 50.0 if any(tr.entry_index <= i < tr.exit_index for tr in sim.trades) else 0.0]
            for i, t in enumerate(times)
        ]
    if series == "Sales":
        return [
            [sim.times[tr.exit_index], round(tr.quantity * tr.exit_price, 2)]
            for tr in sim.trades
            if tr.exit_index <= upto
        ]
    return [[t, round(sim.turnover * 100, 4)] for t in times]


def _own_series_values(sim: Simulation, chart: str, series: str, upto: int) -> list[list[float]]:
    """A chart the algorithm plots: a moving average of its equity, of a window drawn from the
    chart's and series' names (deterministic, and clearly not the algorithm's own numbers)."""
    digest = hashlib.sha256(f"{chart}\0{series}".encode()).digest()
    window = 5 + digest[0] % 46
    values, total = [], 0.0
    for i, t in enumerate(sim.times[: upto + 1]):
        total += sim.equity[i] - (sim.equity[i - window] if i >= window else 0.0)
        values.append([t, round(total / min(i + 1, window), 2)])
    return values


def chart(
    sim: Simulation,
    name: str,
    upto: int,
    count: int | None = None,
    start: int | None = None,
    end: int | None = None,
    own: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A ``Chart`` with its series up to day ``upto``; ``start``/``end`` (unix s) and
    ``count`` (evenly thinned) select points. ``own``: the algorithm's charts (name -> series),
    read when ``name`` is not one of LEAN's defaults."""
    layout = _SERIES.get(name) or [
        (series_name, "", 0, "#5c6bc0") for series_name in (own or {}).get(name, [])
    ]
    series = {}
    for index, (series_name, unit, kind, color) in enumerate(layout):
        if name in _SERIES:
            kind_of = series_name
            if series_name == SYMBOL_SERIES:
                kind_of = "Margin" if name == "Portfolio Margin" else "Sales"
                series_name = sim.symbol["value"]
            values = _series_values(sim, kind_of, upto)
        else:
            values = _own_series_values(sim, name, series_name, upto)
        values = [
            v for v in values if (start is None or v[0] >= start) and (end is None or v[0] <= end)
        ]
        if count is not None and len(values) > count:
            step = len(values) / count
            values = [values[int(i * step)] for i in range(count - 1)] + [values[-1]]
        series[series_name] = {
            "name": series_name,
            "unit": unit,
            "index": index,
            "seriesType": kind,
            "values": values,
            "color": color,
            "scatterMarkerSymbol": "none",
            "zIndex": 0,
            "indexName": None,
            "tooltip": None,
        }
    return {"name": name, "chartType": 1 if name == "Strategy Equity" else 0, "series": series}


def orders(sim: Simulation, upto: int) -> list[dict[str, Any]]:
    """Every filled order up to day ``upto`` (two per closed trade), by id."""
    result = []
    events = []
    for trade in sim.trades:
        sign = 1 if trade.direction == 0 else -1
        events.append((trade.entry_index, 14, trade, sign, trade.entry_price))
        events.append((trade.exit_index, 19, trade, -sign, trade.exit_price))
    events.sort(key=lambda e: (e[0], e[1]))
    for order_id, (index, hour, trade, sign, price) in enumerate(events, 1):
        if index > upto:
            break
        when = datetime_iso(day_time(sim, index, hour, 31 if hour == 14 else 59))
        quantity = sign * trade.quantity
        result.append(
            {
                "id": order_id,
                "contingentId": 0,
                "brokerId": [str(order_id)],
                "symbol": dict(sim.symbol),
                "price": round(price, 2),
                "priceCurrency": "USD",
                "time": when,
                "createdTime": when,
                "lastFillTime": when,
                "lastUpdateTime": when,
                "quantity": quantity,
                "type": 0,
                "status": 3,
                "tag": "",  # the algorithm's order tag: none was set
                "properties": {"timeInForce": {}},
                "securityType": 1,
                "direction": 0 if quantity > 0 else 1,
                "value": round(abs(quantity) * price, 2),
                "orderSubmissionData": {
                    "bidPrice": round(price - 0.01, 2),
                    "askPrice": round(price + 0.01, 2),
                    "lastPrice": round(price, 2),
                },
                "isMarketable": True,
                "priceAdjustmentMode": 0,
                "events": [],
            }
        )
    return result
