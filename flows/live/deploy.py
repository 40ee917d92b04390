"""``deploy-live``: put a strategy live — after the gate, paper unless real money is asked twice.

1. The form is checked first: a real-money brokerage needs ``confirm_real_money: true`` and a
   Secret block with its credentials (:mod:`flows.live.forms`); the block is read before any
   QuantConnect request, so a missing one costs nothing. The credentials never become a
   parameter, a log line, an artifact or a result.
2. The project: an existing one, or for a strategy folder the project named
   ``live_project_name`` (default ``Live/<folder>``), created if missing and **kept** (a live
   algorithm lives in its project); the folder's files are uploaded after step 3's check.
   One run at a time finds or creates a project of that name (:func:`flows.live.lock.name_lock`):
   two runs of one folder at once make one project, and step 3 then holds its slot.
3. Runs for one project are serialised (:mod:`flows.live.lock`): from the conflict check to
   the deploy running, one run at a time holds the project. A run refuses if the project's
   live algorithm changed while it waited, or (with ``replace``) if another run deployed it
   after this one began: two runs at once start at most one algorithm. If the project already
   has a live algorithm that has not ended, the run refuses unless the form says
   ``replace: true``.
4. Compile; unless ``gate_backtest: false``, backtest and run the regression gate, and deploy
   **only if the backtest completed and the gate passed** (this run's backtests that still run
   are deleted on any exit).
5. With ``replace``: before the compile, what the new deploy needs is checked (the node exists
   and is free or held by the old algorithm, a free node exists, the brokerage is valid), so
   a deploy that would be refused never stops the old one; after the gate, the old algorithm
   is stopped (or liquidated) only if it is still the one checked, and the run waits until it
   has ended.
6. Deploy (the task adopts a deploy whose answer was lost, never deploying twice), wait until
   the algorithm runs; a deploy that fails or is not running by the deadline fails the run
   with its last log lines.

A report artifact says first, in plain words, whether the algorithm trades real money.

Example:
    >>> from flows.live.deploy import deploy_live_flow
    >>> deploy_live_flow.name
    'deploy-live'
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.blocks.system import Secret
from prefect.context import FlowRunContext

from flows.backtests.forms import StrategyChoice
from flows.backtests.gate import RegressionError, run_gate
from flows.backtests.pipeline import BacktestDeadlineError, prepare_run, strategy_project
from flows.common.session import IN_MEMORY_RESULTS
from flows.live.forms import DeployLiveOptions
from flows.live.lock import deployed_since, name_lock, name_lock_name, project_lock, record_deploy
from flows.live.report import DeployReport, Outcome
from quantconnect_client import Brokerage, ConfigurationError, QuantConnectClient
from quantconnect_client.errors import BacktestRuntimeError, WaitTimeoutError
from quantconnect_client.live import RESERVED_KEYS, latest_running, validate_brokerage
from quantconnect_client.models.live import LiveAlgorithmSummary
from tasks.backtests import (
    backtest_name,
    compile_project,
    start_backtest,
    upload_strategy,
    wait_for_backtest,
)
from tasks.credentials import QuantConnectCredentials
from tasks.live import (
    deploy_live,
    liquidate_live,
    list_live,
    live_nodes,
    read_live,
    read_live_logs,
    stop_live,
    wait_for_live,
)
from tasks.projects import create_project

#: Log lines a failed deploy's report shows.
LOG_TAIL = 20
#: What a deployment runs unless told otherwise: the Python example, gated, paper trading.
DEFAULT_DEPLOY = DeployLiveOptions()


class LiveConflictError(RuntimeError):
    """The project already has a live algorithm and the form did not say ``replace``."""


class LiveDeployError(RuntimeError):
    """The live algorithm did not reach ``Running`` (the report holds its last log lines)."""


async def load_brokerage(options: DeployLiveOptions) -> Brokerage:
    """The brokerage the form names, with its credentials read from the Secret block.

    Raises:
        ConfigurationError: The block is missing or holds no JSON object of text values (its
            content never appears in the message).
    """
    if options.is_paper:
        return Brokerage()
    assert options.brokerage_secret_block is not None  # the form guarantees it
    name = options.brokerage_secret_block
    try:
        block: Secret[Any] = await Secret.aload(name)  # type: ignore[misc]
    except ValueError:
        raise ConfigurationError(f"No Secret block named {name!r}: create it with the "
                                 "brokerage's keys as a JSON object") from None
    value: Any = block.get()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ConfigurationError(f"Secret block {name!r} must hold a JSON object of the "
                                 "brokerage's keys")
    reserved = sorted(k for k in value if k.strip().lower() in RESERVED_KEYS)
    if reserved:
        raise ConfigurationError(f"Secret block {name!r} holds reserved keys "
                                 f"({', '.join(reserved)}): only the brokerage's credentials "
                                 "belong there")
    return Brokerage(id=options.brokerage,
                     credentials={k: v if isinstance(v, str) else json.dumps(v)
                                  for k, v in value.items()})


async def _project(creds: QuantConnectCredentials, options: DeployLiveOptions,
                   client: QuantConnectClient, setup: Any) -> int:
    """The project to put live: the form's, or the folder's kept project (found or created)."""
    if setup.strategy is None:
        return int(options.strategy.project_id)  # type: ignore[arg-type]
    (create,) = options.retries.bind(create_project)
    name = options.live_project_name or f"Live/{setup.strategy.name}"
    language = setup.strategy.language
    settings = creds.to_settings()
    # The project's slot cannot serialise this step (there is no project id yet): two runs of
    # one folder would each find nothing and each create a project, then deploy twice. One
    # run at a time finds or creates it; the next finds it.
    slot = name_lock_name(settings.base_url, creds.user_id, language, name)
    async with name_lock(slot, _lock_wait_seconds(options)):
        found = [p for p in await anyio.to_thread.run_sync(client.projects.find_by_name, name)
                 if p.language == language]
        if found:
            return min(p.project_id for p in found)
        return (await create(creds, name, language)).project_id


async def _upload(creds: QuantConnectCredentials, options: DeployLiveOptions, project_id: int,
                  setup: Any) -> None:
    """Write the folder's files into the project (after the conflict check: a refused run
    leaves the running algorithm's project as it was)."""
    if setup.strategy is None:
        return
    (upload,) = options.retries.bind(upload_strategy)
    written = await upload(
        creds, project_id, {f.name: f.content for f in setup.strategy.files})
    get_run_logger().info("Project %s: uploaded %s", project_id,
                          ", ".join(written) or "nothing (the files were up to date)")


async def _gate(creds: QuantConnectCredentials, options: DeployLiveOptions, project_id: int,
                compile_id: str, report: DeployReport, run_id: str) -> None:
    """Backtest and gate; raises unless the backtest completed and the gate passed."""
    start, wait = options.retries.bind(start_backtest, wait_for_backtest)
    started = await start(creds, project_id, compile_id, backtest_name(run_id, "live gate"),
                          dict(options.parameters))
    report.backtest_id = started.backtest_id
    try:
        done = await wait(creds, project_id, started.backtest_id,
                          timeout=options.backtest_timeout_minutes * 60)
    except WaitTimeoutError as error:
        raise BacktestDeadlineError(f"The gate's backtest did not finish within "
                                    f"{options.backtest_timeout_minutes:g} min") from error
    numbers = done.statistics.numbers() if done.statistics else {}
    if not any(value is not None for value in numbers.values()):
        # Nothing to judge is not a pass.
        raise BacktestRuntimeError(f"The gate's backtest {done.backtest_id} completed without "
                                   "statistics; nothing was deployed",
                                   backtest_id=done.backtest_id)
    report.gate = await run_gate(
        numbers, options.gate, report.strategy,
        flow_run_id=run_id, backtest_id=done.backtest_id, parameters=dict(options.parameters),
        simulated=report.simulated,
    )
    if not report.gate.passed:
        # Whatever ``fail_run`` says: a deploy is never made past a failed gate.
        raise RegressionError(report.gate, report)


async def _check_replace(creds: QuantConnectCredentials, options: DeployLiveOptions,
                         project_id: int, brokerage: Brokerage) -> None:
    """Refuse a replace that would be refused after the old algorithm was stopped: an unknown
    or busy node, no node at all, a brokerage the client would refuse."""
    validate_brokerage(brokerage)
    (read_nodes,) = options.retries.bind(live_nodes)
    nodes = await read_nodes(creds, project_id)
    # The node the old algorithm holds is freed by the stop, so it counts as free.
    usable = [n for n in nodes if not n.has_gpu and (not n.busy or n.project_id == project_id)]
    if options.node_id is not None:
        node = next((n for n in nodes if n.id == options.node_id), None)
        if node is None:
            raise LiveConflictError(
                f"Live node {options.node_id!r} is not one of the organization's live nodes "
                f"({', '.join(n.id for n in nodes) or 'none'}); nothing was stopped")
        if node not in usable:
            raise LiveConflictError(
                f"Live node {options.node_id!r} is busy with another project; nothing was "
                "stopped")
    elif not usable:
        raise LiveConflictError("No live node would be free for the new deploy; nothing was "
                                "stopped")


async def _replace(creds: QuantConnectCredentials, options: DeployLiveOptions, project_id: int,
                   current: LiveAlgorithmSummary, report: DeployReport) -> None:
    """Stop (or liquidate) the old algorithm and wait until it reads as ended."""
    list_algorithms, stop, read = options.retries.bind(list_live, stop_live, read_live)
    log = get_run_logger()
    # Gating took minutes: stop only the deployment that was checked, not one another run
    # has made since.
    now = latest_running(await list_algorithms(creds, project_id))
    if now is not None and now.deploy_id != current.deploy_id:
        raise LiveConflictError(
            f"Project {project_id}'s live algorithm changed while this run was gating "
            f"({current.deploy_id} -> {now.deploy_id}); nothing was stopped")
    if now is not None:
        # Never retried by a task: a liquidation whose answer was lost is not sent again.
        await (liquidate_live if options.liquidate_replaced else stop)(creds, project_id)
    with anyio.fail_after(options.deploy_timeout_minutes * 60):
        while not (await read(creds, project_id, current.deploy_id)).ended:
            await anyio.sleep(2)
    report.replaced = current.deploy_id
    log.info("Replaced live algorithm %s of project %s (%s)", current.deploy_id, project_id,
             "liquidated" if options.liquidate_replaced else "stopped")


async def _log_tail(creds: QuantConnectCredentials, options: DeployLiveOptions, project_id: int,
                    deploy_id: str) -> list[str]:
    """The deployment's last log lines for the report (none if they cannot be read: the
    report must still say what happened)."""
    try:
        (read_logs,) = options.retries.bind(read_live_logs)
        logs = await read_logs(creds, project_id, deploy_id)
    except Exception as error:  # the report matters more than the tail
        get_run_logger().warning("Could not read the logs of %s: %s", deploy_id, error)
        return []
    return list(logs.logs[-LOG_TAIL:])


def _deploy_id(algorithm: LiveAlgorithmSummary | None) -> str | None:
    return None if algorithm is None else algorithm.deploy_id


def _run_created() -> datetime | None:
    """When this flow run was created, on the Prefect server's clock (None outside a run)."""
    context = FlowRunContext.get()
    return None if context is None or context.flow_run is None else context.flow_run.created


def _run_id() -> UUID | None:
    """This flow run's id (None outside a run)."""
    context = FlowRunContext.get()
    return None if context is None or context.flow_run is None else context.flow_run.id


def _lock_wait_seconds(options: DeployLiveOptions) -> float:
    """How long a run waits for the project's slot: as long as another run may hold it (its
    compile, gate, replace and deploy deadlines), and a minute more."""
    return (options.compile_timeout_seconds + 60
            + (options.backtest_timeout_minutes + 2 * options.deploy_timeout_minutes) * 60)


def _outcome(error: BaseException) -> Outcome:
    if isinstance(error, LiveConflictError):
        return "refused"
    if isinstance(error, (RegressionError, BacktestRuntimeError)):
        return "regression"
    if isinstance(error, LiveDeployError):
        return "deploy failed"
    if isinstance(error, (WaitTimeoutError, BacktestDeadlineError, TimeoutError)):
        return "timed out"
    if isinstance(error, anyio.get_cancelled_exc_class()):
        return "cancelled"
    return "failed"


@flow(**IN_MEMORY_RESULTS, name="deploy-live")
async def deploy_live_flow(
    options: DeployLiveOptions = DEFAULT_DEPLOY,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> DeployReport:
    """Deploy a strategy as a live algorithm after the gate (paper trading by default).

    Args:
        options: What to deploy, where, the brokerage and the guards.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        The typed report (also the markdown artifact ``options.artifact_key``).

    Raises:
        ConfigurationError: The brokerage's Secret block is missing or unusable (before any
            request).
        LiveConflictError: The project has a live algorithm and ``replace`` is off.
        BuildError: The strategy did not compile.
        RegressionError: The gate's backtest failed or regressed (nothing was deployed).
        LiveDeployError: The algorithm did not reach ``Running``.
    """
    log = get_run_logger()
    report = DeployReport(strategy="?", brokerage=options.brokerage, paper=options.is_paper)
    try:
        brokerage = await load_brokerage(options)
        setup = await prepare_run(options.strategy, credentials, credentials_block)
        creds = setup.creds
        report.strategy, report.simulated = setup.label, setup.simulated
        report.flow_run_id = setup.run_id
        log.info("deploy-live of %s: %s", setup.label, report.money)
        list_algorithms, build, deploy, wait = options.retries.bind(
            list_live, compile_project, deploy_live, wait_for_live)
        client = creds.get_client()
        project_id = report.project_id = await _project(creds, options, client, setup)
        # Read before waiting for the project's slot: what this run decided to deploy over.
        seen = latest_running(await list_algorithms(creds, project_id))
        async with project_lock(project_id, _lock_wait_seconds(options)):
            current = latest_running(await list_algorithms(creds, project_id))
            if _deploy_id(current) != _deploy_id(seen):
                # Another run deployed while this one waited: replacing its fresh algorithm
                # would start a second one for the same request.
                raise LiveConflictError(
                    f"Project {project_id}'s live algorithm changed while this run waited for "
                    f"the project ({_deploy_id(seen) or 'none'} -> "
                    f"{_deploy_id(current) or 'none'}); nothing was deployed or stopped")
            if current is not None and await deployed_since(project_id, current.deploy_id,
                                                            _run_created()):
                raise LiveConflictError(
                    f"Project {project_id}'s live algorithm {current.deploy_id} was deployed "
                    "by another run after this one began; it is not replaced and nothing was "
                    "deployed")
            if current is not None and not options.replace:
                raise LiveConflictError(
                    f"Project {project_id} already has a live algorithm ({current.deploy_id}, "
                    f"{current.status}); set replace: true to stop it and deploy this one")
            if current is not None:
                await _check_replace(creds, options, project_id, brokerage)
            await _upload(creds, options, project_id, setup)
            choice = StrategyChoice(strategy_folder=None, project_id=project_id)
            async with strategy_project(creds, choice, None, options.retries, report.cleanup,
                                        setup.run_id):
                built = await build(creds, project_id, timeout=options.compile_timeout_seconds)
                report.compile_id = built.compile_id
                if options.gate_backtest:
                    await _gate(creds, options, project_id, built.compile_id, report, setup.run_id)
            if current is not None:
                await _replace(creds, options, project_id, current, report)
            # Task retries are safe: the client raises a non-retryable error after a lost answer.
            deployed = await deploy(
                creds, project_id, built.compile_id, node_id=options.node_id, brokerage=brokerage,
                parameters={k: str(v) for k, v in options.parameters.items()},
                automatic_redeploy=options.automatic_redeploy,
                confirm_seconds=options.lost_answer_seconds,
            )
            report.deploy_id = deployed.deploy_id
            await record_deploy(project_id, deployed.deploy_id, _run_id())
            try:
                reached = await wait(creds, project_id, deployed.deploy_id,
                                     timeout=options.deploy_timeout_minutes * 60)
            except WaitTimeoutError:
                report.status = "still deploying"
                report.message = (f"Live algorithm {deployed.deploy_id} was still deploying after "
                                  f"{options.deploy_timeout_minutes:g} min; it was NOT stopped: "
                                  "check it before deploying again")
                report.logs = await _log_tail(creds, options, project_id, deployed.deploy_id)
                raise
            report.status, report.message = reached.status, reached.message or None
            report.node_id = reached.deployment_details.get("node") or options.node_id
            if (reached.status or "").lower() != "running":
                report.logs = await _log_tail(creds, options, project_id, deployed.deploy_id)
                raise LiveDeployError(f"Live algorithm {deployed.deploy_id} ended "
                                      f"{reached.status}: {reached.message or 'no message'}")
            report.outcome = "running"
            log.info("Live algorithm %s of project %s is running: %s", deployed.deploy_id,
                     project_id, report.money)
    except BaseException as error:
        report.outcome = _outcome(error)
        report.error = (None if isinstance(error, anyio.get_cancelled_exc_class())
                        else f"{type(error).__name__}: {error}")
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await acreate_markdown_artifact(
                markdown=report.to_markdown(), key=options.artifact_key,
                description=f"Live deploy of {report.strategy} ({report.outcome}, "
                f"{report.money})",
            )
    return report


__all__ = ["LiveConflictError", "LiveDeployError", "deploy_live_flow", "load_brokerage"]
