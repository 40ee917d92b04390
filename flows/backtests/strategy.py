"""The ``backtest-strategy`` flow (push a strategy, compile, backtest, report, gate) and the
``regression-gate`` flow (gate a backtest that already ran).

A strategy folder of the checkout is checked locally first (nothing is uploaded if the service
would refuse any of it), then goes into a temporary project (``flows.common.temporary``: named
``<prefix><flow run id>``, removed whatever ends the run); an existing cloud project is
backtested as it is and never deleted. Whatever ends the run — success, build error, runtime
error, the deadline, a cancellation, a crash — a backtest the run started that is still running
is deleted first (it holds one of the account's few nodes for up to 12 hours), then the
temporary project goes with its backtests.

With ``options.object_store``, a local data folder is published under a key prefix first (the
``sync-object-store`` flow's steps: unchanged files are not sent, nothing is deleted unless
asked), so the backtest reads the data that goes with the strategy; the folder is checked with
the strategy's before any request, and the report lists what the sync changed.

Example:
    >>> import asyncio
    >>> from flows.backtests.strategy import backtest_strategy
    >>> report = asyncio.run(backtest_strategy())  # QC_* credentials  # doctest: +SKIP
    >>> report.statistics["Sharpe Ratio"]  # doctest: +SKIP
    '0.19'
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import json
import time
from collections.abc import Mapping
from typing import Any

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run as current_flow_run

from flows.backtests.charts import equity_svg, svg_markdown_image
from flows.backtests.forms import (
    BacktestOptions,
    GateRunOptions,
    JobLimits,
    ReportOptions,
    StrategyData,
)
from flows.backtests.gate import GateOptions, GateResult, RegressionError, check_baseline, run_gate
from flows.backtests.pipeline import (
    BACKTEST_HOOKS,
    BacktestDeadlineError,
    outcome_of,
    prepare_run,
    strategy_project,
)
from flows.backtests.report import (
    MAX_LISTED_SYNC_CHANGES,
    MAX_READ_INSIGHTS,
    BacktestReport,
    InsightSummary,
    backtest_link,
    is_real_service,
)
from flows.common.credentials import resolve_credentials
from flows.common.options import RetryOptions
from flows.common.session import IN_MEMORY_RESULTS
from flows.common.side_by_side import side_by_side
from flows.objectstore.folder import LocalFiles, collect_files
from flows.objectstore.report import SyncReport
from flows.objectstore.sync import publish_files
from quantconnect_client import QuantConnectError, ValidationError
from quantconnect_client.backtests import runtime_error
from quantconnect_client.errors import (
    BacktestResultsIncompleteError,
    BacktestRuntimeError,
    BuildError,
)
from quantconnect_client.excerpt import excerpt
from quantconnect_client.models import Backtest
from quantconnect_client.parameters import lean_text
from tasks.backtests import (
    backtest_name,
    compile_project,
    delete_backtest,
    read_backtest,
    read_equity,
    read_insights,
    start_backtest,
    wait_for_backtest,
)
from tasks.credentials import QuantConnectCredentials


def _describe(error: BaseException) -> str:
    """The report's one-line error (the gate's verdict has its own section with the table)."""
    if isinstance(error, anyio.get_cancelled_exc_class()):
        return "the run was cancelled (or reached its flow timeout)"
    if isinstance(error, RegressionError):
        worse = sorted({finding.statistic for finding in error.result.findings})
        return (f"RegressionError: the regression gate found {len(error.result.findings)} "
                f"regression(s) ({', '.join(worse)}); the verdict is below")
    return f"{type(error).__name__}: {error}"


def fill_results(report: BacktestReport, backtest: Backtest) -> None:
    """Copy what a person reads from a backtest into the report."""
    report.status = backtest.status
    if backtest.backtest_start and backtest.backtest_end:
        report.period = f"{backtest.backtest_start:%Y-%m-%d} to {backtest.backtest_end:%Y-%m-%d}"
    report.statistics = dict(backtest.statistics.raw) if backtest.statistics else {}
    report.runtime_statistics = (
        dict(backtest.runtime_statistics.raw) if backtest.runtime_statistics else {}
    )


def check_data(
    data: StrategyData | None, creds: QuantConnectCredentials
) -> LocalFiles | None:
    """The files of the data folder to sync, checked before any request (None: no sync).

    Raises:
        SyncFolderError: The folder is missing or cannot be synced as it is.
        ValidationError: Neither the form nor the credentials name an organization.
    """
    if data is None:
        return None
    local = collect_files(data.folder, data.prefix, max_bytes=data.max_bytes)
    if not (data.organization_id or creds.organization_id):
        raise ValidationError("object_store needs an organization id: give "
                              "object_store.organization_id or set it in the credentials")
    return local


async def sync_data(
    creds: QuantConnectCredentials,
    data: StrategyData,
    local: LocalFiles,
    report: BacktestReport,
    retries: RetryOptions,
) -> SyncReport:
    """Publish the checked data folder (the ``sync-object-store`` flow's steps) and say in the
    report what changed; a failed key fails the run before the backtest is created."""
    synced = await publish_files(creds, data.sync_options(retries), local)
    report.object_store = synced.summary()
    changed = [item for item in synced.items if item.action in ("uploaded", "deleted")]
    report.object_store_changes = [
        f"{item.action} {item.key}" + (f" ({item.reason})" if item.reason else "")
        for item in changed[:MAX_LISTED_SYNC_CHANGES]
    ]
    if len(changed) > MAX_LISTED_SYNC_CHANGES:
        report.object_store_changes.append(
            f"and {len(changed) - MAX_LISTED_SYNC_CHANGES} more (see the sync's table artifact)"
        )
    return synced


async def insight_summary(
    creds: QuantConnectCredentials, project_id: int, backtest_id: str, retries: RetryOptions
) -> InsightSummary | None:
    """The report's insights (None: none, or none readable). As the chart: a read that fails
    does not fail the run, the statistics matter more."""
    try:
        (read,) = retries.bind(read_insights)
        insights = await read(creds, project_id, backtest_id)
    except QuantConnectError as error:
        get_run_logger().warning("No insights: %s",
                                 excerpt(str(error), whole="the insights read's exception"))
        return None
    if not insights:
        return None  # the report then has no Insights section
    return InsightSummary.of(insights, capped=len(insights) >= MAX_READ_INSIGHTS)


async def equity_chart(
    creds: QuantConnectCredentials,
    project_id: int,
    backtest_id: str,
    options: ReportOptions,
    retries: RetryOptions,
    backtest: Backtest | None = None,
) -> str | None:
    """The equity curve as a markdown image, or None (no chart wanted, or none to draw). A
    chart that cannot be read does not fail the run: the statistics matter more. ``backtest``
    (the completed read) gives the request its period."""
    if not options.chart:
        return None
    try:
        (read,) = retries.bind(read_equity)
        points = await read(creds, project_id, backtest_id, backtest=backtest)
    except QuantConnectError as error:
        get_run_logger().warning("No equity chart: %s",
                                 excerpt(str(error), whole="the chart read's exception"))
        return None
    if len(points) < 2:
        return None
    svg = equity_svg(points, drawdown=options.drawdown, max_points=options.max_chart_points)
    return svg_markdown_image(svg, "Equity curve")


async def gate_results(
    report: BacktestReport, backtest: Backtest, gate: GateOptions | None, strategy_key: str
) -> GateResult | None:
    """Run the gate on a backtest's numbers into the report; the caller raises on a regression
    (after publishing the report)."""
    if gate is None or not gate.active:
        return None
    numbers = backtest.statistics.numbers() if backtest.statistics else {}
    result = await run_gate(
        numbers,
        gate,
        strategy_key,
        flow_run_id=report.flow_run_id,
        backtest_id=backtest.backtest_id,
        parameters=report.parameters,
        simulated=report.simulated,
    )
    report.gate = result
    get_run_logger().info("Regression gate %s", "passed" if result.passed else "found a regression")
    return result


async def _backtest_in(
    creds: QuantConnectCredentials,
    project_id: int,
    report: BacktestReport,
    options: BacktestOptions,
) -> tuple[Backtest, str | None]:
    """Compile, start, wait, read; at the deadline, delete the backtest and say so."""
    compile_, start, delete = options.retries.bind(compile_project, start_backtest,
                                                   delete_backtest)
    limits: JobLimits = options.limits
    built = await compile_(creds, project_id, timeout=limits.compile_timeout_seconds)
    report.compile_id = built.compile_id
    name = report.backtest_name or backtest_name(str(report.flow_run_id))
    backtest = await start(creds, project_id, built.compile_id, name, report.parameters)
    report.backtest_id = backtest.backtest_id
    deadline = limits.backtest_timeout_minutes * 60
    try:
        finished, chart = await _results_and_chart(creds, project_id, backtest.backtest_id,
                                                   deadline, options)
    except BacktestResultsIncompleteError as error:
        if error.completed:
            raise  # it ran to the end; only its final results are late: nothing to stop
        deleted = await delete(creds, project_id, backtest.backtest_id)
        report.cleanup.append(f"deleted backtest {backtest.backtest_id} at the deadline")
        raise BacktestDeadlineError(
            f"Backtest {backtest.backtest_id} did not finish within "
            f"{limits.backtest_timeout_minutes:g} min; it was "
            + ("deleted (a running backtest holds a node)." if deleted else "already gone.")
        ) from error
    except BacktestRuntimeError as error:
        report.stacktrace = error.stacktrace
        if error.backtest is not None:
            report.status = error.backtest.status
        raise
    fill_results(report, finished)
    report.insights = await insight_summary(creds, project_id, finished.backtest_id,
                                            options.retries)
    return finished, chart


async def _results_and_chart(
    creds: QuantConnectCredentials,
    project_id: int,
    backtest_id: str,
    deadline: float,
    options: BacktestOptions,
) -> tuple[Backtest, str | None]:
    """Wait for the backtest's final results; read its equity chart meanwhile.

    The service fills results in stages: the chart needs only a completed backtest, so it is
    read as soon as a read shows it completed, while the wait goes on for ``totalPerformance``.
    A failure of the wait cancels the chart's read (a failed backtest has none to draw).
    """
    (wait,) = options.retries.bind(wait_for_backtest)
    completed = anyio.Event()
    seen: list[Backtest] = []  # the read that showed it completed: its period bounds the chart

    def on_completed(backtest: Backtest) -> None:
        seen[:] = [backtest]
        completed.set()

    async def results() -> Backtest:
        finished = await wait(creds, project_id, backtest_id, timeout=deadline,
                              on_completed=on_completed)
        seen[:] = seen or [finished]
        completed.set()  # in case no progress callback got through
        return finished

    async def chart_once_completed() -> str | None:
        await completed.wait()
        return await equity_chart(creds, project_id, backtest_id, options.report,
                                  options.retries, seen[0] if seen else None)

    return await side_by_side(results, chart_once_completed)


@flow(**IN_MEMORY_RESULTS, name="backtest-strategy", **BACKTEST_HOOKS)
async def backtest_strategy(
    options: BacktestOptions = BacktestOptions(),  # noqa: B008 - an immutable-by-use default
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> BacktestReport:
    """Backtest a strategy folder (in a temporary project) or an existing project; report it
    as a markdown artifact and, if asked, gate it.

    Args:
        options: What to run, its parameters, deadline, gate and report.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        The typed report (also the artifact ``options.report.artifact_key``).

    Raises:
        StrategyFolderError: The folder cannot be uploaded (before any request).
        SyncFolderError: ``options.object_store``'s folder cannot be synced (before any
            request).
        RuntimeError: Some keys of the Object Store sync failed (before the backtest).
        BuildError: The strategy did not compile (the logs are in the run's logs).
        BacktestRuntimeError: The algorithm failed (error, stack trace).
        BacktestDeadlineError: Not finished by the deadline (the backtest was deleted).
        RegressionError: The gate found a regression (and ``gate.fail_run``).
    """
    log = get_run_logger()
    clock = time.perf_counter()
    setup = await prepare_run(options.strategy, credentials, credentials_block)
    run_id, strategy, creds, choice = setup.run_id, setup.strategy, setup.creds, options.strategy
    gate_key = strategy.name if strategy else f"project-{setup.project_id}"
    data = check_data(options.object_store, creds)  # a bad data folder: refused before any request
    if options.gate is not None:
        await check_baseline(options.gate, gate_key, setup.simulated)  # before any request
    report = BacktestReport(
        strategy=setup.label,
        flow_run_id=run_id,
        language=strategy.language if strategy else None,
        source_digest=strategy.digest if strategy else None,
        project_id=setup.project_id,
        temporary_project=strategy is not None,
        backtest_name=backtest_name(run_id, options.backtest_name or ""),
        parameters=dict(options.parameters),
        simulated=setup.simulated,
    )
    chart: str | None = None
    try:
        if data is not None and options.object_store is not None:
            await sync_data(creds, options.object_store, data, report, options.retries)
        async with strategy_project(
            creds, choice, strategy, options.retries, report.cleanup, run_id
        ) as project_id:
            report.project_id = project_id
            finished, chart = await _backtest_in(creds, project_id, report, options)
            gate = await gate_results(report, finished, options.gate, gate_key)
            if options.delete_backtest and strategy is None:
                (delete,) = options.retries.bind(delete_backtest)
                await delete(creds, project_id, finished.backtest_id)
                report.cleanup.append(f"deleted backtest {finished.backtest_id} as asked")
        report.link = backtest_link(setup.base_url, report.project_id, report.backtest_id)
        if gate is not None and not gate.passed and options.gate and options.gate.fail_run:
            raise RegressionError(gate, report)
        report.outcome = "completed"
        return report
    except BaseException as error:
        report.outcome = outcome_of(error)
        report.error = _describe(error)
        if isinstance(error, BuildError):
            report.build_logs = list(error.logs)
        raise
    finally:
        with anyio.CancelScope(shield=True):
            report.seconds = round(time.perf_counter() - clock, 2)
            await acreate_markdown_artifact(
                markdown=report.to_markdown(chart),
                key=options.report.artifact_key,
                description=f"Backtest of {report.strategy} ({report.outcome})",
            )
        log.info("Backtest %s: %s", report.strategy, report.outcome)


def service_parameters(parameter_set: Mapping[str, Any]) -> dict[str, str]:
    """The service's ``parameterSet`` as text, whatever it holds: strings as they are, numbers
    as LEAN writes them, anything else (``true``, ``null``, an object) as JSON, so the gate's
    comparison and the saved baseline never fail on a value no form could send.

    Example:
        >>> service_parameters({"fast": 10.0, "name": "x", "on": True, "none": None})
        {'fast': '10', 'name': 'x', 'on': 'true', 'none': 'null'}
    """
    shown: dict[str, str] = {}
    for name, value in parameter_set.items():
        if isinstance(value, str):
            shown[str(name)] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            shown[str(name)] = lean_text(value)
        else:
            shown[str(name)] = json.dumps(value, default=str)
    return shown


@flow(**IN_MEMORY_RESULTS, name="regression-gate")
async def regression_gate(
    options: GateRunOptions,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> GateResult:
    """Gate a backtest that already ran (by project and backtest id) against thresholds and the
    strategy's baseline; fail the run with the table of what got worse.

    Raises:
        BacktestRuntimeError: The backtest failed (it is never gated).
        ValueError: The backtest has no final results yet.
        RegressionError: The gate found a regression (and ``gate.fail_run``).
    """
    creds = await resolve_credentials(credentials, credentials_block)
    base_url = creds.to_settings().base_url
    await check_baseline(options.gate, options.strategy_key, not is_real_service(base_url))
    (read,) = options.retries.bind(read_backtest)
    backtest = await read(creds, options.project_id, options.backtest_id)
    if backtest.failed:  # results_ready alone would pass a failed one that has statistics
        raise runtime_error(backtest)
    if not backtest.results_ready:
        raise ValueError(f"Backtest {options.backtest_id} has no final results yet "
                         f"({backtest.status}); gate it once it has finished.")
    report = BacktestReport(
        strategy=options.strategy_key,
        flow_run_id=str(current_flow_run.id or ""), project_id=options.project_id,
        backtest_id=backtest.backtest_id, backtest_name=backtest.name,
        simulated=not is_real_service(base_url),
        link=backtest_link(base_url, options.project_id, backtest.backtest_id),
    )
    fill_results(report, backtest)
    report.parameters = dict(service_parameters(backtest.parameter_set))  # what it ran with
    result = await gate_results(report, backtest, options.gate, options.strategy_key)
    assert result is not None  # GateRunOptions refuses a gate with nothing to do
    report.outcome = "completed" if result.passed else "regression"
    await acreate_markdown_artifact(
        markdown=report.to_markdown(), key=options.artifact_key,
        description=f"Regression gate of {options.strategy_key} ({report.outcome})",
    )
    if not result.passed and options.gate.fail_run:
        raise RegressionError(result, report)
    return result
