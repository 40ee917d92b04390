"""Every path the emulator serves has conformance cases here, so a new endpoint cannot arrive
without its answers being checked against the contract."""

from __future__ import annotations

from pathlib import Path

from quantconnect_emulator.routes import HANDLERS

HERE = Path(__file__).parent


def test_every_served_path_is_checked_by_a_conformance_case():
    cases = "".join(
        path.read_text(encoding="utf-8")
        for path in HERE.glob("test_*.py")
        if path.name != Path(__file__).name
    )
    unchecked = sorted(path for path in HANDLERS if f'"{path}"' not in cases)
    assert unchecked == [], f"served paths without a conformance case: {unchecked}"
