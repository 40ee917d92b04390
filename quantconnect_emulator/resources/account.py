"""The account and its organization: ``/authenticate``, ``/account/read``, ``/organizations/read``.

Example:
    >>> from quantconnect_emulator.account import Account
    >>> from quantconnect_emulator.config import EmulatorConfig
    >>> from quantconnect_emulator.params import Params
    >>> _read(Account(EmulatorConfig()), Params({}))["creditBalance"]
    0.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantconnect_emulator.registry import ApiError, action

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params


def account_json(model: Account) -> dict[str, Any]:
    """QuantConnect's ``AccountResponse``: an account without QCC or a card on file (``card`` is
    ``null`` then, not an empty card: LEAN's own tests expect it)."""
    return {"organizationId": model.organization_id, "creditBalance": 0.0, "card": None}


def organization_json(model: Account) -> dict[str, Any]:
    """A minimal ``Organization`` (the emulated account's only one)."""
    return {
        "id": model.organization_id,
        "name": "Emulator Organization",
        "seats": 1,
        "type": "Quant Researcher",
        "credit": {"movements": [], "balance": 0.0},
        "products": [],
        "data": {"signedTime": None, "current": False},
        # The lean CLI's QCFullOrganization requires the members (lean/models/api.py).
        "members": [
            {"id": model.user_id, "name": "Emulator User", "isAdmin": True,
             "email": f"user{model.user_id}@example.invalid"}
        ],
    }


def _check_organization(account: Account, params: Params) -> None:
    organization_id = params.get_str("organizationId")
    if organization_id and organization_id != account.organization_id:
        raise ApiError(f"Organization not found or not accessible: {organization_id}")


@action("/authenticate", bare=True)
def _authenticate(account: Account, params: Params) -> dict[str, Any]:
    return {}


@action("/account/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    _check_organization(account, params)
    return account_json(account)


@action("/organizations/read")
def _organization(account: Account, params: Params) -> dict[str, Any]:
    _check_organization(account, params)
    return {"organization": organization_json(account)}
