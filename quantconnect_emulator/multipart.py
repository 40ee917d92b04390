r"""Decode a ``multipart/form-data`` body into text fields and file parts.

``/object/set`` is the one action the contract sends as multipart (two text fields and the file
part ``objectData``). The body is already in memory (the middleware caps it at
``max_request_bytes``); parts are cut out of it by position, so each file part costs one copy.
A body that is not well-formed multipart (no boundary, a missing closing boundary, a part without
a name) is refused as a whole: a truncated upload must never be stored as a shorter object.

Example:
    >>> part = 'Content-Disposition: form-data; name="objectData"; filename="b.txt"'
    >>> body = "\r\n".join(["--xyz", 'Content-Disposition: form-data; name="key"', "",
    ...                      "a/b.txt", "--xyz", part, "", "hello", "--xyz--", ""]).encode()
    >>> fields = parse_form_data("multipart/form-data; boundary=xyz", body)
    >>> fields["key"], fields["objectData"].data, fields["objectData"].filename
    ('a/b.txt', b'hello', 'b.txt')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from quantconnect_emulator.registry import ApiError

#: The most parts one body may hold (the contract's upload has three).
MAX_PARTS = 100

_BOUNDARY = re.compile(r'boundary=(?:"([^"]{1,200})"|([^;\s]{1,200}))', re.IGNORECASE)


class MultipartError(ApiError):
    """A body that says it is multipart but cannot be read as such."""


@dataclass(frozen=True)
class FilePart:
    """A part sent with a ``filename``: its raw bytes, kept as bytes (never decoded)."""

    data: bytes
    filename: str | None
    content_type: str | None


def parse_form_data(content_type: str, body: bytes) -> dict[str, str | FilePart]:
    """The fields of a ``multipart/form-data`` body (the last of a repeated name wins).

    Raises:
        MultipartError: No boundary, a part without headers or name, text that is not UTF-8,
            or no closing boundary (a truncated body).
    """
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise MultipartError("multipart/form-data body without a boundary")
    delimiter = b"--" + (match.group(1) or match.group(2)).encode("latin-1")
    view = memoryview(body)
    start = body.find(delimiter)
    if start < 0:
        raise MultipartError("multipart/form-data body holds no part")
    fields: dict[str, str | FilePart] = {}
    position = start + len(delimiter)
    for _ in range(MAX_PARTS + 1):
        if body.startswith(b"--", position):
            return fields  # the closing delimiter
        if not body.startswith(b"\r\n", position):
            raise MultipartError("multipart/form-data delimiter not followed by a line end")
        head_end = body.find(b"\r\n\r\n", position + 2)
        following = body.find(b"\r\n" + delimiter, position + 2)
        if head_end < 0 or following < 0 or head_end > following:
            raise MultipartError("multipart/form-data body is truncated (no closing boundary)")
        headers = _headers(bytes(view[position + 2 : head_end]))
        name, filename = headers.get_param("name", header="content-disposition"), headers.get_param(
            "filename", header="content-disposition"
        )
        if not isinstance(name, str) or not name:
            raise MultipartError("multipart/form-data part without a name")
        content = bytes(view[head_end + 4 : following])
        if isinstance(filename, str):
            fields[name] = FilePart(content, filename, headers.get("content-type"))
        else:
            try:
                fields[name] = content.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MultipartError(
                    f"multipart/form-data field {name[:50]!r} is not UTF-8"
                ) from exc
        position = following + 2 + len(delimiter)
    raise MultipartError(f"multipart/form-data body holds more than {MAX_PARTS} parts")


def _headers(block: bytes) -> Message:
    message = Message()
    for line in block.decode("utf-8", "replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise MultipartError("multipart/form-data part header without a colon")
        message[name.strip()] = value.strip()
    if message.get("content-disposition") is None:
        raise MultipartError("multipart/form-data part without Content-Disposition")
    return message
