"""A loopback HTTPS listener that records every connection and request it gets: a fetch trap.

EES-TOK-03 says a token's ``jku`` / ``x5u`` header must never be fetched (RFC 8725 3.10: a
server that fetches a URL the attacker chose is an SSRF, and one that trusts what it fetched
accepts the attacker's key). A case points those headers at a :class:`FetchTrap` it runs for
its duration, then asks the trap whether anything came: every TCP connection counts, even
one whose TLS handshake failed because the EES did not trust the trap's certificate.

The trap is bounded: one thread per connection, at most :data:`MAX_CONNECTIONS` recorded, at
most :data:`MAX_REQUEST_BYTES` read from each, a short socket timeout. It answers ``GET`` with
the document it was given (the attacker's JWKS or certificate), so an EES that fetches *and*
trusts the URL accepts the forged token, which the case then sees too.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

from conformance.peers.pki import TestCA

__all__ = ["FetchTrap", "TrapVisit"]

MAX_CONNECTIONS = 32
MAX_REQUEST_BYTES = 16 * 1024
SOCKET_TIMEOUT_S = 2.0


@dataclass
class TrapVisit:
    """One connection to the trap: from where, whether TLS came up, the request line if any."""

    peer: str
    tls: str
    request_line: str = ""
    user_agent: str = ""


@dataclass
class _State:
    visits: list[TrapVisit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, visit: TrapVisit) -> None:
        with self.lock:
            if len(self.visits) < MAX_CONNECTIONS:
                self.visits.append(visit)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, context: ssl.SSLContext, body: bytes, content_type: str, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context, self.body, self.content_type, self.state = context, body, content_type, state


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        raw: socket.socket = self.request
        raw.settimeout(SOCKET_TIMEOUT_S)
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        try:
            tls = self.server.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            self.server.state.add(TrapVisit(peer, f"handshake failed: {type(exc).__name__}: {exc}"))
            return
        with tls:
            data = _read_head(tls)
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1", errors="replace").split("\r\n")
            agent = next(
                (line.split(":", 1)[1].strip() for line in head[1:] if line.lower().startswith("user-agent:")), ""
            )
            self.server.state.add(TrapVisit(peer, tls.version() or "tls", head[0][:200], agent[:200]))
            if head[0].startswith("GET "):
                status, body = "200 OK", self.server.body
            else:
                status, body = "404 Not Found", b""
            reply = (
                f"HTTP/1.1 {status}\r\nContent-Type: {self.server.content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body
            with contextlib.suppress(OSError):
                tls.sendall(reply)


def _read_head(tls: ssl.SSLSocket) -> bytes:
    data = b""
    try:
        while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST_BYTES:
            chunk = tls.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


class FetchTrap:
    """``with FetchTrap(body) as trap: ... trap.url("/jwks.json") ... trap.visits``."""

    def __init__(self, body: bytes = b"{}", *, content_type: str = "application/json") -> None:
        ca = TestCA.create(common_name="Fetch Trap Test CA")
        leaf = ca.issue_server_cert("localhost", "127.0.0.1")
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(self._context)
        self._state = _State()
        self._server = _Server(self._context, body, content_type, self._state)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fetch-trap", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}/{path.lstrip('/')}"

    @property
    def visits(self) -> list[TrapVisit]:
        with self._state.lock:
            return list(self._state.visits)

    def wait_quiet(self, seconds: float = 0.5) -> list[TrapVisit]:
        """The visits so far, after ``seconds`` of grace for a fetch the EES makes after answering."""
        time.sleep(seconds)
        return self.visits

    def __enter__(self) -> FetchTrap:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
