"""The form of ``optimize-strategy``: what to optimize, on which nodes, and the cost it may take.

As every form here, a pydantic model: the Prefect UI renders it with help text and drop-downs,
and its JSON schema refuses bad values (a step of 0, more parallel nodes than a node type's
cluster holds, an unknown target) before a run is created.

Example:
    >>> options = OptimizeOptions(parameters=[
    ...     {"name": "fast", "min": 5, "max": 20, "step": 5},
    ...     {"name": "slow", "min": 30, "max": 90, "step": 30}])
    >>> options.points(), options.guard.max_dollars
    (12, 5.0)
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flows.backtests.forms import MAX_GRID_SETS, Parameters, StrategyChoice
from flows.backtests.gate import GateOptions
from flows.common.options import FiniteFloat, RetryOptions
from quantconnect_client.models.optimizations import NODE_TYPES
from quantconnect_client.optimizations import MAX_BACKTESTS, MAX_PARAMETER_MAGNITUDE

Target = Literal["SharpeRatio", "CompoundingAnnualReturn", "ProbabilisticSharpeRatio", "Drawdown"]
Operator = Literal["Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equals", "NotEqual"]
NodeType = Literal["O2-8", "O4-12", "O8-16"]
#: The statistic each target is, as a backtest's statistics name it.
TARGET_STATISTICS = {
    "SharpeRatio": "Sharpe Ratio",
    "CompoundingAnnualReturn": "Compounding Annual Return",
    "ProbabilisticSharpeRatio": "Probabilistic Sharpe Ratio",
    "Drawdown": "Drawdown",
}


#: A parameter's bound or step: finite, and within what the client sends (beyond it a double no
#: longer holds every whole number, so grid values would not be the text LEAN is given).
Bounded = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_PARAMETER_MAGNITUDE,
                                 le=MAX_PARAMETER_MAGNITUDE)]


class ParameterRange(BaseModel):
    """One parameter the optimizer varies: every value from ``min`` to ``max`` by ``step``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][\w\-.]*$",
                      description="The name the algorithm reads with get_parameter.")
    min: Bounded = Field(description="The lowest value.")
    max: Bounded = Field(description="The highest value.")
    step: Bounded = Field(gt=0, description="The distance between two values tried.")

    @model_validator(mode="after")
    def _ordered(self) -> ParameterRange:
        if self.min > self.max:
            raise ValueError(f"parameter {self.name!r}: min {self.min:g} is above max "
                             f"{self.max:g}")
        return self

    def values(self) -> int:
        """How many values the range holds (the service floors a partial last step)."""
        return math.floor((self.max - self.min) / self.step + 1e-9) + 1


class Constraint(BaseModel):
    """A filter on the results: points that break it are not chosen."""

    model_config = ConfigDict(extra="forbid")

    target: Target = Field(description="The statistic the constraint reads.")
    operator: Operator = Field(description="How it compares.")
    value: FiniteFloat = Field(description="With what (percentages as fractions: 25 % is 0.25).")


class CostGuard(BaseModel):
    """The most an optimization may cost; a larger estimate refuses to start it."""

    model_config = ConfigDict(extra="forbid")

    max_node_hours: FiniteFloat = Field(
        default=2.0, gt=0, le=10_000,
        description="Billed compute at most, in node-hours over every backtest.",
    )
    max_dollars: FiniteFloat = Field(
        default=5.0, gt=0, le=100_000,
        description="Estimated cost at most, in US dollars (100 QCC = $1).",
    )


class OptimizeOptions(BaseModel):
    """Form of the ``optimize-strategy`` flow."""

    model_config = ConfigDict(extra="forbid")

    strategy: StrategyChoice = Field(default_factory=StrategyChoice, description="What to run.")
    parameters: list[ParameterRange] = Field(
        min_length=1, max_length=3,
        description="The parameters to vary (QuantConnect's cloud optimizes up to 2 or 3).",
    )
    fixed: Parameters = Field(
        default_factory=dict,
        description="Parameters every backtest gets as they are (the reference backtest too).",
    )
    target: Target = Field(default="SharpeRatio", description="What the optimizer ranks by.")
    target_to: Literal["max", "min"] = Field(default="max", description="Its better direction.")
    target_value: FiniteFloat | None = Field(
        default=None,
        description="Stop once a point reaches this value (none: run them all); percentages "
        "as fractions, as for the constraints (a 10 % drawdown is 0.1).",
    )
    constraints: list[Constraint] = Field(default_factory=list, max_length=10,
                                          description="Filters on the results.")
    node_type: NodeType = Field(default="O2-8", description="The optimization node model.")
    parallel_nodes: int = Field(
        default=4, ge=1, le=24,
        description="Nodes running backtests at once (O2-8: up to 24, O4-12: 12, O8-16: 6).",
    )
    guard: CostGuard = Field(default_factory=CostGuard, description="The cost bound.")
    reference_backtest: bool = Field(
        default=True,
        description="Backtest the fixed parameters first: QuantConnect estimates an "
        "optimization only for a project with a successful backtest, and the report shows it "
        "as the point of comparison.",
    )
    compile_timeout_seconds: FiniteFloat = Field(default=300, gt=0, le=3600,
                                                 description="Seconds to wait for the compile.")
    timeout_minutes: FiniteFloat = Field(
        default=120, gt=0, le=24 * 60,
        description="The run's deadline for the optimization; at it, the optimization is "
        "aborted and the run fails saying so.",
    )
    verify_best: bool = Field(
        default=False,
        description="Backtest the best point again as a normal backtest (and gate it, if a "
        "gate is given).",
    )
    gate: GateOptions | None = Field(default=None,
                                     description="Regression gate on the best point's backtest.")
    artifact_key: str = Field(default="quantconnect-optimization", pattern=r"^[a-z0-9-]+$",
                              max_length=100, description="Key of the report artifact.")
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")

    @model_validator(mode="after")
    def _consistent(self) -> OptimizeOptions:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("each optimized parameter may appear once")
        if set(names) & set(self.fixed):
            raise ValueError("a parameter is either optimized or fixed, not both: "
                             + ", ".join(sorted(set(names) & set(self.fixed))))
        most = NODE_TYPES[self.node_type][0]
        if self.parallel_nodes > most:
            raise ValueError(f"{self.node_type} runs at most {most} nodes at once, not "
                             f"{self.parallel_nodes}")
        if self.points() > min(MAX_BACKTESTS, MAX_GRID_SETS * 20):
            raise ValueError(f"the grid has {self.points()} points; use larger steps")
        if self.gate is not None and not self.verify_best:
            raise ValueError("a gate needs verify_best: true (it gates the best point's "
                             "backtest)")
        return self

    def points(self) -> int:
        """How many backtests a grid search of the parameters runs."""
        return math.prod(p.values() for p in self.parameters)
