"""In-memory state of the emulated account: projects, their files, counters.

No HTTP here. Every public method takes the store's lock for a short time and
returns plain JSON-ready dicts (copies), so callers never share mutable state.
Business-rule violations raise :class:`StoreError`, whose message is what the
API answers with in ``errors``.

Example:
    >>> store = Store(user_id=1, organization_id="0" * 32, seed=3)
    >>> project = store.create_project("Demo", "Py")
    >>> [f["name"] for f in store.read_files(project["projectId"])]
    ['main.py', 'research.ipynb']
    >>> store.delete_project(project["projectId"])  # soft delete
    >>> store.get_project(project["projectId"])["name"]
    'Recycle Bin/Demo'
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from quantconnect_emulator.naming import (
    RECYCLE_BIN_PREFIX,
    file_name_error,
    is_in_recycle_bin,
    project_name_error,
)
from quantconnect_emulator.templates import LANGUAGES, LEAN_VERSIONS, default_files


class StoreError(Exception):
    """A business error: the API answers HTTP 200, ``success: false``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def format_datetime(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2021-11-26T15:18:27.693Z``."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _File:
    file_id: int
    name: str
    content: str
    modified: datetime
    open: bool = False
    is_library: bool = False


@dataclass
class _Project:
    project_id: int
    organization_id: str
    name: str
    language: str
    created: datetime
    modified: datetime
    channel_suffix: str
    description: str = ""
    files: dict[str, _File] = field(default_factory=dict)


_COUNTERS = (
    "projects_created",
    "projects_updated",
    "projects_soft_deleted",
    "projects_purged",
    "files_created",
    "files_updated",
    "files_renamed",
    "files_deleted",
)


class Store:
    """Thread-safe in-memory projects and files of one emulated user.

    Args:
        user_id: Owner of every project.
        organization_id: The account's (only) organization.
        max_name_length: Longest project name accepted.
        seed: Seed of the id generator (``None`` = random).
        rename_duplicates_on_create: Hand back ``"<name> 1"`` etc. when a live
            project already has the requested name.
    """

    def __init__(
        self,
        *,
        user_id: int,
        organization_id: str,
        max_name_length: int = 200,
        seed: int | None = None,
        rename_duplicates_on_create: bool = False,
    ) -> None:
        self._user_id = user_id
        self._organization_id = organization_id
        self._max_name_length = max_name_length
        self._seed = seed
        self._rename_duplicates = rename_duplicates_on_create
        self._lock = threading.Lock()
        self._projects: dict[int, _Project] = {}
        self._counters: dict[str, int] = {}
        self._rng = random.Random(seed)
        self._next_project_id = 0
        self._next_file_id = 0
        self.reset()

    # ------------------------------------------------------------------ admin

    def reset(self) -> None:
        """Forget every project and counter; re-seed the id generator."""
        with self._lock:
            self._projects.clear()
            self._counters = dict.fromkeys(_COUNTERS, 0)
            self._rng = random.Random(self._seed)
            self._next_project_id = self._rng.randint(21_000_000, 24_999_999)
            self._next_file_id = self._rng.randint(180_000_000, 240_000_000)

    def counters(self) -> dict[str, int]:
        """Counters since the last reset, plus current live/recycled totals."""
        with self._lock:
            result = dict(self._counters)
            recycled = sum(1 for p in self._projects.values() if is_in_recycle_bin(p.name))
            result["projects_live"] = len(self._projects) - recycled
            result["projects_in_recycle_bin"] = recycled
            result["files_total"] = sum(len(p.files) for p in self._projects.values())
            return result

    def snapshot(self, *, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every project (ordered by id) with its files and ``inRecycleBin``."""
        with self._lock:
            result = []
            for project in sorted(self._projects.values(), key=lambda p: p.project_id):
                deleted = is_in_recycle_bin(project.name)
                if deleted and not include_deleted:
                    continue
                data = self._project_json(project)
                data["inRecycleBin"] = deleted
                data["files"] = [self._file_json(project, f) for f in project.files.values()]
                result.append(data)
            return result

    # --------------------------------------------------------------- projects

    def create_project(
        self, name: str, language: str, organization_id: str | None = None
    ) -> dict[str, Any]:
        """Create a project holding the default files of its language."""
        if language not in LANGUAGES:
            raise StoreError(
                f"Invalid language '{language}'. Supported languages are: {', '.join(LANGUAGES)}"
            )
        if organization_id is not None and organization_id != self._organization_id:
            raise StoreError(f"Organization not found or not accessible: {organization_id}")
        error = project_name_error(name, max_length=self._max_name_length)
        if error:
            raise StoreError(error)
        with self._lock:
            if self._rename_duplicates:
                name = self._free_name(name)
            now = _now()
            project_id = self._next_project_id
            self._next_project_id += self._rng.randint(1, 37)
            project = _Project(
                project_id=project_id,
                organization_id=self._organization_id,
                name=name,
                language=language,
                created=now,
                modified=now,
                channel_suffix=f"{self._rng.getrandbits(128):032x}",
            )
            for file_name, content, is_open in default_files(language, name):
                project.files[file_name] = _File(
                    file_id=self._take_file_id(),
                    name=file_name,
                    content=content,
                    modified=now,
                    open=is_open,
                )
            self._projects[project_id] = project
            self._counters["projects_created"] += 1
            return self._project_json(project)

    def get_project(self, project_id: int) -> dict[str, Any]:
        """One project (live or in the Recycle Bin)."""
        with self._lock:
            return self._project_json(self._get(project_id))

    def list_projects(
        self, start: int | None = None, end: int | None = None
    ) -> list[dict[str, Any]]:
        """All projects in id order, Recycle Bin included; optionally a page.

        ``start`` and ``end`` are zero-based, ``end`` exclusive; a missing
        ``start`` means 0 and a missing ``end`` means "to the last project".
        """
        if (start is not None and start < 0) or (end is not None and end < 0):
            raise StoreError("start and end must be zero or positive")
        if end is not None and (start or 0) >= end:
            raise StoreError(f"Invalid range: start ({start or 0}) must be less than end ({end})")
        with self._lock:
            projects = sorted(self._projects.values(), key=lambda p: p.project_id)
            return [self._project_json(p) for p in projects[start:end]]

    def update_project(
        self, project_id: int, name: str | None = None, description: str | None = None
    ) -> None:
        """Rename a project and/or change its description."""
        if name is not None:
            error = project_name_error(name, max_length=self._max_name_length)
            if error:
                raise StoreError(error)
        with self._lock:
            project = self._get(project_id)
            if name is not None and name != project.name and not is_in_recycle_bin(name):
                for other in self._projects.values():
                    if other.project_id != project_id and other.name == name:
                        raise StoreError(f"A project with the name '{name}' already exists")
            if name is not None:
                project.name = name
            if description is not None:
                project.description = description
            project.modified = _now()
            self._counters["projects_updated"] += 1

    def delete_project(self, project_id: int) -> None:
        """Soft delete: move to ``Recycle Bin/<name>``; a second delete purges."""
        with self._lock:
            project = self._get(project_id)
            if is_in_recycle_bin(project.name):
                del self._projects[project_id]
                self._counters["projects_purged"] += 1
            else:
                project.name = RECYCLE_BIN_PREFIX + project.name
                project.modified = _now()
                self._counters["projects_soft_deleted"] += 1

    # ------------------------------------------------------------------ files

    def create_file(self, project_id: int, name: str, content: str = "") -> dict[str, Any]:
        """Add a file; an existing name is an error (use :meth:`update_file_content`)."""
        error = file_name_error(name)
        if error:
            raise StoreError(error)
        with self._lock:
            project = self._get(project_id)
            if name in project.files:
                raise StoreError(f"File '{name}' already exists in project {project_id}")
            now = _now()
            file = _File(file_id=self._take_file_id(), name=name, content=content, modified=now)
            project.files[name] = file
            project.modified = now
            self._counters["files_created"] += 1
            return self._file_json(project, file)

    def read_files(self, project_id: int, name: str | None = None) -> list[dict[str, Any]]:
        """All files of a project, or the one called ``name``."""
        with self._lock:
            project = self._get(project_id)
            if name is None:
                return [self._file_json(project, f) for f in project.files.values()]
            return [self._file_json(project, self._get_file(project, name))]

    def update_file_content(self, project_id: int, name: str, content: str) -> dict[str, Any]:
        """Replace a file's content."""
        with self._lock:
            project = self._get(project_id)
            file = self._get_file(project, name)
            file.content = content
            file.modified = project.modified = _now()
            self._counters["files_updated"] += 1
            return self._file_json(project, file)

    def rename_file(self, project_id: int, name: str, new_name: str) -> None:
        """Rename a file; the new name must be free."""
        error = file_name_error(new_name)
        if error:
            raise StoreError(error)
        with self._lock:
            project = self._get(project_id)
            file = self._get_file(project, name)
            if new_name == name:
                return
            if new_name in project.files:
                raise StoreError(f"File '{new_name}' already exists in project {project_id}")
            del project.files[name]
            file.name = new_name
            file.modified = project.modified = _now()
            project.files[new_name] = file
            self._counters["files_renamed"] += 1

    def delete_file(self, project_id: int, name: str) -> None:
        """Remove a file."""
        with self._lock:
            project = self._get(project_id)
            self._get_file(project, name)
            del project.files[name]
            project.modified = _now()
            self._counters["files_deleted"] += 1

    # -------------------------------------------------------------- internals

    def _get(self, project_id: int) -> _Project:
        project = self._projects.get(project_id)
        if project is None:
            raise StoreError(f"Project not found. ProjectId: {project_id}")
        return project

    @staticmethod
    def _get_file(project: _Project, name: str) -> _File:
        file = project.files.get(name)
        if file is None:
            raise StoreError(f"File '{name}' not found in project {project.project_id}")
        return file

    def _take_file_id(self) -> int:
        file_id = self._next_file_id
        self._next_file_id += self._rng.randint(1, 9)
        return file_id

    def _free_name(self, name: str) -> str:
        taken = {p.name for p in self._projects.values() if not is_in_recycle_bin(p.name)}
        if name not in taken:
            return name
        suffix = 1
        while f"{name} {suffix}" in taken:
            suffix += 1
        return f"{name} {suffix}"

    def _project_json(self, project: _Project) -> dict[str, Any]:
        return {
            "projectId": project.project_id,
            "organizationId": project.organization_id,
            "name": project.name,
            "modified": format_datetime(project.modified),
            "created": format_datetime(project.created),
            "ownerId": self._user_id,
            "language": project.language,
            "collaborators": [
                {
                    "uid": self._user_id,
                    "liveControl": True,
                    "permission": "write",
                    "publicId": f"emulator_user_{self._user_id}",
                    "profileImage": "https://cdn.quantconnect.com/web/i/users/profile/default.jpg",
                    "email": f"user{self._user_id}@example.invalid",
                    "name": "Emulator User",
                    "bio": "",
                    "owner": True,
                }
            ],
            "leanVersionId": LEAN_VERSIONS[0]["id"],
            "leanPinnedToMaster": True,
            "owner": True,
            "description": project.description,
            "channelId": f"P{project.project_id}-{project.channel_suffix}",
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

    @staticmethod
    def _file_json(project: _Project, file: _File) -> dict[str, Any]:
        return {
            "id": file.file_id,
            "projectId": project.project_id,
            "name": file.name,
            "content": file.content,
            "modified": format_datetime(file.modified),
            "open": file.open,
            "isLibrary": file.is_library,
        }
