"""QC_* settings from the environment and from a .env file."""

from __future__ import annotations

import pytest

from quantconnect_client import ConfigurationError, QuantConnectClient, QuantConnectSettings
from quantconnect_client.settings import DEFAULT_BASE_URL


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for key in ("QC_USER_ID", "QC_API_TOKEN", "QC_ORGANIZATION_ID", "QC_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("QC_USER_ID", "77")
    monkeypatch.setenv("QC_API_TOKEN", "env-secret-token")
    monkeypatch.setenv("QC_READ_TIMEOUT", "12.5")
    settings = QuantConnectSettings()
    assert settings.user_id == 77
    assert settings.has_credentials
    assert settings.read_timeout == 12.5
    assert settings.base_url == DEFAULT_BASE_URL
    assert "env-secret-token" not in repr(settings)
    client = QuantConnectClient.from_settings(settings)
    assert "env-secret-token" not in repr(client)


def test_min_transfer_rate_reaches_the_transfer_bounds(monkeypatch):
    monkeypatch.setenv("QC_USER_ID", "77")
    monkeypatch.setenv("QC_API_TOKEN", "env-secret-token")
    monkeypatch.setenv("QC_MIN_TRANSFER_RATE", "1000")
    client = QuantConnectClient.from_settings(QuantConnectSettings())
    assert client.timeouts.min_transfer_rate == 1000
    # One attempt's 35 s, plus 50 kB at 1 kB/s.
    assert client.timeouts.transfer(50_000) == 85.0
    monkeypatch.setenv("QC_MIN_TRANSFER_RATE", "0")
    with pytest.raises(ValueError, match="min_transfer_rate"):
        QuantConnectSettings()


def test_settings_from_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text(
        "QC_USER_ID=8\nQC_API_TOKEN=dotenv-token\nQC_BASE_URL=http://127.0.0.1:9/api/v2\n"
    )
    settings = QuantConnectSettings()
    assert settings.user_id == 8
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "dotenv-token"
    assert settings.base_url == "http://127.0.0.1:9/api/v2"


def test_missing_credentials_are_a_clear_error():
    assert not QuantConnectSettings().has_credentials
    with pytest.raises(ConfigurationError, match="QC_USER_ID and QC_API_TOKEN"):
        QuantConnectClient.from_settings()
    with pytest.raises(ConfigurationError, match="user id"):
        QuantConnectClient(0, "t")
    with pytest.raises(ConfigurationError, match="API token"):
        QuantConnectClient(5, "")
    with pytest.raises(ConfigurationError, match="must start with http"):
        QuantConnectClient(5, "t", base_url="ftp://example")
