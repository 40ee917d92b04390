"""``optimize-strategy``: QuantConnect's optimizer over a parameter grid, with a cost guard.

An optimization rents optimization nodes and bills for them, so the flow bounds the cost before
anything starts and leaves nothing running after it ends:

1. compile the strategy (a folder goes into a temporary project; an existing project stays);
2. backtest the fixed parameters once (QuantConnect estimates only for a project with a
   successful backtest; the report shows it as the point of comparison);
3. ask for an estimate and work out the cost (:mod:`flows.optimizations.cost`); above the form's
   bound the run fails with the report saying which bound, and **nothing is created**;
4. create the optimization (a lost answer is adopted by name, never created twice), follow its
   progress, and publish a ranked table, the best parameters, a heatmap or line, and the cost;
5. optionally backtest the best point again as a normal backtest and gate it.

Whatever ends the run — failure, cancellation, the deadline, a crash (the state hooks), a
``kill -9`` (the sweeper) — an optimization it started that still runs is **aborted**, and a
temporary project is removed.

Example:
    >>> from flows.optimizations.optimize import optimize_strategy
    >>> from flows.optimizations.forms import OptimizeOptions
    >>> options = OptimizeOptions(parameters=[{"name": "fast", "min": 5, "max": 20, "step": 5}])
    >>> optimize_strategy.name, options.points()
    ('optimize-strategy', 4)
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import time
from typing import Any

import anyio
from prefect import Flow, flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.schemas.objects import FlowRun, State
from prefect.logging import get_logger

from flows.backtests.gate import RegressionError, run_gate
from flows.backtests.pipeline import (
    BacktestDeadlineError,
    prepare_run,
    stop_backtests_in_existing_project,
    strategy_project,
)
from flows.common.credentials import resolve_credentials_sync
from flows.common.session import IN_MEMORY_RESULTS
from flows.common.temporary import CleanupError, KeepProjectError, cleanup_hooks, run_cleanup
from flows.optimizations.cost import estimate_cost
from flows.optimizations.forms import TARGET_STATISTICS, OptimizeOptions, ParameterRange
from flows.optimizations.report import OptimizationReport, Outcome, PointRow
from quantconnect_client import NotFoundError, QuantConnectClient, QuantConnectError, parse_number
from quantconnect_client.errors import WaitTimeoutError
from quantconnect_client.models.optimizations import Optimization, OptimizationBacktest
from tasks.backtests import (
    backtest_name,
    compile_project,
    delete_running_backtests,
    start_backtest,
    wait_for_backtest,
)
from tasks.credentials import QuantConnectCredentials
from tasks.optimizations import (
    abort_running_optimizations,
    estimate_optimization,
    optimization_name,
    start_optimization,
    wait_for_optimization,
)

logger = get_logger("flows.optimizations")

#: What a deployment runs unless told otherwise: the Python example's two averages.
DEFAULT_OPTIMIZATION = OptimizeOptions(parameters=[
    ParameterRange(name="fast", min=5, max=20, step=5),
    ParameterRange(name="slow", min=30, max=90, step=30),
])


class CostGuardError(RuntimeError):
    """The estimate is above the form's bound; nothing was started (the message says which)."""


class OptimizationDeadlineError(TimeoutError):
    """The optimization did not finish by the run's deadline; it was aborted."""


class OptimizationAbortedError(RuntimeError):
    """The optimization was aborted by someone else (in QuantConnect's UI, or by the service):
    its results are partial, so the run fails after publishing them (the message says how many
    points ran)."""


def _before_removal(client: QuantConnectClient, project_id: int) -> None:
    """The temporary project's clean-up in the state hooks (module level: the hooks may run in
    another process): its optimizations are aborted and its backtests deleted before it goes.

    Raises:
        KeepProjectError: The optimizations could not be aborted (or listed): the project is
            kept, since whether its removal stops them is unconfirmed and, once it is gone,
            nothing lists them; the failure hook and then the sweeper try again.
    """
    try:
        abort_running_optimizations(client, project_id)
    except NotFoundError:
        pass  # the project is gone already: nothing of it can run
    except QuantConnectError as error:
        raise KeepProjectError(f"its optimizations could not be aborted "
                               f"({type(error).__name__}: {error})") from error
    delete_running_backtests(client, project_id)


def abort_optimizations_in_existing_project(flow: Flow[Any, Any], flow_run: FlowRun,
                                            state: State) -> None:
    """State hook: for a run on an existing project, abort the optimizations it started that
    still run (found by the run id in their names; the project stays)."""
    parameters = dict(flow_run.parameters or {})
    try:
        options = parameters.get("options") or {}
        strategy = options.get("strategy") if isinstance(options, dict) else None
        project_id = (strategy or {}).get("project_id") if isinstance(strategy, dict) else None
        if project_id is None:
            return  # a temporary project: the clean-up hooks abort before removing it
        creds = resolve_credentials_sync(None, parameters.get("credentials_block"))
        aborted = abort_running_optimizations(creds.get_client(), int(project_id),
                                              str(flow_run.id))
        if aborted:
            logger.info("Run %s ended %s; aborted optimization(s) %s", flow_run.id, state.name,
                        aborted)
    except Exception as error:
        logger.error("Run %s ended %s; could not check its optimizations (%s: %s)",
                     flow_run.id, state.name, type(error).__name__, error)


#: ``@flow`` options: the temporary project's hooks (abort, stop backtests, remove) and, for an
#: existing project, the hooks that stop what this run started there.
OPTIMIZATION_HOOKS = cleanup_hooks(before_removal=[_before_removal])
for _state in ("on_failure", "on_cancellation", "on_crashed"):
    OPTIMIZATION_HOOKS[_state] = [*OPTIMIZATION_HOOKS[_state],
                                  abort_optimizations_in_existing_project,
                                  stop_backtests_in_existing_project]


def _outcome(error: BaseException) -> Outcome:
    if isinstance(error, CostGuardError):
        return "over budget"
    if isinstance(error, RegressionError):
        return "regression"
    if isinstance(error, OptimizationDeadlineError | BacktestDeadlineError):
        return "timed out"
    if isinstance(error, OptimizationAbortedError):
        return "aborted"
    if isinstance(error, anyio.get_cancelled_exc_class()):
        return "cancelled"
    return "failed"


def _parameters(options: OptimizeOptions) -> list[dict[str, Any]]:
    """The service's parameters: the ranges, then the fixed ones as static values."""
    ranges: list[dict[str, Any]] = [
        {"name": p.name, "min": p.min, "max": p.max, "step": p.step} for p in options.parameters
    ]
    return ranges + [{"name": k, "value": str(v)} for k, v in options.fixed.items()]


def _row(backtest: OptimizationBacktest, options: OptimizeOptions,
         optimization: Optimization) -> PointRow:
    values = {name: parse_number(backtest.parameter_set.get(name)) for name in
              (p.name for p in options.parameters)}
    target = backtest.target_number(options.target)
    if not backtest.succeeded or target is None:
        status = "failed"
    elif not all(backtest.meets(c) for c in optimization.constraints):
        status = "filtered"
    else:
        status = "ok"
    return PointRow(
        parameters={k: v for k, v in values.items() if v is not None},
        backtest_id=backtest.id,
        target=target,
        sharpe=backtest.statistic("Sharpe Ratio"),
        net_profit=backtest.statistic("Net Profit"),
        drawdown=backtest.statistic("Drawdown"),
        orders=backtest.statistic("Total Orders"),
        status=status,
    )


async def _reference(creds: QuantConnectCredentials, project_id: int, compile_id: str,
                     options: OptimizeOptions, run_id: str, label: str) -> PointRow:
    """One backtest of the fixed parameters (QuantConnect's estimate wants one)."""
    start, wait = options.retries.bind(start_backtest, wait_for_backtest)
    started = await start(creds, project_id, compile_id,
                                        backtest_name(run_id, "reference"), dict(options.fixed))
    try:
        done = await wait(creds, project_id, started.backtest_id,
                          timeout=options.timeout_minutes * 60)
    except WaitTimeoutError as error:
        raise BacktestDeadlineError(f"The reference backtest of {label} did not finish within "
                                    f"{options.timeout_minutes:g} min") from error
    numbers = done.statistics.numbers() if done.statistics else {}
    statistic = TARGET_STATISTICS[options.target]
    value = numbers.get(statistic)
    # The optimizer's statistics hold percentages in percent; a backtest's numbers as fractions.
    if value is not None and options.target != "SharpeRatio":
        value *= 100
    return PointRow(backtest_id=done.backtest_id, target=value,
                    sharpe=numbers.get("Sharpe Ratio"), status="ok")


async def _optimize(creds: QuantConnectCredentials, project_id: int, compile_id: str, name: str,
                    options: OptimizeOptions, report: OptimizationReport) -> None:
    """Create, wait, and on any exit before the end abort: an optimization bills while it runs."""
    start, wait = options.retries.bind(start_optimization, wait_for_optimization)
    assert report.cost is not None
    log = get_run_logger()
    finished: Optimization | None = None
    job_id: str | None = None
    started = time.monotonic()
    # One deadline for the whole wait: a task retry of the wait gets what is left, not a new one.
    deadline = time.time() + options.timeout_minutes * 60
    attempted = False
    try:
        attempted = True  # from here the service may hold an optimization, even unanswered
        job = await start(
            creds, project_id, compile_id, name, _parameters(options), target=options.target,
            target_to=options.target_to, target_value=options.target_value,
            constraints=[{"target": c.target, "operator": c.operator, "targetValue": c.value}
                         for c in options.constraints],
            node_type=options.node_type, parallel_nodes=options.parallel_nodes,
            estimated_cost=report.cost.dollars,
        )
        job_id = report.optimization_id = job.optimization_id
        try:
            finished = await wait(
                creds, job.optimization_id, timeout=options.timeout_minutes * 60,
                progress_key=f"{options.artifact_key}-progress", deadline=deadline,
            )
        except WaitTimeoutError as error:
            raise OptimizationDeadlineError(
                f"Optimization {job.optimization_id} did not finish within "
                f"{options.timeout_minutes:g} min") from error
    finally:
        if attempted and (finished is None or not finished.finished):
            if job_id is None:
                # The create's answer was lost: one may run all the same; it is found by name.
                report.optimization_id = "unknown (the create may have taken effect)"
            client = creds.get_client()
            aborted, failure = await run_cleanup(
                lambda: abort_running_optimizations(client, project_id, name),
                f"could not abort optimization {job_id or name!r}",
            )
            report.cleanup.extend(f"aborted optimization {a}" for a in aborted or [])
            if failure is not None:
                report.cleanup.append(failure)
                log.warning("Clean-up: %s", failure)
    report.seconds = time.monotonic() - started
    report.status = finished.status
    report.runtime = dict(finished.runtime_statistics)
    report.rows = [_row(b, options, finished) for b in finished.backtests.values()]
    ok = report.ranked()
    report.best = ok[0] if ok and ok[0].status == "ok" else None
    log.info("Optimization %s %s: %d point(s), best %s", finished.optimization_id,
             finished.status, len(report.rows),
             report.best.parameters if report.best else "none")
    if (finished.status or "").strip().lower() == "aborted":
        done, total = finished.progress
        raise OptimizationAbortedError(
            f"Optimization {finished.optimization_id} was aborted outside this run: "
            f"{done} of {total or report.cost.backtests} point(s) ran, so the best of them is "
            "not the grid's best")


async def _verify(creds: QuantConnectCredentials, project_id: int, compile_id: str,
                  options: OptimizeOptions, report: OptimizationReport, label: str) -> None:
    """Backtest the best point as a normal backtest and, if asked, gate it."""
    assert report.best is not None and report.flow_run_id is not None
    start, wait = options.retries.bind(start_backtest, wait_for_backtest)
    parameters: dict[str, Any] = {**options.fixed, **report.best.parameters}
    started = await start(creds, project_id, compile_id,
                          backtest_name(report.flow_run_id, "best"), parameters)
    report.best_backtest_id = started.backtest_id
    done = await wait(creds, project_id, started.backtest_id,
                      timeout=options.timeout_minutes * 60)
    if options.gate is None or not options.gate.active:
        return
    result = await run_gate(
        done.statistics.numbers() if done.statistics else {}, options.gate, label,
        flow_run_id=report.flow_run_id, backtest_id=done.backtest_id,
        parameters={k: v for k, v in parameters.items()}, simulated=report.simulated,
    )
    report.gate_passed = result.passed
    if not result.passed and options.gate.fail_run:
        raise RegressionError(result, None)


@flow(**IN_MEMORY_RESULTS, name="optimize-strategy", **OPTIMIZATION_HOOKS)
async def optimize_strategy(
    options: OptimizeOptions = DEFAULT_OPTIMIZATION,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> OptimizationReport:
    """Optimize a strategy's parameters on QuantConnect's optimizer within a cost bound.

    Args:
        options: What to vary, the target, the nodes, the cost bound and the deadline.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        The typed report (also the markdown artifact ``options.artifact_key``).

    Raises:
        StrategyFolderError: The folder cannot be uploaded (before any request).
        BuildError: The strategy did not compile.
        CostGuardError: The estimate is above the bound (nothing was started).
        OptimizationDeadlineError: Not finished by the deadline (it was aborted).
        RegressionError: The best point's backtest failed the gate.
    """
    setup = await prepare_run(options.strategy, credentials, credentials_block)
    log = get_run_logger()
    creds = setup.creds
    report = OptimizationReport(
        strategy=setup.label, target=options.target, target_to=options.target_to,
        target_value=options.target_value,
        parameter_names=[p.name for p in options.parameters], simulated=setup.simulated,
        flow_run_id=setup.run_id,
    )
    build, estimate_job = options.retries.bind(compile_project, estimate_optimization)
    try:
        async with strategy_project(creds, options.strategy, setup.strategy, options.retries,
                                    report.cleanup, setup.run_id) as project_id:
            report.project_id = project_id
            built = await build(creds, project_id, timeout=options.compile_timeout_seconds)
            report.compile_id = built.compile_id
            if options.reference_backtest:
                report.reference = await _reference(creds, project_id, built.compile_id,
                                                    options, setup.run_id, setup.label)
            name = optimization_name(setup.run_id, setup.label)
            estimate = await estimate_job(
                creds, project_id, name, _parameters(options), target=options.target,
                target_to=options.target_to, target_value=options.target_value,
                compile_id=built.compile_id, node_type=options.node_type,
                parallel_nodes=options.parallel_nodes,
            )
            if estimate.time is None:
                # Without a time the formula would price only the deployment overhead: no guard.
                report.refused = ["the estimate gave no time, so its cost is unknown"]
                raise CostGuardError("The optimization was not started: the estimate gave no "
                                     "time, so its cost cannot be bounded")
            report.cost = estimate_cost(estimate.time, options.points(),
                                        options.node_type, options.parallel_nodes,
                                        estimate.balance)
            report.refused = report.cost.over(options.guard.max_node_hours,
                                              options.guard.max_dollars)
            if report.refused:
                raise CostGuardError("The optimization was not started: "
                                     + "; ".join(report.refused))
            log.info("Estimate within the guard: %d backtests, %g node-hours, $%.2f on %d x %s",
                     report.cost.backtests, report.cost.node_hours, report.cost.dollars,
                     report.cost.parallel_nodes, report.cost.node_type)
            await _optimize(creds, project_id, built.compile_id, name, options, report)
            if options.verify_best and report.best is not None:
                await _verify(creds, project_id, built.compile_id, options, report, setup.label)
        report.outcome = "completed" if report.gate_passed is not False else "regression"
    except BaseException as error:
        report.outcome = _outcome(error)
        report.error = (None if isinstance(error, anyio.get_cancelled_exc_class())
                        else f"{type(error).__name__}: {error}")
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await acreate_markdown_artifact(
                markdown=report.to_markdown(), key=options.artifact_key,
                description=f"Optimization of {report.strategy} ({report.outcome})",
            )
    if any(c.startswith("could not") for c in report.cleanup):
        raise CleanupError("an optimization of this run may still run: "
                           + "; ".join(report.cleanup))
    return report
