"""The local side of a sync: which files a folder (or a list of files in it) publishes, checked
before any request.

Each file is published at ``<prefix>/<path inside the folder>``. Hidden files and folders (a
name starting with ``.``) and ``__pycache__`` are left out and listed as skipped: they are no
data an algorithm reads, and a leading ``.`` is dropped from keys by the store anyway.

Refused, every problem at once (:class:`SyncFolderError`, a ``ValidationError``: never retried):
a missing or empty folder; a symbolic link anywhere below it (never followed: it may point
anywhere on the worker) and a FIFO, socket or device (never opened: opening a FIFO waits for a
writer). Unlike a strategy folder's, these are refused rather than skipped: a sync that quietly
left a file out would, with ``delete_missing``, remove its key from the store. Also refused: a
listed file that is not inside the folder (``../x``, an absolute path elsewhere) or not a regular
file, a path that makes no valid Object Store key, a file over the size limit, more than
:data:`MAX_SYNC_FILES` files, more than :data:`MAX_FOLDER_ENTRIES` entries (the walk stops).

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "prices.csv").write_text("date,close\\n")
    >>> [(f.name, f.key, f.size) for f in collect_files(root, "data").files]
    [('prices.csv', 'data/prices.csv', 11)]
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from flows.common.folders import (
    FolderProblemsError,
    kind_of,
    resolve_folder,
    unreadable,
    walk_files,
)
from quantconnect_client import ValidationError
from quantconnect_client.objectstore import normalize_object_key, validate_object_key

#: The emulator's (and a free organization's) file quota: a folder with more is the wrong one.
MAX_SYNC_FILES = 10_000
#: Entries looked at before the walk gives up (a home directory, ``/``).
MAX_FOLDER_ENTRIES = 50_000


class SyncFolderError(FolderProblemsError):
    """The folder cannot be synced as it is; ``problems`` lists every reason."""

    def __init__(self, folder: Path, problems: list[str]) -> None:
        super().__init__(folder, problems, f"Folder {str(folder)!r} cannot be synced")


class LocalFile(BaseModel):
    """One file to publish."""

    name: str = Field(description="Path inside the folder, '/' between folders.")
    key: str = Field(description="Its Object Store key (normalized: no leading '/').")
    path: str = Field(description="Absolute path on this worker.")
    size: int


class LocalFiles(BaseModel):
    """The checked files of a folder, sorted by key, and what was left out."""

    folder: str
    files: list[LocalFile]
    skipped: list[str] = Field(default_factory=list)


def key_of(prefix: str, name: str) -> str:
    """The key of the file ``name`` (inside the folder) under ``prefix``, normalized.

    Example:
        >>> key_of("/models/", "v1/weights.bin"), key_of("", "a.csv")
        ('models/v1/weights.bin', 'a.csv')
    """
    folder = normalize_object_key(prefix)
    return normalize_object_key(f"{folder}/{name}" if folder else name)


def _walk(root: Path, problems: list[str], skipped: list[str]) -> list[str]:
    """Regular files under ``root`` (relative names); a link or a special file is refused
    (:func:`flows.common.folders.walk_files`)."""

    def refuse(name: str, mode: int) -> None:
        problems.append(f"{name} is {kind_of(mode)}")

    return walk_files(root, problems, skipped, max_entries=MAX_FOLDER_ENTRIES, other=refuse)


def _listed(root: Path, files: list[str], problems: list[str]) -> list[str]:
    """The listed files as names inside ``root``; each one checked without following links."""
    names: list[str] = []
    for given in files:
        candidate = Path(given).expanduser()
        absolute = candidate if candidate.is_absolute() else root / candidate
        # Lexically, before any link could be followed: `..` may not leave the folder.
        relative = os.path.relpath(os.path.normpath(absolute), root)
        parts = PurePosixPath(Path(relative).as_posix()).parts
        if relative == "." or parts[0] == "..":
            problems.append(f"{given[:200]!r} is not inside the folder")
            continue
        current = root
        for index, part in enumerate(parts):
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                problems.append(f"{given[:200]!r} does not exist")
                break
            except OSError as error:
                problems.append(unreadable(repr(given[:200]), error))
                break
            last = index == len(parts) - 1
            if stat.S_ISLNK(mode) or (last and not stat.S_ISREG(mode)):
                kind = "a folder" if stat.S_ISDIR(mode) else kind_of(mode)
                problems.append(f"{given[:200]!r} is {kind}")
                break
            if not last and not stat.S_ISDIR(mode):
                problems.append(f"{given[:200]!r} does not exist")
                break
        else:
            names.append("/".join(parts))
    return names


def collect_files(
    folder: str | os.PathLike[str],
    prefix: str,
    files: list[str] | None = None,
    max_bytes: int | None = None,
) -> LocalFiles:
    """Check a folder (or the listed files in it) and say what it publishes under ``prefix``.

    Raises:
        SyncFolderError: With every problem found.
    """
    root = resolve_folder(folder)
    try:
        is_folder = stat.S_ISDIR(os.stat(root).st_mode)
    except OSError:
        is_folder = False
    if not is_folder:
        raise SyncFolderError(root, ["it does not exist or is not a folder"])
    problems: list[str] = []
    skipped: list[str] = []
    names = _walk(root, problems, skipped) if files is None else _listed(root, files, problems)
    if len(set(names)) > MAX_SYNC_FILES:
        problems.append(f"{len(set(names))} files, more than the {MAX_SYNC_FILES} allowed")
        raise SyncFolderError(root, problems)
    chosen: dict[str, LocalFile] = {}
    for name in sorted(set(names)):
        key = key_of(prefix, name)
        try:
            validate_object_key(key)
        except ValidationError as error:
            problems.append(f"{name}: {error}")
            continue
        if key in chosen:  # e.g. `a/b` and `a\\b` on a system that allows both
            problems.append(f"{name} and {chosen[key].name} make the same key {key!r}")
            continue
        size = os.lstat(root / name).st_size
        if max_bytes is not None and size > max_bytes:
            problems.append(f"{name} is {size:,} bytes, over the {max_bytes:,}-byte limit")
            continue
        chosen[key] = LocalFile(name=name, key=key, path=str(root / name), size=size)
    if not chosen and not problems:
        problems.append("it holds no files to publish")
    if problems:
        raise SyncFolderError(root, problems)
    return LocalFiles(folder=str(root), files=sorted(chosen.values(), key=lambda f: f.key),
                      skipped=sorted(skipped))
