"""Check QuantConnect's request signature (no HTTP framework here).

Every API request carries ``Timestamp: <unix seconds>`` and
``Authorization: Basic base64("<user_id>:<sha256_hex(f'{api_token}:{Timestamp}')>")``.
The token never travels; the server recomputes the hash.

Checks, in order (the first failure is reported):

1. both headers present and well formed (``Basic``, valid base64, ``uid:hash``,
   all-digit timestamp) -> else ``Hash doesn't match. ... (<reason>)``;
2. the user id is the configured one -> else ``UserID not valid. UID: <uid>``;
3. the hash matches -> else ``Hash doesn't match. UID: <uid> Hash: <hash> Timestamp: '<ts>'``;
4. the timestamp is fresh -> else ``Timestamp is too old for hash. ...`` or
   ``Timestamp is too far in the future for hash. ...``.

Example:
    >>> from hashlib import sha256; from base64 import b64encode
    >>> ts = "1700000000"
    >>> digest = sha256(f"tok:{ts}".encode()).hexdigest()
    >>> headers = {"authorization": "Basic " + b64encode(f"7:{digest}".encode()).decode(),
    ...            "timestamp": ts}
    >>> check_request_auth(headers, user_id=7, api_token="tok", now=1700000001.0,
    ...                    max_age_seconds=7200, max_future_seconds=300) is None
    True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

#: Value of the ``WWW-Authenticate`` header on HTTP 401 answers.
WWW_AUTHENTICATE = "Basic"

_MAX_ECHO = 128  # longest user-supplied value echoed back in a message


#: Where the middleware leaves its verdict on a request's signature (the message, or None if
#: authentic) in the ASGI scope's ``state``: the routes use that verdict rather than check again
#: a moment later, when a timestamp at the edge of its window may have aged out.
AUTH_VERDICT_KEY = "quantconnect_emulator_auth_error"

def expected_hash(api_token: str, timestamp: str) -> str:
    """Lowercase hex SHA-256 of ``"{api_token}:{timestamp}"``."""
    return hashlib.sha256(f"{api_token}:{timestamp}".encode()).hexdigest()


def _echo(value: str) -> str:
    value = value.replace("\r", " ").replace("\n", " ")
    return value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."


def _hash_mismatch(uid: str, digest: str, timestamp: str, reason: str | None = None) -> str:
    uid, digest, timestamp = _echo(uid), _echo(digest), _echo(timestamp)
    message = f"Hash doesn't match. UID: {uid} Hash: {digest} Timestamp: '{timestamp}'"
    return f"{message} ({reason})" if reason else message


def _parse_authorization(value: str | None) -> tuple[str, str] | str:
    """Return ``(uid, hash)`` or a reason why the header is unusable."""
    if value is None or not value.strip():
        return "missing Authorization header"
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return "Authorization header must use the Basic scheme"
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "Authorization header is not valid base64"
    uid, colon, digest = decoded.partition(":")
    if not colon:
        return "Authorization credentials must be '<user id>:<hash>'"
    return uid, digest


def check_request_auth(
    headers: Mapping[str, str],
    *,
    user_id: int,
    api_token: str,
    now: float,
    max_age_seconds: int,
    max_future_seconds: int,
) -> str | None:
    """Verify a request's signature.

    Args:
        headers: Request headers; keys looked up lower-case (``authorization``,
            ``timestamp``) so pass a case-insensitive mapping or lower-case keys.
        user_id: The only valid user id.
        api_token: The account's API token.
        now: Server time (Unix seconds).
        max_age_seconds: Oldest timestamp accepted.
        max_future_seconds: How far ahead of ``now`` a timestamp may be.

    Returns:
        ``None`` if the request is authentic, else the error message.
    """
    timestamp = headers.get("timestamp")
    parsed = _parse_authorization(headers.get("authorization"))
    if isinstance(parsed, str):
        return _hash_mismatch("", "", timestamp or "", parsed)
    uid, digest = parsed
    if timestamp is None or not (timestamp.isascii() and timestamp.isdigit()):
        reason = (
            "missing Timestamp header" if timestamp is None else "Timestamp must be Unix seconds"
        )
        return _hash_mismatch(uid, digest, timestamp or "", reason)
    if uid.strip() != str(user_id):
        return f"UserID not valid. UID: {_echo(uid)}"
    if not hmac.compare_digest(digest.encode(), expected_hash(api_token, timestamp).encode()):
        return _hash_mismatch(uid, digest, timestamp)
    age = now - int(timestamp)
    if age > max_age_seconds:
        return (
            f"Timestamp is too old for hash. UID: {uid} Timestamp: '{timestamp}' is "
            f"{int(age)} seconds old; the maximum is {max_age_seconds} seconds"
        )
    if -age > max_future_seconds:
        return (
            f"Timestamp is too far in the future for hash. UID: {uid} Timestamp: '{timestamp}' "
            f"is {int(-age)} seconds ahead of server time; the maximum is "
            f"{max_future_seconds} seconds"
        )
    return None
