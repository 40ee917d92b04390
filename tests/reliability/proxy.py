"""A loopback TCP forwarder that can be cut: the network of one process going away, for real."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from types import TracebackType
from typing import TypeVar

P = TypeVar("P", bound="CuttableProxy")


class CuttableProxy:
    """Forward connections on a free loopback port to ``target_port`` until :meth:`cut`.

    After the cut, open connections are reset and new ones are refused.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/api/v2") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._cut:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for source, sink, up in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(source, sink, up), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        """Carry ``source`` to ``sink`` (``upstream``: towards the target) until either ends."""
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        with self._lock:
            self._cut = True
            sockets, self._sockets = self._sockets, set()
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                # Linger 0: the close sends a reset, as a lost network would look to the peer.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self: P) -> P:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cut()


class ThrottledProxy(CuttableProxy):
    """A :class:`CuttableProxy` whose link is slow, or stalls: the slow uplink of a real office.

    Args:
        target_port: Where to forward.
        upload_rate: Bytes per second carried towards the target (None: as fast as it goes).
        download_rate: Bytes per second carried back (None: as fast as it goes).
        stall_up_after: Each connection stops carrying bytes towards the target once it has
            carried this many (it stays open, as a link that drops every packet): a transfer
            that stalls part way, while new connections (a reconciling read) still work.
        stall_down_after: The same, back from the target.
        receive_buffer: The proxy's socket receive buffer: small, so that a sender cannot park
            a large part of its upload in the kernel while the link is slow.

    Attributes:
        stalls: Connections that stalled so far.
    """

    #: Bytes carried per step: small, so the rate holds over short transfers too.
    STEP = 16 * 1024

    def __init__(
        self,
        target_port: int,
        *,
        upload_rate: float | None = None,
        download_rate: float | None = None,
        stall_up_after: int | None = None,
        stall_down_after: int | None = None,
        receive_buffer: int = 64 * 1024,
    ) -> None:
        self._rates = {True: upload_rate, False: download_rate}
        self._stall_after = {True: stall_up_after, False: stall_down_after}
        self._released = threading.Event()
        self.stalls = 0
        super().__init__(target_port)
        # Accepted sockets inherit the listener's buffer (set before any client connects).
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        rate = self._rates[upstream]
        limit = self._stall_after[upstream]
        carried = 0
        with contextlib.suppress(OSError):
            while True:
                step = self.STEP if limit is None else min(self.STEP, limit - carried)
                if step <= 0:
                    with self._lock:
                        self.stalls += 1
                    self._released.wait()  # until cut: the peer sees a silent link
                    return
                data = source.recv(step)
                if not data:
                    break
                sink.sendall(data)
                carried += len(data)
                if rate:
                    time.sleep(len(data) / rate)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self._released.set()
        super().cut()
