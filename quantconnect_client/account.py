"""``/account/read`` and ``/lean/versions/read``: the organization's account, LEAN versions.

Example:
    >>> Account.model_validate({"organizationId": "ab12", "creditBalance": "12.5"}).credit_balance
    12.5
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from .models import LeanVersion, WireModel, lenient_items, parse

if TYPE_CHECKING:
    from .client import QuantConnectClient


class Card(WireModel):
    """The payment card on file (``expiration`` as ``mm/yy``)."""

    brand: str | None = None
    expiration: str | None = None
    last4: str | None = None


class Account(WireModel):
    """An organization's account."""

    organization_id: str | None = None
    credit_balance: float | None = None
    card: Card | None = None


class _Versions(WireModel):
    essential = frozenset({"versions"})

    versions: list[LeanVersion] = Field(default_factory=list)

    @field_validator("versions", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[LeanVersion]:
        return lenient_items(value, LeanVersion, "versions")


class AccountAPI:
    """Account operations; reached as ``client.account``."""

    def __init__(self, client: QuantConnectClient) -> None:
        self._client = client

    def read(self, organization_id: str | None = None) -> Account:
        """The account of ``organization_id`` (default: the client's, else the preferred one)."""
        organization = organization_id or self._client.organization_id
        payload = {"organizationId": organization} if organization else {}
        return parse(Account, self._client.call("/account/read", payload), "/account/read")


def read_lean_versions(client: QuantConnectClient) -> list[LeanVersion]:
    """The LEAN versions the service offers (``/lean/versions/read``)."""
    body = client.call("/lean/versions/read")
    return parse(_Versions, body, "/lean/versions/read").versions


__all__ = ["Account", "AccountAPI", "Card", "read_lean_versions"]
