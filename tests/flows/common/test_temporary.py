"""The temporary-project mechanism (``flows.common.temporary``) on its own and in a second flow.

The kill, crash and cancel cases of the second flow are in
``tests/reliability/test_kill_and_cancel.py``, next to the lifecycle's.
"""

from __future__ import annotations

import pytest

from flows.common.credentials import resolve_credentials_sync
from flows.common.temporary import (
    ACTIVE_RUNS,
    CLEANUP_ROUNDS,
    CleanupError,
    KeepProjectError,
    temporary_project,
)
from quantconnect_client import ConfigurationError, NotFoundError, QuantConnectClient
from tests.flows.common.scratch_flow import scratch_flow
from tests.helpers import credentials_for

pytestmark = pytest.mark.anyio


async def test_a_second_flow_on_the_mechanism_leaves_nothing(qc_emulator, credentials, caplog):
    await credentials.asave("scratch", overwrite=True)
    assert await scratch_flow(credentials_block="scratch") == "# scratch\n"
    assert qc_emulator.projects() == []
    # A run that ended normally cleaned up as planned: no "safety net" caught anything.
    assert "Clean-up: removed 1 project(s) [" in caplog.text
    assert "Safety net" not in caplog.text


async def test_a_failing_second_flow_removes_its_project_and_its_hook_finds_it_settled(
    qc_emulator, credentials, caplog
):
    await credentials.asave("scratch", overwrite=True)
    state = await scratch_flow(credentials_block="scratch", fail=True, return_state=True)
    assert state.is_failed()
    assert "Safety net: removed 1 project(s) [" in caplog.text
    with pytest.raises(ValueError, match="on purpose"):
        await state.aresult()
    assert qc_emulator.projects() == []
    # The run's own clean-up settled it; the failure hook took the run's record and did no more.
    assert ACTIVE_RUNS.take(str(state.state_details.flow_run_id)) is None
    listings = [r for r in qc_emulator.requests_log()
                if r["path"] == "/projects/read" and r["project_id"] is None]
    assert listings == []


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
async def test_an_interrupt_in_the_block_cleans_up_and_is_raised_again(
    qc_emulator, credentials, interrupt
):
    with pytest.raises(interrupt):
        async with temporary_project(credentials, "Py", prefix="interrupt-tmp-") as tmp:
            assert tmp.project.project_id
            raise interrupt()
    assert qc_emulator.projects() == []


async def test_an_interrupt_during_the_clean_up_is_raised_after_the_removal(
    qc_emulator, credentials
):
    def interrupted(client: QuantConnectClient, project_id: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        async with temporary_project(credentials, prefix="interrupt-tmp-") as tmp:
            tmp.before_removal(interrupted)
            raise ValueError("the block failed")
    assert qc_emulator.projects() == []


async def test_registered_clean_up_runs_before_the_project_is_removed(qc_emulator, credentials):
    seen: list[str] = []

    def first(client: QuantConnectClient, project_id: int) -> None:
        seen.append(f"first saw {client.projects.read(project_id).name}")

    def failing(client: QuantConnectClient, project_id: int) -> None:
        raise NotFoundError("no backtest to stop")

    def last(client: QuantConnectClient, project_id: int) -> None:
        seen.append("last ran")

    with pytest.raises(ValueError, match="boom"):
        async with temporary_project(
            credentials, prefix="order-tmp-", before_removal=[first]
        ) as tmp:
            tmp.before_removal(failing)  # logged; it does not keep the project
            tmp.before_removal(last)
            raise ValueError("boom")
    assert seen == [f"first saw {tmp.name}", "last ran"]
    assert qc_emulator.projects() == []


async def test_a_clean_up_outlasts_a_burst_that_spends_one_calls_attempts(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    async with temporary_project(credentials, prefix="burst-tmp-") as tmp:
        qc_emulator.inject("http_503_html", path="/projects/delete", count=1)
    # The first round met the fault with its only attempt; the next round removed it.
    assert qc_emulator.projects() == []
    assert tmp.cleanup is not None and "removed 1 project(s)" in tmp.cleanup


async def test_a_block_that_ends_well_but_cannot_remove_its_project_fails(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    with pytest.raises(CleanupError, match="not removed"):
        async with temporary_project(credentials, prefix="stuck-tmp-") as tmp:
            qc_emulator.inject("http_503_html", path="/projects/delete",
                               count=CLEANUP_ROUNDS.max_attempts)
    assert [p["projectId"] for p in qc_emulator.projects()] == [tmp.project_id]
    assert tmp.cleanup is not None and "could not remove" in tmp.cleanup


async def test_a_step_that_makes_the_removal_unsafe_keeps_the_project(qc_emulator, credentials):
    def unsafe(client: QuantConnectClient, project_id: int) -> None:
        raise KeepProjectError("its optimization could not be aborted")

    with pytest.raises(CleanupError, match="not removed"):
        async with temporary_project(credentials, prefix="unsafe-tmp-") as tmp:
            tmp.before_removal(unsafe)
    # Kept for the sweeper, and the run says why.
    assert [p["projectId"] for p in qc_emulator.projects()] == [tmp.project_id]
    assert tmp.cleanup is not None and "could not be aborted" in tmp.cleanup


async def test_a_released_project_is_left_alone(qc_emulator, credentials):
    async with temporary_project(credentials, prefix="kept-tmp-") as tmp:
        tmp.release()
    assert [p["name"] for p in qc_emulator.projects()] == [tmp.name]
    assert tmp.cleanup is None


async def test_a_block_name_that_is_not_saved_says_how_to_save_one_or_use_qc_env(qc_emulator):
    state = await scratch_flow(credentials_block="never-saved-block", return_state=True)
    assert state.is_failed()
    with pytest.raises(ConfigurationError) as raised:
        await state.aresult()
    message = str(raised.value)
    assert "'never-saved-block'" in message
    assert "deployments.setup" in message and "QC_*" in message
    assert "Unable to find block document" not in (state.message or "")
    assert qc_emulator.requests_log() == []


def test_the_sync_look_up_of_a_missing_block_gives_the_same_error():
    with pytest.raises(ConfigurationError, match=r"deployments\.setup"):
        resolve_credentials_sync(None, "never-saved-block")
