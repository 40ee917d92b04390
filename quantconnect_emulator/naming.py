"""Validation of project and file names (pure functions, no state).

Project names follow QuantConnect's rules: ASCII letters, digits, ``-``, ``_``,
spaces, and ``/`` between folder components; no component may be empty or
start/end with a space, and none may be a Windows device name.

Example:
    >>> project_name_error("My Folder/My Project", max_length=200) is None
    True
    >>> project_name_error("v1.2", max_length=200)
    'Project name contains unsupported special character (.)'
"""

from __future__ import annotations

import re
import string

#: The folder QuantConnect moves deleted projects into.
RECYCLE_BIN_FOLDER = "Recycle Bin"
RECYCLE_BIN_PREFIX = RECYCLE_BIN_FOLDER + "/"

_ALLOWED_PROJECT_CHARS = frozenset(string.ascii_letters + string.digits + "-_ /")
_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_FORBIDDEN_FILE_CHARS = frozenset('\\:*?"<>|')
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def project_name_error(name: str, *, max_length: int) -> str | None:
    """Return why ``name`` is not a valid project name, or ``None`` if it is.

    Args:
        name: The requested project name (folders separated by ``/``).
        max_length: Longest name accepted.

    Returns:
        The error message the API answers with, or ``None``.

    Example:
        >>> project_name_error("Recycle Bin/Old", max_length=200)[:40]
        "Project name 'Recycle Bin/Old' is inside"
    """
    if not name or not name.strip():
        return "Project name cannot be empty"
    if name == RECYCLE_BIN_FOLDER or is_in_recycle_bin(name):
        # Names there mean "deleted" to every client; only a delete may put a project there.
        return (
            f"Project name {name[:100]!r} is inside the {RECYCLE_BIN_FOLDER}; "
            "only a delete moves a project there"
        )
    if len(name) > max_length:
        return f"Project name is too long: {len(name)} characters, the maximum is {max_length}"
    for char in name:
        if char not in _ALLOWED_PROJECT_CHARS:
            return f"Project name contains unsupported special character ({char})"
    for component in name.split("/"):
        if component == "":
            return "Project name contains an empty folder name (leading, trailing or double '/')"
        if component != component.strip(" "):
            return f"Project name component '{component}' cannot start or end with a space"
        if component.upper() in _DEVICE_NAMES:
            return f"Project name contains a reserved name ({component})"
    return None


def file_name_error(name: str) -> str | None:
    """Return why ``name`` is not a valid file name, or ``None`` if it is.

    File names may hold ``/`` for folders (``"utils/helpers.py"``).

    Example:
        >>> file_name_error("../main.py")
        "File name cannot contain '.' or '..' folder names"
    """
    if not name or not name.strip():
        return "File name cannot be empty"
    if len(name) > 255:
        return f"File name is too long: {len(name)} characters, the maximum is 255"
    if _CONTROL_CHARS.search(name):
        return "File name contains a control character"
    for char in name:
        if char in _FORBIDDEN_FILE_CHARS:
            return f"File name contains unsupported special character ({char})"
    for component in name.split("/"):
        if component == "":
            return "File name contains an empty folder name (leading, trailing or double '/')"
        if component in (".", ".."):
            return "File name cannot contain '.' or '..' folder names"
        if component != component.strip(" "):
            return f"File name component '{component}' cannot start or end with a space"
    return None


def is_in_recycle_bin(name: str) -> bool:
    """True if a project of this name counts as deleted (soft delete).

    Example:
        >>> is_in_recycle_bin("Recycle Bin/My Project")
        True
    """
    return name.startswith(RECYCLE_BIN_PREFIX)
