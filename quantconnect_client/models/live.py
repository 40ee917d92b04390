"""Typed, lenient models of live algorithms (``/live/*``), and the brokerage a deploy names.

As the contract asks: statuses stay open strings (LEAN's integers 0-12 are read as their
names), datetimes come in either form, ``/live/read`` answers flat, portfolio holdings use
the short keys (``a``, ``q``, ``p``, ``v``, ``u``, ``up``; long names accepted, missing = 0),
cash entries are read in any case, and ``liveForm`` booleans may be strings.

:class:`Brokerage` is a request model: its credentials are :class:`~pydantic.SecretStr`, so no
repr, log line or error shows them; only :meth:`Brokerage.wire` reveals them, to build the
request body.

Example:
    >>> a = LiveAlgorithm.model_validate({"deployId": "L-" + "a" * 32, "status": 2,
    ...     "launched": "2024-05-01 12:00:00", "stopped": None, "brokerage": "PaperBrokerage"})
    >>> a.status, a.ended, a.is_paper
    ('Running', False, True)
    >>> Brokerage(id="TradierBrokerage", credentials={"tradier-access-token": "s3cret"})
    Brokerage(id='TradierBrokerage', credentials=['tradier-access-token'], paper=False)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .backtests import (
    ChartAnswer,
    Insight,  # one insight model: a backtest's and a live algorithm's
    Order,
)
from .base import WireModel, lenient_items, list_or_empty, map_or_empty
from .files import ProjectFile
from .statistics import parse_number

#: The paper-trading brokerage's id (the service reads it back as ``PaperBrokerage``).
PAPER_BROKERAGE = "QuantConnectBrokerage"
PAPER_NAMES = frozenset({"quantconnectbrokerage", "paperbrokerage", "paper", "paper trading"})
#: LEAN's ``AlgorithmStatus``, numbered 0-12 in this order.
STATUSES = ("DeployError", "InQueue", "Running", "Stopped", "Liquidated", "Deleted",
            "Completed", "RuntimeError", "Invalid", "LoggingIn", "Initializing", "History",
            "PendingInput")
#: Statuses after which a deployment runs no more (frees its node, cannot be stopped).
ENDED_STATUSES = frozenset({"deployerror", "stopped", "liquidated", "deleted", "completed",
                            "runtimeerror", "invalid"})
#: The ``status`` filter values of ``/live/list``.
LIST_STATUSES = ("Running", "Stopped", "RuntimeError", "Liquidated")
#: Default charts of a live algorithm.
LIVE_CHARTS = ("Strategy Equity", "Drawdown", "Benchmark", "Exposure", "Assets Sales Volume",
               "Portfolio Turnover", "Portfolio Margin")


def status_name(value: Any) -> Any:
    """A status as its name: LEAN's integers (0-12, also as text) become names.

    Example:
        >>> status_name(7), status_name("3"), status_name("Running"), status_name(99)
        ('RuntimeError', 'Stopped', 'Running', '99')
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        index = int(value)
        return STATUSES[index] if 0 <= index < len(STATUSES) else str(index)
    return value


def has_ended(status: str | None) -> bool:
    """Whether a status is an ending (an unknown or missing one is not: it may still run).

    Example:
        >>> has_ended("Stopped"), has_ended("runtimeerror"), has_ended("Running"), has_ended(None)
        (True, True, False, False)
    """
    return (status or "").strip().lower() in ENDED_STATUSES


class _LiveStatus(WireModel):
    status: str | None = None
    launched: datetime | None = None
    stopped: datetime | None = None
    brokerage: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        return status_name(value)

    @property
    def ended(self) -> bool:
        """Stopped, liquidated, failed or otherwise over (see :func:`has_ended`)."""
        return has_ended(self.status)

    @property
    def is_paper(self) -> bool:
        """Paper trading (``PaperBrokerage`` / ``QuantConnectBrokerage``)."""
        return (self.brokerage or "").strip().lower() in PAPER_NAMES


class LiveAlgorithmSummary(_LiveStatus):
    """A live algorithm as ``/live/list`` (and ``/live/create``'s ``live``) show it."""

    project_id: int | None = None
    deploy_id: str = ""
    subscription: str | None = None
    equity: float | None = None
    environment: str | None = None
    description: str | None = None
    error: str | None = None
    leagues: list[str] = Field(default_factory=list)

    @field_validator("leagues", mode="before")
    @classmethod
    def _no_leagues(cls, value: Any) -> Any:
        return list_or_empty(value)

    @field_validator("equity", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return parse_number(value)


class LiveAlgorithm(_LiveStatus):
    """A live algorithm as ``/live/read`` answers it (flat; ``project_id`` is the caller's)."""

    deploy_id: str = ""
    project_id: int | None = None
    message: str | None = None
    clone_id: int | None = None
    security_types: str | None = None
    project_name: str | None = None
    datacenter: str | None = None
    public: bool | None = None
    is_public_streaming: bool | None = None
    files: list[ProjectFile] = Field(default_factory=list)
    runtime_statistics: dict[str, str] = Field(default_factory=dict)
    charts: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None
    deployment_details: dict[str, str] = Field(default_factory=dict)

    @field_validator("files", mode="before")
    @classmethod
    def _files(cls, value: Any) -> list[ProjectFile]:
        return lenient_items(value, ProjectFile, "files")

    @field_validator("runtime_statistics", "deployment_details", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        value = map_or_empty(value)
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    @field_validator("charts", mode="before")
    @classmethod
    def _charts(cls, value: Any) -> Any:
        # OpenAPI types it {name}; LEAN reads a map name -> chart: keep either as a map.
        if isinstance(value, list):
            return {str(c.get("name", i)) if isinstance(c, dict) else str(c): c
                    for i, c in enumerate(value)}
        return map_or_empty(value)

    @property
    def equity(self) -> float | None:
        """The ``Equity`` runtime statistic as a number (None if absent)."""
        return parse_number(self.runtime_statistics.get("Equity"))


class CreatedLiveAlgorithm(WireModel):
    """``/live/create``'s answer: the new deployment's id and its summary."""

    essential = frozenset({"deployId"})

    project_id: int | None = None
    deploy_id: str
    version_id: int | None = None
    source: str | None = None
    response_code: str | None = None
    live: LiveAlgorithmSummary | None = None


class LiveList(WireModel):
    """``/live/list``'s answer."""

    essential = frozenset({"live"})

    live: list[LiveAlgorithmSummary] = Field(default_factory=list)

    @field_validator("live", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[LiveAlgorithmSummary]:
        return lenient_items(value, LiveAlgorithmSummary, "live")


def _number_of(item: Mapping[str, Any], *keys: str) -> float:
    for key in keys:
        for candidate in (key, key.lower()):
            if candidate in item:
                number = parse_number(item[candidate])
                return 0.0 if number is None else number
    return 0.0


class Holding(WireModel):
    """One holding of a live portfolio (short wire keys; missing = 0)."""

    symbol_id: str = ""
    average_price: float = 0.0
    quantity: float = 0.0
    market_price: float = 0.0
    market_value: float = 0.0
    unrealized_pnl: float = 0.0
    unrealized_pnl_percent: float = 0.0
    currency_symbol: str = "$"
    conversion_rate: float = 1.0

    @classmethod
    def from_wire(cls, symbol_id: str, item: Any) -> Holding:
        """A holding from its short (``a``, ``q``...) or long (``averagePrice``...) keys."""
        item = item if isinstance(item, Mapping) else {}
        rate = _number_of(item, "r", "conversionRate")
        return cls(
            symbol_id=symbol_id,
            average_price=_number_of(item, "a", "averagePrice"),
            quantity=_number_of(item, "q", "quantity"),
            market_price=_number_of(item, "p", "marketPrice"),
            market_value=_number_of(item, "v", "marketValue"),
            unrealized_pnl=_number_of(item, "u", "unrealizedPnL"),
            unrealized_pnl_percent=_number_of(item, "up", "unrealizedPnLPercent"),
            currency_symbol=str(item.get("c") or item.get("currencySymbol") or "$"),
            conversion_rate=rate or 1.0,
        )


class CashEntry(WireModel):
    """One currency of a live portfolio's cash book (keys read in any case)."""

    currency: str = ""
    amount: float = 0.0
    conversion_rate: float = 1.0
    value_in_account_currency: float | None = None

    @classmethod
    def from_wire(cls, currency: str, item: Any) -> CashEntry:
        """A cash entry whatever the case of its keys."""
        lowered = {str(k).lower(): v for k, v in item.items()} if isinstance(item, Mapping) \
            else {}
        rate = parse_number(lowered.get("conversionrate"))
        return cls(
            currency=str(lowered.get("symbol") or currency),
            amount=parse_number(lowered.get("amount")) or 0.0,
            conversion_rate=1.0 if rate is None else rate,
            value_in_account_currency=parse_number(lowered.get("valueinaccountcurrency")),
        )


class Portfolio(WireModel):
    """A live algorithm's holdings (by symbol id) and cash (by currency)."""

    holdings: dict[str, Holding] = Field(default_factory=dict)
    cash: dict[str, CashEntry] = Field(default_factory=dict)

    @field_validator("holdings", mode="before")
    @classmethod
    def _holdings(cls, value: Any) -> Any:
        value = map_or_empty(value)
        if not isinstance(value, dict):
            return value
        return {str(k): Holding.from_wire(str(k), v) for k, v in value.items()}

    @field_validator("cash", mode="before")
    @classmethod
    def _cash(cls, value: Any) -> Any:
        value = map_or_empty(value)
        if not isinstance(value, dict):
            return value
        return {str(k): CashEntry.from_wire(str(k), v) for k, v in value.items()}

    @property
    def holdings_value(self) -> float:
        """Sum of the holdings' market values."""
        return sum(h.market_value for h in self.holdings.values())


class PortfolioEnvelope(WireModel):
    """``/live/portfolio/read``'s answer."""

    essential = frozenset({"portfolio"})

    portfolio: Portfolio


class LiveOrders(WireModel):
    """``/live/orders/read``: the orders of a range, or ``loading`` with a progress."""

    orders: list[Order] = Field(default_factory=list)
    length: int | None = None
    status: str | None = None
    progress: float | None = None

    @field_validator("orders", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[Order]:
        return lenient_items(value, Order, "orders")

    @property
    def loading(self) -> bool:
        """True while the orders file is still being built."""
        return (self.status or "").lower() == "loading"


class LiveInsights(WireModel):
    """``/live/insights/read``'s answer."""

    insights: list[Insight] = Field(default_factory=list)
    length: int | None = None

    @field_validator("insights", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[Insight]:
        return lenient_items(value, Insight, "insights")


class LiveLogs(WireModel):
    """``/live/logs/read``: a page of log lines, the project's total and this deployment's
    offset in it."""

    essential = frozenset({"logs"})

    logs: list[str] = Field(default_factory=list)
    length: int | None = None
    deployment_offset: int | None = None

    @field_validator("logs", mode="before")
    @classmethod
    def _lines(cls, value: Any) -> Any:
        value = list_or_empty(value)
        return [str(line) for line in value] if isinstance(value, list) else value


#: ``/live/chart/read``: a chart, or ``loading`` with a progress; the same answer as a
#: backtest's chart read.
LiveChart = ChartAnswer


class Brokerage(BaseModel):
    """The brokerage a live algorithm trades with: paper trading unless told otherwise.

    ``credentials`` are the brokerage's own keys (``ib-user-name``, ``tradier-access-token``...);
    they are secrets, shown nowhere but in :meth:`wire`. ``holdings`` (``symbolId``,
    ``symbol``, ``quantity``, ``averagePrice``) and ``cash`` (``currency``, ``amount``) seed a
    paper portfolio.

    Example:
        >>> Brokerage().wire()
        {'id': 'QuantConnectBrokerage'}
        >>> secret = Brokerage(id="TradierBrokerage", credentials={"token": "s3cret"})
        >>> "s3cret" in repr(secret) + str(secret) + str(secret.model_dump())
        False
        >>> secret.wire()["token"]
        's3cret'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = PAPER_BROKERAGE
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    environment: str | None = None
    holdings: list[dict[str, Any]] = Field(default_factory=list)
    cash: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def is_paper(self) -> bool:
        """Whether this is QuantConnect's paper brokerage (no real money)."""
        return self.id.strip().lower() in PAPER_NAMES

    def secret_values(self) -> list[str]:
        """The credentials' values (to mask them wherever text could carry them)."""
        return [v.get_secret_value() for v in self.credentials.values() if v.get_secret_value()]

    def wire(self) -> dict[str, Any]:
        """The ``brokerage`` object of ``/live/create`` (the only place secrets are revealed)."""
        # Credentials first, so none can override the id, environment, holdings or cash.
        body: dict[str, Any] = {k: v.get_secret_value() for k, v in self.credentials.items()}
        body["id"] = self.id
        if self.environment is not None:
            body["environment"] = self.environment
        if self.holdings:
            body["holdings"] = [dict(h) for h in self.holdings]
        if self.cash:
            body["cash"] = [dict(c) for c in self.cash]
        return body

    def __repr__(self) -> str:
        return (f"Brokerage(id={self.id!r}, credentials={sorted(self.credentials)!r}, "
                f"paper={self.is_paper})")

    def __str__(self) -> str:
        return repr(self)


__all__ = [
    "ENDED_STATUSES",
    "LIST_STATUSES",
    "LIVE_CHARTS",
    "PAPER_BROKERAGE",
    "STATUSES",
    "Brokerage",
    "CashEntry",
    "CreatedLiveAlgorithm",
    "Holding",
    "Insight",
    "LiveAlgorithm",
    "LiveAlgorithmSummary",
    "LiveChart",
    "LiveInsights",
    "LiveList",
    "LiveLogs",
    "LiveOrders",
    "Portfolio",
    "PortfolioEnvelope",
    "has_ended",
    "status_name",
]
