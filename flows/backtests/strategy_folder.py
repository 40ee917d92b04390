"""A strategy folder read from the checkout and checked before anything is uploaded.

What counts as source: files with the algorithm's language suffix (``.py`` next to ``main.py``,
``.cs`` next to ``Main.cs``), in sub-folders too (kept as ``utils/signals.py``). A backtest reads
nothing else, so notebooks, READMEs, caches and hidden files are skipped and listed as skipped
rather than uploaded. A folder holding both ``main.py`` and ``Main.cs`` is refused: the project
has one language.

Symbolic links are never followed (one may point anywhere on the worker): a linked file or
folder is skipped and listed, and a linked algorithm file is refused, since leaving it out would
backtest the project's default template. Hidden and cache folders are not entered. A FIFO, socket
or device is skipped and listed, and never opened (opening a FIFO waits for a writer).

Refused, all problems at once, before any request: a missing or empty folder, no algorithm file,
an entry that cannot be examined or read (named), a file name the service refuses
(``quantconnect_client.validation.validate_file_name``), a file that is not UTF-8 text, a file
larger than :data:`MAX_SOURCE_FILE_BYTES`, more than :data:`MAX_SOURCE_FILES` source files
(counted by name, before any is read), more than :data:`MAX_FOLDER_ENTRIES` entries (the walk
stops there). An empty source file is skipped (the service refuses empty content, and an empty
``__init__.py`` means nothing to LEAN), except an empty algorithm file.

Example:
    >>> strategy = load_strategy("strategies/sma_crossover_py")
    >>> strategy.language, strategy.algorithm_file, [f.name for f in strategy.files]
    ('Py', 'main.py', ['main.py'])
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from flows.common.folders import (
    FolderProblemsError,
    kind_of,
    walk_files,
)
from flows.common.folders import (
    resolve_folder as resolve_folder,  # part of this module's interface too
)
from flows.common.folders import unreadable as _unreadable
from quantconnect_client import ValidationError
from quantconnect_client.validation import validate_file_name

#: The service documents no per-file limit; 1 MB is far above any hand-written strategy file and
#: well below the request sizes the API accepts, so a runaway (generated data pasted into a
#: module) is caught here instead of as a failed upload half-way through.
MAX_SOURCE_FILE_BYTES = 1_000_000
#: More files than this is almost surely the wrong folder (a whole repository, a virtualenv).
MAX_SOURCE_FILES = 200
#: The file LEAN starts from, by project language.
ALGORITHM_FILES: dict[str, str] = {"Py": "main.py", "C#": "Main.cs"}
SOURCE_SUFFIXES: dict[str, str] = {"Py": ".py", "C#": ".cs"}

Language = Literal["Py", "C#"]


class StrategyFolderError(FolderProblemsError):
    """The strategy folder cannot be uploaded as it is; ``problems`` lists every reason."""

    def __init__(self, folder: Path, problems: list[str]) -> None:
        super().__init__(folder, problems, f"Strategy folder {str(folder)!r} cannot be uploaded")


class StrategyFile(BaseModel):
    """One source file as it will be uploaded."""

    name: str = Field(description="Path inside the project, '/' between folders.")
    content: str


class StrategySource(BaseModel):
    """A checked strategy: its language and the files to upload (algorithm file first)."""

    name: str = Field(description="The folder's name, used in project and baseline names.")
    folder: str
    language: Language
    files: list[StrategyFile]
    skipped: list[str] = Field(
        default_factory=list, description="Files left out, with why, e.g. 'README.md (not source)'."
    )

    @property
    def algorithm_file(self) -> str:
        """``main.py`` or ``Main.cs``."""
        return ALGORITHM_FILES[self.language]

    @property
    def digest(self) -> str:
        """A short hash of the names and contents: tells two versions of a strategy apart."""
        sha = hashlib.sha256()
        for file in self.files:
            sha.update(file.name.encode() + b"\0" + file.content.encode() + b"\0")
        return sha.hexdigest()[:12]


#: A strategy folder holding more entries than this (files and folders, hidden and cache
#: folders counted once, not entered) is not looked through further: it is the wrong folder (a
#: home directory, ``/``), and walking it whole would take minutes before the same refusal.
MAX_FOLDER_ENTRIES = 20_000


def _language(path: Path, problems: list[str]) -> Language | None:
    present: list[Language] = []
    for lang, main in ALGORITHM_FILES.items():
        try:
            mode = os.lstat(path / main).st_mode
        except FileNotFoundError:
            continue
        except OSError as error:
            problems.append(_unreadable(main, error))
            continue
        if stat.S_ISLNK(mode):
            # Followed by detection but never uploaded, a linked algorithm file would leave the
            # project's default template to be backtested: refused, whatever it points to.
            problems.append(
                f"{main}, the algorithm file, is a symbolic link: links are never followed, so "
                "put the file itself in the folder"
            )
        elif not stat.S_ISREG(mode):
            continue  # a folder (or a FIFO...) named main.py is no algorithm file
        present.append("Py" if lang == "Py" else "C#")
    if not present:
        if not problems:
            problems.append("no algorithm file (main.py for Python, Main.cs for C#) at its top")
        return None
    if len(present) > 1:
        problems.append("both main.py and Main.cs: a project has one language")
        return None
    return present[0]


def _walk(path: Path, problems: list[str], skipped: list[str]) -> list[str]:
    """The regular files under ``path`` (names relative to it, sorted); a link or a special
    file is skipped and listed (:func:`flows.common.folders.walk_files`)."""

    def skip(name: str, mode: int) -> None:
        if stat.S_ISLNK(mode):
            # A link may point anywhere on the worker: never upload what it points to.
            if name not in ALGORITHM_FILES.values():  # that one is a problem already
                skipped.append(f"{name} (symbolic link)")
        else:
            skipped.append(f"{name} (not a regular file: {kind_of(mode)})")

    return walk_files(path, problems, skipped, max_entries=MAX_FOLDER_ENTRIES, other=skip,
                      hint=" (is it the strategy's folder?)")


def _read_source(path: Path, name: str, problems: list[str]) -> str | None:
    # O_NONBLOCK: should the entry have become a FIFO since it was listed, opening it returns
    # at once instead of waiting for a writer; O_NOFOLLOW: nor has it become a link.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
        with os.fdopen(descriptor, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                problems.append(f"{name} is no longer a regular file")
                return None
            if info.st_size > MAX_SOURCE_FILE_BYTES:
                problems.append(
                    f"{name} is {info.st_size} bytes, over the {MAX_SOURCE_FILE_BYTES}-byte limit"
                )
                return None
            data = stream.read(MAX_SOURCE_FILE_BYTES + 1)
    except OSError as error:
        problems.append(_unreadable(name, error))
        return None
    if len(data) > MAX_SOURCE_FILE_BYTES:  # it grew while being read
        problems.append(f"{name} is over the {MAX_SOURCE_FILE_BYTES}-byte limit")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(f"{name} is not UTF-8 text (byte {error.start})")
        return None


def load_strategy(folder: str | Path) -> StrategySource:
    """Read and check a strategy folder.

    Args:
        folder: The folder; a relative path is taken inside the checkout.

    Returns:
        The files to upload, the algorithm file first, the rest sorted by name.

    Raises:
        StrategyFolderError: With every problem found (a ``ValidationError``: never retried).
    """
    path = resolve_folder(folder)
    try:
        is_folder = stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        is_folder = False
    except OSError as error:
        raise StrategyFolderError(path, [_unreadable("it", error)]) from None
    if not is_folder:
        raise StrategyFolderError(path, ["it does not exist or is not a folder"])
    problems: list[str] = []
    language = _language(path, problems)
    skipped: list[str] = []
    found: list[str] = []
    names = _walk(path, found, skipped)
    if not names and not skipped and not found:
        raise StrategyFolderError(path, ["it is empty"])
    problems += found
    sources: list[str] = []
    for name in names:
        if language is None or not name.endswith(SOURCE_SUFFIXES[language]):
            skipped.append(f"{name} (not {language or 'a'} source)")
            continue
        try:
            validate_file_name(name)
        except ValidationError as error:
            problems.append(str(error))
            continue
        sources.append(name)
    if len(sources) > MAX_SOURCE_FILES:
        # Counted from the names alone: none is read when there are too many.
        problems.append(f"{len(sources)} source files, more than the {MAX_SOURCE_FILES} allowed")
        raise StrategyFolderError(path, problems)
    files: list[StrategyFile] = []
    for name in sources:
        content = _read_source(path / name, name, problems)
        if content is None:
            continue
        if not content.strip():
            if language is not None and name == ALGORITHM_FILES[language]:
                problems.append(f"{name}, the algorithm file, is empty")
            else:
                skipped.append(f"{name} (empty: the service refuses empty files)")
            continue
        files.append(StrategyFile(name=name, content=content))
    if problems or language is None:
        raise StrategyFolderError(path, problems)
    main = ALGORITHM_FILES[language]
    if main not in {f.name for f in files}:
        # Never reached by the checks above; kept so that no run can backtest the template.
        raise StrategyFolderError(path, [f"{main}, the algorithm file, was not read"])
    files.sort(key=lambda f: (f.name != main, f.name))
    skipped.sort()
    return StrategySource(
        name=path.name, folder=str(path), language=language, files=files, skipped=skipped
    )
