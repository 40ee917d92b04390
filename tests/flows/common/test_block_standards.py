"""The credentials block: Prefect's conventions for blocks, its fields, its client cache."""

from __future__ import annotations

import email.message
import io
import subprocess
import sys
import urllib.request
import urllib.response
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.testing.standard_test_suites.blocks import BlockStandardTestSuite
from pydantic import SecretStr

from quantconnect_client import QuantConnectClient, QuantConnectSettings
from tasks.credentials import LOGO_URL, ClientCache, QuantConnectCredentials

REPO_ROOT = Path(__file__).resolve().parents[3]
LOGO_FILE = REPO_ROOT / "docs/images/quantconnect-credentials.png"


class _CommittedLogo(urllib.request.BaseHandler):
    """Answers the logo's URL with the committed file, and refuses any other URL."""

    handler_order = 100  # before urllib's own HTTPS handler

    def https_open(self, request: urllib.request.Request) -> urllib.response.addinfourl:
        if request.full_url != LOGO_URL:
            raise urllib.error.URLError(f"no network in the tests: {request.full_url}")
        headers = email.message.Message()
        headers["Content-Type"] = "image/png"
        response = urllib.response.addinfourl(
            io.BytesIO(LOGO_FILE.read_bytes()), headers, request.full_url, 200
        )
        response.msg = "OK"  # type: ignore[attr-defined]  # urllib reads it next to the status
        return response


class TestQuantConnectCredentialsStandards(BlockStandardTestSuite):
    """Prefect's own suite, whole. Its logo check downloads ``_logo_url``; the tests have no
    internet, so the URL is answered from the committed file it points at (GitHub's raw copy
    of ``docs/images/quantconnect-credentials.png``)."""

    @pytest.fixture(autouse=True)
    def logo_from_the_checkout(self) -> Iterator[None]:
        previous = urllib.request._opener  # type: ignore[attr-defined]
        urllib.request.install_opener(urllib.request.build_opener(_CommittedLogo()))
        try:
            yield
        finally:
            urllib.request._opener = previous  # type: ignore[attr-defined]

    @pytest.fixture
    def block(self):
        return QuantConnectCredentials


def test_the_logo_url_names_the_committed_file():
    assert LOGO_URL.startswith("https://")
    assert LOGO_URL.endswith("/" + LOGO_FILE.relative_to(REPO_ROOT).as_posix())


def test_the_connection_fields_are_the_client_settings():
    block_fields = QuantConnectCredentials.model_fields
    for name, setting in QuantConnectSettings.model_fields.items():
        assert name in block_fields, f"{name} is a client setting but not a block field"
        if name not in ("user_id", "api_token"):  # a block always has credentials
            assert block_fields[name].default == setting.default, name
            assert block_fields[name].metadata == setting.metadata, name
    assert set(block_fields) == set(QuantConnectSettings.model_fields)


def test_block_round_trips_through_the_server_with_the_token_secret(qc_emulator):
    block = QuantConnectCredentials(user_id=5, api_token="round-trip-secret", base_url="http://x")
    block.save("round-trip", overwrite=True)
    loaded = QuantConnectCredentials.load("round-trip")
    assert isinstance(loaded, QuantConnectCredentials)
    assert loaded.api_token.get_secret_value() == "round-trip-secret"
    assert loaded.to_settings().base_url == "http://x"
    assert "round-trip-secret" not in repr(loaded)
    assert "round-trip-secret" not in str(loaded.model_dump())


def test_get_client_is_shared_per_credentials(credentials):
    assert credentials.get_client() is credentials.get_client()
    other = credentials.model_copy(update={"api_token": SecretStr("another-token")})
    assert other.get_client() is not credentials.get_client()


def test_the_client_cache_is_bounded_and_closes_what_it_drops(qc_emulator):
    closed: list[str] = []

    def make(name: str):
        def build() -> QuantConnectClient:
            client = QuantConnectClient(
                qc_emulator.user_id, qc_emulator.api_token, base_url=qc_emulator.base_url
            )
            close = client.close

            def recorded_close() -> None:
                closed.append(name)
                close()

            client.close = recorded_close  # type: ignore[method-assign]
            return client

        return build

    cache = ClientCache(maxsize=2)
    a, b = cache.get("a", make("a")), cache.get("b", make("b"))
    assert cache.get("a", make("a2")) is a  # "a" is now the most recently used
    cache.get("c", make("c"))
    assert (len(cache), closed) == (2, ["b"])
    assert cache.get("a", make("a3")) is a and b is not a
    cache.close_all()
    assert sorted(closed) == ["a", "b", "c"] and len(cache) == 0


def test_cached_clients_are_closed_when_the_process_exits():
    script = (
        "from tasks.credentials import QuantConnectCredentials\n"
        "client = QuantConnectCredentials(user_id=1, api_token='t').get_client()\n"
        "close = client.close\n"
        "client.close = lambda: (print('closed at exit'), close())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120, check=True,
    )
    assert done.stdout.strip() == "closed at exit"
