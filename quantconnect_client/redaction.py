"""Remove secrets from text before it becomes an error message or a log line.

Two kinds of secret can reach a message without the token itself being in it:

* a request signature. The service echoes the one it refused (``Hash doesn't match. UID: 1
  Hash: <64 hex> Timestamp: '1700000000'``); with its timestamp, that hash authenticates any
  request until the timestamp ages out, so both are removed, and so is any other run of 64 hex
  digits (the shape of a SHA-256 signature);
* a user name or password in a URL (``https://user:secret@host/...``).

Example:
    >>> scrub("Hash doesn't match. UID: 1 Hash: " + "ab" * 32 + " Timestamp: '1700000000'")
    "Hash doesn't match. UID: 1 Hash: [redacted] Timestamp: [redacted]"
    >>> redact_url("https://me:pw@example.com/api/v2")
    'https://***@example.com/api/v2'
"""

from __future__ import annotations

import re

REDACTED = "[redacted]"

_HASH_FIELD = re.compile(r"(?i)\b(hash\s*[:=]\s*)['\"]?[0-9a-f]*['\"]?")
_TIMESTAMP_FIELD = re.compile(r"(?i)\b(timestamp\s*[:=]\s*)(?:'[^']*'|\"[^\"]*\"|\d+)")
_SIGNATURE_SHAPED = re.compile(r"(?i)(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
#: An echoed ``Authorization`` header: base64 of the user id and the signed hash.
_BASIC_AUTH = re.compile(r"(?i)\b(basic\s+)[A-Za-z0-9+/=_-]{4,}")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def scrub(text: str) -> str:
    """``text`` without signatures, signed timestamps, or credentials in URLs."""
    text = _HASH_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    text = _TIMESTAMP_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SIGNATURE_SHAPED.sub(REDACTED, text)
    text = _BASIC_AUTH.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_USERINFO.sub(r"\1***@", text)


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` part replaced by ``***@``."""
    return _URL_USERINFO.sub(r"\1***@", url)


def has_userinfo(url: str) -> bool:
    """True if ``url`` carries a user name or password.

    Example:
        >>> has_userinfo("http://a:b@127.0.0.1/api/v2"), has_userinfo("http://127.0.0.1/")
        (True, False)
    """
    return _URL_USERINFO.search(url) is not None
