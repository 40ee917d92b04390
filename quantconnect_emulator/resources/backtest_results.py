"""A backtest's results as its reads show them: ``totalPerformance``, charts, orders, insights.

Part of the backtests resource (:mod:`quantconnect_emulator.resources.backtests`
holds the model, its operations and handlers, and the ``Backtest`` JSON): these
are the pure functions that render a :class:`~quantconnect_emulator.simulate.Simulation`
as the service's ``totalPerformance``, ``Chart`` and ``Order`` shapes, up to the
day a running backtest has reached. Kept apart only for size.

Example:
    >>> from quantconnect_emulator.simulate import simulate
    >>> sim = simulate("Py", {"main.py": "x = 1\\n"}, {})
    >>> sorted(total_performance(sim))
    ['closedTrades', 'portfolioStatistics', 'tradeStatistics']
    >>> chart(sim, "Benchmark", upto=9)["series"]["Benchmark"]["values"][0][0]  # 2024-01-01
    1704067200
    >>> len(orders(sim, sim.days - 1)) == 2 * len(sim.trades)
    True
    >>> len(insights(sim, sim.days - 1)) == len(sim.trades)
    True
"""

from __future__ import annotations

import hashlib
from typing import Any

from quantconnect_emulator.simulate import Simulation, Trade, day_time, trade_statistics
from quantconnect_emulator.wire import datetime_iso, timespan


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
        "duration": timespan((exit_ - entry).total_seconds()),
        "endTradeDrawdown": round(-abs(pnl) * 0.25, 2),
    }


def total_performance(sim: Simulation) -> dict[str, Any]:
    """``totalPerformance``: trade and portfolio statistics (fractions) and closed trades."""
    portfolio = {key: round(value, 6) for key, value in sim.portfolio.items()}
    return {
        "tradeStatistics": trade_statistics(sim),
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


#: ``sourceModel`` of the simulated insights: says where they come from.
INSIGHT_SOURCE_MODEL = "EmulatorAlphaModel (simulated: one insight per simulated trade)"


def insights(sim: Simulation, upto: int) -> list[dict[str, Any]]:
    """The insights emitted up to day ``upto``: one per simulated trade, at its entry.

    Simulated: LEAN records insights only for algorithms that emit them (the Alpha framework);
    the emulator gives every simulated trade one, pointing the trade's way for as long as the
    trade lasted, and scores it once the trade closed (``scoreFinal``). Ids are derived from
    the simulation, so the same backtest always shows the same insights.
    """
    found = []
    for number, trade in enumerate(sorted(sim.trades, key=lambda t: t.entry_index), 1):
        if trade.entry_index > upto:
            break
        generated = int(day_time(sim, trade.entry_index, 14, 31).timestamp())
        closed = int(day_time(sim, trade.exit_index, 19, 59).timestamp())
        final = trade.exit_index <= upto
        move = (trade.exit_price - trade.entry_price) / trade.entry_price
        right = (move > 0) == (trade.direction == 0)
        seed = f"{sim.symbol.get('id')}:{sim.times[0]}:{number}:{trade.entry_index}"
        found.append(
            {
                "id": hashlib.md5(seed.encode()).hexdigest(),
                "groupId": None,
                "sourceModel": INSIGHT_SOURCE_MODEL,
                "generatedTime": generated,
                "closeTime": closed,
                "symbol": sim.symbol["id"],
                "ticker": sim.symbol["value"],
                "type": "price",
                "direction": "up" if trade.direction == 0 else "down",
                "period": closed - generated,
                "magnitude": None,
                "confidence": None,
                "weight": None,
                "reference": round(trade.entry_price, 2),
                "referenceFinal": round(trade.exit_price, 2) if final else None,
                "scoreFinal": final,
                "scoreDirection": (1.0 if right else 0.0) if final else None,
                "scoreMagnitude": None,
                "estimatedValue": round(trade.profit_loss, 2) if final else None,
                "tag": "simulated by the emulator",
            }
        )
    return found
