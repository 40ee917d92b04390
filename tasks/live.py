"""Thin Prefect tasks over the client's live-algorithm operations, one per operation.

Like the other tasks: a credentials block (never a token string), retries only for transient
failures, no caching. Real money can be at stake, so:

- :func:`deploy_live` never starts a second live algorithm for a project: the client refuses
  while one has not ended, and adopts a deploy whose answer was lost (a deployment that was
  not there before it) or else raises :class:`~quantconnect_client.live.DeployOutcomeUnknownError`,
  which is not retried; so a task retry only follows a failure that sent no create;
- its log says in plain words whether it deploys to paper trading or with real money;
- the brokerage is a :class:`~quantconnect_client.Brokerage`, whose credentials are secrets:
  Prefect's parameter rendering, logs and results show none of them;
- a command is never sent twice: :func:`send_live_command` and :func:`broadcast_live_command`
  are not retried (a lost answer fails the task; the command may have been delivered);
- a liquidation is never sent twice: :func:`liquidate_live` is not retried, and the client
  reads a lost answer's outcome instead of resending;
- a retried stop of an algorithm that has ended answers False, not a failure.

Example:
    >>> from prefect import flow
    >>> @flow
    ... async def go_live(credentials, project_id, compile_id):
    ...     deployed = await deploy_live(credentials, project_id, compile_id)
    ...     return await wait_for_live(credentials, project_id, deployed.deploy_id)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prefect import get_run_logger, task

from quantconnect_client import (
    Brokerage,
    LiveAlgorithm,
    LiveAlgorithmSummary,
    LiveChart,
    LiveInsights,
    LiveLogs,
    LiveOrders,
    Node,
    NotFoundError,
    Portfolio,
    QuantConnectClient,
    RequestRejectedError,
)
from quantconnect_client.budget import check_seconds
from quantconnect_client.live import LIVE_SCHEDULE, LOST_CREATE_SECONDS

from ._run import in_thread
from .credentials import QuantConnectCredentials
from .retries import api_task_options


def money_words(brokerage: Brokerage | None) -> str:
    """How a log line names the brokerage, in plain words.

    Example:
        >>> money_words(None)
        'paper trading (QuantConnectBrokerage, no real money)'
        >>> money_words(Brokerage(id="InteractiveBrokersBrokerage"))
        'REAL MONEY with InteractiveBrokersBrokerage'
    """
    chosen = brokerage or Brokerage()
    if chosen.is_paper:
        return f"paper trading ({chosen.id}, no real money)"
    return f"REAL MONEY with {chosen.id}"


def _free_node(client: QuantConnectClient, project_id: int) -> str:
    free = client.live.free_nodes(project_id)
    if not free:
        raise RequestRejectedError(
            f"No free live node for project {project_id}: every live node of the organization "
            "is busy (stop a live algorithm, or add a live node)",
            endpoint="/projects/nodes/read",
        )
    return free[0].id


@task(name="deploy-live", task_run_name="deploy-live {project_id}", **api_task_options())
async def deploy_live(
    credentials: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    node_id: str | None = None,
    brokerage: Brokerage | None = None,
    version_id: str = "-1",
    parameters: Mapping[str, str] | None = None,
    automatic_redeploy: bool = False,
    confirm_seconds: float = LOST_CREATE_SECONDS,
) -> LiveAlgorithmSummary:
    """Deploy a compile as the project's live algorithm (paper trading unless ``brokerage``
    names another); never deploys twice.

    Args:
        credentials: The QuantConnect credentials block.
        project_id: The project.
        compile_id: A successful compile of it.
        node_id: A live node (default: the first free one).
        brokerage: Paper trading when None; a real brokerage's credentials stay secret.
        version_id: LEAN version (``"-1"``: the latest).
        parameters: Live parameter values.
        automatic_redeploy: Restart after a runtime error.
        confirm_seconds: How long a create whose answer was lost looks for its deployment.

    Raises:
        RequestRejectedError: The project already has a live algorithm that has not ended,
            no live node is free, or the service refused.
        DeployOutcomeUnknownError: The answer was lost and the deployment did not show up;
            it may have been made (never retried: check the project).
    """
    client = credentials.get_client()
    logger = get_run_logger()
    node = node_id or await in_thread(_free_node, client, project_id)
    logger.info("Deploying project %s (compile %s) to %s on live node %s", project_id,
                compile_id, money_words(brokerage), node)
    deployed = await in_thread(
        client.live.create, project_id, compile_id, node, brokerage=brokerage,
        version_id=version_id, parameters=dict(parameters or {}),
        automatic_redeploy=automatic_redeploy, confirm_seconds=confirm_seconds,
    )
    logger.info("Deployed live algorithm %s of project %s (%s)", deployed.deploy_id,
                project_id, money_words(brokerage))
    return deployed


@task(name="read-live", task_run_name="read-live {project_id}", **api_task_options())
async def read_live(
    credentials: QuantConnectCredentials, project_id: int, deploy_id: str | None = None
) -> LiveAlgorithm:
    """The project's live algorithm (``deploy_id`` or its latest deployment)."""
    return await in_thread(credentials.get_client().live.read, project_id, deploy_id)


@task(name="list-live", task_run_name="list-live", **api_task_options())
async def list_live(
    credentials: QuantConnectCredentials, project_id: int | None = None,
    status: str | None = None,
) -> list[LiveAlgorithmSummary]:
    """Live algorithms, optionally of one project and one status."""
    return await in_thread(credentials.get_client().live.list, project_id, status)


@task(name="live-nodes", task_run_name="live-nodes {project_id}", **api_task_options())
async def live_nodes(credentials: QuantConnectCredentials, project_id: int) -> list[Node]:
    """The organization's live nodes as the project sees them (``busy`` included)."""
    return await in_thread(credentials.get_client().live.nodes, project_id)


def end_live(client: QuantConnectClient, project_id: int, *, liquidate: bool = False) -> bool:
    """Stop (or liquidate) the project's live algorithm; False when none was running (it had
    ended, or the project was never deployed), so a retry or a race is not a failure."""
    try:
        (client.live.liquidate if liquidate else client.live.stop)(project_id)
    except RequestRejectedError:
        try:
            if client.live.read(project_id).ended:
                return False
        except NotFoundError:
            return False
        raise
    return True


@task(name="stop-live", task_run_name="stop-live {project_id}", **api_task_options())
async def stop_live(credentials: QuantConnectCredentials, project_id: int) -> bool:
    """Stop the project's live algorithm (holdings stay). False if none was running."""
    stopped = await in_thread(end_live, credentials.get_client(), project_id)
    get_run_logger().info("Live algorithm of project %s %s", project_id,
                          "stopped" if stopped else "was not running")
    return stopped


# A liquidation sells everything: neither the client nor the task ever sends one twice.
@task(name="liquidate-live", task_run_name="liquidate-live {project_id}",
      **api_task_options(retries=0))
async def liquidate_live(credentials: QuantConnectCredentials, project_id: int) -> bool:
    """Sell every holding of the project's live algorithm and stop it. False if none was
    running. Not retried (a lost answer is read, never resent)."""
    done = await in_thread(end_live, credentials.get_client(), project_id, liquidate=True)
    get_run_logger().info("Live algorithm of project %s %s", project_id,
                          "liquidated and stopped" if done else "was not running")
    return done


@task(name="read-live-portfolio", task_run_name="read-live-portfolio {project_id}",
      **api_task_options())
async def read_live_portfolio(credentials: QuantConnectCredentials, project_id: int) -> Portfolio:
    """Holdings and cash of the project's live algorithm."""
    return await in_thread(credentials.get_client().live.portfolio, project_id)


@task(name="read-live-orders", task_run_name="read-live-orders {project_id}",
      **api_task_options())
async def read_live_orders(
    credentials: QuantConnectCredentials, project_id: int, start: int = 0, end: int = 100
) -> LiveOrders:
    """Orders ``start..end`` of the project's live algorithm."""
    return await in_thread(credentials.get_client().live.orders, project_id, start, end)


@task(name="read-live-insights", task_run_name="read-live-insights {project_id}",
      **api_task_options())
async def read_live_insights(
    credentials: QuantConnectCredentials, project_id: int, start: int = 0, end: int = 100
) -> LiveInsights:
    """Insights ``start..end`` of the project's live algorithm."""
    return await in_thread(credentials.get_client().live.insights, project_id, start, end)


@task(name="read-live-logs", task_run_name="read-live-logs {project_id}", **api_task_options())
async def read_live_logs(
    credentials: QuantConnectCredentials, project_id: int, deploy_id: str, start_line: int = 0,
    end_line: int = 250,
) -> LiveLogs:
    """Log lines ``start_line..end_line`` of one deployment."""
    return await in_thread(credentials.get_client().live.logs, project_id, deploy_id,
                           start_line, end_line)


@task(name="read-live-chart", task_run_name="read-live-chart {project_id} {name}",
      **api_task_options())
async def read_live_chart(
    credentials: QuantConnectCredentials, project_id: int, name: str, count: int = 100,
    start: int = 0, end: int = 0,
) -> LiveChart:
    """A chart of the project's live algorithm."""
    return await in_thread(credentials.get_client().live.chart, project_id, name, count=count,
                           start=start, end=end)


# A command can place an order: neither the client nor the task ever sends one twice.
@task(name="send-live-command", task_run_name="send-live-command {project_id}",
      **api_task_options(retries=0))
async def send_live_command(
    credentials: QuantConnectCredentials, project_id: int, command: Mapping[str, Any]
) -> None:
    """Send a command to the project's running live algorithm; not retried (see above)."""
    await in_thread(credentials.get_client().live.command, project_id, dict(command))
    get_run_logger().info("Command delivered to the live algorithm of project %s", project_id)


@task(name="broadcast-live-command", task_run_name="broadcast-live-command",
      **api_task_options(retries=0))
async def broadcast_live_command(
    credentials: QuantConnectCredentials, command: Mapping[str, Any],
    organization_id: str | None = None, exclude_project_id: int | None = None,
) -> None:
    """Send a command to every live algorithm of the organization; not retried."""
    await in_thread(credentials.get_client().live.broadcast, dict(command),
                    organization_id=organization_id, exclude_project_id=exclude_project_id)


@task(name="wait-for-live", task_run_name="wait-for-live {deploy_id}",
      **{**api_task_options(), "timeout_seconds": None})
async def wait_for_live(
    credentials: QuantConnectCredentials,
    project_id: int,
    deploy_id: str,
    timeout: float = 600.0,
    schedule: Sequence[float] = LIVE_SCHEDULE,
) -> LiveAlgorithm:
    """Wait until the deployment runs or ends; return that read (check ``status``).

    No task timeout of its own: ``timeout`` (the client's deadline) bounds it.

    Raises:
        ValueError: ``timeout`` is not a positive number of seconds (before any request).
        WaitTimeoutError: Still deploying at the deadline.
    """
    check_seconds(timeout, "The live deploy timeout")
    logger = get_run_logger()
    reached = await in_thread(credentials.get_client().live.wait, project_id, deploy_id,
                              timeout=timeout, schedule=tuple(schedule))
    logger.info("Live algorithm %s of project %s: %s%s", deploy_id, project_id, reached.status,
                f" ({reached.message})" if reached.message else "")
    return reached


__all__ = [
    "broadcast_live_command",
    "deploy_live",
    "end_live",
    "liquidate_live",
    "list_live",
    "live_nodes",
    "money_words",
    "read_live",
    "read_live_chart",
    "read_live_insights",
    "read_live_logs",
    "read_live_orders",
    "read_live_portfolio",
    "send_live_command",
    "stop_live",
    "wait_for_live",
]
