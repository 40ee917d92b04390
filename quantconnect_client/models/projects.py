"""Models of ``/projects/*`` answers: a project, its collaborators and libraries, the listing.

Example:
    >>> p = Project.model_validate({"projectId": 7, "name": "Recycle Bin/x", "parameters": []})
    >>> p.project_id, p.is_deleted, p.parameters
    (7, True, {})
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, field_validator

from ..validation import validate_id
from .account import LeanVersion
from .base import WireModel, lenient_items, list_or_empty

#: Prefix the service gives to soft-deleted projects.
RECYCLE_BIN_PREFIX = "Recycle Bin/"


class Collaborator(WireModel):
    """A user with access to a project."""

    uid: int | None = None
    live_control: bool | None = None
    permission: str | None = None
    public_id: str | None = None
    profile_image: str | None = None
    email: str | None = None
    name: str | None = None
    bio: str | None = None
    owner: bool | None = None


class LibraryReference(WireModel):
    """A library project linked into a project."""

    project_id: int | None = None
    library_name: str | None = None
    owner_name: str | None = None
    access: bool | None = None


class EncryptionKey(WireModel):
    """The key a project's files are encrypted with."""

    id: str | None = None
    name: str | None = None


def _parameters_as_dict(value: Any) -> dict[str, Any]:
    """Normalise the three shapes seen for ``parameters``: ``[]``, a list of objects, a dict."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        result: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict):
                key = item.get("key", item.get("name"))
                if key is not None:
                    result[str(key)] = item.get("value")
        return result
    return {}


class Project(WireModel):
    """A QuantConnect project, as ``/projects/read`` and ``/projects/create`` return it."""

    project_id: int
    organization_id: str | None = None
    name: str = ""
    modified: datetime | None = None
    created: datetime | None = None
    owner_id: int | None = None
    language: str | None = None
    collaborators: list[Collaborator] = Field(default_factory=list)
    lean_version_id: int | None = None
    lean_pinned_to_master: bool | None = None
    owner: bool | None = None
    description: str | None = None
    channel_id: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    libraries: list[LibraryReference] = Field(default_factory=list)
    grid: Any = None
    live_grid: Any = None
    paper_equity: float | None = None
    last_live_deployment: datetime | None = None
    live_form: Any = None
    encrypted: bool | None = None
    code_running: bool | None = None
    lean_environment: int | None = None
    encryption_key: EncryptionKey | None = None

    @field_validator("project_id")
    @classmethod
    def _usable_id(cls, value: int) -> int:
        # An id no request could use (0, negative) is the answer's fault: refused here, it is
        # an UnexpectedResponseError, not a ValidationError blaming the caller's next request.
        return validate_id(value)

    @field_validator("parameters", mode="before")
    @classmethod
    def _normalise_parameters(cls, value: Any) -> dict[str, Any]:
        return _parameters_as_dict(value)

    @field_validator("collaborators", "libraries", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return list_or_empty(value)

    @property
    def is_deleted(self) -> bool:
        """True once the project has been moved to the recycle bin."""
        return self.name.startswith(RECYCLE_BIN_PREFIX)


class ProjectList(WireModel):
    """The payload of ``/projects/read``: projects and the LEAN versions on offer."""

    essential: ClassVar[frozenset[str]] = frozenset({"projects", "versions"})

    projects: list[Project] = Field(default_factory=list)
    versions: list[LeanVersion] = Field(default_factory=list)

    @field_validator("projects", mode="before")
    @classmethod
    def _lenient_projects(cls, value: Any) -> list[Project]:
        return lenient_items(value, Project, "projects")

    @field_validator("versions", mode="before")
    @classmethod
    def _lenient_versions(cls, value: Any) -> list[LeanVersion]:
        return lenient_items(value, LeanVersion, "versions")


__all__ = [
    "RECYCLE_BIN_PREFIX",
    "Collaborator",
    "EncryptionKey",
    "LibraryReference",
    "Project",
    "ProjectList",
]
