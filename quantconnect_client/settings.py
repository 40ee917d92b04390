"""Client settings from ``QC_*`` environment variables or a ``.env`` file (pydantic-settings).

Example:
    >>> import os
    >>> os.environ["QC_USER_ID"] = "42"
    >>> QuantConnectSettings().user_id
    42
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .redaction import has_userinfo

#: The real service.
DEFAULT_BASE_URL = "https://www.quantconnect.com/api/v2"
#: The slowest average speed of an upload or download that is still waited for, in bytes per
#: second (64 KiB/s, about 0.5 Mbit/s): a transfer's time bound grows with its size at this
#: rate, so a large file on a slow link is not cut at one request's bound.
DEFAULT_MIN_TRANSFER_RATE = 64 * 1024


class QuantConnectSettings(BaseSettings):
    """Where and as whom to reach QuantConnect.

    Every field reads ``QC_<FIELD>`` (``QC_USER_ID``, ``QC_API_TOKEN``, ``QC_ORGANIZATION_ID``,
    ``QC_BASE_URL``, ``QC_CONNECT_TIMEOUT``, ``QC_READ_TIMEOUT``, ``QC_MIN_TRANSFER_RATE``,
    ``QC_MAX_ATTEMPTS``, ``QC_MAX_RESPONSE_BYTES``) from the
    environment or from ``.env`` in the working directory. A value that fails validation is
    not echoed in the error (a token pasted into the wrong variable must not be printed).
    """

    model_config = SettingsConfigDict(
        env_prefix="QC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        hide_input_in_errors=True,
    )

    user_id: int | None = Field(default=None, description="QuantConnect user id.")
    api_token: SecretStr | None = Field(default=None, description="QuantConnect API token.")
    organization_id: str | None = Field(
        default=None, description="Organization for new projects (default: the preferred one)."
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API root URL.")
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for an answer.")
    min_transfer_rate: float = Field(
        default=DEFAULT_MIN_TRANSFER_RATE,
        gt=0,
        description=(
            "Slowest average upload or download speed waited for (bytes per second); a "
            "transfer's time bound grows with its size at this rate."
        ),
    )
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts per call for transient failures."
    )
    max_response_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Cap on one answer, after decompression (bytes).",
    )

    @field_validator("base_url")
    @classmethod
    def _no_credentials_in_url(cls, value: str) -> str:
        # Requests are signed in headers; a user:password in the URL would only leak.
        if has_userinfo(value):
            raise ValueError("QC_BASE_URL must not hold a user name or password")
        return value

    @property
    def has_credentials(self) -> bool:
        """True when both a user id and an API token are set."""
        return self.user_id is not None and self.api_token is not None
