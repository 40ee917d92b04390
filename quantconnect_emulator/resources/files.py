"""Files of a project: one operation per ``/files/*`` action, and their handlers.

The ``ProjectFile`` model and its JSON live with the project that holds them
(:mod:`quantconnect_emulator.resources.projects`).

``files/update`` with both ``content`` and ``newName`` is one operation under
the account's lock: either the file is renamed *and* its content replaced, or
nothing changes (checks first, then the change). Empty content is refused on
create and on update, as the service does.

Example:
    >>> from quantconnect_emulator.account import Account
    >>> from quantconnect_emulator.config import EmulatorConfig
    >>> from quantconnect_emulator.resources.projects import Projects
    >>> account = Account(EmulatorConfig(seed=1))
    >>> project = Projects.of(account).create("Demo", "Py")
    >>> files = Files(account)
    >>> files.update(project.project_id, "main.py", content="x = 1\\n", new_name="algo.py").name
    'algo.py'
    >>> sorted(project.files)
    ['algo.py', 'research.ipynb']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantconnect_emulator.naming import file_name_error
from quantconnect_emulator.params import ParamError
from quantconnect_emulator.registry import ApiError, action
from quantconnect_emulator.resources.projects import Project, ProjectFile, Projects, file_json

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params

EMPTY_CONTENT = "File content cannot be empty; omit 'content' to create an empty file"


class Files:
    """Operations on the files of the account's projects."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.projects = Projects.of(account)

    def create(self, project_id: int, name: str, content: str | None = None) -> ProjectFile:
        """Add a file; an existing name is an error (use :meth:`update`)."""
        _check_name(name)
        if content == "":
            raise ParamError(EMPTY_CONTENT)
        with self.account.lock:
            project = self.projects.require(project_id)
            if name in project.files:
                raise ApiError(f"File '{name}' already exists in project {project_id}")
            now = self.account.now()
            file = ProjectFile(self.account.ids.file_id(), name, content or "", now)
            project.files[name] = file
            project.modified = now
            self.account.count("files_created")
            return file

    def read(self, project_id: int, name: str | None = None) -> tuple[Project, list[ProjectFile]]:
        """All files of a project, or the one called ``name``."""
        with self.account.lock:
            project = self.projects.require(project_id)
            if name is None:
                return project, list(project.files.values())
            return project, [_require_file(project, name)]

    def update(
        self,
        project_id: int,
        name: str,
        *,
        content: str | None = None,
        new_name: str | None = None,
    ) -> ProjectFile:
        """Replace the content and/or rename, all or nothing."""
        if content is None and new_name is None:
            raise ParamError("Missing required parameter 'content' or 'newName'")
        if content == "":
            raise ParamError("File content cannot be empty")
        if new_name is not None:
            _check_name(new_name)
        with self.account.lock:
            project = self.projects.require(project_id)
            file = _require_file(project, name)
            renaming = new_name is not None and new_name != name
            if renaming and new_name in project.files:
                raise ApiError(f"File '{new_name}' already exists in project {project_id}")
            # Every check is done: from here on nothing can fail.
            now = self.account.now()
            if renaming and new_name is not None:
                del project.files[name]
                file.name = new_name
                project.files[new_name] = file
                self.account.count("files_renamed")
            if content is not None:
                file.content = content
                self.account.count("files_updated")
            file.modified = project.modified = now
            return file

    def delete(self, project_id: int, name: str) -> None:
        """Remove a file."""
        with self.account.lock:
            project = self.projects.require(project_id)
            _require_file(project, name)
            del project.files[name]
            project.modified = self.account.now()
            self.account.count("files_deleted")


def _check_name(name: str) -> None:
    error = file_name_error(name)
    if error:
        raise ApiError(error)


def _require_file(project: Project, name: str) -> ProjectFile:
    file = project.files.get(name)
    if file is None:
        raise ApiError(f"File '{name}' not found in project {project.project_id}")
    return file


# ------------------------------------------------------------------ handlers


@action("/files/create")
def _create(account: Account, params: Params) -> dict[str, Any]:
    project_id = params.require_int("projectId")
    file = Files(account).create(project_id, params.require_str("name"), params.get_str("content"))
    project = Projects.of(account).require(project_id)
    return {"files": [file_json(project, file)]}


@action("/files/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    project, files = Files(account).read(
        params.require_int("projectId"), params.get_str("name") or None
    )
    return {"files": [file_json(project, f) for f in files]}


@action("/files/update")
def _update(account: Account, params: Params) -> dict[str, Any]:
    project_id = params.require_int("projectId")
    content = params.get_str("content")
    file = Files(account).update(
        project_id,
        params.require_str("name"),
        content=content,
        new_name=params.get_str("newName"),
    )
    if content is None:
        return {}
    return {"files": [file_json(Projects.of(account).require(project_id), file)]}


@action("/files/delete")
def _delete(account: Account, params: Params) -> dict[str, Any]:
    Files(account).delete(params.require_int("projectId"), params.require_str("name"))
    return {}
