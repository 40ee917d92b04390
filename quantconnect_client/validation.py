"""Local checks that reject bad input before any HTTP call.

They follow QuantConnect's project-name rules (letters, digits, ``-``, ``_``, spaces and ``/``
for folders; no component starting or ending with a space; no Windows device names; no ``.``).

Example:
    >>> validate_project_name("Research/Momentum v2")
    'Research/Momentum v2'
    >>> validate_language("py")
    'Py'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Literal

from .errors import ValidationError

Language = Literal["Py", "C#"]

#: The service's limit is undocumented; the emulator and this client use 200 characters.
MAX_PROJECT_NAME_LENGTH = 200
#: QuantConnect ids are 32-bit signed integers in its C# back end.
MAX_ID = 2**31 - 1

#: Longest file name (a path with its folders) accepted; the emulator uses the same.
MAX_FILE_NAME_LENGTH = 255

#: The folder the service moves deleted projects into.
RECYCLE_BIN_FOLDER = "Recycle Bin"
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_\- /]")
_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
#: Characters no file name may hold (Windows-reserved; the service stores files on disk).
_FORBIDDEN_FILE_CHARACTERS = frozenset('\\:*?"<>|')
_CONTROL_CHARACTERS = r"\x00-\x1f\x7f"
_CONTROL_CHARACTER = re.compile(f"[{_CONTROL_CHARACTERS}]")
#: The same rule as a JSON-schema pattern, for forms: text without control characters.
NO_CONTROL_CHARACTERS = f"^[^{_CONTROL_CHARACTERS}]*$"
_LANGUAGE_ALIASES: dict[str, Language] = {
    "py": "Py",
    "python": "Py",
    "c#": "C#",
    "csharp": "C#",
    "cs": "C#",
}


def validate_project_name(name: object) -> str:
    """Check a project name against QuantConnect's rules.

    Args:
        name: The proposed name; ``/`` separates folders.

    Returns:
        The name, unchanged.

    Raises:
        ValidationError: With a message naming the rule the name breaks.
    """
    if not isinstance(name, str):
        raise ValidationError(f"Project name must be a string, got {type(name).__name__}.")
    if not name:
        raise ValidationError("Project name must not be empty.")
    if len(name) > MAX_PROJECT_NAME_LENGTH:
        raise ValidationError(
            f"Project name is {len(name)} characters long; the maximum is "
            f"{MAX_PROJECT_NAME_LENGTH}."
        )
    if name.startswith(RECYCLE_BIN_FOLDER + "/") or name == RECYCLE_BIN_FOLDER:
        raise ValidationError(
            f"Project name {name!r} is inside {RECYCLE_BIN_FOLDER!r}, where QuantConnect keeps "
            "deleted projects; such a project would be hidden and purged by one delete."
        )
    for character in name:
        if not _NAME_CHARACTER.fullmatch(character):
            shown = character if character.isprintable() else repr(character)
            raise ValidationError(
                f"Project name contains unsupported special character ({shown}); allowed are "
                "letters, digits, '-', '_', spaces and '/' for folders."
            )
    for component in name.split("/"):
        if not component:
            raise ValidationError(f"Project name {name!r} has an empty folder component.")
        if component != component.strip(" "):
            raise ValidationError(
                f"Project name component {component!r} must not start or end with a space."
            )
        if component.upper() in _DEVICE_NAMES:
            raise ValidationError(
                f"Project name component {component!r} is a reserved device name."
            )
    return name


def validate_language(language: object) -> Language:
    """Normalise a project language to the service's spelling, ``"Py"`` or ``"C#"``.

    Raises:
        ValidationError: For anything that is not Python or C#.
    """
    if isinstance(language, str):
        normalised = _LANGUAGE_ALIASES.get(language.strip().lower())
        if normalised is not None:
            return normalised
    raise ValidationError(f"Unsupported project language {language!r}; use 'Py' or 'C#'.")


def validate_id(value: object, what: str = "projectId") -> int:
    """Check that an id is a positive 32-bit integer (``bool`` and numeric strings refused).

    Raises:
        ValidationError: For zero, negative, too large or non-integer ids.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{what} must be an integer, got {type(value).__name__}.")
    if value <= 0:
        raise ValidationError(f"{what} must be positive, got {value}.")
    if value > MAX_ID:
        raise ValidationError(f"{what} {value} is larger than any QuantConnect id ({MAX_ID}).")
    return value


def validate_file_name(name: object) -> str:
    """Check a project file name (``/`` separates folders).

    Refused: empty names, names over 255 characters, control characters, any of
    ``\\ : * ? " < > |``, empty, ``.`` or ``..`` components, and components starting or ending
    with a space.

    Example:
        >>> validate_file_name("lib/helpers.py")
        'lib/helpers.py'

    Raises:
        ValidationError: With a message naming the rule the name breaks.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("File name must be a non-empty string.")
    if len(name) > MAX_FILE_NAME_LENGTH:
        raise ValidationError(
            f"File name is {len(name)} characters long; the maximum is {MAX_FILE_NAME_LENGTH}."
        )
    if _CONTROL_CHARACTER.search(name):
        raise ValidationError(f"File name {name!r} contains a control character.")
    for character in name:
        if character in _FORBIDDEN_FILE_CHARACTERS:
            raise ValidationError(
                f"File name {name!r} contains unsupported special character ({character})."
            )
    for part in name.split("/"):
        if part in ("", "..", "."):
            raise ValidationError(f"File name {name!r} has an empty, '.' or '..' component.")
        if part != part.strip(" "):
            raise ValidationError(
                f"File name component {part!r} must not start or end with a space."
            )
    return name


def validate_page(start: int, end: int) -> tuple[int, int]:
    """Check a zero-based, end-exclusive page of projects.

    Raises:
        ValidationError: Unless ``0 <= start < end``.
    """
    for value, what in ((start, "start"), (end, "end")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{what} must be an integer, got {type(value).__name__}.")
    if start < 0 or end <= start:
        raise ValidationError(f"Page must satisfy 0 <= start < end, got start={start}, end={end}.")
    return start, end


#: Longest job id accepted (a compile id is 65 characters, a backtest id 32).
MAX_JOB_ID_LENGTH = 200
_JOB_ID = re.compile(r"[A-Za-z0-9_\-]+")


def validate_job_id(value: object, what: str = "backtestId") -> str:
    """Check a compile or backtest id: a non-empty string of letters, digits, ``-`` and ``_``.

    The exact formats (``<32 hex>-<32 hex>``, 32 hex) are the service's business; this only
    refuses what cannot be an id at all.

    Example:
        >>> validate_job_id("5d1f2cba3a0ec7407c566614300502b5", "backtestId")
        '5d1f2cba3a0ec7407c566614300502b5'

    Raises:
        ValidationError: For anything else.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}.")
    if not value or len(value) > MAX_JOB_ID_LENGTH or not _JOB_ID.fullmatch(value):
        raise ValidationError(f"{what} {value!r} is not a QuantConnect id.")
    return value


#: Longest backtest name accepted; the service's limit is undocumented.
MAX_BACKTEST_NAME_LENGTH = 200


def validate_backtest_name(name: object) -> str:
    """Check a backtest name: a non-empty string without control characters.

    Raises:
        ValidationError: With the rule the name breaks.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("Backtest name must be a non-empty string.")
    if len(name) > MAX_BACKTEST_NAME_LENGTH:
        raise ValidationError(
            f"Backtest name is {len(name)} characters long; the maximum is "
            f"{MAX_BACKTEST_NAME_LENGTH}."
        )
    if _CONTROL_CHARACTER.search(name):
        raise ValidationError(f"Backtest name {name!r} contains a control character.")
    return name


#: Most parameters one backtest takes (the service's limit is undocumented; the emulator's).
MAX_PARAMETERS = 200
#: Longest text value of a parameter (the service's limit is undocumented; the emulator's).
MAX_PARAMETER_TEXT_LENGTH = 1_000
#: Number parameters lie within a signed 64-bit integer's range: the service is a C# back end,
#: and a number beyond that (``10**30``) is no parameter LEAN's ``get_parameter`` reads as one.
MIN_PARAMETER_NUMBER = -(2**63)
MAX_PARAMETER_NUMBER = 2**63 - 1


def validate_parameters(parameters: object) -> dict[str, str | int | float]:
    """Check backtest parameters: names are non-empty strings, values str, int or float.

    Booleans are refused (the service takes text or numbers, and LEAN's ``get_parameter``
    reads text: pass ``"true"``); so are nested objects, lists, None and non-finite numbers,
    more than :data:`MAX_PARAMETERS` parameters, text over :data:`MAX_PARAMETER_TEXT_LENGTH`
    characters and numbers outside a signed 64-bit integer's range.

    Example:
        >>> validate_parameters({"fast": 10, "slow": 30.5, "symbol": "SPY"})
        {'fast': 10, 'slow': 30.5, 'symbol': 'SPY'}

    Raises:
        ValidationError: Naming the first bad parameter.
    """
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise ValidationError(
            f"Backtest parameters must be a mapping of name to value, got "
            f"{type(parameters).__name__}."
        )
    if len(parameters) > MAX_PARAMETERS:
        raise ValidationError(
            f"{len(parameters)} backtest parameters; the maximum is {MAX_PARAMETERS}."
        )
    checked: dict[str, str | int | float] = {}
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(f"Backtest parameter name {name!r} must be a non-empty string.")
        if isinstance(value, bool):
            raise ValidationError(
                f"Backtest parameter {name!r} is a bool; pass it as text ('true'/'false')."
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"Backtest parameter {name!r} must be a finite number.")
        if not isinstance(value, (str, int, float)):
            raise ValidationError(
                f"Backtest parameter {name!r} must be text or a number, got "
                f"{type(value).__name__}."
            )
        if isinstance(value, str) and len(value) > MAX_PARAMETER_TEXT_LENGTH:
            raise ValidationError(
                f"Backtest parameter {name!r} is {len(value)} characters long; the maximum is "
                f"{MAX_PARAMETER_TEXT_LENGTH}."
            )
        if not isinstance(value, str) and not (
            MIN_PARAMETER_NUMBER <= value <= MAX_PARAMETER_NUMBER
        ):
            raise ValidationError(
                f"Backtest parameter {name!r} is outside a 64-bit integer's range "
                f"({MIN_PARAMETER_NUMBER} to {MAX_PARAMETER_NUMBER})."
            )
        checked[name] = value
    return checked
