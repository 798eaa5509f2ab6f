"""The test PKI: every certificate variant is accepted or refused by OpenSSL as intended."""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pki_handshake import client_context, handshake, server_context

from conformance.peers.pki import LeafCert, TestCA, summarize, summarize_der

NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create()


@pytest.fixture(scope="module")
def server(ca: TestCA) -> ssl.SSLContext:
    """A server that trusts only ``ca`` and requires a client certificate."""
    return server_context(ca, ca.issue_server_cert("localhost", "127.0.0.1"))


def test_valid_client_cert_is_accepted(ca: TestCA, server: ssl.SSLContext) -> None:
    outcome = handshake(server, client_context(ca, ca.issue_client_cert("eec-1")))
    assert outcome.accepted, outcome


@pytest.mark.parametrize(
    ("variant", "openssl_reason"),
    [
        ("rogue-twin", "certificate signature failure"),
        ("expired", "certificate has expired"),
        ("not-yet-valid", "certificate is not yet valid"),
        ("server-auth-only", "unsuitable certificate purpose"),
        ("no-digital-signature", "unsuitable certificate purpose"),
    ],
)
def test_bad_client_cert_is_refused(ca: TestCA, server: ssl.SSLContext, variant: str, openssl_reason: str) -> None:
    leaf = {
        "rogue-twin": lambda: ca.rogue_twin().issue_client_cert("eec-1"),
        "expired": lambda: ca.issue_client_cert("eec-1", not_after=NOW - timedelta(days=1)),
        "not-yet-valid": lambda: ca.issue_client_cert("eec-1", not_before=NOW + timedelta(days=1)),
        "server-auth-only": lambda: ca.issue_client_cert("eec-1", eku=("serverAuth",)),
        "no-digital-signature": lambda: ca.issue_client_cert("eec-1", key_usage=("key_encipherment",)),
    }[variant]()
    outcome = handshake(server, client_context(ca, leaf))
    assert not outcome.accepted
    assert outcome.verify_message == openssl_reason
    assert isinstance(outcome.client_error, ssl.SSLError)
    assert "ALERT" in str(outcome.client_error.reason)


def test_weak_rsa_key_is_refused_by_a_default_server(ca: TestCA, server: ssl.SSLContext) -> None:
    weak = ca.issue_client_cert("eec-1", key_type="rsa", rsa_key_size=1024)
    public_key = weak.certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 1024
    with pytest.raises(ssl.SSLError, match="EE_KEY_TOO_SMALL"):
        client_context(ca, weak)
    client = ssl.create_default_context()
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    ca.configure_trust(client)
    weak.configure_cert(client)
    assert handshake(server, client).verify_message == "EE certificate key too weak"


def test_rsa_client_cert_is_accepted(ca: TestCA, server: ssl.SSLContext) -> None:
    leaf = ca.issue_client_cert("eec-1", key_type="rsa")
    assert handshake(server, client_context(ca, leaf)).accepted


def test_no_eku_leaves_the_extension_out_and_openssl_accepts_it(ca: TestCA, server: ssl.SSLContext) -> None:
    leaf = ca.issue_client_cert("eec-1", eku=None)
    with pytest.raises(x509.ExtensionNotFound):
        leaf.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert handshake(server, client_context(ca, leaf)).accepted


def test_no_client_cert_is_refused(ca: TestCA, server: ssl.SSLContext) -> None:
    outcome = handshake(server, client_context(ca, None))
    assert not outcome.accepted
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in str(outcome.server_error)


def test_rogue_twin_differs_from_the_real_ca_only_in_its_key(ca: TestCA) -> None:
    real, twin = ca.certificate, ca.rogue_twin().certificate
    assert twin.subject == real.subject
    assert twin.subject.rfc4514_string() == real.subject.rfc4514_string()
    assert twin.issuer == real.issuer == real.subject
    assert twin.not_valid_before_utc == real.not_valid_before_utc
    assert twin.not_valid_after_utc == real.not_valid_after_utc
    ski = x509.SubjectKeyIdentifier
    assert twin.extensions.get_extension_for_class(ski) == real.extensions.get_extension_for_class(ski)
    assert _spki(twin) != _spki(real)


def test_rogue_twin_leaves_are_sound_certificates(ca: TestCA) -> None:
    """Positive control: the twin's leaf is refused for its issuer, not for being broken."""
    twin = ca.rogue_twin()
    server = server_context(twin, ca.issue_server_cert("localhost"))
    assert handshake(server, client_context(ca, twin.issue_client_cert("eec-1"))).accepted


def test_client_cert_summary(ca: TestCA) -> None:
    leaf = ca.issue_client_cert("eec-7", uri_sans=("urn:eec:7",), eku=("clientAuth", "1.2.3.4"))
    summary = leaf.summary()
    cert = leaf.certificate
    assert summary.subject == "O=TS 33.558 conformance harness (TEST ONLY),CN=eec-7"
    assert summary.issuer == "O=TS 33.558 conformance harness (TEST ONLY),CN=TS 33.558 Harness Test CA"
    assert summary.serial == format(cert.serial_number, "x")
    assert datetime.fromisoformat(summary.not_before) == cert.not_valid_before_utc
    assert summary.not_after.endswith("+00:00")
    assert summary.sans == ["URI:urn:eec:7"]
    assert summary.extended_key_usage == ["clientAuth", "1.2.3.4"]
    assert summary.sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert summarize_der(cert.public_bytes(serialization.Encoding.DER)) == summary


def test_server_cert_summary(ca: TestCA) -> None:
    expiry = datetime(2031, 1, 2, tzinfo=UTC)
    summary = ca.issue_server_cert("ecs.example.test", "127.0.0.1", not_after=expiry).summary()
    assert summary.not_after == "2031-01-02T00:00:00+00:00"
    assert summary.subject.startswith("CN=ecs.example.test,")
    assert summary.sans == ["DNS:ecs.example.test", "IP:127.0.0.1"]
    assert "serverAuth" in summary.extended_key_usage
    assert summary.issuer == ca.certificate.subject.rfc4514_string()


def test_summary_of_unparseable_der_is_still_evidence() -> None:
    garbage = b"0\x03\x02\x01\x00"
    summary = summarize_der(garbage)
    assert summary.subject.startswith("(not parseable: ")
    assert summary.sha256 == hashlib.sha256(garbage).hexdigest()


def test_summary_of_a_cert_without_extensions(ca: TestCA) -> None:
    bare = ca.issue_client_cert("eec-1", eku=None, key_usage=None).certificate
    with pytest.raises(x509.ExtensionNotFound):
        bare.extensions.get_extension_for_class(x509.KeyUsage)
    assert summarize(bare).sans == []
    assert summarize(bare).extended_key_usage == []


def test_default_validity_is_a_year_from_an_hour_ago(ca: TestCA) -> None:
    cert = ca.issue_client_cert("eec-1").certificate
    now = datetime.now(UTC)  # not the import-time NOW: a serial run reaches this minutes later
    assert abs(cert.not_valid_before_utc - (now - timedelta(hours=1))) < timedelta(minutes=5)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365)


def test_not_after_alone_in_the_past_gives_an_expired_cert(ca: TestCA) -> None:
    naive_past = datetime(2020, 5, 1)  # naive: taken as UTC
    cert = ca.issue_client_cert("eec-1", not_after=naive_past).certificate
    assert cert.not_valid_after_utc == naive_past.replace(tzinfo=UTC)
    assert cert.not_valid_before_utc == naive_past.replace(tzinfo=UTC) - timedelta(days=1)


@pytest.mark.parametrize(
    ("knobs", "why"),
    [
        ({"not_before": NOW, "not_after": NOW - timedelta(seconds=1)}, "must be later than not_before"),
        ({"eku": ("clientAuthh",)}, "unknown extended key usage"),
        ({"key_usage": ("digitalSignature",)}, "unknown key usage"),
        ({"key_type": "dsa"}, "unknown key type"),
    ],
)
def test_bad_knobs_are_refused(ca: TestCA, knobs: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        ca.issue_client_cert("eec-1", **knobs)  # type: ignore[arg-type]


def test_server_cert_needs_an_identity(ca: TestCA) -> None:
    with pytest.raises(ValueError, match="at least one"):
        ca.issue_server_cert()


def test_create_builds_a_root_ca_with_the_given_names() -> None:
    ca = TestCA.create(common_name="Vendor Lab CA", organization="ACME", key_type="rsa")
    cert = ca.certificate
    assert cert.subject.rfc4514_string() == "O=ACME,CN=Vendor Lab CA"
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    assert ca.issue_client_cert("eec-1").summary().subject == "O=ACME,CN=eec-1"


def test_from_pem_round_trips(ca: TestCA, server: ssl.SSLContext) -> None:
    """A cert issued by the reloaded CA verifies under the original CA certificate."""
    reloaded = TestCA.from_pem(ca.cert_pem.bytes(), ca.private_key_pem.bytes())
    assert reloaded.cert_pem.bytes() == ca.cert_pem.bytes()
    assert handshake(server, client_context(ca, reloaded.issue_client_cert("eec-1"))).accepted


def test_from_pem_refuses_a_key_of_another_ca(ca: TestCA) -> None:
    other = TestCA.create()
    with pytest.raises(ValueError, match="does not belong"):
        TestCA.from_pem(ca.cert_pem.bytes(), other.private_key_pem.bytes())


def test_from_pem_refuses_a_leaf_certificate(ca: TestCA) -> None:
    leaf = ca.issue_client_cert("eec-1")
    with pytest.raises(ValueError, match="not a CA certificate"):
        TestCA.from_pem(leaf.cert_chain_pems[0].bytes(), leaf.private_key_pem.bytes())


def test_leaf_from_pem_round_trips_and_checks_the_key(ca: TestCA, server: ssl.SSLContext) -> None:
    issued = ca.issue_client_cert("eec-1")
    chain = b"".join(pem.bytes() for pem in issued.cert_chain_pems)
    loaded = LeafCert.from_pem(chain, issued.private_key_pem.bytes())
    assert loaded.certificate == issued.certificate
    assert handshake(server, client_context(ca, loaded)).accepted
    with pytest.raises(ValueError, match="does not belong"):
        LeafCert.from_pem(chain, ca.issue_client_cert("eec-2").private_key_pem.bytes())


def test_eku_oids_map_to_openssl_short_names(ca: TestCA) -> None:
    leaf = ca.issue_client_cert("eec-1", eku=("serverAuth", "clientAuth"))
    eku = leaf.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


def test_summary_renders_every_kind_of_subject_alt_name() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.RFC822Name("eec@example.test"),
        x509.DirectoryName(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dir")])),
        x509.RegisteredID(x509.ObjectIdentifier("1.2.3")),
        x509.OtherName(x509.ObjectIdentifier("1.2.4"), b"\x05\x00"),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = _self_signed(key, extensions=[x509.SubjectAlternativeName(names)], ca=False)
    assert summarize(cert).sans == [
        "email:eec@example.test",
        "DirName:CN=dir",
        "RID:1.2.3",
        "othername:1.2.4",
        "IP:::1",
    ]


def test_a_vendor_ca_without_key_identifier_issues_client_certs(ca: TestCA) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    vendor_ca = TestCA.from_pem(_pem(_self_signed(key, extensions=[])), _pkcs8(key))
    server = server_context(vendor_ca, ca.issue_server_cert("localhost"))
    assert handshake(server, client_context(ca, vendor_ca.issue_client_cert("eec-1"))).accepted
    assert not handshake(server, client_context(ca, vendor_ca.rogue_twin().issue_client_cert("eec-1"))).accepted
    with pytest.raises(ValueError, match="subject key identifier"):
        vendor_ca.issue_server_cert("localhost")


def test_from_pem_refuses_an_unsupported_ca_key_type() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="unsupported CA key type"):
        TestCA.from_pem(_pem(_self_signed(key, extensions=[])), _pkcs8(key))


def _self_signed(
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
    *,
    extensions: list[x509.ExtensionType],
    ca: bool = True,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vendor CA without SKI")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pkcs8(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
