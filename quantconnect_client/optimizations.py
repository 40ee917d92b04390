"""``/optimizations/*``: estimate, start, read, list, rename, abort and delete optimizations,
and wait for one to finish.

Every request is checked first (node type, parallel nodes within the node type's cluster,
at least one parameter, a grid of finitely many points, targets and constraint operators from
the contract's sets), so a bad one never reaches the service. A create whose answer was lost is
looked up, never sent twice.

Example:
    >>> grid = [OptimizationParameter(name="fast", min=5, max=20, step=5)]
    >>> estimate = client.optimizations.estimate(pid, "SMA grid", grid)  # doctest: +SKIP
    >>> job = client.optimizations.create(pid, cid, "SMA grid", grid,  # doctest: +SKIP
    ...                                   node_type="O2-8", parallel_nodes=4)
    >>> done = client.optimizations.wait(job.optimization_id, timeout=1800)  # doctest: +SKIP
    >>> done.best().parameter_set  # doctest: +SKIP
    {'fast': '15'}
"""

from __future__ import annotations

import builtins
import heapq
import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from .auth import CLOCK_TOLERANCE
from .budget import check_seconds
from .errors import NotFoundError, UnexpectedResponseError, ValidationError
from .models.base import parse
from .models.optimizations import (
    EXTREMA,
    GRID_SEARCH,
    NODE_TYPES,
    OPERATORS,
    STRATEGIES,
    TARGET_PREFIX,
    TARGETS,
    Estimate,
    EstimateEnvelope,
    Optimization,
    OptimizationConstraint,
    OptimizationEnvelope,
    OptimizationParameter,
    OptimizationSummary,
    OptimizationSummaryList,
    short_target,
)
from .polling import Schedule, poll
from .requester import Requester
from .validation import validate_backtest_name, validate_id, validate_job_id

#: Reads of a running optimization as a fixed sequence: a first look soon (it may be over at
#: once), then every 5 s, then 10 s (QuantConnect's own clients poll every 5 to 18 s). The
#: client's own wait uses :class:`OptimizationSchedule` unless given this or another schedule.
OPTIMIZATION_SCHEDULE = (1.0, 2.0, 5.0, 5.0, 5.0, 10.0)


class OptimizationSchedule:
    """Delays between reads of an optimization, from its running points' progress or from when
    its rounds of backtests ended.

    An optimization runs its points ``parallelNodes`` at a time. A running point's ``progress``
    seen at two reads gives its length; from those lengths, the running points' progress and
    the points still queued (each to the node that frees first), the moment the last one ends
    follows, and the schedule reads just after it. Far from that moment it reads once on the
    way (at 4/5 of the time left), to correct the forecast with a longer view of each point.

    Without progress to go on (a service that does not send it), the count of backtests done
    grows in steps, one per round: round ``k`` ends at ``start + k * length``. Every read says
    how many rounds had ended by its moment, which bounds ``start`` and ``length``; the
    earliest and latest moments the last round may end follow (the extremes of a straight line
    over that convex region, found at its corners). The schedule reads halfway to the earliest
    finish while far from it, then at that moment plus ``slack``, so a finish is noticed at most
    ``slack`` (plus one request) late; once the two bounds are within ``slack`` it reads once,
    at the latest. Reads that contradict the model (rounds of unequal length) fall back to a
    delay growing with the time waited. One instance per wait (it keeps what it saw).

    Args:
        min_interval: Shortest delay between reads.
        max_interval: Longest delay between reads.
        slack: How late a finish may go unnoticed (the final reads' spacing).
        clock: Monotonic time source.

    Example:
        >>> now = [0.0]
        >>> schedule = OptimizationSchedule(clock=lambda: now[0])
        >>> def seen(done: int, progress: float | None = None) -> Optimization:
        ...     running = {} if progress is None else {f"b{i}": {"id": f"b{i}",
        ...         "progress": progress} for i in range(2)}
        ...     return Optimization.model_validate({"optimizationId": "O-1", "status":
        ...         "running", "parallelNodes": 2, "backtests": running, "runtimeStatistics":
        ...         {"Completed": done, "Failed": 0, "Total": 8}})
        >>> for moment, done in ((0, 0), (1, 0), (2, 0), (3.5, 2), (4.5, 2), (6, 4)):
        ...     now[0] = moment
        ...     delay = schedule(seen(done))
        >>> round(now[0] + delay, 2)  # the earliest end of round 4 (7.15 s) plus the slack
        7.85

        With progress, two readings of the first round are enough: points of 1 s, 4 rounds.

        >>> now[0], schedule = 1.0, OptimizationSchedule(clock=lambda: now[0])
        >>> delay = schedule(seen(0, 0.25))
        >>> now[0] = 1.5
        >>> round(now[0] + schedule(seen(0, 0.75)), 2)  # rounds end at 1.75, 2.75, 3.75, 4.75 s
        4.8
    """

    def __init__(
        self,
        *,
        min_interval: float = 0.5,
        max_interval: float = 60.0,
        slack: float = 0.7,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < min_interval <= max_interval:
            raise ValueError("need 0 < min_interval <= max_interval")
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.slack = slack
        self._clock = clock
        self._started: float | None = None
        #: Rounds ended -> (first, last) moment a read saw exactly that many.
        self._seen: dict[int, tuple[float, float]] = {}
        #: Running point -> its first and latest (moment, progress) seen before its end.
        self._progress: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}

    def __call__(self, optimization: Optimization) -> float:
        """Seconds to wait before the next read, given the read just made."""
        now = self._clock()
        started = self._started = now if self._started is None else self._started
        done, total = optimization.progress
        nodes = max(1, optimization.parallel_nodes or optimization.count("Running") or 1)
        rounds, total_rounds = done // nodes, math.ceil(total / nodes) if total else 0
        first, _ = self._seen.get(rounds, (now, now))
        self._seen[rounds] = (first, now)
        finish = self._progress_finish(optimization, now, nodes)
        if finish is not None:
            left = finish - now
            if left > 10.0:
                return self._clamp(left * 0.8)
            return self._clamp(left + 0.05)
        bounds = None
        if len(self._seen) > 1:
            # A read's moment is known to about one request's jitter; a loaded machine's
            # larger jitter may make the tight fit impossible, so a looser one is tried next.
            bounds = (self._finish_bounds(total_rounds, now, 0.05)
                      or self._finish_bounds(total_rounds, now, 0.3))
        if bounds is None:
            # Too little seen (or rounds of unequal length): look again after as long as has
            # been waited so far (reads double their spacing).
            return self._clamp(now - started)
        earliest, latest = bounds
        if latest - earliest <= self.slack:
            return self._clamp(latest - now + 0.05)
        if earliest - now > 10.0:
            return self._clamp((earliest - now) / 2)
        return self._clamp(max(earliest, now) + self.slack - now)

    def _progress_finish(self, optimization: Optimization, now: float, nodes: int
                         ) -> float | None:
        """When the last point should end, from the running points' progress; None without
        two distinct readings of one point."""
        running: dict[str, float] = {}
        for backtest in optimization.backtests.values():
            progress = backtest.progress
            ended = bool(backtest.statistics) or backtest.exit_code not in (None, 0)
            if progress is None or ended or not 0 <= progress <= 1:
                continue
            running[backtest.id] = progress
            # A point at its end may be held just short of 1 (the emulator says 0.99 until
            # done): it runs, with next to nothing left, but only earlier readings measure
            # its pace.
            if progress < 0.99:
                first, _ = self._progress.get(backtest.id, ((now, progress), (now, progress)))
                self._progress[backtest.id] = (first, (now, progress))
        lengths = {
            point: (t1 - t0) / (p1 - p0)
            for point, ((t0, p0), (t1, p1)) in self._progress.items()
            if p1 - p0 >= 1e-3 and t1 > t0
        }
        done, total = optimization.progress
        if not lengths or not total:
            return None
        usual = statistics.median(lengths.values())
        ends = [now + (1 - p) * lengths.get(point, usual) for point, p in running.items()]
        ends += [now] * max(0, nodes - len(ends))
        heapq.heapify(ends)
        for _ in range(max(0, total - done - len(running))):
            heapq.heappush(ends, heapq.heappop(ends) + usual)
        return max(ends)

    def _finish_bounds(self, total_rounds: int, now: float, tolerance: float
                       ) -> tuple[float, float] | None:
        """Earliest and latest end of the last round consistent with every read, or None."""
        assert self._started is not None
        started = self._started
        # Each constraint: start + k * length <= t (a >= k rounds ended by t) or > t (fewer).
        upper: list[tuple[int, float]] = []  # start + k * length <= t
        lower: list[tuple[int, float]] = []  # start + k * length > t
        for k, (first, last) in self._seen.items():
            if k > 0:
                upper.append((k, first + tolerance))
            if k < total_rounds:
                lower.append((k + 1, last - tolerance))
        horizon = now - self._started + 1.0
        lines = [(1.0, float(k), t) for k, t in upper + lower]
        lines += [(1.0, 0.0, self._started - 3600.0), (1.0, 0.0, now),
                  (0.0, 1.0, 1e-3), (0.0, 1.0, horizon)]

        def feasible(start: float, length: float) -> bool:
            return (started - 3600.0 - 1e-9 <= start <= now + 1e-9
                    and 1e-3 - 1e-9 <= length <= horizon + 1e-9
                    and all(start + k * length <= t + 1e-9 for k, t in upper)
                    and all(start + k * length >= t - 1e-9 for k, t in lower))

        finishes: list[float] = []
        for (a1, b1, c1), (a2, b2, c2) in itertools.combinations(lines, 2):
            determinant = a1 * b2 - a2 * b1
            if abs(determinant) < 1e-12:
                continue
            start = (c1 * b2 - c2 * b1) / determinant
            length = (a1 * c2 - a2 * c1) / determinant
            if feasible(start, length):
                finishes.append(start + total_rounds * length)
        if not finishes:
            return None
        return min(finishes), max(finishes)

    def _clamp(self, delay: float) -> float:
        return min(self.max_interval, max(self.min_interval, delay))


#: The most backtests a request may describe: the service's limit is unconfirmed; a grid
#: beyond this is almost surely a step typed wrong, and would cost real money.
MAX_BACKTESTS = 10_000
#: The largest magnitude of a parameter's min, max or step: beyond it a double no longer holds
#: every whole number near it, so grid values would not be the text LEAN is given (the emulator
#: refuses the same; the service's limit is unconfirmed).
MAX_PARAMETER_MAGNITUDE = 1e15

ParameterInput = OptimizationParameter | Mapping[str, Any]
ConstraintInput = OptimizationConstraint | Mapping[str, Any]


# ------------------------------------------------------------------------------ checks


def validate_target(target: str) -> str:
    """A target as the service spells it, from its short or dotted name.

    Example:
        >>> validate_target("SharpeRatio")
        'TotalPerformance.PortfolioStatistics.SharpeRatio'

    Raises:
        ValidationError: Not one of the four targets.
    """
    short = short_target(target) if isinstance(target, str) else ""
    if short not in TARGETS:
        raise ValidationError(
            f"Optimization target {target!r} is not one of {', '.join(TARGETS)} "
            f"(or {TARGET_PREFIX}<name>)."
        )
    return TARGET_PREFIX + short


def validate_node_type(node_type: str, parallel_nodes: int | None) -> tuple[str, int]:
    """The node type and its parallel nodes (default: the node type's usual count).

    Example:
        >>> validate_node_type("O4-12", None)
        ('O4-12', 6)
        >>> validate_node_type("O8-16", 7)
        Traceback (most recent call last):
        ...
        quantconnect_client.errors.ValidationError: The maximum number of parallel nodes for \
O8-16 is 6, got 7.

    Raises:
        ValidationError: An unknown node type, or nodes outside 1..the cluster's maximum.
    """
    if node_type not in NODE_TYPES:
        raise ValidationError(
            f"Optimization node type {node_type!r} is not one of {', '.join(NODE_TYPES)}."
        )
    most, usual = NODE_TYPES[node_type]
    if parallel_nodes is None:
        return node_type, usual
    if isinstance(parallel_nodes, bool) or not isinstance(parallel_nodes, int):
        raise ValidationError(f"parallel_nodes must be an integer, got {parallel_nodes!r}.")
    if parallel_nodes < 1:
        raise ValidationError(f"parallel_nodes must be at least 1, got {parallel_nodes}.")
    if parallel_nodes > most:
        raise ValidationError(
            f"The maximum number of parallel nodes for {node_type} is {most}, got {parallel_nodes}."
        )
    return node_type, parallel_nodes


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{what} must be a finite number, got {value!r}.")
    return float(value)


def _bounded(value: Any, what: str) -> float:
    number = _finite(value, what)
    if abs(number) > MAX_PARAMETER_MAGNITUDE:
        raise ValidationError(f"{what} {number:g} is beyond ±{MAX_PARAMETER_MAGNITUDE:g}.")
    return number


def validate_parameters(parameters: Iterable[ParameterInput]) -> list[OptimizationParameter]:
    """Check an optimization's parameters; return them as models.

    Each needs a name and either ``min <= max`` with ``step > 0`` (``min_step > 0`` if given)
    or a static ``value``; at least one must be optimized, names are unique, and the grid
    holds at most :data:`MAX_BACKTESTS` points.

    Example:
        >>> [p.name for p in validate_parameters([{"name": "fast", "min": 5, "max": 20,
        ...     "step": 5}, {"name": "symbol", "value": "SPY"}])]
        ['fast', 'symbol']

    Raises:
        ValidationError: Naming the first problem.
    """
    if isinstance(parameters, (str, bytes, Mapping)):
        raise ValidationError("Optimization parameters must be a list of parameters.")
    checked: list[OptimizationParameter] = []
    for item in parameters:
        try:
            parameter = (item if isinstance(item, OptimizationParameter)
                         else OptimizationParameter.model_validate(dict(item)))
        except (TypeError, ValueError) as error:
            raise ValidationError(f"Optimization parameter {item!r} is malformed: {error}") \
                from None
        if not parameter.name.strip():
            raise ValidationError("Every optimization parameter needs a name.")
        checked.append(parameter)
    names = [p.name for p in checked]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"Optimization parameter names repeat: {', '.join(duplicates)}.")
    points = 1
    optimized = 0
    for p in checked:
        if p.step is None and p.min is None and p.max is None:
            if p.value is None:
                raise ValidationError(f"Parameter {p.name!r} needs min, max and step, or a value.")
            continue
        low, high, step = (_bounded(value, f"Parameter {p.name!r} {what}")
                           for value, what in ((p.min, "min"), (p.max, "max"), (p.step, "step")))
        if step <= 0:
            raise ValidationError(f"Parameter {p.name!r} step must be greater than 0, got {step}.")
        if p.min_step is not None and _finite(p.min_step, f"Parameter {p.name!r} min_step") <= 0:
            raise ValidationError(f"Parameter {p.name!r} min_step must be greater than 0.")
        if low > high:
            raise ValidationError(f"Parameter {p.name!r} min {low} is greater than max {high}.")
        # A tiny step over a wide range is a finite float but no finite job: count first.
        count = math.floor((high - low) / step + 1e-9) + 1
        points *= count
        optimized += 1
        if points > MAX_BACKTESTS:
            raise ValidationError(
                f"The grid would run more than {MAX_BACKTESTS} backtests (parameter "
                f"{p.name!r} alone gives {count}); use larger steps or fewer parameters."
            )
    if not optimized:
        raise ValidationError("An optimization needs at least one parameter with min, max and "
                              "step.")
    return checked


def grid_size(parameters: Iterable[ParameterInput]) -> int:
    """How many backtests a grid search of these parameters runs.

    Example:
        >>> grid_size([{"name": "a", "min": 252, "max": 273, "step": 21},
        ...            {"name": "b", "min": 10, "max": 110, "step": 50}])
        6
    """
    size = 1
    for p in validate_parameters(parameters):
        if p.step is not None:
            assert p.min is not None and p.max is not None
            size *= math.floor((p.max - p.min) / p.step + 1e-9) + 1
    return size


def validate_constraints(
    constraints: Iterable[ConstraintInput] | None,
) -> list[OptimizationConstraint]:
    """Check constraints: a target of the four, an operator of the six, a finite value.

    Example:
        >>> validate_constraints([{"target": "Drawdown", "operator": "less",
        ...                        "targetValue": 0.2}])[0].operator
        'Less'

    Raises:
        ValidationError: Naming the first bad constraint.
    """
    checked: list[OptimizationConstraint] = []
    for item in constraints or ():
        try:
            constraint = (item if isinstance(item, OptimizationConstraint)
                          else OptimizationConstraint.model_validate(dict(item)))
        except (TypeError, ValueError) as error:
            raise ValidationError(f"Constraint {item!r} is malformed: {error}") from None
        operator = next((o for o in OPERATORS if o.lower() == constraint.operator.lower()), None)
        if operator is None:
            raise ValidationError(
                f"Constraint operator {constraint.operator!r} is not one of {', '.join(OPERATORS)}."
            )
        value = _finite(constraint.target_value, "A constraint's target_value")
        checked.append(OptimizationConstraint(
            target=validate_target(constraint.target), operator=operator, target_value=value))
    return checked


def _wire_parameter(parameter: OptimizationParameter) -> dict[str, Any]:
    if parameter.step is None:
        return {"name": parameter.name, "value": parameter.value}
    wire: dict[str, Any] = {"name": parameter.name, "min": parameter.min, "max": parameter.max,
                            "step": parameter.step}
    if parameter.min_step is not None:
        wire["minStep"] = parameter.min_step
    return wire


# --------------------------------------------------------------------------- the API


class OptimizationsAPI:
    """Optimization operations; reached as ``client.optimizations``."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def _request(
        self,
        project_id: int,
        name: str,
        parameters: Iterable[ParameterInput],
        *,
        target: str,
        target_to: str,
        target_value: float | None,
        strategy: str,
        constraints: Iterable[ConstraintInput] | None,
    ) -> dict[str, Any]:
        """The fields estimate and create share, checked."""
        validate_id(project_id)
        validate_backtest_name(name)
        if target_to not in EXTREMA:
            raise ValidationError(f"target_to must be 'max' or 'min', got {target_to!r}.")
        if strategy not in STRATEGIES:
            raise ValidationError(f"Unknown optimization strategy {strategy!r}; the cloud runs "
                                  f"{GRID_SEARCH}.")
        payload: dict[str, Any] = {
            "projectId": project_id,
            "name": name,
            "target": validate_target(target),
            "targetTo": target_to,
            "targetValue": (None if target_value is None
                            else _finite(target_value, "target_value")),
            "strategy": strategy,
            "parameters": [_wire_parameter(p) for p in validate_parameters(parameters)],
        }
        checked = validate_constraints(constraints)
        if checked:
            payload["constraints"] = [
                {"target": c.target, "operator": c.operator, "targetValue": c.target_value}
                for c in checked
            ]
        return payload

    def estimate(
        self,
        project_id: int,
        name: str,
        parameters: Iterable[ParameterInput],
        *,
        target: str = "SharpeRatio",
        target_to: str = "max",
        target_value: float | None = None,
        strategy: str = GRID_SEARCH,
        constraints: Iterable[ConstraintInput] | None = None,
        compile_id: str | None = None,
        node_type: str | None = None,
        parallel_nodes: int | None = None,
    ) -> Estimate:
        """Ask what an optimization would take (an id, its time, the QCC balance; no cost).

        Args:
            project_id: The project (QuantConnect wants a successful backtest of it first).
            name: The optimization's name.
            parameters: :class:`OptimizationParameter` or mappings (``name``, ``min``, ``max``,
                ``step``, optional ``min_step``; or ``name`` and a static ``value``).
            target: ``SharpeRatio``, ``CompoundingAnnualReturn``,
                ``ProbabilisticSharpeRatio`` or ``Drawdown`` (short or dotted).
            target_to: ``max`` or ``min``.
            target_value: Stop once the target reaches this value.
            strategy: Grid search (the cloud's only strategy).
            constraints: Filters: ``target``, ``operator`` (``Less``, ``LessOrEqual``,
                ``Greater``, ``GreaterOrEqual``, ``Equals``, ``NotEqual``), ``target_value``.
            compile_id: A compile of the project (optional here).
            node_type: ``O2-8``, ``O4-12`` or ``O8-16`` (sent as the ``lean`` CLI does).
            parallel_nodes: Nodes at once, up to the node type's maximum.

        Raises:
            ValidationError: Bad input (nothing is sent).
            RequestRejectedError: The service refused.
        """
        payload = self._request(project_id, name, parameters, target=target,
                                target_to=target_to, target_value=target_value,
                                strategy=strategy, constraints=constraints)
        if compile_id is not None:
            payload["compileId"] = validate_job_id(compile_id, "compileId")
        if node_type is not None or parallel_nodes is not None:
            chosen, nodes = validate_node_type(node_type or "O2-8", parallel_nodes)
            payload.update(nodeType=chosen, parallelNodes=nodes)
        body = self._client.call("/optimizations/estimate", payload)
        return parse(EstimateEnvelope, body, "/optimizations/estimate").estimate

    def create(
        self,
        project_id: int,
        compile_id: str,
        name: str,
        parameters: Iterable[ParameterInput],
        *,
        target: str = "SharpeRatio",
        target_to: str = "max",
        target_value: float | None = None,
        strategy: str = GRID_SEARCH,
        constraints: Iterable[ConstraintInput] | None = None,
        node_type: str = "O2-8",
        parallel_nodes: int | None = None,
        estimated_cost: float = 0.0,
    ) -> OptimizationSummary:
        """Start an optimization; safe to retry.

        If an attempt's answer is lost, the optimization may be running already: before
        sending again, the client lists the project's optimizations and adopts the one with
        this exact name created since the call began, so a lost answer never starts a second
        one (give concurrent optimizations of one project distinct names).

        Args:
            project_id: The project.
            compile_id: A successful compile of it.
            name: The optimization's name.
            parameters: As for :meth:`estimate`.
            target: As for :meth:`estimate`.
            target_to: ``max`` or ``min``.
            target_value: Stop once the target reaches this value.
            strategy: Grid search (the cloud's only strategy).
            constraints: As for :meth:`estimate`.
            node_type: ``O2-8``, ``O4-12`` or ``O8-16``.
            parallel_nodes: Nodes at once (default: the node type's usual 12, 6 or 3).
            estimated_cost: The cost you accept (the service does not check it against an
                estimate; the estimate has no cost field).

        Raises:
            ValidationError: Bad input (nothing is sent).
            RequestRejectedError: The service refused, with its words.
        """
        payload = self._request(project_id, name, parameters, target=target,
                                target_to=target_to, target_value=target_value,
                                strategy=strategy, constraints=constraints)
        chosen, nodes = validate_node_type(node_type, parallel_nodes)
        if _finite(estimated_cost, "estimated_cost") < 0:
            raise ValidationError(f"estimated_cost must not be negative, got {estimated_cost}.")
        payload.update(compileId=validate_job_id(compile_id, "compileId"),
                       nodeType=chosen, parallelNodes=nodes, estimatedCost=estimated_cost)
        started = self._client.service_now() - CLOCK_TOLERANCE

        def attempt() -> OptimizationSummary:
            body = self._client.post("/optimizations/create", payload)
            created = parse(OptimizationSummaryList, body, "/optimizations/create").optimizations
            if not created:
                raise UnexpectedResponseError(
                    "The create answer lists no optimization; one may have started all the "
                    "same: it is not sent again",
                    endpoint="/optimizations/create",
                )
            return created[0]

        return self._client.with_retries(
            "/optimizations/create",
            attempt,
            reconcile=lambda: self._created_since(project_id, name, started),
        )

    def _created_since(
        self, project_id: int, name: str, since: datetime
    ) -> OptimizationSummary | None:
        candidates = [o for o in self.list(project_id)
                      if o.name == name and (o.created is None or o.created >= since)]
        if not candidates:
            return None
        return max(candidates, key=lambda o: (o.created or since, o.optimization_id))

    def read(self, optimization_id: str) -> Optimization:
        """Read an optimization with its backtests so far.

        Raises:
            NotFoundError: No such optimization (for example, it was deleted).
            UnexpectedResponseError: The answer is about another optimization, or none.
        """
        validate_job_id(optimization_id, "optimizationId")
        body = self._client.call("/optimizations/read", {"optimizationId": optimization_id})
        found = parse(OptimizationEnvelope, body, "/optimizations/read").optimization
        if found is None or found.optimization_id != optimization_id:
            raise UnexpectedResponseError(
                f"Asked for optimization {optimization_id}, got "
                f"{found.optimization_id if found else 'none'}",
                endpoint="/optimizations/read",
            )
        return found

    def list(self, project_id: int) -> builtins.list[OptimizationSummary]:
        """The project's optimizations."""
        validate_id(project_id)
        body = self._client.call("/optimizations/list", {"projectId": project_id})
        return parse(OptimizationSummaryList, body, "/optimizations/list").optimizations

    def update(self, optimization_id: str, name: str) -> None:
        """Rename an optimization (its name is the only field an update changes)."""
        validate_job_id(optimization_id, "optimizationId")
        validate_backtest_name(name)
        self._client.call("/optimizations/update",
                          {"optimizationId": optimization_id, "name": name})

    def abort(self, optimization_id: str) -> None:
        """Stop an optimization: its finished backtests stay. Safe to retry: after a lost
        answer, an optimization that reads ``aborted`` counts as stopped.

        Raises:
            RequestRejectedError: It had already ended (completed or aborted); the service
                refuses, and a caller stopping on every ending may ignore this.
            NotFoundError: No such optimization.
        """
        validate_job_id(optimization_id, "optimizationId")
        payload = {"optimizationId": optimization_id}

        def attempt() -> bool:
            self._client.post("/optimizations/abort", payload)
            return True

        def already_aborted() -> bool | None:
            status = (self.read(optimization_id).status or "").lower()
            return True if status == "aborted" else None

        self._client.with_retries("/optimizations/abort", attempt, reconcile=already_aborted)

    def delete(self, optimization_id: str) -> None:
        """Delete an optimization. Safe to retry: after a lost answer, one that no longer
        reads counts as deleted.

        Raises:
            NotFoundError: No such optimization in the first place.
        """
        validate_job_id(optimization_id, "optimizationId")
        payload = {"optimizationId": optimization_id}

        def attempt() -> bool:
            self._client.post("/optimizations/delete", payload)
            return True

        def already_deleted() -> bool | None:
            try:
                self.read(optimization_id)
            except NotFoundError:
                return True
            return None

        self._client.with_retries("/optimizations/delete", attempt, reconcile=already_deleted)

    def wait(
        self,
        optimization_id: str,
        *,
        timeout: float = 3600.0,
        on_progress: Callable[[Optimization], None] | None = None,
        schedule: Schedule[Optimization] | None = None,
    ) -> Optimization:
        """Read the optimization until it is completed or aborted, and return it.

        Args:
            optimization_id: The optimization.
            timeout: Seconds to wait in all.
            on_progress: Called with every read (``.progress`` is backtests done of the
                total); its failures are only logged.
            schedule: Seconds between reads (the last repeats), or a function of the last read;
                by default a new :class:`OptimizationSchedule`.

        Raises:
            WaitTimeoutError: Still running at the deadline (``.last`` holds the last read).
            NotFoundError: The optimization is gone (deleted).
        """
        validate_job_id(optimization_id, "optimizationId")
        check_seconds(timeout, "The optimization timeout")
        return poll(
            lambda: self.read(optimization_id),
            done=lambda o: o.finished,
            schedule=OptimizationSchedule() if schedule is None else schedule,
            timeout=timeout,
            on_progress=on_progress,
            what=f"optimization {optimization_id}",
            policy=self._client.retry,
            on_retry=self._client.count_retry,
        )


__all__ = [
    "MAX_BACKTESTS",
    "MAX_PARAMETER_MAGNITUDE",
    "OPTIMIZATION_SCHEDULE",
    "OptimizationSchedule",
    "OptimizationsAPI",
    "grid_size",
    "validate_constraints",
    "validate_node_type",
    "validate_parameters",
    "validate_target",
]
