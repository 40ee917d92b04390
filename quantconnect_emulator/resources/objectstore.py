"""The Object Store: ``/object/set``, ``properties``, ``get`` (a job), ``list``, ``delete``.

Per organization, a flat map of normalized keys to objects; folders are implied by the keys
(``a/b/c.csv`` makes folders ``a`` and ``a/b``). Keys are normalized as LEAN's store does
(leading ``.`` and ``/`` dropped, ``\\`` read as ``/``), so ``/a/b`` and ``a/b`` are one object.
Every organization has a quota of bytes and of files; an upload over it is refused and changes
nothing. An upload replaces an existing key whole (``created`` kept, ``modified`` renewed): it is
stored only once its body has arrived complete, so no request ever leaves half an object.

A download is a job on the account's job clock (board ``objectstore``): ``/object/get`` with
``keys`` starts it, ``building`` for ``get_seconds``, then ``ready``; a read with ``jobId`` then
answers a link to the emulator itself (``/_emulator/objectstore/download/{jobId}?token=...``,
loopback, no API headers, like a presigned link) serving a zip whose entries are the keys. The
zip holds the objects as they were when the job started. The link expires ``url_seconds`` after
the job is ready.

Example:
    >>> from quantconnect_emulator.account import Account, ManualClock
    >>> from quantconnect_emulator.config import EmulatorConfig
    >>> account = Account(EmulatorConfig(seed=1), clock=ManualClock())
    >>> store = ObjectStore.of(account)
    >>> org = account.organization_id
    >>> store.set(org, "/models/a.json", b'{"w": 1}').key
    'models/a.json'
    >>> [(o["name"], o["folder"]) for o in store.list(org, None)["objects"]]
    [('models', True)]
    >>> job = store.start_get(org, ["models/a.json"])
    >>> store.read_get(org, job)["url"] is None
    True
    >>> account.clock.advance(DEFAULT_GET_SECONDS)
    >>> store.read_get(org, job)["url"].startswith("http://127.0.0.1/_emulator/objectstore/")
    True
"""

from __future__ import annotations

import builtins
import hashlib
import io
import mimetypes
import re
import zipfile
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from quantconnect_emulator import wire
from quantconnect_emulator.jobs import JobBoard, JobBoards, Stage
from quantconnect_emulator.multipart import FilePart
from quantconnect_emulator.origin import request_root
from quantconnect_emulator.params import ParamError
from quantconnect_emulator.registry import ApiError, Resource, action

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params

#: Free storage of an organization (QuantConnect's docs: 50 MB) and LEAN's file count default.
DEFAULT_QUOTA_BYTES = 50 * 1024 * 1024
DEFAULT_QUOTA_FILES = 10_000
#: How long a download job builds its zip, on the job clock.
DEFAULT_GET_SECONDS = 2.0
#: How long a ready link works, on the job clock (LEAN allows 20 minutes).
DEFAULT_URL_SECONDS = 20 * 60.0
#: Characters of text shown as ``preview`` (unconfirmed upstream; lean-cli shows 10).
PREVIEW_CHARACTERS = 1_000
#: The most separators in a key (LEAN's store).
MAX_KEY_SEPARATORS = 100
#: Longest key accepted (the emulator's own bound).
MAX_KEY_LENGTH = 1_000
#: The most keys one download may name.
MAX_GET_KEYS = 1_000
#: Uploads remembered per organization for tests (:meth:`ObjectStore.uploads`).
MAX_UPLOAD_HISTORY = 100_000

BUILDING, READY = "building", "ready"
EXPORT_DISABLED = "Organization does not have derivative export enabled"

# Letters, digits, space, _ # - $ = and / between folders; one optional .extension at the end.
_KEY = re.compile(r"^[A-Za-z0-9 _#\-$=/]+(\.[A-Za-z0-9_\-]+)?$")


def normalize_key(key: str) -> str:
    """The stored form of a key: ``\\`` is ``/``, leading ``.`` and ``/`` and a trailing ``/``
    dropped.

    Example:
        >>> normalize_key("/CI_TEST/a.json"), normalize_key("./x\\\\y"), normalize_key("d/")
        ('CI_TEST/a.json', 'x/y', 'd')
    """
    return key.replace("\\", "/").lstrip("./").rstrip("/")


def object_key_error(key: str) -> str | None:
    """Why ``key`` is not a usable Object Store key, or ``None``.

    Example:
        >>> object_key_error("models/l1_model.p") is None
        True
        >>> object_key_error("a/../b")[:50]
        "Object Store key 'a/../b' holds characters outside"
    """
    if not isinstance(key, str) or not normalize_key(key):
        return "Object Store key cannot be empty"
    if len(key) > MAX_KEY_LENGTH:
        return (
            f"Object Store key is too long: {len(key)} characters, the maximum is "
            f"{MAX_KEY_LENGTH}"
        )
    normalized = normalize_key(key)
    if not _KEY.match(normalized):
        return (
            f"Object Store key {key[:100]!r} holds characters outside letters, digits, space and "
            "_ # - $ = /, or more than one '.extension'"
        )
    if normalized.count("/") > MAX_KEY_SEPARATORS:
        return f"Object Store key has more than {MAX_KEY_SEPARATORS} '/' separators"
    if any(not part.strip() for part in normalized.split("/")):
        return f"Object Store key {key[:100]!r} has an empty folder name"
    return None


def _mime(key: str, data: bytes) -> str:
    guessed, _ = mimetypes.guess_type(key, strict=False)
    if guessed:
        return guessed
    return "text/plain" if _text(data) is not None else "application/octet-stream"


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass
class StoredObject:
    """One object: its bytes (immutable, so a job can hold them as they were), stamps, hash."""

    key: str
    data: bytes
    created: datetime
    modified: datetime
    md5: str
    mime: str

    @property
    def size(self) -> int:
        """Bytes stored."""
        return len(self.data)


class OrganizationSettings(BaseModel):
    """The store's limits and switches of one organization (``PUT /_emulator/objectstore``)."""

    model_config = ConfigDict(extra="forbid")

    quota_bytes: int = Field(default=DEFAULT_QUOTA_BYTES, ge=0)
    quota_files: int = Field(default=DEFAULT_QUOTA_FILES, ge=0)
    downloads_enabled: bool = True
    get_seconds: float = Field(default=DEFAULT_GET_SECONDS, ge=0, le=86_400)
    url_seconds: float = Field(default=DEFAULT_URL_SECONDS, ge=0, le=86_400)
    list_lag_seconds: float = Field(default=0.0, ge=0, le=86_400)
    """How long a deleted object stays listed (LEAN's tests wait for this; off by default)."""


@dataclass
class OrganizationStore:
    """The objects of one organization, its settings, and recently deleted ones (list lag)."""

    settings: OrganizationSettings = field(default_factory=OrganizationSettings)
    objects: dict[str, StoredObject] = field(default_factory=dict)
    deleted: dict[str, tuple[StoredObject, float]] = field(default_factory=dict)
    uploads: deque[tuple[str, int, str]] = field(
        default_factory=lambda: deque(maxlen=MAX_UPLOAD_HISTORY)
    )
    """Every upload stored, oldest first: (key, size, md5) (the last :data:`MAX_UPLOAD_HISTORY`)."""

    @property
    def used(self) -> int:
        """Bytes stored."""
        return sum(o.size for o in self.objects.values())

    def under(self, folder: str) -> list[StoredObject]:
        """The objects inside ``folder`` (``""``: all), at any depth."""
        prefix = folder + "/" if folder else ""
        return [o for key, o in sorted(self.objects.items()) if key.startswith(prefix)]

    def is_folder(self, key: str) -> bool:
        """True if some object lies under ``key``."""
        return any(k.startswith(key + "/") for k in self.objects)


class ObjectStore(Resource):
    """The Object Store of one account, by organization (``ObjectStore.of(account)``)."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.organizations: dict[str, OrganizationStore] = {
            account.organization_id: OrganizationStore()
        }

    @property
    def board(self) -> JobBoard:
        """The download jobs."""
        return JobBoards.of(self.account).board("objectstore")

    def organization(self, organization_id: str) -> OrganizationStore:
        """An organization's store, or the service's refusal for an unknown one."""
        store = self.organizations.get(organization_id.strip())
        if store is None:
            raise ApiError(f"Organization {organization_id[:64]!r} not found or not accessible")
        return store

    def add_organization(self, organization_id: str) -> OrganizationStore:
        """Make another organization (tests of a second one); existing ones are kept."""
        with self.account.lock:
            return self.organizations.setdefault(organization_id, OrganizationStore())

    # ------------------------------------------------------------------ operations

    def set(self, organization_id: str, key: str, data: bytes) -> StoredObject:
        """Store ``data`` under ``key`` (replacing it whole), within the quota."""
        _check_key(key)
        normalized = normalize_key(key)
        with self.account.lock:
            store = self.organization(organization_id)
            if store.is_folder(normalized):
                raise ApiError(f"Object Store key {key[:100]!r} is a folder")
            parents = normalized.split("/")[:-1]
            for depth in range(1, len(parents) + 1):
                if "/".join(parents[:depth]) in store.objects:
                    raise ApiError(
                        f"Object Store key {key[:100]!r} is inside "
                        f"{'/'.join(parents[:depth])!r}, which is a file"
                    )
            old = store.objects.get(normalized)
            used = store.used - (old.size if old else 0) + len(data)
            limits = store.settings
            if used > limits.quota_bytes:
                raise ApiError(
                    f"Object Store quota exceeded: storing {len(data):,} bytes would use "
                    f"{used:,} of the organization's {limits.quota_bytes:,} bytes"
                )
            if old is None and len(store.objects) + 1 > limits.quota_files:
                raise ApiError(
                    f"Object Store quota exceeded: the organization holds the most files "
                    f"allowed ({limits.quota_files:,})"
                )
            now = self.account.now()
            stored = StoredObject(
                key=normalized,
                data=data,
                created=old.created if old else now,
                modified=now,
                md5=hashlib.md5(data).hexdigest(),
                mime=_mime(normalized, data),
            )
            store.objects[normalized] = stored
            store.uploads.append((normalized, stored.size, stored.md5))
            store.deleted.pop(normalized, None)
            self.account.count("objects_set")
            return stored

    def properties(self, organization_id: str, key: str) -> StoredObject:
        """One object (a folder key is refused, as on the service)."""
        _check_key(key)
        normalized = normalize_key(key)
        with self.account.lock:
            store = self.organization(organization_id)
            found = store.objects.get(normalized)
            if found is None:
                if store.is_folder(normalized):
                    raise ApiError(
                        f"Object Store key {key[:100]!r} is a folder; properties work on files"
                    )
                raise ApiError(f"Object Store key {key[:100]!r} does not exist")
            return found

    def start_get(self, organization_id: str, keys: list[str]) -> str:
        """Start a download job of ``keys`` (files or folders); its id.

        Missing keys are left out; if none exists the job is refused here (the contract's
        choice for the undistinguishable case).
        """
        if not keys:
            raise ParamError("Parameter 'keys' must name at least one key")
        if len(keys) > MAX_GET_KEYS:
            raise ParamError(f"Parameter 'keys' names more than {MAX_GET_KEYS} keys")
        for key in keys:
            _check_key(key)
        with self.account.lock:
            store = self.organization(organization_id)
            if not store.settings.downloads_enabled:
                raise ApiError(EXPORT_DISABLED)
            entries: dict[str, bytes] = {}
            for key in keys:
                normalized = normalize_key(key)
                found = store.objects.get(normalized)
                if found is not None:
                    entries[found.key] = found.data
                for inner in store.under(normalized):
                    entries[inner.key] = inner.data
            if not entries:
                raise ApiError("Object Store keys not found: none of the requested keys exist")
            job_id = self.account.ids.hex32()
            self.board.submit(
                job_id,
                [Stage(BUILDING, store.settings.get_seconds), Stage(READY, 0)],
                organization=organization_id.strip(),
                entries=entries,
                token=self.account.ids.hex32(),
                url_seconds=store.settings.url_seconds,
            )
            self.account.count("object_get_jobs")
            return job_id

    def read_get(self, organization_id: str, job_id: str) -> dict[str, Any]:
        """The job's answer: ``{jobId, url}``, ``url`` null until the zip is ready."""
        with self.account.lock:
            self.organization(organization_id)
            job = self.board.get(job_id)
            if job is None or job.data["organization"] != organization_id.strip():
                raise ApiError(f"Object Store job {job_id[:64]!r} not found")
            if self.board.state(job_id) != READY:
                return {"jobId": job_id, "url": None}
            link = (
                f"{request_root()}/_emulator/objectstore/download/{job_id}"
                f"?token={job.data['token']}"
            )
            return {"jobId": job_id, "url": link}

    def download(self, job_id: str, token: str) -> bytes:
        """The zip of a ready job, if ``token`` is its link's and the link has not expired.

        Raises:
            PermissionError: Wrong token, job not ready, or link expired.
        """
        with self.account.lock:
            job = self.board.get(job_id)
            if job is None or job.data["token"] != token or self.board.state(job_id) != READY:
                raise PermissionError("unknown, unfinished or wrongly signed download")
            ready_at = job.entered_at(len(job.schedule) - 1)
            if ready_at is not None and (
                self.account.clock.time() > ready_at + job.data["url_seconds"]
            ):
                raise PermissionError("the download link has expired")
            entries: dict[str, bytes] = job.data["entries"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for name, data in entries.items():
                archive.writestr(name, data)
        self.account.count("object_downloads")
        return buffer.getvalue()

    def list(self, organization_id: str, path: str | None) -> dict[str, Any]:
        """The direct children of ``path`` (files and folders), as ``/object/list`` answers."""
        shown = "/" if path is None or not path.strip() else path
        folder = normalize_key(shown)
        if folder and object_key_error(folder) is not None:
            raise ApiError(object_key_error(folder) or "")
        # Keys echo the caller's form: a leading '/' in the path gives keys with one.
        lead = "/" if shown.startswith("/") and folder else ""
        with self.account.lock:
            store = self.organization(organization_id)
            now = self.account.clock.time()
            lag = store.settings.list_lag_seconds
            store.deleted = {k: v for k, v in store.deleted.items() if v[1] + lag > now}
            visible = dict(store.objects)
            visible.update({k: v[0] for k, v in store.deleted.items() if k not in visible})
            prefix = folder + "/" if folder else ""
            children: dict[str, dict[str, Any]] = {}
            for key, found in sorted(visible.items()):
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix) :]
                name, _, deeper = rest.partition("/")
                child = prefix + name
                if deeper:
                    entry = children.setdefault(child, _folder(lead + child, name))
                    entry["size"] += found.size
                    entry["modified"] = max(entry["modified"], wire.datetime_iso(found.modified))
                else:
                    children[child] = _file(lead + key, name, found)
            used = store.used
        return {
            "path": shown,
            "objects": list(children.values()),
            "page": 1,
            "totalPages": 1,
            "objectStorageUsed": used,
            "objectStorageUsedHuman": human_bytes(used),
        }

    def delete(self, organization_id: str, key: str) -> int:
        """Delete a file, or a folder with everything in it; how many objects went."""
        _check_key(key)
        normalized = normalize_key(key)
        with self.account.lock:
            store = self.organization(organization_id)
            gone = [normalized] if normalized in store.objects else []
            gone += [o.key for o in store.under(normalized)]
            if not gone:
                raise ApiError(f"Object Store key {key[:100]!r} does not exist")
            now = self.account.clock.time()
            for name in gone:
                store.deleted[name] = (store.objects.pop(name), now)
            self.account.count("objects_deleted", len(gone))
            return len(gone)

    # ------------------------------------------------------------------ test helpers

    def seed(self, key: str, data: bytes | str, organization_id: str | None = None) -> None:
        """Store an object without a request (quota checked as an upload's)."""
        content = data.encode() if isinstance(data, str) else data
        self.set(organization_id or self.account.organization_id, key, content)

    def snapshot(self, organization_id: str | None = None) -> dict[str, dict[str, Any]]:
        """Every object of an organization: key -> ``{size, md5, mime, created, modified}``."""
        with self.account.lock:
            store = self.organization(organization_id or self.account.organization_id)
            return {
                key: {
                    "size": o.size,
                    "md5": o.md5,
                    "mime": o.mime,
                    "created": wire.datetime_iso(o.created),
                    "modified": wire.datetime_iso(o.modified),
                }
                for key, o in sorted(store.objects.items())
            }

    def uploads(self, organization_id: str | None = None) -> builtins.list[dict[str, Any]]:
        """Every upload an organization stored, oldest first: ``{key, size, md5}`` (the same
        content stored twice under a key shows twice: a duplicate upload)."""
        with self.account.lock:
            store = self.organization(organization_id or self.account.organization_id)
            return [{"key": k, "size": n, "md5": m} for k, n, m in store.uploads]

    def content(self, key: str, organization_id: str | None = None) -> bytes:
        """The bytes stored under ``key``."""
        return self.properties(organization_id or self.account.organization_id, key).data

    def configure(self, organization_id: str | None = None, **settings: Any) -> None:
        """Change an organization's settings (omitted ones are kept)."""
        with self.account.lock:
            store = self.organization(organization_id or self.account.organization_id)
            store.settings = OrganizationSettings.model_validate(
                {**store.settings.model_dump(), **settings}
            )


def _check_key(key: str) -> None:
    error = object_key_error(key)
    if error is not None:
        raise ApiError(error)


def human_bytes(size: int) -> str:
    """``objectStorageUsedHuman``: the size in the largest unit that keeps it >= 1.

    Example:
        >>> human_bytes(0), human_bytes(2_437_000_000), human_bytes(1536)
        ('0 B', '2.27 GB', '1.5 KB')
    """
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} TB"  # pragma: no cover (the loop returns at GB)


def _file(key: str, name: str, found: StoredObject) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "modified": wire.datetime_iso(found.modified),
        "mime": found.mime,
        "folder": False,
        "size": found.size,
    }


def _folder(key: str, name: str) -> dict[str, Any]:
    return {
        "key": key, "name": name, "modified": "", "mime": "directory", "folder": True, "size": 0
    }


def _properties(found: StoredObject) -> dict[str, Any]:
    text = _text(found.data)
    return {
        "key": found.key,
        "modified": wire.datetime_iso(found.modified),
        "created": wire.datetime_iso(found.created),
        "size": found.size,
        "md5": found.md5,
        "mime": found.mime,
        "preview": text[:PREVIEW_CHARACTERS] if text is not None else None,
    }


# ------------------------------------------------------------------ handlers


@action("/object/set")
def _set(account: Account, params: Params) -> dict[str, Any]:
    organization_id = params.require_str("organizationId")
    key = params.require_str("key")
    part = params.get_raw("objectData")
    if part is None:
        raise ParamError("Missing required parameter 'objectData' (a multipart file part)")
    if not isinstance(part, FilePart):
        raise ParamError("Parameter 'objectData' must be a multipart/form-data file part")
    ObjectStore.of(account).set(organization_id, key, part.data)
    return {}


@action("/object/properties")
def _properties_action(account: Account, params: Params) -> dict[str, Any]:
    found = ObjectStore.of(account).properties(
        params.require_str("organizationId"), params.require_str("key")
    )
    return {"metadata": _properties(found)}


@action("/object/get")
def _get(account: Account, params: Params) -> dict[str, Any]:
    organization_id = params.require_str("organizationId")
    store = ObjectStore.of(account)
    job_id = params.get_str("jobId")
    if job_id is not None:
        return store.read_get(organization_id, job_id)
    keys = params.get_raw("keys")
    if keys is None:
        raise ParamError("Missing required parameter 'keys' (or 'jobId')")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ParamError("Parameter 'keys' must be a list of strings")
    started = store.start_get(organization_id, keys)
    return store.read_get(organization_id, started)


@action("/object/list")
def _list(account: Account, params: Params) -> dict[str, Any]:
    return ObjectStore.of(account).list(
        params.require_str("organizationId"), params.get_str("path")
    )


@action("/object/delete")
def _delete(account: Account, params: Params) -> dict[str, Any]:
    ObjectStore.of(account).delete(params.require_str("organizationId"), params.require_str("key"))
    return {}


# -------------------------------------------------------------- test controls

control = APIRouter()


@control.get("/objectstore/download/{job_id}", include_in_schema=False)
async def _download(request: Request, job_id: str, token: str = "") -> Response:
    """The link ``/object/get`` hands out: the job's zip, no API headers needed."""
    account = request.app.state.emulator.account
    try:
        body = ObjectStore.of(account).download(job_id, token)
    except PermissionError as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    return Response(body, media_type="application/zip")


@control.get("/objectstore")
async def _inspect(request: Request, organization_id: str | None = None) -> dict[str, Any]:
    """Every object of an organization (the account's by default) and its settings."""
    account = request.app.state.emulator.account
    store = ObjectStore.of(account)
    try:
        objects = store.snapshot(organization_id)
        settings = store.organization(organization_id or account.organization_id).settings
    except ApiError as exc:
        raise HTTPException(status_code=404, detail=exc.message) from exc
    return {"objects": objects, "settings": settings.model_dump()}


@control.put("/objectstore/settings")
async def _configure(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """Change the account organization's settings (omitted fields keep their values)."""
    account = request.app.state.emulator.account
    store = ObjectStore.of(account)
    try:
        store.configure(**body)
    except (ValueError, TypeError) as exc:
        raise HTTPException(status_code=422, detail=str(exc)[:500]) from exc
    return store.organization(account.organization_id).settings.model_dump()

