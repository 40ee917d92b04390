"""The one place where the emulator's models become the service's JSON.

Resources keep plain dataclasses; every payload key and every format the
client sees (datetimes, ids, the documented shapes of ``Project``,
``ProjectFile``, ``LeanVersion``, ``AccountResponse``...) is written here, so a
field misnamed in one answer cannot differ from another answer.

Example:
    >>> from datetime import datetime, timezone
    >>> datetime_iso(datetime(2021, 11, 26, 15, 18, 27, 693000, tzinfo=timezone.utc))
    '2021-11-26T15:18:27.693Z'
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from quantconnect_emulator.templates import LEAN_VERSIONS

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.resources.projects import Project, ProjectFile


def datetime_iso(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2021-11-26T15:18:27.693Z``."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def datetime_plain(value: datetime) -> str:
    """The service's other datetime form, ``yyyy-MM-dd HH:mm:ss`` (UTC)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def lean_versions() -> list[dict[str, Any]]:
    """``versions``: copies of the emulated LEAN versions (``LeanVersion`` shape)."""
    return [dict(version) for version in LEAN_VERSIONS]


def collaborator(account: Account) -> dict[str, Any]:
    """The account's user as a ``Collaborator`` (the owner of every project)."""
    user_id = account.user_id
    return {
        "uid": user_id,
        "liveControl": True,
        "permission": "write",
        "publicId": f"emulator_user_{user_id}",
        "profileImage": "https://cdn.quantconnect.com/web/i/users/profile/default.jpg",
        "email": f"user{user_id}@example.invalid",
        "name": "Emulator User",
        "bio": "",
        "owner": True,
    }


def project(account: Account, model: Project) -> dict[str, Any]:
    """A ``Project`` as ``projects/create`` and ``projects/read`` answer it."""
    return {
        "projectId": model.project_id,
        "organizationId": model.organization_id,
        "name": model.name,
        "modified": datetime_iso(model.modified),
        "created": datetime_iso(model.created),
        "ownerId": account.user_id,
        "language": model.language,
        "collaborators": [collaborator(account)],
        "leanVersionId": LEAN_VERSIONS[0]["id"],
        "leanPinnedToMaster": True,
        "owner": True,
        "description": model.description,
        "channelId": f"P{model.project_id}-{model.channel_suffix}",
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


def project_file(owner: Project, model: ProjectFile) -> dict[str, Any]:
    """A ``ProjectFile``."""
    return {
        "id": model.file_id,
        "projectId": owner.project_id,
        "name": model.name,
        "content": model.content,
        "modified": datetime_iso(model.modified),
        "open": model.open,
        "isLibrary": model.is_library,
    }


def account(model: Account) -> dict[str, Any]:
    """QuantConnect's ``AccountResponse``: an account without QCC or a card on file."""
    return {
        "organizationId": model.organization_id,
        "creditBalance": 0.0,
        "card": {"brand": "", "expiration": "12/99", "last4": ""},
    }


def organization(model: Account) -> dict[str, Any]:
    """A minimal ``Organization`` (the emulated account's only one)."""
    return {
        "id": model.organization_id,
        "name": "Emulator Organization",
        "seats": 1,
        "type": "Quant Researcher",
        "credit": {"movements": [], "balance": 0.0},
        "products": [],
        "data": {"signedTime": None, "current": False},
    }
