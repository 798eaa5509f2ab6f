"""Tiny misbehaving servers on 127.0.0.1 for the fake EEC's tests.

A :class:`LoopbackServer` runs one ``behaviour(conn, stop)`` per accepted connection, each in
its own thread, optionally after a server-side TLS handshake done by OpenSSL (a threaded
:mod:`ssl` server, unlike an asyncio one, sends its fatal alerts: CPython gh-98078).
Every thread ends when ``stop`` is set or its socket fails; :meth:`close` joins them all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType

Behaviour = Callable[[socket.socket, threading.Event], None]
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJlZWMtMSJ9.c2lnbmF0dXJlLW5vdC1yZWFsbHk"
"""A JWT-looking string that evidence must never show in full."""
POLL = 0.05


class LoopbackServer:
    """A TCP (``tls=None``) or TLS server; ``seen`` holds request heads, ``tls_errors`` refusals.

    Without a ``behaviour`` it answers every request with :meth:`answer_ok`.
    """

    def __init__(self, behaviour: Behaviour | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour, self.tls = behaviour or self.answer_ok, tls
        self.stop = threading.Event()
        self.seen: list[bytes] = []
        self.tls_errors: list[BaseException] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept_loop, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once (Linux)
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()
        assert not any(t.is_alive() for t in self._threads), "a loopback server thread did not stop"

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as exc:  # OpenSSL has already sent its alert
                    self.tls_errors.append(exc)
                    return
            self.behaviour(conn, self.stop)
        except (OSError, ValueError):
            pass  # the client went away: that is what these tests provoke
        finally:
            conn.close()

    # Behaviours --------------------------------------------------------------------------

    def answer_ok(self, conn: socket.socket, stop: threading.Event) -> None:
        """Read one request, answer 200 with JSON naming what was seen (and a JWT-looking token)."""
        head = read_request(conn)
        self.seen.append(head)
        peer = conn.getpeercert(True) if isinstance(conn, ssl.SSLSocket) else None
        body = json.dumps(
            {
                "requestLine": head.split(b"\r\n", 1)[0].decode(),
                "clientCertSha256": hashlib.sha256(peer).hexdigest() if peer else None,
                "accessToken": JWT,
                "note": f"token {JWT} in free text",
            }
        ).encode()
        conn.sendall(response_head(200, len(body), "application/json") + body)


def read_request(conn: socket.socket) -> bytes:
    """The head of one HTTP/1.1 request; its body (by Content-Length) is read and dropped."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head


def response_head(status: int, length: int | None, content_type: str = "text/plain") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Connection: close"
    return f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode()


def answer(body: bytes, *, length: int | None = None, hang_up: bool = False) -> Behaviour:
    """Read one request, answer 200 with ``body`` announced as ``length`` (default: its own).

    ``hang_up``: close right after, instead of waiting for the client to close first.
    """

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        conn.sendall(response_head(200, len(body) if length is None else length, "application/json") + body)
        if not hang_up:
            drain(conn, stop)

    return behaviour


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept and never answer."""
    stop.wait()


def close_at_once(conn: socket.socket, stop: threading.Event) -> None:
    """Accept and close without a word."""


def garbage(conn: socket.socket, stop: threading.Event) -> None:
    """Answer whatever comes with bytes that are neither TLS nor HTTP, then drain.

    The blank line matters: without one h11 waits for the rest of a response head, and a
    close then reads as "Server disconnected" (closed), not as garbage.
    """
    conn.recv(65536)
    conn.sendall(b"SSH-2.0-NotTLS garbage \x00\xff\xfe\r\n\r\n")
    drain(conn, stop)


def endless_body(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 whose body (delimited by close) never ends, sent as fast as the client reads."""
    read_request(conn)
    conn.sendall(response_head(200, None))
    chunk = b"x" * 16384
    while not stop.is_set():
        conn.sendall(chunk)


def trickle_body(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 announcing a gigabyte, then one byte per poll: each read succeeds, none ends it."""
    read_request(conn)
    conn.sendall(response_head(200, 10**9))
    while not stop.wait(POLL):
        conn.sendall(b"y")


def trickle_headers(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header line per poll, forever."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(POLL):
        conn.sendall(b"X-Slow: y\r\n")


def header_flood(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then header lines as fast as the client takes them."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    line = b"X-Flood: " + b"f" * 1000 + b"\r\n"
    while not stop.is_set():
        conn.sendall(line * 16)


def drain(conn: socket.socket, stop: threading.Event) -> None:
    """Read until the client closes (closing first could turn our last bytes into an RST)."""
    deadline = time.monotonic() + 2
    while not stop.is_set() and time.monotonic() < deadline and conn.recv(65536):
        pass


def closed_port() -> int:
    """A port nothing listens on: bound, then closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
