"""The project flows' forms (lifecycle, sweeper, inventory, bulk update) as pydantic models:
the Prefect UI renders them with help text and refuses invalid values before a run is created."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from flows.common.options import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_TEMPORARY_PREFIX,
    MAX_CONCURRENCY,
    RetryOptions,
    TemporaryPrefix,
)
from flows.common.selection import selects_everything
from quantconnect_client.validation import validate_file_name
from tasks.batches import DEFAULT_BATCH_CONCURRENCY


def _check_file_name(name: str | None) -> str | None:
    return None if name is None else validate_file_name(name)



class LifecycleOptions(BaseModel):
    """What the temporary-project lifecycle check does."""

    model_config = ConfigDict(extra="forbid")

    name_prefix: TemporaryPrefix = Field(
        default=DEFAULT_TEMPORARY_PREFIX,
        description="Prefix of the temporary project's name; the flow run id follows it.",
    )
    language: Literal["Py", "C#"] = Field(default="Py", description="Project language.")
    description: str = Field(
        default="Temporary project made by the Prefect lifecycle check; safe to delete.",
        max_length=500,
        description="Description set by the update step.",
    )
    expected_files: list[str] | None = Field(
        default=None,
        description="Files the new project must hold (default: the language's default files).",
    )
    verify_files: bool = Field(default=True, description="Check the project's default files.")
    authenticate_first: bool = Field(
        default=True, description="Check the credentials before creating anything."
    )
    purge: bool = Field(
        default=True, description="After the delete, also empty it from the recycle bin."
    )
    verify_deleted: bool = Field(
        default=True,
        description="Read the project back after the delete (and the purge) to confirm it "
        "left; off, the service's success answer is taken as the proof (one request fewer).",
    )
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")


class SweepOptions(BaseModel):
    """Which orphaned temporary projects the sweeper removes, and how."""

    model_config = ConfigDict(extra="forbid")

    name_prefix: TemporaryPrefix = Field(
        default=DEFAULT_TEMPORARY_PREFIX,
        description="Only projects whose name starts with this prefix are touched.",
    )
    ttl_minutes: float = Field(
        default=60, ge=0, le=60 * 24 * 365, description="Only projects older than this go."
    )
    include_recycle_bin: bool = Field(
        default=False,
        description="Also remove matching leftovers already in the recycle bin, for good.",
    )
    purge: bool = Field(
        default=False, description="Remove live orphans for good instead of into the bin."
    )
    dry_run: bool = Field(default=False, description="Only report what would be removed.")
    stop_running_backtests: bool = Field(
        default=True,
        description="First delete the backtests still running in each project (a leaked "
        "backtest holds one of the account's nodes); off saves a request per project.",
    )
    abort_running_optimizations: bool = Field(
        default=True,
        description="First abort the optimizations still running in each project (a leaked "
        "optimization bills for its nodes while it runs); off saves a request per project.",
    )
    abort_orphaned_optimizations: bool = Field(
        default=True,
        description="In the matching projects the sweep keeps (younger than the TTL, or whose "
        "run is active), abort the running optimizations whose own flow run Prefect shows as "
        "ended (crashed, killed and marked, failed); costs a request per kept project.",
    )
    optimizer_lookback_hours: float = Field(
        default=24,
        ge=0,
        le=24 * 30,
        description="Also look, in the user's own projects, for optimizations that "
        "optimize-strategy runs which ended Crashed, Failed or Cancelled in these last hours "
        "started (by the run id in their name) and abort those still running; 0 turns it off. "
        "A request per such project.",
    )
    max_concurrency: int = Field(
        default=DEFAULT_BATCH_CONCURRENCY,
        ge=1,
        le=MAX_CONCURRENCY,
        description="Deletes in flight at once (the account's quota).",
    )
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE,
        ge=1,
        le=1000,
        description="Projects deleted per task run (one table row each).",
    )
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")


class InventoryOptions(BaseModel):
    """Which projects the inventory lists."""

    model_config = ConfigDict(extra="forbid")

    name_pattern: str = Field(
        default="*", max_length=200, description="Shell-style pattern on the full name."
    )
    folder: str | None = Field(
        default=None, max_length=200, description="Only projects in this folder (and below)."
    )
    include_deleted: bool = Field(default=False, description="Include projects in the recycle bin.")
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")


EVERY_PROJECT_NEEDS_CONFIRMATION = (
    "a real run over every project needs all_projects: true (or choose a folder or a name "
    "pattern that leaves some projects out)"
)


class BulkUpdateOptions(BaseModel):
    """Which projects a bulk update touches and what it changes."""

    model_config = ConfigDict(extra="forbid")

    folder: str | None = Field(
        default=None, max_length=200, description="Only projects in this folder (and below)."
    )
    name_pattern: str = Field(
        default="*", max_length=200, description="Shell-style pattern on the full name."
    )
    description: str | None = Field(
        default=None, max_length=2000, description="New description for every match."
    )
    file_name: Annotated[str | None, AfterValidator(_check_file_name)] = Field(
        default=None, max_length=200, description="A file to overwrite in every match."
    )
    file_content: str | None = Field(
        default=None, max_length=1_000_000, description="The new contents of that file."
    )
    dry_run: bool = Field(default=True, description="Only report what would change.")
    all_projects: bool = Field(
        default=False,
        description="Confirm a real run over every project (no folder, and a pattern that "
        "matches every project, such as `*`).",
    )
    max_concurrency: int = Field(
        default=DEFAULT_BATCH_CONCURRENCY,
        ge=1,
        le=MAX_CONCURRENCY,
        description="Projects updated at once (the account's quota).",
    )
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE,
        ge=1,
        le=1000,
        description="Projects updated per task run (one table row each).",
    )
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")

    @model_validator(mode="after")
    def _some_change(self) -> BulkUpdateOptions:
        if (self.file_name is None) != (self.file_content is None):
            raise ValueError("file_name and file_content go together")
        if self.description is None and self.file_name is None:
            raise ValueError("nothing to change: give a description and/or a file")
        if self.needs_confirmation() and selects_everything(self.folder, self.name_pattern):
            raise ValueError(EVERY_PROJECT_NEEDS_CONFIRMATION)
        return self

    def needs_confirmation(self) -> bool:
        """Whether a selection of every project would need ``all_projects`` (a real run)."""
        return not self.dry_run and not self.all_projects

    def changes(self) -> list[str]:
        """Human-readable list of the changes, for logs and the artifact."""
        planned = []
        if self.description is not None:
            planned.append("description")
        if self.file_name is not None:
            planned.append(f"file {self.file_name}")
        return planned
