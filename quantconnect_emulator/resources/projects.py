"""Projects: the models and their JSON, one operation per ``/projects/*`` action, the handlers.

Delete is soft: the first delete moves the project to ``Recycle Bin/<name>``
(still readable and listed), a second one removes it for good. A project in the
Recycle Bin is no longer the caller's to change: ``projects/update`` refuses it
(``recycle_bin_update="refuse"``, the default) or applies the change while the
``Recycle Bin/`` prefix stays (``"keep"``). Which of the two the service does
is unconfirmed; what it must never do is what the emulator once did, restore
the project silently because a rename dropped the prefix.

Example:
    >>> from quantconnect_emulator.account import Account
    >>> from quantconnect_emulator.config import EmulatorConfig
    >>> account = Account(EmulatorConfig(seed=3))
    >>> projects = Projects.of(account)
    >>> project = projects.create("Demo", "Py")
    >>> sorted(project.files)
    ['main.py', 'research.ipynb']
    >>> projects.delete(project.project_id)
    >>> projects.require(project.project_id).name
    'Recycle Bin/Demo'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from quantconnect_emulator.naming import RECYCLE_BIN_PREFIX, is_in_recycle_bin, project_name_error
from quantconnect_emulator.registry import ApiError, Resource, action
from quantconnect_emulator.resources.lean import versions
from quantconnect_emulator.templates import LANGUAGES, LEAN_VERSIONS, default_files
from quantconnect_emulator.wire import datetime_plain

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params


@dataclass
class ProjectFile:
    """One file of a project."""

    file_id: int
    name: str
    content: str
    modified: datetime
    open: bool = False
    is_library: bool = False


@dataclass
class Project:
    """One project and its files (by name)."""

    project_id: int
    organization_id: str
    name: str
    language: str
    created: datetime
    modified: datetime
    channel_suffix: str
    description: str = ""
    files: dict[str, ProjectFile] = field(default_factory=dict)

    @property
    def in_recycle_bin(self) -> bool:
        """True once soft-deleted."""
        return is_in_recycle_bin(self.name)


def collaborator_json(account: Account) -> dict[str, Any]:
    """The account's user as a ``Collaborator`` (the owner of every project)."""
    user_id = account.user_id
    return {
        "uid": user_id,
        "liveControl": True,
        "permission": "write",
        "publicId": f"emulator_user_{user_id}",
        "profileImage": "https://cdn.quantconnect.com/web/i/users/profile/default.jpg",
        "email": f"user{user_id}@example.invalid",
        "name": "Emulator User",
        "bio": "",
        "owner": True,
    }


def project_json(account: Account, model: Project) -> dict[str, Any]:
    """A ``Project`` as ``projects/create`` and ``projects/read`` answer it."""
    return {
        "projectId": model.project_id,
        "organizationId": model.organization_id,
        "name": model.name,
        "modified": datetime_plain(model.modified),
        "created": datetime_plain(model.created),
        "ownerId": account.user_id,
        "language": model.language,
        "collaborators": [collaborator_json(account)],
        "leanVersionId": LEAN_VERSIONS[0]["id"],
        "leanPinnedToMaster": True,
        "owner": True,
        "description": model.description,
        "channelId": f"P{model.project_id}-{model.channel_suffix}",
        "parameters": [],
        "libraries": [],
        "grid": None,
        "liveGrid": None,
        "paperEquity": None,
        "lastLiveDeployment": None,
        "liveForm": None,
        "encrypted": False,
        "codeRunning": False,
        "leanEnvironment": 1,
        "encryptionKey": None,
    }


def file_json(owner: Project, model: ProjectFile) -> dict[str, Any]:
    """A ``ProjectFile``."""
    return {
        "id": model.file_id,
        "projectId": owner.project_id,
        "name": model.name,
        "content": model.content,
        "modified": datetime_plain(model.modified),
        "open": model.open,
        "isLibrary": model.is_library,
    }


class Projects(Resource):
    """The projects of one account (``Projects.of(account)``)."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.by_id: dict[int, Project] = {}

    # ------------------------------------------------------------ operations

    def create(self, name: str, language: str, organization_id: str | None = None) -> Project:
        """Create a project holding the default files of its language."""
        account = self.account
        if language not in LANGUAGES:
            raise ApiError(
                f"Invalid language '{language}'. Supported languages are: {', '.join(LANGUAGES)}"
            )
        if organization_id is not None and organization_id != account.organization_id:
            raise ApiError(f"Organization not found or not accessible: {organization_id}")
        self._check_name(name)
        with account.lock:
            if account.config.rename_duplicates_on_create:
                name = self._free_name(name)
            now = account.now()
            project = Project(
                project_id=account.ids.project_id(),
                organization_id=account.organization_id,
                name=name,
                language=language,
                created=now,
                modified=now,
                channel_suffix=account.ids.hex32(),
            )
            for file_name, content, is_open in default_files(language, name):
                project.files[file_name] = ProjectFile(
                    account.ids.file_id(), file_name, content, now, open=is_open
                )
            self.by_id[project.project_id] = project
            account.count("projects_created")
            return project

    def seed(self, names: list[str], language: str = "Py") -> list[int]:
        """Create many projects as :meth:`create` does; every name is checked first, so a
        refused one creates none. Returns their ids."""
        for name in names:
            self._check_name(name)
        return [self.create(name, language).project_id for name in names]

    def require(self, project_id: int) -> Project:
        """The project (live or in the Recycle Bin), or the service's not-found error."""
        project = self.by_id.get(project_id)
        if project is None:
            raise ApiError(f"Project not found. ProjectId: {project_id}")
        return project

    def require_live(self, project_id: int) -> Project:
        """The project, refusing one in the Recycle Bin (no new jobs start there)."""
        project = self.require(project_id)
        if project.in_recycle_bin:
            raise ApiError(f"Project {project_id} is in the Recycle Bin")
        return project

    def page(self, start: int | None = None, end: int | None = None) -> list[Project]:
        """All projects in id order, Recycle Bin included; optionally a page.

        ``start`` and ``end`` are zero-based, ``end`` exclusive; a missing
        ``start`` means 0 and a missing ``end`` means "to the last project".
        """
        if (start is not None and start < 0) or (end is not None and end < 0):
            raise ApiError("start and end must be zero or positive")
        if end is not None and (start or 0) >= end:
            raise ApiError(f"Invalid range: start ({start or 0}) must be less than end ({end})")
        with self.account.lock:
            return sorted(self.by_id.values(), key=lambda p: p.project_id)[start:end]

    def update(
        self, project_id: int, name: str | None = None, description: str | None = None
    ) -> None:
        """Rename a project and/or change its description (see the module docstring)."""
        if name is not None:
            self._check_name(name)
        with self.account.lock:
            project = self.require(project_id)
            if project.in_recycle_bin:
                if self.account.config.recycle_bin_update == "refuse":
                    raise ApiError(
                        f"Project {project_id} is in the Recycle Bin; it cannot be updated"
                    )
                if name is not None:
                    name = RECYCLE_BIN_PREFIX + name
            if name is not None and name != project.name and not is_in_recycle_bin(name):
                for other in self.by_id.values():
                    if other.project_id != project_id and other.name == name:
                        raise ApiError(f"A project with the name '{name}' already exists")
            if name is not None:
                project.name = name
            if description is not None:
                project.description = description
            project.modified = self.account.now()
            self.account.count("projects_updated")

    def delete(self, project_id: int) -> None:
        """Soft delete: move to ``Recycle Bin/<name>``; a second delete purges."""
        account = self.account
        with account.lock:
            project = self.require(project_id)
            if project.in_recycle_bin:
                del self.by_id[project_id]
                account.count("projects_purged")
            else:
                project.name = RECYCLE_BIN_PREFIX + project.name
                project.modified = account.now()
                account.count("projects_soft_deleted")
            account.project_removed(project_id)

    def counters(self) -> dict[str, int]:
        """Live/recycled totals for ``stats()``."""
        with self.account.lock:
            recycled = sum(1 for p in self.by_id.values() if p.in_recycle_bin)
            return {
                "projects_live": len(self.by_id) - recycled,
                "projects_in_recycle_bin": recycled,
                "files_total": sum(len(p.files) for p in self.by_id.values()),
            }

    def snapshot(self, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every project (ordered by id) with its files and ``inRecycleBin``."""
        with self.account.lock:
            result = []
            for project in self.page():
                if project.in_recycle_bin and not include_deleted:
                    continue
                data = project_json(self.account, project)
                data["inRecycleBin"] = project.in_recycle_bin
                data["files"] = [file_json(project, f) for f in project.files.values()]
                result.append(data)
            return result

    # ------------------------------------------------------------- internals

    def _check_name(self, name: str) -> None:
        error = project_name_error(name, max_length=self.account.config.max_name_length)
        if error:
            raise ApiError(error)

    def _free_name(self, name: str) -> str:
        taken = {p.name for p in self.by_id.values() if not p.in_recycle_bin}
        if name not in taken:
            return name
        suffix = 1
        while f"{name} {suffix}" in taken:
            suffix += 1
        return f"{name} {suffix}"


# ------------------------------------------------------------------ handlers


def _versions() -> dict[str, Any]:
    return {"versions": versions()}


@action("/projects/create")
def _create(account: Account, params: Params) -> dict[str, Any]:
    project = Projects.of(account).create(
        params.require_str("name"),
        params.require_str("language"),
        params.get_str("organizationId") or None,
    )
    return {"projects": [project_json(account, project)], **_versions()}


@action("/projects/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    projects = Projects.of(account)
    project_id = params.get_int("projectId")
    if project_id is not None:
        found = [projects.require(project_id)]
    else:
        found = projects.page(params.get_int("start"), params.get_int("end"))
    return {"projects": [project_json(account, p) for p in found], **_versions()}


@action("/projects/update")
def _update(account: Account, params: Params) -> dict[str, Any]:
    Projects.of(account).update(
        params.require_int("projectId"),
        name=params.get_str("name"),
        description=params.get_str("description"),
    )
    return {}


@action("/projects/delete")
def _delete(account: Account, params: Params) -> dict[str, Any]:
    Projects.of(account).delete(params.require_int("projectId"))
    return {}


# -------------------------------------------------------------- test controls

control = APIRouter()

#: Most projects one ``POST /_emulator/projects/seed`` creates (a benchmark's large account).
MAX_SEED = 50_000


class SeedRequest(BaseModel):
    """Body of ``POST /_emulator/projects/seed``."""

    model_config = ConfigDict(extra="forbid")

    names: list[str] = Field(min_length=1, max_length=MAX_SEED)
    language: str = "Py"


@control.post("/projects/seed")
async def _seed(request: Request, body: SeedRequest) -> dict[str, Any]:
    """Create many projects at once, as ``/projects/create`` would (same names rules, default
    files, counters), without latency, faults or one HTTP round trip each: a benchmark's
    account of 20,000 projects is ready in a moment. The request log does not see them."""
    try:
        ids = Projects.of(request.app.state.emulator.account).seed(body.names, body.language)
    except ApiError as exc:
        raise HTTPException(status_code=422, detail=exc.message) from exc
    return {"projectIds": ids}
