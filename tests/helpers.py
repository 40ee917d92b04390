"""Helpers shared by the Prefect-facing test folders."""

from __future__ import annotations

from typing import Any

from tasks.credentials import QuantConnectCredentials


def credentials_for(emulator: Any, **overrides: Any) -> QuantConnectCredentials:
    """A credentials block for an emulator, with short timeouts so fault tests stay fast."""
    fields: dict[str, Any] = {
        "user_id": emulator.user_id,
        "api_token": emulator.api_token,
        "base_url": emulator.base_url,
        "read_timeout": 2.0,
        "connect_timeout": 2.0,
    }
    fields.update(overrides)
    return QuantConnectCredentials(**fields)
