"""Compatibility only: the backtest models live in :mod:`quantconnect_client.models.backtests`.

Kept while ``flows/`` imports ``Backtest`` from here; delete it once nothing does.
"""

from .models.backtests import (
    Backtest,
    BacktestSummary,
    Chart,
    Order,
    OrderSymbol,
    Series,
    TotalPerformance,
)

__all__ = [
    "Backtest",
    "BacktestSummary",
    "Chart",
    "Order",
    "OrderSymbol",
    "Series",
    "TotalPerformance",
]
