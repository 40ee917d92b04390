"""Models of ``/files/*`` answers: a project's file, and the listing.

Example:
    >>> FileList.model_validate({"files": [{"name": "main.py", "content": None}]}).files[0].content
    ''
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

from .base import WireModel, lenient_items


class ProjectFile(WireModel):
    """A file inside a project."""

    id: int | None = None
    project_id: int | None = None
    name: str = ""
    content: str = ""
    modified: datetime | None = None
    open: bool | None = None
    is_library: bool | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _null_content_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


class FileList(WireModel):
    """The payload of ``/files/read`` and ``/files/create``."""

    essential: ClassVar[frozenset[str]] = frozenset({"files"})

    files: list[ProjectFile] = Field(default_factory=list)

    @field_validator("files", mode="before")
    @classmethod
    def _lenient_files(cls, value: Any) -> list[ProjectFile]:
        return lenient_items(value, ProjectFile, "files")


__all__ = ["FileList", "ProjectFile"]
