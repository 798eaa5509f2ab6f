"""The fake EEC: the TLS client on the UE, talking HTTPS to a real ECS or EES.

It sends what a test tells it to and records what happened as evidence; it never judges
and never raises for anything the network or the target did. Only our own broken inputs
(an unreadable trust anchor, a client key that does not load) raise :class:`PeerError`::

    eec = FakeEEC(base_url="https://127.0.0.1:8443", server_name="ecs.example.test",
                  trust_anchor=Path("ca.pem"), credential=good_cert, evidence=log)
    exchange = eec.send("POST", "/eecs-serviceprovisioning/v1/request", json=body)
    exchange.tls.outcome, exchange.status          # -> established, 200
    eec.handshake().alert                          # a raw probe: TLSV1_ALERT_UNKNOWN_CA, ...

Every exchange is one fresh TLS connection, so its TLS facts are its own. Exchanges are
bounded in memory (``max_body_bytes``) and in time (``deadline``, enforced by a watchdog that
shuts the socket down, so a peer trickling bytes forever still ends). A ``FakeEEC`` is not
meant to be shared between threads: httpcore sets ALPN on the shared ``SSLContext`` per dial.
"""

from __future__ import annotations

import dataclasses
import json as jsonlib
import socket
import ssl
import threading
import time
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol

import httpcore
import httpx

from conformance.errors import PeerError
from conformance.evidence import (
    MAX_BODY_CHARS,
    CertSummary,
    ConnectionOutcome,
    EvidenceLog,
    HttpExchange,
    TlsFacts,
    redact_text,
    render_body,
)
from conformance.peers.deadline import Deadline
from conformance.peers.early_response import EARLY_NOTE, drain, parse_early, whole_response
from conformance.peers.h2_early_answer import H2EarlyAnswer
from conformance.peers.tls_outcome import FIRST_READ, HANDSHAKE, classify, session_facts

__all__ = ["ClientCredential", "ContextCache", "FakeEEC", "WireCounter"]

H2, HTTP11 = "h2", "http/1.1"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""The HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113 3.4): what the raw probe
sends when h2 was negotiated, so an h2-only server answers with its own SETTINGS."""
ALPN_BOTH = (H2, HTTP11)
MAX_BODY_BYTES = 1 << 20
PROBE_REPLY_BYTES = 64 * 1024
_NETWORK_ERRORS = (httpx.RequestError, OSError)
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_DEFAULT_HEADERS = {"accept-encoding": "identity", "user-agent": "ts33558-conformance-eec"}
"""``identity``: a compressed body could inflate past ``max_body_bytes`` inside one chunk."""


class WireCounter:
    """What the fake EECs of one run put on the wire: TCP connections attempted, requests sent.

    Run state, handed to every EEC of a run, so concurrent runs in one process never mix counts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections = 0
        self.requests = 0

    def connection(self) -> None:
        with self._lock:
            self.connections += 1

    def request(self) -> None:
        with self._lock:
            self.requests += 1


class ClientCredential(Protocol):
    """What the fake EEC needs from a client certificate (a ``pki.LeafCert`` is one)."""

    def configure_cert(self, ctx: ssl.SSLContext) -> None: ...

    def summary(self) -> CertSummary: ...


class FakeEEC:
    """An EEC identity pointed at one ECS or EES: one ``SSLContext``, many exchanges.

    The server is dialled at the host and port of ``base_url`` while SNI and certificate
    verification use ``server_name`` (the target's FQDN). Server verification is always on.
    ``credential=None`` presents no client certificate; ``tls_version`` pins both the minimum and
    the maximum version. ``alpn`` is what the EEC offers, and so which HTTP versions it can speak:
    a negative case and the positive control that brackets it offer the same. ``deadline``
    bounds a whole exchange (default ``3 * timeout``).
    """

    def __init__(
        self,
        *,
        base_url: str,
        server_name: str,
        trust_anchor: Path | bytes,
        credential: ClientCredential | None,
        evidence: EvidenceLog,
        timeout: float = 5.0,
        alpn: tuple[str, ...] = ALPN_BOTH,
        tls_version: ssl.TLSVersion | None = None,
        label: str = "",
        max_body_bytes: int = MAX_BODY_BYTES,
        deadline: float | None = None,
        counter: WireCounter | None = None,
        contexts: ContextCache | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme != "https" or not url.host:
            raise PeerError(f"base_url {base_url!r}: the EEC speaks HTTPS only, give https://host:port")
        self.base_url = base_url.rstrip("/")
        self.server_name = server_name
        self.evidence = evidence
        self.timeout = timeout
        if not alpn or not set(alpn) <= set(ALPN_BOTH):
            raise PeerError(f"alpn {alpn!r}: offer 'h2', 'http/1.1' or both")
        self.alpn = alpn
        self.label = label
        self.max_body_bytes = max_body_bytes
        self.deadline = 3 * timeout if deadline is None else deadline
        self.counter = counter or WireCounter()
        self._dial = (url.host, url.port or 443)
        self._context = (contexts or ContextCache()).get(trust_anchor, credential, tls_version)
        self.client_certificate = _credential_summary(credential)

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        label: str = "",
    ) -> HttpExchange:
        """Send one request on a fresh TLS connection; record and return the exchange.

        ``path`` is appended to ``base_url``; an absolute ``https://`` URL is used as is.
        The exchange always comes back: a refused handshake or a garbled response is in
        ``exchange.tls.outcome`` with ``exchange.status`` left ``None``.
        """
        started = time.monotonic()
        with Deadline(self.deadline) as deadline, self._client() as client:
            watch = _ConnectionWatch(self, deadline, method)
            request = self._request(
                client,
                method,
                path,
                watch,
                json=json,
                content=content,
                data=form,
                params=params,
                headers=headers,
            )
            self.counter.request()
            try:
                response = client.send(request, stream=True)
            except _NETWORK_ERRORS as exc:
                tls, reply = _failed(watch.facts, watch.late_alert or exc, deadline), _Reply()
                if early := _early_reply(request, watch, self.max_body_bytes):
                    tls, reply = dataclasses.replace(watch.facts, detail=EARLY_NOTE), early
            else:
                tls, reply = watch.facts, self._read(response, deadline)
        exchange = HttpExchange(
            label=self._label(label),
            method=request.method,
            url=redact_text(str(request.url)),
            request_headers=_redacted_headers(request.headers.multi_items()),
            request_body=render_body(request.content),
            tls=tls,
            elapsed_ms=_ms_since(started),
            **vars(reply),
        )
        self.evidence.add(exchange)
        return exchange

    def handshake(self, *, label: str = "") -> TlsFacts:
        """A raw TLS probe (no httpx): handshake offering this EEC's ALPN, send a minimal GET (or the
        HTTP/2 preface when h2 was negotiated), read the first bytes.

        ``ESTABLISHED`` means bytes came back. Under TLS 1.3 the server judges the client
        certificate after the client's handshake is done, so a refusal shows up as an alert
        at the first read (``phase="first-read"``); under TLS 1.2 in the handshake itself.
        Recorded as an exchange labelled "TLS handshake probe".
        """
        started = time.monotonic()
        facts = self._unconnected()
        reply, phase = b"", HANDSHAKE
        http11 = f"GET / HTTP/1.1\r\nHost: {self.server_name}\r\nConnection: close\r\n\r\n".encode()
        with Deadline(self.deadline) as deadline:
            self.counter.connection()
            try:
                with socket.create_connection(self._dial, timeout=self.timeout) as raw:
                    facts.address = _address(raw, facts.address)
                    deadline.watch(raw)
                    self._context.set_alpn_protocols(list(self.alpn))
                    with self._context.wrap_socket(raw, server_hostname=self.server_name) as tls_socket:
                        facts = self._session(tls_socket, address=facts.address)
                        phase = FIRST_READ
                        request = H2_PREFACE if tls_socket.selected_alpn_protocol() == H2 else http11
                        reply = _request_reply(tls_socket, request)
            except OSError as exc:
                facts = _failed(facts, exc, deadline, phase=phase)
            else:
                if not reply:
                    facts = _closed_silently(facts, deadline)
        self.evidence.add(
            HttpExchange(
                label=self._label(label or "TLS handshake probe"),
                method="GET",
                url=f"{self.base_url}/",
                request_headers={"host": self.server_name, "connection": "close"},
                request_body="",
                tls=facts,
                elapsed_ms=_ms_since(started),
                **vars(_status_line(reply)),
            )
        )
        return facts

    def _client(self) -> httpx.Client:
        # httpx offers exactly the ALPN of the versions it may speak: h2 only, http/1.1 only, or both.
        return httpx.Client(
            verify=self._context,  # never verify=<path> + cert=: httpx 0.28 then drops the cert
            http1=HTTP11 in self.alpn,
            http2=H2 in self.alpn,
            timeout=self.timeout,
            trust_env=False,
            headers=_DEFAULT_HEADERS,
        )

    def _request(
        self, client: httpx.Client, method: str, path: str, watch: _ConnectionWatch, **options: Any
    ) -> httpx.Request:
        url = self._url(path)
        extensions = {"sni_hostname": self.server_name, "trace": watch}
        try:
            return client.build_request(method, url, extensions=extensions, **options)
        except (TypeError, ValueError, httpx.InvalidURL) as exc:
            raise PeerError(f"cannot build the request {method} {url}: {exc}") from exc

    def _url(self, path: str) -> str:
        if path.startswith("https://"):
            return path
        if path.startswith("http://"):
            raise PeerError(f"{path}: the EEC speaks HTTPS only")
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def _read(self, response: httpx.Response, deadline: Deadline) -> _Reply:
        body, note = bytearray(), ""
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_body_bytes:
                    note = f"cut at max_body_bytes={self.max_body_bytes}"
                    break
                if deadline.passed:
                    note = f"cut at the {self.deadline:g} s deadline"
                    break
        except _NETWORK_ERRORS as exc:
            note = f"cut at the {self.deadline:g} s deadline" if deadline.expired else f"incomplete: {exc!r}"
        finally:
            with suppress(*_NETWORK_ERRORS):
                response.close()
        raw = bytes(body[: self.max_body_bytes])
        return _Reply(
            status=response.status_code,
            http_version=response.http_version,
            response_headers=_redacted_headers(response.headers.multi_items()),
            response_body=_render(raw) + (f"\n…[response body {note}]" if note else ""),
            response_json=None if note else _parse_json(raw),
        )

    def _unconnected(self) -> TlsFacts:
        """The facts before a connection: whom we dial, what we would present."""
        address = f"{self._dial[0]}:{self._dial[1]}"
        return TlsFacts(
            ConnectionOutcome.ESTABLISHED,
            self.server_name,
            address,
            client_certificate=self.client_certificate,
        )

    def _session(self, ssl_object: Any, *, address: str) -> TlsFacts:
        facts = session_facts(ssl_object, server_name=self.server_name, address=address)
        facts.client_certificate = self.client_certificate
        return facts

    def _label(self, label: str) -> str:
        return " / ".join(part for part in (self.label, label) if part)


@dataclasses.dataclass
class _Reply:
    """The response half of an :class:`HttpExchange` (empty: no response)."""

    status: int | None = None
    http_version: str | None = None
    response_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    response_body: str = ""
    response_json: Any = None


class _ConnectionWatch:
    """httpcore's public ``trace`` extension: count the dial, arm the deadline, read the session.

    The session is read the moment the handshake completes, so its facts survive a TLS 1.3
    refusal that only surfaces at the first read. And when a write fails on that session (the
    server refused our certificate and closed while httpcore's HTTP/2 client was still sending
    its preface), the alert the server sent is read before httpcore closes the socket: it is
    waiting in the receive buffer, and without this the refusal would look like a silent close.
    The same read keeps an HTTP/1.1 answer the server sent before our upload finished (a 413
    then a close): :mod:`~conformance.peers.early_response`. Over HTTP/2 such an answer comes as
    frames on our stream while httpcore waits for flow-control window; the reads are watched for it
    during the upload: :mod:`~conformance.peers.h2_early_answer`.
    """

    def __init__(self, eec: FakeEEC, deadline: Deadline, method: str = "GET") -> None:
        self._eec, self._deadline, self._method = eec, deadline, method
        self.facts = eec._unconnected()
        self.late_alert: ssl.SSLError | None = None
        self.early_bytes = b""
        """What the server had sent when our write failed: maybe an early answer (:func:`_early_reply`)."""
        self._ssl_object: Any = None
        self._tls_socket: Any = None
        self.h2_answer: H2EarlyAnswer | None = None
        """Over HTTP/2, what the server sent on our stream while the body was being uploaded."""
        self._uploading = False

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            self._eec.counter.connection()
        elif event == "connection.connect_tcp.complete":
            sock = info["return_value"].get_extra_info("socket")
            self.facts.address = _address(sock, self.facts.address)
            self._deadline.watch(sock)
        elif event == "connection.start_tls.complete":
            self._ssl_object = info["return_value"].get_extra_info("ssl_object")
            self._tls_socket = info["return_value"].get_extra_info("socket")
            self.facts = self._eec._session(self._ssl_object, address=self.facts.address)
            if self._ssl_object.selected_alpn_protocol() == H2:
                self._watch_reads(info["return_value"])
        elif event == "http2.send_request_headers.started":
            self.h2_answer = H2EarlyAnswer(stream_id=info["stream_id"], limit=self._eec.max_body_bytes)
        elif event == "http2.send_request_body.started":
            self._uploading = True
        elif event == "http2.send_request_body.complete":  # the whole request went out: httpcore reads the answer
            self._uploading, self.h2_answer = False, None
        elif self._ssl_object is not None and self.late_alert is None and _write_failed(event, info):
            method, limit = self._method, self._eec.max_body_bytes
            pending = drain(
                self._ssl_object,
                self._tls_socket,
                timeout=self._eec.timeout,
                limit=limit,
                until=lambda data: whole_response(data, method),
            )
            self.late_alert, self.early_bytes = pending.alert, pending.data

    def _watch_reads(self, stream: Any) -> None:
        """See what httpcore reads from an HTTP/2 connection while the body is being uploaded: once
        a complete answer has arrived, stop waiting for flow-control window (:mod:`.h2_early_answer`).
        ``read`` is the documented ``httpcore.NetworkStream`` method, wrapped on this stream only."""
        read = stream.read

        def read_watched(max_bytes: int, timeout: float | None = None) -> bytes:
            data: bytes = read(max_bytes, timeout)
            if self._uploading and self.h2_answer is not None:
                self.h2_answer.feed(data)
                if self.h2_answer.complete:
                    raise httpcore.ReadError(EARLY_NOTE)
            return data

        stream.read = read_watched


def _write_failed(event: str, info: dict[str, Any]) -> bool:
    exc = info.get("exception")
    return event.endswith(".failed") and isinstance(exc, httpx.WriteError | httpcore.WriteError | OSError)


def _early_reply(request: httpx.Request, watch: _ConnectionWatch, limit: int) -> _Reply | None:
    """The answer the server sent before our upload finished, or None: over HTTP/1.1 from the bytes
    waiting when our write failed (RFC 9112 9.6; only a complete status line and header section
    count, parsed by h11), over HTTP/2 from the frames on our stream (RFC 9113 8.1,
    :mod:`.h2_early_answer`). A body cut short is kept and marked."""
    answer, version = None, "HTTP/1.1"
    if watch.early_bytes:
        url = request.url
        target = url.raw_path.decode("ascii", "replace")
        answer = parse_early(watch.early_bytes, method=request.method, target=target, host=url.host, limit=limit)
    elif watch.h2_answer is not None:
        answer, version = watch.h2_answer.response(), "HTTP/2"
    if answer is None:
        return None
    suffix = "" if answer.complete else f"\n…[response body incomplete: {'; '.join(answer.problems) or 'cut short'}]"
    return _Reply(
        status=answer.status,
        http_version=version,
        response_headers=_redacted_headers(answer.headers),
        response_body=_render(answer.body) + suffix,
        response_json=_parse_json(answer.body) if answer.complete else None,
    )


class ContextCache:
    """Client TLS contexts by (trust anchor, credential, TLS version): building one costs ~1 ms
    (trust anchor and key loaded), and a run makes hundreds of EECs with a handful of identities.
    httpcore sets ALPN on the context at each dial, so an EEC's offer is still its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._contexts: dict[tuple[object, ...], ssl.SSLContext] = {}

    def get(
        self, trust_anchor: Path | bytes, credential: ClientCredential | None, tls_version: ssl.TLSVersion | None
    ) -> ssl.SSLContext:
        key = (trust_anchor, id(credential) if credential is not None else None, tls_version)
        with self._lock:
            if key not in self._contexts:
                self._contexts[key] = _client_context(trust_anchor, credential, tls_version)
                self._keep = [*getattr(self, "_keep", []), credential]  # id() stays unique while kept
            return self._contexts[key]


def _client_context(
    trust_anchor: Path | bytes, credential: ClientCredential | None, tls_version: ssl.TLSVersion | None
) -> ssl.SSLContext:
    """One context per EEC identity: building one costs ~2 ms, handshakes reuse it."""
    source = str(trust_anchor) if isinstance(trust_anchor, Path) else "<bytes>"
    try:
        data = trust_anchor.read_bytes() if isinstance(trust_anchor, Path) else trust_anchor
        context = ssl.create_default_context(cadata=data.decode("ascii") if b"-----BEGIN" in data else data)
    except (OSError, ValueError) as exc:
        raise PeerError(f"cannot use trust anchor {source}: {exc}") from exc
    if tls_version is not None:
        with warnings.catch_warnings():  # ssl.TLSVersion.TLSv1/TLSv1_1 are deprecated: offering them is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = tls_version
        if tls_version < ssl.TLSVersion.TLSv1_2:
            # OpenSSL 3 offers TLS 1.0/1.1 (and their CBC suites, SHA-1 signatures) only at level 0.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if credential is not None:
        try:
            credential.configure_cert(context)
        except (OSError, ValueError) as exc:
            raise PeerError(f"cannot load the client certificate: {exc}") from exc
    return context


def _credential_summary(credential: ClientCredential | None) -> CertSummary | None:
    if credential is None:
        return None
    try:
        return credential.summary()
    except (OSError, ValueError) as exc:
        raise PeerError(f"cannot read the client certificate: {exc}") from exc


def _failed(facts: TlsFacts, exc: BaseException, deadline: Deadline, *, phase: str | None = None) -> TlsFacts:
    outcome, alert, where, detail = classify(exc, phase=phase)
    if deadline.expired:  # our watchdog closed the socket; whatever broke next is its echo
        outcome, alert, where, detail = ConnectionOutcome.TIMEOUT, None, None, f"deadline exceeded: {detail}"
    return dataclasses.replace(facts, outcome=outcome, alert=alert, phase=where, detail=detail)


def _closed_silently(facts: TlsFacts, deadline: Deadline) -> TlsFacts:
    if deadline.expired:
        return dataclasses.replace(facts, outcome=ConnectionOutcome.TIMEOUT, detail="deadline exceeded")
    detail = "the server closed the connection without a response and without a TLS alert"
    return dataclasses.replace(facts, outcome=ConnectionOutcome.CLOSED_WITHOUT_ALERT, phase=FIRST_READ, detail=detail)


def _request_reply(tls_socket: ssl.SSLSocket, request: bytes) -> bytes:
    """Send the probe request, then read the first bytes of the reply."""
    try:
        tls_socket.sendall(request)
    except OSError:
        # Like httpcore's HTTP/1.1 client, read on: under TLS 1.3 a server refusing our
        # certificate may close before our request lands, and its alert is still to be read.
        reply = tls_socket.recv(PROBE_REPLY_BYTES)
        if not reply:
            raise
        return reply
    return tls_socket.recv(PROBE_REPLY_BYTES)


def _status_line(reply: bytes) -> _Reply:
    """The probe's reply as evidence: the status line if it is HTTP/1.x, and the bytes."""
    parts = reply.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return _Reply(response_body=_render(reply))
    return _Reply(status=int(parts[1]), http_version=parts[0].decode("ascii"), response_body=_render(reply))


def _redacted_headers(items: list[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in items:
        shown = _redact_header(name, value)
        headers[name] = f"{headers[name]}, {shown}" if name in headers else shown
    return headers


def _redact_header(name: str, value: str) -> str:
    if name.lower() not in _AUTH_HEADERS:
        return redact_text(value)
    scheme, _, credential = value.partition(" ")
    if not credential:
        scheme, credential = "", value
    shown = redact_text(credential)
    if shown == credential:  # not a JWT (Basic, an opaque token): show nothing of it
        shown = f"…[redacted {len(credential)} chars]"
    return f"{scheme} {shown}".strip()


def _render(raw: bytes) -> str:
    try:
        return render_body(raw)
    except RecursionError:  # absurdly nested JSON from the peer: fall back to text
        return redact_text(raw[:MAX_BODY_CHARS].decode("utf-8", errors="replace"))


def _parse_json(raw: bytes) -> Any:
    try:
        return jsonlib.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None


def _address(sock: socket.socket, dialled: str) -> str:
    """The address actually connected to (what the name resolved to), as ``host:port``."""
    try:
        host, port = sock.getpeername()[:2]
    except OSError:  # the peer already reset the connection; keep what we dialled
        return dialled
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
