"""The emulator's own endpoints, under ``/_emulator`` (not part of the real API).

No authentication, no latency, no faults:

- ``GET  /_emulator/health``   -> ``{"status": "ok", ...}``
- ``GET  /_emulator/state``    -> every project (Recycle Bin included) with its files
- ``GET  /_emulator/stats``    -> request/fault/in-flight counters and store counters
- ``GET  /_emulator/requests`` -> the request log (``?limit=N`` keeps the newest N)
- ``POST /_emulator/reset``    -> forget projects, stats, log and queued faults
- ``GET  /_emulator/faults``   -> the current :class:`FaultConfig`
- ``PUT  /_emulator/faults``   -> replace it (body: a FaultConfig as JSON)
- ``POST /_emulator/inject``   -> queue forced faults: ``{"kind", "path", "count"}``

Example:
    >>> import requests  # doctest: +SKIP
    >>> requests.post(f"{root}/_emulator/inject",  # doctest: +SKIP
    ...               json={"kind": "http_502_html", "path": "/projects/read", "count": 2})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from quantconnect_emulator.config import API_PREFIX, CONTROL_PREFIX, FaultConfig, FaultKind

if TYPE_CHECKING:
    from quantconnect_emulator.app import Emulator

router = APIRouter(prefix=CONTROL_PREFIX, tags=["emulator control"])


class InjectRequest(BaseModel):
    """Body of ``POST /_emulator/inject``."""

    kind: FaultKind
    path: str | None = Field(default=None, description="API path, e.g. /projects/create")
    count: int = Field(default=1, ge=1)


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
        "projects": emulator.store.snapshot(include_deleted=include_deleted),
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
    """Forget projects, counters, the request log and queued faults (config kept)."""
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
    faults.inject(body.kind, body.path, body.count)
    return {"status": "queued", "pending": faults.pending_injections()}
