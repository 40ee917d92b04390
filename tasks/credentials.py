"""The ``QuantConnectCredentials`` block: who to be on QuantConnect, kept with a secret token.

Its connection fields (base URL, timeouts, attempts, and whatever else the client's settings
hold) are built from :class:`quantconnect_client.QuantConnectSettings`, the one place they are
declared: a setting added there appears in the block, with the same default and bounds.

Example:
    Save once (from code, or the Prefect UI), then load by name in flows::

        from tasks.credentials import QuantConnectCredentials
        QuantConnectCredentials(user_id=123456, api_token="...").save("quantconnect")
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import BaseModel, Field, HttpUrl, SecretStr, create_model
from pydantic.fields import FieldInfo

from quantconnect_client import ConfigurationError, QuantConnectClient, QuantConnectSettings

#: The block's logo in the Prefect UI: ``docs/images/quantconnect-credentials.png`` of this
#: repository as GitHub serves it, so the file and the URL change in the same commit.
LOGO_URL = (
    "https://raw.githubusercontent.com/prefect-quantconnect/prefect-quantconnect/main/"
    "docs/images/quantconnect-credentials.png"
)
#: Distinct credentials whose clients a process keeps (the least recently used is closed).
MAX_CACHED_CLIENTS = 16


class _CredentialFields(BaseModel):
    """The block's own fields: unlike the settings, a block always has credentials."""

    user_id: int = Field(default=..., gt=0, description="QuantConnect user id.")
    api_token: SecretStr = Field(
        default=..., description="QuantConnect API token (kept secret, never sent in clear)."
    )


def _connection_fields() -> dict[str, Any]:
    """Every client setting but the credentials, as the settings declare it (Prefect's block
    conventions want each description to end with a period)."""
    fields: dict[str, Any] = {}
    for name, info in QuantConnectSettings.model_fields.items():
        if name in _CredentialFields.model_fields:
            continue
        description = (info.description or name.replace("_", " ").capitalize()).rstrip(".")
        field = FieldInfo.merge_field_infos(info, description=f"{description}.")
        fields[name] = (info.annotation, field)
    return fields


if TYPE_CHECKING:

    class _ConnectionFields(_CredentialFields):
        # Built at run time from the settings; to a type checker they are attributes of any
        # type (the settings' own annotations say which).
        def __getattr__(self, name: str) -> Any: ...

else:
    _ConnectionFields = create_model(
        "QuantConnectConnectionFields", __base__=_CredentialFields, **_connection_fields()
    )


class QuantConnectCredentials(CredentialsBlock, _ConnectionFields):
    """Credentials and connection settings for the QuantConnect API v2.

    The API token is a secret field: Prefect stores it encrypted and shows it masked; it leaves
    this block only to be hashed into a request signature.

    Attributes:
        user_id: QuantConnect user id.
        api_token: QuantConnect API token.

    The other fields are the client's settings (``QuantConnectSettings``): organization, base
    URL, timeouts, attempts.

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
    _logo_url = HttpUrl(LOGO_URL)

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

        One client per distinct set of credentials keeps connections pooled across tasks; at
        most :data:`MAX_CACHED_CLIENTS` are kept, and all are closed when the process exits.
        """
        return CLIENTS.get(
            self._client_key(),
            lambda: QuantConnectClient.from_settings(self.to_settings(), pool_size=32),
        )


class ClientCache:
    """Clients by credentials, least recently used first out (and closed), closed at exit.

    Example:
        >>> cache = ClientCache(maxsize=1)
        >>> first = cache.get("a", lambda: QuantConnectClient(1, "token-a"))
        >>> cache.get("a", lambda: QuantConnectClient(1, "other")) is first
        True
        >>> second = cache.get("b", lambda: QuantConnectClient(1, "token-b"))  # closes first
        >>> len(cache)
        1
    """

    def __init__(self, maxsize: int = MAX_CACHED_CLIENTS) -> None:
        self._clients: OrderedDict[str, QuantConnectClient] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: str, make: Callable[[], QuantConnectClient]) -> QuantConnectClient:
        """The client under ``key``, made by ``make`` if there is none."""
        evicted = []
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = make()
                while len(self._clients) > self._maxsize:
                    evicted.append(self._clients.popitem(last=False)[1])
            self._clients.move_to_end(key)
        for old in evicted:
            old.close()
        return client

    def close_all(self) -> None:
        """Close and forget every client (at exit, or to start afresh)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            client.close()

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)


#: This process's clients.
CLIENTS = ClientCache()
atexit.register(CLIENTS.close_all)
