"""What both backtest flows (``backtest-strategy`` and ``backtest-grid``) share: the run's set-up,
the project they backtest in (a temporary one, or the user's with this run's backtests stopped on
the way out), the state hooks, and the report's outcome for what ended a run."""


# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from prefect import Flow, get_run_logger
from prefect.client.schemas.objects import FlowRun, State
from prefect.logging import get_logger
from prefect.runtime import flow_run as current_flow_run

from flows.backtests.forms import (
    StrategyChoice,
)
from flows.backtests.gate import RegressionError
from flows.backtests.report import Outcome, is_real_service
from flows.backtests.strategy_folder import StrategySource, load_strategy
from flows.common.credentials import resolve_credentials, resolve_credentials_sync
from flows.common.options import RetryOptions
from flows.common.temporary import (
    CleanupError,
    TemporaryProject,
    cleanup_hooks,
    run_cleanup,
    temporary_project,
)
from quantconnect_client import QuantConnectClient
from quantconnect_client.errors import (
    BacktestRuntimeError,
    BuildError,
)
from tasks.backtests import (
    delete_running_backtests,
    upload_strategy,
)
from tasks.credentials import QuantConnectCredentials

logger = get_logger("flows.backtests")


class BacktestDeadlineError(TimeoutError):
    """The backtest did not finish by the run's deadline; it was deleted (the message says)."""


def outcome_of(error: BaseException) -> Outcome:
    """The report's outcome for what ended the run."""
    if isinstance(error, BuildError):
        return "build error"
    if isinstance(error, BacktestRuntimeError):
        return "runtime error"
    if isinstance(error, RegressionError):
        return "regression"
    if isinstance(error, BacktestDeadlineError):
        return "timed out"
    if isinstance(error, anyio.get_cancelled_exc_class()):
        return "cancelled"
    return "failed"


@dataclass(frozen=True)
class RunSetup:
    """What every backtest flow works out before its first request."""

    run_id: str
    strategy: StrategySource | None
    creds: QuantConnectCredentials
    base_url: str
    #: The existing project, when the run uses one instead of a strategy folder.
    project_id: int | None = None

    @property
    def label(self) -> str:
        """The strategy's name in reports: its folder's, or ``project <id>``."""
        return self.strategy.name if self.strategy else f"project {self.project_id}"

    @property
    def simulated(self) -> bool:
        """Whether results come from something other than QuantConnect (the emulator)."""
        return not is_real_service(self.base_url)


async def prepare_run(
    choice: StrategyChoice,
    credentials: QuantConnectCredentials | None,
    credentials_block: str | None,
) -> RunSetup:
    """The run id, the checked strategy folder (a refused one raises here, before any request)
    and the credentials."""
    strategy = load_strategy(choice.strategy_folder) if choice.strategy_folder else None
    creds = await resolve_credentials(credentials, credentials_block)
    return RunSetup(
        run_id=str(current_flow_run.id or uuid.uuid4()),
        strategy=strategy,
        creds=creds,
        base_url=creds.to_settings().base_url,
        project_id=None if strategy else choice.project_id,
    )


def _stop_started_backtests(client: QuantConnectClient, project_id: int) -> None:
    """The temporary project's clean-up step in the state hooks (module level: the hooks may
    run in another process): its running backtests go before it does."""
    delete_running_backtests(client, project_id)


def stop_backtests_in_existing_project(flow: Flow[Any, Any], flow_run: FlowRun,
                                       state: State) -> None:
    """State hook: for a run on an existing project, delete the backtests it started that
    still run (found by the run id in their names; the project stays). It may run in another
    process: the strategy choice is read back through its model (the backtest and grid forms
    both hold it as ``options.strategy``), the credentials from the saved block the run names.
    """
    parameters = dict(flow_run.parameters or {})
    try:
        options = parameters.get("options") or {}
        raw = options.get("strategy") if isinstance(options, dict) else None
        project_id = StrategyChoice.model_validate(raw or {}).project_id
        if project_id is None:
            return  # a temporary project: cleanup_hooks remove it with its backtests
        creds = resolve_credentials_sync(None, parameters.get("credentials_block"))
        deleted = delete_running_backtests(creds.get_client(), project_id, str(flow_run.id))
        if deleted:
            logger.info("Run %s ended %s; deleted running backtest(s) %s", flow_run.id,
                        state.name, deleted)
    except Exception as error:
        logger.error("Run %s ended %s; could not check its backtests (%s: %s)", flow_run.id,
                     state.name, type(error).__name__, error)


#: ``@flow`` options of the backtest flows: the temporary project's hooks (which delete its
#: running backtests before removing it) and the hook for an existing project.
BACKTEST_HOOKS = cleanup_hooks(before_removal=[_stop_started_backtests])
for _state in ("on_failure", "on_cancellation", "on_crashed"):
    BACKTEST_HOOKS[_state] = [*BACKTEST_HOOKS[_state], stop_backtests_in_existing_project]


@asynccontextmanager
async def strategy_project(
    creds: QuantConnectCredentials,
    choice: StrategyChoice,
    strategy: StrategySource | None,
    retries: RetryOptions,
    cleanup: list[str],
    run_id: str,
) -> AsyncIterator[int]:
    """The project a run backtests in, with the strategy uploaded; cleaned up on the way out.

    A folder: a temporary project (``flows.common.temporary``), removed on any exit after its
    running backtests are deleted. An existing project: kept, but on any exit the backtests this run
    started (their names hold ``run_id``) that still run are deleted. What was removed, or
    could not be, is appended to ``cleanup``.

    Both follow the temporary project's rule (:func:`flows.common.temporary.run_cleanup`): a
    clean-up failure never replaces the error that ended the block; after a block that completed, it
    raises :class:`~flows.common.temporary.CleanupError` saying what may be left behind (the run's
    state hooks try again).
    """
    if strategy is None:
        assert choice.project_id is not None  # the model guarantees one of the two
        project_id = choice.project_id
        failed = True
        try:
            yield project_id
            failed = False
        finally:
            removed, failure = await run_cleanup(
                lambda: delete_running_backtests(creds.get_client(), project_id, run_id),
                f"could not stop this run's running backtests in project {project_id}",
            )
            cleanup.extend(f"deleted running backtest {b}" for b in removed or [])
            if failure is not None:
                cleanup.append(failure)
                get_run_logger().warning("Clean-up: %s", failure)
        if failure is not None and not failed:
            raise CleanupError(f"a backtest of this run may still run: {failure}")
        return

    def record(client: QuantConnectClient, project_id: int) -> None:
        cleanup.extend(f"deleted running backtest {b}"
                       for b in delete_running_backtests(client, project_id))

    tmp: TemporaryProject | None = None
    try:
        async with temporary_project(
            creds, strategy.language, prefix=choice.name_prefix, retries=retries,
            before_removal=[record], create=False,
        ) as tmp:
            # No read-back of its own: the upload lists the project's files first, which reads
            # the project by the id the create answered (a wrong id fails there, before any
            # write), one round trip sooner.
            project_id = (await tmp.create(confirm=False)).project_id
            (upload,) = retries.bind(upload_strategy)
            written = await upload(creds, project_id, {f.name: f.content for f in strategy.files})
            get_run_logger().info("Uploaded %s to project %s", ", ".join(written), project_id)
            yield project_id
    finally:
        if tmp is not None and tmp.cleanup:
            cleanup.append(f"temporary project: {tmp.cleanup}")
