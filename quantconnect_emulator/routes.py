"""The router of the emulated API under ``/api/v2``.

One catch-all route checks the signature *first*, then parses the request (JSON
body, form-encoded body or query string — all three are accepted on every
endpoint and every method), dispatches to the action the resource modules
registered (:mod:`quantconnect_emulator.registry`) and wraps the result in
QuantConnect's envelope: ``{..payload.., "success": true, "errors": []}``.

Answers:

- authentication failure: HTTP 401 + ``WWW-Authenticate`` (or HTTP 200 when
  ``auth_failure_status=200``) with ``{"success": false, "errors": [msg]}``;
- business error (unknown project, bad name, missing parameter, unparsable or
  hostile body, ...): HTTP 200, ``{"success": false, "errors": [msg]}``;
- unknown API path: HTTP 404 with the same JSON shape;
- method other than GET/POST: HTTP 405 with the same JSON shape.

Parsing and the action run in a worker thread (``run_in_threadpool``), never on the
event loop: an action waiting for the account's lock, or a compile checking a large
file, leaves every other request, the control plane included, answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import quantconnect_emulator.resources  # noqa: F401  (registers every action)
from quantconnect_emulator.auth import AUTH_VERDICT_KEY, WWW_AUTHENTICATE
from quantconnect_emulator.config import API_PREFIX, normalize_api_path
from quantconnect_emulator.origin import serving_root
from quantconnect_emulator.params import parse_request_params
from quantconnect_emulator.registry import HANDLERS, ApiError, dispatch

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.app import Emulator

__all__ = ["HANDLERS", "router"]


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
    known = HANDLERS.get(path)
    if known is None:
        return _failure(f"Unknown API endpoint: {API_PREFIX}{path[:200]}", status=404)
    if request.method not in ("GET", "POST"):
        return _failure(f"Method {request.method} is not allowed; use POST", status=405)

    verdicts = request.scope.get("state") or {}
    auth_error = (
        verdicts[AUTH_VERDICT_KEY]
        if AUTH_VERDICT_KEY in verdicts
        else emulator.check_auth(request.headers)
    )
    if auth_error is not None:
        emulator.faults.record_auth_failure()
        if emulator.config.auth_failure_status == 401:
            return _failure(auth_error, 401, {"WWW-Authenticate": WWW_AUTHENTICATE})
        return _failure(auth_error)

    try:
        payload = await run_in_threadpool(
            _run,
            path,
            emulator.account,
            str(request.base_url),
            request.headers.get("content-type", ""),
            request.scope.get("query_string", b""),
            await request.body(),
        )
    except ApiError as exc:
        return _failure(exc.message)
    if known.bare:  # the contract's answer, exactly: no `errors` key
        return JSONResponse({"success": True})
    return JSONResponse({**payload, "success": True, "errors": []})


def _run(
    path: str, account: Account, root: str, content_type: str, query_string: bytes, body: bytes
) -> dict[str, Any]:
    params = parse_request_params(content_type=content_type, query_string=query_string, body=body)
    with serving_root(root):  # for answers that hand out a link (/object/get)
        return dispatch(path, account, params)


@router.api_route(API_PREFIX, methods=["GET", "POST"], include_in_schema=False)
async def api_root() -> JSONResponse:
    """``/api/v2`` itself is not an endpoint."""
    return _failure(f"Unknown API endpoint: {API_PREFIX}", status=404)
