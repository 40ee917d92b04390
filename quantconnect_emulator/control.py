"""The emulator's own endpoints, under ``/_emulator`` (not part of the real API).

No authentication, no latency, no faults — but they answer only requests whose
``Host`` is this machine (loopback names and addresses, the bound host, and
``allowed_hosts``) and whose ``Origin``, if any, is too (see
:mod:`quantconnect_emulator.middleware`): a web page cannot reset the emulator
or read its files through the browser.

- ``GET  /_emulator/health``   -> ``{"status": "ok", ...}``
- ``GET  /_emulator/state``    -> every project (Recycle Bin included) with its files
- ``GET  /_emulator/stats``    -> request/fault/in-flight counters and store counters
- ``GET  /_emulator/requests`` -> the request log (``?limit=N`` keeps the newest N)
- ``POST /_emulator/reset``    -> forget projects, jobs, stats, log and queued faults; send the
  held answers
- ``GET  /_emulator/faults``   -> the current :class:`FaultConfig`
- ``PUT  /_emulator/faults``   -> replace it (body: a FaultConfig as JSON)
- ``POST /_emulator/inject``   -> queue forced faults: ``{"kind", "path", "count"}``
- ``POST /_emulator/faults/release`` -> send the ``slow_response`` answers held now at once:
  ``{"released": n}`` (how many were being held)
- ``GET  /_emulator/clock``    -> the job clock (``{"time": unix seconds}``)
- ``POST /_emulator/clock/advance`` -> move it forward: ``{"seconds": n}``
- ``GET  /_emulator/jobs``     -> job settings and every job with its state
- ``PUT  /_emulator/jobs``     -> replace the job settings (a JobsConfig as JSON; omitted
  fields keep their values)
- ``POST /_emulator/jobs/{id}/advance`` / ``.../finish`` -> next stage / last stage
- ``POST /_emulator/compile/force-error`` -> ``{"projectId", "message"}``: next compile fails
- ``POST /_emulator/backtests/force-error`` -> ``{"projectId", "backtestId"?, "message"?,
  "duringInitialization"?, "atProgress"?}``: fail a running backtest now or the next one
- ``GET  /_emulator/backtests`` -> every backtest with its status, and the node figures
- ``POST /_emulator/live/force-error`` / ``.../force-stop`` -> ``{"projectId", "message"?}``:
  end the project's live algorithm now in ``RuntimeError`` / ``Stopped``
- ``GET  /_emulator/live`` -> every live deployment (status, node, commands) and the live nodes
- ``POST /_emulator/projects/seed`` -> ``{"names": [...], "language"?}``: create many projects
  at once (as ``/projects/create`` does, without latency or faults); ``{"projectIds": [...]}``

Example:
    >>> import requests  # doctest: +SKIP
    >>> requests.post(f"{root}/_emulator/inject",  # doctest: +SKIP
    ...               json={"kind": "http_502_html", "path": "/projects/read", "count": 2})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from quantconnect_emulator.config import (
    API_PREFIX,
    CONTROL_PREFIX,
    LIMITS,
    FaultConfig,
    FaultKind,
    JobsConfig,
)
from quantconnect_emulator.jobs import JobBoards

if TYPE_CHECKING:
    from quantconnect_emulator.app import Emulator

router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator control"])


class InjectRequest(BaseModel):
    """Body of ``POST /_emulator/inject``."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    path: str | None = Field(
        default=None, max_length=300, description="API path, e.g. /projects/create"
    )
    count: int = Field(default=1, ge=1, le=int(LIMITS["inject_count"]))


class AdvanceRequest(BaseModel):
    """Body of ``POST /_emulator/clock/advance``."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0, le=LIMITS["job_seconds"])


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Liveness probe; also says where the API is."""
    emulator = _emulator(request)
    return {"status": "ok", "api_prefix": API_PREFIX, "user_id": emulator.config.user_id}


@router.get("/state")
async def state(request: Request, include_deleted: bool = True) -> dict[str, Any]:
    """Every project with its files; ``inRecycleBin`` marks soft-deleted ones."""
    emulator = _emulator(request)
    return {
        "organizationId": emulator.config.organization_id,
        "projects": emulator.projects(include_deleted=include_deleted),
    }


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    """Counters since the last reset."""
    return _emulator(request).stats()


@router.get("/requests")
async def requests_log(
    request: Request, limit: int | None = Query(default=None, ge=0)
) -> dict[str, Any]:
    """The request log, oldest first."""
    return {"requests": _emulator(request).log.entries(limit)}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Forget projects, jobs, counters, the request log and queued faults (config kept)."""
    _emulator(request).reset()
    return {"status": "reset"}


@router.get("/faults")
async def get_faults(request: Request) -> FaultConfig:
    """The current fault configuration."""
    return _emulator(request).faults.config


@router.put("/faults")
async def put_faults(request: Request, config: FaultConfig) -> FaultConfig:
    """Replace the fault configuration."""
    _emulator(request).faults.set_config(config)
    return config


@router.post("/inject")
async def inject(request: Request, body: InjectRequest) -> dict[str, Any]:
    """Force a fault on the next ``count`` requests to ``path`` (any path if null)."""
    faults = _emulator(request).faults
    try:
        faults.inject(body.kind, body.path, body.count)
    except OverflowError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    return {"status": "queued", "pending": faults.pending_injections()}


@router.post("/faults/release")
async def release_held(request: Request) -> dict[str, Any]:
    """Answer every ``slow_response`` held now, instead of at the end of its hold."""
    return {"released": _emulator(request).faults.release_held()}


@router.get("/clock")
async def get_clock(request: Request) -> dict[str, Any]:
    """The job clock, in Unix seconds."""
    return {"time": _emulator(request).account.clock.time()}


@router.post("/clock/advance")
async def advance_clock(request: Request, body: AdvanceRequest) -> dict[str, Any]:
    """Move the job clock forward: every job moves with it."""
    return {"time": _emulator(request).advance(body.seconds)}


@router.get("/jobs")
async def get_jobs(request: Request) -> dict[str, Any]:
    """The job settings in force and every job."""
    emulator = _emulator(request)
    account = emulator.account
    return {
        "config": account.jobs_config.model_dump(),
        "jobs": JobBoards.of(account).snapshot(),
    }


@router.put("/jobs")
async def put_jobs(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Change some job settings (omitted fields keep their values)."""
    emulator = _emulator(request)
    try:
        config = JobsConfig.model_validate({**emulator.account.jobs_config.model_dump(), **body})
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    emulator.set_jobs(config)
    return config.model_dump()


@router.post("/jobs/{job_id}/{step}")
async def step_job(request: Request, job_id: str, step: str) -> dict[str, Any]:
    """``advance`` a job to its next stage, or ``finish`` it (its last stage)."""
    account = _emulator(request).account
    with account.lock:
        board = JobBoards.of(account).find(job_id)
        if board is None:
            raise HTTPException(status_code=404, detail=f"no job {job_id[:100]}")
        if step == "advance":
            job = board.advance(job_id)
        elif step == "finish":
            job = board.finish(job_id)
        else:
            raise HTTPException(status_code=404, detail="use /advance or /finish")
        return {"id": job.job_id, "state": board.state(job_id)}
