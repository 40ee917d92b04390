"""Temporary projects: made for one flow run, never left behind, whatever ends the run.

Three layers, each catching what the one before cannot:

1. ``async with temporary_project(...)``: the run's own clean-up, on any exit of the block (an
   error, a flow timeout, a cancellation, ``KeyboardInterrupt``), shielded from cancellation and
   bounded in time. Clean-up registered on the handle runs first (a pipeline deletes the
   project's running backtests there), then the project is purged.
2. :func:`cleanup_hooks`: ``on_failure`` / ``on_cancellation`` / ``on_crashed`` state hooks for
   when that clean-up could not finish or could not run (the process was killed under a runner
   or a worker). They may run in another process, so they find the run's projects by the flow
   run id in their names, and the credentials from a declared parameter (a saved block's name).
3. The sweeper (``flows.projects.sweep``), for runs killed outright: it matches only names made here
   (:func:`temporary_run_id`) and spares projects whose run Prefect still shows as active.

A temporary project is named ``<prefix><flow run id>`` (the lifecycle renames it to
``<name>-renamed``), so one flow run has one temporary project; a flow that needs several runs
subflows.

Example:
    A flow with the same guarantees as the lifecycle, in a few lines::

        from prefect import flow
        from flows.common.credentials import resolve_credentials
        from flows.common.temporary import cleanup_hooks, temporary_project

        @flow(**cleanup_hooks())
        async def scratch(credentials_block: str = "quantconnect") -> int:
            creds = await resolve_credentials(None, credentials_block)
            async with temporary_project(creds, "Py", prefix="scratch-tmp-") as tmp:
                tmp.before_removal(lambda client, project_id: None)  # e.g. stop backtests
                return tmp.project.project_id
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from prefect import Flow, get_run_logger
from prefect.client.schemas.objects import FlowRun, State
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger
from prefect.runtime import flow_run as current_flow_run

from flows.common.credentials import resolve_credentials_sync
from flows.common.options import DEFAULT_TEMPORARY_PREFIX, RetryOptions
from quantconnect_client import (
    RECYCLE_BIN_PREFIX,
    Project,
    QuantConnectClient,
    QuantConnectError,
)
from quantconnect_client.retry import RetryPolicy, retry_call
from tasks import ReadBackError, create_project
from tasks.credentials import QuantConnectCredentials

#: What the lifecycle's update step appends to a temporary project's name.
RENAMED_SUFFIX = "-renamed"
#: The most a run's own clean-up may take, even when the run was cancelled or timed out.
CLEANUP_TIMEOUT_SECONDS = 120.0
#: Rounds of a clean-up: a round is the whole removal with the client's own retries, and one that
#: ends on a transient failure (a burst of faults that spent one call's attempts) runs again, so
#: that a run leaves nothing behind unless the service stays down; bounded by the time above.
CLEANUP_ROUNDS = RetryPolicy(max_attempts=3, backoff_seconds=1.0, max_backoff_seconds=5.0)
#: Runs remembered by :data:`ACTIVE_RUNS` at most (the oldest are forgotten first).
MAX_REMEMBERED_RUNS = 1024

#: Clean-up to run before a temporary project is removed: ``(client, project_id)``, blocking.
BeforeRemoval = Callable[[QuantConnectClient, int], None]


class KeepProjectError(Exception):
    """Raised by a :data:`BeforeRemoval` step whose failure makes removing the project unsafe:
    the project is kept (and the removal reported as failed) so the sweeper can try again.

    A step raises it when what it could not stop would outlive the project and still cost:
    an optimization that could not be aborted bills on, and once its project is gone nothing
    lists it any more. Other step failures are logged and the project is removed anyway.
    """


#: A flow state hook, as Prefect calls it.
StateHook = Callable[[Flow[Any, Any], FlowRun, State], None]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_TEMPORARY_NAME = re.compile(
    rf"^(?:{re.escape(RECYCLE_BIN_PREFIX)})?(?P<prefix>.*?)(?P<run_id>{_UUID})"
    rf"(?:{re.escape(RENAMED_SUFFIX)})?$"
)

logger = get_logger("flows.common.temporary")

T = TypeVar("T")


class CleanupError(QuantConnectError):
    """A run finished its work but could not remove its temporary project (the state hooks or
    the sweeper will); transient, like the failure behind it."""

    retryable = True


def temporary_name(prefix: str, run_id: str | uuid.UUID) -> str:
    """The name of a run's temporary project.

    Example:
        >>> temporary_name("prefect-tmp-", "00000000-0000-4000-8000-000000000001")
        'prefect-tmp-00000000-0000-4000-8000-000000000001'
    """
    return f"{prefix}{run_id}"


def temporary_run_id(name: str, prefix: str | None = None) -> uuid.UUID | None:
    """The flow run id in a temporary project's name, or None if the name is not one this module
    makes: ``<prefix><uuid>`` or ``<prefix><uuid>-renamed``, with or without ``Recycle Bin/``.

    Args:
        name: A project's name.
        prefix: The prefix the name must have exactly; None accepts any (the id is unique).

    Example:
        >>> run = "00000000-0000-4000-8000-000000000001"
        >>> str(temporary_run_id(f"Recycle Bin/tmp-{run}-renamed", "tmp-"))
        '00000000-0000-4000-8000-000000000001'
        >>> temporary_run_id(f"tmp-{run}-copy", "tmp-") is None
        True
        >>> temporary_run_id("tmp-production", "tmp-") is None
        True
    """
    found = _TEMPORARY_NAME.match(name)
    if found is None or (prefix is not None and found["prefix"] != prefix):
        return None
    return uuid.UUID(found["run_id"])


@dataclass
class _RunRecord:
    credentials: QuantConnectCredentials | None  # kept only while its clean-up is unfinished
    settled: bool


class ActiveRuns:
    """Runs of this process with a temporary project, for the state hooks that follow them.

    A hook in the run's own process needs the run's credentials when they were passed as a
    block object (Prefect stores such a parameter masked), and can skip its work when the run's
    own clean-up finished. The record is bounded (the oldest runs are forgotten first: their
    hooks then look the credentials up as in another process) and each hook takes its run's
    entry out.

    Example:
        >>> runs = ActiveRuns(maxsize=2)
        >>> for run_id in "abc":
        ...     runs.settle(run_id)
        >>> len(runs), runs.take("a"), runs.take("c").settled
        (2, None, True)
    """

    def __init__(self, maxsize: int = MAX_REMEMBERED_RUNS) -> None:
        self._runs: OrderedDict[str, _RunRecord] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def _put(self, run_id: str, record: _RunRecord) -> None:
        with self._lock:
            self._runs[run_id] = record
            self._runs.move_to_end(run_id)
            while len(self._runs) > self._maxsize:
                self._runs.popitem(last=False)

    def start(self, run_id: str, credentials: QuantConnectCredentials) -> None:
        """A run is about to make its temporary project."""
        self._put(run_id, _RunRecord(credentials, settled=False))

    def settle(self, run_id: str) -> None:
        """The run's own clean-up left nothing behind: its hooks have nothing to do."""
        self._put(run_id, _RunRecord(None, settled=True))

    def take(self, run_id: str) -> _RunRecord | None:
        """The run's record, removed from the record."""
        with self._lock:
            return self._runs.pop(run_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)


#: This process's record of runs with a temporary project.
ACTIVE_RUNS = ActiveRuns()


def _log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logger


def remove_projects(
    client: QuantConnectClient, project_ids: Iterable[int], before_removal: Sequence[BeforeRemoval]
) -> list[int]:
    """Run ``before_removal`` for each project, then purge it (retry-safe; gone is done).

    A failing ``before_removal`` step does not keep the project (a purge removes what the
    project holds anyway) unless it raises :class:`KeepProjectError`: that project stays, the
    others are still removed, and the first such error is raised at the end. An interrupt
    (``KeyboardInterrupt``, ``SystemExit``) in a step lets the removal finish and is raised
    after it.

    Returns:
        The ids removed.

    Raises:
        QuantConnectError: A purge failed.
        KeepProjectError: A step made a project's removal unsafe; it was kept.
    """
    removed: list[int] = []
    interrupt: BaseException | None = None
    kept: KeepProjectError | None = None
    for project_id in project_ids:
        keep = False
        for step in before_removal:
            try:
                step(client, project_id)
            except KeepProjectError as error:
                logger.warning("Clean-up step %s for project %s failed (%s); keeping the project "
                               "for the sweeper", getattr(step, "__name__", step), project_id,
                               error)
                kept, keep = kept or error, True
            except Exception as error:
                logger.warning(
                    "Clean-up step %s for project %s failed (%s: %s); removing the project anyway",
                    getattr(step, "__name__", step), project_id, type(error).__name__, error,
                )
            except (KeyboardInterrupt, SystemExit) as error:
                interrupt = interrupt or error
        if keep:
            continue
        client.projects.purge(project_id)
        removed.append(project_id)
    if interrupt is not None:
        raise interrupt
    if kept is not None:
        raise kept
    return removed


async def run_cleanup(step: Callable[[], T], failure: str) -> tuple[T | None, str | None]:
    """Run a blocking clean-up step in a worker thread, shielded from cancellation and bounded
    by :data:`CLEANUP_TIMEOUT_SECONDS`; never raises an ``Exception``.

    The one rule for a run's own clean-up (the temporary project's, an existing project's):
    it runs whatever ended the run, and its failure is reported, not raised, so it never masks
    the error that ended the run; a caller whose work completed raises :class:`CleanupError`
    when it gets a failure back, so the run does not end Completed with something left behind.

    Args:
        step: The clean-up, ``() -> what it did``.
        failure: What a failure means, e.g. ``"could not remove the project"``.

    Returns:
        ``(what the step returned, None)``, or ``(None, why not)``: ``failure`` with the error,
        or with the time limit.
    """
    with anyio.CancelScope(shield=True) as shield:
        # Shielded: a flow timeout or cancellation cancels every await in its scope, and the
        # clean-up must still run; bounded, so a dead service cannot hold the run forever (the
        # thread is left to end on the client's own timeouts).
        shield.deadline = anyio.current_time() + CLEANUP_TIMEOUT_SECONDS
        try:
            return await anyio.to_thread.run_sync(step, abandon_on_cancel=True), None
        except Exception as error:
            return None, f"{failure} ({type(error).__name__}: {error})"
    return None, f"{failure} within {CLEANUP_TIMEOUT_SECONDS:g} s"


def find_run_projects(client: QuantConnectClient, run_id: str | uuid.UUID) -> list[int]:
    """Ids of the temporary projects (live or in the bin) whose name holds this run's id."""
    wanted = uuid.UUID(str(run_id))
    return [
        p.project_id
        for p in client.projects.list(include_deleted=True)
        if temporary_run_id(p.name) == wanted
    ]


class TemporaryProject:
    """The handle :func:`temporary_project` yields: the project, and what its clean-up does."""

    def __init__(
        self,
        credentials: QuantConnectCredentials,
        language: str,
        name: str,
        run_id: str,
        retries: RetryOptions,
        before_removal: Sequence[BeforeRemoval],
    ) -> None:
        self.credentials = credentials
        self.language = language
        self.name = name
        self.run_id = run_id
        self.retries = retries
        #: The project id once known (also when the create's read-back failed).
        self.project_id: int | None = None
        #: What the clean-up did, for the run's report (None while it has not run).
        self.cleanup: str | None = None
        self._project: Project | None = None
        self._before_removal: list[BeforeRemoval] = list(before_removal)
        self._create_attempted = False
        self._released = False

    @property
    def project(self) -> Project:
        """The project as created (read back by id unless created with ``confirm`` off).

        Raises:
            RuntimeError: It has not been created yet (``create=False`` and no :meth:`create`).
        """
        if self._project is None:
            raise RuntimeError("the temporary project has not been created yet")
        return self._project

    async def create(self, confirm: bool = True) -> Project:
        """Create the project (once per handle), read back by id unless ``confirm`` is off.

        Raises:
            ReadBackError: Created but not readable; the clean-up still removes it by id.
            QuantConnectError: The create failed for good (a lost answer's project is found by
                name in the clean-up).
        """
        if self._create_attempted:
            raise RuntimeError("the temporary project is created once")
        self._create_attempted = True
        try:
            (create,) = self.retries.bind(create_project)
            self._project = await create(self.credentials, self.name, self.language,
                                         confirm=confirm)
        except ReadBackError as error:
            self.project_id = error.project_id
            raise
        self.project_id = self._project.project_id
        return self._project

    def before_removal(self, step: BeforeRemoval) -> None:
        """Run ``step(client, project_id)`` before the project is removed (steps run in the
        order given; a failing one is logged and does not keep the project)."""
        self._before_removal.append(step)

    def release(self) -> None:
        """The run removed the project itself (or keeps it on purpose): nothing to clean up."""
        self._released = True

    @property
    def needs_cleanup(self) -> bool:
        """Whether the project may exist and is still this mechanism's to remove."""
        return self._create_attempted and not self._released

    def _remove(self) -> str:
        client = self.credentials.get_client()

        def one_round() -> list[int]:
            if self.project_id is not None:
                ids = [self.project_id]
            else:  # the create may have taken effect although no answer said so: look by name
                ids = find_run_projects(client, self.run_id)
            return remove_projects(client, ids, self._before_removal)

        removed = retry_call(one_round, policy=CLEANUP_ROUNDS,
                             what="the temporary project's removal")
        return f"removed {len(removed)} project(s) {removed}" if removed else "nothing to remove"

    async def _clean_up(self, block_failed: bool) -> bool:
        """Remove the project, shielded and bounded; never raises an ``Exception``.

        Args:
            block_failed: The block ended by an exception: the removal is then the safety net,
                and the log says so; after a normal end it is the run's ordinary clean-up.

        Returns:
            Whether the run is known to leave nothing behind.
        """
        done, failure = await run_cleanup(self._remove, "could not remove the project")
        self.cleanup = failure or done
        if failure:
            _log().warning("Safety net: %s", failure)
        else:
            _log().info("%s: %s", "Safety net" if block_failed else "Clean-up", done)
        return failure is None


def _current_run_id() -> str:
    return str(current_flow_run.id or uuid.uuid4())


@asynccontextmanager
async def temporary_project(
    credentials: QuantConnectCredentials,
    language: str = "Py",
    *,
    prefix: str = DEFAULT_TEMPORARY_PREFIX,
    retries: RetryOptions | None = None,
    create: bool = True,
    before_removal: Sequence[BeforeRemoval] = (),
) -> AsyncIterator[TemporaryProject]:
    """A project for this flow run, removed on the way out whatever happens.

    Pair it with :func:`cleanup_hooks` on the flow, for what the block cannot do itself.

    Args:
        credentials: Who to be.
        language: ``Py`` or ``C#``.
        prefix: Start of the name; the flow run id follows (the sweeper matches on both).
        retries: Task retries of the create (default: :class:`RetryOptions` defaults).
        create: Create the project on entry; off, call ``await tmp.create()`` in the block.
        before_removal: Steps to run before the project is removed (more with
            :meth:`TemporaryProject.before_removal`).

    Yields:
        The handle: ``tmp.project``, ``tmp.before_removal(step)``, ``tmp.release()``.

    Raises:
        CleanupError: The block ended normally but the project could not be removed (the
            flow's hooks try again; an error from the block itself always takes precedence).
    """
    run_id = _current_run_id()
    tmp = TemporaryProject(
        credentials,
        language,
        temporary_name(prefix, run_id),
        run_id,
        retries or RetryOptions(),
        before_removal,
    )
    in_a_run = FlowRunContext.get() is not None
    if in_a_run:
        ACTIVE_RUNS.start(run_id, credentials)
    settled, failed = True, True
    try:
        if create:
            await tmp.create()
        yield tmp
        failed = False
    finally:
        if tmp.needs_cleanup:
            settled = await tmp._clean_up(block_failed=failed)
        if in_a_run and settled:
            ACTIVE_RUNS.settle(run_id)
    if not settled and not failed:
        raise CleanupError(f"the temporary project was not removed: {tmp.cleanup}")


def _remove_leftovers_of(
    flow_run: FlowRun, state: State, credentials_parameter: str, before: Sequence[BeforeRemoval]
) -> None:
    run_id = str(flow_run.id)
    record = ACTIVE_RUNS.take(run_id)
    if record is not None and record.settled:
        return  # the run's own clean-up removed everything
    try:
        creds = (record.credentials if record else None) or resolve_credentials_sync(
            None, (flow_run.parameters or {}).get(credentials_parameter)
        )
        client = creds.get_client()
        removed = retry_call(
            lambda: remove_projects(client, find_run_projects(client, run_id), before),
            policy=CLEANUP_ROUNDS, what="the temporary project's removal",
        )
        logger.info(
            "Run %s ended %s; removed %d temporary project(s).", run_id, state.name, len(removed)
        )
    except Exception as error:
        logger.error(
            "Run %s ended %s; could not remove its temporary project (%s: %s). "
            "The sweeper will.",
            run_id, state.name, type(error).__name__, error,
        )


def cleanup_hooks(
    *,
    credentials_parameter: str = "credentials_block",
    before_removal: Sequence[BeforeRemoval] = (),
) -> dict[str, Any]:
    """``@flow`` options that remove a run's temporary projects when it fails, is cancelled or
    crashes: ``@flow(**cleanup_hooks())``.

    The hook rebuilds what it needs from the run: the projects from the run id in their names,
    the credentials from this process's record of the run, else the saved block named by the
    run's ``credentials_parameter``, else ``QC_*``. It does nothing when the run's own clean-up
    already removed everything.

    Args:
        credentials_parameter: The flow's parameter that names a saved credentials block.
        before_removal: Steps to run before each project is removed (module-level functions:
            the hook may run in another process).

    Example:
        >>> sorted(cleanup_hooks())
        ['on_cancellation', 'on_crashed', 'on_failure']
    """

    def remove_leftovers(flow: Flow[Any, Any], flow_run: FlowRun, state: State) -> None:
        """Purge the run's temporary projects (see :func:`cleanup_hooks`)."""
        _remove_leftovers_of(flow_run, state, credentials_parameter, before_removal)

    hooks: list[StateHook] = [remove_leftovers]
    return {"on_failure": hooks, "on_cancellation": hooks, "on_crashed": hooks}


__all__ = [
    "ACTIVE_RUNS",
    "CLEANUP_ROUNDS",
    "CLEANUP_TIMEOUT_SECONDS",
    "RENAMED_SUFFIX",
    "ActiveRuns",
    "BeforeRemoval",
    "CleanupError",
    "KeepProjectError",
    "TemporaryProject",
    "cleanup_hooks",
    "find_run_projects",
    "remove_projects",
    "run_cleanup",
    "temporary_name",
    "temporary_project",
    "temporary_run_id",
]
