"""Optimizations: ``/optimizations/*`` — QuantConnect's optimizer on the job clock, simulated.

An optimization runs one backtest per point of its parameter grid. Nothing is executed: each
point's results come from :func:`quantconnect_emulator.simulate.simulate` with that point's
parameter set, the same function a plain backtest uses, so a point re-run as a backtest with
its ``parameterSet`` gives the same numbers. The job lives on the account's clock (a
:class:`~quantconnect_emulator.jobs.JobBoard` of its own: the optimization cluster is separate
from the backtest nodes): it reads ``new`` for ``optimization_new_seconds``, then ``running``
while its backtests run ``parallelNodes`` at a time, ``backtest_seconds`` each, then
``completed``. Grid search runs every combination; Euler search (accepted unless
``optimization_euler`` is off) runs the coarse grid, then finer grids around the best point
(see :func:`euler_passes`). Constraints filter the points a best one is chosen from; abort
keeps the finished backtests and drops the rest; delete forgets the job.

Choices where the service is unconfirmed (see ``docs/quantconnect-api.md``, Optimizations):
the error texts; refusing node types outside ``O2-8``/``O4-12``/``O8-16`` and more parallel
nodes than the node type's cluster maximum; the estimate's ``time``; the ``Consumed`` figure;
the Euler refinement rule.

Example:
    >>> from quantconnect_emulator.account import Account, ManualClock
    >>> from quantconnect_emulator.config import EmulatorConfig, JobsConfig
    >>> from quantconnect_emulator.resources.compiles import Compiles
    >>> from quantconnect_emulator.resources.projects import Projects
    >>> jobs = JobsConfig(compile_seconds=0, backtest_seconds=10, optimization_new_seconds=5)
    >>> account = Account(EmulatorConfig(seed=1, jobs=jobs), clock=ManualClock())
    >>> project = Projects.of(account).create("Demo", "Py")
    >>> build = Compiles.of(account).create(project.project_id)
    >>> request = parse_request(Params({"projectId": project.project_id, "name": "o",
    ...     "target": "TotalPerformance.PortfolioStatistics.SharpeRatio", "targetTo": "max",
    ...     "strategy": GRID_STRATEGY, "compileId": build.compile_id,
    ...     "parameters": [{"name": "fast", "min": 10, "max": 30, "step": 10}]}))
    >>> optimizations = Optimizations.of(account)
    >>> job = optimizations.create(request, "O2-8", 2, 1.0)
    >>> optimizations.status(job), len(job.points)
    ('new', 3)
    >>> account.clock.advance(15)
    >>> optimizations.status(job), optimizations.counts(job)["Completed"]
    ('running', 2)
    >>> account.clock.advance(10)
    >>> optimizations.status(job), optimizations.counts(job)["Completed"]
    ('completed', 3)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from itertools import product
from typing import TYPE_CHECKING, Any

from quantconnect_emulator.jobs import Job, JobBoard, JobBoards, Stage
from quantconnect_emulator.params import ParamError, Params, decode_json
from quantconnect_emulator.registry import ApiError, Resource, action
from quantconnect_emulator.resources.backtests import Backtests, summary_statistics
from quantconnect_emulator.resources.compiles import (
    BUILD_ERROR,
    BUILD_SUCCESS,
    COMPILE_NOT_FOUND,
    Compile,
    Compiles,
)
from quantconnect_emulator.resources.projects import Projects
from quantconnect_emulator.simulate import SIMULATED_NOTE, Simulation, simulate
from quantconnect_emulator.stages import COMPLETED as BACKTEST_COMPLETED
from quantconnect_emulator.stages import SETTLED as BACKTEST_SETTLED
from quantconnect_emulator.stages import STATUS_COMPLETED, STATUS_ERROR
from quantconnect_emulator.wire import datetime_plain

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account

GRID_STRATEGY = "QuantConnect.Optimizer.Strategies.GridSearchOptimizationStrategy"
EULER_STRATEGY = "QuantConnect.Optimizer.Strategies.EulerSearchOptimizationStrategy"
TARGET_PREFIX = "TotalPerformance.PortfolioStatistics."
#: The four targets, by their last name: the simulation's portfolio statistic each one reads.
TARGETS = {
    "SharpeRatio": "sharpeRatio",
    "CompoundingAnnualReturn": "compoundingAnnualReturn",
    "ProbabilisticSharpeRatio": "probabilisticSharpeRatio",
    "Drawdown": "drawdown",
}
#: Constraint operators, by their lower-case spelling (the answer uses the PascalCase one).
OPERATORS = {
    name.lower(): name
    for name in ("Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equals", "NotEqual")
}
EXTREMA = ("max", "min")

NEW, RUNNING, COMPLETED, ABORTED = "new", "running", "completed", "aborted"
#: The refusal of an estimate for a project never backtested. QuantConnect's docs say an estimate
#: needs a previous successful backtest; the service's words are unconfirmed (chosen here).
NEEDS_BACKTEST = ("Please run a successful backtest of the project before estimating an "
                  "optimization")
#: Statuses after which nothing runs any more.
ENDED = (COMPLETED, ABORTED)


@dataclass(frozen=True)
class NodeType:
    """An optimization node model: size, price per node-hour, and its cluster's node counts."""

    name: str
    cores: int
    ram_gb: int
    price_per_hour: float
    max_nodes: int
    default_nodes: int


#: The optimization node models and their limits (the ``lean`` CLI's copy of the web IDE's table).
NODE_TYPES = {
    node.name: node
    for node in (
        NodeType("O2-8", 2, 8, 0.15, 24, 12),
        NodeType("O4-12", 4, 12, 0.30, 12, 6),
        NodeType("O8-16", 8, 16, 0.60, 6, 3),
    )
}
DEFAULT_NODE_TYPE = "O2-8"

#: An optimization backtest's ``statistics``, by index (21 in the array form).
STATISTICS_ORDER = (
    "Alpha",
    "Annual Standard Deviation",
    "Annual Variance",
    "Average Loss",
    "Average Win",
    "Beta",
    "Compounding Annual Return",
    "Drawdown",
    "Estimated Strategy Capacity",
    "Expectancy",
    "Information Ratio",
    "Loss Rate",
    "Net Profit",
    "Probabilistic Sharpe Ratio",
    "Profit-Loss Ratio",
    "Sharpe Ratio",
    "Total Fees",
    "Total Orders",
    "Tracking Error",
    "Treynor Ratio",
    "Win Rate",
)
#: Indices 21 to 24, written only in the object form.
OBJECT_ONLY_STATISTICS = ("Sortino Ratio", "Start Equity", "End Equity", "Drawdown Recovery")

#: Equity points per optimization backtest (its curve, sampled: the grid's heat map needs few).
EQUITY_POINTS = 30
#: Refinement passes Euler search makes at most, and how much finer each one's step is.
EULER_MAX_PASSES = 8
EULER_STEP_DIVISOR = 4

OPTIMIZATION_NOT_FOUND = "Optimization not found. OptimizationId: {optimization_id}"
MAX_NAME = 1_000


# ------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Parameter:
    """One parameter of the request: a range with a step, or a static ``value``."""

    name: str
    min: Decimal | None = None
    max: Decimal | None = None
    step: Decimal | None = None
    min_step: Decimal | None = None
    value: str | None = None

    @property
    def static(self) -> bool:
        """True for ``{name, value}``: the same in every backtest, not optimized."""
        return self.step is None

    def echo(self) -> dict[str, Any]:
        """As the answers repeat it."""
        if self.static:
            return {"name": self.name, "value": self.value}
        assert self.min is not None and self.max is not None and self.step is not None
        answer = {"name": self.name, "min": _number(self.min), "max": _number(self.max),
                  "step": _number(self.step)}
        if self.min_step is not None:
            answer["minStep"] = _number(self.min_step)
        return answer


@dataclass(frozen=True)
class Constraint:
    """A filter on the points: ``target operator value``."""

    target: str
    operator: str
    value: float

    def holds(self, simulation: Simulation) -> bool:
        """Whether a point's results pass."""
        actual = simulation.portfolio[TARGETS[self.target]]
        return {
            "Less": actual < self.value,
            "LessOrEqual": actual <= self.value,
            "Greater": actual > self.value,
            "GreaterOrEqual": actual >= self.value,
            "Equals": actual == self.value,
            "NotEqual": actual != self.value,
        }[self.operator]

    def echo(self) -> dict[str, Any]:
        """As the answers repeat it (the plain dotted target, the PascalCase operator)."""
        return {"target": TARGET_PREFIX + self.target, "operator": self.operator,
                "targetValue": self.value}


@dataclass(frozen=True)
class OptimizationRequest:
    """What estimate and create share, checked."""

    project_id: int
    name: str
    target: str
    extremum: str
    target_value: float | None
    strategy: str
    compile_id: str | None
    parameters: tuple[Parameter, ...]
    constraints: tuple[Constraint, ...]

    @property
    def optimized(self) -> tuple[Parameter, ...]:
        """The parameters with a range."""
        return tuple(p for p in self.parameters if not p.static)


def parse_request(params: Params, *, max_parameters: int | None = None) -> OptimizationRequest:
    """The fields estimate and create share, checked (see the contract's §1.2).

    Raises:
        ParamError: A missing or malformed field.
    """
    strategy = params.require_str("strategy").strip()
    if strategy not in (GRID_STRATEGY, EULER_STRATEGY):
        raise ParamError(
            f"Unsupported optimization strategy '{strategy[:200]}'; use {GRID_STRATEGY}"
        )
    extremum = params.require_str("targetTo").strip().lower()
    if extremum not in EXTREMA:
        raise ParamError("Parameter 'targetTo' must be 'min' or 'max'")
    name = params.require_str("name")
    if not name.strip() or len(name) > MAX_NAME:
        raise ParamError(f"Parameter 'name' must be 1 to {MAX_NAME} characters")
    parameters = tuple(_parameters(params.get_raw("parameters")))
    optimized = [p for p in parameters if not p.static]
    if not optimized:
        raise ParamError("At least one parameter with a min, max and step is required")
    if max_parameters is not None and len(optimized) > max_parameters:
        raise ParamError(f"{len(optimized)} optimized parameters; the maximum is {max_parameters}")
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise ParamError("Parameter names must be unique")
    compile_id = params.get_str("compileId")
    return OptimizationRequest(
        project_id=params.require_int("projectId"),
        name=name,
        target=_target(params.require_str("target"), "target"),
        extremum=extremum,
        target_value=_optional_number(params.get_raw("targetValue"), "targetValue"),
        strategy=strategy,
        compile_id=compile_id or None,
        parameters=parameters,
        constraints=tuple(_constraints(params.get_raw("constraints"))),
    )


def _target(text: str, key: str) -> str:
    """``TotalPerformance.PortfolioStatistics.SharpeRatio``, also bracket-quoted, to its last name.

    Example:
        >>> _target("['TotalPerformance'].['PortfolioStatistics'].['Drawdown']", "target")
        'Drawdown'
    """
    plain = text.replace("['", "").replace("']", "").strip()
    if plain.startswith(TARGET_PREFIX) and plain[len(TARGET_PREFIX):] in TARGETS:
        return plain[len(TARGET_PREFIX):]
    raise ParamError(
        f"Parameter '{key}' must be one of {', '.join(TARGET_PREFIX + t for t in TARGETS)}"
    )


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ParamError(f"Parameter '{what}' must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ParamError(f"Parameter '{what}' must be a number") from None
    if not number.is_finite() or abs(number) > Decimal(10) ** 15:
        raise ParamError(f"Parameter '{what}' must be a finite number within ±1E+15")
    return number


def _optional_number(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None  # LEAN sends null, the lean CLI ""
    return float(_decimal(value, what))


def _items(raw: Any, what: str) -> list[Any]:
    """A list sent as JSON, as JSON text, or as form fields ``what[0][...]`` (an index map)."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = decode_json(raw, f"Parameter '{what}'", where=what)
    if isinstance(raw, dict) and all(str(key).isdigit() for key in raw):
        raw = [raw[key] for key in sorted(raw, key=int)]
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ParamError(f"Parameter '{what}' must be a list of objects")
    if len(raw) > 100:
        raise ParamError(f"Parameter '{what}' holds too many entries")
    return raw


def _parameters(raw: Any) -> Iterator[Parameter]:
    for index, item in enumerate(_items(raw, "parameters")):
        name = item.get("name", item.get("key"))
        where = f"parameters[{index}]"
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ParamError(f"Parameter '{where}.name' must be a non-empty string")
        if item.get("step") is None and item.get("min") is None and item.get("max") is None:
            value = item.get("value")
            if value is None or isinstance(value, (bool, dict, list)):
                raise ParamError(f"Parameter '{where}' needs min, max and step (or a value)")
            yield Parameter(name, value=str(value))
            continue
        low, high, step = (_decimal(item.get(k), f"{where}.{k}") for k in ("min", "max", "step"))
        raw_min_step = item.get("minStep", item.get("min-step"))
        min_step = None if raw_min_step is None else _decimal(raw_min_step, f"{where}.minStep")
        if step <= 0:
            raise ParamError(f"Parameter '{where}.step' must be greater than 0")
        if min_step is not None and min_step <= 0:
            raise ParamError(f"Parameter '{where}.minStep' must be greater than 0")
        if low > high:
            raise ParamError(f"Parameter '{where}': min must not be greater than max")
        yield Parameter(name, low, high, step, min_step)


def _constraints(raw: Any) -> Iterator[Constraint]:
    for index, item in enumerate(_items(raw, "constraints")):
        where = f"constraints[{index}]"
        target = item.get("target")
        operator = item.get("operator")
        if not isinstance(target, str):
            raise ParamError(f"Parameter '{where}.target' is required")
        if not isinstance(operator, str) or operator.strip().lower() not in OPERATORS:
            raise ParamError(
                f"Parameter '{where}.operator' must be one of {', '.join(OPERATORS.values())}"
            )
        value = item.get("targetValue", item.get("target-value"))
        if value is None or value == "":
            raise ParamError(f"Parameter '{where}.targetValue' is required")
        yield Constraint(
            _target(target, f"{where}.target"),
            OPERATORS[operator.strip().lower()],
            float(_decimal(value, f"{where}.targetValue")),
        )


# ----------------------------------------------------------------------------------- grids


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def value_text(value: Decimal) -> str:
    """A grid value as the text LEAN's ``GetParameter`` sees (``parameterSet``'s values).

    Example:
        >>> value_text(Decimal("20.0")), value_text(Decimal("0.50")), value_text(Decimal("-3"))
        ('20', '0.5', '-3')
    """
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def point_count(low: Decimal, high: Decimal, step: Decimal) -> int:
    """floor((max - min) / step) + 1 values (the contract's grid size), exactly, in decimals.

    Example:
        >>> point_count(Decimal(252), Decimal(273), Decimal(21)), point_count(Decimal("0.1"),
        ...     Decimal("0.3"), Decimal("0.1"))
        (2, 3)
    """
    return int((high - low) // step) + 1


def grid_size(parameters: Iterable[Parameter]) -> int:
    """Backtests a grid search of these parameters runs (static ones count once)."""
    size = 1
    for parameter in parameters:
        if not parameter.static:
            assert parameter.min is not None and parameter.max is not None
            assert parameter.step is not None
            size *= point_count(parameter.min, parameter.max, parameter.step)
    return size


def _axis(low: Decimal, high: Decimal, step: Decimal) -> list[Decimal]:
    return [low + index * step for index in range(point_count(low, high, step))]


def grid(axes: dict[str, list[Decimal]]) -> list[dict[str, Decimal]]:
    """Every combination, the first parameter varying slowest.

    Example:
        >>> [{k: int(v) for k, v in p.items()} for p in grid({"a": [Decimal(1), Decimal(2)],
        ...     "b": [Decimal(5)]})]
        [{'a': 1, 'b': 5}, {'a': 2, 'b': 5}]
    """
    names = list(axes)
    return [dict(zip(names, values, strict=True)) for values in product(*axes.values())]


# ----------------------------------------------------------------------------------- state


@dataclass
class Point:
    """One backtest of an optimization: its parameter set, results, and when it runs."""

    backtest_id: str
    values: dict[str, Decimal]
    parameter_set: dict[str, str]
    simulation: Simulation
    failed: bool
    #: Seconds into the job's ``running`` stage at which it starts and ends.
    starts: float = 0.0
    ends: float = 0.0


@dataclass
class Optimization:
    """One optimization: the request, its node type and nodes, and every point."""

    optimization_id: str
    request: OptimizationRequest
    name: str
    node_type: NodeType
    parallel_nodes: int
    estimated_cost: float
    created: datetime
    #: Seconds it reads ``new`` (the setting in force when it was created).
    new_seconds: float = 0.0
    points: list[Point] = field(default_factory=list)
    run_seconds: float = 0.0
    #: Seconds into ``running`` at which a backtest reached the ``targetValue`` (the end).
    target_reached: float | None = None


class Optimizations(Resource):
    """The optimizations of one account (``Optimizations.of(account)``)."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.by_id: dict[str, Optimization] = {}
        self._instant: dict[tuple[str, str], Any] | None = None

    @property
    def board(self) -> JobBoard:
        """The optimization jobs (no slots: each job brings its own nodes)."""
        return JobBoards.of(self.account).board("optimization")

    # -------------------------------------------------------------------- checks

    def _build(self, request: OptimizationRequest, *, required: bool) -> Compile | None:
        Projects.of(self.account).require_live(request.project_id)
        if request.compile_id is None:
            if required:
                raise ParamError("Missing required parameter 'compileId'")
            return None
        compiles = Compiles.of(self.account)
        build = compiles.require(request.project_id, request.compile_id)
        state = compiles.state(build)
        if state == BUILD_ERROR:
            raise ApiError(
                f"Compile {build.compile_id} ended in BuildError; fix it and compile again"
            )
        if state != BUILD_SUCCESS:
            raise ApiError(COMPILE_NOT_FOUND)
        return build

    def _checked_size(self, request: OptimizationRequest) -> int:
        cap = self.account.jobs_config.optimization_max_backtests
        size = 1
        for parameter in request.optimized:
            assert parameter.min is not None and parameter.max is not None
            assert parameter.step is not None
            count = point_count(parameter.min, parameter.max, parameter.step)
            size *= count
            if size > cap:  # checked per factor: a huge grid is never multiplied out
                raise ApiError(
                    f"The optimization would run more than {cap} backtests; use fewer "
                    "parameters or larger steps"
                )
        return size

    @staticmethod
    def node_type(name: str | None) -> NodeType:
        """The node type of that name (``None``: the default, ``O2-8``)."""
        node = NODE_TYPES.get((name or DEFAULT_NODE_TYPE).strip())
        if node is None:
            raise ParamError(
                f"Unsupported optimization node type '{str(name)[:64]}'; use one of "
                + ", ".join(NODE_TYPES)
            )
        return node

    @staticmethod
    def check_nodes(node: NodeType, parallel: int | None) -> int:
        """The parallel nodes, within the node type's cluster (``None``: its default)."""
        if parallel is None:
            return node.default_nodes
        if not 1 <= parallel <= node.max_nodes:
            raise ParamError(
                f"The maximum number of parallel nodes for {node.name} is {node.max_nodes} "
                f"(at least 1), got {parallel}"
            )
        return parallel

    def _check_strategy(self, request: OptimizationRequest) -> None:
        if request.strategy == EULER_STRATEGY and not self.account.jobs_config.optimization_euler:
            raise ParamError(f"Unsupported optimization strategy; use {GRID_STRATEGY}")

    # ---------------------------------------------------------------- operations

    def estimate(
        self, request: OptimizationRequest, node_name: str | None, parallel: int | None
    ) -> dict[str, Any]:
        """The estimate: an id, the time, the organization's balance (no cost: see §1.3)."""
        with self.account.lock:
            self._check_strategy(request)
            self._build(request, required=False)
            size = self._checked_size(request)
            node = self.node_type(node_name)
            nodes = self.check_nodes(node, parallel)
            config = self.account.jobs_config
            if config.optimization_estimate_needs_backtest and not self._backtested(request):
                raise ApiError(NEEDS_BACKTEST)
            seconds = config.backtest_seconds
            if config.optimization_estimate_time == "job":
                seconds = math.ceil(size / nodes) * seconds
            return {
                "estimateId": self.account.ids.hex32(),
                "time": math.ceil(seconds),
                "balance": 0,  # the account's QCC balance (``/account/read``: creditBalance 0)
            }

    def _backtested(self, request: OptimizationRequest) -> bool:
        """Whether the project has a backtest that completed without an error."""
        backtests = Backtests.of(self.account)
        done = (BACKTEST_COMPLETED, BACKTEST_SETTLED)
        return any(backtests.stage(b) in done and b.failure is None
                   for b in backtests.for_project(request.project_id))

    def create(
        self,
        request: OptimizationRequest,
        node_name: str,
        parallel: int,
        estimated_cost: float,
    ) -> Optimization:
        """Start an optimization of a successful compile."""
        account = self.account
        with account.lock:
            self._check_strategy(request)
            build = self._build(request, required=True)
            assert build is not None
            self._checked_size(request)
            node = self.node_type(node_name)
            nodes = self.check_nodes(node, parallel)
            job = Optimization(
                optimization_id="O-" + account.ids.hex32(),
                request=request,
                name=request.name,
                node_type=node,
                parallel_nodes=nodes,
                estimated_cost=estimated_cost,
                created=account.now(),
                new_seconds=account.jobs_config.optimization_new_seconds,
            )
            passes = euler_passes if request.strategy == EULER_STRATEGY else grid_pass
            seconds = account.jobs_config.backtest_seconds
            start = 0.0
            cap = account.jobs_config.optimization_max_backtests
            for batch in passes(request, lambda values: self._point(build, request, values), cap):
                for index, point in enumerate(batch):
                    point.starts = start + (index // nodes) * seconds
                    point.ends = point.starts + seconds
                    job.points.append(point)
                start += math.ceil(len(batch) / nodes) * seconds
            job.target_reached = reached_at(job.points, request)
            job.run_seconds = start if job.target_reached is None else job.target_reached
            self.board.submit(
                job.optimization_id,
                [
                    Stage(NEW, job.new_seconds),
                    Stage(RUNNING, job.run_seconds),
                    Stage(COMPLETED, 0, False),
                ],
                waiting=NEW,
            )
            self.by_id[job.optimization_id] = job
            account.count("optimizations_created")
            return job

    def _point(
        self, build: Compile, request: OptimizationRequest, values: dict[str, Decimal]
    ) -> Point:
        texts = {p.name: p.value or "" for p in request.parameters if p.static}
        texts.update({name: value_text(value) for name, value in values.items()})
        return Point(
            backtest_id=self.account.ids.hex32(),
            values=dict(values),
            parameter_set=texts,
            # The very function a plain backtest's results come from, with the same text.
            simulation=simulate(build.language, build.files, texts, build.report),
            failed=build.report.initialize_failure is not None,
        )

    def require(self, optimization_id: str) -> Optimization:
        """The optimization, or the not-found error."""
        job = self.by_id.get(optimization_id)
        if job is None:
            raise ApiError(OPTIMIZATION_NOT_FOUND.format(optimization_id=optimization_id[:64]))
        return job

    def job(self, optimization: Optimization) -> Job:
        """Its job, settled to now."""
        found = self.board.get(optimization.optimization_id)
        assert found is not None
        return found

    def status(self, optimization: Optimization) -> str:
        """``new``, ``running``, ``completed`` or ``aborted``."""
        state: str = self._once((optimization.optimization_id, "status"),
                                lambda: self.board.state(optimization.optimization_id))
        return state

    def running_seconds(self, optimization: Optimization) -> float | None:
        """Seconds its backtests have been running (frozen once aborted; None: not begun)."""

        def read() -> float | None:
            elapsed = self.job(optimization).elapsed(self.account.clock.time())
            if elapsed is None or elapsed < optimization.new_seconds:
                return None
            return min(elapsed - optimization.new_seconds, optimization.run_seconds)

        seconds: float | None = self._once((optimization.optimization_id, "running"), read)
        return seconds

    @contextlib.contextmanager
    def one_instant(self) -> Iterator[None]:
        """Within the block, each optimization's status and running time are read once: one
        answer is one snapshot (read twice, a job could end between the reads, and an answer
        say ``completed`` while listing backtests still running)."""
        outer = self._instant
        if outer is None:
            self._instant = {}
        try:
            yield
        finally:
            if outer is None:
                self._instant = None

    def _once(self, key: tuple[str, str], read: Callable[[], Any]) -> Any:
        if self._instant is None:
            return read()
        if key not in self._instant:
            self._instant[key] = read()
        return self._instant[key]

    def finished(self, optimization: Optimization) -> list[Point]:
        """Points whose backtest has ended."""
        status = self.status(optimization)
        if status == COMPLETED:
            if optimization.target_reached is None:
                return list(optimization.points)
            # Those that ended by the point that reached the targetValue (the others never
            # ran; their ends are computed alike, so a round's are equal floats).
            return [p for p in optimization.points if p.ends <= optimization.target_reached]
        reached = self.running_seconds(optimization)
        if status == NEW or reached is None:
            return []
        return [p for p in optimization.points if p.ends <= reached]

    def running(self, optimization: Optimization) -> list[Point]:
        """Points whose backtest runs now (none once ended)."""
        if self.status(optimization) != RUNNING:
            return []
        reached = self.running_seconds(optimization)
        if reached is None:
            return []
        return [p for p in optimization.points if p.starts <= reached < p.ends]

    def counts(self, optimization: Optimization) -> dict[str, int]:
        """Completed, Failed, Running, In Queue and Total backtests."""
        done = self.finished(optimization)
        running = len(self.running(optimization))
        failed = sum(1 for p in done if p.failed)
        ended = self.status(optimization) in ENDED  # aborted, or completed at its target
        total = len(optimization.points)
        return {
            "Completed": len(done) - failed,
            "Failed": failed,
            "Running": running,
            "In Queue": 0 if ended else total - len(done) - running,
            "Total": total,
        }

    def best(self, optimization: Optimization) -> Point | None:
        """The best finished point that passes every constraint, by the target."""
        return best_point(self.finished(optimization), optimization.request)

    def for_project(self, project_id: int) -> list[Optimization]:
        """The project's optimizations, oldest first."""
        return [o for o in self.by_id.values() if o.request.project_id == project_id]

    def rename(self, optimization_id: str, name: str) -> None:
        """Set the name (the only field an update changes)."""
        if not name.strip() or len(name) > MAX_NAME:
            raise ParamError(f"Parameter 'name' must be 1 to {MAX_NAME} characters")
        self.require(optimization_id).name = name

    def abort(self, optimization_id: str) -> None:
        """Stop it: finished backtests stay, the rest are not run."""
        job = self.require(optimization_id)
        status = self.status(job)
        if status in ENDED:
            raise ApiError(f"Optimization {optimization_id} has already ended ({status})")
        self.board.stop(optimization_id, ABORTED)
        self.account.count("optimizations_aborted")

    def delete(self, optimization_id: str) -> None:
        """Forget it (a running one stops first)."""
        self.require(optimization_id)
        self.board.remove(optimization_id)
        del self.by_id[optimization_id]
        self.account.count("optimizations_deleted")

    def listed_backtests(self, project_id: int, with_statistics: bool) -> list[dict[str, Any]]:
        """The backtests the project's optimizations have started, as ``/backtests/list``
        shows them: with their ``optimizationId``."""
        with self.one_instant():
            return self._listed(project_id, with_statistics)

    def _listed(self, project_id: int, with_statistics: bool) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = []
        for job in self.for_project(project_id):
            points = [(p, True) for p in self.finished(job)]
            points += [(p, False) for p in self.running(job)]
            for point, done in points:
                backtest = render_backtest(self, job, point, done=done)
                summary: dict[str, Any] = {
                    "backtestId": point.backtest_id,
                    "status": (f"Running: {int(backtest['progress'] * 100)}%" if not done
                               else STATUS_ERROR if point.failed else STATUS_COMPLETED),
                    "name": backtest["name"],
                    "created": datetime_plain(job.created),
                    "progress": backtest["progress"],
                    "optimizationId": job.optimization_id,
                    "tradeableDates": point.simulation.days,
                    "parameterSet": dict(point.parameter_set),
                    "snapshotId": 0,
                    "tags": [],
                }
                if with_statistics:
                    summary.update(summary_statistics(
                        point.simulation, len(point.parameter_set),
                        done=done and not point.failed))
                summaries.append(summary)
        return summaries

    def project_removed(self, project_id: int) -> None:
        """Forget every optimization of a removed project."""
        for job in self.for_project(project_id):
            self.board.remove(job.optimization_id)
            del self.by_id[job.optimization_id]


def target_value(point: Point, request: OptimizationRequest) -> float:
    """The point's value of the request's target (a fraction, as ``totalPerformance`` has it)."""
    return point.simulation.portfolio[TARGETS[request.target]]


def reached_at(points: Iterable[Point], request: OptimizationRequest) -> float | None:
    """When the first backtest (in the order they end) that reaches the request's
    ``targetValue`` (equal or better, constraints met) ends: LEAN's optimizer stops there (its
    target's ``Reached``), and what still runs is not counted. None: never (or no target)."""
    if request.target_value is None:
        return None
    sign = 1.0 if request.extremum == "max" else -1.0
    wanted = sign * request.target_value
    for point in sorted(points, key=lambda p: p.ends):
        if best_point([point], request) is point and sign * target_value(point, request) >= wanted:
            return point.ends
    return None


def best_point(points: Iterable[Point], request: OptimizationRequest) -> Point | None:
    """The best successful point passing every constraint (the first one on a tie)."""
    kept = [p for p in points if not p.failed and all(c.holds(p.simulation)
                                                      for c in request.constraints)]
    if not kept:
        return None
    sign = 1.0 if request.extremum == "max" else -1.0
    return max(reversed(kept), key=lambda p: sign * target_value(p, request))


#: Makes the point of one parameter set (simulating its backtest).
PointMaker = Callable[[dict[str, Decimal]], "Point"]


def grid_pass(request: OptimizationRequest, make: PointMaker, cap: int) -> Iterator[list[Point]]:
    """Grid search: one pass over every combination."""
    axes = {}
    for p in request.optimized:
        assert p.min is not None and p.max is not None and p.step is not None
        axes[p.name] = _axis(p.min, p.max, p.step)
    yield [make(values) for values in grid(axes)]


def euler_passes(
    request: OptimizationRequest, make: PointMaker, cap: int
) -> Iterator[list[Point]]:
    """Euler search: the coarse grid, then finer grids around the best point so far.

    Each refinement spans one old step either side of the best value (within min..max) with a
    step :data:`EULER_STEP_DIVISOR` times finer, but never finer than the parameter's
    ``minStep`` (default: its step, so without ``minStep`` only the coarse pass runs); points
    run before are not run again; it stops when no parameter can get finer, no point passes the
    constraints, or the backtest cap (``optimization_max_backtests``) is reached.
    """
    steps = {}
    for p in request.optimized:
        assert p.step is not None
        steps[p.name] = p.step
    seen: set[tuple[Decimal, ...]] = set()
    done: list[Point] = []
    coarse = next(grid_pass(request, make, cap))
    seen.update(tuple(point.values.values()) for point in coarse)
    done += coarse
    yield coarse
    for _ in range(EULER_MAX_PASSES):
        best = best_point(done, request)
        if best is None:
            return
        axes: dict[str, list[Decimal]] = {}
        finer = False
        for p in request.optimized:
            assert p.min is not None and p.max is not None and p.step is not None
            floor = p.min_step if p.min_step is not None else p.step
            old = steps[p.name]
            new = max(old / EULER_STEP_DIVISOR, floor)
            if new < old:
                finer = True
            steps[p.name] = new
            centre = best.values[p.name]
            low, high = max(p.min, centre - old), min(p.max, centre + old)
            axes[p.name] = _axis(low, high, new)
        if not finer:
            return
        fresh: list[Point] = []
        for values in grid(axes):
            key = tuple(values.values())
            if key in seen:
                continue
            if len(done) + len(fresh) >= cap:
                break
            seen.add(key)
            fresh.append(make(values))
        if not fresh:
            return
        done += fresh
        yield fresh


# ---------------------------------------------------------------------------------- answers


def _hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _criterion(request: OptimizationRequest) -> dict[str, Any]:
    return {"target": TARGET_PREFIX + request.target, "extremum": request.extremum,
            "targetValue": request.target_value}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def statistic_number(text: str) -> float:
    """A statistic's text as the optimizer's number: ``%``, ``$`` and separators stripped (a
    percentage stays in percent), 0 for text that is no number.

    Example:
        >>> statistic_number("73%"), statistic_number("$1,390.49"), statistic_number("-0.063")
        (73.0, 1390.49, -0.063)
    """
    cleaned = text.replace("%", "").replace("$", "").replace(",", "").strip()
    try:
        number = float(cleaned)
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def _statistics(point: Point, form: str) -> list[float] | dict[str, float]:
    stats = point.simulation.statistics
    if form == "array":
        return [statistic_number(stats[name]) for name in STATISTICS_ORDER]
    names = STATISTICS_ORDER + OBJECT_ONLY_STATISTICS
    return {str(index): statistic_number(stats[name]) for index, name in enumerate(names)}


def _equity(simulation: Simulation) -> list[list[float]]:
    every = max(1, math.ceil(simulation.days / EQUITY_POINTS))
    picked = list(range(0, simulation.days, every))
    if picked[-1] != simulation.days - 1:
        picked.append(simulation.days - 1)
    return [[simulation.times[i], *(round(v, 2) for v in simulation.candles[i])] for i in picked]


def render_backtest(
    optimizations: Optimizations, job: Optimization, point: Point, *, done: bool
) -> dict[str, Any]:
    """One value of ``backtests``: finished with its statistics, or running without."""
    sim = point.simulation
    progress = 1.0
    if not done:
        reached = optimizations.running_seconds(job) or 0.0
        span = point.ends - point.starts
        progress = min(0.99, (reached - point.starts) / span) if span else 0.0
    answer: dict[str, Any] = {
        "id": point.backtest_id,
        "name": f"{job.name} {'/'.join(point.parameter_set.values())}",
        "progress": round(progress, 4),
        "exitCode": 1 if done and point.failed else 0,
        "parameterSet": dict(point.parameter_set),
        "statistics": (_statistics(point, optimizations.account.jobs_config.optimization_statistics)
                       if done and not point.failed else []),
        "equity": _equity(sim) if done and not point.failed else [],
        "startDate": datetime_plain(_midnight(sim.start)),
        "endDate": datetime_plain(_midnight(sim.end)),
    }
    return answer


def _best_numbers(optimizations: Optimizations, job: Optimization) -> dict[str, Any]:
    best = optimizations.best(job)
    if best is None:
        return {"psr": None, "sharpeRatio": None, "trades": None}
    portfolio = best.simulation.portfolio
    return {
        "psr": round(portfolio["probabilisticSharpeRatio"], 6),
        "sharpeRatio": round(portfolio["sharpeRatio"], 6),
        "trades": len(best.simulation.trades),
    }


def render_summary(optimizations: Optimizations, job: Optimization) -> dict[str, Any]:
    """An ``OptimizationSummary`` (create and list)."""
    return {
        "optimizationId": job.optimization_id,
        "projectId": job.request.project_id,
        "name": job.name,
        "status": optimizations.status(job),
        "nodeType": job.node_type.name,
        "criterion": _criterion(job.request),
        "created": datetime_plain(job.created),
        **_best_numbers(optimizations, job),
        "cloneId": None,
        "outOfSampleDays": 0,
        "outOfSampleMaxEndDate": None,
        "parameters": [p.echo() for p in job.request.parameters],
    }


def render(optimizations: Optimizations, job: Optimization) -> dict[str, Any]:
    """An ``Optimization`` (read)."""
    counts = optimizations.counts(job)
    done = optimizations.finished(job)
    running = optimizations.running(job)
    seconds = optimizations.account.jobs_config.backtest_seconds
    reached = optimizations.running_seconds(job) or 0.0
    ran = sum(p.ends - p.starts for p in done) + sum(reached - p.starts for p in running)
    consumed = ran / 3600 * job.node_type.price_per_hour * 100  # QCC: 100 per dollar
    backtests = {p.backtest_id: render_backtest(optimizations, job, p, done=True) for p in done}
    backtests.update(
        {p.backtest_id: render_backtest(optimizations, job, p, done=False) for p in running}
    )
    return {
        "optimizationId": job.optimization_id,
        "projectId": job.request.project_id,
        "name": job.name,
        "status": optimizations.status(job),
        "nodeType": job.node_type.name,
        "snapshotId": 0,
        "parallelNodes": job.parallel_nodes,
        "criterion": _criterion(job.request),
        "optimizationTarget": TARGET_PREFIX + job.request.target,
        "targetValue": job.request.target_value,
        "strategy": job.request.strategy,
        "requested": datetime_plain(job.created),
        "constraints": [c.echo() for c in job.request.constraints],
        "parameters": [p.echo() for p in job.request.parameters],
        "runtimeStatistics": {
            **{key: str(value) for key, value in counts.items()},
            "Average Length": _hms(seconds if done else 0),
            "Total Runtime": _hms(reached),
            "Consumed": f"{consumed:.2f}",
            # Where a person reads the figures, as a plain backtest's serverStatistics does.
            "Note": SIMULATED_NOTE,
        },
        "backtests": backtests,  # {} while none has started
        "gridLayout": [],
        "outOfSampleDays": 0,
        "outOfSampleMaxEndDate": None,
    }


# ---------------------------------------------------------------------------------- handlers


def _request(account: Account, params: Params) -> OptimizationRequest:
    return parse_request(params, max_parameters=account.jobs_config.optimization_max_parameters)


@action("/optimizations/estimate")
def _estimate(account: Account, params: Params) -> dict[str, Any]:
    request = _request(account, params)
    # The lean CLI also sends the node type and nodes here; OpenAPI lists neither.
    estimate = Optimizations.of(account).estimate(
        request, params.get_str("nodeType"), params.get_int("parallelNodes")
    )
    return {"estimate": estimate}


@action("/optimizations/create")
def _create(account: Account, params: Params) -> dict[str, Any]:
    request = _request(account, params)
    cost = params.get_raw("estimatedCost")
    if cost is None:
        raise ParamError("Missing required parameter 'estimatedCost'")
    # Any number is accepted (live: 1, 0.06, "0.01"): it is not checked against an estimate.
    estimated = float(_decimal(cost, "estimatedCost"))
    optimizations = Optimizations.of(account)
    job = optimizations.create(
        request,
        params.require_str("nodeType"),
        params.require_int("parallelNodes"),
        estimated,
    )
    return {"optimizations": [render_summary(optimizations, job)]}


@action("/optimizations/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    optimizations = Optimizations.of(account)
    job = optimizations.require(params.require_str("optimizationId"))
    with optimizations.one_instant():
        return {"optimization": render(optimizations, job)}


@action("/optimizations/list")
def _list(account: Account, params: Params) -> dict[str, Any]:
    project_id = params.require_int("projectId")
    Projects.of(account).require(project_id)
    optimizations = Optimizations.of(account)
    with optimizations.one_instant():
        return {"optimizations": [render_summary(optimizations, job)
                                  for job in optimizations.for_project(project_id)]}


@action("/optimizations/update")
def _update(account: Account, params: Params) -> dict[str, Any]:
    Optimizations.of(account).rename(
        params.require_str("optimizationId"), params.require_str("name")
    )
    return {}


@action("/optimizations/abort")
def _abort(account: Account, params: Params) -> dict[str, Any]:
    Optimizations.of(account).abort(params.require_str("optimizationId"))
    return {}


@action("/optimizations/delete")
def _delete(account: Account, params: Params) -> dict[str, Any]:
    Optimizations.of(account).delete(params.require_str("optimizationId"))
    return {}
