"""Authentication: the signature check on every API path, 401 and 200 modes."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
import requests

from quantconnect_emulator import EmulatorServer
from quantconnect_emulator.routes import HANDLERS


def _assert_401(response: requests.Response) -> str:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert len(body["errors"]) == 1
    message: str = body["errors"][0]
    return message


def test_authenticate_with_empty_post_body(api):
    response = api.call("/authenticate")
    assert response.status_code == 200
    assert response.json() == {"success": True}  # exactly the contract's answer


def test_authenticate_by_get(api):
    assert api.ok("/authenticate", method="GET") == {"success": True}


def test_wrong_hash_message_format(api, qc_emulator):
    ts = str(int(time.time()))
    bad_hash = hashlib.sha256(f"wrong-token:{ts}".encode()).hexdigest()
    credentials = base64.b64encode(f"{qc_emulator.user_id}:{bad_hash}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}", "Timestamp": ts}
    message = _assert_401(api.call("/authenticate", headers=headers))
    uid = qc_emulator.user_id
    assert message == f"Hash doesn't match. UID: {uid} Hash: {bad_hash} Timestamp: '{ts}'"


def test_wrong_token(api):
    message = _assert_401(api.call("/authenticate", headers=api.headers(token="not-the-token")))
    assert message.startswith("Hash doesn't match. UID: ")


def test_hash_must_be_lowercase_hex(api, qc_emulator):
    ts = str(int(time.time()))
    digest = hashlib.sha256(f"{qc_emulator.api_token}:{ts}".encode()).hexdigest().upper()
    credentials = base64.b64encode(f"{qc_emulator.user_id}:{digest}".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}", "Timestamp": ts}
    assert _assert_401(api.call("/authenticate", headers=headers)).startswith("Hash doesn't match.")


def test_hash_signed_for_another_timestamp(api, qc_emulator):
    headers = api.headers()
    headers["Timestamp"] = str(int(headers["Timestamp"]) - 1)
    assert _assert_401(api.call("/authenticate", headers=headers)).startswith("Hash doesn't match.")


def test_wrong_user_id(api):
    message = _assert_401(api.call("/authenticate", headers=api.headers(user_id=999)))
    assert message == "UserID not valid. UID: 999"


def test_non_numeric_user_id(api):
    message = _assert_401(api.call("/authenticate", headers=api.headers(user_id="alice")))
    assert message.startswith("UserID not valid")


@pytest.mark.parametrize(
    "drop",
    [("Authorization", "Timestamp"), ("Authorization",), ("Timestamp",)],
    ids=["no-headers", "no-authorization", "no-timestamp"],
)
def test_missing_headers(api, drop):
    headers = api.headers()
    for name in drop:
        del headers[name]
    message = _assert_401(api.call("/authenticate", headers=headers))
    assert message.startswith("Hash doesn't match.")
    if "Timestamp" in drop:
        assert "Timestamp: ''" in message


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Bearer " + base64.b64encode(b"123456:abc").decode(),
        "Basic",
        "",
    ],
    ids=["garbled-b64", "no-colon", "not-utf8", "bearer", "scheme-only", "empty"],
)
def test_garbled_authorization(api, authorization):
    headers = api.headers()
    headers["Authorization"] = authorization
    assert _assert_401(api.call("/authenticate", headers=headers)).startswith("Hash doesn't match.")


def test_non_numeric_timestamp(api, qc_emulator, signer):
    headers = signer(qc_emulator.user_id, qc_emulator.api_token, "yesterday")
    assert _assert_401(api.call("/authenticate", headers=headers)).startswith("Hash doesn't match.")


def test_stale_timestamp(api):
    stale = int(time.time()) - 7201
    message = _assert_401(api.call("/authenticate", headers=api.headers(ts=stale)))
    assert message.startswith("Timestamp is too old for hash")
    assert f"'{stale}'" in message


def test_old_but_inside_window(api):
    api.ok("/authenticate", headers=api.headers(ts=int(time.time()) - 7100))


def test_future_timestamp(api):
    ahead = int(time.time()) + 301 + 5
    message = _assert_401(api.call("/authenticate", headers=api.headers(ts=ahead)))
    assert message.startswith("Timestamp is too far in the future for hash")


def test_slightly_future_timestamp_is_fine(api):
    api.ok("/authenticate", headers=api.headers(ts=int(time.time()) + 200))


@pytest.mark.parametrize("path", sorted(HANDLERS))
def test_every_api_path_requires_auth(api, path):
    _assert_401(api.call(path, {"projectId": 1, "name": "x"}, headers={}))


def test_auth_failures_are_counted_and_do_not_echo_the_token(api, qc_emulator):
    response = api.call("/projects/read", headers=api.headers(token="wrong"))
    assert qc_emulator.api_token not in response.text
    assert qc_emulator.stats()["auth_failures"] == 1


def test_auth_failure_status_200_mode(make_api):
    with EmulatorServer(auth_failure_status=200) as server:
        caller = make_api(server)
        try:
            response = caller.call("/authenticate", headers=caller.headers(token="wrong"))
            assert response.status_code == 200
            assert "WWW-Authenticate" not in response.headers
            body = response.json()
            assert body["success"] is False
            assert body["errors"][0].startswith("Hash doesn't match.")
            response = caller.call("/projects/read", headers=caller.headers(user_id=1))
            assert response.status_code == 200
            assert response.json()["errors"][0].startswith("UserID not valid")
            assert caller.ok("/authenticate") == {"success": True}
        finally:
            caller.close()


def test_custom_credentials(make_api):
    with EmulatorServer(user_id=42, api_token="s3cret-token") as server:
        caller = make_api(server)
        try:
            assert server.user_id == 42 and server.api_token == "s3cret-token"
            caller.ok("/authenticate")
            assert "s3cret-token" not in repr(server.config)
            assert "s3cret-token" not in repr(server)
        finally:
            caller.close()
