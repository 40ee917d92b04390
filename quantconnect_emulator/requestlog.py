"""A bounded, thread-safe log of the API requests the emulator received.

Each entry is a plain dict::

    {"seq": 1, "monotonic": 1234.5, "wall_time": "2024-05-01T12:00:00.123Z",
     "method": "POST", "path": "/projects/create", "timestamp": "1714564800",
     "status": 200, "fault": None, "project_id": None, "name": "My Project",
     "duration_ms": 3.1}

``path`` is relative to ``/api/v2``; ``timestamp`` is the raw ``Timestamp``
header; ``status`` is ``None`` when no complete response was sent (dropped
connection, client gone); ``fault`` is a :class:`~quantconnect_emulator.config.FaultKind`
value, ``"rate_limit"`` or ``None``. ``project_id`` and ``name`` come from the parameters of an
authenticated request only (an unauthenticated body is never parsed for the log: they stay
``None``). Headers other than ``Timestamp`` (above all ``Authorization``) are never recorded.

Example:
    >>> log = RequestLog(maxlen=2)
    >>> for path in ("/a", "/b", "/c"):
    ...     log.append({"path": path})
    >>> [entry["path"] for entry in log.entries()]
    ['/b', '/c']
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any


class RequestLog:
    """Keeps the last ``maxlen`` entries; ``seq`` numbers them from 1."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = 0

    def append(self, entry: dict[str, Any]) -> None:
        """Record one request (a copy of ``entry`` gets the next ``seq``)."""
        with self._lock:
            self._seq += 1
            self._entries.append({"seq": self._seq, **entry})

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Copies of the entries, oldest first; ``limit`` keeps the newest ones."""
        with self._lock:
            items = list(self._entries)
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return [dict(item) for item in items]

    def clear(self) -> None:
        """Forget every entry and restart ``seq`` at 1."""
        with self._lock:
            self._entries.clear()
            self._seq = 0
