"""Compiles: ``/compile/create`` and ``/compile/read``, checked without running anything.

A compile snapshots the project's files and becomes a job that answers
``InQueue`` for ``compile_seconds`` on the emulator's clock, and until its check
has ended (:mod:`quantconnect_emulator.codecheck`: Python parsed with ``ast``;
C# the lighter check; outside the account's lock and within
``code_check_seconds``; large sources in the background, in a child process:
:mod:`quantconnect_emulator.checkrun`), then ``BuildSuccess`` (log line in the
service's format) or ``BuildError`` (one log line per error). A build error
is still ``success: true``, as on the service. Tests may force the next compile
of a project to fail (``force_build_error``).

Example:
    >>> from quantconnect_emulator.account import Account, ManualClock
    >>> from quantconnect_emulator.config import EmulatorConfig
    >>> from quantconnect_emulator.resources.projects import Projects
    >>> account = Account(EmulatorConfig(seed=1), clock=ManualClock())
    >>> project = Projects.of(account).create("Demo", "Py")
    >>> compiles = Compiles.of(account)
    >>> build = compiles.create(project.project_id)
    >>> compiles.state(build)
    'InQueue'
    >>> account.clock.advance(1.0)
    >>> compiles.state(build), build.logs[0].startswith("Build Request Successful")
    ('BuildSuccess', True)
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from quantconnect_emulator.checkrun import STOPPED
from quantconnect_emulator.codecheck import SourceReport, build_error
from quantconnect_emulator.jobs import JobBoard, JobBoards, Stage
from quantconnect_emulator.registry import ApiError, Resource, action
from quantconnect_emulator.resources.projects import Projects
from quantconnect_emulator.templates import LEAN_VERSIONS

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params

IN_QUEUE, BUILD_SUCCESS, BUILD_ERROR = "InQueue", "BuildSuccess", "BuildError"
#: LEAN version written in the success log line (the emulated master's build).
LEAN_VERSION = f"2.5.0.0.{LEAN_VERSIONS[0]['id']}"
COMPILE_NOT_FOUND = "Compile id not found"


@dataclass
class Compile:
    """One compile of a project: the files it saw and its outcome (``InQueue`` until checked)."""

    compile_id: str
    project_id: int
    language: str
    created: datetime
    files: dict[str, str]
    report: SourceReport
    outcome: str
    logs: list[str]
    signature: str
    signature_order: list[str] = field(default_factory=list)
    #: A forced build error (``force_build_error``), bound when the compile was created.
    forced: list[str] | None = None


def compile_json(build: Compile, state: str, *, created: bool = False) -> dict[str, Any]:
    """A compile as ``/compile/create`` (``created``) or ``/compile/read`` answers it."""
    payload: dict[str, Any] = {
        "compileId": build.compile_id,
        "state": state,
        "projectId": build.project_id,
        "signature": build.signature,
        "signatureOrder": list(build.signature_order),
    }
    if created:
        # Only the create answer names the files' parameters (backtests §2; ReadCompileResponse
        # has compileId, state and logs).
        payload["parameters"] = [
            {"file": entry["file"], "parameters": list(entry["parameters"])}  # type: ignore[call-overload]
            for entry in build.report.file_parameters
        ]
    else:
        # Logs appear once the build is done; a build error is still success:true.
        payload["logs"] = [] if state == "InQueue" else list(build.logs)
    return payload


def _first(build: Compile) -> str:
    suffix = ".py" if build.language == "Py" else ".cs"
    return min((n for n in build.files if n.endswith(suffix)), default="main" + suffix)


class Compiles(Resource):
    """The compiles of one account (``Compiles.of(account)``)."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.by_id: dict[str, Compile] = {}
        self.forced_errors: dict[int, list[str]] = {}

    @property
    def board(self) -> JobBoard:
        """The compile jobs (no slots: compiles never wait for a node)."""
        return JobBoards.of(self.account).board("compile")

    def create(self, project_id: int) -> Compile:
        """Snapshot the project's files and start the job; the check is the job's work.

        Small sources are checked here (milliseconds). Large ones are queued on the account's
        :class:`~quantconnect_emulator.checkrun.CheckRunner` and the compile answers
        ``InQueue`` until their check has ended, as the service answers ``/compile/create`` at
        once with ``InQueue``: no request waits for a check, or holds a thread meanwhile.
        """
        account = self.account
        config = account.config
        with account.lock:
            project = Projects.of(account).require_live(project_id)
            files = {name: f.content for name, f in sorted(project.files.items())}
            language = project.language
        suffix = ".py" if language == "Py" else ".cs"
        size = sum(len(text) for name, text in files.items() if name.endswith(suffix))
        inline = size <= config.code_check_inline_bytes
        report = (
            account.checks.run(
                language,
                files,
                seconds=config.code_check_seconds,
                inline_bytes=config.code_check_inline_bytes,
            )
            if inline
            else None
        )
        with account.lock:
            # Deleted while its files were checked: no compile of a project that is gone.
            Projects.of(account).require_live(project_id)
            compile_id = account.ids.compile_id()
            digest = hashlib.sha256()
            for name, content in files.items():
                digest.update(f"{name}\0{content}\0".encode())
            build = Compile(
                compile_id=compile_id,
                project_id=project_id,
                language=language,
                created=account.now(),
                files=files,
                report=SourceReport(),
                outcome=IN_QUEUE,
                logs=[],
                signature=digest.hexdigest(),
                signature_order=list(files),
                # Bound now: the forced error is this compile's, whichever check ends first.
                forced=self.forced_errors.pop(project_id, None),
            )
            self.by_id[compile_id] = build
            seconds = account.jobs_config.compile_seconds
            self.board.submit(compile_id, [Stage(IN_QUEUE, seconds), Stage("done", 0)])
            account.count("compiles_created")
            if report is not None:
                self._checked(build, report)
                return build
        future = account.checks.submit(
            language,
            files,
            seconds=config.code_check_seconds,
            inline_bytes=config.code_check_inline_bytes,
        )
        future.add_done_callback(lambda done: self._check_ended(build, done))
        return build

    def _check_ended(self, build: Compile, done: Future[SourceReport]) -> None:
        if done.cancelled():
            report = SourceReport(errors=[build_error(build.language, _first(build), STOPPED)])
        else:
            report = done.result()
        with self.account.lock:
            if self.by_id.get(build.compile_id) is build:  # not removed with its project
                self._checked(build, report)

    def _checked(self, build: Compile, report: SourceReport) -> None:
        """Record the check's outcome (under the lock)."""
        errors = build.forced if build.forced is not None else report.errors
        build.report = report
        build.logs = list(errors) or [
            f"Build Request Successful for Project ID: {build.project_id}, with CompileID: "
            f"{build.compile_id}, Lean Version: {LEAN_VERSION}"
        ]
        build.outcome = BUILD_ERROR if errors else BUILD_SUCCESS

    def require(self, project_id: int, compile_id: str) -> Compile:
        """The compile of this project, or the service's ``Compile id not found``."""
        build = self.by_id.get(compile_id)
        if build is None or build.project_id != project_id:
            raise ApiError(COMPILE_NOT_FOUND)
        return build

    def state(self, build: Compile) -> str:
        """``InQueue`` until the job is done and its check has ended, then the outcome."""
        return IN_QUEUE if self.board.state(build.compile_id) == IN_QUEUE else build.outcome

    def force_build_error(self, project_id: int, message: str | None = None) -> None:
        """Make the next compile of the project a ``BuildError`` (for tests)."""
        with self.account.lock:
            project = Projects.of(self.account).require(project_id)
            text = message or "forced build error (emulator control)"
            main = "main.py" if project.language == "Py" else "Main.cs"
            if project.language == "Py":
                line = f"Build Error File: {main} Line 1 Column 1 - {text}"
            else:
                line = f"error: {main} Line 1 Column 1 - {text}"
            self.forced_errors[project_id] = [line]

    def project_removed(self, project_id: int) -> None:
        """Forget the compiles of a removed project."""
        for compile_id in [c for c, b in self.by_id.items() if b.project_id == project_id]:
            self.board.remove(compile_id)
            del self.by_id[compile_id]


# ------------------------------------------------------------------ handlers


@action("/compile/create", locked=False)
def _create(account: Account, params: Params) -> dict[str, Any]:
    compiles = Compiles.of(account)
    build = compiles.create(params.require_int("projectId"))
    return compile_json(build, IN_QUEUE, created=True)


@action("/compile/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    compiles = Compiles.of(account)
    project_id = params.require_int("projectId")
    Projects.of(account).require(project_id)
    build = compiles.require(project_id, params.require_str("compileId"))
    return compile_json(build, compiles.state(build))


# -------------------------------------------------------------- test controls

control = APIRouter()


class ForceBuildError(BaseModel):
    """Body of ``POST /_emulator/compile/force-error``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    project_id: int = Field(alias="projectId")
    message: str | None = Field(default=None, max_length=1_000)


@control.post("/compile/force-error")
async def _force_build_error(request: Request, body: ForceBuildError) -> dict[str, Any]:
    """The next compile of ``projectId`` ends in ``BuildError`` with ``message``."""
    account = request.app.state.emulator.account
    try:
        Compiles.of(account).force_build_error(body.project_id, body.message)
    except ApiError as exc:
        return {"status": "refused", "error": exc.message}
    return {"status": "armed", "projectId": body.project_id}
