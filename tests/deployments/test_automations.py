"""The example automation of ``deployments/automations``: a valid automation for
``prefect automation create --from-file`` whose trigger covers the events monitor-live emits."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore
from prefect.server.events.schemas.automations import EventTrigger
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.types._datetime import now

from flows.live.monitor import finding_event
from flows.live.report import Alarm, Finding, MonitorRow

ALARM = Path(__file__).parents[2] / "deployments" / "automations" / "live-alarm.yaml"
FINDINGS: tuple[Finding, ...] = ("runtime-error", "stopped", "stale-logs", "stale-equity",
                                 "drawdown", "daily-loss", "unknown")


def _event(finding: Finding) -> ReceivedEvent:
    """The event monitor-live emits for a finding."""
    row = MonitorRow(project_id=42, project_name="Live/sma", deploy_id="L-1", status="Running")
    fields = finding_event(row, Alarm(finding=finding, reason="why"), simulated=True)
    return ReceivedEvent(occurred=now("UTC"), id=uuid.uuid4(), **fields)


def test_the_file_is_an_automation_that_sends_a_notification() -> None:
    automation = AutomationCore.model_validate(yaml.safe_load(ALARM.read_text()))
    [action] = automation.actions
    assert isinstance(action, SendNotification)
    assert "event.payload.reason" in action.body
    assert "prefect automation create --from-file" in ALARM.read_text()


@pytest.mark.parametrize("finding", FINDINGS)
def test_its_trigger_covers_every_monitor_event(finding: Finding) -> None:
    trigger = EventTrigger.model_validate(yaml.safe_load(ALARM.read_text())["trigger"])
    event = _event(finding)
    assert event.event == f"quantconnect.live.{finding}"
    assert trigger.covers(event)
    other = event.model_copy(update={"event": "prefect.flow-run.Completed"})
    assert not trigger.covers(other)
