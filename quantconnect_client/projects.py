"""``/projects/*``: create, read, list, update, delete and purge QuantConnect projects."""

from __future__ import annotations

import builtins
import logging
from datetime import datetime
from typing import Any

from .auth import CLOCK_TOLERANCE
from .budget import operation_budget
from .errors import (
    NotFoundError,
    QuantConnectError,
    RequestRejectedError,
    UnexpectedResponseError,
)
from .models.base import parse
from .models.projects import Project, ProjectList
from .requester import Requester
from .validation import (
    Language,
    validate_id,
    validate_language,
    validate_page,
    validate_project_name,
)

logger = logging.getLogger("quantconnect_client")

class ProjectsAPI:
    """Project operations; reached as ``client.projects``.

    Example:
        >>> project = client.projects.create("Scratch/demo", "Py")  # doctest: +SKIP
        >>> client.projects.read(project.project_id).name  # doctest: +SKIP
        'Scratch/demo'
    """

    def __init__(self, client: Requester) -> None:
        self._client = client

    def create(
        self,
        name: str,
        language: Language | str = "Py",
        *,
        organization_id: str | None = None,
        existing_since: datetime | None = None,
    ) -> Project:
        """Create a project; safe to retry.

        If an attempt's answer is lost (dropped connection, timeout, 5xx after the write), the
        project may exist already: before sending again, the client looks for a live project
        with this exact name and language created since the call began, and returns it instead
        of making a second. Names need not be unique on QuantConnect, so give projects that
        you create concurrently distinct names (the flows use the flow run id).

        Args:
            name: Project name (``/`` for folders), checked against QuantConnect's rules.
            language: ``"Py"`` or ``"C#"``.
            organization_id: Organization to create it in (default: the client's, else the
                account's preferred one).
            existing_since: If given, first return a project with this name created at or after
                this time, if there is one (for callers retrying a create themselves).

        Returns:
            The new project.

        Raises:
            ValidationError: Bad name or language (nothing is sent).
            RequestRejectedError: The service refused (its message verbatim).
        """
        validate_project_name(name)
        payload: dict[str, Any] = {"name": name, "language": validate_language(language)}
        organization = organization_id or self._client.organization_id
        if organization:
            payload["organizationId"] = organization
        started = self._client.service_now() - CLOCK_TOLERANCE

        language_code = payload["language"]
        if existing_since is not None:
            found = self.find_created_since(name, existing_since - CLOCK_TOLERANCE, language_code)
            if found is not None:
                logger.info("Project %r already exists (id %s); not creating it again.",
                            name, found.project_id)
                return found

        def attempt() -> Project:
            body = self._client.post("/projects/create", payload)
            projects = parse(ProjectList, body, "/projects/create").projects
            if not projects:
                raise UnexpectedResponseError(
                    "The create answer holds no project with a usable projectId (a positive "
                    "integer)",
                    endpoint="/projects/create",
                )
            project = projects[0]
            if project.name != name:
                logger.warning(
                    "QuantConnect named the new project %r instead of %r.", project.name, name
                )
            return project

        return self._client.with_retries(
            "/projects/create",
            attempt,
            reconcile=lambda: self.find_created_since(name, started, language_code),
        )

    def read(self, project_id: int) -> Project:
        """Read one project by id.

        Only the service's own not-found answer means "no such project": any other refusal
        (``Server busy``, an answer without ``success``) is raised as what it is, so a caller
        asking "is it gone?" is never told yes for a live project.

        Raises:
            NotFoundError: No such project (or it was deleted for good).
            RequestRejectedError: The service refused the read for another reason.
            UnexpectedResponseError: The answer held another project, or none it could read.
        """
        validate_id(project_id)
        body = self._client.call("/projects/read", {"projectId": project_id})
        projects = parse(ProjectList, body, "/projects/read").projects
        match = [p for p in projects if p.project_id == project_id]
        if len(projects) != 1 or not match:
            raise UnexpectedResponseError(
                f"Asked for project {project_id}, got {len(projects)} readable project(s) "
                f"({', '.join(str(p.project_id) for p in projects[:5])})",
                endpoint="/projects/read",
            )
        return match[0]

    def list(
        self,
        *,
        include_deleted: bool = False,
        start: int | None = None,
        end: int | None = None,
    ) -> list[Project]:
        """List projects: all of them, or a zero-based, end-exclusive page.

        Args:
            include_deleted: Also return projects in ``Recycle Bin/``.
            start: First index of a page (with ``end``).
            end: One past the last index of a page.
        """
        payload: dict[str, Any] = {}
        if start is not None or end is not None:
            payload["start"], payload["end"] = validate_page(start or 0, end or 0)
        body = self._client.call("/projects/read", payload)
        projects = parse(ProjectList, body, "/projects/read").projects
        return projects if include_deleted else [p for p in projects if not p.is_deleted]

    def find_by_name(
        self, name: str, *, include_deleted: bool = False
    ) -> builtins.list[Project]:
        """All projects with exactly this name (names need not be unique)."""
        return [p for p in self.list(include_deleted=include_deleted) if p.name == name]

    def find_created_since(
        self, name: str, since: datetime, language: str | None = None
    ) -> Project | None:
        """The newest live project named ``name`` (in ``language``, if given) created at or
        after ``since``, if any."""
        candidates = [
            p
            for p in self.find_by_name(name)
            if (p.created is None or p.created >= since)
            and (language is None or p.language in (None, language))
        ]
        candidates.sort(key=lambda p: (p.created or since, p.project_id))
        return candidates[-1] if candidates else None

    def update(
        self, project_id: int, *, name: str | None = None, description: str | None = None
    ) -> None:
        """Rename a project and/or change its description (idempotent, so retried freely).

        Raises:
            ValidationError: No change given, or a bad name.
            RequestRejectedError: E.g. another live project already has the name.
        """
        validate_id(project_id)
        if name is None and description is None:
            raise ValueError("update() needs a name or a description")
        payload: dict[str, Any] = {"projectId": project_id}
        if name is not None:
            payload["name"] = validate_project_name(name)
        if description is not None:
            payload["description"] = description
        self._client.call("/projects/update", payload)

    def delete(self, project_id: int) -> None:
        """Delete a project: the service moves it to ``Recycle Bin/`` (see :meth:`purge`).

        Safe to retry: when an attempt's answer was lost, the project is read before sending
        again, and a project already in the recycle bin or gone counts as deleted.

        Raises:
            NotFoundError: No such project.
        """
        validate_id(project_id)
        self._client.with_retries(
            "/projects/delete",
            lambda: self._send_delete(project_id),
            reconcile=lambda: self._deleted_or_none(project_id),
        )

    def purge(self, project_id: int, *, in_recycle_bin: bool = False) -> None:
        """Remove a project for good: delete until a read says it no longer exists.

        A live project takes two deletes (into the recycle bin, then out), sent back to back,
        then the read that shows it gone; one in the bin takes one delete and the read.
        ``in_recycle_bin`` is what the caller last saw; a wrong guess costs one more round,
        never a wrong answer. Every call is ordinary (retried by the client's one engine), and
        the whole purge has one call's time bound. A delete retried after a lost answer may
        apply twice; for a purge that is the aim. A refused delete is settled by a read at
        once: a project that is gone was purged (also when it was gone before: the purge is
        then quiet), one that is still there re-raises the refusal. Only the service's
        not-found answer to a read counts as gone.

        Args:
            project_id: The project.
            in_recycle_bin: The caller saw it in the recycle bin (for example, it has just
                deleted it): one delete before the read, not two.

        Raises:
            TransientError: The service kept failing (the message says how often).
            BudgetExhaustedError: The purge's time bound ran out.
            RequestRejectedError: A delete was refused and the project is still there.
            UnexpectedResponseError: The project survived more deletes than it can need, its
                delete was answered "not found" while a read finds it, or an answer could not
                be read (never taken for "gone").
        """
        validate_id(project_id)
        max_deletes = 3  # a live project needs two (into the bin, then out); one to spare
        unread = 1 if in_recycle_bin else 2  # deletes to send before the first read
        with operation_budget(self._client.call_bound):
            for sent in range(1, max_deletes + 1):
                refused: RequestRejectedError | None = None
                try:
                    self._client.call("/projects/delete", {"projectId": project_id})
                except RequestRejectedError as error:  # e.g. already gone: the read tells
                    refused = error
                if refused is None and sent < unread:
                    continue
                try:
                    self.read(project_id)
                except NotFoundError:
                    return
                except QuantConnectError as error:
                    if refused is not None:  # both answers matter to whoever reads the error
                        raise error from refused
                    raise
                if isinstance(refused, NotFoundError):
                    # "Not found" to the delete, found by the read: never let that pass for gone.
                    raise UnexpectedResponseError(
                        f"Project {project_id} is still there although its delete was answered "
                        f"as not found ({refused})", endpoint="/projects/delete",
                    ) from refused
                if refused is not None:
                    raise refused
        raise UnexpectedResponseError(
            f"Project {project_id} still exists after {max_deletes} deletes",
            endpoint="/projects/delete",
        )

    def _send_delete(self, project_id: int) -> bool:
        self._client.post("/projects/delete", {"projectId": project_id})
        return True

    def _deleted_or_none(self, project_id: int) -> bool | None:
        try:
            project = self.read(project_id)
        except NotFoundError:
            return True
        return True if project.is_deleted else None

