"""How many Prefect API round trips a flow run costs: the design keeps them few.

Observed with httpx request hooks on the session's own clients (nothing is replaced): the
lifecycle in one :func:`flows.common.session.prefect_api_session` must not build new clients,
fetch a CSRF token, or ask for the server's default result storage.
"""

from __future__ import annotations

import re

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import PrefectClient, get_client
from prefect.context import AsyncClientContext, SyncClientContext

from flows.common.session import prefect_api_session
from flows.projects.forms import LifecycleOptions
from flows.projects.lifecycle import temporary_project_lifecycle

pytestmark = pytest.mark.anyio

ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@flow
async def client_of_the_run() -> PrefectClient:
    return get_client()


async def test_flow_runs_in_one_session_share_one_prefect_client():
    async with prefect_api_session():
        first, second = await client_of_the_run(), await client_of_the_run()
        async with prefect_api_session():  # re-entrant: the same session
            third = await client_of_the_run()
    assert first is second is third
    outside = [await client_of_the_run(), await client_of_the_run()]
    assert outside[0] is not outside[1]  # without a session, every run builds its own


async def test_a_lifecycle_run_in_a_session_makes_six_prefect_api_calls(qc_emulator, credentials):
    options = LifecycleOptions(
        authenticate_first=False, verify_files=False, purge=False, verify_deleted=False
    )
    sent: list[str] = []

    def describe(response: httpx.Response) -> str:
        path = ID.sub("{id}", response.request.url.path).removeprefix("/api")
        return f"{response.status_code} {response.request.method} {path}"

    async def record_async(response: httpx.Response) -> None:
        sent.append(describe(response))

    def record_sync(response: httpx.Response) -> None:
        sent.append(describe(response) + " (sync)")

    async with prefect_api_session():
        await temporary_project_lifecycle(options, credentials)  # warm-up
        async_client = AsyncClientContext.get().client  # type: ignore[union-attr]
        sync_client = SyncClientContext.get().client  # type: ignore[union-attr]
        async_client._client.event_hooks["response"].append(record_async)
        sync_client._client.event_hooks["response"].append(record_sync)
        report = await temporary_project_lifecycle(options, credentials)

    assert report.outcome == "completed"
    # Prefect's client retries a call the server answered "busy" (SQLite locked): not ours.
    answered = [call.split(" ", 1)[1] for call in sent if not call.startswith(("429", "503"))]
    assert answered == [
        "POST /flows/",
        "POST /flow_runs/",
        "POST /flow_runs/{id}/set_state",  # Running
        "GET /flow_runs/{id}",
        "POST /artifacts/",  # the report
        "POST /flow_runs/{id}/set_state",  # Completed
    ], sent
