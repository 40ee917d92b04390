"""A ``multipart/form-data`` body streamed from a file, for ``/object/set``.

``requests`` builds multipart bodies in memory (``files=`` reads the whole file). This body is a
file-like object instead: text fields and part headers, then the file read in chunks, then the
closing boundary, with its length known up front (a ``Content-Length``, not chunked encoding),
so an upload of any size holds one chunk in memory. Each attempt opens a fresh body
(:meth:`MultipartUpload.open`), read from the file's start again.

Example:
    >>> import io
    >>> upload = MultipartUpload({"key": "a.txt"}, "objectData", "a.txt",
    ...                          lambda: io.BytesIO(b"hello"), size=5, boundary="b0")
    >>> body = upload.open()
    >>> data = body.read(); len(data) == len(body) == upload.length
    True
    >>> data.split(b"\\r\\n")[-4:]
    [b'', b'hello', b'--b0--', b'']
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import IO

#: Bytes read from the file per chunk.
CHUNK_BYTES = 256 * 1024


class MultipartUpload:
    """The recipe of one upload: fields, the file part's name, how to open the file, its size.

    Args:
        fields: Text fields sent before the file part.
        part_name: The file part's field name (``objectData``).
        filename: The ``filename`` of the file part.
        opener: Opens the content, positioned at its start (called once per attempt).
        size: Bytes the opener yields.
        boundary: The boundary (random by default).
    """

    def __init__(
        self,
        fields: dict[str, str],
        part_name: str,
        filename: str,
        opener: Callable[[], IO[bytes]],
        *,
        size: int,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or f"qc-{secrets.token_hex(16)}"
        self._opener = opener
        self.size = size
        head = b"".join(
            f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{_quote(name)}\""
            f"\r\n\r\n{value}\r\n".encode()
            for name, value in fields.items()
        )
        head += (
            f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{_quote(part_name)}\";"
            f" filename=\"{_quote(filename)}\"\r\nContent-Type: application/octet-stream"
            "\r\n\r\n"
        ).encode()
        self._head = head
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        """The request's ``Content-Type``."""
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        """Bytes of the whole body."""
        return len(self._head) + self.size + len(self._tail)

    def open(self) -> MultipartBody:
        """A fresh body for one attempt."""
        return MultipartBody(self._head, self._opener, self.size, self._tail)


class MultipartBody:
    """One attempt's body: ``read(n)`` streams it; ``len()`` gives its length.

    Attributes:
        sent: Bytes read out of it so far (handed to the connection; the link may not have
            carried them all yet).
    """

    def __init__(
        self, head: bytes, opener: Callable[[], IO[bytes]], size: int, tail: bytes
    ) -> None:
        self._length = len(head) + size + len(tail)
        self._chunks = self._generate(head, opener, size, tail)
        self._pending = memoryview(b"")
        self.sent = 0

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        # requests sends a body with __iter__ and a length as a stream with Content-Length.
        while True:
            chunk = self.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left for ``-1``); short reads, as a
        raw file's, so that no chunk is copied more than once."""
        if size < 0:
            rest = bytes(self._pending) + b"".join(self._chunks)
            self._pending = memoryview(b"")
            self.sent += len(rest)
            return rest
        if not self._pending:
            self._pending = memoryview(next(self._chunks, b""))
        out = bytes(self._pending[:size])
        self._pending = self._pending[size:]
        self.sent += len(out)
        return out

    @staticmethod
    def _generate(
        head: bytes, opener: Callable[[], IO[bytes]], size: int, tail: bytes
    ) -> Iterator[bytes]:
        yield head
        left = size
        with opener() as source:
            while left > 0:
                chunk = source.read(min(CHUNK_BYTES, left))
                if not chunk:
                    # The file shrank under us: stop short, so the service sees a body shorter
                    # than its Content-Length and stores nothing (never a half object).
                    raise OSError(f"the file ended {left:,} bytes early while being uploaded")
                left -= len(chunk)
                yield chunk
        yield tail


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


__all__ = ["CHUNK_BYTES", "MultipartBody", "MultipartUpload"]
