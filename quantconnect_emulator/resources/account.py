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

from quantconnect_emulator import wire
from quantconnect_emulator.registry import ApiError, action

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params


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
    return wire.account(account)


@action("/organizations/read")
def _organization(account: Account, params: Params) -> dict[str, Any]:
    _check_organization(account, params)
    return {"organization": wire.organization(account)}
