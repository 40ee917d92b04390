"""The reports of the live flows.

``deploy-live``: paper or real money first, then what happened. A person reads it in the
Prefect UI before anything else about the run, so its first line says in plain words whether
the algorithm trades real money, then the outcome, the project, the deployment, the gate's
verdict, a replaced algorithm, and the last log lines of a deploy that did not reach
``Running``. The service's text (logs, errors) is data, never markdown.

``monitor-live``: one :class:`MonitorRow` per algorithm (the table artifact) with its
:class:`Alarm` findings, and a markdown artifact with each alarmed algorithm's equity chart.
``stop-live``: one :class:`StopRow` per algorithm it stopped (or would stop, in a dry run).

Example:
    >>> report = DeployReport(strategy="sma", brokerage="QuantConnectBrokerage", paper=True,
    ...                       outcome="running", simulated=True)
    >>> report.to_markdown().splitlines()[0]
    '# ✅ Live deploy of sma: running — PAPER TRADING (no real money) (SIMULATED)'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from flows.backtests.charts import equity_svg, svg_markdown_image
from flows.backtests.gate import GateResult
from flows.backtests.report import SIMULATED_LABEL
from flows.common.markdown import fenced, inline

Outcome = Literal["running", "refused", "regression", "deploy failed", "timed out",
                  "cancelled", "failed", "pending"]
_ICONS = {"running": "✅", "regression": "⚠️", "refused": "🛑", "pending": "⏳"}


class DeployReport(BaseModel):
    """What one ``deploy-live`` run did (the artifact is its markdown)."""

    strategy: str
    brokerage: str
    paper: bool
    outcome: Outcome = "pending"
    simulated: bool = True
    flow_run_id: str | None = None
    project_id: int | None = None
    compile_id: str | None = None
    backtest_id: str | None = None
    gate: GateResult | None = None
    replaced: str | None = None
    deploy_id: str | None = None
    node_id: str | None = None
    status: str | None = None
    message: str | None = None
    logs: list[str] = Field(default_factory=list)
    error: str | None = None
    cleanup: list[str] = Field(default_factory=list)

    @property
    def money(self) -> str:
        """Paper or real money, in plain words."""
        return ("PAPER TRADING (no real money)" if self.paper
                else f"REAL MONEY with {self.brokerage}")

    def to_markdown(self) -> str:
        """The artifact's markdown."""
        icon = _ICONS.get(self.outcome, "❌")
        title = f"# {icon} Live deploy of {inline(self.strategy)}: {self.outcome} — {self.money}"
        lines = [title + (" (SIMULATED)" if self.simulated else ""), ""]
        if not self.paper:
            lines += [f"**This live algorithm trades REAL MONEY through {inline(self.brokerage)}"
                      ".**", ""]
        if self.simulated:
            lines += [SIMULATED_LABEL, ""]
        facts = [("Project", self.project_id), ("Compile", self.compile_id),
                 ("Gate backtest", self.backtest_id), ("Replaced live algorithm", self.replaced),
                 ("Live algorithm", self.deploy_id), ("Live node", self.node_id),
                 ("Status", self.status), ("Message", self.message),
                 ("Flow run", self.flow_run_id)]
        lines += [f"- {name}: {inline(value)}" for name, value in facts if value not in (None, "")]
        if self.error:
            lines += ["", "## Error", "", *fenced(self.error)]
        if self.gate is not None:
            lines += ["", self.gate.to_markdown()]
        if self.logs:
            lines += ["", "## Last log lines", "", *fenced("\n".join(self.logs))]
        if self.cleanup:
            lines += ["", "## Clean-up", "", *(f"- {inline(c)}" for c in self.cleanup)]
        return "\n".join(lines) + "\n"


#: What the monitor can find; the event of a finding is ``quantconnect.live.<finding>``.
Finding = Literal["runtime-error", "stopped", "stale-logs", "stale-equity", "drawdown",
                  "daily-loss", "unknown"]
#: Findings on a running algorithm that ``on_alarm`` acts on (the others have ended already,
#: or say that the reading failed: never a reason to stop anything).
ACTIONABLE: frozenset[str] = frozenset({"stale-logs", "stale-equity", "drawdown", "daily-loss"})


class Alarm(BaseModel):
    """One finding on one live algorithm, in words a person (and an automation) can use."""

    finding: Finding
    reason: str


class MonitorRow(BaseModel):
    """One live algorithm as one ``monitor-live`` run saw it."""

    project_id: int
    project_name: str | None = None
    deploy_id: str | None = None
    status: str = "unknown"
    equity: float | None = None
    drawdown_percent: float | None = None
    daily_pnl: float | None = None
    last_log_age_minutes: float | None = None
    alarms: list[Alarm] = Field(default_factory=list)
    action: str | None = None
    #: The equity points read this run (for the alarm's chart; not in the table).
    points: list[tuple[float, float]] = Field(default_factory=list, exclude=True)

    @property
    def label(self) -> str:
        """The project as the table names it."""
        return f"{self.project_name} ({self.project_id})" if self.project_name \
            else str(self.project_id)

    def table_row(self) -> dict[str, str]:
        """The row of the table artifact (every cell text, so the UI shows it as is)."""
        def number(value: float | None, fmt: str) -> str:
            return "" if value is None else format(value, fmt)

        return {
            "project": self.label, "status": self.status,
            "equity": number(self.equity, ",.2f"),
            "drawdown %": number(self.drawdown_percent, ".2f"),
            "daily P&L": number(self.daily_pnl, ",.2f"),
            "last log (min ago)": number(self.last_log_age_minutes, ".1f"),
            "findings": "; ".join(f"{a.finding}: {a.reason}" for a in self.alarms) or "ok",
            "action": self.action or "",
        }


class MonitorReport(BaseModel):
    """What one ``monitor-live`` run found (its artifacts are the table and the alarm charts)."""

    rows: list[MonitorRow] = Field(default_factory=list)
    simulated: bool = True

    @property
    def alarms(self) -> list[tuple[MonitorRow, Alarm]]:
        """Every finding, with its algorithm."""
        return [(row, alarm) for row in self.rows for alarm in row.alarms]

    def alarm_markdown(self) -> str:
        """One section per algorithm with a finding: its findings and equity chart."""
        lines = ["# Live algorithm alarms", ""]
        if self.simulated:
            lines += [SIMULATED_LABEL, ""]
        for row in self.rows:
            if not row.alarms:
                continue
            lines += [f"## {inline(row.label)}: {inline(row.status)}", ""]
            lines += [f"- **{a.finding}**: {inline(a.reason)}" for a in row.alarms]
            if row.action:
                lines.append(f"- action: {inline(row.action)}")
            if len(row.points) >= 2:
                svg = equity_svg(row.points, title=f"Equity of {row.label}")
                lines += ["", svg_markdown_image(svg, f"equity of {row.label}")]
            lines.append("")
        return "\n".join(lines) + "\n"


class StopRow(BaseModel):
    """One live algorithm as one ``stop-live`` run left it."""

    project_id: int
    project_name: str | None = None
    deploy_id: str
    status: str | None = None
    outcome: Literal["stopped", "liquidated", "was not running", "would stop",
                     "would liquidate", "failed"]
    error: str | None = None

    def table_row(self) -> dict[str, str]:
        """The row of the table artifact."""
        project = (f"{self.project_name} ({self.project_id})" if self.project_name
                   else str(self.project_id))
        return {"project": project, "live algorithm": self.deploy_id,
                "status before": self.status or "", "outcome": self.outcome,
                "error": self.error or ""}


class StopReport(BaseModel):
    """What one ``stop-live`` run did."""

    dry_run: bool = False
    liquidate: bool = False
    rows: list[StopRow] = Field(default_factory=list)
