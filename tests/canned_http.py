"""A tiny loopback HTTP server that answers requests with canned responses.

For wire shapes the emulator deliberately never produces (a base URL that serves a web page, a
misbehaving proxy, a redirect, a trickling or oversized answer, a service that answers with
someone else's project): the client is still tested over real HTTP, not with a mocked transport.

Every request is recorded whole (path, method, headers and body), so a test can check what went
on the wire, e.g. that the API token never did.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class CannedResponse:
    """One answer.

    Attributes:
        status: HTTP status.
        body: Bytes sent as the body (already compressed, if a Content-Encoding is given).
        headers: Extra headers.
        trickle_seconds: If > 0, the body is sent one byte at a time with this pause between
            bytes (a stalling server).
        head_trickle_seconds: The same for the status line and headers.
        declared_length: Content-Length to declare instead of the body's length.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle_seconds: float = 0.0
    head_trickle_seconds: float = 0.0
    declared_length: int | None = None


@dataclass
class CannedServer:
    """The running server: ``url`` is its API root; ``requests`` what it received.

    Each recorded request is a dict of its headers plus ``path``, ``method``, ``body`` (the
    body decoded as UTF-8, with replacement) and ``at`` (``time.monotonic()`` on arrival); once
    the answer is written (or the client hung up), ``head_bytes`` and ``head_sent`` say how long
    its status line and headers were and how many of their bytes the server managed to send.
    Responses in ``queue`` are served first, in order; then ``response`` answers every request.
    """

    url: str
    response: CannedResponse
    queue: list[CannedResponse] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_response(self) -> CannedResponse:
        with self._lock:
            return self.queue.pop(0) if self.queue else self.response

    def wire_text(self) -> str:
        """Everything received (paths, headers, bodies) as one text, for searching."""
        return "\n".join(str(sorted(r.items())) for r in self.requests)


def self_signed_certificate(directory: Path) -> Path:
    """A PEM file with a key and a certificate for 127.0.0.1 (also the CA bundle to trust)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / "canned-127.0.0.1.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    return path


@contextmanager
def canned_server(
    response: CannedResponse | None = None,
    *then: CannedResponse,
    tls_certificate: Path | None = None,
) -> Iterator[CannedServer]:
    """Serve ``response`` (and, if given, ``then`` after it, the last repeating) on a free
    loopback port; over HTTPS with ``tls_certificate`` (see :func:`self_signed_certificate`)."""
    first = response or CannedResponse()
    state = CannedServer(url="", response=then[-1] if then else first)
    if then:
        state.queue = [first, *then[:-1]]

    class Handler(BaseHTTPRequestHandler):
        written = 0  # bytes of the current answer written so far

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            recorded = {
                **dict(self.headers),
                "path": self.path,
                "method": self.command,
                "body": body.decode("utf-8", "replace"),
                "at": repr(time.monotonic()),
            }
            state.requests.append(recorded)
            reply = state.next_response()
            head = self._head(reply)
            self.written = 0
            try:
                self._send(head, reply.head_trickle_seconds)
                self._send(reply.body, reply.trickle_seconds)
            except OSError:
                self.close_connection = True  # the client gave up; that is what is tested
            finally:
                recorded.update(
                    head_bytes=str(len(head)), head_sent=str(min(self.written, len(head)))
                )

        def _head(self, reply: CannedResponse) -> bytes:
            # Built here rather than with send_header, so that it can be trickled too; a canned
            # Date must be the only one.
            reason = self.responses.get(reply.status, ("",))[0]
            lines = [f"{self.protocol_version} {reply.status} {reason}"]
            if "Date" not in reply.headers:
                lines.append(f"Date: {self.date_time_string()}")
            lines += [f"{key}: {value}" for key, value in reply.headers.items()]
            declared = reply.declared_length
            lines.append(f"Content-Length: {len(reply.body) if declared is None else declared}")
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

        def _send(self, data: bytes, pause: float) -> None:
            """Write ``data``, one byte per ``pause`` if > 0, counting bytes in ``written``."""
            if pause <= 0:
                self.wfile.write(data)
                self.written += len(data)
                return
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
                self.written += 1
                time.sleep(pause)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls_certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_certificate)
        # The handshake happens in the handler's thread, so a stalled client holds no other.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/api/v2"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
