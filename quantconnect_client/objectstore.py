"""``/object/*``: the organization's Object Store — upload, properties, download, list, delete.

Uploads and downloads are streamed: an upload reads its file in chunks into a multipart body
(:mod:`quantconnect_client.multipart`), a download writes the service's zip to a temporary file
next to the destination and unpacks the entry from there, so neither holds a whole object in
memory. Keys and sizes are checked before any request.

How long a transfer may take grows with its size (:meth:`~quantconnect_client.Timeouts.transfer`:
one request's bound plus the size at ``QC_MIN_TRANSFER_RATE``), so a large file on a slow link is
sent and fetched whole; a stalled one still fails soon, as a retried
:class:`~quantconnect_client.RequestTimeoutError`: an upload whose link takes no block for the
connect timeout, a download that receives nothing for the read timeout or falls below the
minimum rate on average.

Why a retried upload never leaves two versions or half a file: the service keeps one object per
key and an upload replaces it whole (a body cut short is not stored), so sending the same content
again is harmless; and when an answer is lost after the body went out, the upload is first looked
up with ``/object/properties``: if the service holds exactly this size and MD5, it is not sent
again (``UploadResult.reconciled``).

Example:
    >>> store = client.object_store  # doctest: +SKIP
    >>> store.set("models/weights.bin", "build/weights.bin").md5  # doctest: +SKIP
    '5d41402abc4b2a76b9719d911017c592'
    >>> store.get("models/weights.bin", "/tmp/weights.bin")  # doctest: +SKIP
    PosixPath('/tmp/weights.bin')
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

import requests
import urllib3

from .errors import (
    ConnectionFailedError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    RequestTimeoutError,
    ServiceUnavailableError,
    UnexpectedResponseError,
    ValidationError,
)
from .models.base import parse
from .models.objectstore import (
    ObjectGetJob,
    ObjectListing,
    ObjectProperties,
    UploadResult,
)
from .multipart import CHUNK_BYTES, MultipartUpload
from .polling import poll
from .redaction import redact_url
from .transport import limit_socket_wait, retry_after_seconds
from .validation import validate_job_id

if TYPE_CHECKING:
    from .client import QuantConnectClient

logger = logging.getLogger("quantconnect_client")

#: Largest object an upload sends unless told otherwise: the free storage of an organization
#: (QuantConnect's docs: 50 MB); pass ``max_bytes`` for a larger subscription.
DEFAULT_MAX_OBJECT_BYTES = 50 * 1024 * 1024
#: Largest download zip accepted unless told otherwise.
DEFAULT_MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024 * 1024
#: The most separators in a key (LEAN's store) and the longest key this client sends.
MAX_KEY_SEPARATORS = 100
MAX_KEY_LENGTH = 1_000
#: Reads of a download job: quick at first (a small zip is ready in seconds), then every 3 s as
#: LEAN and lean-cli poll.
GET_SCHEDULE = (0.25, 0.5, 1.0, 2.0, 3.0)
#: How long a download job may take (LEAN and lean-cli wait 5 minutes).
GET_TIMEOUT = 300.0

_KEY = re.compile(r"^[A-Za-z0-9 _#\-$=/]+(\.[A-Za-z0-9_\-]+)?$")

Source = str | os.PathLike[str] | bytes | IO[bytes]


def normalize_object_key(key: str) -> str:
    """A key as the store files it: ``\\`` read as ``/``, leading ``.``/``/`` and a trailing
    ``/`` dropped (``/a/b`` and ``a/b`` are one object).

    Example:
        >>> normalize_object_key("/CI_TEST/trades.json"), normalize_object_key("a\\\\b/")
        ('CI_TEST/trades.json', 'a/b')
    """
    return key.replace("\\", "/").lstrip("./").rstrip("/")


def validate_object_key(key: object) -> str:
    """Check an Object Store key before any request; returns it as given.

    The rules are LEAN's store's (the keys an algorithm can read): letters, digits, space and
    ``_ # - $ = /``, one optional ``.extension``, at most 100 separators, no empty folder name.

    Example:
        >>> validate_object_key("models/l1_model.p")
        'models/l1_model.p'
        >>> try:
        ...     validate_object_key("a/../b")
        ... except ValidationError as error:
        ...     print(str(error)[:60])
        Object Store key 'a/../b' may hold only letters, digits, spa
    """
    if not isinstance(key, str) or not normalize_object_key(key).strip():
        raise ValidationError(f"An Object Store key must be a non-empty string, not {key!r:.60}.")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"Object Store key is {len(key)} characters long; the most is {MAX_KEY_LENGTH}."
        )
    normalized = normalize_object_key(key)
    if not _KEY.match(normalized):
        raise ValidationError(
            f"Object Store key {key[:100]!r} may hold only letters, digits, space and "
            "_ # - $ = /, with one optional '.extension'."
        )
    if normalized.count("/") > MAX_KEY_SEPARATORS:
        raise ValidationError(
            f"Object Store key has more than {MAX_KEY_SEPARATORS} '/' separators."
        )
    if any(not part.strip() for part in normalized.split("/")):
        raise ValidationError(f"Object Store key {key[:100]!r} has an empty folder name.")
    return key


def file_md5(opener: Callable[[], IO[bytes]]) -> tuple[int, str]:
    """Size and lower-case hex MD5 of a content, read in chunks (the service's ``md5``).

    Example:
        >>> file_md5(lambda: io.BytesIO(b"Hello, world!"))
        (13, '6cd3556deb0da54bca060b4c39479839')
    """
    digest = hashlib.md5()
    size = 0
    with opener() as source:
        while chunk := source.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class _LocalWriteError(Exception):
    """Carries a failed write to the local file past the handlers of the link's errors."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class _Window(io.RawIOBase):
    """A caller's file seen from ``start``, never closed by us (``with`` closes the window)."""

    def __init__(self, source: IO[bytes], start: int) -> None:
        super().__init__()
        self._source = source
        source.seek(start)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        return self._source.read(size)


def _opener_of(source: Source) -> tuple[Callable[[], IO[bytes]], int]:
    """How to open the content once per attempt, and its size."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return (lambda: io.BytesIO(data)), len(data)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError(f"Upload source {str(path)[:200]!r} is not a file.")
        return (lambda: path.open("rb")), path.stat().st_size
    if not (hasattr(source, "read") and hasattr(source, "seek")):
        raise ValidationError("Upload source must be a path, bytes or a binary file object.")
    if not source.seekable():
        raise ValidationError(
            "Upload source must be seekable (a retry reads it again from the start)."
        )
    start = source.tell()
    size = source.seek(0, os.SEEK_END) - start
    source.seek(start)
    return (lambda: _Window(source, start)), size  # type: ignore[return-value]


class ObjectStoreAPI:
    """Object Store operations; reached as ``client.object_store``.

    Every operation works in ``organization_id`` (default: the client's
    ``organization_id``).

    Attributes:
        max_object_bytes: The largest upload sent (default 50 MiB, the free storage).
        max_download_bytes: The largest download zip accepted.
    """

    def __init__(self, client: QuantConnectClient) -> None:
        self._client = client
        self.max_object_bytes = DEFAULT_MAX_OBJECT_BYTES
        self.max_download_bytes = DEFAULT_MAX_DOWNLOAD_BYTES

    def _organization(self, organization_id: str | None) -> str:
        chosen = organization_id or self._client.organization_id
        if not isinstance(chosen, str) or not chosen.strip():
            raise ValidationError(
                "The Object Store needs an organization id: pass organization_id or set the "
                "client's (QC_ORGANIZATION_ID)."
            )
        return chosen.strip()

    # ------------------------------------------------------------------------- upload

    def set(
        self,
        key: str,
        source: Source,
        *,
        organization_id: str | None = None,
        max_bytes: int | None = None,
    ) -> UploadResult:
        """Upload ``source`` under ``key``, replacing what is there; safe to retry.

        Args:
            key: The object's key (``folder/name.ext``).
            source: A path, bytes, or a seekable binary file object (read from its current
                position to its end; it is read once to hash it and once per attempt).
            organization_id: The organization (default: the client's).
            max_bytes: The largest content accepted (default :attr:`max_object_bytes`).

        Raises:
            ValidationError: A bad key, a source that is no file, or a content over the limit
                (before any request).
            RequestRejectedError: Refused by the service (its quota, for one).
        """
        validate_object_key(key)
        organization = self._organization(organization_id)
        limit = self.max_object_bytes if max_bytes is None else max_bytes
        opener, size = _opener_of(source)
        if size > limit:
            raise ValidationError(
                f"Object {key[:100]!r} is {size:,} bytes; the most this client uploads is "
                f"{limit:,} (pass max_bytes for a larger storage plan)."
            )
        size, md5 = file_md5(opener)
        upload = MultipartUpload(
            {"organizationId": organization, "key": key},
            "objectData",
            PurePosixPath(normalize_object_key(key)).name,
            opener,
            size=size,
        )

        def attempt() -> UploadResult:
            self._client.post("/object/set", upload=upload)
            return UploadResult(key, size, md5)

        def already_stored() -> UploadResult | None:
            try:
                found = self.properties(key, organization_id=organization)
            except NotFoundError:
                return None
            if found.size == size and (found.md5 or "").lower() == md5:
                return UploadResult(key, size, md5, reconciled=True)
            return None

        return self._client.with_retries(
            "/object/set",
            attempt,
            reconcile=already_stored,
            attempt_seconds=self._client.timeouts.transfer(upload.length),
        )

    # -------------------------------------------------------------------------- reads

    def properties(self, key: str, *, organization_id: str | None = None) -> ObjectProperties:
        """One object's size, MD5, MIME type, stamps and preview.

        Raises:
            NotFoundError: No such key. A folder key is refused too (the service's rule).
        """
        validate_object_key(key)
        body = self._client.call(
            "/object/properties",
            {"organizationId": self._organization(organization_id), "key": key},
        )
        metadata = body.get("metadata")
        if not isinstance(metadata, dict):
            raise UnexpectedResponseError(
                "The answer has no 'metadata' object", endpoint="/object/properties"
            )
        return parse(ObjectProperties, metadata, "/object/properties")

    def list(self, path: str | None = None, *, organization_id: str | None = None) -> ObjectListing:
        """The files and folders directly in ``path`` (the root if omitted), not recursive.

        The answer carries ``page``/``totalPages`` but the contract gives no request field to
        ask for another page: this reads the one page there is, and logs a warning if the
        answer says there are more.
        """
        payload: dict[str, Any] = {"organizationId": self._organization(organization_id)}
        if path is not None and normalize_object_key(path):
            validate_object_key(path)
            payload["path"] = path
        body = self._client.call("/object/list", payload)
        listing = parse(ObjectListing, body, "/object/list")
        if listing.total_pages and listing.page and listing.total_pages > listing.page:
            logger.warning(
                "/object/list answered page %d of %d; the API offers no way to read the others.",
                listing.page,
                listing.total_pages,
            )
        return listing

    # ------------------------------------------------------------------------ delete

    def delete(self, key: str, *, organization_id: str | None = None) -> None:
        """Delete a file, or a folder with its contents; safe to retry (gone counts as done).

        Raises:
            NotFoundError: The key did not exist.
        """
        validate_object_key(key)
        organization = self._organization(organization_id)

        def attempt() -> bool:
            self._client.post("/object/delete", {"organizationId": organization, "key": key})
            return True

        def already_deleted() -> bool | None:
            try:
                self.properties(key, organization_id=organization)
            except NotFoundError:
                return True
            except RequestRejectedError:
                return None  # a folder key: still there
            return None

        self._client.with_retries("/object/delete", attempt, reconcile=already_deleted)

    # ---------------------------------------------------------------------- download

    def start_get(
        self, keys: Sequence[str], *, organization_id: str | None = None
    ) -> ObjectGetJob:
        """Start a download job of ``keys`` (files or folders); retried freely (a second job
        only costs the service a zip)."""
        if isinstance(keys, str) or not keys:
            raise ValidationError("keys must be a non-empty list of Object Store keys.")
        for key in keys:
            validate_object_key(key)
        body = self._client.call(
            "/object/get",
            {"organizationId": self._organization(organization_id), "keys": list(keys)},
        )
        job = parse(ObjectGetJob, body, "/object/get")
        if job.job_id is None and not job.ready:
            raise UnexpectedResponseError("The answer has neither jobId nor url",
                                          endpoint="/object/get")
        return job

    def read_get(self, job_id: str, *, organization_id: str | None = None) -> ObjectGetJob:
        """One read of a download job (``url`` empty until the zip is ready)."""
        validate_job_id(job_id, "jobId")
        body = self._client.call(
            "/object/get", {"organizationId": self._organization(organization_id), "jobId": job_id}
        )
        return parse(ObjectGetJob, body, "/object/get")

    def wait_get(
        self,
        job: ObjectGetJob,
        *,
        organization_id: str | None = None,
        timeout: float = GET_TIMEOUT,
        on_progress: Callable[[ObjectGetJob], None] | None = None,
    ) -> str:
        """Read the job until its link is ready; the link.

        Raises:
            WaitTimeoutError: No link within ``timeout`` seconds.
        """
        if job.ready and job.url:
            return job.url
        job_id = job.job_id
        if job_id is None:
            raise UnexpectedResponseError("A download job without jobId", endpoint="/object/get")
        ready = poll(
            lambda: self.read_get(job_id, organization_id=organization_id),
            done=lambda j: j.ready,
            schedule=GET_SCHEDULE,
            timeout=timeout,
            on_progress=on_progress,
            what=f"Object Store download {job_id}",
            policy=self._client.retry,
            on_retry=self._client.count_retry,
        )
        assert ready.url is not None  # done() held
        return ready.url

    def get(
        self,
        key: str,
        destination: str | os.PathLike[str],
        *,
        organization_id: str | None = None,
        timeout: float = GET_TIMEOUT,
    ) -> Path:
        """Download one file to ``destination`` (replaced only once it arrived whole).

        Raises:
            NotFoundError: The key does not exist (or the zip does not hold it).
            WaitTimeoutError: The job did not finish within ``timeout`` seconds.
        """
        validate_object_key(key)
        target = Path(destination)
        wanted = normalize_object_key(key)
        with self._zip(
            [key], target.parent, organization_id=organization_id, timeout=timeout
        ) as archive:
            names = {normalize_object_key(n): n for n in archive.namelist()}
            if wanted not in names:
                raise NotFoundError(
                    f"The download of {key[:100]!r} holds no such file (a folder key? use "
                    "download_to)",
                    endpoint="/object/get",
                )
            _extract(archive, names[wanted], target)
        return target

    def download_to(
        self,
        keys: Sequence[str],
        directory: str | os.PathLike[str],
        *,
        organization_id: str | None = None,
        timeout: float = GET_TIMEOUT,
    ) -> builtins.list[Path]:
        """Download files and folders into ``directory``, each at its key's path under it."""
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        written: builtins.list[Path] = []
        with self._zip(keys, root, organization_id=organization_id, timeout=timeout) as archive:
            for name in archive.namelist():
                if name.endswith("/"):
                    continue
                relative = normalize_object_key(name)
                parts = PurePosixPath(relative).parts
                if not relative or ".." in parts:
                    raise UnexpectedResponseError(
                        f"The download holds an unsafe entry name {name[:100]!r}",
                        endpoint="/object/get",
                    )
                target = root.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                _extract(archive, name, target)
                written.append(target)
        return written

    @contextlib.contextmanager
    def _zip(
        self,
        keys: Sequence[str],
        where: Path,
        *,
        organization_id: str | None,
        timeout: float,
    ) -> Iterator[zipfile.ZipFile]:
        """Start the job, wait for the link, fetch the zip into a temporary file in ``where``."""
        organization = self._organization(organization_id)
        job = self.start_get(keys, organization_id=organization)
        url = self.wait_get(job, organization_id=organization, timeout=timeout)
        where.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=where) as spool:
            # The zip's size is known only from its answer: the call may last as long as the
            # largest accepted download takes at the minimum rate, and each attempt is cut at
            # its own size's bound (or a stall) by _fetch.
            self._client.with_retries(
                "/object/get (download)",
                lambda: self._fetch(url, spool),
                attempt_seconds=self._client.timeouts.transfer(self.max_download_bytes),
            )
            spool.seek(0)
            try:
                archive = zipfile.ZipFile(spool)
            except zipfile.BadZipFile:
                raise UnexpectedResponseError(
                    "The download link did not serve a zip", endpoint="/object/get"
                ) from None
            with archive:
                yield archive

    def _fetch(self, url: str, sink: IO[bytes]) -> int:
        """One attempt at the link (no API headers: it is presigned); bytes written.

        Bounded by size, not by one request's time: the attempt may take
        :meth:`~quantconnect_client.Timeouts.transfer` of the zip's declared length (of the
        bytes received so far, without one), and no read may wait longer than the read timeout.

        Raises:
            RequestTimeoutError: The download stalled or was slower than the minimum rate.
            ConnectionFailedError: The connection dropped, or the body ended short.
            OSError: Writing to the local file failed (as the system raised it).
        """
        self._client.metrics.add("requests")
        sink.seek(0)
        sink.truncate()
        timeouts = self._client.timeouts
        shown = redact_url(url.split("?", 1)[0])
        started = time.monotonic()
        written = 0
        try:
            with requests.get(
                url,
                stream=True,
                timeout=(timeouts.connect, timeouts.read),
                allow_redirects=False,
            ) as response:
                if response.status_code >= 500:
                    raise ServiceUnavailableError(
                        f"The download link answered HTTP {response.status_code}",
                        endpoint="/object/get",
                        status_code=response.status_code,
                    )
                if response.status_code == 429:
                    raise RateLimitedError(
                        "The download link answered HTTP 429 (too many requests)",
                        endpoint="/object/get",
                        status_code=429,
                        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                        request_sent=False,
                    )
                if response.status_code != 200:
                    raise RequestRejectedError(
                        f"The download link {shown} answered HTTP {response.status_code} "
                        "(expired or refused)",
                        endpoint="/object/get",
                        status_code=response.status_code,
                    )
                declared = response.headers.get("Content-Length", "")
                encoded = response.headers.get("Content-Encoding", "identity").lower()
                # An encoded body's length is not the length of what is written.
                expected = int(declared) if declared.isdigit() and encoded == "identity" else None
                if expected is not None and expected > self.max_download_bytes:
                    raise self._too_large()
                raw = response.raw
                while True:
                    allowed = timeouts.transfer(max(expected or 0, written + CHUNK_BYTES))
                    left = started + allowed - time.monotonic()
                    if left <= 0:
                        raise self._too_slow(shown, written, expected, started)
                    limit_socket_wait(raw, min(left, timeouts.read))
                    try:
                        chunk = raw.read1(CHUNK_BYTES, decode_content=True)
                    except urllib3.exceptions.ReadTimeoutError:
                        if started + allowed - time.monotonic() <= 0:
                            raise self._too_slow(shown, written, expected, started) from None
                        raise RequestTimeoutError(
                            f"The download from {shown} stalled: no data for {timeouts.read:g} "
                            f"s after {written:,} bytes",
                            endpoint="/object/get",
                        ) from None
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > self.max_download_bytes:
                        raise self._too_large()
                    try:
                        sink.write(chunk)
                    except OSError as error:
                        # The disk's error (full, read-only, a size limit), not the link's:
                        # handed on as it is, never retried as a dropped connection.
                        raise _LocalWriteError(error) from None
                if expected is not None and written != expected:
                    # Never a truncated zip handed on (it might even open: a zip is read from
                    # its end, and a short body could still end in a central directory).
                    raise ConnectionFailedError(
                        f"The download from {shown} ended after {written:,} of its {expected:,} "
                        "bytes",
                        endpoint="/object/get",
                    )
                return written
        except _LocalWriteError as failed:
            raise failed.error from None
        except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
            raise RequestTimeoutError(
                f"The download from {shown} stalled after {written:,} bytes",
                endpoint="/object/get",
            ) from None
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
            raise ConnectionFailedError(
                f"The download from {shown} failed before it was complete ({written:,} bytes "
                "received)",
                endpoint="/object/get",
            ) from None

    def _too_large(self) -> ValidationError:
        return ValidationError(
            f"The download is larger than {self.max_download_bytes:,} bytes "
            "(see max_download_bytes)"
        )

    def _too_slow(
        self, shown: str, written: int, expected: int | None, started: float
    ) -> RequestTimeoutError:
        rate = self._client.timeouts.min_transfer_rate
        of = f" of {expected:,}" if expected is not None else ""
        return RequestTimeoutError(
            f"The download from {shown} is slower than the minimum rate of {rate:,.0f} bytes/s "
            f"(QC_MIN_TRANSFER_RATE): {written:,}{of} bytes in "
            f"{time.monotonic() - started:.1f} s",
            endpoint="/object/get",
        )


def _extract(archive: zipfile.ZipFile, name: str, target: Path) -> None:
    """Unpack one entry to ``target`` through a temporary file beside it (never half a file)."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out, archive.open(name) as entry:
            shutil.copyfileobj(entry, out, CHUNK_BYTES)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


__all__ = [
    "DEFAULT_MAX_OBJECT_BYTES",
    "GET_SCHEDULE",
    "ObjectStoreAPI",
    "file_md5",
    "normalize_object_key",
    "validate_object_key",
]
