"""Models of the Object Store's answers (``/object/*``).

Example:
    >>> listing = ObjectListing.model_validate(
    ...     {"path": "/", "objects": [{"key": "a", "name": "a", "isFolder": True}],
    ...      "objectStorageUsed": 3})
    >>> listing.objects[0].folder, listing.object_storage_used
    (True, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from .base import WireModel, lenient_items, usable_job_id


class ObjectProperties(WireModel):
    """``metadata`` of ``/object/properties``: one stored object."""

    key: str
    modified: datetime | None = None
    created: datetime | None = None
    size: int | None = None
    md5: str | None = None
    mime: str | None = None
    preview: str | None = None


class ObjectEntry(WireModel):
    """One item of ``/object/list``: a file or a folder (``folder``; LEAN's model says
    ``isFolder``, read as a fallback)."""

    key: str
    name: str | None = None
    modified: datetime | None = None
    mime: str | None = None
    folder: bool = False
    size: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _is_folder_fallback(cls, value: Any) -> Any:
        if isinstance(value, dict) and "folder" not in value and "isFolder" in value:
            return {**value, "folder": value["isFolder"]}
        return value

    @property
    def normalized_key(self) -> str:
        """The key without the leading ``/`` some answers carry (for comparisons)."""
        return self.key.removeprefix("/")


class ObjectListing(WireModel):
    """``/object/list``: the direct children of ``path`` and the storage used."""

    essential = frozenset({"objects"})

    path: str | None = None
    objects: list[ObjectEntry] = Field(default_factory=list)
    page: int | None = None
    total_pages: int | None = None
    object_storage_used: int | None = None
    object_storage_used_human: str | None = None

    @field_validator("objects", mode="before")
    @classmethod
    def _lenient_objects(cls, value: Any) -> list[ObjectEntry]:
        return lenient_items(value, ObjectEntry, "objects")


class ObjectGetJob(WireModel):
    """``/object/get``: the download job, and its link once ready (``url`` empty until then)."""

    job_id: str | None = None
    url: str | None = None

    @field_validator("job_id")
    @classmethod
    def _usable_id(cls, value: str | None) -> str | None:
        return None if value is None else usable_job_id(value, "jobId")

    @property
    def ready(self) -> bool:
        """True once the answer holds a link."""
        return bool(self.url and self.url.strip())


@dataclass(frozen=True)
class UploadResult:
    """What :meth:`ObjectStoreAPI.set` stored: the key as sent, bytes and MD5 of the content.

    ``reconciled`` is true when the upload's answer was lost and the service was found holding
    exactly this content (so it was not sent again).
    """

    key: str
    size: int
    md5: str
    reconciled: bool = False


__all__ = ["ObjectEntry", "ObjectGetJob", "ObjectListing", "ObjectProperties", "UploadResult"]
