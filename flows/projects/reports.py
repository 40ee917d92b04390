"""Typed run reports and their rendering as Prefect artifacts (markdown and tables)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from pydantic import BaseModel, Field

from flows.common.markdown import inline
from quantconnect_client import Project
from quantconnect_client.excerpt import excerpt


def _text(value: str) -> str:
    """Service text (an error, a clean-up outcome) in a markdown line: bounded, never markup."""
    return inline(excerpt(value, whole="the typed report"))


class StepRecord(BaseModel):
    """One step of a lifecycle run."""

    name: str
    seconds: float
    ok: bool
    detail: str = ""


class LifecycleReport(BaseModel):
    """What a temporary-project lifecycle run did, step by step."""

    flow_run_id: str | None = None
    project_name: str
    renamed_to: str | None = None
    project_id: int | None = None
    language: str
    outcome: Literal["running", "completed", "failed"] = "running"
    error: str | None = None
    cleanup: str | None = Field(
        default=None, description="What the safety net removed when the run did not finish."
    )
    steps: list[StepRecord] = Field(default_factory=list)
    total_seconds: float = 0.0

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[StepRecord]:
        """Time a step and record whether it raised."""
        record = StepRecord(name=name, seconds=0.0, ok=False)
        started = time.perf_counter()
        try:
            yield record
            record.ok = True
        except BaseException as error:
            record.detail = record.detail or f"{type(error).__name__}: {error}"
            raise
        finally:
            record.seconds = round(time.perf_counter() - started, 4)
            self.steps.append(record)

    def to_markdown(self) -> str:
        """The report as the markdown artifact shown in the Prefect UI."""
        icon = {"completed": "✅", "failed": "❌", "running": "⏳"}[self.outcome]
        lines = [
            f"# {icon} QuantConnect lifecycle check: {self.outcome}",
            "",
            f"- Project: {inline(self.project_name)} (id {self.project_id or 'never created'})",
            f"- Renamed to: {inline(self.renamed_to or '-')}",
            f"- Language: {self.language}",
            f"- Total: {self.total_seconds:.2f} s",
        ]
        if self.error:
            lines.append(f"- Error: {_text(self.error)}")
        if self.cleanup:
            lines.append(f"- Cleanup: {_text(self.cleanup)}")
        lines += ["", "| step | result | seconds | detail |", "| --- | --- | ---: | --- |"]
        for step in self.steps:
            lines.append(
                f"| {inline(step.name)} | {'ok' if step.ok else 'FAILED'} | {step.seconds:.3f} | "
                f"{_text(step.detail)} |"
            )
        return "\n".join(lines)


class SweepItem(BaseModel):
    """One project the sweeper looked at."""

    project_id: int
    name: str
    created: str
    age_minutes: float
    #: ``kept``: too young to remove, but orphaned optimizations of it were (or would be, in a
    #: dry run) aborted.
    action: Literal["would delete", "deleted", "purged", "failed", "spared", "kept"]
    error: str | None = None
    #: For a spared project: its flow run's state in Prefect (the run still owns it).
    run_state: str | None = None
    #: Backtests still running that were deleted before the project.
    backtests_stopped: int = 0
    #: Optimizations still running that were aborted (before the project, if it was removed).
    optimizations_aborted: int = 0
    #: Of a kept project: its running optimizations whose own run had ended, aborted (or, in a
    #: dry run, to abort).
    orphaned_optimizations: list[str] = Field(default_factory=list)


class SweepReport(BaseModel):
    """What a sweep found and did."""

    examined: int
    matched: int
    dry_run: bool
    deleted: int = 0
    failed: int = 0
    spared: int = Field(default=0, description="Old enough, but their flow run still runs.")
    backtests_stopped: int = Field(default=0, description="Running backtests deleted first.")
    optimizations_aborted: int = Field(default=0,
                                       description="Running optimizations aborted.")
    orphaned_optimizations_aborted: int = Field(
        default=0, description="Of those, in projects the sweep kept: their own run had ended.")
    items: list[SweepItem] = Field(default_factory=list)
    seconds: float = 0.0

    def table(self) -> list[dict[str, object]]:
        """Rows for the table artifact."""
        return [item.model_dump() for item in self.items]


def project_row(project: Project) -> dict[str, object]:
    """One inventory row."""
    return {
        "id": project.project_id,
        "name": project.name,
        "language": project.language or "",
        "created": project.created.isoformat() if project.created else "",
        "modified": project.modified.isoformat() if project.modified else "",
        "deleted": project.is_deleted,
        "description": (project.description or "")[:80],
    }
