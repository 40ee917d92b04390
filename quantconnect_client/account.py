"""``/account/read`` and ``/lean/versions/read``: the organization's account, LEAN versions.

Example:
    >>> client.account.read().credit_balance  # doctest: +SKIP
    12.5
"""

from __future__ import annotations

from .models.account import Account, LeanVersion, LeanVersionList
from .models.base import parse
from .requester import Caller


class AccountAPI:
    """Account operations; reached as ``client.account``."""

    def __init__(self, client: Caller) -> None:
        self._client = client

    def read(self, organization_id: str | None = None) -> Account:
        """The account of ``organization_id`` (default: the client's, else the preferred one)."""
        organization = organization_id or self._client.organization_id
        payload = {"organizationId": organization} if organization else {}
        return parse(Account, self._client.call("/account/read", payload), "/account/read")


def read_lean_versions(client: Caller) -> list[LeanVersion]:
    """The LEAN versions the service offers (``/lean/versions/read``)."""
    body = client.call("/lean/versions/read")
    return parse(LeanVersionList, body, "/lean/versions/read").versions


__all__ = ["AccountAPI", "read_lean_versions"]
