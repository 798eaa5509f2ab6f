"""The fake EEC against small servers on 127.0.0.1: what it records, and that it never raises."""

from __future__ import annotations

import hashlib
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from loopback import (
    JWT,
    Behaviour,
    LoopbackServer,
    answer,
    close_at_once,
    closed_port,
    endless_body,
    garbage,
    header_flood,
    silent,
    trickle_body,
    trickle_headers,
)

from conformance.errors import PeerError
from conformance.evidence import CertSummary, ConnectionOutcome, EvidenceLog
from conformance.peers.eec import FakeEEC, WireCounter

FQDN = "ecs.example.test"
TLS12, TLS13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3

pytestmark = pytest.mark.timeout(20)


@dataclass
class TrustmeCredential:
    """A trustme leaf as a client credential (what ``pki.LeafCert`` gives the real harness)."""

    leaf: trustme.LeafCert

    def configure_cert(self, ctx: ssl.SSLContext) -> None:
        self.leaf.configure_cert(ctx)

    def summary(self) -> CertSummary:
        der = ssl.PEM_cert_to_DER_cert(self.leaf.cert_chain_pems[0].bytes().decode())
        cert = x509.load_der_x509_certificate(der)
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        return CertSummary(subject, issuer, "", "", "", sha256=hashlib.sha256(der).hexdigest())


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def good(ca: trustme.CA) -> TrustmeCredential:
    return TrustmeCredential(ca.issue_cert("eec-1@example.test", common_name="eec-1"))


@pytest.fixture(scope="module")
def rogue() -> TrustmeCredential:
    return TrustmeCredential(trustme.CA().issue_cert("eec-1@example.test", common_name="eec-1"))


def server_tls(ca: trustme.CA, *, require_client_cert: bool = True, alpn: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(FQDN).configure_cert(ctx)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(ctx)
    if alpn:
        ctx.set_alpn_protocols(["http/1.1"])
    return ctx


@pytest.fixture
def mtls(ca: trustme.CA) -> Iterator[LoopbackServer]:
    with LoopbackServer(tls=server_tls(ca)) as server:
        yield server


@pytest.fixture
def evidence() -> EvidenceLog:
    return EvidenceLog()


def eec_for(url: str, ca: trustme.CA, evidence: EvidenceLog, **knobs: object) -> FakeEEC:
    settings: dict[str, object] = {"server_name": FQDN, "credential": None, "timeout": 2.0, **knobs}
    return FakeEEC(base_url=url, trust_anchor=ca.cert_pem.bytes(), evidence=evidence, **settings)  # type: ignore[arg-type]


# --- mutual TLS -------------------------------------------------------------------------


def test_good_client_cert_is_established_and_recorded(
    mtls: LoopbackServer, ca: trustme.CA, good: TrustmeCredential, evidence: EvidenceLog
) -> None:
    exchange = eec_for(mtls.url, ca, evidence, credential=good, label="authorized").send(
        "POST", "/eecs-serviceprovisioning/v1/request", json={"eecId": "eec-1"}, label="provisioning"
    )
    assert exchange.tls.outcome is ConnectionOutcome.ESTABLISHED, exchange.summary()
    assert (exchange.status, exchange.http_version) == (200, "HTTP/1.1")
    assert exchange.label == "authorized / provisioning"
    assert exchange.url == f"{mtls.url}/eecs-serviceprovisioning/v1/request"
    assert json.loads(exchange.request_body) == {"eecId": "eec-1"}
    assert exchange.tls.version == "TLSv1.3"
    assert exchange.tls.cipher
    assert exchange.tls.address == f"127.0.0.1:{mtls.port}"
    assert exchange.tls.server_name == FQDN
    leaf, root = exchange.tls.server_chain
    assert f"DNS:{FQDN}" in leaf.sans
    assert leaf.issuer == root.subject == root.issuer
    assert exchange.tls.client_certificate == good.summary()
    assert exchange.response_json["clientCertSha256"] == good.summary().sha256  # the server saw it
    assert exchange.response_json["requestLine"] == "POST /eecs-serviceprovisioning/v1/request HTTP/1.1"
    assert exchange.elapsed_ms is not None
    assert exchange.elapsed_ms > 0
    assert evidence.exchanges() == [exchange]


@pytest.mark.parametrize(
    ("version", "alert", "phase"),
    [
        (TLS13, "TLSV13_ALERT_CERTIFICATE_REQUIRED", "first-read"),
        (TLS12, "SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake"),
    ],
)
@pytest.mark.parametrize("probe", ["send", "handshake"])
def test_missing_client_cert_is_refused_with_alert(
    mtls: LoopbackServer,
    ca: trustme.CA,
    evidence: EvidenceLog,
    version: ssl.TLSVersion,
    alert: str,
    phase: str,
    probe: str,
) -> None:
    eec = eec_for(mtls.url, ca, evidence, tls_version=version)
    tls = eec.send("GET", "/").tls if probe == "send" else eec.handshake()
    assert (tls.outcome, tls.alert, tls.phase) == (ConnectionOutcome.REFUSED_WITH_ALERT, alert, phase), tls
    assert tls.refused
    assert tls.client_certificate is None
    assert evidence.exchanges()[0].status is None
    assert mtls.seen == []
    if version is TLS13:  # the client's handshake finished: what it negotiated is evidence too
        assert tls.version == "TLSv1.3"
        assert len(tls.server_chain) == 2


@pytest.mark.parametrize("probe", ["send", "handshake"])
def test_client_cert_from_another_ca_is_refused_with_unknown_ca(
    mtls: LoopbackServer, ca: trustme.CA, rogue: TrustmeCredential, evidence: EvidenceLog, probe: str
) -> None:
    eec = eec_for(mtls.url, ca, evidence, credential=rogue)
    tls = eec.send("GET", "/").tls if probe == "send" else eec.handshake()
    assert (tls.outcome, tls.alert) == (ConnectionOutcome.REFUSED_WITH_ALERT, "TLSV1_ALERT_UNKNOWN_CA")
    assert tls.client_certificate == rogue.summary()


def test_handshake_probe_reads_the_status_line(
    mtls: LoopbackServer, ca: trustme.CA, good: TrustmeCredential, evidence: EvidenceLog
) -> None:
    tls = eec_for(mtls.url, ca, evidence, credential=good, tls_version=TLS12).handshake()
    assert (tls.outcome, tls.version, tls.alpn) == (ConnectionOutcome.ESTABLISHED, "TLSv1.2", "http/1.1")
    probe = evidence.exchanges()[0]
    assert (probe.label, probe.method, probe.url) == ("TLS handshake probe", "GET", f"{mtls.url}/")
    assert (probe.status, probe.http_version, probe.tls) == (200, "HTTP/1.1", tls)
    assert mtls.seen[0].startswith(b"GET / HTTP/1.1\r\nHost: ecs.example.test\r\n")


# --- our side rejects the server ---------------------------------------------------------


@pytest.mark.parametrize("probe", ["send", "handshake"])
@pytest.mark.parametrize(
    ("trust_other_ca", "server_name", "why"),
    [
        (True, FQDN, "self-signed certificate in certificate chain"),
        (False, "ees.example.test", "Hostname mismatch"),
    ],
)
def test_untrusted_or_misnamed_server_is_rejected(
    mtls: LoopbackServer,
    ca: trustme.CA,
    evidence: EvidenceLog,
    trust_other_ca: bool,
    server_name: str,
    why: str,
    probe: str,
) -> None:
    anchor = trustme.CA() if trust_other_ca else ca
    eec = eec_for(mtls.url, anchor, evidence, server_name=server_name)
    tls = eec.send("GET", "/").tls if probe == "send" else eec.handshake()
    assert tls.outcome is ConnectionOutcome.SERVER_CERT_REJECTED, tls
    assert why in tls.detail, tls
    assert (tls.alert, tls.phase, tls.server_chain, mtls.seen) == (None, None, [], [])


# --- the network misbehaves --------------------------------------------------------------


@pytest.mark.parametrize("probe", ["send", "handshake"])
def test_nothing_listening_is_connection_refused_quickly(ca: trustme.CA, evidence: EvidenceLog, probe: str) -> None:
    eec = eec_for(f"https://127.0.0.1:{closed_port()}", ca, evidence)
    started = time.monotonic()
    tls = eec.send("GET", "/").tls if probe == "send" else eec.handshake()
    assert tls.outcome is ConnectionOutcome.CONNECTION_REFUSED, tls
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("probe", ["send", "handshake"])
def test_silent_server_times_out_within_the_timeout(ca: trustme.CA, evidence: EvidenceLog, probe: str) -> None:
    with LoopbackServer(silent) as server:
        eec = eec_for(server.url, ca, evidence, timeout=0.5)
        started = time.monotonic()
        tls = eec.send("GET", "/").tls if probe == "send" else eec.handshake()
        elapsed = time.monotonic() - started
    assert tls.outcome is ConnectionOutcome.TIMEOUT, tls
    assert tls.detail.startswith("connect timeout"), tls
    assert 0.4 < elapsed < 1.2


@pytest.mark.parametrize("probe", ["send", "handshake"])
def test_close_without_a_word_is_closed_without_alert(ca: trustme.CA, evidence: EvidenceLog, probe: str) -> None:
    with LoopbackServer(close_at_once) as server:
        eec = eec_for(server.url, ca, evidence)
        tls = eec.send("GET", "/").tls if probe == "send" else eec.handshake()
    assert (tls.outcome, tls.alert, tls.phase) == (
        ConnectionOutcome.CLOSED_WITHOUT_ALERT,
        None,
        "handshake",
    ), tls


@pytest.mark.parametrize("probe", ["send", "handshake"])
def test_garbage_instead_of_tls_is_a_protocol_error(ca: trustme.CA, evidence: EvidenceLog, probe: str) -> None:
    with LoopbackServer(garbage) as server:
        eec = eec_for(server.url, ca, evidence)
        tls = eec.send("GET", "/").tls if probe == "send" else eec.handshake()
    assert tls.outcome is ConnectionOutcome.PROTOCOL_ERROR, tls
    assert "SSL" in tls.detail, tls


@pytest.mark.parametrize("behaviour", [garbage, header_flood], ids=["garbage", "header-flood"])
def test_garbage_instead_of_http_is_a_protocol_error(
    ca: trustme.CA, evidence: EvidenceLog, behaviour: Behaviour
) -> None:
    with LoopbackServer(behaviour, tls=server_tls(ca, require_client_cert=False)) as server:
        exchange = eec_for(server.url, ca, evidence).send("GET", "/")
    assert exchange.tls.outcome is ConnectionOutcome.PROTOCOL_ERROR, exchange.tls
    assert exchange.status is None
    assert exchange.tls.version == "TLSv1.3"
    assert "h11" in exchange.tls.detail


def test_garbage_after_tls_is_established_for_the_probe(ca: trustme.CA, evidence: EvidenceLog) -> None:
    with LoopbackServer(garbage, tls=server_tls(ca, require_client_cert=False)) as server:
        tls = eec_for(server.url, ca, evidence).handshake()
    assert tls.outcome is ConnectionOutcome.ESTABLISHED
    assert evidence.exchanges()[0].status is None
    assert "SSH-2.0-NotTLS" in evidence.exchanges()[0].response_body


# --- bounded memory and time -------------------------------------------------------------


def test_endless_body_is_cut_at_max_body_bytes(ca: trustme.CA, evidence: EvidenceLog) -> None:
    with LoopbackServer(endless_body, tls=server_tls(ca, require_client_cert=False)) as server:
        started = time.monotonic()
        exchange = eec_for(server.url, ca, evidence, max_body_bytes=65536).send("GET", "/")
        assert time.monotonic() - started < 1.0
    assert exchange.status == 200
    assert exchange.tls.outcome is ConnectionOutcome.ESTABLISHED
    assert exchange.response_body.endswith("…[response body cut at max_body_bytes=65536]")
    assert "[truncated, 65536 bytes in all]" in exchange.response_body
    assert exchange.response_json is None


def test_trickled_body_ends_at_the_deadline(ca: trustme.CA, evidence: EvidenceLog) -> None:
    with LoopbackServer(trickle_body, tls=server_tls(ca, require_client_cert=False)) as server:
        started = time.monotonic()
        exchange = eec_for(server.url, ca, evidence, timeout=0.3, deadline=0.5).send("GET", "/")
        elapsed = time.monotonic() - started
    assert exchange.status == 200
    assert exchange.response_body.startswith("y")
    assert exchange.response_body.endswith("…[response body cut at the 0.5 s deadline]")
    assert 0.45 < elapsed < 1.0


def test_trickled_headers_end_at_the_deadline_as_a_timeout(ca: trustme.CA, evidence: EvidenceLog) -> None:
    with LoopbackServer(trickle_headers, tls=server_tls(ca, require_client_cert=False)) as server:
        started = time.monotonic()
        exchange = eec_for(server.url, ca, evidence, timeout=0.3, deadline=0.5).send("GET", "/")
        elapsed = time.monotonic() - started
    assert exchange.status is None, exchange.tls
    assert exchange.tls.outcome is ConnectionOutcome.TIMEOUT, exchange.tls
    assert exchange.tls.detail.startswith("deadline exceeded")
    assert 0.45 < elapsed < 1.0


def test_a_body_cut_short_by_the_server_is_noted(ca: trustme.CA, evidence: EvidenceLog) -> None:
    with LoopbackServer(
        answer(b'{"a":', length=100, hang_up=True), tls=server_tls(ca, require_client_cert=False)
    ) as server:
        exchange = eec_for(server.url, ca, evidence).send("GET", "/")
    assert exchange.status == 200
    assert exchange.response_json is None
    assert exchange.response_body.startswith('{"a":\n…[response body incomplete: RemoteProtocolError(')


def test_absurdly_nested_json_is_evidence_not_a_crash(ca: trustme.CA, evidence: EvidenceLog) -> None:
    nested = b"[" * 200_000 + b"]" * 200_000
    with LoopbackServer(answer(nested), tls=server_tls(ca, require_client_cert=False)) as server:
        exchange = eec_for(server.url, ca, evidence).send("GET", "/")
    assert exchange.status == 200
    assert exchange.response_json is None
    assert exchange.response_body.startswith("[[[[")
    assert len(exchange.response_body) <= 5000


# --- evidence hygiene and accounting -----------------------------------------------------


def test_authorization_and_jwts_are_redacted_in_evidence_only(
    mtls: LoopbackServer, ca: trustme.CA, good: TrustmeCredential, evidence: EvidenceLog
) -> None:
    exchange = eec_for(mtls.url, ca, evidence, credential=good).send(
        "GET", "/x", headers={"Authorization": f"Bearer {JWT}"}, params={"hint": JWT}
    )
    assert f"Authorization: Bearer {JWT}".encode() in mtls.seen[0]  # the server got the real token
    assert exchange.request_headers["authorization"].startswith("Bearer eyJhbGciOiJF…[redacted")
    assert exchange.response_json["accessToken"] == JWT  # unredacted for checks, never reported
    assert JWT not in json.dumps(evidence.to_list())
    assert JWT[:12] in exchange.response_body
    assert JWT[:12] in exchange.url


def test_an_opaque_authorization_value_shows_nothing(
    mtls: LoopbackServer, ca: trustme.CA, good: TrustmeCredential, evidence: EvidenceLog
) -> None:
    exchange = eec_for(mtls.url, ca, evidence, credential=good).send(
        "GET", "/", headers={"Authorization": "Basic ZWVjLTE6c2VjcmV0"}
    )
    assert exchange.request_headers["authorization"] == "Basic …[redacted 16 chars]"


def test_every_send_and_probe_is_one_connection(
    mtls: LoopbackServer, ca: trustme.CA, good: TrustmeCredential, evidence: EvidenceLog
) -> None:
    counter = WireCounter()
    eec = eec_for(mtls.url, ca, evidence, credential=good, counter=counter)
    eec.send("GET", "/")
    assert (counter.connections, counter.requests) == (1, 1)
    eec.handshake()
    assert counter.connections == 2
    eec_for(f"https://127.0.0.1:{closed_port()}", ca, evidence, counter=counter).send("GET", "/")
    assert (counter.connections, counter.requests) == (3, 2)
    assert len(evidence.exchanges()) == 3


@pytest.mark.parametrize(("alpn", "expected"), [(True, "http/1.1"), (False, None)])
def test_offering_both_versions_falls_back_to_http11(
    ca: trustme.CA, evidence: EvidenceLog, alpn: bool, expected: str | None
) -> None:
    tls = server_tls(ca, require_client_cert=False, alpn=alpn)
    with LoopbackServer(tls=tls) as server:
        exchange = eec_for(server.url, ca, evidence, alpn=("h2", "http/1.1")).send("GET", "/")
    assert (exchange.status, exchange.http_version, exchange.tls.alpn) == (200, "HTTP/1.1", expected)


def test_offering_only_h2_never_falls_back_to_http11(ca: trustme.CA, evidence: EvidenceLog) -> None:
    """The same-transport rule: an h2-only EEC gets no HTTP/1.1 answer from an http/1.1-only server.

    CPython's server selects its own first protocol when the offers do not overlap (Go and Node
    send the alert no_application_protocol); either way no response comes and nothing falls back."""
    tls = server_tls(ca, require_client_cert=False, alpn=True)
    with LoopbackServer(tls=tls) as server:
        exchange = eec_for(server.url, ca, evidence, alpn=("h2",)).send("GET", "/")
    assert exchange.status is None
    assert exchange.tls.outcome is not ConnectionOutcome.ESTABLISHED


def test_an_absolute_url_is_used_as_is(
    mtls: LoopbackServer, ca: trustme.CA, good: TrustmeCredential, evidence: EvidenceLog
) -> None:
    eec = eec_for("https://127.0.0.1:1/api/", ca, evidence, credential=good)
    exchange = eec.send("GET", f"{mtls.url}/elsewhere", form={"grant_type": "client_credentials"})
    assert exchange.status == 200
    assert exchange.response_json["requestLine"] == "GET /elsewhere HTTP/1.1"
    assert exchange.request_body == "grant_type=client_credentials"


# --- our own broken inputs ---------------------------------------------------------------


class BrokenCredential:
    def configure_cert(self, ctx: ssl.SSLContext) -> None:
        ctx.load_cert_chain("/nonexistent/eec.pem")

    def summary(self) -> CertSummary:
        raise AssertionError("not reached")


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"trust_anchor": Path("/nonexistent/ca.pem")}, "cannot use trust anchor /nonexistent/ca.pem"),
        ({"trust_anchor": b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"}, "trust anchor"),
        ({"credential": BrokenCredential()}, "cannot load the client certificate"),
        ({"base_url": "http://127.0.0.1:1"}, "HTTPS only"),
    ],
)
def test_our_own_broken_inputs_raise_peer_error(
    ca: trustme.CA, evidence: EvidenceLog, knobs: dict[str, object], message: str
) -> None:
    settings: dict[str, object] = {
        "base_url": "https://127.0.0.1:1",
        "server_name": FQDN,
        "trust_anchor": ca.cert_pem.bytes(),
        "credential": None,
        "evidence": evidence,
        **knobs,
    }
    with pytest.raises(PeerError, match=message):
        FakeEEC(**settings)  # type: ignore[arg-type]


def test_a_plain_http_path_is_our_mistake(ca: trustme.CA, evidence: EvidenceLog) -> None:
    with pytest.raises(PeerError, match="HTTPS only"):
        eec_for("https://127.0.0.1:1", ca, evidence).send("GET", "http://127.0.0.1:1/")
    assert evidence.records == []
