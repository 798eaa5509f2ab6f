"""A crafted ECS that speaks PSK-based TLS 1.3 on loopback, for the PSK peer's and ECS-TLS-07's tests.

:class:`PskServer` is a :class:`~loopback.LoopbackServer` whose behaviour is a tlslite-ng server
handshake keyed by one external PSK (``identity``, ``key``, ``hash_name``), then one HTTP/1.1
request answered with ``status`` and a small ECSServProvResp. With ``certificate=True`` it also
holds a server certificate (a throwaway trustme one), so a client whose PSK it does not know is
authenticated with that instead: the server that ignores a PSK. ``handshakes`` records how each
connection's handshake ended ("psk", "certificate" or the error tlslite-ng raised), ``bodies``
the request bodies it read. Every socket operation has a 2 s timeout; ``close`` joins all threads.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import trustme
from loopback import LoopbackServer, read_request, response_head
from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
from tlslite.errors import BaseTLSException

IDENTITY = "akma-kid-0001@ecs.crafted.test"
KEY = bytes(range(1, 33))
"""A 32-byte PSK, as K_AF is (TS 33.535)."""
RESPONSE: dict[str, Any] = {"ednCnfgInfo": [{"eess": [{"eesId": "ees-1", "endPt": {"uri": "https://ees.test"}}]}]}


class PskServer(LoopbackServer):
    def __init__(
        self,
        identity: str = IDENTITY,
        key: bytes = KEY,
        *,
        hash_name: str = "sha256",
        status: int = 200,
        certificate: bool = False,
    ) -> None:
        self.psk = (bytearray(identity.encode()), bytearray(key), hash_name)
        self.status = status
        self.handshakes: list[str] = []
        self.bodies: list[Any] = []
        self._lock = threading.Lock()
        self._cert: tuple[Any, Any] | None = None
        if certificate:
            leaf = trustme.CA().issue_cert("ecs.crafted.test")
            chain = X509CertChain()
            chain.parsePemList(leaf.cert_chain_pems[0].bytes().decode())
            self._cert = (chain, parsePEMKey(leaf.private_key_pem.bytes().decode(), private=True))
        super().__init__(self._serve_psk)

    def __enter__(self) -> PskServer:
        return self

    def _record(self, what: str) -> None:
        with self._lock:
            self.handshakes.append(what)

    def _serve_psk(self, conn: socket.socket, stop: threading.Event) -> None:
        settings = HandshakeSettings()
        settings.minVersion = (3, 4)
        settings.pskConfigs = [self.psk]
        tls = TLSConnection(conn)
        chain, key = self._cert or (None, None)
        try:
            tls.handshakeServer(settings=settings, certChain=chain, privateKey=key, alpn=[bytearray(b"http/1.1")])
        except (BaseTLSException, OSError) as exc:  # tlslite-ng has sent its alert, if any
            self._record(f"{type(exc).__name__}: {exc}")
            return
        self._record("certificate" if tls.session.serverCertChain else "psk")
        try:
            head, body = _read_request_and_body(tls)
            self.seen.append(head)
            self.bodies.append(json.loads(body) if body else None)
            answer = json.dumps(RESPONSE).encode()
            tls.sendall(response_head(self.status, len(answer), "application/json") + answer)
            tls.close()
        except (BaseTLSException, OSError, ValueError):
            pass  # the client went away


def _read_request_and_body(tls: Any) -> tuple[bytes, bytes]:
    """``loopback.read_request`` drops the body; this keeps it (the JSON the PSK peer sent)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = bytes(tls.recv(65536))
        if not chunk:
            return data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        body += bytes(tls.recv(65536))
    return head, body


__all__ = ["IDENTITY", "KEY", "RESPONSE", "PskServer", "read_request"]
