"""What a sync did, one row per key, and the table artifact that shows it.

Example:
    >>> item = SyncItem(key="data/a.csv", file="a.csv", action="uploaded", reason="new", size=3)
    >>> report = SyncReport(prefix="data", dry_run=False, items=[item])
    >>> report.count("uploaded"), report.summary()
    (1, 'data: 1 uploaded, 0 unchanged, 0 deleted, 0 failed')
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

#: Key of the table artifact a sync publishes.
SYNC_TABLE_KEY = "quantconnect-object-store-sync"

Action = Literal[
    "uploaded",
    "unchanged",
    "deleted",
    "failed",
    "would upload",
    "would delete",
    "kept",
]


class SyncItem(BaseModel):
    """What happened to one key."""

    key: str
    file: str | None = Field(default=None, description="Path inside the folder; None: remote only.")
    action: Action
    reason: str | None = Field(
        default=None,
        description="Why: new, size changed, content changed, not in the folder; for a "
        "failure, the error.",
    )
    size: int | None = Field(default=None, description="Bytes of the local file.")
    remote_size: int | None = Field(default=None, description="Bytes the store held before.")
    reconciled: bool = Field(
        default=False, description="The upload's answer was lost and the store already held it."
    )


class SyncReport(BaseModel):
    """A sync's rows (sorted by key) and its totals."""

    prefix: str
    dry_run: bool
    items: list[SyncItem]
    skipped: list[str] = Field(default_factory=list, description="Local entries left out.")

    def count(self, action: Action) -> int:
        """Rows with this action."""
        return sum(item.action == action for item in self.items)

    @property
    def bytes_uploaded(self) -> int:
        """Bytes sent (or, in a dry run, that would be)."""
        return sum(item.size or 0 for item in self.items
                   if item.action in ("uploaded", "would upload"))

    def summary(self) -> str:
        """One line for logs and the artifact's description."""
        where = self.prefix or "/"
        if self.dry_run:
            return (f"{where} (dry run): {self.count('would upload')} to upload, "
                    f"{self.count('unchanged')} unchanged, {self.count('would delete')} to delete")
        return (f"{where}: {self.count('uploaded')} uploaded, {self.count('unchanged')} "
                f"unchanged, {self.count('deleted')} deleted, {self.count('failed')} failed")

    def table(self) -> list[dict[str, Any]]:
        """The artifact's rows."""
        return [item.model_dump() for item in self.items]
