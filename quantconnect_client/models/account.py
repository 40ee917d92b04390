"""Models of ``/account/read`` and ``/lean/versions/read`` answers.

Example:
    >>> Account.model_validate({"organizationId": "ab12", "creditBalance": "12.5"}).credit_balance
    12.5
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from .base import WireModel, lenient_items


class LeanVersion(WireModel):
    """A LEAN engine version the service offers."""

    id: int | None = None
    created: datetime | None = None
    description: str | None = None
    lean_hash: str | None = None
    lean_cloud_hash: str | None = None
    name: str | None = None
    ref: str | None = None
    public: bool | None = None


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


class LeanVersionList(WireModel):
    """The payload of ``/lean/versions/read``."""

    essential = frozenset({"versions"})

    versions: list[LeanVersion] = Field(default_factory=list)

    @field_validator("versions", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[LeanVersion]:
        return lenient_items(value, LeanVersion, "versions")


__all__ = ["Account", "Card", "LeanVersion", "LeanVersionList"]
