"""ReferenceServer over real mutual TLS on 127.0.0.1: what the client sees, what the app sees."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from conformance.errors import HarnessError
from conformance.reference.policy import MAX_BODY_BYTES, read_body
from conformance.reference.problems import Refusal
from conformance.reference.server import ReferenceServer, ServerTls
from conformance.reference.tls import NO_CHECK_TIME, server_context

TIMEOUT = 5.0


@dataclass
class Pki:
    server_ca: trustme.CA
    client_ca: trustme.CA
    other_ca: trustme.CA
    server_cert: trustme.LeafCert
    good: trustme.LeafCert
    expired: trustme.LeafCert
    foreign: trustme.LeafCert

    def server_tls(self, **knobs: Any) -> ServerTls:
        return ServerTls(
            cert_chain_pem=self.server_cert.private_key_and_cert_chain_pem.bytes(),
            key_pem=self.server_cert.private_key_pem.bytes(),
            client_cas_pem=[self.client_ca.cert_pem.bytes()],
            **knobs,
        )

    def client_context(self, cert: trustme.LeafCert | None, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        # Always an SSLContext: httpx 0.28 silently drops cert= when verify= is a path.
        context = ssl.create_default_context()
        self.server_ca.configure_trust(context)
        if cert is not None:
            cert.configure_cert(context)
        if version is not None:
            context.minimum_version = context.maximum_version = version
        return context


@pytest.fixture(scope="module")
def pki() -> Pki:
    server_ca, client_ca, other_ca = trustme.CA(), trustme.CA(), trustme.CA()
    past = datetime.now(UTC) - timedelta(days=30)
    return Pki(
        server_ca=server_ca,
        client_ca=client_ca,
        other_ca=other_ca,
        server_cert=server_ca.issue_cert("ecs.reference.test", "127.0.0.1"),
        good=client_ca.issue_cert(common_name="eec-1"),
        expired=client_ca.issue_cert(common_name="eec-1", not_before=past, not_after=past + timedelta(days=1)),
        foreign=other_ca.issue_cert(common_name="eec-1"),
    )


async def show_tls(request: Request) -> JSONResponse:
    """Echo the TLS extension the shim put into the scope."""
    tls = dict(request.scope["extensions"]["tls"])
    der = tls.pop("client_cert_der")
    return JSONResponse({**tls, "has_client_cert": der is not None, "der_is_bytes": isinstance(der, bytes)})


ECHO_APP = Starlette(routes=[Route("/tls", show_tls)])


@contextlib.contextmanager
def serving(pki: Pki, **knobs: Any) -> Iterator[ReferenceServer]:
    with ReferenceServer(ECHO_APP, pki.server_tls(**knobs)) as server:
        yield server


@pytest.fixture(scope="module")
def strict_server(pki: Pki) -> Iterator[ReferenceServer]:
    with serving(pki) as server:
        yield server


def get_tls(server: ReferenceServer, context: ssl.SSLContext, *, http2: bool = False) -> httpx.Response:
    with httpx.Client(verify=context, http2=http2, timeout=TIMEOUT) as client:
        return client.get(f"{server.base_url}/tls")


def alert_reasons(error: BaseException) -> list[str]:
    """The OpenSSL reasons of every ssl.SSLError in the exception chain (httpx -> httpcore -> ssl)."""
    reasons: list[str] = []
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ssl.SSLError) and current.reason:
            reasons.append(current.reason)
        current = current.__cause__ or current.__context__
    return reasons


def refusal(server: ReferenceServer, context: ssl.SSLContext) -> list[str]:
    with pytest.raises(httpx.TransportError) as caught:
        get_tls(server, context)
    return alert_reasons(caught.value)


@pytest.mark.parametrize(("http2", "version", "alpn"), [(False, "HTTP/1.1", "http/1.1"), (True, "HTTP/2", "h2")])
def test_client_with_trusted_cert_is_served_and_app_sees_identity(
    pki: Pki, strict_server: ReferenceServer, http2: bool, version: str, alpn: str
) -> None:
    """A client certificate from the trusted CA: a response over h1 and h2; the app sees the CN."""
    response = get_tls(strict_server, pki.client_context(pki.good), http2=http2)
    assert response.status_code == 200
    assert response.http_version == version
    seen = response.json()
    assert seen["client_common_name"] == "eec-1"
    assert seen["client_cert_name"].startswith("CN=eec-1,")
    assert seen["has_client_cert"]
    assert seen["der_is_bytes"]
    assert (seen["alpn"], seen["tls_version"]) == (alpn, "TLSv1.3")
    assert seen["cipher_suite"].startswith("TLS_")


def test_base_url_names_the_bound_port(strict_server: ReferenceServer) -> None:
    assert strict_server.base_url == f"https://127.0.0.1:{strict_server.port}"
    assert strict_server.port > 0


@pytest.mark.parametrize(
    ("version", "alert"),
    [
        (ssl.TLSVersion.TLSv1_3, "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
        (ssl.TLSVersion.TLSv1_2, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
    ],
)
def test_client_without_cert_gets_an_alert(
    pki: Pki, strict_server: ReferenceServer, version: ssl.TLSVersion, alert: str
) -> None:
    """No client certificate: a real TLS alert (the gh-98078 patch), not a bare close."""
    assert alert in refusal(strict_server, pki.client_context(None, version))


def test_cert_from_another_ca_gets_unknown_ca(pki: Pki, strict_server: ReferenceServer) -> None:
    assert "TLSV1_ALERT_UNKNOWN_CA" in refusal(strict_server, pki.client_context(pki.foreign))


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_expired_cert_gets_certificate_expired(
    pki: Pki, strict_server: ReferenceServer, version: ssl.TLSVersion
) -> None:
    reasons = refusal(strict_server, pki.client_context(pki.expired, version))
    assert "SSLV3_ALERT_CERTIFICATE_EXPIRED" in reasons


def test_check_time_off_accepts_expired_cert(pki: Pki) -> None:
    """check_time=False (the accepts-any-client-cert fault) lets an expired certificate in."""
    with serving(pki, check_time=False) as server:
        response = get_tls(server, pki.client_context(pki.expired))
    assert response.json()["client_common_name"] == "eec-1"


def test_check_time_off_still_refuses_unknown_ca(pki: Pki) -> None:
    with serving(pki, check_time=False) as server:
        assert "TLSV1_ALERT_UNKNOWN_CA" in refusal(server, pki.client_context(pki.foreign))


def test_optional_mode_serves_client_without_cert(pki: Pki) -> None:
    """client_auth="optional": no certificate is let through and the app sees none."""
    with serving(pki, client_auth="optional") as server:
        seen = get_tls(server, pki.client_context(None), http2=True).json()
    assert seen["has_client_cert"] is False
    assert seen["client_common_name"] is None
    assert seen["client_cert_name"] is None


def test_server_context_policy() -> None:
    """TLS 1.2 minimum, h2 first, client certificates required, no system CAs trusted for clients."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    tls = ServerTls(cert.private_key_and_cert_chain_pem.bytes(), cert.private_key_pem.bytes(), [ca.cert_pem.bytes()])
    context = server_context(tls)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert not context.verify_flags & NO_CHECK_TIME
    assert len(context.get_ca_certs()) == 1
    lax = server_context(ServerTls(tls.cert_chain_pem, tls.key_pem, tls.client_cas_pem, check_time=False))
    assert lax.verify_flags & NO_CHECK_TIME


def test_required_client_auth_without_trusted_ca_is_a_config_error() -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    with pytest.raises(ValueError, match="client CA"):
        server_context(ServerTls(cert.private_key_and_cert_chain_pem.bytes(), cert.private_key_pem.bytes()))


def test_bad_key_material_fails_in_the_caller(pki: Pki) -> None:
    tls = ServerTls(b"not a certificate", b"not a key", [pki.client_ca.cert_pem.bytes()])
    server = ReferenceServer(ECHO_APP, tls)
    with pytest.raises(ssl.SSLError):
        server.start()
    with pytest.raises(HarnessError):
        _ = server.port


async def app_failing_at_startup(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app whose lifespan startup fails, as a misconfigured app's would."""
    message = await receive()
    assert message["type"] == "lifespan.startup"
    await send({"type": "lifespan.startup.failed", "message": "no database"})


def test_startup_error_in_server_thread_is_raised_in_caller(pki: Pki) -> None:
    server = ReferenceServer(app_failing_at_startup, pki.server_tls())
    with pytest.raises(Exception, match="no database"):
        server.start(timeout=5)
    server.stop()  # already stopped: returns at once


def test_stop_is_idempotent_and_restart_is_refused(pki: Pki) -> None:
    server = ReferenceServer(ECHO_APP, pki.server_tls())
    server.stop()  # never started
    server.start()
    with pytest.raises(HarnessError, match="already started"):
        server.start()
    server.stop()
    server.stop()
    with pytest.raises(httpx.ConnectError):
        get_tls(server, pki.client_context(pki.good))


async def body_size(request: Request) -> Response:
    try:
        body = await read_body(request)
    except Refusal as refusal:
        return refusal.response()
    return JSONResponse({"size": len(body)})


@pytest.mark.parametrize("http2", [False, True], ids=["HTTP/1.1", "HTTP/2"])
@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 3 * MAX_BODY_BYTES])
def test_an_oversized_body_gets_its_413_on_every_http_version(pki: Pki, size: int, http2: bool) -> None:
    """Found by the generated ROB-01 bodies: over HTTP/2 an early 413 made hypercorn drop the
    connection, so the EEC saw a silent close; the reference reads the body to its end first."""
    app = Starlette(routes=[Route("/body", body_size, methods=["POST"])])
    with (
        ReferenceServer(app, pki.server_tls()) as server,
        httpx.Client(verify=pki.client_context(pki.good), http2=http2, timeout=TIMEOUT) as client,
    ):
        refused = client.post(f"{server.base_url}/body", content=b"x" * size)
        served = client.post(f"{server.base_url}/body", content=b"x" * MAX_BODY_BYTES)
    assert (refused.status_code, refused.headers["content-type"]) == (413, "application/problem+json")
    assert refused.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert served.json() == {"size": MAX_BODY_BYTES}
