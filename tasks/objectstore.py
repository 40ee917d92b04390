"""Thin Prefect tasks over the client's Object Store operations, one per operation.

Every task takes a :class:`~tasks.credentials.QuantConnectCredentials` block, retries only
transient failures (:mod:`tasks.retries`), and is safe to retry: an upload replaces its key whole
(and the client checks a lost answer with ``properties`` before sending again), a download
replaces its destination only once complete, and a delete retried after an attempt that
already took effect succeeds. Files travel as paths (task parameters stay small and
printable), never as contents.

Example:
    >>> from prefect import flow
    >>> @flow
    ... async def publish(credentials):
    ...     await upload_object(credentials, "models/weights.bin", "build/weights.bin")
    ...     return await list_objects(credentials, "models")
"""

from __future__ import annotations

from prefect import get_run_logger, task

from quantconnect_client import (
    NotFoundError,
    ObjectEntry,
    ObjectListing,
    ObjectProperties,
    UploadResult,
)
from quantconnect_client.objectstore import file_md5, normalize_object_key

from ._run import in_thread, retry_context
from .batches import BATCH_TASK_OPTIONS, DEFAULT_BATCH_CONCURRENCY, Outcome, run_batch
from .credentials import QuantConnectCredentials
from .retries import api_task_options

#: The most folders :func:`list_object_files` enters (one request each): a tree larger than
#: this is not a prefix a sync should own.
MAX_LISTED_FOLDERS = 2_000

#: Options of the tasks that move one file: no Prefect timeout, because a fixed one would cut a
#: large file on a slow link (the client bounds each transfer by its size at
#: ``QC_MIN_TRANSFER_RATE`` and fails a stalled one, and a download's job wait by ``timeout``).
TRANSFER_TASK_OPTIONS = {**api_task_options(), "timeout_seconds": None}


@task(name="upload-object", task_run_name="upload-object {key}", **TRANSFER_TASK_OPTIONS)
async def upload_object(
    credentials: QuantConnectCredentials,
    key: str,
    path: str,
    organization_id: str | None = None,
    max_bytes: int | None = None,
) -> UploadResult:
    """Upload the file at ``path`` under ``key`` (replacing it), streamed.

    Raises:
        ValidationError: A bad key, no such file, or a file over ``max_bytes`` (default: the
            client's 50 MiB); before any request, and never retried.
        RequestRejectedError: The service refused it (its quota, for one); never retried.
    """
    client = credentials.get_client()
    return await in_thread(
        client.object_store.set, key, path, organization_id=organization_id, max_bytes=max_bytes
    )


@task(
    name="read-object-properties",
    task_run_name="read-object-properties {key}",
    **api_task_options(),
)
async def read_object_properties(
    credentials: QuantConnectCredentials, key: str, organization_id: str | None = None
) -> ObjectProperties:
    """One object's size, MD5, MIME type, stamps and preview.

    Raises:
        NotFoundError: No such key (permanent).
    """
    client = credentials.get_client()
    return await in_thread(client.object_store.properties, key, organization_id=organization_id)


@task(name="list-objects", task_run_name="list-objects {path}", **api_task_options())
async def list_objects(
    credentials: QuantConnectCredentials,
    path: str | None = None,
    organization_id: str | None = None,
) -> ObjectListing:
    """The files and folders directly in ``path`` (the root if omitted)."""
    client = credentials.get_client()
    return await in_thread(client.object_store.list, path, organization_id=organization_id)


@task(name="download-object", task_run_name="download-object {key}", **TRANSFER_TASK_OPTIONS)
async def download_object(
    credentials: QuantConnectCredentials,
    key: str,
    destination: str,
    organization_id: str | None = None,
    timeout: float = 300.0,
) -> str:
    """Download one file to ``destination`` (a job, waited for; then the file, streamed);
    returns the path written.

    ``timeout`` bounds the job's wait; the transfer after it is bounded by its size
    (``QC_MIN_TRANSFER_RATE``), not by a fixed task timeout.

    Raises:
        NotFoundError: No such key (permanent).
        WaitTimeoutError: The download job did not finish within ``timeout`` seconds.
    """
    client = credentials.get_client()
    written = await in_thread(
        client.object_store.get,
        key,
        destination,
        organization_id=organization_id,
        timeout=timeout,
    )
    return str(written)


@task(name="delete-object", task_run_name="delete-object {key}", **api_task_options())
async def delete_object(
    credentials: QuantConnectCredentials, key: str, organization_id: str | None = None
) -> bool:
    """Delete a file or a folder with its contents; returns True if this run deleted it.

    On a task retry a key already gone counts as deleted (False): an earlier attempt may have
    deleted it before its answer was lost. On a first attempt a missing key is an error.

    Raises:
        NotFoundError: The key did not exist (first attempt only).
    """
    client = credentials.get_client()
    retrying, _ = retry_context()
    try:
        await in_thread(client.object_store.delete, key, organization_id=organization_id)
    except NotFoundError:
        if not retrying:
            raise
        get_run_logger().info("Object %s was already deleted by an earlier attempt.", key)
        return False
    return True


# ------------------------------------------------------------------------ many objects
#
# One task run per batch, not per object (see :mod:`tasks.batches`): a sync of a thousand files
# would otherwise spend more time in Prefect's bookkeeping than in requests. Each item's
# outcome is returned, keyed by the object's key.


@task(name="list-object-files", task_run_name="list-object-files {path}", **api_task_options())
async def list_object_files(
    credentials: QuantConnectCredentials,
    path: str | None = None,
    organization_id: str | None = None,
) -> list[ObjectEntry]:
    """Every file under ``path`` (the root if omitted), in its sub-folders too.

    ``/object/list`` is one level deep, so each folder is one request (at most
    :data:`MAX_LISTED_FOLDERS`). Keys are returned without a leading ``/``.

    Raises:
        ValueError: The tree has more than :data:`MAX_LISTED_FOLDERS` folders.
    """
    client = credentials.get_client()

    def walk() -> list[ObjectEntry]:
        files: list[ObjectEntry] = []
        pending = [path]
        entered = 0
        while pending:
            folder = pending.pop()
            entered += 1
            if entered > MAX_LISTED_FOLDERS:
                raise ValueError(
                    f"more than {MAX_LISTED_FOLDERS} folders under {path!r}: not listed whole"
                )
            listing = client.object_store.list(folder, organization_id=organization_id)
            for entry in listing.objects:
                key = normalize_object_key(entry.key)
                if entry.folder:
                    pending.append(key)
                else:
                    files.append(entry.model_copy(update={"key": key}))
        return sorted(files, key=lambda entry: entry.key)

    return await in_thread(walk)


def _size_and_md5(path: str) -> tuple[int, str]:
    return file_md5(lambda: open(path, "rb"))  # file_md5 closes it


def _by_key(keys: list[str], outcomes: dict[int, Outcome]) -> dict[str, Outcome]:
    return {key: outcomes[index] for index, key in enumerate(keys)}


@task(
    name="read-objects-properties",
    task_run_name="read-objects-properties ({max_concurrency} at once)",
    **BATCH_TASK_OPTIONS,
)
async def read_objects_properties(
    credentials: QuantConnectCredentials,
    keys: list[str],
    organization_id: str | None = None,
    max_concurrency: int = DEFAULT_BATCH_CONCURRENCY,
) -> dict[str, Outcome]:
    """Size and MD5 of many objects in one task run.

    Returns:
        Key -> outcome; a success's ``value`` is ``"<size> <md5>"`` (the service's numbers),
        or None when the key does not exist.
    """
    client = credentials.get_client()

    def read(index: int) -> str | None:
        try:
            found = client.object_store.properties(keys[index], organization_id=organization_id)
        except NotFoundError:
            return None
        return f"{found.size if found.size is not None else -1} {(found.md5 or '').lower()}"

    outcomes = await in_thread(run_batch, range(len(keys)), read, max_concurrency, "qc-props")
    return _by_key(keys, outcomes)


@task(
    name="upload-objects",
    task_run_name="upload-objects ({max_concurrency} at once)",
    **BATCH_TASK_OPTIONS,
)
async def upload_objects(
    credentials: QuantConnectCredentials,
    uploads: dict[str, str],
    organization_id: str | None = None,
    max_bytes: int | None = None,
    max_concurrency: int = DEFAULT_BATCH_CONCURRENCY,
) -> dict[str, Outcome]:
    """Upload many files (key -> path) in one task run, each streamed and safe to retry.

    A retried task run (some uploads failed transiently) first reads each key's properties and
    sends only the files the store does not hold yet (by size and MD5); an upload replaces its
    key whole, and the client checks a lost answer with ``properties`` before sending again.

    Returns:
        Key -> outcome; a success's ``value`` is ``"<size> <md5>"``, with ``" reconciled"``
        appended when a lost answer was found already applied.
    """
    client = credentials.get_client()
    retrying, _ = retry_context()
    keys = list(uploads)

    def upload(index: int) -> str:
        key = keys[index]
        if retrying:
            # A retried batch re-runs every item: the ones an earlier attempt stored (same size
            # and MD5 in the store) are not sent again.
            size, md5 = _size_and_md5(uploads[key])
            try:
                found = client.object_store.properties(key, organization_id=organization_id)
            except NotFoundError:
                found = None
            if found is not None and found.size == size and (found.md5 or "").lower() == md5:
                return f"{size} {md5}"
        done = client.object_store.set(
            key, uploads[key], organization_id=organization_id, max_bytes=max_bytes
        )
        return f"{done.size} {done.md5}" + (" reconciled" if done.reconciled else "")

    outcomes = await in_thread(run_batch, range(len(keys)), upload, max_concurrency, "qc-set")
    return _by_key(keys, outcomes)


@task(
    name="delete-objects",
    task_run_name="delete-objects ({max_concurrency} at once)",
    **BATCH_TASK_OPTIONS,
)
async def delete_objects(
    credentials: QuantConnectCredentials,
    keys: list[str],
    organization_id: str | None = None,
    max_concurrency: int = DEFAULT_BATCH_CONCURRENCY,
) -> dict[str, Outcome]:
    """Delete many keys in one task run.

    On a retry of the task run a key already gone counts as deleted (an earlier attempt may
    have deleted it before its answer was lost); on the first attempt a missing key fails.
    """
    client = credentials.get_client()
    retrying, _ = retry_context()

    def delete(index: int) -> None:
        try:
            client.object_store.delete(keys[index], organization_id=organization_id)
        except NotFoundError:
            if not retrying:
                raise

    outcomes = await in_thread(run_batch, range(len(keys)), delete, max_concurrency, "qc-del")
    return _by_key(keys, outcomes)


__all__ = [
    "MAX_LISTED_FOLDERS",
    "TRANSFER_TASK_OPTIONS",
    "delete_object",
    "delete_objects",
    "download_object",
    "list_object_files",
    "list_objects",
    "read_object_properties",
    "read_objects_properties",
    "upload_object",
    "upload_objects",
]
