"""Which credentials a flow run uses: a block passed in, a saved block's name, or ``QC_*``."""

from __future__ import annotations

from tasks.credentials import QuantConnectCredentials


async def resolve_credentials(
    credentials: QuantConnectCredentials | None, credentials_block: str | None
) -> QuantConnectCredentials:
    """Pick the credentials for a run, in order: the block, the saved block's name, ``QC_*``.

    Raises:
        ConfigurationError: None of the three is available.
        ValueError: No saved block has that name.
    """
    if credentials is not None:
        return credentials
    if credentials_block:
        return await QuantConnectCredentials.aload(credentials_block)
    return QuantConnectCredentials.from_settings()


def resolve_credentials_sync(
    credentials: QuantConnectCredentials | None, credentials_block: str | None
) -> QuantConnectCredentials:
    """The same as :func:`resolve_credentials`, for synchronous code such as state hooks."""
    if credentials is not None:
        return credentials
    if credentials_block:
        block = QuantConnectCredentials.load(credentials_block, _sync=True)  # type: ignore[call-arg]
        assert isinstance(block, QuantConnectCredentials)
        return block
    return QuantConnectCredentials.from_settings()
