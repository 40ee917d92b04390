"""The plain baseline: QuantConnect's documented script, one new connection per call.

This follows the "create, read, update, delete a project" example of QuantConnect's API docs:
module-level ``requests.post`` (a fresh session and TCP connection each call) with headers built
anew for every request. It imports only the standard library and ``requests``, so the memory
probe can measure a process that never loads Prefect.
"""

from __future__ import annotations

from base64 import b64encode
from hashlib import sha256
from time import time
from typing import Any

from requests import post


def get_headers(user_id: int, api_token: str) -> dict[str, str]:
    """The docs' ``get_headers()``: a timestamped SHA-256 of the token, as Basic auth."""
    timestamp = f"{int(time())}"
    hashed_token = sha256(f"{api_token}:{timestamp}".encode()).hexdigest()
    authentication = b64encode(f"{user_id}:{hashed_token}".encode()).decode("ascii")
    return {"Authorization": f"Basic {authentication}", "Timestamp": timestamp}


def _call(base_url: str, user_id: int, api_token: str, endpoint: str, payload: Any) -> Any:
    response = post(f"{base_url}{endpoint}", headers=get_headers(user_id, api_token), json=payload)
    result = response.json()
    if not result.get("success"):
        raise RuntimeError(f"{endpoint} failed: {result.get('errors')}")
    return result


def plain_lifecycle(base_url: str, user_id: int, api_token: str, name: str) -> int:
    """Create, read, update, read, delete one project, as the docs' script does (5 requests).

    Returns:
        The id of the project (now in the recycle bin).
    """
    created = _call(base_url, user_id, api_token, "/projects/create",
                    {"name": name, "language": "Py"})
    project_id: int = created["projects"][0]["projectId"]
    _call(base_url, user_id, api_token, "/projects/read", {"projectId": project_id})
    _call(base_url, user_id, api_token, "/projects/update", {
        "projectId": project_id,
        "name": f"{name}-renamed",
        "description": "The new project name is awesome!",
    })
    _call(base_url, user_id, api_token, "/projects/read", {"projectId": project_id})
    _call(base_url, user_id, api_token, "/projects/delete", {"projectId": project_id})
    return project_id


def plain_sweep(base_url: str, user_id: int, api_token: str, prefix: str) -> int:
    """List all projects once, then delete those named ``prefix...`` one after another.

    Returns:
        How many projects were deleted.
    """
    listed = _call(base_url, user_id, api_token, "/projects/read", {})
    ids = [p["projectId"] for p in listed["projects"] if str(p["name"]).startswith(prefix)]
    for project_id in ids:
        _call(base_url, user_id, api_token, "/projects/delete", {"projectId": project_id})
    return len(ids)
