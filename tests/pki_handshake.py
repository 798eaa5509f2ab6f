"""One real mutual-TLS handshake on 127.0.0.1, for the PKI and material self-tests.

The server is a plain threaded :mod:`ssl` server (OpenSSL does the verifying, as in a C
server); the verdict comes from the server side, which knows why it refused.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass

from conformance.peers.pki import LeafCert, TestCA

TIMEOUT = 5.0


@dataclass
class Handshake:
    """What both ends saw: the server's error (``None``: client accepted) and the reply."""

    server_error: BaseException | None
    client_error: BaseException | None
    reply: bytes

    @property
    def accepted(self) -> bool:
        return self.server_error is None and self.client_error is None and self.reply == b"ok"

    @property
    def verify_message(self) -> str:
        """OpenSSL's reason for refusing the client certificate, e.g. ``certificate has expired``."""
        error = self.server_error
        return error.verify_message if isinstance(error, ssl.SSLCertVerificationError) else ""


def server_context(trusted: TestCA, server_cert: LeafCert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.verify_mode = ssl.CERT_REQUIRED
    trusted.configure_trust(ctx)
    server_cert.configure_cert(ctx)
    return ctx


def client_context(server_ca: TestCA, client_cert: LeafCert | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    server_ca.configure_trust(ctx)
    if client_cert is not None:
        client_cert.configure_cert(ctx)
    return ctx


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, *, server_hostname: str = "localhost") -> Handshake:
    """Connect ``client`` to a one-shot server using ``server``, send a byte, read the reply."""
    errors: list[BaseException] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        thread = threading.Thread(target=_serve_once, args=(listener, server, errors), daemon=True)
        thread.start()
        client_error, reply = _talk(listener.getsockname(), client, server_hostname)
        thread.join(TIMEOUT)
    assert not thread.is_alive(), "the test server hung"
    return Handshake(errors[0] if errors else None, client_error, reply)


def _serve_once(listener: socket.socket, ctx: ssl.SSLContext, errors: list[BaseException]) -> None:
    try:
        conn, _ = listener.accept()
    except OSError as exc:
        errors.append(exc)
        return
    conn.settimeout(TIMEOUT)
    with ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False) as tls:
        try:
            tls.do_handshake()
            tls.recv(1)
            tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as exc:
            errors.append(exc)
            _linger(tls)


def _linger(tls: ssl.SSLSocket) -> None:
    # The alert is already sent, but closing with the client's last flight unread makes the
    # kernel send a RST, which can overtake the alert: drain until the client hangs up.
    try:
        socket.socket.shutdown(tls, socket.SHUT_WR)
        while socket.socket.recv(tls, 4096):
            pass
    except OSError:
        pass


def _talk(address: tuple[str, int], ctx: ssl.SSLContext, hostname: str) -> tuple[BaseException | None, bytes]:
    # TLS 1.3 finishes the client's handshake before the server has checked the client
    # certificate: the refusal shows up only at the first read.
    try:
        with (
            socket.create_connection(address, timeout=TIMEOUT) as raw,
            ctx.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            tls.sendall(b"x")
            return None, tls.recv(2)
    except (OSError, ssl.SSLError) as exc:
        return exc, b""
