"""The report of an ``optimize-strategy`` run: what it cost, the best point, a chart, every point.

A person reads it in the Prefect UI, so it says first what happened (the outcome, and for a
refused estimate which bound it broke), then what it cost (node type, nodes, node-hours,
dollars, how long it ran), then the best parameters, the heatmap or line, and the ranked table
of every point. Numbers from the offline emulator carry the same SIMULATED label as a backtest's.

Example:
    >>> report = OptimizationReport(strategy="sma", target="SharpeRatio", target_to="max",
    ...     parameter_names=["fast"], outcome="completed", simulated=True)
    >>> report.rows = [PointRow(parameters={"fast": 5.0}, target=0.4, sharpe=0.4),
    ...                PointRow(parameters={"fast": 10.0}, target=1.2, sharpe=1.2)]
    >>> [row.parameters["fast"] for row in report.ranked()]
    [10.0, 5.0]
    >>> "# ✅ Optimization of sma: completed (SIMULATED)" in report.to_markdown()
    True
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

from flows.backtests.charts import svg_markdown_image
from flows.backtests.report import SIMULATED_LABEL
from flows.common.markdown import fenced, inline
from flows.optimizations.charts import heatmap_svg, line_svg, number
from flows.optimizations.cost import QCC_PER_DOLLAR, CostEstimate

#: A target's name as a person reads it, and whether the optimizer's statistics hold it in
#: percent.
TARGET_LABELS = {
    "SharpeRatio": ("Sharpe Ratio", False),
    "CompoundingAnnualReturn": ("Compounding Annual Return %", True),
    "ProbabilisticSharpeRatio": ("Probabilistic Sharpe Ratio %", True),
    "Drawdown": ("Drawdown %", True),
}
Outcome = Literal["completed", "aborted", "over budget", "timed out", "cancelled", "failed",
                  "regression", "running"]
_ICONS = {"completed": "✅", "regression": "⚠️", "over budget": "🛑", "running": "⏳"}


class PointRow(BaseModel):
    """One point of the optimization: its parameters and what its backtest scored."""

    parameters: dict[str, float] = Field(default_factory=dict)
    backtest_id: str | None = None
    #: The target as the service's statistics hold it (percentages in percent).
    target: float | None = None
    sharpe: float | None = None
    net_profit: float | None = None
    drawdown: float | None = None
    orders: float | None = None
    #: ``ok``, ``failed`` (no results), ``filtered`` (breaks a constraint).
    status: Literal["ok", "failed", "filtered"] = "ok"


class OptimizationReport(BaseModel):
    """What one ``optimize-strategy`` run did (the artifact is its markdown)."""

    strategy: str
    target: str
    target_to: Literal["max", "min"]
    parameter_names: list[str]
    #: The form's ``target_value``: the optimizer ends once a point reaches it.
    target_value: float | None = None
    outcome: Outcome = "running"
    simulated: bool = True
    flow_run_id: str | None = None
    project_id: int | None = None
    compile_id: str | None = None
    optimization_id: str | None = None
    status: str | None = None
    cost: CostEstimate | None = None
    #: What broke the cost guard (a refused estimate starts nothing).
    refused: list[str] = Field(default_factory=list)
    runtime: dict[str, str] = Field(default_factory=dict)
    seconds: float | None = None
    reference: PointRow | None = None
    rows: list[PointRow] = Field(default_factory=list)
    best: PointRow | None = None
    best_backtest_id: str | None = None
    gate_passed: bool | None = None
    error: str | None = None
    cleanup: list[str] = Field(default_factory=list)

    @property
    def target_label(self) -> str:
        """The target as the report names it (``Sharpe Ratio``, ``Drawdown %``)."""
        return TARGET_LABELS.get(self.target, (self.target, False))[0]

    def ranked(self) -> list[PointRow]:
        """The points with a result, best first; then the filtered, then the failed."""
        sign = -1.0 if self.target_to == "max" else 1.0
        order = {"ok": 0, "filtered": 1, "failed": 2}
        return sorted(self.rows, key=lambda r: (
            order[r.status], r.target is None, sign * (r.target or 0.0),
            tuple(r.parameters.get(n, 0.0) for n in self.parameter_names)))

    def chart(self) -> str | None:
        """The heatmap (two parameters vary) or line (one does) as a markdown image."""
        names = self.parameter_names
        rows = [r for r in self.rows if all(n in r.parameters for n in names)]
        if not rows or len(names) not in (1, 2):
            return None
        value = {id(r): (r.target if r.status == "ok" else None) for r in rows}
        best = self.best
        if len(names) == 1:
            (x,) = names
            svg = line_svg({r.parameters[x]: value[id(r)] for r in rows}, x_name=x,
                           target=self.target_label,
                           best=best.parameters.get(x) if best else None)
        else:
            x, y = names
            svg = heatmap_svg(
                {(r.parameters[x], r.parameters[y]): value[id(r)] for r in rows},
                x_name=x, y_name=y, target=self.target_label,
                higher_is_better=self.target_to == "max",
                best=(best.parameters[x], best.parameters[y]) if best else None,
            )
        return svg_markdown_image(svg, f"{self.target_label} by {', '.join(names)}")

    def table(self) -> list[dict[str, object]]:
        """The ranked points as table rows (a table artifact, or the markdown's table)."""
        rows: list[dict[str, object]] = []
        for rank, row in enumerate(self.ranked(), start=1):
            cells: dict[str, object] = {"Rank": rank if row.status == "ok" else "-"}
            for name in self.parameter_names:
                cells[name] = number(row.parameters[name]) if name in row.parameters else ""
            cells[self.target_label] = ("" if row.target is None
                                        else number(round(row.target, 4)))
            # The headline statistics besides the target (not twice when it is one of them).
            for label, value in (("Sharpe Ratio", row.sharpe), ("Net Profit %", row.net_profit),
                                 ("Drawdown %", row.drawdown)):
                if label != self.target_label:
                    cells[label] = "" if value is None else number(round(value, 3))
            cells["Status"] = row.status
            rows.append(cells)
        return rows

    def stopped_at_target(self) -> bool:
        """Whether the optimization completed before its every point ran: its target value
        was reached (LEAN's optimizer ends there), not a partial result.

        Example:
            >>> made = OptimizationReport(strategy="s", target="SharpeRatio", target_to="max",
            ...                           parameter_names=["a"], target_value=1.5,
            ...                           status="completed",
            ...                           runtime={"Completed": "2", "Failed": "0", "Total": "8"})
            >>> made.stopped_at_target()
            True
        """
        if self.target_value is None or self.status != "completed":
            return False
        try:
            done = int(self.runtime.get("Completed", "0")) + int(self.runtime.get("Failed", "0"))
            return done < int(self.runtime.get("Total", "0"))
        except ValueError:
            return False

    def to_markdown(self) -> str:
        """The report as markdown for the Prefect UI."""
        icon = _ICONS.get(self.outcome, "❌")
        lines = [f"# {icon} Optimization of {inline(self.strategy)}: {self.outcome}"
                 + (" (SIMULATED)" if self.simulated else ""), ""]
        if self.simulated:
            lines += [f"> {SIMULATED_LABEL}", ""]
        if self.refused:
            lines += ["**Not started: the estimate is over the cost guard.** "
                      + "; ".join(inline(r) for r in self.refused) + ".", ""]
        if self.error:
            lines += ["**Error:**", "", *fenced(self.error), ""]
        wanted = "" if self.target_value is None else f", stop at {number(self.target_value)}"
        facts = [("Target", f"{self.target_label} ({self.target_to}{wanted})"),
                 ("Project", str(self.project_id or "")),
                 ("Optimization", self.optimization_id or "not started"),
                 ("Status", self.status or "")]
        if self.cost is not None:
            c = self.cost
            facts += [("Nodes", f"{c.parallel_nodes} x {c.node_type}"),
                      ("Backtests", str(c.backtests)),
                      ("Estimated", f"{c.node_hours:g} node-hours, {c.wall_hours:g} h of wall "
                                    f"time, ${c.dollars:.2f}")]
            if c.balance_qcc is not None:
                facts.append(("Balance", _qcc(c.balance_qcc)))
        for key in ("Completed", "Failed", "Total", "Total Runtime"):
            if key in self.runtime:
                facts.append((key, self.runtime[key]))
        if "Consumed" in self.runtime:
            facts.append(("Consumed", _qcc(self.runtime["Consumed"])))
        if self.stopped_at_target():
            facts.append(("Ended", "early: a point reached the target value, so the optimizer "
                                   "ran no more (fewer than the total)"))
        if self.seconds is not None:
            facts.append(("Run time", f"{self.seconds:.1f} s from start to results"))
        lines += ["| | |", "|---|---|", *(f"| {k} | {inline(v)} |" for k, v in facts), ""]
        if self.best is not None:
            shown = ", ".join(f"{k}={number(v)}" for k, v in self.best.parameters.items())
            lines += [f"**Best parameters:** {inline(shown)} ({self.target_label} "
                      f"{number(round(self.best.target or 0.0, 4))})", ""]
            if self.best_backtest_id:
                verdict = ("" if self.gate_passed is None else " — gate passed"
                           if self.gate_passed else " — gate found a regression")
                lines += [f"Re-run as backtest {inline(self.best_backtest_id)}{verdict}.", ""]
        elif self.rows:
            lines += ["**No point qualifies** (every one failed or broke a constraint).", ""]
        if self.reference is not None and self.reference.target is not None:
            lines += [f"Reference backtest (the fixed parameters): {self.target_label} "
                      f"{number(round(self.reference.target, 4))}.", ""]
        image = self.chart()
        if image:
            lines += [image, ""]
        table = self.table()
        if table:
            header = list(table[0])
            lines += ["| " + " | ".join(inline(h) for h in header) + " |",
                      "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(inline(row[h]) for h in header) + " |" for row in table]
            lines.append("")
        if self.cleanup:
            lines += ["**Clean-up:** " + "; ".join(inline(c) for c in self.cleanup), ""]
        return "\n".join(lines)


def _qcc(amount: str | float) -> str:
    """A QCC amount (the service's ``Consumed`` is a string, the balance a number) with its unit
    and in dollars, next to the estimate's dollars; as given when it is not a number.

    Example:
        >>> _qcc("250.00"), _qcc("0.25"), _qcc(0), _qcc("n/a")
        ('250 QCC ($2.50)', '0.25 QCC (under $0.01)', '0 QCC ($0.00)', 'n/a')
        >>> _qcc(1234567.25)
        '1,234,567.25 QCC ($12,345.67)'
    """
    try:
        qcc = float(amount)
    except ValueError:
        return str(amount)
    if not math.isfinite(qcc) or qcc < 0:  # not an amount to convert
        return str(amount)
    dollars = qcc / QCC_PER_DOLLAR
    shown = "under $0.01" if 0 < dollars < 0.005 else f"${dollars:,.2f}"
    # At most two decimals and no exponent, whatever the size: "1,234,567.5", not "1.23457e+06".
    written = f"{qcc:,.2f}".rstrip("0").rstrip(".")
    return f"{written} QCC ({shown})"
