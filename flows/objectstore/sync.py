"""``sync-object-store``: publish a local folder (or some of its files) under a key prefix.

What it does, in order: check the folder (every problem at once, before any request:
:mod:`flows.objectstore.folder`); list the files under the prefix (one request per remote
folder); decide per file: a key the store lacks, or holds at another size, is uploaded; where
the sizes match, the store's MD5 (``/object/properties``, the same check the client makes after
a lost upload answer) is compared with the file's, and an equal one is left alone; upload what
changed; then, only with ``delete_missing``, delete the keys under the prefix that the folder no
longer has (after the uploads, so a failed upload never leaves the store with less). A table
artifact has one row per key. A dry run reads the store but writes nothing, and its table says
what a sync would do.

Example:
    >>> import asyncio
    >>> from flows.objectstore.forms import SyncOptions
    >>> from flows.objectstore.sync import sync_object_store
    >>> options = SyncOptions(folder="data/models", prefix="models/v1", delete_missing=True)
    >>> asyncio.run(sync_object_store(options))  # doctest: +SKIP
"""

# No `from __future__ import annotations`: `flow.serve()` runs a cloudpickled copy of the flow
# whose globals hold only names its body uses, so string annotations of parameters (the option
# models) could not be resolved there.

import asyncio

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from flows.common.credentials import resolve_credentials
from flows.common.session import IN_MEMORY_RESULTS
from flows.objectstore.folder import LocalFile, LocalFiles, collect_files
from flows.objectstore.forms import SyncOptions
from flows.objectstore.report import SYNC_TABLE_KEY, SyncItem, SyncReport
from quantconnect_client.objectstore import file_md5
from tasks import (
    Outcome,
    delete_objects,
    list_object_files,
    read_objects_properties,
    upload_objects,
)
from tasks.credentials import QuantConnectCredentials


def _failed(keys: list[str], error: Exception) -> dict[str, Outcome]:
    failure = Outcome(succeeded=False, error_type=type(error).__name__,
                      message=f"{type(error).__name__}: {error}")
    return dict.fromkeys(keys, failure)


def _chunks(keys: list[str], size: int) -> list[list[str]]:
    return [keys[start : start + size] for start in range(0, len(keys), size)]


def _local_md5(file: LocalFile) -> str:
    return file_md5(lambda: open(file.path, "rb"))[1]  # file_md5 closes it


@flow(**IN_MEMORY_RESULTS, name="sync-object-store")
async def sync_object_store(
    options: SyncOptions,
    credentials: QuantConnectCredentials | None = None,
    credentials_block: str | None = None,
) -> SyncReport:
    """Make the keys under a prefix hold a local folder's files.

    Args:
        options: The folder, the prefix, deletes, dry run, limits and retries.
        credentials: A credentials block; if None, ``credentials_block`` or ``QC_*`` is used.
        credentials_block: Name of a saved ``QuantConnectCredentials`` block.

    Returns:
        One row per key (also published as a table artifact).

    Raises:
        SyncFolderError: The folder cannot be synced (before any request).
        RuntimeError: Some uploads or deletes failed (after the table is published).
    """
    local = collect_files(options.folder, options.prefix, options.files, options.max_bytes)
    creds = await resolve_credentials(credentials, credentials_block)
    return await publish_files(creds, options, local)


async def publish_files(
    creds: QuantConnectCredentials, options: SyncOptions, local: LocalFiles
) -> SyncReport:
    """The sync itself, for files already checked by
    :func:`~flows.objectstore.folder.collect_files` (so a caller, such as ``backtest-strategy``,
    can refuse a bad folder before its own first request): list, compare, upload, delete if
    asked, publish the table artifact.

    Raises:
        RuntimeError: Some uploads or deletes failed (after the table is published).
    """
    logger = get_run_logger()
    (list_files,) = options.retries.bind(list_object_files)
    org = options.organization_id
    remote = {entry.key: entry.size for entry in
              await list_files(creds, options.listed_path, org)}
    logger.info("%d local file(s), %d key(s) under %r", len(local.files), len(remote),
                options.prefix or "/")

    items: dict[str, SyncItem] = {}
    same_size: list[LocalFile] = []
    for file in local.files:
        held = remote.get(file.key)
        item = SyncItem(key=file.key, file=file.name, action="would upload", size=file.size,
                        remote_size=held)
        items[file.key] = item
        if file.key not in remote:
            item.reason = "new"
        elif held is not None and held != file.size:
            item.reason = "size changed"
        else:
            same_size.append(file)
    await _compare_contents(creds, options, same_size, items)

    extra = sorted(set(remote) - set(items))
    for key in extra:
        action = "would delete" if options.delete_missing else "kept"
        items[key] = SyncItem(key=key, action=action, reason="not in the folder",
                              remote_size=remote[key])
    if not options.dry_run:
        await _upload(creds, options, local.files, items)
        if options.delete_missing:
            await _delete(creds, options, extra, items)

    report = SyncReport(prefix=options.prefix, dry_run=options.dry_run,
                        items=sorted(items.values(), key=lambda i: i.key), skipped=local.skipped)
    await acreate_table_artifact(table=report.table(), key=SYNC_TABLE_KEY,
                                 description=f"Object Store sync of {local.folder} to "
                                 f"{report.summary()}")
    logger.info("Sync %s", report.summary())
    failed = report.count("failed")
    if failed:
        raise RuntimeError(f"{failed} of {len(report.items)} key(s) failed; see the table")
    return report


async def _compare_contents(
    creds: QuantConnectCredentials,
    options: SyncOptions,
    files: list[LocalFile],
    items: dict[str, SyncItem],
) -> None:
    """Mark the files whose store MD5 equals theirs as unchanged; the rest to upload."""
    if not files:
        return
    (read_properties,) = options.retries.bind(read_objects_properties)
    hashes = await asyncio.to_thread(lambda: {f.key: _local_md5(f) for f in files})
    for batch in _chunks([f.key for f in files], options.batch_size):
        try:
            found = await read_properties(
                creds, batch, options.organization_id, options.max_concurrency
            )
        except Exception as error:
            found = _failed(batch, error)
        for key in batch:
            item, outcome = items[key], found[key]
            if not outcome.succeeded:
                item.action, item.reason = "failed", str(outcome)
                continue
            if outcome.value is None:  # gone since it was listed
                item.reason, item.remote_size = "new", None
                continue
            size, _, md5 = outcome.value.partition(" ")
            item.remote_size = int(size)
            if item.remote_size == item.size and md5 == hashes[key]:
                item.action = "unchanged"
            else:
                item.reason = "content changed"


async def _upload(
    creds: QuantConnectCredentials,
    options: SyncOptions,
    files: list[LocalFile],
    items: dict[str, SyncItem],
) -> None:
    (upload,) = options.retries.bind(upload_objects)
    paths = {f.key: f.path for f in files if items[f.key].action == "would upload"}
    for batch in _chunks(list(paths), options.batch_size):
        try:
            done = await upload(
                creds, {key: paths[key] for key in batch}, options.organization_id,
                options.max_bytes, options.max_concurrency,
            )
        except Exception as error:
            done = _failed(batch, error)
        for key in batch:
            item, outcome = items[key], done[key]
            if outcome.succeeded:
                item.action = "uploaded"
                item.reconciled = (outcome.value or "").endswith(" reconciled")
            else:
                item.action, item.reason = "failed", str(outcome)


async def _delete(
    creds: QuantConnectCredentials,
    options: SyncOptions,
    keys: list[str],
    items: dict[str, SyncItem],
) -> None:
    (delete,) = options.retries.bind(delete_objects)
    for batch in _chunks(keys, options.batch_size):
        try:
            done = await delete(
                creds, batch, options.organization_id, options.max_concurrency
            )
        except Exception as error:
            done = _failed(batch, error)
        for key in batch:
            if done[key].succeeded:
                items[key].action = "deleted"
            else:
                items[key].action, items[key].reason = "failed", str(done[key])
