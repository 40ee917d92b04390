"""Sweep orphaned temporary projects: what runs killed outright (SIGKILL, a lost machine) left.

It only ever matches names the temporary flows make (``<prefix><flow run id>[-renamed]``, see
``flows.common.temporary``), and spares a project whose flow run Prefect still shows as active, so
neither a short prefix nor a TTL of 0 can reach a user's own projects or a running flow's.
In the matching projects it keeps (younger than the TTL), it aborts the optimizations still
running whose own run Prefect shows as ended: a killed run's optimization bills until then. It
does the same in the user's own projects that ``optimize-strategy`` runs which ended without
finishing were given, for the optimizations named with those runs' ids (never another one).

Example:
    >>> import asyncio
    >>> from flows.projects.forms import SweepOptions
    >>> from flows.projects.sweep import sweep_temporary_projects
    >>> asyncio.run(sweep_temporary_projects(SweepOptions(dry_run=True)))  # doctest: +SKIP
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import time
from collections.abc import Coroutine, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from prefect import Task, flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import State, StateType
from prefect.client.schemas.sorting import FlowRunSort

from flows.common.credentials import resolve_credentials
from flows.common.session import IN_MEMORY_RESULTS
from flows.common.temporary import temporary_run_id
from flows.projects.forms import SweepOptions
from flows.projects.reports import SweepItem, SweepReport
from quantconnect_client import Project
from tasks import Outcome, delete_projects, list_projects
from tasks.backtests import stop_running_backtests
from tasks.credentials import QuantConnectCredentials
from tasks.optimizations import (
    abort_optimizations,
    abort_optimizations_in,
    optimization_run_id,
    running_optimizations_in,
)

#: States of a flow run that may still use its temporary project.
ACTIVE_STATES = frozenset(
    {StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING,
     StateType.PAUSED}
)
#: Flow runs looked up per Prefect API call.
_LOOKUP_CHUNK = 200


def select_orphans(projects: list[Project], options: SweepOptions, now: datetime) -> list[Project]:
    """The projects a sweep may remove: names a temporary flow makes with this prefix
    (``<prefix><flow run id>[-renamed]``), older than the TTL (bin leftovers if asked).

    Whether their runs are still active is asked separately (:func:`active_runs`). A project
    whose creation time is unknown is spared.
    """
    cutoff = now - timedelta(minutes=options.ttl_minutes)
    chosen = []
    for project in projects:
        if project.is_deleted and not options.include_recycle_bin:
            continue
        if temporary_run_id(project.name, options.name_prefix) is None:
            continue
        if project.created is not None and project.created <= cutoff:
            chosen.append(project)
    return chosen


async def run_states(run_ids: Iterable[UUID]) -> dict[UUID, State]:
    """The states of those of ``run_ids`` that Prefect knows (and that have one)."""
    wanted = sorted(set(run_ids))
    states: dict[UUID, State] = {}
    async with get_client() as client:
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
            )
            states.update({run.id: run.state for run in runs if run.state is not None})
    return states


#: The flow whose runs on a user's own project the sweeper follows (its optimizations bill).
OPTIMIZER_FLOW = "optimize-strategy"
#: How a run of it may have ended without aborting what it started (a kill, a lost network).
_UNFINISHED = [StateType.CRASHED, StateType.FAILED, StateType.CANCELLED]


async def optimizer_projects(since: datetime) -> set[int]:
    """The existing projects given to ``optimize-strategy`` runs that ended Crashed, Failed or
    Cancelled after ``since`` (read from their parameters, as Prefect keeps them).

    By when a run ended, not when it started: a run killed with no runner watching is marked
    Crashed long after it began, and a long optimization may run for a day.
    """
    found: set[int] = set()
    async with get_client() as client:
        offset = 0
        while True:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[OPTIMIZER_FLOW])),
                flow_run_filter=FlowRunFilter(
                    end_time=FlowRunFilterEndTime(after_=since),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_UNFINISHED)),
                ),
                # A stable order, so that a run ending between two pages shifts none away.
                sort=FlowRunSort.END_TIME_DESC, limit=_LOOKUP_CHUNK, offset=offset,
            )
            for run in runs:
                form = run.parameters.get("options")
                strategy = form.get("strategy") if isinstance(form, dict) else None
                project_id = strategy.get("project_id") if isinstance(strategy, dict) else None
                # The form reads "123" as 123 too (and so does the run's own clean-up).
                if isinstance(project_id, str) and project_id.strip().isdigit():
                    project_id = int(project_id)
                if isinstance(project_id, int) and not isinstance(project_id, bool):
                    found.add(project_id)
            if len(runs) < _LOOKUP_CHUNK:
                return found
            offset += _LOOKUP_CHUNK


async def active_runs(run_ids: Iterable[UUID]) -> dict[UUID, str]:
    """Those of ``run_ids`` whose flow run Prefect shows as still active, with the state's name
    (a run Prefect does not know is not active)."""
    return {run_id: str(state.name) for run_id, state in (await run_states(run_ids)).items()
            if state.type in ACTIVE_STATES}


async def _abort_orphaned_optimizations(
    creds: QuantConnectCredentials, options: SweepOptions, projects: list[Project],
    report: SweepReport, now: datetime,
) -> None:
    """Abort the optimizations still running in matching projects the sweep keeps (too young,
    or their run still active) whose own run has ended: what a run killed outright left, which
    bills until the project's TTL is up otherwise.

    The owner is the run id in the optimization's name (:func:`optimization_name`), else the
    project's. Only a run Prefect knows and shows as ended counts as dead: a run it does not
    know may be another Prefect server's sharing the account and prefix, and its project waits
    for the TTL as before. A project whose optimizations could not be checked or aborted keeps
    an ``error`` on its row (the run then fails, so that someone looks: it may be billing).
    """
    if not projects:
        return
    listing, abort = options.retries.bind(running_optimizations_in, abort_optimizations)
    found = await listing(creds, [p.project_id for p in projects], options.max_concurrency)
    owners: dict[str, UUID] = {}
    for project in projects:
        jobs = found.get(project.project_id, [])
        # The run in its name, else a temporary project's run; in a user's own project, an
        # optimization no run named is the user's: never touched.
        fallback = temporary_run_id(project.name, options.name_prefix)
        for job in [] if isinstance(jobs, str) else jobs:
            owner = optimization_run_id(job.name) or fallback
            if owner is not None:
                owners[job.optimization_id] = owner
    unread = ""
    try:
        states = await run_states(owners.values())
    except Exception as error:  # the Prefect API: the deletions done must still be reported
        states, unread = {}, f"their runs' states could not be read ({type(error).__name__})"
    dead = {job_id for job_id, owner in owners.items()
            if owner in states and states[owner].type not in ACTIVE_STATES}
    outcome: dict[str, bool | str] = {}
    if dead and not options.dry_run:
        outcome = await abort(creds, sorted(dead), options.max_concurrency)
    rows = {item.project_id: item for item in report.items}
    for project in projects:
        jobs = found.get(project.project_id, [])
        # Unread states matter only where some optimization has an owner to look up (a
        # user's own optimizations have none).
        owned = not isinstance(jobs, str) and any(j.optimization_id in owners for j in jobs)
        problems = [jobs] if isinstance(jobs, str) else ([unread] if unread and owned else [])
        ids = [] if isinstance(jobs, str) else [j.optimization_id for j in jobs
                                                  if j.optimization_id in dead]
        if not options.dry_run:
            problems += [f"{i}: {outcome[i]}" for i in ids if isinstance(outcome[i], str)]
            ids = [i for i in ids if outcome[i] is True]
        if not ids and not problems:
            continue
        item = rows.get(project.project_id)
        if item is None:
            item = _planned(project, now)
            item.action = "kept"
            report.items.append(item)
        item.orphaned_optimizations = ids
        item.optimizations_aborted += 0 if options.dry_run else len(ids)
        if problems:
            item.error = "orphaned optimizations not aborted: " + "; ".join(problems)
    report.orphaned_optimizations_aborted = sum(
        len(item.orphaned_optimizations) for item in report.items) if not options.dry_run else 0


async def _stop_backtests(
    stop: Task[..., Coroutine[Any, Any, dict[int, list[str]]]],
    creds: QuantConnectCredentials, options: SweepOptions, project_ids: list[int],
) -> dict[int, list[str]]:
    """Delete the backtests still running in these projects (what a killed backtest flow
    left); a failure here does not keep the projects: deleting them stops their backtests too
    where the service does so, and the report says what could not be stopped."""
    try:
        return await stop(creds, project_ids, options.max_concurrency)
    except Exception as error:
        get_run_logger().warning(
            "Could not stop the running backtests of %d project(s) (%s: %s); removing them "
            "anyway", len(project_ids), type(error).__name__, error,
        )
        return {}


async def _abort_optimizations(
    creds: QuantConnectCredentials, options: SweepOptions, project_ids: list[int]
) -> dict[int, list[str] | str]:
    """Abort the optimizations still running in these projects (what a killed optimizer flow
    left: it bills while it runs). A project whose optimizations could not be checked is kept
    for the next sweep: once it is gone, nothing could find them to abort."""
    try:
        return await options.retries.apply(abort_optimizations_in)(
            creds, project_ids, options.max_concurrency
        )
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        get_run_logger().warning("Could not abort the running optimizations of %d project(s) "
                                 "(%s); keeping them for the next sweep", len(project_ids),
                                 reason)
        return dict.fromkeys(project_ids, reason)


def _run_id(project: Project, options: SweepOptions) -> UUID:
    run_id = temporary_run_id(project.name, options.name_prefix)
    assert run_id is not None, "select_orphans keeps only temporary names"
    return run_id


def _planned(project: Project, now: datetime) -> SweepItem:
    created = project.created or now
    return SweepItem(
        project_id=project.project_id,
        name=project.name,
        created=created.isoformat(),
        age_minutes=round((now - created).total_seconds() / 60, 1),
        action="would delete",
    )


@flow(**IN_MEMORY_RESULTS, name="sweep-temporary-projects")
async def sweep_temporary_projects(
    options: SweepOptions = SweepOptions(),  # noqa: B008 - an immutable-by-use default
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> SweepReport:
    """Delete temporary projects older than a TTL, with at most ``max_concurrency`` at once.

    Args:
        options: Prefix, TTL, recycle-bin handling, dry run and concurrency.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        What was found and done (also published as a table artifact).

    Raises:
        RuntimeError: Some deletes failed (after the report is published).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    creds = await resolve_credentials(credentials, credentials_block)
    # Each task the run uses, with the run's retries.
    listing, deleter, stop = options.retries.bind(list_projects, delete_projects,
                                                  stop_running_backtests)
    projects = await listing(creds, include_deleted=True)
    now = creds.get_client().service_now()
    old = select_orphans(projects, options, now)
    # Never a project whose run still runs (the prefix alone is not proof; a TTL of 0 relies
    # on this check entirely).
    running = await active_runs(_run_id(p, options) for p in old)
    orphans = [p for p in old if _run_id(p, options) not in running]
    spared = [p for p in old if _run_id(p, options) in running]
    logger.info(
        "%d project(s) examined, %d temporary orphan(s) older than %g min%s",
        len(projects),
        len(orphans),
        options.ttl_minutes,
        " (dry run)" if options.dry_run else "",
    )
    report = SweepReport(examined=len(projects), matched=len(orphans), dry_run=options.dry_run)
    report.items = [_planned(project, now) for project in orphans]
    for project in spared:
        item = _planned(project, now)
        item.action, item.run_state = "spared", running[_run_id(project, options)]
        report.items.append(item)
    report.spared = len(spared)
    if not options.dry_run:
        # Batches, not a task per project: Prefect's per-task-run cost would otherwise cap the
        # sweep well below the concurrency the account allows.
        for start in range(0, len(orphans), options.batch_size):
            batch = orphans[start : start + options.batch_size]
            deletions = {p.project_id: options.purge or p.is_deleted for p in batch}
            # Optimizations first: each point is a backtest, and an aborted optimization
            # starts no more of them.
            aborted = (
                await _abort_optimizations(creds, options, list(deletions))
                if options.abort_running_optimizations
                else {}
            )
            kept = {pid: why for pid, why in aborted.items() if isinstance(why, str)}
            deletions = {pid: purge for pid, purge in deletions.items() if pid not in kept}
            stopped = (
                await _stop_backtests(stop, creds, options, list(deletions))
                if options.stop_running_backtests
                else {}
            )
            try:
                binned = [p.project_id for p in batch
                          if p.is_deleted and p.project_id in deletions]
                outcomes = await deleter(creds, deletions, options.max_concurrency, binned)
            except Exception as error:
                failure = Outcome(succeeded=False, error_type=type(error).__name__,
                                  message=f"{type(error).__name__}: {error}", retryable=False)
                outcomes = dict.fromkeys(deletions, failure)
            for item in report.items[start : start + len(batch)]:
                item.backtests_stopped = len(stopped.get(item.project_id, []))
                done = aborted.get(item.project_id, [])
                item.optimizations_aborted = len(done) if isinstance(done, list) else 0
                if item.project_id in kept:
                    item.action = "failed"
                    item.error = (f"kept: its optimizations could not be checked "
                                  f"({kept[item.project_id]}); the next sweep tries again")
                    continue
                outcome = outcomes[item.project_id]
                item.error = None if outcome.succeeded else str(outcome)
                purged = deletions[item.project_id]
                item.action = "failed" if item.error else ("purged" if purged else "deleted")
            logger.info("Swept %d/%d", start + len(batch), len(orphans))
    lookup_error = ""
    if options.abort_orphaned_optimizations:
        # The projects the sweep keeps: live, with this prefix, and not removed just now.
        removed = {p.project_id for p in orphans}
        staying = [p for p in projects if not p.is_deleted and p.project_id not in removed
                   and temporary_run_id(p.name, options.name_prefix) is not None]
        if options.optimizer_lookback_hours > 0:
            # The user's projects an optimizer run that did not finish was given: its clean-up
            # may not have run (kill -9), and no TTL will ever remove such a project. The
            # window is on this machine's clock: Prefect's stamps are compared with it.
            since = datetime.now(timezone.utc) - timedelta(hours=options.optimizer_lookback_hours)
            try:
                given = await optimizer_projects(since)
            except Exception as error:  # the Prefect API: what was done must still be reported
                given, lookup_error = set(), f"{type(error).__name__}: {error}"
                logger.warning("Could not read the optimize-strategy runs (%s); users' projects "
                               "were not checked for orphaned optimizations", lookup_error)
            staying += [p for p in projects if p.project_id in given and not p.is_deleted
                        and temporary_run_id(p.name, options.name_prefix) is None]
        await _abort_orphaned_optimizations(creds, options, staying, report, now)
    report.deleted = sum(item.action in ("deleted", "purged") for item in report.items)
    report.backtests_stopped = sum(item.backtests_stopped for item in report.items)
    report.optimizations_aborted = sum(item.optimizations_aborted for item in report.items)
    report.failed = sum(item.action == "failed" for item in report.items)
    unchecked = sum(item.action in ("kept", "spared") and item.error is not None
                    for item in report.items)
    report.seconds = round(time.perf_counter() - started, 4)
    await acreate_table_artifact(
        table=report.table(),
        key="quantconnect-sweep",
        description=(
            f"Sweep: {report.matched} matched, {report.deleted} removed, {report.failed} failed, "
            f"{report.spared} spared (their runs still run), "
            f"{report.backtests_stopped} running backtest(s) deleted and "
            f"{report.optimizations_aborted} optimization(s) aborted, "
            f"{report.orphaned_optimizations_aborted} of them orphans in kept projects"
            + (" (dry run)" if options.dry_run else "")
            + (f"; the optimizer's runs could not be read ({lookup_error})" if lookup_error
               else "")
        ),
    )
    if report.failed:
        raise RuntimeError(f"{report.failed} of {report.matched} deletes failed; see the table")
    if unchecked:
        raise RuntimeError(f"the orphaned optimizations of {unchecked} kept project(s) could "
                           "not be checked or aborted (they may still bill); see the table")
    if lookup_error:
        raise RuntimeError(f"the optimize-strategy runs could not be read from Prefect "
                           f"({lookup_error}): users' projects were not checked for orphaned "
                           "optimizations (they may still bill)")
    return report
