"""The ``QuantConnectCredentials`` block: who to be on QuantConnect, kept with a secret token.

Example:
    Save once (from code, or the Prefect UI), then load by name in flows::

        from tasks.credentials import QuantConnectCredentials
        QuantConnectCredentials(user_id=123456, api_token="...").save("quantconnect")
"""

from __future__ import annotations

import hashlib
import threading

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr

from quantconnect_client import (
    DEFAULT_BASE_URL,
    ConfigurationError,
    QuantConnectClient,
    QuantConnectSettings,
)

_clients: dict[str, QuantConnectClient] = {}
_clients_lock = threading.Lock()


class QuantConnectCredentials(CredentialsBlock):
    """Credentials and connection settings for the QuantConnect API v2.

    The API token is a secret field: Prefect stores it encrypted and shows it masked; it leaves
    this block only to be hashed into a request signature.

    Attributes:
        user_id: QuantConnect user id.
        api_token: QuantConnect API token.
        organization_id: Organization for new projects.
        base_url: API root URL.

    Examples:
        Load a saved block and use its client:
        ```python
        from tasks.credentials import QuantConnectCredentials

        credentials = QuantConnectCredentials.load("BLOCK_NAME")
        client = credentials.get_client()
        print([project.name for project in client.projects.list()])
        ```
    """

    _block_type_name = "QuantConnect Credentials"
    _block_type_slug = "quantconnect-credentials"
    _description = "Credentials (user id and API token) for the QuantConnect cloud API v2."
    _documentation_url = HttpUrl(
        "https://www.quantconnect.com/docs/v2/cloud-platform/api-reference/authentication"
    )
    _logo_url = None

    user_id: int = Field(default=..., gt=0, description="QuantConnect user id.")
    api_token: SecretStr = Field(
        default=..., description="QuantConnect API token (kept secret, never sent in clear)."
    )
    organization_id: str | None = Field(
        default=None,
        description="Organization new projects go to (default: the account's preferred one).",
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="API root URL; point it at a QuantConnect emulator for offline tests.",
    )
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for an answer before giving up."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Attempts per API call on transient failures, within one task attempt.",
    )

    @classmethod
    def from_settings(cls, settings: QuantConnectSettings | None = None) -> QuantConnectCredentials:
        """Build credentials from the ``QC_*`` environment (or ``.env``).

        Raises:
            ConfigurationError: ``QC_USER_ID`` or ``QC_API_TOKEN`` is missing.
        """
        settings = settings or QuantConnectSettings()
        if settings.user_id is None or settings.api_token is None:
            raise ConfigurationError(
                "No QuantConnect credentials: pass a QuantConnectCredentials block or a saved "
                "block's name, or set QC_USER_ID and QC_API_TOKEN."
            )
        return cls(**settings.model_dump())

    def to_settings(self) -> QuantConnectSettings:
        """The same connection settings as the client package's settings object (no env read)."""
        return QuantConnectSettings.model_construct(
            **self.model_dump(include=set(QuantConnectSettings.model_fields))
        )

    def _client_key(self) -> str:
        # The cache key must tell tokens apart without holding one: use its digest.
        fields = self.to_settings().model_dump(exclude={"api_token"})
        token_digest = hashlib.sha256(self.api_token.get_secret_value().encode()).hexdigest()
        return f"{token_digest}|{sorted(fields.items())}"

    def get_client(self) -> QuantConnectClient:
        """A client for these credentials, shared across the tasks of this process.

        One client per distinct set of credentials keeps connections pooled across tasks.
        """
        key = self._client_key()
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = QuantConnectClient.from_settings(self.to_settings(), pool_size=32)
                _clients[key] = client
            return client
