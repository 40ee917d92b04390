"""``monitor-live`` in real Prefect against the emulator: a quiet run, each alarm and its
event read back from the Prefect server, actions only when asked and only on the selected
algorithms, a transient fault read as "unknown" (never "stopped"), the request cost, and no
secret in events or artifacts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio
import pytest
import requests

from flows.live.forms import MonitorLiveOptions
from flows.live.monitor import monitor_live_flow
from tests.flows.backtests.helpers import artifact_markdown, artifacts_of, paths
from tests.flows.conftest import FAST_RETRIES
from tests.flows.live.helpers import (
    LOSING_QUARTER,
    deploy,
    equity_points,
    events_since,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_server")]

KEY = "quantconnect-live-monitor"


@pytest.fixture
def quick(emulator):
    emulator.set_jobs(live_queue_seconds=0.1, live_initializing_seconds=0.1,
                      live_day_seconds=0.2, live_nodes=4)
    return emulator


def _options(**fields) -> MonitorLiveOptions:
    return MonitorLiveOptions(retries=FAST_RETRIES, **fields)


def _since() -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=2)


def _ends(quick) -> list[str]:
    return paths(quick, "/live/update/stop", "/live/update/liquidate")


async def _run(options: MonitorLiveOptions, credentials):
    state = await monitor_live_flow(options, credentials=credentials, return_state=True)
    report = await state.aresult()
    return report, str(state.state_details.flow_run_id)


async def test_a_healthy_algorithm_raises_nothing_and_is_one_row(quick, credentials):
    project_id = deploy(credentials, "Live/healthy")
    await anyio.sleep(0.5)
    before = len(quick.requests_log())
    report, run_id = await _run(_options(max_drawdown_percent=90), credentials)
    assert [(r.project_id, r.status, r.alarms) for r in report.rows] == [
        (project_id, "Running", [])]
    row = report.rows[0]
    assert row.equity and row.last_log_age_minutes is not None and row.daily_pnl is not None
    # Projects and live algorithms listed once, then the chart and the logs.
    assert len(quick.requests_log()) - before <= 2 + 3
    [table] = [a for a in await artifacts_of(run_id) if a.key == KEY]
    assert "Live/healthy" in str(table.data) and "ok" in str(table.data)
    assert not [a for a in await artifacts_of(run_id) if a.key == f"{KEY}-alarms"]


async def test_the_cost_is_two_lists_and_at_most_three_reads_per_algorithm(quick, credentials):
    quick.set_jobs(live_day_seconds=0.01)  # 100 log lines a second: past one page of 250
    ids = [deploy(credentials, f"Live/cost-{i}") for i in range(3)]
    await anyio.sleep(3)
    before = len(quick.requests_log())
    report, _ = await _run(_options(stale_minutes=None), credentials)
    assert sorted(r.project_id for r in report.rows) == sorted(ids)
    made = [r["path"].split("/api/v2")[-1] for r in quick.requests_log()[before:]]
    assert made.count("/projects/read") == 1 and made.count("/live/list") == 1
    assert made.count("/live/chart/read") == 3 and made.count("/live/logs/read") == 6
    assert len(made) == 2 + 3 * 3


@pytest.mark.parametrize(("control", "finding"), [("force-error", "runtime-error"),
                                                  ("force-stop", "stopped")])
async def test_an_ended_algorithm_raises_its_alarm_and_event(quick, credentials, control,
                                                            finding):
    since = _since()
    project_id = deploy(credentials, f"Live/{finding}")
    requests.post(f"{quick.control_url}/live/{control}", timeout=5,
                  json={"projectId": project_id, "message": "division by zero"}).raise_for_status()
    report, run_id = await _run(_options(on_alarm="stop"), credentials)
    [row] = report.rows
    assert [a.finding for a in row.alarms] == [finding]
    assert _ends(quick) == []  # an ended algorithm has nothing to stop
    [event] = await events_since(since, project_id)
    assert event.event == f"quantconnect.live.{finding}"
    assert event.resource["quantconnect.project-id"] == str(project_id)
    assert event.payload["reason"] == row.alarms[0].reason
    if finding == "runtime-error":
        assert "division by zero" in event.payload["reason"]
    markdown = await artifact_markdown(run_id, f"{KEY}-alarms")
    assert finding in markdown


async def test_an_old_ending_raises_no_alarm_and_shows_only_when_named(quick, credentials):
    project_id = deploy(credentials, "Live/old")
    requests.post(f"{quick.control_url}/live/force-stop", timeout=5,
                  json={"projectId": project_id}).raise_for_status()
    await anyio.sleep(1.5)
    unnamed, _ = await _run(_options(ended_alarm_minutes=0.01), credentials)
    assert unnamed.rows == []
    named, _ = await _run(_options(project_ids=[project_id], ended_alarm_minutes=0.01),
                          credentials)
    assert [(r.status, r.alarms) for r in named.rows] == [("Stopped", [])]


async def test_an_algorithm_that_went_quiet_raises_stale_alarms_and_nothing_is_done(
        quick, credentials):
    quick.set_jobs(live_day_seconds=3600)  # one day, one point: nothing new after that
    since = _since()
    project_id = deploy(credentials, "Live/quiet")
    await anyio.sleep(1.5)
    report, _ = await _run(_options(stale_minutes=0.01), credentials)
    [row] = report.rows
    assert {a.finding for a in row.alarms} == {"stale-logs", "stale-equity"}
    assert _ends(quick) == []
    events = await events_since(since, project_id, at_least=2)
    assert sorted(e.event for e in events) == ["quantconnect.live.stale-equity",
                                               "quantconnect.live.stale-logs"]


async def test_drawdown_and_daily_loss_limits_raise_their_alarms(quick, credentials):
    quick.set_jobs(live_day_seconds=0.02)
    since = _since()
    project_id = deploy(credentials, "Live/losing", LOSING_QUARTER)
    points = equity_points(credentials, project_id)
    peak, first, last = max(v for _, v in points), points[0][1], points[-1][1]
    drawdown, loss = (peak - last) / peak * 100, first - last
    assert drawdown > 0 and loss > 0  # what this quarter's simulation gives
    report, run_id = await _run(_options(max_drawdown_percent=drawdown / 2,
                                         max_daily_loss=loss / 2), credentials)
    [row] = report.rows
    assert {a.finding for a in row.alarms} == {"drawdown", "daily-loss"}
    assert row.drawdown_percent == pytest.approx(drawdown)
    assert row.daily_pnl == pytest.approx(-loss)
    assert _ends(quick) == []  # on_alarm defaults to none
    events = await events_since(since, project_id, at_least=2)
    assert sorted(e.event for e in events) == ["quantconnect.live.daily-loss",
                                               "quantconnect.live.drawdown"]
    markdown = await artifact_markdown(run_id, f"{KEY}-alarms")
    assert "data:image/svg+xml;base64," in markdown
    # Limits above what happened: no alarm.
    quiet, _ = await _run(_options(max_drawdown_percent=drawdown * 2,
                                   max_daily_loss_percent=loss / first * 200), credentials)
    assert quiet.rows[0].alarms == []


async def test_ages_are_measured_on_the_services_clock(quick, credentials):
    # The service's clock hours ahead of this machine's (the emulator's clock moved on, as a
    # long test session moves it): its log lines are not "from the future", they are quiet.
    quick.advance(7 * 3600)
    quick.set_jobs(live_day_seconds=3600)
    deploy(credentials, "Live/ahead")
    await anyio.sleep(1.5)
    report, _ = await _run(_options(stale_minutes=0.01), credentials)
    [row] = report.rows
    assert row.last_log_age_minutes is not None and 0.01 < row.last_log_age_minutes < 60
    assert {a.finding for a in row.alarms} == {"stale-logs", "stale-equity"}


@pytest.mark.parametrize("on_alarm", ["stop", "liquidate"])
async def test_actions_only_when_asked_and_only_on_the_selected(quick, credentials, on_alarm):
    quick.set_jobs(live_day_seconds=3600)
    chosen, other = deploy(credentials, "Live/a"), deploy(credentials, "Live/b")
    await anyio.sleep(1.5)
    report, _ = await _run(_options(project_ids=[chosen], stale_minutes=0.01,
                                    on_alarm=on_alarm), credentials)
    assert [r.project_id for r in report.rows] == [chosen]
    assert report.rows[0].action == {"stop": "stopped", "liquidate": "liquidated"}[on_alarm]
    assert _ends(quick) == [f"/live/update/{on_alarm}"]
    statuses = {a.project_id: a.status for a in credentials.get_client().live.list()}
    assert statuses == {chosen: {"stop": "Stopped", "liquidate": "Liquidated"}[on_alarm],
                        other: "Running"}


async def test_a_name_pattern_selects_by_project_name(quick, credentials):
    wanted = deploy(credentials, "Live/momentum")
    deploy(credentials, "Other/momentum")
    report, _ = await _run(_options(name_pattern="Live/*"), credentials)
    assert [(r.project_id, r.project_name) for r in report.rows] == [(wanted, "Live/momentum")]


@pytest.mark.parametrize("path", ["/live/chart/read", "/live/logs/read"])
async def test_a_failed_read_is_unknown_never_stopped_and_never_acted_on(quick, credentials,
                                                                        path):
    quick.set_jobs(live_day_seconds=3600)
    since = _since()
    project_id = deploy(credentials, "Live/flaky")
    await anyio.sleep(1.5)
    quick.inject("http_503_html", path=path, count=100)
    report, _ = await _run(_options(stale_minutes=60, on_alarm="stop"), credentials)
    [row] = report.rows
    assert row.status == "Running"
    assert [a.finding for a in row.alarms] == ["unknown"]
    assert _ends(quick) == []
    [event] = await events_since(since, project_id)
    assert event.event == "quantconnect.live.unknown"


async def test_a_failed_list_is_unknown_for_the_named_projects(quick, credentials):
    since = _since()
    project_id = deploy(credentials, "Live/unlisted")
    quick.inject("http_502_html", path="/live/list", count=100)
    report, _ = await _run(_options(project_ids=[project_id], on_alarm="liquidate"),
                           credentials)
    assert [(r.project_id, r.status, [a.finding for a in r.alarms]) for r in report.rows] == [
        (project_id, "unknown", ["unknown"])]
    assert _ends(quick) == []
    [event] = await events_since(since, project_id)
    assert event.event == "quantconnect.live.unknown"
    inspected = requests.get(f"{quick.control_url}/live", timeout=5).json()
    assert [d["status"] for d in inspected["deployments"]] == ["Running"]


async def test_the_token_is_in_no_event_and_no_artifact(quick, credentials):
    since = _since()
    deploy(credentials, "Live/secret")
    requests.post(f"{quick.control_url}/live/force-error", timeout=5,
                  json={"projectId": credentials.get_client().live.list()[0].project_id})
    _, run_id = await _run(_options(), credentials)
    token = credentials.api_token.get_secret_value()
    texts = [e.model_dump_json() for e in await events_since(since)]
    texts += [str(a.data) for a in await artifacts_of(run_id)]
    assert texts and all(token not in text for text in texts)
