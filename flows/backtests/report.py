"""The typed report of a backtest run and its markdown artifact.

The markdown puts what a person looks for first: the outcome, the headline statistics (Sharpe,
CAR, drawdown, net profit, PSR, orders, win rate), then the equity chart, the gate's verdict, all
statistics, the runtime statistics and what was cleaned up. Against QuantConnect itself it links
the backtest; against anything else it says, in the title and in bold, that the results were
simulated by the offline emulator, so nobody mistakes them for LEAN's.

Example:
    >>> report = BacktestReport(strategy="sma_crossover_py", outcome="completed",
    ...     statistics={"Sharpe Ratio": "0.19", "Drawdown": "38.900%"}, simulated=True)
    >>> print(report.to_markdown().splitlines()[0])
    # ✅ Backtest sma_crossover_py: completed (SIMULATED)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from flows.backtests.gate import LOWER_IS_BETTER, GateResult
from flows.common.markdown import fenced, inline
from quantconnect_client import DEFAULT_BASE_URL, Insight, QuantConnectError, ValidationError
from quantconnect_client.excerpt import excerpt, excerpt_lines
from quantconnect_client.parameters import lean_text
from quantconnect_client.validation import validate_job_id
from tasks.backtests import MAX_READ_INSIGHTS as TASK_MAX_READ_INSIGHTS

#: The report's first table, in this order (LEAN's statistic names).
HEADLINE_STATISTICS: tuple[str, ...] = (
    "Sharpe Ratio",
    "Compounding Annual Return",
    "Drawdown",
    "Net Profit",
    "Probabilistic Sharpe Ratio",
    "Total Orders",
    "Win Rate",
)
SIMULATED_LABEL = (
    "**SIMULATED by the offline emulator**: these numbers were not produced by LEAN and say "
    "nothing about the strategy."
)
BACKTEST_LINK = "https://www.quantconnect.com/project/{project_id}/{backtest_id}"
_REAL_HOST = urlsplit(DEFAULT_BASE_URL).hostname

Outcome = Literal[
    "running",
    "completed",
    "regression",
    "build error",
    "runtime error",
    "timed out",
    "cancelled",
    "failed",
]
_ICONS: dict[str, str] = {
    "running": "⏳",
    "completed": "✅",
    "regression": "📉",
    "build error": "🛠️",
    "runtime error": "💥",
    "timed out": "⌛",
    "cancelled": "🚫",
    "failed": "❌",
}


def is_real_service(base_url: str) -> bool:
    """Whether ``base_url`` is QuantConnect itself (anything else is treated as simulated).

    Example:
        >>> is_real_service("https://www.quantconnect.com/api/v2"), is_real_service(
        ...     "http://127.0.0.1:8123/api/v2")
        (True, False)
    """
    parts = urlsplit(base_url)
    return parts.scheme == "https" and parts.hostname == _REAL_HOST


def backtest_link(base_url: str, project_id: int | None, backtest_id: str | None) -> str | None:
    """The backtest's page on quantconnect.com, only when the results come from there."""
    if project_id is None or not backtest_id or not is_real_service(base_url):
        return None
    try:
        validate_job_id(backtest_id)  # the id goes into a markdown link: nothing but an id
    except ValidationError:
        return None
    return BACKTEST_LINK.format(project_id=project_id, backtest_id=backtest_id)


#: Characters of a stack trace rendered (a trace is longer than an error, and more useful whole).
MAX_STACKTRACE_CHARACTERS = 10_000
#: Characters of a grid set's error in the summary (one line per failed set).
MAX_ROW_ERROR_CHARACTERS = 500
#: Characters of one value in a table or a list (a statistic, a status, a clean-up step).
MAX_CELL_CHARACTERS = 500


def _cell(text: object) -> str:
    return inline(excerpt(str(text), MAX_CELL_CHARACTERS, whole="the typed report"))


def _error(text: str, whole: str) -> str:
    """A run's error for the report: bounded, and plain text in its line."""
    return inline(excerpt(text, whole=whole))


def _table(rows: list[tuple[str, str]], header: tuple[str, str]) -> list[str]:
    lines = [f"| {header[0]} | {header[1]} |", "| --- | ---: |"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in rows]
    return lines


def shown_parameters(parameters: Mapping[str, str | int | float]) -> str:
    """Parameters as LEAN got them (its text: ``10.0`` reaches the algorithm as ``10``).

    Example:
        >>> shown_parameters({"slow": "30", "fast": 10.0})
        'fast=10, slow=30'
    """
    return ", ".join(f"{k}={lean_text(v)}" for k, v in sorted(parameters.items()))


#: Keys of the Object Store sync the report lists (the sync's own table artifact has them all).
MAX_LISTED_SYNC_CHANGES = 20
#: Insights listed one per row in the report (the summary counts them all).
MAX_LISTED_INSIGHTS = 20
#: Insights a report reads at most (the task's default, ten pages of 100): a report counts
#: "at least" beyond.
MAX_READ_INSIGHTS = TASK_MAX_READ_INSIGHTS


class InsightSummary(BaseModel):
    """A backtest's insights in brief: counts, how many pointed the right way, the first few.

    Example:
        >>> from quantconnect_client import Insight
        >>> summary = InsightSummary.of([
        ...     Insight(id="a" * 32, direction="up", score_final=True, score_direction=1.0),
        ...     Insight(id="b" * 32, direction="down", score_final=True, score_direction=0.0)])
        >>> summary.count, summary.by_direction, summary.direction_hit_rate
        (2, {'down': 1, 'up': 1}, 0.5)
    """

    count: int
    capped: bool = Field(
        default=False, description="Only the first `count` were read: the backtest may have more."
    )
    by_direction: dict[str, int] = Field(default_factory=dict)
    scored: int = Field(default=0, description="Insights whose score is final.")
    direction_hit_rate: float | None = Field(
        default=None, description="Mean final direction score (1: every one pointed right)."
    )
    first: list[dict[str, str]] = Field(
        default_factory=list, description="The first insights: time, symbol, direction, period."
    )

    @classmethod
    def of(cls, insights: list[Insight], capped: bool = False) -> InsightSummary:
        """Summarize insights as read (``client.backtests.insights``); ``capped``: the read
        stopped at its limit, so the backtest may have more."""
        by_direction: dict[str, int] = {}
        for insight in insights:
            key = insight.direction or "unknown"
            by_direction[key] = by_direction.get(key, 0) + 1
        scores = [i.score_direction for i in insights
                  if i.score_final and i.score_direction is not None]
        first = [
            {"generated": _unix_day(i.generated_time), "symbol": i.ticker or i.symbol or "-",
             "direction": i.direction or "-",
             "period": "-" if i.period is None else _duration(i.period)}
            for i in insights[:MAX_LISTED_INSIGHTS]
        ]
        return cls(count=len(insights), capped=capped,
                   by_direction=dict(sorted(by_direction.items())), scored=len(scores),
                   direction_hit_rate=round(sum(scores) / len(scores), 4) if scores else None,
                   first=first)

    def to_markdown(self) -> list[str]:
        """The report's ``Insights`` section."""
        lines = ["## Insights", ""]
        directions = ", ".join(f"{_cell(k)} {v}" for k, v in self.by_direction.items())
        counted = f"{self.count}+ (the first {self.count} read)" if self.capped else self.count
        lines.append(f"- {counted} insight(s)" + (f": {directions}" if directions else ""))
        if self.direction_hit_rate is not None:
            lines.append(f"- direction right in {self.direction_hit_rate:.0%} of the "
                         f"{self.scored} scored")
        if self.first:
            lines += ["", "| generated | symbol | direction | period |",
                      "| --- | --- | --- | ---: |"]
            lines += [f"| {_cell(r['generated'])} | {_cell(r['symbol'])} | "
                      f"{_cell(r['direction'])} | {_cell(r['period'])} |" for r in self.first]
            if self.count > len(self.first):
                lines.append(f"\n(the first {len(self.first)} of {self.count}"
                             + (" read)" if self.capped else ")"))
        return [*lines, ""]


def _duration(seconds: float) -> str:
    """An insight's period for a person: days to a tenth, or hours, or minutes.

    Example:
        >>> _duration(725.228 * 86400), _duration(5400), _duration(90)
        ('725.2 d', '1.5 h', '1.5 min')
    """
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def _unix_day(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


class BacktestReport(BaseModel):
    """What a backtest run did and found (returned by the flow; rendered as its artifact)."""

    strategy: str = Field(description="The strategy folder's name, or 'project <id>'.")
    flow_run_id: str | None = None
    language: str | None = None
    source_digest: str | None = Field(default=None, description="Hash of the uploaded files.")
    project_id: int | None = None
    temporary_project: bool = False
    compile_id: str | None = None
    backtest_id: str | None = None
    backtest_name: str | None = None
    parameters: dict[str, str | int | float] = Field(default_factory=dict)
    outcome: Outcome = "running"
    status: str | None = Field(default=None, description="The service's last status text.")
    period: str | None = Field(default=None, description="The simulated dates, start to end.")
    error: str | None = None
    build_logs: list[str] = Field(default_factory=list)
    stacktrace: str | None = None
    statistics: dict[str, str] = Field(default_factory=dict)
    runtime_statistics: dict[str, str] = Field(default_factory=dict)
    simulated: bool = True
    link: str | None = None
    gate: GateResult | None = None
    cleanup: list[str] = Field(default_factory=list, description="What was removed, in order.")
    seconds: float = 0.0
    insights: InsightSummary | None = Field(
        default=None, description="The backtest's insights, when it has any and they were read."
    )
    object_store: str | None = Field(
        default=None, description="What the Object Store sync before the backtest did, in a line."
    )
    object_store_changes: list[str] = Field(
        default_factory=list,
        description=f"The keys that sync wrote or deleted (the first {MAX_LISTED_SYNC_CHANGES}).",
    )

    def to_markdown(self, chart: str | None = None) -> str:
        """The artifact: headline first, then the chart (a markdown image), then the rest.

        Args:
            chart: A markdown image (see :func:`flows.backtests.charts.svg_markdown_image`), if any.
        """
        title = f"# {_ICONS[self.outcome]} Backtest {_cell(self.strategy)}: {self.outcome}"
        lines = [title + (" (SIMULATED)" if self.simulated else ""), ""]
        if self.simulated:
            lines += [f"> {SIMULATED_LABEL}", ""]
        if self.link:
            lines += [f"[Open the backtest on QuantConnect]({self.link})", ""]
        if self.error:
            lines += [f"**Error:** {_error(self.error, 'the exception that ended the run')}", ""]
        if self.statistics:
            stats = self.statistics
            headline = [(k, stats[k]) for k in HEADLINE_STATISTICS if k in stats]
            lines += ["## Headline", "", *_table(headline, ("statistic", "value")), ""]
        if chart:
            lines += ["## Equity", "", chart, ""]
        if self.gate is not None:
            lines += [self.gate.to_markdown(), ""]
        lines += ["## Run", ""]
        facts = [
            ("Project", f"{self.project_id or '-'}" + (" (temporary)" if self.temporary_project
                                                       else "")),
            ("Backtest", f"{self.backtest_name or '-'} ({self.backtest_id or '-'})"),
            ("Language", self.language or "-"),
            ("Parameters", shown_parameters(self.parameters) or "none"),
            ("Status", self.status or "-"),
            ("Period", self.period or "-"),
            ("Source", self.source_digest or "-"),
            ("Seconds", f"{self.seconds:.1f}"),
        ]
        lines += [f"- {name}: {_cell(value)}" for name, value in facts]
        lines.append("")
        if self.build_logs:
            logs = excerpt_lines(self.build_logs, whole="BuildError.logs")
            lines += ["## Build logs", "", *fenced("\n".join(logs)), ""]
        if self.stacktrace:
            trace = excerpt(self.stacktrace, MAX_STACKTRACE_CHARACTERS,
                            whole="BacktestRuntimeError.stacktrace")
            lines += ["## Stack trace", "", *fenced(trace), ""]
        if self.statistics:
            lines += ["## All statistics", "",
                      *_table(sorted(self.statistics.items()), ("statistic", "value")), ""]
        if self.runtime_statistics:
            lines += ["## Runtime statistics", "",
                      *_table(sorted(self.runtime_statistics.items()), ("statistic", "value")),
                      ""]
        if self.insights is not None and self.insights.count:
            lines += self.insights.to_markdown()
        if self.object_store is not None:
            lines += ["## Object Store", "", f"- Synced {_cell(self.object_store)}",
                      *[f"- {_cell(change)}" for change in self.object_store_changes], ""]
        if self.cleanup:
            lines += ["## Clean-up", "", *[f"- {_cell(step)}" for step in self.cleanup], ""]
        return "\n".join(lines).rstrip() + "\n"


_NODE_MODES = {
    "queue": "queued",
    "reject": "refused",
    "unknown": "not seen (no start met a busy service)",
}


class GridRow(BaseModel):
    """One parameter set of a grid run."""

    index: int = Field(description="Position in the grid (0-based), also in the backtest name.")
    parameters: dict[str, str | int | float]
    outcome: Literal["completed", "failed", "not run"] = "not run"
    backtest_id: str | None = None
    statistics: dict[str, str] = Field(default_factory=dict)
    value: float | None = Field(default=None, description="The ranking statistic, parsed.")
    error: str | None = None
    resubmissions: int = Field(
        default=0, description="Times the set was submitted again: the service refused for lack "
        "of a free node, or its answer was lost."
    )
    never_started: bool = Field(
        default=False, description="No backtest was started for the set: no node was free by "
        "its deadline, or its start was never answered. A set refused for another reason "
        "(its parameters, say) failed instead."
    )


def _descending(rank_by: str, order: str) -> bool:
    if order == "highest first":
        return True
    if order == "lowest first":
        return False
    return rank_by not in LOWER_IS_BETTER  # best first


class GridReport(BaseModel):
    """What a grid run did: every set's result, ranked."""

    strategy: str
    flow_run_id: str | None = None
    project_id: int | None = None
    temporary_project: bool = False
    compile_id: str | None = None
    rank_by: str
    order: str = "best first"
    concurrency: int = 1
    backtest_nodes: int | None = None
    node_mode: Literal["queue", "reject", "unknown"] = Field(
        default="unknown",
        description="What the service did with a start beyond the free nodes: queued it, "
        "refused it, or unknown: no start met a busy service (none went beyond the nodes, "
        "or each that did found a node just freed).",
    )
    outcome: Outcome = "running"
    error: str | None = None
    simulated: bool = True
    rows: list[GridRow] = Field(default_factory=list)
    cleanup: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[GridRow]:
        """The sets that did not complete."""
        return [row for row in self.rows if row.outcome != "completed"]

    def ranked(self) -> list[GridRow]:
        """Completed sets by the ranking statistic (missing values last), then the others.

        Example:
            >>> r = GridReport(strategy="s", rank_by="Drawdown", rows=[
            ...     GridRow(index=0, parameters={}, outcome="completed", value=0.3),
            ...     GridRow(index=1, parameters={}, outcome="failed"),
            ...     GridRow(index=2, parameters={}, outcome="completed", value=0.1)])
            >>> [row.index for row in r.ranked()]
            [2, 0, 1]
        """
        descending = _descending(self.rank_by, self.order)
        done = [r for r in self.rows if r.outcome == "completed" and r.value is not None]
        sign = -1.0 if descending else 1.0
        done.sort(key=lambda r: (sign * (r.value or 0.0), r.index))
        rest = [r for r in self.rows if r not in done]
        return done + sorted(rest, key=lambda r: r.index)

    def table(self) -> list[dict[str, object]]:
        """Rows for the ranked table artifact: rank, parameters, the statistic, outcome."""
        rows: list[dict[str, object]] = []
        for rank, row in enumerate(self.ranked(), start=1):
            rows.append(
                {
                    "rank": rank if row.outcome == "completed" and row.value is not None else "-",
                    "set": row.index,
                    "parameters": shown_parameters(row.parameters),
                    self.rank_by: row.statistics.get(self.rank_by, "-"),
                    "net profit": row.statistics.get("Net Profit", "-"),
                    "drawdown": row.statistics.get("Drawdown", "-"),
                    "outcome": row.outcome,
                    "error": (row.error or "")[:200],
                    "backtest": row.backtest_id or "-",
                }
            )
        return rows

    def to_markdown(self) -> str:
        """A summary for the markdown artifact (the ranked table is its own artifact)."""
        done = len(self.rows) - len(self.failed)
        title = f"# {_ICONS[self.outcome]} Grid {_cell(self.strategy)}: {self.outcome}"
        lines = [title + (" (SIMULATED)" if self.simulated else ""), ""]
        if self.simulated:
            lines += [f"> {SIMULATED_LABEL}", ""]
        if self.error:
            lines += [f"**Error:** {_error(self.error, 'the exception that ended the run')}", ""]
        direction = "higher" if _descending(self.rank_by, self.order) else "lower"
        lines += [
            f"- Sets: {len(self.rows)}, completed {done}, failed {len(self.failed)}",
            f"- Ranked by {self.rank_by} ({direction} first)",
            f"- Concurrency: {self.concurrency} (backtest nodes: {self.backtest_nodes or '-'}; "
            f"a start beyond them: {_NODE_MODES[self.node_mode]})",
            f"- Project: {self.project_id or '-'}"
            + (" (temporary)" if self.temporary_project else ""),
            f"- Seconds: {self.seconds:.1f}",
        ]
        ranked = [r for r in self.ranked() if r.outcome == "completed" and r.value is not None]
        ranked = ranked[:10]
        if ranked:
            # The ranking statistic, then what a person weighs it against.
            shown = [self.rank_by] + [n for n in ("Net Profit", "Drawdown") if n != self.rank_by]
            lines += ["", "| rank | parameters | " + " | ".join(_cell(n) for n in shown) + " |",
                      "| ---: | --- |" + " ---: |" * len(shown)]
            for rank, row in enumerate(ranked, start=1):
                params = shown_parameters(row.parameters)
                values = " | ".join(_cell(row.statistics.get(n, "-")) for n in shown)
                lines.append(f"| {rank} | {_cell(params)} | {values} |")
        if self.failed:
            lines += ["", "## Failed sets", ""]
            lines += [
                f"- set {r.index} ({_cell(r.parameters)}): "
                + inline(excerpt(r.error or r.outcome, MAX_ROW_ERROR_CHARACTERS,
                                 whole=f"the set's row (GridReport.rows[{r.index}].error)"))
                for r in self.failed
            ]
        if self.cleanup:
            lines += ["", "## Clean-up", "", *[f"- {_cell(step)}" for step in self.cleanup]]
        return "\n".join(lines) + "\n"


class RunNotes:
    """What the run says about its sets besides their rows: why each set that never started
    did not, and which sets broke on an error that is not the service's (a defect)."""

    def __init__(self) -> None:
        self.never_started: dict[int, str] = {}  # set index -> its cause, briefly
        self.unexpected: dict[int, str] = {}  # set index -> "ErrorType: message"

    def note(self) -> str:
        """The run's message about them ("" if there is nothing to say).

        Example:
            >>> notes = RunNotes()
            >>> notes.never_started = {0: "no answer", 1: "no answer", 3: "no node"}
            >>> notes.unexpected = {2: "KeyError: 'x'"}
            >>> notes.note()
            "; never started: sets 0, 1 (no answer), set 3 (no node); failed on an unexpected \
error: set 2 (KeyError: 'x')"
        """
        parts = []
        if self.never_started:
            parts.append("never started: " + by_cause(self.never_started))
        if self.unexpected:
            parts.append("failed on an unexpected error: " + by_cause(self.unexpected))
        return "".join(f"; {part}" for part in parts)


def by_cause(causes: dict[int, str]) -> str:
    """Sets grouped by their cause, in order of their first set: ``sets 0, 1 (cause)``."""
    groups: dict[str, list[int]] = {}
    for index in sorted(causes):
        groups.setdefault(causes[index][:MAX_CAUSE_CHARACTERS], []).append(index)
    shown = []
    for cause, indexes in groups.items():
        numbers = ", ".join(str(i) for i in indexes[:20]) + (", ..." if len(indexes) > 20 else "")
        shown.append(f"{'sets' if len(indexes) > 1 else 'set'} {numbers} ({cause})")
    return ", ".join(shown)


#: The most characters of one cause a run's message shows (the row holds the whole error).
MAX_CAUSE_CHARACTERS = 300


def start_cause(error: QuantConnectError) -> str:
    """Why a set whose starts all failed transiently never started: the service's words if
    it answered (``Compile id not found``, say), else that no answer came."""
    if error.service_errors:
        return "the service answered " + "; ".join(repr(e) for e in error.service_errors)
    return f"no answer to its start ({type(error).__name__})"


def mark_never_started(row: GridRow, seconds: float, refused: int, unanswered: int,
                       notes: RunNotes, said: str = "") -> str:
    """Mark the row as never started within ``seconds`` and say why (``refused`` and
    ``unanswered`` submissions; ``said``, the last refusal's words).

    A refusal while every node is busy is treated as "no node", whatever it says, but its
    words are kept: they may name the real cause (``Backtest limit of 200 per day reached``).

    Example:
        >>> row, notes = GridRow(index=3, parameters={}), RunNotes()
        >>> mark_never_started(row, 60, 2, 0, notes, "No spare nodes")[:45]
        'NoNodeAvailableError: never started within 60'
        >>> notes.never_started
        {3: 'no backtest node was free by its deadline: the service said: No spare nodes'}
    """
    row.outcome, row.never_started = "failed", True
    cause = "NoNodeAvailableError" if refused else "TimeoutError"
    words = f": the service said: {said}" if refused and said else ""
    row.error = (f"{cause}: never started within {seconds:g} s ({refused} submission(s) "
                 f"refused for lack of a node, {unanswered} unanswered){words}")
    notes.never_started[row.index] = (
        f"no backtest node was free by its deadline{words}" if refused
        else "no answer to its start by its deadline")
    return row.error
