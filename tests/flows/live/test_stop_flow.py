"""``stop-live`` in real Prefect against the emulator: the selection guard (no stop request
without the confirmation), a dry run that stops nothing, stop and liquidate of the selected
algorithms only, and the table artifact."""

from __future__ import annotations

import pytest
from prefect.exceptions import ParameterTypeError

from flows.live.forms import StopLiveOptions
from flows.live.stop import SelectionGuardError, stop_live_flow
from tests.flows.backtests.helpers import artifacts_of, paths
from tests.flows.conftest import FAST_RETRIES
from tests.flows.live.helpers import deploy

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]


@pytest.fixture
def quick(emulator):
    emulator.set_jobs(live_queue_seconds=0.1, live_initializing_seconds=0.1,
                      live_day_seconds=0.2, live_nodes=3)
    return emulator


def _ends(quick) -> list[str]:
    return paths(quick, "/live/update/stop", "/live/update/liquidate")


def _statuses(credentials) -> dict[int | None, str | None]:
    return {a.project_id: a.status for a in credentials.get_client().live.list()}


@pytest.mark.parametrize("fields", [{}, {"name_pattern": "*"}, {"name_pattern": "**"},
                                    {"liquidate": True}],
                         ids=["empty", "star", "double-star", "liquidate"])
async def test_a_match_all_selection_is_refused_before_any_request(quick, credentials, fields):
    deploy(credentials, "Live/a")
    before = len(quick.requests_log())
    with pytest.raises(ParameterTypeError, match="all_algorithms"):
        await stop_live_flow(options=fields, credentials=credentials)
    assert len(quick.requests_log()) == before and _ends(quick) == []


async def test_a_pattern_that_takes_every_running_algorithm_is_refused(quick, credentials):
    deploy(credentials, "Live/a")
    deploy(credentials, "Live/b")
    with pytest.raises(SelectionGuardError, match="all_algorithms"):
        await stop_live_flow(StopLiveOptions(name_pattern="Live/*"), credentials=credentials)
    assert _ends(quick) == []
    assert set(_statuses(credentials).values()) == {"Running"}


async def test_a_dry_run_of_everything_stops_nothing(quick, credentials):
    a, b = deploy(credentials, "Live/a"), deploy(credentials, "Live/b")
    report = await stop_live_flow(StopLiveOptions(dry_run=True), credentials=credentials)
    assert [(r.project_id, r.outcome) for r in report.rows] == [(a, "would stop"),
                                                                (b, "would stop")]
    assert _ends(quick) == []


@pytest.mark.parametrize(("liquidate", "status"), [(False, "Stopped"), (True, "Liquidated")])
async def test_only_the_selected_algorithms_are_ended(quick, credentials, liquidate, status):
    a, b = deploy(credentials, "Live/a"), deploy(credentials, "Other/b")
    state = await stop_live_flow(StopLiveOptions(name_pattern="Live/*", liquidate=liquidate,
                                                 retries=FAST_RETRIES),
                                 credentials=credentials, return_state=True)
    report = await state.aresult()
    assert [(r.project_id, r.outcome) for r in report.rows] == [
        (a, "liquidated" if liquidate else "stopped")]
    assert _ends(quick) == [f"/live/update/{'liquidate' if liquidate else 'stop'}"]
    assert _statuses(credentials) == {a: status, b: "Running"}
    [table] = [x for x in await artifacts_of(str(state.state_details.flow_run_id))
               if x.key == "quantconnect-live-stop"]
    assert "Live/a" in str(table.data) and "Other/b" not in str(table.data)


async def test_every_algorithm_when_confirmed_and_by_project_ids(quick, credentials):
    a, b = deploy(credentials, "Live/a"), deploy(credentials, "Live/b")
    report = await stop_live_flow(StopLiveOptions(project_ids=[b]), credentials=credentials)
    assert [r.project_id for r in report.rows] == [b]
    c = deploy(credentials, "Live/c")
    report = await stop_live_flow(StopLiveOptions(all_algorithms=True),
                                  credentials=credentials)
    assert [r.project_id for r in report.rows] == [a, c]
    assert set(_statuses(credentials).values()) == {"Stopped"}
