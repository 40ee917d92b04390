"""Task-level retries: only transient errors, and never sooner than ``Retry-After`` allows."""

from __future__ import annotations

import pytest
from prefect import flow

from quantconnect_client import BudgetExhaustedError
from tasks import Outcome, Outcomes, authenticate, delete_projects, with_api_retries
from tests.helpers import credentials_for

pytestmark = pytest.mark.anyio


@flow
async def check(credentials) -> bool:
    """Authenticate once, with two task-level retries and no delay between them."""
    return await with_api_retries(authenticate, 2, 0)(credentials)


def attempts(emulator) -> int:
    return len([r for r in emulator.requests_log() if r["path"] == "/authenticate"])


async def test_a_transient_error_is_retried_by_prefect(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.inject("http_502_html", count=2)

    assert await check(credentials) is True
    assert attempts(qc_emulator) == 3


async def test_retry_after_longer_than_the_task_delays_is_not_retried_early(qc_emulator):
    credentials = credentials_for(qc_emulator, max_attempts=1)
    qc_emulator.set_faults(retry_after_seconds=120)
    qc_emulator.inject("http_429", count=3)

    state = await check(credentials, return_state=True)
    assert state.is_failed()
    assert attempts(qc_emulator) == 1


async def test_a_permanent_error_is_not_retried_by_prefect(qc_emulator):
    credentials = credentials_for(qc_emulator, api_token="wrong", max_attempts=1)

    state = await check(credentials, return_state=True)
    assert state.is_failed()
    assert attempts(qc_emulator) == 1


async def test_batch_delete_reports_each_project_and_bounds_concurrency(qc_emulator, credentials):
    client = credentials.get_client()
    ids = [client.projects.create(f"Batch/{i}", "Py").project_id for i in range(6)]
    qc_emulator.set_faults(latency_ms=50)

    @flow
    async def sweep() -> Outcomes:
        deletions = {pid: False for pid in ids} | {99_999_999: False}
        return await delete_projects(credentials, deletions, max_concurrency=3)

    outcome = await sweep()
    assert {pid for pid, result in outcome.items() if result.succeeded} == set(ids)
    missing = outcome[99_999_999]
    assert (missing.succeeded, missing.error_type, missing.retryable) == (
        False, "NotFoundError", False
    )
    assert all(client.projects.read(pid).is_deleted for pid in ids)
    assert qc_emulator.stats()["peak_in_flight"] == 3


async def test_the_client_retries_inside_a_batch_s_pool_threads(qc_emulator, credentials):
    # The client backs off between attempts in the batch's own pool threads, where the task's
    # cancellation check cannot be asked (only AnyIO's worker thread can): the backoff must
    # still run, and the retry succeed, with no Prefect task retry.
    client = credentials.get_client()
    ids = [client.projects.create(f"Batch/backoff-{i}", "Py").project_id for i in range(3)]
    qc_emulator.inject("http_503_html", path="/projects/delete", count=1)

    @flow
    async def sweep() -> Outcomes:
        return await delete_projects.with_options(retries=0)(
            credentials, {pid: False for pid in ids}, max_concurrency=2
        )

    assert await sweep() == {pid: Outcome.ok() for pid in ids}
    deletes = [r for r in qc_emulator.requests_log() if r["path"] == "/projects/delete"]
    assert len(deletes) == 4  # one answered 503, sent again by the client after its backoff


async def test_a_batch_retries_only_the_projects_that_failed_transiently(qc_emulator):
    # No client retries: the 503 reaches the task, which Prefect retries for that project only.
    credentials = credentials_for(qc_emulator, max_attempts=1)
    client = credentials.get_client()
    ids = [client.projects.create(f"Batch/retry-{i}", "Py").project_id for i in range(4)]
    qc_emulator.inject("http_503_html", path="/projects/delete", count=1)

    @flow
    async def sweep() -> Outcomes:
        task = with_api_retries(delete_projects, 2, 0)
        return await task(credentials, {pid: False for pid in ids}, max_concurrency=1)

    assert await sweep() == {pid: Outcome.ok() for pid in ids}
    assert all(client.projects.read(pid).is_deleted for pid in ids)
    deletes = [r for r in qc_emulator.requests_log() if r["path"] == "/projects/delete"]
    # Four deletes, one of them answered 503, then one more for that project on the retry: the
    # retry reads each project and deletes only the one still live (nothing kept in memory).
    assert len(deletes) == 5
    assert [r["project_id"] for r in deletes].count(ids[0]) == 2


async def test_a_retried_batch_reports_typed_outcomes_and_retries_only_what_can_succeed(
    qc_emulator,
):
    # One project is missing (permanent), one meets a 503 on each of its two attempts
    # (transient): the last attempt says which is which, so a flow resubmits only the second.
    # Three 503s: both deletes of the first attempt, then the live project's on the retry (the
    # retry reads the missing one and sends it no delete).
    credentials = credentials_for(qc_emulator, max_attempts=1)
    client = credentials.get_client()
    live = client.projects.create("Batch/typed", "Py").project_id
    qc_emulator.inject("http_503_html", path="/projects/delete", count=3)

    @flow
    async def sweep() -> Outcomes:
        task = with_api_retries(delete_projects, 1, 0)
        return await task(credentials, {99_999_999: False, live: False}, max_concurrency=1)

    outcomes = await sweep()
    assert outcomes[99_999_999].error_type == "NotFoundError"
    assert not outcomes[99_999_999].retryable
    assert outcomes[live].error_type == "ServiceUnavailableError" and outcomes[live].retryable
    resubmit = [pid for pid, outcome in outcomes.items() if outcome.retryable]
    assert resubmit == [live]


async def test_a_task_under_retry_after_59_ends_within_its_budget(qc_emulator):
    # The service asks for a minute between attempts; the task has 3 s. Its thread cannot be
    # stopped by Prefect's timeout, so the client must end the call itself, inside the budget
    # the task gives it, instead of sleeping past the task's timeout.
    credentials = credentials_for(qc_emulator, max_attempts=10)
    qc_emulator.set_faults(retry_after_seconds=59)
    qc_emulator.inject("http_429", count=20)

    @flow
    async def bounded() -> object:
        task = with_api_retries(authenticate, 0, 0).with_options(timeout_seconds=3)
        state = await task(credentials, return_state=True)  # type: ignore[misc]
        return await state.result(raise_on_failure=False)  # type: ignore[misc]

    error = await bounded()
    assert isinstance(error, BudgetExhaustedError), error
    assert attempts(qc_emulator) == 1  # no attempt after a wait longer than what is left
