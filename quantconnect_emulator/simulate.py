"""Deterministic, clearly simulated backtest results (LEAN is never run).

Every number is a function of the project's files, its language and the
backtest's parameters: they seed a random walk (the strategy's daily returns,
tied to a benchmark walk by a drawn beta), a set of closed trades and their
orders, from which the statistics are computed the way their names say (CAR,
drawdown, Sharpe, Sortino, alpha/beta against the benchmark, PSR...). The same
inputs give the same results; changing a parameter changes them. Parameters
count as the text LEAN's ``GetParameter`` returns (:func:`lean_parameter_text`:
``10``, ``10.0`` and ``"10"`` are one ``"10"``). What the parse of the code
found (:mod:`quantconnect_emulator.codecheck`) sets the period and the starting
cash; as in LEAN, an end date after yesterday is moved to yesterday. Formats
follow LEAN's statistics (see the contract): statistics are strings with LEAN's
rounding, runtime statistics are money strings, ``totalPerformance`` holds
fractions.

Example:
    >>> files = {"main.py": "x = 1\\n"}
    >>> one = simulate("Py", files, {"fast": 10})
    >>> one.statistics == simulate("Py", files, {"fast": 10}).statistics
    True
    >>> one.statistics == simulate("Py", files, {"fast": 11}).statistics
    False
    >>> one.statistics == simulate("Py", files, {"fast": "10"}).statistics
    True
    >>> len(one.statistics), len(one.runtime_statistics(1.0))
    (27, 8)
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import statistics as stats
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from quantconnect_emulator.codecheck import SourceReport, check_sources
from quantconnect_emulator.wire import datetime_iso, timespan

#: Shown wherever a person reads results, so simulated numbers are not taken for LEAN's.
SIMULATED_NOTE = "simulated by quantconnect_emulator; not LEAN results"
#: Longest simulated period, in trading days (ten years): bounds the work per backtest.
MAX_TRADING_DAYS = 2_610
DEFAULT_CASH = 100_000.0
SYMBOL = {"value": "SPY", "id": "SPY R735QTJ8XC9X", "permtick": "SPY"}


def symbol_of(ticker: str | None) -> dict[str, str]:
    """The ``Symbol`` the simulation trades: the algorithm's first literal ``add_equity``.

    The id is LEAN's for a US equity first listed on its default date (1998-01-02), the one it
    generates without a map file: right for SPY, an approximation for later listings.

    Example:
        >>> symbol_of("QQQ")
        {'value': 'QQQ', 'id': 'QQQ R735QTJ8XC9X', 'permtick': 'QQQ'}
        >>> symbol_of(None) == SYMBOL
        True
    """
    if not ticker:
        return dict(SYMBOL)
    ticker = ticker.upper()
    return {"value": ticker, "id": f"{ticker} {SYMBOL['id'].split()[1]}", "permtick": ticker}

#: The charts a backtest lists (LEAN's defaults), before the algorithm's own.
CHART_NAMES = (
    "Strategy Equity",
    "Benchmark",
    "Drawdown",
    "Capacity",
    "Exposure",
    "Assets Sales Volume",
    "Portfolio Turnover",
    "Portfolio Margin",
)


def lean_parameter_text(value: str | int | float) -> str:
    """The text LEAN's ``GetParameter`` sees for a parameter value sent as JSON.

    LEAN keeps parameters as strings. A string stays as sent; a JSON number becomes the text
    C#'s ``double.ToString()`` gives it (shortest round trip; scientific from ``1E+15`` and below
    ``1E-04``): so ``10``, ``10.0`` and ``"10"`` are all ``"10"``, while ``"10.0"`` stays
    ``"10.0"``. How the service itself turns a number into text is unconfirmed; this is the
    emulator's choice.

    Example:
        >>> [lean_parameter_text(v) for v in (10, 10.0, "10", "10.0", 0.5, -0.25, 1e20, 1.5e-7)]
        ['10', '10', '10', '10.0', '0.5', '-0.25', '1E+20', '1.5E-07']
        >>> [lean_parameter_text(v) for v in (123456789012345.0, 1e15, 0.0001, 0.00001)]
        ['123456789012345', '1E+15', '0.0001', '1E-05']
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    if not isinstance(exponent, int):  # NaN or Infinity: parse_parameters refuses them first
        raise ValueError(f"parameter value {value!r} is not a finite number")
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exponent += len(digits) - len(text)
    scientific = exponent + len(text) - 1  # the power of ten of the first digit
    minus = "-" if sign else ""
    if text == "0":
        return minus + "0"
    if scientific >= 15 or scientific < -4:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}E{'+' if scientific >= 0 else '-'}{abs(scientific):02d}"
    if exponent >= 0:
        return minus + text + "0" * exponent
    point = len(text) + exponent
    if point > 0:
        return f"{minus}{text[:point]}.{text[point:]}"
    return f"{minus}0.{'0' * -point}{text}"


def _yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


@dataclass
class Trade:
    """One closed round trip (long or short) in the simulated period."""

    entry_index: int
    exit_index: int
    direction: int
    quantity: int
    entry_price: float
    exit_price: float
    fees: float

    @property
    def profit_loss(self) -> float:
        """Gross profit of the trade, in account currency."""
        sign = 1 if self.direction == 0 else -1
        return sign * self.quantity * (self.exit_price - self.entry_price)


@dataclass
class Simulation:
    """A simulated backtest: the daily series, the trades, and what is derived from them."""

    start: date
    end: date
    cash: float
    times: list[int]
    equity: list[float]
    candles: list[tuple[float, float, float, float]]
    benchmark: list[float]
    trades: list[Trade]
    capacity: float
    turnover: float
    #: The traded symbol (see :func:`symbol_of`).
    symbol: dict[str, str] = field(default_factory=lambda: dict(SYMBOL))
    statistics: dict[str, str] = field(default_factory=dict)
    portfolio: dict[str, float] = field(default_factory=dict)

    @property
    def days(self) -> int:
        """Trading days simulated (``tradeableDates``)."""
        return len(self.times)

    def index_at(self, progress: float) -> int:
        """The last day reached at ``progress`` (0..1)."""
        return max(0, min(self.days - 1, int(progress * (self.days - 1))))

    def runtime_statistics(self, progress: float) -> dict[str, str]:
        """The 8 runtime statistics, sorted, as they stand at ``progress``."""
        index = self.index_at(progress)
        equity = self.equity[index]
        fees = sum(t.fees for t in self.trades if t.exit_index <= index)
        volume = sum(
            t.quantity * (t.entry_price + t.exit_price)
            for t in self.trades
            if t.exit_index <= index
        )
        net = equity - self.cash
        unrealized = 0.0 if progress >= 1 else net * 0.1
        psr = self.portfolio.get("probabilisticSharpeRatio", 0.0) if progress >= 1 else 0.0
        return {
            "Equity": _money(equity),
            "Fees": f"-${fees:,.2f}",
            "Holdings": _money(0.0 if progress >= 1 else equity * 0.5),
            "Net Profit": _money(net),
            "Probabilistic Sharpe Ratio": f"{psr * 100:.3f}%",
            "Return": f"{net / self.cash * 100:.2f} %",
            "Unrealized": _money(unrealized),
            "Volume": _money(volume),
        }


def simulate(
    language: str,
    files: dict[str, str],
    parameters: dict[str, Any],
    report: SourceReport | None = None,
) -> Simulation:
    """Simulate a backtest of these files with these parameters (see the module docstring)."""
    report = report or check_sources(language, files)
    texts = {name: lean_parameter_text(value) for name, value in parameters.items()}
    seed_text = json.dumps(
        {"language": language, "files": files, "parameters": texts}, sort_keys=True
    )
    rng = random.Random(int(hashlib.sha256(seed_text.encode()).hexdigest()[:16], 16))
    # The check refuses a start after today (an initialization error); still, never compute a
    # period from one: a day past 9999-12-31 does not exist.
    last = _yesterday()
    start = report.start if report.start and report.start <= last else date(2024, 1, 1)
    end = report.end if report.end and report.end > start else start + timedelta(days=365)
    end = min(end, last)  # LEAN moves a later end date to yesterday
    cash = report.cash if report.cash and math.isfinite(report.cash) else DEFAULT_CASH
    days = _trading_days(start, end)
    beta = rng.uniform(0.3, 1.2)
    alpha_daily = rng.uniform(-0.0003, 0.0006)
    noise = rng.uniform(0.003, 0.012)
    times, equity, candles, benchmark = [], [], [], []
    value, bench = cash, 400.0
    for day in days:
        market = rng.gauss(0.0004, 0.01)
        daily = beta * market + rng.gauss(alpha_daily, noise)
        opened, value, bench = value, value * (1 + daily), bench * (1 + market)
        wick = abs(rng.gauss(0, noise / 2))
        candles.append(
            (opened, max(opened, value) * (1 + wick), min(opened, value) * (1 - wick), value)
        )
        times.append(int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()))
        equity.append(value)
        benchmark.append(bench)
    simulation = Simulation(
        start=start,
        end=end,
        cash=cash,
        times=times,
        equity=equity,
        candles=candles,
        benchmark=benchmark,
        trades=_trades(rng, len(days), equity[-1] - cash, benchmark),
        capacity=round(rng.uniform(1e5, 5e7), -5),
        turnover=rng.uniform(0.01, 0.4),
        symbol=symbol_of(report.symbol),
    )
    simulation.portfolio = _portfolio(simulation)
    simulation.statistics = _statistics(simulation)
    return simulation


def _trading_days(start: date, end: date) -> list[date]:
    result: list[date] = []
    day = start
    while day <= end and len(result) < MAX_TRADING_DAYS:
        if day.weekday() < 5:
            result.append(day)
        day += timedelta(days=1)
    return result or [start]


def _trades(rng: random.Random, days: int, net: float, prices: list[float]) -> list[Trade]:
    count = rng.randint(4, 40) if days > 2 else 0
    trades = []
    raw = [rng.gauss(0, 1) for _ in range(count)]
    fees = [round(rng.uniform(1.0, 3.0), 2) * 2 for _ in range(count)]
    shift = (net + sum(fees) - sum(raw)) / count if count else 0.0
    for i in range(count):
        entry = rng.randrange(0, days - 1)
        exit_ = rng.randrange(entry + 1, days)
        quantity = rng.randint(10, 200)
        entry_price = prices[entry]
        profit = raw[i] * abs(net) / max(count, 1) + shift + raw[i] * 50
        direction = 0 if rng.random() < 0.8 else 1
        sign = 1 if direction == 0 else -1
        exit_price = entry_price + sign * profit / quantity
        trades.append(
            Trade(entry, exit_, direction, quantity, entry_price, max(exit_price, 0.01), fees[i])
        )
    return trades


def _returns(series: list[float], first: float) -> list[float]:
    previous = [first, *series[:-1]]
    return [now / before - 1 for now, before in zip(series, previous, strict=True)]


def _portfolio(sim: Simulation) -> dict[str, float]:
    returns = _returns(sim.equity, sim.cash)
    market = _returns(sim.benchmark, 400.0)
    n = len(returns)
    years = max((sim.end - sim.start).days / 365.25, 1 / 365.25)
    end_equity = sim.equity[-1]
    car = (end_equity / sim.cash) ** (1 / years) - 1 if end_equity > 0 else -1.0
    deviation = stats.pstdev(returns) if n > 1 else 0.0
    annual_sd = deviation * math.sqrt(252)
    mean = stats.fmean(returns)
    sharpe = mean * 252 / annual_sd if annual_sd else 0.0
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / n) * math.sqrt(252)
    sortino = mean * 252 / downside if downside else 0.0
    market_var = stats.pvariance(market) if n > 1 else 0.0
    beta = (
        sum((r - mean) * (m - stats.fmean(market)) for r, m in zip(returns, market, strict=True))
        / n
        / market_var
        if market_var
        else 0.0
    )
    alpha = (mean - beta * stats.fmean(market)) * 252
    active = [r - m for r, m in zip(returns, market, strict=True)]
    tracking = stats.pstdev(active) * math.sqrt(252) if n > 1 else 0.0
    information = stats.fmean(active) * 252 / tracking if tracking else 0.0
    peak, drawdown = sim.cash, 0.0
    for value in sim.equity:
        peak = max(peak, value)
        drawdown = max(drawdown, 1 - value / peak)
    psr = (
        0.5 * (1 + math.erf(mean / deviation * math.sqrt(n - 1) / math.sqrt(2)))
        if deviation
        else 0.0
    )
    wins = [t for t in sim.trades if t.profit_loss > 0]
    losses = [t for t in sim.trades if t.profit_loss <= 0]
    count = len(sim.trades) or 1
    win_rate, loss_rate = len(wins) / count, len(losses) / count
    average_win = stats.fmean([_trade_return(t) for t in wins]) if wins else 0.0
    average_loss = stats.fmean([_trade_return(t) for t in losses]) if losses else 0.0
    ratio = abs(average_win / average_loss) if average_loss else 0.0
    return {
        "averageWinRate": average_win,
        "averageLossRate": average_loss,
        "profitLossRatio": ratio,
        "winRate": win_rate,
        "lossRate": loss_rate,
        "expectancy": win_rate * ratio - loss_rate,
        "startEquity": sim.cash,
        "endEquity": round(end_equity, 2),
        "compoundingAnnualReturn": car,
        "drawdown": drawdown,
        "totalNetProfit": end_equity / sim.cash - 1,
        "sharpeRatio": sharpe,
        "probabilisticSharpeRatio": psr,
        "sortinoRatio": sortino,
        "alpha": alpha,
        "beta": beta,
        "annualStandardDeviation": annual_sd,
        "annualVariance": annual_sd**2,
        "informationRatio": information,
        "trackingError": tracking,
        "treynorRatio": mean * 252 / beta if beta else 0.0,
        "portfolioTurnover": sim.turnover,
        "valueAtRisk99": -2.326 * deviation,
        "valueAtRisk95": -1.645 * deviation,
        "drawdownRecovery": float(_recovery_days(sim)),
    }


def _trade_return(trade: Trade) -> float:
    return trade.profit_loss / (trade.entry_price * trade.quantity)


def _recovery_days(sim: Simulation) -> int:
    peak, peak_index, longest = sim.cash, 0, 0
    for index, value in enumerate(sim.equity):
        if value >= peak:
            longest = max(longest, index - peak_index)
            peak, peak_index = value, index
    return longest


def _trim(value: float, decimals: int) -> str:
    """LEAN's decimal rounding with trailing zeros dropped: ``0.19``, ``-0.063``, ``0``."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _percent(value: float, decimals: int) -> str:
    text = f"{value * 100:.{decimals}f}"
    return ("0" if float(text) == 0 and decimals == 0 else text.replace("-0.", "-0.")) + "%"


def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0 else f"$-{-value:,.2f}"


def _statistics(sim: Simulation) -> dict[str, str]:
    p = sim.portfolio
    fees = sum(t.fees for t in sim.trades)
    return {
        "Total Orders": str(2 * len(sim.trades)),
        "Average Win": _percent(p["averageWinRate"], 2),
        "Average Loss": _percent(p["averageLossRate"], 2),
        "Compounding Annual Return": _percent(p["compoundingAnnualReturn"], 3),
        "Drawdown": _percent(p["drawdown"], 3),
        "Expectancy": _trim(p["expectancy"], 3),
        "Start Equity": _trim(sim.cash, 2),
        "End Equity": _trim(p["endEquity"], 2),
        "Net Profit": _percent(p["totalNetProfit"], 3),
        "Sharpe Ratio": _trim(p["sharpeRatio"], 3),
        "Sortino Ratio": _trim(p["sortinoRatio"], 3),
        "Probabilistic Sharpe Ratio": _percent(p["probabilisticSharpeRatio"], 3),
        "Loss Rate": _percent(p["lossRate"], 0),
        "Win Rate": _percent(p["winRate"], 0),
        "Profit-Loss Ratio": _trim(p["profitLossRatio"], 2),
        "Alpha": _trim(p["alpha"], 3),
        "Beta": _trim(p["beta"], 3),
        "Annual Standard Deviation": _trim(p["annualStandardDeviation"], 3),
        "Annual Variance": _trim(p["annualVariance"], 3),
        "Information Ratio": _trim(p["informationRatio"], 3),
        "Tracking Error": _trim(p["trackingError"], 3),
        "Treynor Ratio": _trim(p["treynorRatio"], 3),
        "Total Fees": f"${fees:.2f}",
        "Estimated Strategy Capacity": f"${sim.capacity:.2f}",
        "Lowest Capacity Asset": sim.symbol["id"] if sim.trades else "",
        "Portfolio Turnover": _percent(p["portfolioTurnover"], 2),
        "Drawdown Recovery": str(int(p["drawdownRecovery"])),
    }


def trade_statistics(sim: Simulation) -> dict[str, Any]:
    """``totalPerformance.tradeStatistics``: the closed trades' figures, LEAN's keys.

    Example:
        >>> t = trade_statistics(simulate("Py", {"main.py": "x = 1\\n"}, {}))
        >>> t["totalNumberOfTrades"] == t["numberOfWinningTrades"] + t["numberOfLosingTrades"]
        True
    """
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

    deviation = stats.pstdev(pnl) if len(pnl) > 1 else 0.0
    downside = stats.pstdev([x for x in pnl if x < 0]) if len(losses) > 1 else 0.0
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
        "averageTradeDuration": timespan(stats.fmean(spans)),
        "averageWinningTradeDuration": timespan(stats.fmean(win_spans)),
        "averageLosingTradeDuration": timespan(stats.fmean(loss_spans)),
        "medianTradeDuration": timespan(stats.median(spans)),
        "medianWinningTradeDuration": timespan(stats.median(win_spans)),
        "medianLosingTradeDuration": timespan(stats.median(loss_spans)),
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
        "maximumDrawdownDuration": timespan(sim.portfolio["drawdownRecovery"] * 86_400),
        "totalFees": money(fees),
    }


def placeholder_statistics(cash: float) -> dict[str, str]:
    """What ``statistics`` holds while a backtest runs: a finished zero-trade run's look."""
    zero = {
        "Total Orders": "0",
        "Average Win": "0%",
        "Average Loss": "0%",
        "Compounding Annual Return": "0%",
        "Drawdown": "0%",
        "Expectancy": "0",
        "Start Equity": _trim(cash, 2),
        "End Equity": _trim(cash, 2),
        "Net Profit": "0%",
        "Sharpe Ratio": "0",
        "Sortino Ratio": "0",
        "Probabilistic Sharpe Ratio": "0%",
        "Loss Rate": "0%",
        "Win Rate": "0%",
        "Profit-Loss Ratio": "0",
        "Alpha": "0",
        "Beta": "0",
        "Annual Standard Deviation": "0",
        "Annual Variance": "0",
        "Information Ratio": "0",
        "Tracking Error": "0",
        "Treynor Ratio": "0",
        "Total Fees": "$0.00",
        "Estimated Strategy Capacity": "$0",
        "Lowest Capacity Asset": "",
        "Portfolio Turnover": "0%",
        "Drawdown Recovery": "0",
    }
    return zero


def day_time(sim: Simulation, index: int, hour: int = 14, minute: int = 31) -> datetime:
    """A moment of the ``index``-th simulated trading day (UTC)."""
    return datetime.fromtimestamp(sim.times[index], tz=timezone.utc).replace(
        hour=hour, minute=minute
    )
