"""The client certificate variants the fake EEC presents: each carries exactly its one defect."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conformance.errors import Inconclusive, PeerError
from conformance.peers.credentials import VARIANTS, CredentialFactory, FileCredential
from conformance.peers.material import HarnessMaterial
from conformance.peers.pki import LeafCert
from conformance.targets.model import EecIdentity

EEC = EecIdentity("authorized", "eec-0001", "msisdn-491700000001")


@pytest.fixture(scope="module")
def material() -> HarnessMaterial:
    return HarnessMaterial.create()


def _leaf(factory: CredentialFactory, variant: str) -> x509.Certificate:
    credential = factory.for_eec(EEC, variant)  # type: ignore[arg-type]
    assert isinstance(credential, LeafCert)
    return credential.certificate


def test_every_variant_names_the_eec(material: HarnessMaterial) -> None:
    factory = CredentialFactory(material, vendor_certs=False)
    assert factory.for_eec(EEC, "none") is None
    for variant in VARIANTS:
        if variant != "none":
            cn = _leaf(factory, variant).subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            assert cn[0].value == "eec-0001", variant


def test_variants_carry_their_defect(material: HarnessMaterial) -> None:
    factory = CredentialFactory(material, vendor_certs=False)
    now = dt.datetime.now(dt.UTC)
    assert _leaf(factory, "valid").issuer == material.ca.certificate.subject
    assert _leaf(factory, "rogue-ca").issuer == material.ca.certificate.subject  # same DN, other key
    assert _leaf(factory, "untrusted-ca").issuer == material.stranger_ca.certificate.subject
    assert _leaf(factory, "expired").not_valid_after_utc < now
    assert _leaf(factory, "not-yet-valid").not_valid_before_utc > now
    eku = _leaf(factory, "wrong-eku").extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    usage = _leaf(factory, "no-digital-signature").extensions.get_extension_for_class(x509.KeyUsage).value
    assert not usage.digital_signature


def test_variants_are_issued_once_per_run(material: HarnessMaterial) -> None:
    factory = CredentialFactory(material, vendor_certs=False)
    assert factory.for_eec(EEC, "expired") is factory.for_eec(EEC, "expired")


def test_vendor_certificates(material: HarnessMaterial, tmp_path: Path) -> None:
    cert, key = material.export_client_identity(tmp_path, common_name="eec-0001", filename_stem="eec1")
    factory = CredentialFactory(material, vendor_certs=True)
    vendor = EecIdentity("authorized", "eec-0001", "msisdn-491700000001", cert=cert, key=key)
    credential = factory.for_eec(vendor)
    assert isinstance(credential, FileCredential)
    assert credential.summary().subject.endswith("CN=eec-0001")
    with pytest.raises(Inconclusive, match=r"missing test data: .*client_certs = .vendor."):
        factory.for_eec(vendor, "expired")
    with pytest.raises(PeerError, match="no cert/key"):
        factory.for_eec(EEC)


def test_vendor_key_with_passphrase_loads(material: HarnessMaterial, tmp_path: Path) -> None:
    cert, key = _encrypted_identity(material, tmp_path)
    vendor = EecIdentity("authorized", "eec-0001", "msisdn-491700000001", cert=cert, key=key, key_passphrase=b"s3cret")
    credential = CredentialFactory(material, vendor_certs=True).for_eec(vendor)
    assert isinstance(credential, FileCredential)
    assert "s3cret" not in repr(credential)
    credential.configure_cert(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def test_encrypted_vendor_key_without_passphrase_never_prompts(material: HarnessMaterial, tmp_path: Path) -> None:
    """OpenSSL would ask "Enter PEM pass phrase:" on the terminal: the callback answers instead."""
    cert, key = _encrypted_identity(material, tmp_path)
    with pytest.raises(PeerError, match="is an encrypted private key and no passphrase was given"):
        FileCredential(cert, key).configure_cert(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    with pytest.raises(PeerError, match="cannot load client certificate"):
        FileCredential(cert, key, b"wrong").configure_cert(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def _encrypted_identity(material: HarnessMaterial, directory: Path) -> tuple[Path, Path]:
    cert, key = material.export_client_identity(directory, common_name="eec-0001", filename_stem="eec1")
    plain = serialization.load_pem_private_key(key.read_bytes(), password=None)
    encryption = serialization.BestAvailableEncryption(b"s3cret")
    key.write_bytes(plain.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return cert, key
