"""Peers written for the test: small loopback ECSes and EESes the harness has never seen.

Issue "Verdicts that hold on servers we did not write" (Proof): the verdict engine's rules are
proved against servers that are not the reference, each a few lines, each with its own target
declaration. What is here:

* :class:`Provisioning`: the harness material the servers trust (its ``ca`` for client
  certificates, its issuer key for tokens), a server CA and server certificates, and
  :meth:`Provisioning.declare` writing a target TOML for a server;
* ASGI apps and wrappers: :func:`accept_everything`, :class:`ChallengeRewriter`,
  :class:`LockingOut`, each small enough to read at a glance;
* :class:`H2OrDrop`: a standard-library TLS server (threads, :mod:`ssl`, the ``h2`` state
  machine) that speaks HTTP/2 to anyone and drops every other connection.

Servers on the reference's stack run with :class:`~conformance.reference.server.ReferenceServer`
and a :class:`~conformance.reference.tls.ServerTls` whose ALPN and client authentication the
test chooses.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, DataReceived, RequestReceived, StreamEnded
from loopback import LoopbackServer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.peers.material import HarnessMaterial
from conformance.peers.pki import TestCA
from conformance.reference.tls import ClientAuth, ServerTls, server_context
from conformance.targets.model import (
    CandidateEes,
    EecIdentity,
    HttpVersion,
    TargetConfig,
    TokenDelivery,
    TokenKeys,
    TrustedIssuer,
)
from conformance.targets.toml_format import dump_target

ECS_FQDN = "ecs.crafted.test"
EES_FQDN = "ees.crafted.test"
SERVICES = ("eees-eecregistration",)
EECS = (
    EecIdentity("authorized", "eec-0101", "msisdn-491710000001"),
    EecIdentity("unauthorized", "eec-0102", "msisdn-491710000002"),
    EecIdentity("second", "eec-0103", "msisdn-491710000003"),
)


@dataclass
class Provisioning:
    """What a crafted server is provisioned with, in ``directory`` (as a vendor would do it)."""

    directory: Path
    material: HarnessMaterial
    server_ca: TestCA

    @classmethod
    def create(cls, directory: Path) -> Provisioning:
        directory.mkdir(parents=True, exist_ok=True)
        material = HarnessMaterial.create()
        material.save(directory / "harness-material")
        server_ca = TestCA.create(common_name="Crafted Server Test CA")
        server_ca.cert_pem.write_to_path(str(directory / "server-ca.pem"))
        (directory / "issuer.jwks.json").write_text(json.dumps(material.public_jwks()), "utf-8")
        return cls(directory, material, server_ca)

    def server_tls(
        self,
        fqdn: str,
        *more_names: str,
        alpn: Sequence[str] = ("h2", "http/1.1"),
        client_auth: ClientAuth = "required",
    ) -> ServerTls:
        """A server identity for ``fqdn``, ``more_names`` and 127.0.0.1, trusting the harness CA for EECs."""
        leaf = self.server_ca.issue_server_cert(fqdn, *more_names, "127.0.0.1")
        return ServerTls(
            cert_chain_pem=b"".join(pem.bytes() for pem in leaf.cert_chain_pems),
            key_pem=leaf.private_key_pem.bytes(),
            client_cas_pem=[self.material.ca.cert_pem.bytes()],
            client_auth=client_auth,
            alpn=tuple(alpn),
        )

    def server_context(self, fqdn: str, **kwargs: Any) -> ssl.SSLContext:
        """The same identity as an :class:`ssl.SSLContext`, for standard-library servers."""
        return server_context(self.server_tls(fqdn, **kwargs))

    def declare(
        self,
        name: str,
        role: str,
        base_url: str,
        *,
        http_versions: tuple[HttpVersion, ...] = ("2", "1.1"),
        client_auth: str = "mutual-certificate",
        authorization: str | None = "token",
        eecs: tuple[EecIdentity, ...] = EECS,
    ) -> Path:
        """Write the target declaration of a crafted server; an EES trusts the harness issuer for ``ECS_FQDN``."""
        common: dict[str, Any] = dict(
            file=self.directory / f"{name}.toml",
            name=name,
            base_url=base_url,
            trust_anchor=self.directory / "server-ca.pem",
            client_auth=client_auth,
            eecs=eecs,
            harness_material=self.directory / "harness-material",
            timeout=3.0,
            http_versions=http_versions,
        )
        if role == "ees":
            target = TargetConfig(
                role="ees",
                fqdn=EES_FQDN,
                authorization=authorization,  # type: ignore[arg-type]
                service_names=SERVICES,
                trusted_issuer=TrustedIssuer(source="harness", issuer=ECS_FQDN) if authorization == "token" else None,
                **common,
            )
        else:
            target = TargetConfig(
                role="ecs",
                fqdn=ECS_FQDN,
                candidate_ees=(CandidateEes("ees-1", EES_FQDN, SERVICES, "token"),),
                token_delivery=TokenDelivery(binding="response", member="accessToken"),
                token_keys=TokenKeys(jwks_file=self.directory / "issuer.jwks.json"),
                max_token_lifetime=600,
                **common,
            )
        target.file.write_text(dump_target(target), "utf-8")
        return target.file


# --- ASGI apps -----------------------------------------------------------------------------


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def _respond(send: Send, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass
class AcceptEverything:
    """Serves any request: 201 echoing the body for an EEC registration, 200 echoing it otherwise."""

    requests: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        body = await _read_body(receive)
        status = 201 if scope["path"].endswith("/registrations") else 200
        await _respond(send, status, body or b"{}")


@dataclass
class ChallengeRewriter:
    """``app`` with the ``WWW-Authenticate`` of its 401 responses replaced by ``challenge``."""

    app: ASGIApp
    challenge: str

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def rewriting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"www-authenticate"]
                message = {**message, "headers": [*headers, (b"www-authenticate", self.challenge.encode())]}
            await send(message)

        await self.app(scope, receive, rewriting)


@dataclass
class LockingOut:
    """Serves the first ``serve`` HTTP requests with ``app``, then refuses every request (403)."""

    app: ASGIApp
    serve: int
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.requests += 1
            locked = self.requests > self.serve
        if not locked:
            await self.app(scope, receive, send)
            return
        await _read_body(receive)
        problem = {"title": "Locked out", "status": 403, "detail": "too many requests: everyone is locked out"}
        await _respond(send, 403, json.dumps(problem).encode(), b"application/problem+json")


# --- a standard-library HTTP/2 server ----------------------------------------------------------


class H2OrDrop:
    """A TLS server on 127.0.0.1 that answers every HTTP/2 request 201 (echoing its body), asks for
    no client certificate, and closes any connection that did not negotiate ``h2`` right after the
    handshake, without a word."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.dropped = 0
        self.served = 0
        self._server = LoopbackServer(self._connection, tls=context)

    @property
    def base_url(self) -> str:
        return self._server.url

    def close(self) -> None:
        self._server.close()

    def _connection(self, conn: socket.socket, stop: threading.Event) -> None:
        if not isinstance(conn, ssl.SSLSocket) or conn.selected_alpn_protocol() != "h2":
            self.dropped += 1
            return  # LoopbackServer closes the socket
        h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        h2.initiate_connection()
        conn.sendall(h2.data_to_send())
        bodies: dict[int, bytes] = {}
        while not stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            for event in h2.receive_data(data):
                if isinstance(event, RequestReceived):
                    bodies[event.stream_id] = b""
                elif isinstance(event, DataReceived):
                    bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                    h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, StreamEnded):
                    body = bodies.pop(event.stream_id, b"") or b"{}"
                    headers = [
                        (":status", "201"),
                        ("content-type", "application/json"),
                        ("content-length", str(len(body))),
                    ]
                    h2.send_headers(event.stream_id, headers)
                    h2.send_data(event.stream_id, body, end_stream=True)
                    self.served += 1
                elif isinstance(event, ConnectionTerminated):
                    conn.sendall(h2.data_to_send())
                    return
            conn.sendall(h2.data_to_send())
