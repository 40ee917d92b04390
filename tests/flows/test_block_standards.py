"""The credentials block follows Prefect's conventions for blocks."""

from __future__ import annotations

import pytest
from prefect.testing.standard_test_suites.blocks import BlockStandardTestSuite
from pydantic import SecretStr

from tasks.credentials import QuantConnectCredentials


class TestQuantConnectCredentialsStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self):
        return QuantConnectCredentials


def test_block_round_trips_through_the_server_with_the_token_secret(qc_emulator):
    block = QuantConnectCredentials(user_id=5, api_token="round-trip-secret", base_url="http://x")
    block.save("round-trip", overwrite=True)
    loaded = QuantConnectCredentials.load("round-trip")
    assert isinstance(loaded, QuantConnectCredentials)
    assert loaded.api_token.get_secret_value() == "round-trip-secret"
    assert "round-trip-secret" not in repr(loaded)
    assert "round-trip-secret" not in str(loaded.model_dump())


def test_get_client_is_shared_per_credentials(credentials):
    assert credentials.get_client() is credentials.get_client()
    other = credentials.model_copy(update={"api_token": SecretStr("another-token")})
    assert other.get_client() is not credentials.get_client()
