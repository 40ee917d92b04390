"""Models of ``/backtests/*`` answers: backtests and what hangs off them (results, charts,
orders), and the answers that carry them.

As the contract asks: ``[]`` is accepted for an empty map, numeric enums stay open (plain
ints), datetimes come in either of the service's two forms, and numbers may arrive as numeric
strings. ``statistics`` and ``runtimeStatistics`` are :class:`Statistics` objects (raw strings
plus parsed numbers).

Example:
    >>> b = Backtest.model_validate({"backtestId": "ab" * 16, "status": "Completed.",
    ...     "completed": True, "parameterSet": [], "statistics": {"Sharpe Ratio": "0.19"}})
    >>> b.parameter_set, b.statistics.number("Sharpe Ratio"), b.runtime_statistics
    ({}, 0.19, None)
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from .base import WireModel, lenient_items, list_or_empty, map_or_empty, usable_job_id
from .statistics import Statistics, parse_number

#: Prefix of the status of an initialization failure's ``error`` (from the contract).
INITIALIZATION_ERROR_PREFIX = "During the algorithm initialization"


def _settled_or_none(value: Any) -> Any:
    """An empty ``totalPerformance`` (``[]``, ``{}``) is not there yet."""
    return None if value in ([], {}) else value


#: How far above 1 a progress may be and still count as 1 (a rounding in the service).
PROGRESS_TOLERANCE = 1e-9


def fraction_or_refuse(value: float) -> float:
    """A progress between 0 and 1 (a hair above 1 counts as 1); anything else (NaN, infinite,
    negative, a percentage such as 5 for 500 %) is refused, so the field is dropped and what
    arrived is kept in ``dropped_fields`` for messages.

    Example:
        >>> fraction_or_refuse(0.5), fraction_or_refuse(1 + 1e-12)
        (0.5, 1.0)
        >>> fraction_or_refuse(float("nan"))
        Traceback (most recent call last):
        ...
        ValueError: progress must be a fraction from 0 to 1, not nan
    """
    if not (math.isfinite(value) and 0.0 <= value <= 1.0 + PROGRESS_TOLERANCE):
        raise ValueError(f"progress must be a fraction from 0 to 1, not {value!r}")
    return min(value, 1.0)


class TotalPerformance(WireModel):
    """The final results: trade and portfolio statistics (numbers) and the closed trades."""

    trade_statistics: dict[str, Any] = Field(default_factory=dict)
    portfolio_statistics: dict[str, Any] = Field(default_factory=dict)
    closed_trades: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("trade_statistics", "portfolio_statistics", mode="before")
    @classmethod
    def _empty_maps(cls, value: Any) -> Any:
        return map_or_empty(value)

    @field_validator("closed_trades", mode="before")
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        return list_or_empty(value)

    def portfolio_number(self, name: str) -> float | None:
        """A portfolio statistic as a number (they are fractions already), or None."""
        return parse_number(self.portfolio_statistics.get(name))


class Backtest(WireModel):
    """A backtest, as ``/backtests/create`` and ``/backtests/read`` return it."""

    backtest_id: str
    project_id: int | None = None
    organization_id: str | None = None
    name: str = ""
    note: str | None = None
    status: str | None = None
    completed: bool = False
    progress: float = 0.0
    error: str | None = None
    stacktrace: str | None = None
    has_initialize_error: bool = False
    created: datetime | None = None
    backtest_start: datetime | None = None
    backtest_end: datetime | None = None
    tradeable_dates: int | None = None
    parameter_set: dict[str, Any] = Field(default_factory=dict)
    statistics: Statistics | None = None
    runtime_statistics: Statistics | None = None
    total_performance: TotalPerformance | None = None
    charts: dict[str, Any] = Field(default_factory=dict)
    node_name: str | None = None
    optimization_id: str | None = None
    snapshot_id: int | None = None
    server_statistics: dict[str, Any] = Field(default_factory=dict)

    @field_validator("backtest_id")
    @classmethod
    def _usable_id(cls, value: str) -> str:
        return usable_job_id(value, "backtestId")

    @field_validator("parameter_set", "charts", "server_statistics", mode="before")
    @classmethod
    def _empty_maps(cls, value: Any) -> Any:
        return map_or_empty(value)

    @field_validator("total_performance", mode="before")
    @classmethod
    def _not_yet(cls, value: Any) -> Any:
        return _settled_or_none(value)

    @field_validator("progress", mode="before")
    @classmethod
    def _no_progress(cls, value: Any) -> Any:
        return 0.0 if value is None else value

    @field_validator("progress")
    @classmethod
    def _a_fraction(cls, value: float) -> float:
        return fraction_or_refuse(value)

    @property
    def failed(self) -> bool:
        """True once the backtest ended in an error (``error`` or ``stacktrace`` set, or a
        ``Runtime Error`` status)."""
        return bool(self.error or self.stacktrace) or (self.status or "").startswith(
            "Runtime Error"
        )

    @property
    def during_initialization(self) -> bool:
        """True if it failed in ``initialize``."""
        return self.has_initialize_error or (self.error or "").startswith(
            INITIALIZATION_ERROR_PREFIX
        )

    @property
    def results_ready(self) -> bool:
        """The contract's "finished" rule, for a backtest that did not fail: completed, with
        statistics and runtime statistics present (not the placeholders of a running one,
        which come without ``completed``), and ``totalPerformance`` filled in."""
        return (
            self.completed
            and self.runtime_statistics is not None
            and self.statistics is not None
            and len(self.statistics) > 0
            and self.total_performance is not None
        )

    @property
    def queued(self) -> bool:
        """True while the backtest waits for a node (``In Queue...``)."""
        return (self.status or "").lower().startswith("in queue")

    @property
    def progress_text(self) -> str:
        """The progress as a person reads it: a percentage, or what the service sent instead
        of a fraction between 0 and 1 (the :attr:`progress` of such a read is 0).

        Example:
            >>> Backtest.model_validate({"backtestId": "a" * 32, "progress": 0.42}).progress_text
            '42%'
            >>> Backtest.model_validate({"backtestId": "a" * 32, "progress": 5}).progress_text
            'progress unknown (the service sent an int: 5, not a fraction from 0 to 1)'
        """
        sent = self.dropped_fields.get("progress")
        if sent is not None:
            return f"progress unknown (the service sent {sent}, not a fraction from 0 to 1)"
        return f"{self.progress:.0%}"

    def missing_results(self) -> list[str]:
        """What keeps a completed backtest's results from being final, each saying what
        arrived instead ([] once :attr:`results_ready`).

        Example:
            >>> Backtest.model_validate({"backtestId": "a" * 32, "completed": True,
            ...     "statistics": "n/a", "runtimeStatistics": None}).missing_results()
            ["statistics is not a map of name to text (it was a str: 'n/a')", \
'runtimeStatistics is null', 'totalPerformance has not arrived']
        """
        dropped = self.dropped_fields
        missing = []
        for key, value in (("statistics", self.statistics),
                           ("runtimeStatistics", self.runtime_statistics)):
            if key in dropped:
                missing.append(f"{key} is not a map of name to text (it was {dropped[key]})")
            elif value is None:
                missing.append(f"{key} is null")
            elif key == "statistics" and len(value) == 0:
                missing.append("statistics is empty")
        if "totalPerformance" in dropped:
            missing.append(f"totalPerformance is unreadable (it was {dropped['totalPerformance']})")
        elif self.total_performance is None:
            missing.append("totalPerformance has not arrived")
        return missing


class BacktestSummary(WireModel):
    """One entry of ``/backtests/list`` (the numbers only with ``include_statistics``)."""

    backtest_id: str
    status: str | None = None
    name: str = ""
    note: str | None = None
    created: datetime | None = None
    progress: float | None = None
    optimization_id: str | None = None
    tradeable_dates: int | None = None
    parameter_set: dict[str, Any] = Field(default_factory=dict)
    snapshot_id: int | None = None
    tags: list[str] = Field(default_factory=list)
    sharpe_ratio: float | None = None
    alpha: float | None = None
    beta: float | None = None
    compounding_annual_return: float | None = None
    drawdown: float | None = None
    loss_rate: float | None = None
    net_profit: float | None = None
    parameters: int | None = None
    psr: float | None = None
    sortino_ratio: float | None = None
    treynor_ratio: float | None = None
    trades: int | None = None
    win_rate: float | None = None

    @field_validator("backtest_id")
    @classmethod
    def _usable_id(cls, value: str) -> str:
        return usable_job_id(value, "backtestId")

    @field_validator("parameter_set", mode="before")
    @classmethod
    def _empty_map(cls, value: Any) -> Any:
        return map_or_empty(value)

    @field_validator("progress")
    @classmethod
    def _a_fraction(cls, value: float | None) -> float | None:
        return None if value is None else fraction_or_refuse(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _no_tags(cls, value: Any) -> Any:
        return list_or_empty(value)


class Series(WireModel):
    """One series of a chart. ``series_type`` stays an open int (0 line, 1 scatter, 2 candle,
    3 bar, ...)."""

    name: str = ""
    unit: str | None = None
    index: int | None = None
    series_type: int | None = None
    values: list[Any] = Field(default_factory=list)
    color: str | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _no_values(cls, value: Any) -> Any:
        return list_or_empty(value)

    def points(self) -> list[tuple[float, float]]:
        """The series as ``(unix time, value)`` pairs: a candle gives its close; ``{x, y}``
        points are read too; unreadable points are skipped.

        Example:
            >>> Series(values=[[1, 2.5], [2, 1, 3, 0.5, 2], {"x": 3, "y": "4"}, "?"]).points()
            [(1.0, 2.5), (2.0, 2.0), (3.0, 4.0)]
        """
        pairs: list[tuple[float, float]] = []
        for point in self.values:
            if isinstance(point, dict):
                x, y = parse_number(point.get("x")), parse_number(point.get("y"))
            elif isinstance(point, (list, tuple)) and len(point) >= 2:
                x, y = parse_number(point[0]), parse_number(point[-1])
            else:
                continue
            if x is not None and y is not None:
                pairs.append((x, y))
        return pairs


class Chart(WireModel):
    """A backtest chart with its series (``chart_type``: 0 overlay, 1 stacked; kept open)."""

    name: str = ""
    chart_type: int | None = None
    series: dict[str, Series] = Field(default_factory=dict)

    @field_validator("series", mode="before")
    @classmethod
    def _empty_map(cls, value: Any) -> Any:
        return map_or_empty(value)


class OrderSymbol(WireModel):
    """The symbol an order is for."""

    value: str | None = None
    id: str | None = None
    permtick: str | None = None


class Order(WireModel):
    """One order of a backtest. ``type``, ``status`` and ``direction`` stay open ints."""

    id: int
    contingent_id: int | None = None
    broker_id: list[str] = Field(default_factory=list)
    symbol: OrderSymbol | None = None
    price: float | None = None
    price_currency: str | None = None
    time: datetime | None = None
    created_time: datetime | None = None
    last_fill_time: datetime | None = None
    quantity: float | None = None
    type: int | None = None
    status: int | None = None
    tag: str | None = None
    direction: int | None = None
    value: float | None = None

    @field_validator("broker_id", mode="before")
    @classmethod
    def _no_ids(cls, value: Any) -> Any:
        return list_or_empty(value)


class BacktestEnvelope(WireModel):
    """The payload of ``/backtests/create`` and ``/backtests/read``."""

    backtest: Backtest | None = None
    debugging: bool | None = None


class BacktestList(WireModel):
    """The payload of ``/backtests/list``."""

    essential = frozenset({"backtests"})

    backtests: list[BacktestSummary] = Field(default_factory=list)
    count: int | None = None

    @field_validator("backtests", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[BacktestSummary]:
        return lenient_items(value, BacktestSummary, "backtests")


class ChartAnswer(WireModel):
    """The payload of ``/backtests/chart/read``: a chart, or a status while it is built."""

    chart: Chart | None = None
    status: str | None = None
    progress: float | None = None

    @property
    def loading(self) -> bool:
        """True while the service is still building the chart."""
        return self.chart is None and (self.status or "").lower() == "loading"


class OrderList(WireModel):
    """The payload of ``/backtests/orders/read``: one page of orders."""

    essential = frozenset({"orders"})

    orders: list[Order] = Field(default_factory=list)
    length: int | None = None

    @field_validator("orders", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[Order]:
        return lenient_items(value, Order, "orders")


__all__ = [
    "INITIALIZATION_ERROR_PREFIX",
    "PROGRESS_TOLERANCE",
    "Backtest",
    "BacktestEnvelope",
    "BacktestList",
    "BacktestSummary",
    "Chart",
    "ChartAnswer",
    "Order",
    "OrderList",
    "OrderSymbol",
    "Series",
    "TotalPerformance",
    "fraction_or_refuse",
]


# ------------------------------------------------------------------ insights

#: The widest page of insights: the live service takes ``end - start`` up to 100 and refuses
#: 200 (the same rule as orders).
INSIGHTS_PAGE = 100


class Insight(WireModel):
    """One insight of a backtest (``/backtests/read/insights``).

    Times are unix seconds as sent; ``type`` (``price``/``volatility``) and ``direction``
    (``up``/``flat``/``down``) stay open strings; ``symbol`` is the symbol id
    (``SPY R735QTJ8XC9X``).

    Example:
        >>> Insight.model_validate({"id": "a" * 32, "direction": "up", "period": 2592000,
        ...                         "symbol": {"id": "SPY R735QTJ8XC9X"}}).symbol
        'SPY R735QTJ8XC9X'
    """

    id: str
    group_id: str | None = None
    source_model: str | None = None
    generated_time: float | None = None
    close_time: float | None = None
    symbol: str | None = None
    ticker: str | None = None
    type: str | None = None
    direction: str | None = None
    period: float | None = None
    magnitude: float | None = None
    confidence: float | None = None
    weight: float | None = None
    reference: float | None = None
    reference_final: float | None = None
    score_final: bool | None = None
    score_direction: float | None = None
    score_magnitude: float | None = None
    estimated_value: float | None = None
    tag: str | None = None

    @field_validator("symbol", mode="before")
    @classmethod
    def _symbol_id(cls, value: Any) -> Any:
        # The contract sends the id as text; an order-style symbol object gives its id.
        if isinstance(value, dict):
            return value.get("id") or value.get("value")
        return value


class InsightList(WireModel):
    """The payload of ``/backtests/read/insights``: one page of insights."""

    essential = frozenset({"insights"})

    insights: list[Insight] = Field(default_factory=list)
    length: int | None = None

    @field_validator("insights", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[Insight]:
        return lenient_items(value, Insight, "insights")


__all__ += ["INSIGHTS_PAGE", "Insight", "InsightList"]
