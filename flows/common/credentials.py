"""Which credentials a flow run uses: a block passed in, a saved block's name, or ``QC_*``."""

from __future__ import annotations

from prefect.exceptions import ObjectNotFound

from quantconnect_client import ConfigurationError
from tasks.credentials import QuantConnectCredentials


def missing_block_error(name: str) -> ConfigurationError:
    """The error for a ``credentials_block`` name that no saved block has, saying what to do.

    Example:
        >>> print(missing_block_error("quantconnect"))  # doctest: +ELLIPSIS
        No saved QuantConnect credentials block named 'quantconnect' on this Prefect server: ...
    """
    return ConfigurationError(
        f"No saved QuantConnect credentials block named {name!r} on this Prefect server: run"
        " `.venv/bin/python -m deployments.setup` (it saves one named 'quantconnect' from QC_*),"
        " or leave out credentials_block to use the QC_* environment variables (or .env)."
    )


def _not_found(error: ValueError) -> bool:
    # Prefect turns the API's ObjectNotFound into a ValueError with the former as its cause.
    return isinstance(error.__cause__, ObjectNotFound)


async def resolve_credentials(
    credentials: QuantConnectCredentials | None, credentials_block: str | None
) -> QuantConnectCredentials:
    """Pick the credentials for a run, in order: the block, the saved block's name, ``QC_*``.

    Raises:
        ConfigurationError: None of the three is available, or no saved block has that name.
    """
    if credentials is not None:
        return credentials
    if credentials_block:
        try:
            return await QuantConnectCredentials.aload(credentials_block)
        except ValueError as error:
            if _not_found(error):
                raise missing_block_error(credentials_block) from None
            raise
    return QuantConnectCredentials.from_settings()


def resolve_credentials_sync(
    credentials: QuantConnectCredentials | None, credentials_block: str | None
) -> QuantConnectCredentials:
    """The same as :func:`resolve_credentials`, for synchronous code such as state hooks."""
    if credentials is not None:
        return credentials
    if credentials_block:
        try:
            block = QuantConnectCredentials.load(credentials_block, _sync=True)  # type: ignore[call-arg]
        except ValueError as error:
            if _not_found(error):
                raise missing_block_error(credentials_block) from None
            raise
        assert isinstance(block, QuantConnectCredentials)
        return block
    return QuantConnectCredentials.from_settings()
