"""Which projects a folder and a shell-style name pattern select, and whether that is all of them.

The bulk update asks for an explicit ``all_projects`` before a real run over every project.
"Every project" is decided from what the selection matches, not from how it is written: ``*``,
``**``, ``*?*`` and ``?*`` all match every name; ``[a-z]*`` matches every project of an
account whose names all start in lower case.

Example:
    >>> matches_every_name("**"), matches_every_name("*?*"), matches_every_name("Strategies/*")
    (True, True, False)
"""

from __future__ import annotations

import string
from fnmatch import fnmatchcase
from functools import lru_cache

from quantconnect_client import Project

#: Characters a probe name is made of: what project names hold, and the glob's own specials.
_PROBE_CHARACTERS = string.ascii_letters + string.digits + " -_./()[]!?*+=,;:'~&#%@$^{}"
_PROBE_NAMES = tuple(
    {
        probe
        for c in _PROBE_CHARACTERS
        for probe in (c, c * 2, f"{c}x", f"x{c}", f"Folder/{c}", f"{c}/Sub", f"x{c}y/z{c}")
    }
    | {"Strategies/Momentum", "production-live-strategy", "a" * 180}
)


def folder_prefix(folder: str | None) -> str:
    """The name prefix a folder selects (``""`` for none, or ``/``).

    Example:
        >>> folder_prefix("/Strategies/"), folder_prefix("/"), folder_prefix(None)
        ('Strategies/', '', '')
    """
    inner = (folder or "").strip().strip("/")
    return f"{inner}/" if inner else ""


@lru_cache(maxsize=256)
def matches_every_name(pattern: str) -> bool:
    """Whether a shell-style pattern matches any name at all (tried on a corpus of names that
    covers every character class a pattern can exclude)."""
    return all(fnmatchcase(name, pattern) for name in _PROBE_NAMES)


def selects(project: Project, folder: str | None, pattern: str) -> bool:
    """Whether a project is in ``folder`` (and below) and its full name matches ``pattern``."""
    return project.name.startswith(folder_prefix(folder)) and fnmatchcase(project.name, pattern)


def selects_everything(
    folder: str | None, pattern: str, projects: list[Project] | None = None
) -> bool:
    """Whether a folder and pattern select every project: no folder, and a pattern that matches
    every name (or, given the account's ``projects``, every one of them when there are several).
    """
    if folder_prefix(folder):
        return False
    if matches_every_name(pattern):
        return True
    return projects is not None and len(projects) > 1 and all(
        fnmatchcase(p.name, pattern) for p in projects
    )
