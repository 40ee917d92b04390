"""The report of a ``deploy-live`` run: paper or real money first, then what happened.

A person reads it in the Prefect UI before anything else about the run, so its first line says
in plain words whether the algorithm trades real money, then the outcome, the project, the
deployment, the gate's verdict, a replaced algorithm, and the last log lines of a deploy that
did not reach ``Running``. The service's text (logs, errors) is data, never markdown.

Example:
    >>> report = DeployReport(strategy="sma", brokerage="QuantConnectBrokerage", paper=True,
    ...                       outcome="running", simulated=True)
    >>> report.to_markdown().splitlines()[0]
    '# ✅ Live deploy of sma: running — PAPER TRADING (no real money) (SIMULATED)'
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
