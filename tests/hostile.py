"""Hostile targets: loopback servers that misbehave in every way a real ECS or EES might.

Each is a :class:`loopback.LoopbackServer` behaviour (one thread per connection, all joined on
close) plus :class:`HostileSite`, which writes what a run against it needs: a server CA and
leaf, harness material the server may trust, and a target declaration (``timeout = 1``,
HTTP/1.1 only: the servers below speak HTTP/1.1 by hand)::

    with HostileSite.open(tmp_path, keys, refuse_everything, role="ees") as site:
        run = conformance("run", "--target", site.target_file, out=tmp_path / "out")
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loopback import POLL, Behaviour, LoopbackServer, drain, read_request

from conformance.peers.material import HarnessMaterial
from conformance.peers.pki import TestCA
from conformance.reference.tls import NO_CHECK_TIME, ServerTls, server_context

FQDN = {"ecs": "ecs.hostile.test", "ees": "ees.hostile.test"}
ISSUER = "ecs.hostile.test"
MIB = 1 << 20
HANDSHAKE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Keys:
    """Made once per test session: the harness material and a server CA with one leaf per role."""

    material: HarnessMaterial
    server_ca: TestCA
    leaves: dict[str, tuple[bytes, bytes]]

    @classmethod
    def create(cls) -> Keys:
        ca = TestCA.create(common_name="Hostile Server Test CA")
        leaves = {}
        for role, fqdn in FQDN.items():
            leaf = ca.issue_server_cert(fqdn, "127.0.0.1")
            leaves[role] = (b"".join(p.bytes() for p in leaf.cert_chain_pems), leaf.private_key_pem.bytes())
        return cls(HarnessMaterial.create(), ca, leaves)

    def context(self, role: str, *, accept_any_client: bool = False) -> ssl.SSLContext:
        """The server's TLS: mutual TLS requiring a harness certificate, or (``accept_any_client``)
        asking for one but taking none, any of the harness's CAs, and expired ones too."""
        chain, key = self.leaves[role]
        cas = [self.material.ca.cert_pem.bytes()]
        if accept_any_client:
            cas += [self.material.rogue_ca.cert_pem.bytes(), self.material.stranger_ca.cert_pem.bytes()]
        context = server_context(
            ServerTls(chain, key, cas, client_auth="optional" if accept_any_client else "required")
        )
        if accept_any_client:
            context.verify_flags |= NO_CHECK_TIME
        context.set_alpn_protocols(["http/1.1"])
        return context


@dataclass
class HostileSite:
    """A running hostile server and the declaration that points the harness at it."""

    server: LoopbackServer
    target_file: Path

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        directory: Path,
        keys: Keys,
        behaviour: Behaviour,
        *,
        role: str = "ees",
        tls: bool = True,
        accept_any_client: bool = False,
    ) -> Iterator[HostileSite]:
        directory.mkdir(parents=True, exist_ok=True)
        keys.material.save(directory / "harness-material")
        (directory / "server-ca.pem").write_bytes(keys.server_ca.cert_pem.bytes())
        context = keys.context(role, accept_any_client=accept_any_client) if tls else None
        server = LoopbackServer(behaviour, tls=context)
        try:
            path = directory / f"hostile-{role}.toml"
            path.write_text(declaration(role, server.port), "utf-8")
            yield cls(server, path)
        finally:
            server.close()


def declaration(role: str, port: int) -> str:
    eecs = "".join(
        f'[[eec]]\nrole = "{r}"\neec_id = "eec-000{n}"\ngpsi = "msisdn-49170000000{n}"\n\n'
        for n, r in enumerate(("authorized", "unauthorized", "second"), start=1)
    )
    head = f"""[target]
name = "hostile-{role}"
role = "{role}"
base_url = "https://127.0.0.1:{port}"
fqdn = "{FQDN[role]}"
trust_anchor = "server-ca.pem"
client_auth = "mutual-certificate"
timeout = 1.0
http_versions = ["1.1"]

[harness]
material = "harness-material"
client_certs = "harness"

{eecs}"""
    if role == "ees":
        return (
            head
            + f"""[ees]
authorization = "token"
service_names = ["eees-eecregistration"]

[ees.token_issuer]
source = "harness"
issuer = "{ISSUER}"
algorithm = "ES256"
lifetime = 300
"""
        )
    return (
        head
        + """[ecs]
max_token_lifetime = 3600

[ecs.token_delivery]
binding = "response"
member = "accessToken"

[ecs.token_keys]
jwks_file = "harness-material/issuer.jwks.json"

[[ecs.candidate_ees]]
ees_id = "ees-1"
fqdn = "ees1.hostile.test"
service_names = ["eees-eecregistration"]
authorization = "token"
"""
    )


# HTTP/1.1 by hand -----------------------------------------------------------------------------


def head(status: int, length: int | None, content_type: str = "application/json", extra: str = "") -> bytes:
    framing = f"Content-Length: {length}\r\n" if length is not None else ""
    return f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n{framing}{extra}Connection: close\r\n\r\n".encode()


def respond(
    status: int, body: bytes, content_type: str = "application/json", *, length: int | None = None
) -> Behaviour:
    """Read one request, answer ``status`` with ``body`` (announced as ``length``), then drain."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        conn.sendall(head(status, len(body) if length is None else length, content_type) + body)
        drain(conn, stop)

    return behaviour


REGISTRATION = json.dumps({"eecRegId": "reg-1", "expTime": "2099-01-01T00:00:00Z"}).encode()
PROBLEM_500 = json.dumps({"status": 500, "title": "Internal Server Error"}).encode()
PROBLEM_403 = json.dumps({"status": 403, "title": "Forbidden", "cause": "REFUSED"}).encode()


def provisioning(token: str) -> bytes:
    """An ECSServProvResp with one EES whose ``accessToken`` is ``token``."""
    ees = {"eesId": "ees-1", "eecRegConf": True, "endPt": {"uri": "https://ees1.hostile.test"}, "accessToken": token}
    return json.dumps({"ednCnfgInfo": [{"ednConInfo": {"dnn": "internet"}, "eess": [ees]}]}).encode()


def accept_everything(role: str) -> Behaviour:
    """200 (ECS) or 201 (EES) with a plausible body, to any request, token or certificate or not."""
    if role == "ecs":
        return respond(200, provisioning("not.a-jws"))
    return respond(201, REGISTRATION)


refuse_everything = respond(403, PROBLEM_403, "application/problem+json")
server_error = respond(500, PROBLEM_500, "application/problem+json")
invalid_json = respond(201, b'{"eecRegId": "reg-1", "expTime": ')
huge_body = respond(201, b" " * (8 * MIB))
"""8 MiB of whitespace: valid JSON framing would need the whole of it; the EEC stops at 1 MiB."""
huge_token = respond(200, provisioning("A" * MIB))
garbage_token = respond(200, provisioning("\x00garbage\u202e not a token"))


def silent(conn: socket.socket, stop: threading.Event) -> None:
    """Accept TCP and never say a word (use with ``tls=False``)."""
    stop.wait()


def stall_mid_handshake(conn: socket.socket, stop: threading.Event) -> None:
    """Read the ClientHello, then nothing (use with ``tls=False``)."""
    conn.recv(65536)
    stop.wait()


def plain_http(conn: socket.socket, stop: threading.Event) -> None:
    """Answer the ClientHello with an HTTP/1.1 400, as a server without TLS on that port would."""
    conn.recv(65536)
    body = b"This port speaks plain HTTP"
    conn.sendall(head(400, len(body), "text/plain") + body)


def garbage(conn: socket.socket, stop: threading.Event) -> None:
    """Answer the ClientHello with seeded random bytes."""
    conn.recv(65536)
    conn.sendall(random.Random(7).randbytes(4096))
    drain(conn, stop)


def byte_by_byte(conn: socket.socket, stop: threading.Event) -> None:
    """Slowloris: the right response, one byte per poll, so every read succeeds and none ends it."""
    read_request(conn)
    for byte in head(201, len(REGISTRATION)) + REGISTRATION:
        if stop.wait(POLL):
            return
        conn.sendall(bytes([byte]))


def endless_body(conn: socket.socket, stop: threading.Event) -> None:
    """A 201 whose body (delimited by close) never ends, as fast as the client reads."""
    read_request(conn)
    conn.sendall(head(201, None))
    chunk = b"[" * 16384
    while not stop.is_set():
        conn.sendall(chunk)


def random_close(seed: int) -> Behaviour:
    """Seeded: each connection is closed at once, after the request, or answered properly."""
    rng, lock = random.Random(seed), threading.Lock()

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        with lock:
            choice = rng.random()
        if choice < 0.25:
            return
        read_request(conn)
        if choice < 0.5:
            return
        conn.sendall(head(201, len(REGISTRATION)) + REGISTRATION)
        drain(conn, stop)

    return behaviour
