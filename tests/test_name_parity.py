"""The client's name rules and the emulator's agree: one corpus of project and file names.

The client must refuse, before any request, at least every name the emulator refuses (else a
run uploads half a strategy and fails on the next file). Where the client is stricter on
purpose, the name is listed below with the reason; any other difference fails this test.
"""

from __future__ import annotations

import pytest

from quantconnect_client import ValidationError
from quantconnect_client.validation import (
    MAX_PROJECT_NAME_LENGTH,
    validate_file_name,
    validate_project_name,
)
from quantconnect_emulator.naming import file_name_error, project_name_error

#: Names tried as project names and as file names.
CORPUS: list[str] = [
    # plain and foldered
    "main.py",
    "My Project",
    "Folder/Sub folder/Algo-1_x",
    "lib/helpers.py",
    "Research.ipynb",
    "a",
    # characters
    "a:b.py",
    "a?.py",
    "a*b",
    'quote".py',
    "<angle>.py",
    "pipe|.py",
    "back\\slash.py",
    "tab\there.py",
    "nul\x00.py",
    "del\x7f.py",
    "v1.2",
    "dot.in.name",
    "Résumé",
    "日本語.py",
    "emoji🙂.py",
    "semi;colon",
    "comma,name",
    "hash#name",
    "percent%20",
    "plus+name",
    "at@name",
    "tilde~name",
    "paren(s)",
    # spaces
    " leading.py",
    "trailing.py ",
    "Folder/ inner.py",
    "Folder /inner.py",
    "   ",
    "",
    # slashes and components
    "/absolute.py",
    "trailing/",
    "a//b.py",
    "./main.py",
    "../main.py",
    "lib/../main.py",
    "lib/./main.py",
    ".",
    "..",
    ".hidden",
    # reserved names
    "CON",
    "con",
    "Folder/lpt1",
    "AUX.py",
    "COM10",
    "console",
    # the recycle bin
    "Recycle Bin",
    "Recycle Bin/x",
    "Recycle Bin/x.py",
    "Recycle Binary/x",
    # lengths
    "a" * MAX_PROJECT_NAME_LENGTH,
    "a" * (MAX_PROJECT_NAME_LENGTH + 1),
    "f" * 252 + ".py",
    "f" * 253 + ".py",
]

#: Project names the client refuses although the emulator accepts them, and why.
CLIENT_STRICTER_PROJECT = {
    "Recycle Bin": "the service's folder of deleted projects: a project there is hidden",
    "Recycle Bin/x": "a project created in the bin looks deleted and one delete purges it",
    "Recycle Bin/x.py": "as above (and '.' is refused anyway)",
}
#: File names the client refuses although the emulator accepts them, and why.
CLIENT_STRICTER_FILE: dict[str, str] = {}


def refuses(check, name: str) -> bool:
    try:
        check(name)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("name", CORPUS)
def test_project_names_agree(name: str) -> None:
    emulator_refuses = project_name_error(name, max_length=MAX_PROJECT_NAME_LENGTH) is not None
    client_refuses = refuses(validate_project_name, name)
    if emulator_refuses:
        assert client_refuses, f"the client lets {name!r} through; the emulator refuses it"
    elif client_refuses:
        assert name in CLIENT_STRICTER_PROJECT, f"unlisted difference: client refuses {name!r}"


@pytest.mark.parametrize("name", CORPUS)
def test_file_names_agree(name: str) -> None:
    emulator_refuses = file_name_error(name) is not None
    client_refuses = refuses(validate_file_name, name)
    if emulator_refuses:
        assert client_refuses, f"the client lets {name!r} through; the emulator refuses it"
    elif client_refuses:
        assert name in CLIENT_STRICTER_FILE, f"unlisted difference: client refuses {name!r}"


def test_the_corpus_exercises_both_sides() -> None:
    # A corpus where everything passes (or fails) would make the parity above vacuous.
    for check in (
        lambda n: project_name_error(n, max_length=MAX_PROJECT_NAME_LENGTH),
        file_name_error,
    ):
        verdicts = {check(name) is None for name in CORPUS}
        assert verdicts == {True, False}
