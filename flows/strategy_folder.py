"""A strategy folder read from the checkout and checked before anything is uploaded.

What counts as source: files with the algorithm's language suffix (``.py`` next to ``main.py``,
``.cs`` next to ``Main.cs``), in sub-folders too (kept as ``utils/signals.py``). A backtest reads
nothing else, so notebooks, READMEs, caches and hidden files are skipped and listed as skipped
rather than uploaded. A folder holding both ``main.py`` and ``Main.cs`` is refused: the project
has one language.

Refused, all problems at once, before any request: a missing or empty folder, no algorithm file,
a file name the service refuses (``quantconnect_client.validation.validate_file_name``), a file
that is not UTF-8 text, a file larger than :data:`MAX_SOURCE_FILE_BYTES`, more than
:data:`MAX_SOURCE_FILES` files. An empty source file is skipped (the service refuses empty
content, and an empty ``__init__.py`` means nothing to LEAN), except an empty algorithm file.

Example:
    >>> strategy = load_strategy("strategies/sma_crossover_py")
    >>> strategy.language, strategy.algorithm_file, [f.name for f in strategy.files]
    ('Py', 'main.py', ['main.py'])
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

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
#: The repository checkout: relative strategy folders are resolved against it, whatever the
#: worker's working directory.
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent

Language = Literal["Py", "C#"]


class StrategyFolderError(ValidationError):
    """The strategy folder cannot be uploaded as it is; ``problems`` lists every reason."""

    def __init__(self, folder: Path, problems: list[str]) -> None:
        listed = "; ".join(problems)
        super().__init__(f"Strategy folder {str(folder)!r} cannot be uploaded: {listed}")
        self.folder = folder
        self.problems = problems


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


def resolve_folder(folder: str | Path) -> Path:
    """An absolute folder as given; a relative one inside the checkout."""
    path = Path(folder).expanduser()
    return path if path.is_absolute() else CHECKOUT_ROOT / path


def _language(path: Path, problems: list[str]) -> Language | None:
    present = [lang for lang, main in ALGORITHM_FILES.items() if (path / main).is_file()]
    if not present:
        problems.append("no algorithm file (main.py for Python, Main.cs for C#) at its top")
        return None
    if len(present) > 1:
        problems.append("both main.py and Main.cs: a project has one language")
        return None
    return "Py" if present[0] == "Py" else "C#"


def _read_source(path: Path, name: str, problems: list[str]) -> str | None:
    size = path.stat().st_size
    if size > MAX_SOURCE_FILE_BYTES:
        problems.append(f"{name} is {size} bytes, over the {MAX_SOURCE_FILE_BYTES}-byte limit")
        return None
    try:
        return path.read_bytes().decode("utf-8")
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
    if not path.is_dir():
        raise StrategyFolderError(path, ["it does not exist or is not a folder"])
    problems: list[str] = []
    language = _language(path, problems)
    files: list[StrategyFile] = []
    skipped: list[str] = []
    candidates = sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink())
    if not candidates:
        raise StrategyFolderError(path, ["it is empty"])
    for file in candidates:
        name = file.relative_to(path).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in name.split("/")):
            skipped.append(f"{name} (hidden or cache)")
            continue
        if file.is_symlink():
            # A link may point anywhere on the worker: never upload what it points to.
            skipped.append(f"{name} (symbolic link)")
            continue
        if language is None or file.suffix != SOURCE_SUFFIXES[language]:
            skipped.append(f"{name} (not {language or 'a'} source)")
            continue
        try:
            validate_file_name(name)
        except ValidationError as error:
            problems.append(str(error))
            continue
        content = _read_source(file, name, problems)
        if content is None:
            continue
        if not content.strip():
            if name == ALGORITHM_FILES[language]:
                problems.append(f"{name}, the algorithm file, is empty")
            else:
                skipped.append(f"{name} (empty: the service refuses empty files)")
            continue
        files.append(StrategyFile(name=name, content=content))
    if len(files) > MAX_SOURCE_FILES:
        problems.append(f"{len(files)} source files, more than the {MAX_SOURCE_FILES} allowed")
    if problems or language is None:
        raise StrategyFolderError(path, problems)
    main = ALGORITHM_FILES[language]
    files.sort(key=lambda f: (f.name != main, f.name))
    return StrategySource(
        name=path.name, folder=str(path), language=language, files=files, skipped=skipped
    )
