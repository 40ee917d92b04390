"""``stop-live``: stop (or liquidate) the selected live algorithms, guarded like the bulk update.

The selection is the form's project ids and/or name pattern. A form that leaves no project
out (neither given, or a pattern matching every name) is refused before any request unless
``all_algorithms: true`` confirms it (:class:`flows.live.forms.StopLiveOptions`); so is a
pattern that, on this account, matches every running algorithm (when there are several).
``dry_run`` lists what would be stopped and stops nothing. A table artifact says what was done.

Example:
    >>> from flows.live.stop import stop_live_flow
    >>> stop_live_flow.name
    'stop-live'
"""

# No `from __future__ import annotations`: see flows/live/deploy.py (flow.serve() pickling).

import anyio
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from flows.common.credentials import resolve_credentials
from flows.common.session import IN_MEMORY_RESULTS
from flows.live.forms import EVERY_ALGORITHM_NEEDS_CONFIRMATION, StopLiveOptions
from flows.live.report import StopReport, StopRow
from quantconnect_client.models.live import LiveAlgorithmSummary
from tasks.credentials import QuantConnectCredentials
from tasks.live import liquidate_live, list_live, stop_live
from tasks.projects import list_projects


class SelectionGuardError(ValueError):
    """The selection takes in every running live algorithm and was not confirmed."""


def running_by_project(algorithms: list[LiveAlgorithmSummary]) -> dict[int, LiveAlgorithmSummary]:
    """The deployment of each project that has not ended (one per project at most)."""
    return {a.project_id: a for a in algorithms if a.project_id is not None and not a.ended}


@flow(**IN_MEMORY_RESULTS, name="stop-live")
async def stop_live_flow(
    options: StopLiveOptions,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> StopReport:
    """Stop (or liquidate) the selected running live algorithms.

    Args:
        options: The selection, ``liquidate``, ``dry_run`` and the confirmation.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        What was done (also the table artifact ``options.artifact_key``).

    Raises:
        SelectionGuardError: The pattern selects every running algorithm, unconfirmed (no
            stop was sent).
    """
    log = get_run_logger()
    creds = await resolve_credentials(credentials, credentials_block)
    report = StopReport(dry_run=options.dry_run, liquidate=options.liquidate)
    list_all, list_algorithms, stop = options.retries.bind(list_projects, list_live, stop_live)
    # A liquidation is never retried by a task: one whose answer was lost is read, not resent.
    end = liquidate_live if options.liquidate else stop
    names: dict[int, str] = {}
    if options.name_pattern is not None:
        names = {p.project_id: p.name for p in await list_all(creds)}
    running = running_by_project(await list_algorithms(creds))
    chosen = {pid: a for pid, a in running.items() if options.wants(pid, names.get(pid))}
    if (not options.all_algorithms and not options.dry_run and not options.project_ids
            and len(running) > 1 and len(chosen) == len(running)):
        raise SelectionGuardError(EVERY_ALGORITHM_NEEDS_CONFIRMATION)
    verb = "liquidate" if options.liquidate else "stop"
    for pid, algorithm in sorted(chosen.items()):
        row = StopRow(project_id=pid, project_name=names.get(pid),
                      deploy_id=algorithm.deploy_id, status=algorithm.status,
                      outcome="would liquidate" if options.liquidate else "would stop")
        if not options.dry_run:
            try:
                done = await end(creds, pid)
            except Exception as error:
                row.outcome, row.error = "failed", f"{type(error).__name__}: {error}"[:300]
            else:
                row.outcome = (("liquidated" if options.liquidate else "stopped") if done
                               else "was not running")
        report.rows.append(row)
        log.info("stop-live: project %s (%s): %s", pid, algorithm.deploy_id, row.outcome)
    missing = [pid for pid in options.project_ids if pid not in chosen]
    if missing:
        log.info("stop-live: no running live algorithm in project(s) %s", missing)
    with anyio.CancelScope(shield=True):
        await acreate_table_artifact(
            table=[row.table_row() for row in report.rows] or [{"project": "(none running)"}],
            key=options.artifact_key,
            description=f"stop-live{' (dry run)' if options.dry_run else ''}: {verb} "
            f"{len(report.rows)} live algorithm(s)",
        )
    failed = [row for row in report.rows if row.outcome == "failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} live algorithm(s) could not be ended: "
                           + ", ".join(str(row.project_id) for row in failed))
    return report


__all__ = ["SelectionGuardError", "running_by_project", "stop_live_flow"]
