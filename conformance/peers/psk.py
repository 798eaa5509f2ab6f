"""The PSK peer: an EEC that authenticates in TLS with an external pre-shared key (TS 33.558 6.2).

AKMA gives the EEC and the ECS a shared K_AF (TS 33.535), GBA a Ks_(ext)_NAF (TS 33.220); either
can key PSK-based TLS instead of certificates. Python's ``ssl`` has no external-PSK API before
3.13, so this peer speaks TLS 1.3 through tlslite-ng (pure Python, the TLS stack behind
tlsfuzzer), offering one external PSK (RFC 8446 4.2.11) and ALPN ``http/1.1``::

    peer = PskPeer(host="127.0.0.1", port=8443, server_name="ecs.example.test",
                   identity="akma-kid@ecs.example.test", key=k_af, evidence=log)
    attempt = peer.post("/eecs-serviceprovisioning/v1/request", body)
    attempt.psk_used, attempt.exchange.status        # -> True, 200
    attempt.exchange.tls.alert                        # with a wrong key: "decrypt_error", ...

Like the fake EEC it records and never judges, and never raises for what the network or the
target did. Every socket operation has ``timeout``, the whole attempt a deadline, and the
response is read through h11 up to ``max_body_bytes``. The key never enters the evidence.

Whether the server took the PSK is read off the handshake: in TLS 1.3 a server that accepts a
PSK authenticates with it and sends no Certificate (RFC 8446 2.2, 4.4.2), and this client has
no ticket to resume, so a handshake without a server certificate is one keyed by our PSK. A
server that ignores the PSK and authenticates with a certificate instead is recorded as such,
and no request is sent to it: tlslite-ng does not verify certificates, so it would be a server
nobody authenticated.
"""

from __future__ import annotations

import json
import socket
import time
import warnings
from dataclasses import dataclass
from typing import Any, Final, Literal

import h11

with warnings.catch_warnings():  # tlslite-ng's __init__ imports its asyncore integration, deprecated in 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import tlslite
from tlslite.constants import AlertDescription, CipherSuite, GroupName
from tlslite.errors import BaseTLSException, TLSAbruptCloseError, TLSLocalAlert, TLSRemoteAlert

from conformance.evidence import ConnectionOutcome, EvidenceLog, HttpExchange, TlsFacts, render_body
from conformance.peers.deadline import Deadline
from conformance.peers.eec import MAX_BODY_BYTES, WireCounter

__all__ = ["PskAttempt", "PskPeer", "wrong_key"]

HTTP11: Final = "http/1.1"
_TLS_VERSIONS: Final = {(3, 4): "TLSv1.3", (3, 3): "TLSv1.2"}
_READ_CHUNK: Final = 16384
_USER_AGENT: Final = "ts33558-conformance-eec-psk"
_TLS_FAILURES: Final = (BaseTLSException, OSError, ValueError, SyntaxError, AssertionError, IndexError)
"""What tlslite-ng raises on a server's alert, close or garbage: its own tree and the socket's,
plus what its pure-Python parsers raise on malformed messages (a hostile target must be recorded,
not crash the harness)."""


def wrong_key(key: bytes) -> bytes:
    """The declared key with every bit flipped: same length, certainly not the key."""
    return bytes(b ^ 0xFF for b in key)


@dataclass
class PskAttempt:
    """One PSK connection attempt: the exchange as evidence, and what the handshake said."""

    exchange: HttpExchange
    psk_used: bool = False
    """The server completed the handshake keyed by our PSK (it sent no certificate)."""
    key_exchange: str | None = None
    """``psk_dhe_ke (<group>)`` or ``psk_ke`` (RFC 8446 4.2.9) when the PSK was used."""

    @property
    def connected(self) -> bool:
        """The handshake completed (with the PSK or otherwise)."""
        return self.exchange.tls.version is not None

    def summary(self) -> str:
        """One line: how the handshake ended, then the HTTP status if there was one."""
        tls = self.exchange.tls
        if not self.connected:
            return f"{tls.outcome}" + (f", alert {tls.alert}" if tls.alert else "") + f" ({tls.detail})"
        how = f"PSK {self.key_exchange}" if self.psk_used else "without the PSK (certificate)"
        status = f"HTTP {self.exchange.status}" if self.exchange.answered else f"no HTTP response ({tls.detail})"
        return f"{tls.version} {tls.cipher}, {how}: {status}"


class PskPeer:
    """An EEC holding one external PSK, pointed at one listener: one fresh connection per attempt.

    ``identity`` is sent in clear in the ClientHello; ``key`` and ``hash_name`` (``sha256`` or
    ``sha384``, the hash the PSK is bound to) stay here. ``label`` names the key in the evidence
    ("declared key", "wrong key").
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        server_name: str,
        identity: str,
        key: bytes,
        evidence: EvidenceLog,
        hash_name: Literal["sha256", "sha384"] = "sha256",
        timeout: float = 5.0,
        label: str = "PSK",
        max_body_bytes: int = MAX_BODY_BYTES,
        counter: WireCounter | None = None,
    ) -> None:
        self.host, self.port, self.server_name = host, port, server_name
        self.identity, self._key, self.hash_name = identity, key, hash_name
        self.evidence, self.timeout, self.label = evidence, timeout, label
        self.max_body_bytes = max_body_bytes
        self.counter = counter or WireCounter()

    def _settings(self) -> Any:
        settings = tlslite.HandshakeSettings()
        settings.minVersion = settings.maxVersion = (3, 4)
        settings.pskConfigs = [(bytearray(self.identity.encode()), bytearray(self._key), self.hash_name)]
        return settings

    def post(self, path: str, body: dict[str, Any], *, label: str = "") -> PskAttempt:
        """POST ``body`` as JSON to ``path`` over one PSK-keyed TLS 1.3 connection, recorded."""
        content = json.dumps(body).encode()
        url = f"https://{self.server_name}:{self.port}{path}"
        headers = {
            "host": self.server_name if self.port == 443 else f"{self.server_name}:{self.port}",
            "user-agent": _USER_AGENT,
            "accept": "application/json",
            "content-type": "application/json",
            "content-length": str(len(content)),
            "connection": "close",
        }
        facts = TlsFacts(ConnectionOutcome.TIMEOUT, server_name=self.server_name, address=f"{self.host}:{self.port}")
        exchange = HttpExchange(
            label=f"{label or 'request'} ({self.label}, identity {self.identity!r})",
            method="POST",
            url=url,
            request_headers=headers,
            request_body=render_body(content),
            tls=facts,
        )
        attempt = PskAttempt(exchange)
        started = time.monotonic()
        try:
            self._run(attempt, path, headers, content)
        finally:
            exchange.elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            self.evidence.add(exchange)
        return attempt

    def _run(self, attempt: PskAttempt, path: str, headers: dict[str, str], content: bytes) -> None:
        tls = attempt.exchange.tls
        self.counter.connection()
        with Deadline(3 * self.timeout) as deadline:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            except OSError as exc:
                _record_socket_error(tls, exc, "connect")
                return
            deadline.watch(sock)
            sock.settimeout(self.timeout)
            connection = tlslite.TLSConnection(sock)
            try:
                if not self._handshake(connection, attempt):
                    return
                self._exchange(connection, attempt, path, headers, content)
            finally:
                if deadline.expired:
                    tls.outcome, tls.detail = ConnectionOutcome.TIMEOUT, f"deadline of {3 * self.timeout:g} s reached"
                sock.close()

    def _handshake(self, connection: Any, attempt: PskAttempt) -> bool:
        """The TLS 1.3 handshake; False (the outcome recorded) when it did not complete with our PSK."""
        tls = attempt.exchange.tls
        try:
            connection.handshakeClientCert(
                settings=self._settings(), serverName=self.server_name, alpn=[bytearray(HTTP11.encode())]
            )
        except _TLS_FAILURES as exc:
            _record_tls_error(tls, exc, "handshake")
            return False
        session = connection.session
        tls.version = _TLS_VERSIONS.get(tuple(connection.version), str(connection.version))
        tls.cipher = CipherSuite.ietfNames.get(session.cipherSuite, hex(session.cipherSuite))
        tls.alpn = bytes(session.appProto).decode("ascii", "replace") if session.appProto else None
        attempt.psk_used = session.serverCertChain is None
        if not attempt.psk_used:
            tls.outcome = ConnectionOutcome.SERVER_CERT_REJECTED
            tls.detail = (
                "the server ignored the PSK and authenticated with a certificate, which the PSK peer does not "
                "accept in its place (nor verify); no request sent"
            )
            return False
        group = connection.ecdhCurve
        attempt.key_exchange = "psk_ke" if group is None else f"psk_dhe_ke ({GroupName.toStr(group)})"
        tls.detail = f"PSK identity {self.identity!r} accepted, {attempt.key_exchange}"
        return True

    def _exchange(
        self, connection: Any, attempt: PskAttempt, path: str, headers: dict[str, str], content: bytes
    ) -> None:
        """Send the request and read the answer with h11, bounded in size."""
        exchange, tls = attempt.exchange, attempt.exchange.tls
        client = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        request = h11.Request(method="POST", target=path, headers=list(headers.items()))
        try:
            connection.sendall(
                client.send(request) + client.send(h11.Data(data=content)) + client.send(h11.EndOfMessage())
            )
            self.counter.request()
            body = self._read_response(connection, client, exchange)
        except h11.RemoteProtocolError as exc:
            tls.outcome, tls.detail = ConnectionOutcome.PROTOCOL_ERROR, f"not valid HTTP/1.1: {exc}"
            return
        except _TLS_FAILURES as exc:
            _record_tls_error(tls, exc, "first-read")
            return
        if exchange.answered:
            tls.outcome = ConnectionOutcome.ESTABLISHED
            exchange.response_body = render_body(body)
            exchange.response_json = _json(body)
        else:
            tls.outcome = ConnectionOutcome.CLOSED_WITHOUT_ALERT
            tls.detail += "; the server closed the connection without an HTTP response"

    def _read_response(self, connection: Any, client: h11.Connection, exchange: HttpExchange) -> bytes:
        body = bytearray()
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                data = bytes(connection.read(max=_READ_CHUNK))
                client.receive_data(data)  # b"" tells h11 the server closed
            elif isinstance(event, h11.Response):
                exchange.status, exchange.http_version = event.status_code, event.http_version.decode()
                exchange.response_headers = {k.decode(): v.decode("latin-1") for k, v in event.headers}
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body_bytes:
                    exchange.tls.detail += f"; response body cut at {self.max_body_bytes} bytes"
                    return bytes(body[: self.max_body_bytes])
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return bytes(body)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _record_tls_error(tls: TlsFacts, exc: BaseException, phase: str) -> None:
    """What a tlslite-ng or socket error says about how the server ended the attempt."""
    if isinstance(exc, TLSRemoteAlert):
        tls.outcome, tls.phase = ConnectionOutcome.REFUSED_WITH_ALERT, phase
        tls.alert = str(AlertDescription.toStr(exc.description))
        tls.detail = f"the server sent a fatal {tls.alert} alert"
    elif isinstance(exc, TLSAbruptCloseError):
        tls.outcome, tls.phase = ConnectionOutcome.CLOSED_WITHOUT_ALERT, phase
        tls.detail = "the server closed the connection without an alert"
    elif isinstance(exc, TLSLocalAlert):  # we found the server's messages wrong, e.g. its Finished
        tls.outcome, tls.phase = ConnectionOutcome.PROTOCOL_ERROR, phase
        tls.detail = f"the harness aborted with {exc}"
    elif isinstance(exc, OSError):
        _record_socket_error(tls, exc, phase)
    else:
        tls.outcome, tls.phase = ConnectionOutcome.PROTOCOL_ERROR, phase
        tls.detail = f"{type(exc).__name__}: {exc}"


def _record_socket_error(tls: TlsFacts, exc: OSError, phase: str) -> None:
    if isinstance(exc, TimeoutError | socket.timeout):
        tls.outcome, tls.detail = ConnectionOutcome.TIMEOUT, f"no answer within the timeout ({phase})"
    elif isinstance(exc, ConnectionRefusedError):
        tls.outcome, tls.detail = ConnectionOutcome.CONNECTION_REFUSED, "nothing listens at the address"
    else:
        tls.outcome, tls.detail = ConnectionOutcome.CLOSED_WITHOUT_ALERT, f"{type(exc).__name__}: {exc} ({phase})"
    if phase != "connect":
        tls.phase = phase
