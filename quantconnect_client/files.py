"""``/files/*``: list, read, create, update, rename and delete files inside a project."""

from __future__ import annotations

from typing import Any

from .errors import NotFoundError, ValidationError
from .models.base import parse
from .models.files import FileList, ProjectFile
from .requester import Requester
from .validation import validate_file_name, validate_id


class FilesAPI:
    """File operations; reached as ``client.files``.

    Example:
        >>> [f.name for f in client.files.list(project_id)]  # doctest: +SKIP
        ['main.py', 'research.ipynb']
    """

    def __init__(self, client: Requester) -> None:
        self._client = client

    def list(self, project_id: int) -> list[ProjectFile]:
        """All files of a project, with their contents."""
        validate_id(project_id)
        body = self._client.call("/files/read", {"projectId": project_id})
        return parse(FileList, body, "/files/read").files

    def read(self, project_id: int, name: str) -> ProjectFile:
        """One file by name.

        Raises:
            NotFoundError: The project or the file does not exist.
        """
        validate_id(project_id)
        validate_file_name(name)
        body = self._client.call("/files/read", {"projectId": project_id, "name": name})
        files = parse(FileList, body, "/files/read").files
        match = [f for f in files if f.name == name]
        if not match:
            raise NotFoundError(
                f"File {name!r} not found in project {project_id}", endpoint="/files/read"
            )
        return match[0]

    def create(self, project_id: int, name: str, content: str | None = None) -> ProjectFile:
        """Create a file (``None`` content makes an empty file); safe to retry.

        Raises:
            ValidationError: ``content=""`` (the service rejects it; pass None for empty).
            RequestRejectedError: The file exists already (new projects hold ``main.py``;
                use :meth:`update` for it).
        """
        validate_id(project_id)
        validate_file_name(name)
        payload: dict[str, Any] = {"projectId": project_id, "name": name}
        if content is not None:
            if content == "":
                raise ValidationError("File content must not be an empty string; pass None.")
            payload["content"] = content

        def attempt() -> ProjectFile:
            body = self._client.post("/files/create", payload)
            files = parse(FileList, body, "/files/create").files
            if not files:
                return self.read(project_id, name)
            return files[0]

        def already_created() -> ProjectFile | None:
            try:
                existing = self.read(project_id, name)
            except NotFoundError:
                return None
            return existing if existing.content == (content or "") else None

        return self._client.with_retries("/files/create", attempt, reconcile=already_created)

    def update(self, project_id: int, name: str, content: str) -> None:
        """Replace a file's contents (idempotent)."""
        validate_id(project_id)
        validate_file_name(name)
        self._client.call(
            "/files/update", {"projectId": project_id, "name": name, "content": content}
        )

    def rename(self, project_id: int, name: str, new_name: str) -> None:
        """Rename a file; safe to retry (a rename that already happened counts as done)."""
        validate_id(project_id)
        validate_file_name(name)
        validate_file_name(new_name)
        if name == new_name:
            raise ValidationError("The new file name is the same as the old one.")

        def attempt() -> bool:
            self._client.post(
                "/files/update", {"projectId": project_id, "name": name, "newName": new_name}
            )
            return True

        def already_renamed() -> bool | None:
            names = {f.name for f in self.list(project_id)}
            return True if new_name in names and name not in names else None

        self._client.with_retries("/files/update", attempt, reconcile=already_renamed)

    def delete(self, project_id: int, name: str) -> None:
        """Delete a file; safe to retry (a file already gone counts as deleted)."""
        validate_id(project_id)
        validate_file_name(name)

        def attempt() -> bool:
            self._client.post("/files/delete", {"projectId": project_id, "name": name})
            return True

        def already_deleted() -> bool | None:
            try:
                self.read(project_id, name)
            except NotFoundError:
                return True
            return None

        self._client.with_retries("/files/delete", attempt, reconcile=already_deleted)


__all__ = ["FilesAPI"]
