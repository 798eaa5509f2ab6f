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

Waiting is event-driven. An EES that validates the token before it answers (the usual,
synchronous way) has connected to the trap before its response reached the harness, so by
then the trap has accepted that connection; :meth:`FetchTrap.wait_quiet` then only waits until
every accepted connection is recorded. The short :data:`GRACE_S` after the response is for an
EES that answers first and fetches in the background; a fetch seen ends the wait at once.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from conformance.peers.pki import TestCA

__all__ = ["FetchTrap", "TrapVisit"]

MAX_CONNECTIONS = 32
MAX_REQUEST_BYTES = 16 * 1024
SOCKET_TIMEOUT_S = 2.0
GRACE_S = 0.2
"""How long after the EES answered a fetch made in the background still counts."""
RECORD_WAIT_S = 3.0
"""How long :meth:`FetchTrap.wait_quiet` waits for accepted connections to be recorded."""
POLL_S = 0.02
"""The serving loop checks for shutdown this often (socketserver's default 0.5 s would be the
cost of every trap's exit)."""


@dataclass
class TrapVisit:
    """One connection to the trap: from where, whether TLS came up, the request line if any."""

    peer: str
    tls: str
    request_line: str = ""
    user_agent: str = ""


@dataclass
class _State:
    """What the trap saw: the recorded visits, and the connections accepted but not yet recorded."""

    visits: list[TrapVisit] = field(default_factory=list)
    open: dict[int, str] = field(default_factory=dict)
    """Peers by ``id()`` of their accepted socket, which lives until its handler is done."""
    accepted: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def accept(self, connection: object, peer: str) -> None:
        with self.changed:
            self.accepted += 1
            self.open[id(connection)] = peer
            self.changed.notify_all()

    def add(self, connection: object, visit: TrapVisit) -> None:
        with self.changed:
            if self.open.pop(id(connection), None) is not None and len(self.visits) < MAX_CONNECTIONS:
                self.visits.append(visit)
            self.changed.notify_all()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, context: ssl.SSLContext, body: bytes, content_type: str, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context, self.body, self.content_type, self.state = context, body, content_type, state

    def process_request(self, request: Any, client_address: Any) -> None:
        # Counted in the accepting thread, before the handler thread even starts: wait_quiet
        # then knows about a connection however slowly its handler gets going.
        self.state.accept(request, f"{client_address[0]}:{client_address[1]}")
        super().process_request(request, client_address)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        raw: socket.socket = self.request
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        visit = TrapVisit(peer, "connected; the handler failed before the handshake ended")
        try:
            visit = self._visit(raw, peer)
        finally:
            self.server.state.add(raw, visit)

    def _visit(self, raw: socket.socket, peer: str) -> TrapVisit:
        raw.settimeout(SOCKET_TIMEOUT_S)
        try:
            tls = self.server.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            return TrapVisit(peer, f"handshake failed: {type(exc).__name__}: {exc}")
        with tls:
            data = _read_head(tls)
            head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1", errors="replace").split("\r\n")
            agent = next(
                (line.split(":", 1)[1].strip() for line in head[1:] if line.lower().startswith("user-agent:")), ""
            )
            visit = TrapVisit(peer, tls.version() or "tls", head[0][:200], agent[:200])
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
        return visit


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
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_S,), name="fetch-trap", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.port}/{path.lstrip('/')}"

    @property
    def visits(self) -> list[TrapVisit]:
        """Every connection so far; one accepted but not yet through its handler counts too."""
        with self._state.changed:
            still_open = [TrapVisit(peer, "connected; no request yet") for peer in self._state.open.values()]
            return [*self._state.visits, *still_open][:MAX_CONNECTIONS]

    def wait_quiet(self, seconds: float = GRACE_S) -> list[TrapVisit]:
        """The visits, once every accepted connection is recorded; with none, after ``seconds``
        of grace for a fetch the EES makes after answering (the first connection ends it)."""
        state = self._state
        with state.changed:
            state.changed.wait_for(lambda: state.accepted > 0, timeout=seconds)
            state.changed.wait_for(lambda: not state.open, timeout=RECORD_WAIT_S)
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
