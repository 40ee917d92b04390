"""Thin Prefect tasks over the client's optimization operations, one per operation.

Like the backtest tasks: a credentials block (never a token string), retries only for
transient failures, and safe to retry. A retried start first looks for its optimization by
name (give each one of a run its own, see :func:`optimization_name`), so it never starts a
second; a retried abort of a job that has ended, or a retried delete of one already gone,
answers False instead of failing.

Example:
    >>> from prefect import flow
    >>> @flow
    ... async def optimize(credentials, project_id, compile_id):
    ...     grid = [{"name": "fast", "min": 5, "max": 20, "step": 5}]
    ...     job = await start_optimization(credentials, project_id, compile_id, "nightly", grid)
    ...     return await wait_for_optimization(credentials, job.optimization_id)
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from prefect import get_run_logger, task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact

from quantconnect_client import (
    NotFoundError,
    QuantConnectClient,
    QuantConnectError,
    RequestRejectedError,
    WaitTimeoutError,
)
from quantconnect_client.budget import check_seconds
from quantconnect_client.models.optimizations import (
    GRID_SEARCH,
    Estimate,
    Optimization,
    OptimizationConstraint,
    OptimizationParameter,
    OptimizationSummary,
)

from ._run import in_thread, retry_context
from .backtests import ProgressLog
from .batches import BATCH_TASK_OPTIONS
from .credentials import QuantConnectCredentials
from .retries import api_task_options

Parameters = Sequence[OptimizationParameter | dict[str, Any]]
Key = TypeVar("Key", int, str)
T = TypeVar("T")
Constraints = Sequence[OptimizationConstraint | dict[str, Any]] | None


def optimization_name(flow_run_id: str, label: str = "") -> str:
    """An optimization name that identifies the run that started it.

    Example:
        >>> optimization_name("0b8e4c2e-1111-2222-3333-444455556666", "sma")
        'prefect 0b8e4c2e-1111-2222-3333-444455556666 sma'
    """
    return f"prefect {flow_run_id} {label}".strip()


_RUN_IN_NAME = re.compile(
    r"^prefect ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?: |$)", re.I
)


def optimization_run_id(name: str) -> uuid.UUID | None:
    """The flow run id in a name :func:`optimization_name` made, or None for any other name.

    Example:
        >>> str(optimization_run_id("prefect 0b8e4c2e-1111-2222-3333-444455556666 sma"))
        '0b8e4c2e-1111-2222-3333-444455556666'
        >>> optimization_run_id("my optimization") is None
        True
    """
    found = _RUN_IN_NAME.match(name)
    return None if found is None else uuid.UUID(found[1])


@task(name="estimate-optimization", task_run_name="estimate-optimization {name}",
      **api_task_options())
async def estimate_optimization(
    credentials: QuantConnectCredentials,
    project_id: int,
    name: str,
    parameters: Parameters,
    target: str = "SharpeRatio",
    target_to: str = "max",
    target_value: float | None = None,
    strategy: str = GRID_SEARCH,
    constraints: Constraints = None,
    compile_id: str | None = None,
    node_type: str | None = None,
    parallel_nodes: int | None = None,
) -> Estimate:
    """What an optimization would take: its estimate id, time and the QCC balance (no cost:
    the caller computes it). A read: safe to retry."""
    return await in_thread(
        credentials.get_client().optimizations.estimate, project_id, name, list(parameters),
        target=target, target_to=target_to, target_value=target_value, strategy=strategy,
        constraints=list(constraints or ()), compile_id=compile_id, node_type=node_type,
        parallel_nodes=parallel_nodes,
    )


@task(name="start-optimization", task_run_name="start-optimization {name}",
      **api_task_options())
async def start_optimization(
    credentials: QuantConnectCredentials,
    project_id: int,
    compile_id: str,
    name: str,
    parameters: Parameters,
    target: str = "SharpeRatio",
    target_to: str = "max",
    target_value: float | None = None,
    strategy: str = GRID_SEARCH,
    constraints: Constraints = None,
    node_type: str = "O2-8",
    parallel_nodes: int | None = None,
    estimated_cost: float = 0.0,
) -> OptimizationSummary:
    """Start an optimization; a retry first adopts the one an earlier attempt started.

    The name is the key (see :func:`optimization_name`). Bad input fails at once, before any
    request, and is never retried.
    """
    client = credentials.get_client()
    retrying, _ = retry_context()
    if retrying:
        existing = await in_thread(find_optimization, client, project_id, name)
        if existing is not None:
            get_run_logger().info("Optimization %r was started by an earlier attempt", name)
            return existing
    started = await in_thread(
        client.optimizations.create, project_id, compile_id, name, list(parameters),
        target=target, target_to=target_to, target_value=target_value, strategy=strategy,
        constraints=list(constraints or ()), node_type=node_type,
        parallel_nodes=parallel_nodes, estimated_cost=estimated_cost,
    )
    get_run_logger().info("Started optimization %r: %s on %s", name, started.optimization_id,
                          started.node_type or node_type)
    return started


def find_optimization(
    client: QuantConnectClient, project_id: int, name: str
) -> OptimizationSummary | None:
    """The project's optimization of this name, if any (the newest if several)."""
    matches = [o for o in client.optimizations.list(project_id) if o.name == name]
    return max(matches, key=lambda o: str(o.created or ""), default=None)


@task(name="read-optimization", task_run_name="read-optimization {optimization_id}",
      **api_task_options())
async def read_optimization(
    credentials: QuantConnectCredentials, optimization_id: str
) -> Optimization:
    """Read an optimization with its backtests so far."""
    return await in_thread(credentials.get_client().optimizations.read, optimization_id)


@task(name="list-optimizations", task_run_name="list-optimizations {project_id}",
      **api_task_options())
async def list_optimizations(
    credentials: QuantConnectCredentials, project_id: int
) -> list[OptimizationSummary]:
    """The project's optimizations."""
    return await in_thread(credentials.get_client().optimizations.list, project_id)


@task(name="rename-optimization", task_run_name="rename-optimization {optimization_id}",
      **api_task_options())
async def rename_optimization(
    credentials: QuantConnectCredentials, optimization_id: str, name: str
) -> None:
    """Rename an optimization (idempotent)."""
    await in_thread(credentials.get_client().optimizations.update, optimization_id, name)


@task(name="abort-optimization", task_run_name="abort-optimization {optimization_id}",
      **api_task_options())
async def abort_optimization(credentials: QuantConnectCredentials, optimization_id: str) -> bool:
    """Stop an optimization (its finished backtests stay). False when it had already ended or
    is gone, so a flow can abort on every ending without failing on the race."""
    return await in_thread(_abort, credentials.get_client(), optimization_id)


def _abort(client: QuantConnectClient, optimization_id: str) -> bool:
    try:
        client.optimizations.abort(optimization_id)
    except NotFoundError:
        return False
    except RequestRejectedError:
        # Refused: fine if it has ended meanwhile (the service refuses to abort a completed
        # job); any other refusal is the caller's to see.
        try:
            if client.optimizations.read(optimization_id).finished:
                return False
        except NotFoundError:
            return False
        raise
    return True


@task(name="delete-optimization", task_run_name="delete-optimization {optimization_id}",
      **api_task_options())
async def delete_optimization(credentials: QuantConnectCredentials, optimization_id: str) -> bool:
    """Delete an optimization. False when it was already gone."""
    return await in_thread(_delete, credentials.get_client(), optimization_id)


def _delete(client: QuantConnectClient, optimization_id: str) -> bool:
    try:
        client.optimizations.delete(optimization_id)
    except NotFoundError:
        return False
    return True


@task(name="wait-for-optimization", task_run_name="wait-for-optimization {optimization_id}",
      **{**api_task_options(), "timeout_seconds": None})
async def wait_for_optimization(
    credentials: QuantConnectCredentials,
    optimization_id: str,
    timeout: float = 3600.0,
    progress_key: str | None = None,
    schedule: Sequence[float] | None = None,
    deadline: float | None = None,
) -> Optimization:
    """Wait until the optimization is completed or aborted, showing backtests done of total.

    No task timeout of its own: ``timeout`` (the client's deadline) bounds it, and ``deadline``
    (a Unix time), when given, bounds every attempt together, so a task retry does not start the
    wait's time over. A progress artifact follows every read, and the log gets a line at each
    tenth of the way (or every :data:`~tasks.backtests.PROGRESS_LOG_SECONDS`). ``schedule``
    (seconds between reads, the last repeating) replaces the client's default, which reads
    when the last point should end (``OptimizationSchedule``).

    Raises:
        ValueError: ``timeout`` is not a positive number of seconds (before any request).
        WaitTimeoutError: Still running at the deadline.
        NotFoundError: It was deleted meanwhile.
    """
    check_seconds(timeout, "The optimization timeout")
    if deadline is not None:
        # A retry of this task gets what is left of the caller's deadline, not a new one.
        timeout = min(timeout, deadline - time.time())
        if timeout <= 0:
            raise WaitTimeoutError(f"Optimization {optimization_id} was not finished by the "
                                   "deadline")
    client = credentials.get_client()
    logger = get_run_logger()
    artifact = await acreate_progress_artifact(
        0.0, key=progress_key, description=f"Optimization {optimization_id}"
    )
    log = ProgressLog()

    async def show(done: int, total: int, status: str) -> None:
        fraction = done / total if total else 0.0
        await aupdate_progress_artifact(artifact, round(fraction * 100, 1))
        if log.due(fraction):
            logger.info("Optimization %s: %s, %d of %d backtests done", optimization_id,
                        status, done, total)

    def on_progress(optimization: Optimization) -> None:
        # Called in the client's thread: hand the update to the flow's event loop.
        done, total = optimization.progress
        anyio.from_thread.run(show, done, total, optimization.status or "unknown")

    finished = await in_thread(
        client.optimizations.wait, optimization_id, timeout=timeout, on_progress=on_progress,
        schedule=None if schedule is None else tuple(schedule),
    )
    done, total = finished.progress
    logger.info("Optimization %s %s: %d of %d backtests done", optimization_id,
                finished.status, done, total)
    return finished


def abort_running_optimizations(
    client: QuantConnectClient, project_id: int, name_part: str | None = None
) -> list[str]:
    """Abort the project's optimizations that still run (only those whose name holds
    ``name_part``, e.g. a flow run id, if given); the ids aborted. One that ended meanwhile is
    not an error (the service refuses to abort a finished optimization). Used by the flows'
    clean-up, their state hooks and the sweeper.
    """
    aborted = []
    for summary in client.optimizations.list(project_id):
        if summary.finished or (name_part is not None and name_part not in summary.name):
            continue
        if _abort(client, summary.optimization_id):
            aborted.append(summary.optimization_id)
    return aborted


async def _each(
    keys: Sequence[Key], work: Callable[[Key], T], max_concurrency: int,
    gone: Callable[[], T] | None = None,
) -> dict[Key, T | str]:
    """``work(key)`` for every key, ``max_concurrency`` at once in worker threads: each key's
    answer, or why it failed (``gone()`` for a key the service no longer has, if given).

    One key's failure is that key's answer, not the batch's: the others' work stands (an abort
    done is not undone because another failed).
    """
    limiter = anyio.CapacityLimiter(max_concurrency)
    answers: dict[Key, T | str] = {}

    async def one(key: Key) -> None:
        async with limiter:
            try:
                answers[key] = await in_thread(work, key)
            except NotFoundError as error:
                answers[key] = gone() if gone is not None else f"{type(error).__name__}: {error}"
            except QuantConnectError as error:
                answers[key] = f"{type(error).__name__}: {error}"

    async with anyio.create_task_group() as group:
        for key in keys:
            group.start_soon(one, key)
    return answers


@task(name="abort-running-optimizations", task_run_name="abort-running-optimizations",
      **BATCH_TASK_OPTIONS)
async def abort_optimizations_in(
    credentials: QuantConnectCredentials, project_ids: list[int], max_concurrency: int = 4
) -> dict[int, list[str] | str]:
    """For each project, abort its optimizations that still run (the sweeper calls it before
    it removes orphaned temporary projects: a leaked optimization bills while it runs).

    One project's failure is that project's answer, not the batch's: the others' aborts stand,
    and the caller keeps the failed project (whose optimization may still bill) for next time.
    A project already gone maps to ``[]``.

    Returns:
        Project id -> the ids of the optimizations aborted, or why they could not be.
    """
    client = credentials.get_client()
    return await _each(project_ids, partial(abort_running_optimizations, client),
                       max_concurrency, gone=list)


@task(name="list-running-optimizations", task_run_name="list-running-optimizations",
      **BATCH_TASK_OPTIONS)
async def running_optimizations_in(
    credentials: QuantConnectCredentials, project_ids: list[int], max_concurrency: int = 4
) -> dict[int, list[OptimizationSummary] | str]:
    """For each project, its optimizations that still run (a read: safe to retry).

    One project's failure is that project's answer (why it could not be listed), not the
    batch's; a project already gone maps to ``[]``.
    """
    client = credentials.get_client()

    def running(project_id: int) -> list[OptimizationSummary]:
        return [o for o in client.optimizations.list(project_id) if not o.finished]

    return await _each(project_ids, running, max_concurrency, gone=list)


@task(name="abort-optimizations", task_run_name="abort-optimizations",
      **BATCH_TASK_OPTIONS)
async def abort_optimizations(
    credentials: QuantConnectCredentials, optimization_ids: list[str], max_concurrency: int = 4
) -> dict[str, bool | str]:
    """Abort these optimizations: for each, True if aborted, False if it had ended or was
    gone, or why it could not be aborted (one failure does not undo the others' aborts, and a
    retry of the task aborts again harmlessly)."""
    client = credentials.get_client()
    return await _each(optimization_ids, partial(_abort, client), max_concurrency)


__all__ = [
    "abort_optimization",
    "abort_optimizations",
    "abort_optimizations_in",
    "abort_running_optimizations",
    "delete_optimization",
    "estimate_optimization",
    "find_optimization",
    "list_optimizations",
    "optimization_name",
    "optimization_run_id",
    "read_optimization",
    "rename_optimization",
    "running_optimizations_in",
    "start_optimization",
    "wait_for_optimization",
]
