"""The ``sync-object-store`` form: which folder, which key prefix, and whether keys go.

Deleting is what can lose data, so it takes two switches where the prefix is the whole store:
``delete_missing``, and with an empty (or match-all: ``/``, ``.``) prefix ``all_keys`` too.

Example:
    >>> SyncOptions(folder="data", prefix="models/v1").dry_run
    False
    >>> try:
    ...     SyncOptions(folder="data", prefix="/", delete_missing=True)
    ... except ValueError as error:
    ...     print("all_keys" in str(error))
    True
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flows.common.options import MAX_CONCURRENCY, RetryOptions
from quantconnect_client.objectstore import normalize_object_key, validate_object_key

#: The largest file a sync sends unless told otherwise: a free organization's whole storage.
DEFAULT_SYNC_MAX_BYTES = 50 * 1024 * 1024

EVERY_KEY_NEEDS_CONFIRMATION = (
    "deleting with an empty prefix would remove every key of the organization's store that the "
    "folder lacks: give a prefix, or confirm with all_keys: true"
)


class SyncOptions(BaseModel):
    """What a sync publishes, where, and what it may remove."""

    model_config = ConfigDict(extra="forbid")

    folder: str = Field(
        min_length=1,
        max_length=1000,
        description="The local folder (relative: inside the checkout). Each file is published "
        "at <prefix>/<its path inside the folder>.",
    )
    prefix: str = Field(
        max_length=500,
        description="The key prefix (a folder of the store), e.g. 'models/v1'. Empty: the root.",
    )
    files: list[str] | None = Field(
        default=None,
        max_length=10_000,
        description="Only these files of the folder (paths inside it); default: all of them.",
    )
    delete_missing: bool = Field(
        default=False,
        description="Also delete the keys under the prefix that the folder no longer has.",
    )
    all_keys: bool = Field(
        default=False,
        description="Confirm delete_missing with an empty prefix (the whole store).",
    )
    dry_run: bool = Field(
        default=False,
        description="Only read the store and report what a sync would upload and delete.",
    )
    organization_id: str | None = Field(
        default=None, max_length=100, description="The organization (default: the credentials')."
    )
    max_bytes: int = Field(
        default=DEFAULT_SYNC_MAX_BYTES,
        ge=1,
        le=100 * 1024**3,
        description="The largest file published (a larger one refuses the whole sync).",
    )
    max_concurrency: int = Field(
        default=4, ge=1, le=MAX_CONCURRENCY, description="Requests in flight at once."
    )
    batch_size: int = Field(
        default=200, ge=1, le=1000, description="Files per task run (one request each)."
    )
    retries: RetryOptions = Field(default_factory=RetryOptions, description="Task retries.")

    @field_validator("prefix")
    @classmethod
    def _valid_prefix(cls, prefix: str) -> str:
        if normalize_object_key(prefix):
            validate_object_key(prefix)  # a ValidationError is a ValueError: a field error
        return prefix

    @model_validator(mode="after")
    def _guarded_delete(self) -> SyncOptions:
        if self.delete_missing and self.files is not None:
            raise ValueError(
                "delete_missing needs the whole folder: with a list of files, every other key "
                "under the prefix would count as missing"
            )
        if self.delete_missing and not self.dry_run and self.whole_store and not self.all_keys:
            raise ValueError(EVERY_KEY_NEEDS_CONFIRMATION)
        return self

    @property
    def whole_store(self) -> bool:
        """Whether the prefix is the store's root (empty, ``/``, ``.``...)."""
        return not normalize_object_key(self.prefix)

    @property
    def listed_path(self) -> str | None:
        """The path to list under (None: the root)."""
        return normalize_object_key(self.prefix) or None
