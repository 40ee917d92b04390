"""A wall-clock deadline on a whole HTTP attempt, enforced by cutting the attempt's socket.

urllib3's read timeout applies to each socket read, so a server that sends its status line,
headers or body one byte at a time can hold an attempt for as long as it likes. Here one shared
watchdog thread (for every attempt in the process, started on first use) shuts down the socket
of an attempt that is still running at its deadline, so the read blocked on it returns at once;
the transport then sees :attr:`AttemptDeadline.expired` and reports the attempt as timed out.

The socket is found through the connection classes :class:`DeadlineAdapter` gives urllib3: a
connection is claimed by the attempt that sends a request on it, and released when it goes back
to the pool, so the watchdog never touches an idle pooled connection or another attempt's.
What it cannot cut: name resolution and the TCP connect (bounded by the connect timeout), and a
TLS handshake in progress (bounded per read by the connect timeout).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["WATCHDOG_THREAD_NAME", "AttemptDeadline", "DeadlineAdapter", "attempt_deadline"]

#: The name of the one thread that enforces every attempt's deadline.
WATCHDOG_THREAD_NAME = "quantconnect-attempt-deadline"


class AttemptDeadline:
    """One attempt's deadline and the connections it has sent requests on.

    Attributes:
        deadline: ``time.monotonic()`` value past which the attempt is cut.
        expired: True once the watchdog has cut the attempt (a read that then ends early, or
            fails, ended because of the deadline, not because of the server).
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.finished = False
        self.connections: list[_DeadlineHTTPConnection] = []


class _Watchdog:
    """The single thread that cuts attempts at their deadlines (a heap of deadlines)."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self._heap: list[tuple[float, int, AttemptDeadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> AttemptDeadline:
        watch = AttemptDeadline(deadline)
        with self.lock:
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=WATCHDOG_THREAD_NAME, daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self.lock.notify()  # an earlier deadline than the one being waited for
        return watch

    def finish(self, watch: AttemptDeadline) -> None:
        """The attempt is over: release its connections (its heap entry lapses by itself)."""
        with self.lock:
            watch.finished = True
            for connection in watch.connections:
                if connection.attempt is watch:
                    connection.attempt = None
            watch.connections.clear()

    def claim(self, connection: _DeadlineHTTPConnection) -> None:
        """``connection`` is about to carry the current attempt's request."""
        watch = _CURRENT.get()
        with self.lock:
            if watch is not None and watch.finished:
                watch = None
            if watch is not None and connection.attempt is not watch:
                watch.connections.append(connection)
            connection.attempt = watch
            if watch is not None and watch.expired:
                connection.cut()

    def release(self, connection: Any) -> None:
        """``connection`` goes back to the pool: no attempt owns it any more."""
        if isinstance(connection, _DeadlineHTTPConnection):
            with self.lock:
                connection.attempt = None

    def _run(self) -> None:
        with self.lock:
            while True:
                if not self._heap:
                    self.lock.wait()
                    continue
                deadline, _, watch = self._heap[0]
                left = deadline - time.monotonic()
                if left > 0:
                    self.lock.wait(left)
                    continue
                heapq.heappop(self._heap)
                if not watch.finished:
                    watch.expired = True
                    for connection in watch.connections:
                        if connection.attempt is watch:
                            connection.cut()


def _after_fork() -> None:
    """A forked child has no watchdog thread, and maybe a lock held by a thread it lost."""
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_after_fork)
_CURRENT: ContextVar[AttemptDeadline | None] = ContextVar("quantconnect_attempt", default=None)


@contextlib.contextmanager
def attempt_deadline(deadline: float) -> Iterator[AttemptDeadline]:
    """Cut the requests sent inside this block (by this thread, through a
    :class:`DeadlineAdapter`) if they are still running at ``deadline`` (monotonic seconds).

    Example:
        >>> with attempt_deadline(time.monotonic() + 30) as watch:
        ...     pass  # send the request and read its answer here
        >>> watch.expired
        False
    """
    watch = _WATCHDOG.arm(deadline)
    token = _CURRENT.set(watch)
    try:
        yield watch
    finally:
        _CURRENT.reset(token)
        _WATCHDOG.finish(watch)


class _DeadlineHTTPConnection(HTTPConnection):
    """A connection that tells the watchdog which attempt is using it."""

    attempt: AttemptDeadline | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self.sock = sock  # so that a cut during the rest of connect() reaches it
        _WATCHDOG.claim(self)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if self.sock is not None:  # a pooled connection, reused (a new one claims itself)
            _WATCHDOG.claim(self)
        super().request(*args, **kwargs)

    def cut(self) -> None:
        """Shut the socket down, so that a read blocked on it returns (called under the
        watchdog's lock, only while this connection is the expired attempt's)."""
        sock = self.sock
        if sock is not None:
            # socket.socket's own shutdown: an SSL socket's would also drop its TLS state under
            # the reading thread.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, HTTPSConnection):
    """The same for HTTPS."""


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _WATCHDOG.release(conn)
        super()._put_conn(conn)


class _DeadlineHTTPSConnectionPool(_DeadlineHTTPConnectionPool, HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOL_CLASSES = {"http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections that :func:`attempt_deadline` can cut (direct and
    through an HTTP(S) proxy; a SOCKS proxy keeps urllib3's own connections)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, urllib3.ProxyManager):
            manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager
