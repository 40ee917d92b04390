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
    ObjectListing,
    ObjectProperties,
    UploadResult,
)

from ._run import in_thread, retry_context
from .credentials import QuantConnectCredentials
from .retries import api_task_options


@task(name="upload-object", task_run_name="upload-object {key}", **api_task_options())
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


@task(name="download-object", task_run_name="download-object {key}", **api_task_options())
async def download_object(
    credentials: QuantConnectCredentials,
    key: str,
    destination: str,
    organization_id: str | None = None,
    timeout: float = 300.0,
) -> str:
    """Download one file to ``destination`` (a job, waited for; then the file, streamed);
    returns the path written.

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


__all__ = [
    "delete_object",
    "download_object",
    "list_objects",
    "read_object_properties",
    "upload_object",
]
