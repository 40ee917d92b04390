"""Typed, lenient models of optimizations (``/optimizations/*``) and the contract's value sets.

As the contract asks: statuses compare case-insensitively and stay open (an unknown one is not
finished); ``backtests`` and ``runtimeStatistics`` may arrive as ``[]``; an optimization
backtest's ``statistics`` may be an array of numbers by index or an object keyed by the index
as text, and a short, empty or missing one means "no value"; datetimes come in either form.

Example:
    >>> o = Optimization.model_validate({"optimizationId": "O-" + "a" * 32, "status": "Running",
    ...     "runtimeStatistics": {"Completed": "3", "Failed": "1", "Total": "8"},
    ...     "backtests": []})
    >>> o.finished, o.progress, o.backtests
    (False, (4, 8), {})
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AliasChoices, Field, field_validator

from .base import WireModel, lenient_items, list_or_empty, map_or_empty, usable_job_id
from .statistics import parse_number

#: The cloud's one strategy; Euler search is LEAN's local one (the emulator takes it too).
GRID_SEARCH = "QuantConnect.Optimizer.Strategies.GridSearchOptimizationStrategy"
EULER_SEARCH = "QuantConnect.Optimizer.Strategies.EulerSearchOptimizationStrategy"
STRATEGIES = (GRID_SEARCH, EULER_SEARCH)
TARGET_PREFIX = "TotalPerformance.PortfolioStatistics."
#: The four targets, by last name, with the index of their number in a backtest's statistics.
TARGETS = {
    "SharpeRatio": 15,
    "CompoundingAnnualReturn": 6,
    "ProbabilisticSharpeRatio": 13,
    "Drawdown": 7,
}
#: Targets whose statistic is a percentage (a constraint's value is a fraction).
PERCENT_TARGETS = frozenset({"CompoundingAnnualReturn", "ProbabilisticSharpeRatio", "Drawdown"})
OPERATORS = ("Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equals", "NotEqual")
EXTREMA = ("max", "min")
#: Optimization node types: their cluster's most parallel nodes, and the web IDE's default.
NODE_TYPES = {"O2-8": (24, 12), "O4-12": (12, 6), "O8-16": (6, 3)}
#: Statuses after which an optimization runs no more backtests.
FINISHED_STATUSES = frozenset({"completed", "aborted"})

#: ``statistics`` index -> name (the array form has 21; the object form adds 21..24).
STATISTICS_NAMES = (
    "Alpha", "Annual Standard Deviation", "Annual Variance", "Average Loss", "Average Win",
    "Beta", "Compounding Annual Return", "Drawdown", "Estimated Strategy Capacity",
    "Expectancy", "Information Ratio", "Loss Rate", "Net Profit", "Probabilistic Sharpe Ratio",
    "Profit-Loss Ratio", "Sharpe Ratio", "Total Fees", "Total Orders", "Tracking Error",
    "Treynor Ratio", "Win Rate", "Sortino Ratio", "Start Equity", "End Equity",
    "Drawdown Recovery",
)


def short_target(target: str) -> str:
    """A target's last name, from the dotted or bracket-quoted form (unknown ones kept whole).

    Example:
        >>> short_target("['TotalPerformance'].['PortfolioStatistics'].['SharpeRatio']")
        'SharpeRatio'
    """
    plain = target.replace("['", "").replace("']", "").strip()
    return plain[len(TARGET_PREFIX):] if plain.startswith(TARGET_PREFIX) else plain


class Estimate(WireModel):
    """``/optimizations/estimate``: an id, the time (seconds), the organization's QCC balance.

    Whether ``time`` is the whole job's or one backtest's is unconfirmed (see the contract).
    """

    estimate_id: str | None = None
    time: float | None = None
    balance: float | None = None


class OptimizationParameter(WireModel):
    """A parameter of an optimization: ``min``..``max`` by ``step``, or a static ``value``."""

    name: str = Field(validation_alias=AliasChoices("name", "key"))
    min: float | None = None
    max: float | None = None
    step: float | None = None
    min_step: float | None = Field(
        default=None, validation_alias=AliasChoices("minStep", "min-step", "min_step")
    )
    value: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return value if value is None or isinstance(value, str) else str(value)


class OptimizationConstraint(WireModel):
    """A filter on the results: ``target operator target_value``."""

    target: str = ""
    operator: str = ""
    target_value: float | None = Field(
        default=None, validation_alias=AliasChoices("targetValue", "target-value", "target_value")
    )


class Criterion(WireModel):
    """What the optimization maximizes or minimizes."""

    target: str = ""
    extremum: str | None = None
    target_value: float | None = None


def _statistics_by_index(value: Any) -> list[float | None]:
    """Both wire forms as a list by index; unusable entries are None.

    Example:
        >>> _statistics_by_index({"0": "1.5", "2": 3, "Custom": 9})
        [1.5, None, 3.0]
        >>> _statistics_by_index(None), _statistics_by_index([1, "x"])
        ([], [1.0, None])
    """
    if isinstance(value, list):
        return [parse_number(v) for v in value]
    if isinstance(value, dict):
        indexed = {int(k): v for k, v in value.items() if isinstance(k, str) and k.isdigit()}
        if not indexed:
            return []
        return [parse_number(indexed.get(i)) for i in range(max(indexed) + 1)]
    return []


class OptimizationBacktest(WireModel):
    """One backtest of an optimization (a value of :attr:`Optimization.backtests`)."""

    id: str
    name: str = ""
    progress: float | None = None
    exit_code: int | None = None
    parameter_set: dict[str, str] = Field(default_factory=dict)
    statistics: list[float | None] = Field(default_factory=list)
    equity: list[Any] = Field(default_factory=list)
    start_date: datetime | None = None
    end_date: datetime | None = None
    out_of_sample_days: int | None = None
    out_of_sample_max_end_date: datetime | None = None
    host_name: str | None = None

    @field_validator("id")
    @classmethod
    def _usable_id(cls, value: str) -> str:
        return usable_job_id(value, "backtest id")

    @field_validator("parameter_set", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        value = map_or_empty(value)
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    @field_validator("statistics", mode="before")
    @classmethod
    def _by_index(cls, value: Any) -> list[float | None]:
        return _statistics_by_index(value)

    @field_validator("equity", mode="before")
    @classmethod
    def _no_equity(cls, value: Any) -> Any:
        return list_or_empty(value)

    @property
    def succeeded(self) -> bool:
        """Ended well with statistics (``exitCode == 0``, as the ``lean`` CLI keeps)."""
        return self.exit_code == 0 and bool(self.statistics)

    def statistic(self, name_or_index: str | int) -> float | None:
        """A statistic by name (``"Sharpe Ratio"``) or index; None if absent (short array).

        Example:
            >>> b = OptimizationBacktest(id="b1", statistics=[0.1] * 15 + [1.25])
            >>> b.statistic("Sharpe Ratio"), b.statistic("Win Rate"), b.statistic(0)
            (1.25, None, 0.1)
        """
        index = (name_or_index if isinstance(name_or_index, int)
                 else STATISTICS_NAMES.index(name_or_index)
                 if name_or_index in STATISTICS_NAMES else -1)
        return self.statistics[index] if 0 <= index < len(self.statistics) else None

    def target_number(self, target: str) -> float | None:
        """The target's value as the service's statistics hold it (percentages in percent)."""
        index = TARGETS.get(short_target(target))
        return None if index is None else self.statistic(index)

    def meets(self, constraint: OptimizationConstraint) -> bool:
        """Whether the results pass ``constraint`` (False without the statistic).

        Constraint values are fractions, as ``totalPerformance`` has them; the statistics of
        CAR, drawdown and PSR are in percent, so they are compared divided by 100.
        """
        target = short_target(constraint.target)
        actual = self.target_number(target)
        if actual is None or constraint.target_value is None:
            return False
        if target in PERCENT_TARGETS:
            actual /= 100
        wanted = constraint.target_value
        return {
            "less": actual < wanted,
            "lessorequal": actual <= wanted,
            "greater": actual > wanted,
            "greaterorequal": actual >= wanted,
            "equals": actual == wanted,
            "notequal": actual != wanted,
        }.get(constraint.operator.lower(), False)


class OptimizationSummary(WireModel):
    """An optimization as ``/optimizations/create`` and ``/optimizations/list`` answer it."""

    optimization_id: str
    project_id: int | None = None
    name: str = ""
    status: str | None = None
    node_type: str | None = None
    criterion: Criterion | None = None
    created: datetime | None = None
    psr: float | None = None
    sharpe_ratio: float | None = None
    trades: int | None = None
    clone_id: int | None = None
    out_of_sample_days: int | None = None
    out_of_sample_max_end_date: datetime | None = None
    parameters: list[OptimizationParameter] = Field(default_factory=list)

    @field_validator("optimization_id")
    @classmethod
    def _usable_id(cls, value: str) -> str:
        return usable_job_id(value, "optimizationId")

    @field_validator("parameters", mode="before")
    @classmethod
    def _no_parameters(cls, value: Any) -> Any:
        return list_or_empty(value)

    @property
    def finished(self) -> bool:
        """Completed or aborted (case-insensitive; an unknown status is not finished)."""
        return (self.status or "").strip().lower() in FINISHED_STATUSES


class Optimization(OptimizationSummary):
    """An optimization as ``/optimizations/read`` answers it, with its backtests."""

    snapshot_id: int | None = None
    parallel_nodes: int | None = None
    optimization_target: str | None = None
    target_value: float | None = None
    strategy: str | None = None
    requested: datetime | None = None
    constraints: list[OptimizationConstraint] = Field(default_factory=list)
    runtime_statistics: dict[str, str] = Field(default_factory=dict)
    backtests: dict[str, OptimizationBacktest] = Field(default_factory=dict)
    grid_layout: list[Any] = Field(default_factory=list)

    @field_validator("constraints", "grid_layout", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return list_or_empty(value)

    @field_validator("runtime_statistics", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        value = map_or_empty(value)
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    @field_validator("backtests", mode="before")
    @classmethod
    def _empty_map(cls, value: Any) -> Any:
        return map_or_empty(value)

    def count(self, key: str) -> int | None:
        """A count of ``runtimeStatistics`` (``Completed``, ``Failed``, ``Running``,
        ``In Queue``, ``Total``), or None if absent or no number."""
        number = parse_number(self.runtime_statistics.get(key))
        return None if number is None else int(number)

    @property
    def progress(self) -> tuple[int, int]:
        """Backtests done (completed + failed) of the total; ``(0, 0)`` until all three
        counts are there (the ``lean`` CLI's rule)."""
        completed, failed, total = (self.count(k) for k in ("Completed", "Failed", "Total"))
        if completed is None or failed is None or total is None:
            return (0, 0)
        return (completed + failed, total)

    @property
    def target(self) -> str | None:
        """The target (short name), from the criterion or the top-level field."""
        full = (self.criterion.target if self.criterion and self.criterion.target
                else self.optimization_target)
        return short_target(full) if full else None

    def best(self) -> OptimizationBacktest | None:
        """The best successful backtest meeting every constraint, by the target and its
        direction (``max`` unless the criterion says ``min``); None if none qualifies.

        Example:
            >>> o = Optimization.model_validate({"optimizationId": "O-1", "criterion": {
            ...     "target": TARGET_PREFIX + "SharpeRatio", "extremum": "max"}, "backtests": {
            ...     "a": {"id": "a", "exitCode": 0, "statistics": [0] * 15 + [0.5]},
            ...     "b": {"id": "b", "exitCode": 0, "statistics": [0] * 15 + [1.5]},
            ...     "c": {"id": "c", "exitCode": 1, "statistics": []}}})
            >>> o.best().id
            'b'
        """
        target = self.target
        if target is None:
            return None
        kept = [b for b in self.backtests.values()
                if b.succeeded and b.target_number(target) is not None
                and all(b.meets(c) for c in self.constraints)]
        if not kept:
            return None
        lowest = (self.criterion.extremum or "max").lower() == "min" if self.criterion else False
        sign = -1.0 if lowest else 1.0
        return max(kept, key=lambda b: sign * (b.target_number(target) or 0.0))



class EstimateEnvelope(WireModel):
    """``/optimizations/estimate``'s answer."""

    essential = frozenset({"estimate"})

    estimate: Estimate


class OptimizationSummaryList(WireModel):
    """``/optimizations/create`` and ``/optimizations/list``: a list of summaries."""

    essential = frozenset({"optimizations"})

    optimizations: list[OptimizationSummary] = Field(default_factory=list)

    @field_validator("optimizations", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[OptimizationSummary]:
        return lenient_items(value, OptimizationSummary, "optimizations")


class OptimizationEnvelope(WireModel):
    """``/optimizations/read``'s answer."""

    optimization: Optimization | None = None


__all__ = [
    "EULER_SEARCH",
    "GRID_SEARCH",
    "NODE_TYPES",
    "OPERATORS",
    "TARGETS",
    "Criterion",
    "Estimate",
    "Optimization",
    "OptimizationBacktest",
    "OptimizationConstraint",
    "OptimizationParameter",
    "OptimizationSummary",
]
