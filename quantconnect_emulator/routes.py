"""The emulated API endpoints under ``/api/v2``.

One catch-all route parses the request (JSON body, form-encoded body or query
string — all three are accepted on every endpoint and every method), checks
the signature, dispatches to a small handler per path and wraps the result in
QuantConnect's envelope: ``{..payload.., "success": true, "errors": []}``.

Answers:

- authentication failure: HTTP 401 + ``WWW-Authenticate`` (or HTTP 200 when
  ``auth_failure_status=200``) with ``{"success": false, "errors": [msg]}``;
- business error (unknown project, bad name, missing parameter, unparsable
  body, ...): HTTP 200, ``{"success": false, "errors": [msg]}``;
- unknown API path: HTTP 404 with the same JSON shape;
- method other than GET/POST: HTTP 405 with the same JSON shape.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from quantconnect_emulator.auth import WWW_AUTHENTICATE, check_request_auth
from quantconnect_emulator.config import API_PREFIX, normalize_api_path
from quantconnect_emulator.params import ParamError, Params, parse_request_params
from quantconnect_emulator.store import StoreError
from quantconnect_emulator.templates import LEAN_VERSIONS

if TYPE_CHECKING:
    from quantconnect_emulator.app import Emulator

Handler = Callable[["Emulator", Params], dict[str, Any]]


def _versions() -> list[dict[str, Any]]:
    return [dict(version) for version in LEAN_VERSIONS]


# ------------------------------------------------------------------ handlers


def _authenticate(emulator: Emulator, params: Params) -> dict[str, Any]:
    return {}


def _projects_create(emulator: Emulator, params: Params) -> dict[str, Any]:
    name = params.require_str("name")
    language = params.require_str("language")
    organization_id = params.get_str("organizationId") or None
    project = emulator.store.create_project(name, language, organization_id)
    return {"projects": [project], "versions": _versions()}


def _projects_read(emulator: Emulator, params: Params) -> dict[str, Any]:
    project_id = params.get_int("projectId")
    if project_id is not None:
        projects = [emulator.store.get_project(project_id)]
    else:
        start = params.get_int("start")
        end = params.get_int("end")
        projects = emulator.store.list_projects(start, end)
    return {"projects": projects, "versions": _versions()}


def _projects_update(emulator: Emulator, params: Params) -> dict[str, Any]:
    emulator.store.update_project(
        params.require_int("projectId"),
        name=params.get_str("name"),
        description=params.get_str("description"),
    )
    return {}


def _projects_delete(emulator: Emulator, params: Params) -> dict[str, Any]:
    emulator.store.delete_project(params.require_int("projectId"))
    return {}


def _files_create(emulator: Emulator, params: Params) -> dict[str, Any]:
    project_id = params.require_int("projectId")
    name = params.require_str("name")
    content = params.get_str("content")
    if content is not None and content == "":
        raise ParamError("File content cannot be empty; omit 'content' to create an empty file")
    file = emulator.store.create_file(project_id, name, content or "")
    return {"files": [file]}


def _files_read(emulator: Emulator, params: Params) -> dict[str, Any]:
    project_id = params.require_int("projectId")
    name = params.get_str("name") or None
    return {"files": emulator.store.read_files(project_id, name)}


def _files_update(emulator: Emulator, params: Params) -> dict[str, Any]:
    project_id = params.require_int("projectId")
    name = params.require_str("name")
    new_name = params.get_str("newName")
    content = params.get_str("content")
    if new_name is None and content is None:
        raise ParamError("Missing required parameter 'content' or 'newName'")
    payload: dict[str, Any] = {}
    if new_name is not None:
        # Renamed first: a rename that fails (missing file, name taken or invalid) must leave
        # the content untouched too; the content update cannot fail once the rename succeeded.
        emulator.store.rename_file(project_id, name, new_name)
        name = new_name
    if content is not None:
        payload["files"] = [emulator.store.update_file_content(project_id, name, content)]
    return payload


def _files_delete(emulator: Emulator, params: Params) -> dict[str, Any]:
    emulator.store.delete_file(params.require_int("projectId"), params.require_str("name"))
    return {}


def _account_read(emulator: Emulator, params: Params) -> dict[str, Any]:
    # QuantConnect's documented ``AccountResponse``: an account without QCC or a card on file.
    return {
        "organizationId": emulator.config.organization_id,
        "creditBalance": 0.0,
        "card": {"brand": "", "expiration": "2099-12-31T00:00:00Z", "last4": ""},
    }


#: Emulated endpoints, by path relative to ``/api/v2``.
HANDLERS: dict[str, Handler] = {
    "/authenticate": _authenticate,
    "/account/read": _account_read,
    "/projects/create": _projects_create,
    "/projects/read": _projects_read,
    "/projects/update": _projects_update,
    "/projects/delete": _projects_delete,
    "/files/create": _files_create,
    "/files/read": _files_read,
    "/files/update": _files_update,
    "/files/delete": _files_delete,
}

# ------------------------------------------------------------------- routing


def _failure(
    message: str, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"success": False, "errors": [message]}, status_code=status, headers=headers
    )


router = APIRouter()


@router.api_route(
    API_PREFIX + "/{api_path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def api_endpoint(request: Request, api_path: str) -> JSONResponse:
    """Serve one emulated API call (see the module docstring)."""
    emulator: Emulator = request.app.state.emulator
    path = normalize_api_path(api_path)
    handler = HANDLERS.get(path)
    if handler is None:
        return _failure(f"Unknown API endpoint: {API_PREFIX}{path}", status=404)
    if request.method not in ("GET", "POST"):
        return _failure(f"Method {request.method} is not allowed; use POST", status=405)

    config = emulator.config
    auth_error = check_request_auth(
        request.headers,
        user_id=config.user_id,
        api_token=config.api_token.get_secret_value(),
        now=time.time(),
        max_age_seconds=config.max_timestamp_age_seconds,
        max_future_seconds=config.max_timestamp_future_seconds,
    )
    if auth_error is not None:
        emulator.faults.record_auth_failure()
        if config.auth_failure_status == 401:
            return _failure(auth_error, 401, {"WWW-Authenticate": WWW_AUTHENTICATE})
        return _failure(auth_error)

    try:
        params = parse_request_params(
            content_type=request.headers.get("content-type", ""),
            query_string=request.scope.get("query_string", b""),
            body=await request.body(),
        )
        payload = handler(emulator, params)
    except (ParamError, StoreError) as exc:
        return _failure(exc.message)
    if path == "/authenticate":  # the contract's answer, exactly: no `errors` key
        return JSONResponse({"success": True})
    return JSONResponse({**payload, "success": True, "errors": []})


@router.api_route(API_PREFIX, methods=["GET", "POST"], include_in_schema=False)
async def api_root() -> JSONResponse:
    """``/api/v2`` itself is not an endpoint."""
    return _failure(f"Unknown API endpoint: {API_PREFIX}", status=404)
