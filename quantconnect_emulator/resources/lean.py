"""LEAN versions: ``/lean/versions/read`` (and the ``versions`` every project answer holds).

The contract notes this is the one path whose OpenAPI entry lists no 401; the
emulator still checks the signature like everywhere (unconfirmed either way,
and a client signs every request anyway).

Example:
    >>> _read(None, None)["versions"][0]["name"]  # type: ignore[arg-type]
    'master'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantconnect_emulator.registry import action
from quantconnect_emulator.templates import LEAN_VERSIONS

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params


def versions() -> list[dict[str, Any]]:
    """``versions``: copies of the emulated LEAN versions (``LeanVersion`` shape)."""
    return [dict(version) for version in LEAN_VERSIONS]


@action("/lean/versions/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    return {"versions": versions()}
