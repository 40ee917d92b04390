"""Local folders a flow reads (a strategy to upload, data to sync), walked safely.

What every such folder check shares, so both say and do the same: a relative folder is taken
inside the checkout, whatever the worker's working directory; a walk never follows a symbolic
link (one may point anywhere on the worker), never opens anything but a folder (opening a FIFO
waits for a writer), never enters a hidden or cache folder, and stops after a bound of entries (a
home directory, ``/``); every problem is collected, and the error lists the first few. What a
link or a special file means is the caller's: a strategy folder skips it, a sync refuses it (a
quietly skipped file would, with ``delete_missing``, lose its key).

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.csv").write_text("x"); (root / ".git").mkdir()
    >>> problems, skipped = [], []
    >>> walk_files(root, problems, skipped, max_entries=10, other=lambda n, m: None), skipped
    (['a.csv'], ['.git/ (hidden or cache)'])
    >>> import shutil; shutil.rmtree(root)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from quantconnect_client import ValidationError

#: Relative folders are taken inside the checkout, whatever the worker's working directory.
CHECKOUT_ROOT = Path(__file__).resolve().parents[2]
#: Problems an error's message lists (its ``problems`` keeps them all).
MAX_LISTED_PROBLEMS = 10

_KINDS = {
    stat.S_IFLNK: "a symbolic link (never followed)",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


class FolderProblemsError(ValidationError):
    """A folder that cannot be used as it is; ``problems`` lists every reason.

    Args:
        folder: The folder.
        problems: Every problem found.
        what: The message's start, e.g. ``Folder '/data' cannot be synced``.
    """

    def __init__(self, folder: Path, problems: list[str], what: str) -> None:
        # The message stays readable for a folder with hundreds of problems (``/``, say).
        listed = "; ".join(problems[:MAX_LISTED_PROBLEMS])
        if len(problems) > MAX_LISTED_PROBLEMS:
            listed += f"; and {len(problems) - MAX_LISTED_PROBLEMS} more"
        super().__init__(f"{what}: {listed}")
        self.folder = folder
        self.problems = problems


def resolve_folder(folder: str | os.PathLike[str]) -> Path:
    """An absolute folder as given; a relative one inside the checkout."""
    path = Path(folder).expanduser()
    return path if path.is_absolute() else CHECKOUT_ROOT / path


def hidden(name: str) -> bool:
    """True for a hidden or cache path (a part starting with ``.``, or ``__pycache__``)."""
    return any(part.startswith(".") or part == "__pycache__" for part in name.split("/"))


def kind_of(mode: int) -> str:
    """What a file that is not regular is, for a message (``a FIFO``...)."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def unreadable(name: str, error: OSError) -> str:
    """The problem of an entry that cannot be read or examined."""
    return f"{name} cannot be read ({error.strerror or type(error).__name__})"


def walk_files(
    root: Path,
    problems: list[str],
    skipped: list[str],
    *,
    max_entries: int,
    other: Callable[[str, int], None],
    hint: str = "",
) -> list[str]:
    """The regular files under ``root`` (names relative to it, ``/`` between folders, sorted).

    Args:
        root: The folder.
        problems: Gets an entry that cannot be examined, or the bound reached.
        skipped: Gets each hidden or cache entry (not entered).
        max_entries: Entries looked at before the walk stops.
        other: Called with the name and ``st_mode`` of a symbolic link or a special file (never
            followed or opened): the caller skips or refuses it.
        hint: Appended to the problem of a walk stopped at ``max_entries``.
    """
    files: list[str] = []
    seen = 0
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(root / folder if folder else root) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as error:
            problems.append(unreadable(f"{folder}/" if folder else "the folder", error))
            continue
        inner: list[str] = []
        for entry in entries:
            seen += 1
            if seen > max_entries:
                problems.append(
                    f"more than {max_entries} files and folders: stopped looking{hint}"
                )
                return sorted(files)
            name = f"{folder}/{entry.name}" if folder else entry.name
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as error:
                problems.append(unreadable(name, error))
                continue
            if hidden(name):
                skipped.append(f"{name}{'/' if stat.S_ISDIR(mode) else ''} (hidden or cache)")
            elif stat.S_ISDIR(mode):
                inner.append(name)
            elif stat.S_ISREG(mode):
                files.append(name)
            else:
                other(name, mode)
        pending.extend(reversed(inner))
    return sorted(files)


__all__ = [
    "CHECKOUT_ROOT",
    "MAX_LISTED_PROBLEMS",
    "FolderProblemsError",
    "hidden",
    "kind_of",
    "resolve_folder",
    "unreadable",
    "walk_files",
]
