"""The client's Object Store key rules and the emulator's agree on one corpus of keys.

Both are written from the contract (LEAN's store's rules), apart; this holds them together, as
``test_name_parity`` does for project and file names.
"""

from __future__ import annotations

import pytest

from quantconnect_client import ValidationError, validate_object_key
from quantconnect_client.objectstore import normalize_object_key
from quantconnect_emulator.resources.objectstore import normalize_key, object_key_error

CORPUS = [
    "test_key_20250101_120000_123456",
    "root/child_directory/grandchild_file",
    "/CI_TEST/Ricardo",
    "/CI_TEST/orats_2024-02-32.json",
    "/CI_TEST/l1_model.p",
    "Mia/Test",
    "with space/and#hash$dollar=equals-dash",
    "back\\slash\\key.txt",
    "./dotted/start.csv",
    "folder/",
    "",
    "/",
    "   ",
    "a//b",
    "a/ /b",
    "a/../b",
    "a.b.c",
    "v1.2/model",
    "name.",
    "what?",
    "colon:key",
    "Résumé.txt",
    "tab\tkey",
    "a/" * 101 + "b",
    "k" * 1001,
]


@pytest.mark.parametrize("key", CORPUS)
def test_client_and_emulator_agree(key: str) -> None:
    try:
        validate_object_key(key)
        client_accepts = True
    except ValidationError:
        client_accepts = False
    assert client_accepts == (object_key_error(key) is None)


@pytest.mark.parametrize("key", CORPUS)
def test_normalization_agrees(key: str) -> None:
    assert normalize_object_key(key) == normalize_key(key)
