"""The harness material directory: round-trips, file modes, public JWKS, clear load errors."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from pki_handshake import handshake

from conformance.errors import ConfigError
from conformance.peers.material import HarnessMaterial, missing_sources
from conformance.peers.pki import TestCA

PRIVATE = ("ca.key", "rogue-ca.key", "stranger-ca.key", "issuer-key.pem", "issuer-rsa.pem", "issuer-ed25519.pem")
PUBLIC = (
    "ca.pem",
    "rogue-ca.pem",
    "stranger-ca.pem",
    "issuer.pem",
    "issuer-rsa.pub.pem",
    "issuer-ed25519.pub.pem",
    "issuer.jwks.json",
    "README.txt",
)
SOURCES = ("ca.pem", "ca.key", "rogue-ca.pem", "rogue-ca.key", "stranger-ca.pem", "stranger-ca.key", "issuer-key.pem")


@pytest.fixture(scope="module")
def material() -> HarnessMaterial:
    return HarnessMaterial.create()


@pytest.fixture
def saved(material: HarnessMaterial, tmp_path: Path) -> Path:
    material.save(tmp_path / "material")
    return tmp_path / "material"


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """The most permissive umask: modes must come from the code, not from the environment."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_save_load_round_trip(material: HarnessMaterial, saved: Path) -> None:
    loaded = HarnessMaterial.load(saved)
    assert _fingerprint(loaded.ca) == _fingerprint(material.ca)
    assert _fingerprint(loaded.rogue_ca) == _fingerprint(material.rogue_ca)
    assert loaded.issuer_kid == material.issuer_kid
    assert loaded.issuer_key_pem == material.issuer_key_pem
    assert loaded.rogue_ca.certificate.subject == loaded.ca.certificate.subject


def test_save_writes_exactly_the_documented_files(saved: Path) -> None:
    assert sorted(p.name for p in saved.iterdir()) == sorted(PRIVATE + PUBLIC)


@pytest.mark.usefixtures("umask_zero")
def test_private_keys_are_0600_from_creation_on(
    material: HarnessMaterial, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ca.key").write_bytes(b"an older key, world-readable")
    (tmp_path / "ca.key").chmod(0o644)
    modes_at_rename: dict[str, int] = {}
    real_replace = os.replace

    def spying_replace(src: str, dst: Path) -> None:
        modes_at_rename[Path(dst).name] = stat.S_IMODE(os.stat(src).st_mode)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spying_replace)
    material.save(tmp_path)
    for name in PRIVATE:
        assert modes_at_rename[name] == 0o600, name
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    for name in PUBLIC:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_public_jwks_has_one_key_per_family_and_no_private_member(material: HarnessMaterial, saved: Path) -> None:
    jwks = material.public_jwks()
    assert json.loads((saved / "issuer.jwks.json").read_text()) == jwks
    key, rsa_key, okp_key = jwks["keys"]
    assert (rsa_key["kty"], okp_key["kty"], okp_key["crv"]) == ("RSA", "OKP", "Ed25519")
    assert len({k["kid"] for k in jwks["keys"]}) == 3
    assert not any(set(k) & {"d", "p", "q", "dp", "dq", "qi"} for k in jwks["keys"])
    assert {
        "kty": "EC",
        "crv": "P-256",
        "kid": material.issuer_kid,
        "use": "sig",
        "alg": "ES256",
    }.items() <= key.items()
    assert set(key) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert "d" not in key


def test_kid_is_the_rfc7638_thumbprint(material: HarnessMaterial) -> None:
    key = material.public_jwks()["keys"][0]
    members = json.dumps({m: key[m] for m in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    digest = hashlib.sha256(members.encode()).digest()
    assert material.issuer_kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_published_keys_verify_tokens_signed_with_the_issuer_key(material: HarnessMaterial, saved: Path) -> None:
    signing_key = ECKey.import_key(material.issuer_key_pem)
    token = jwt.encode({"alg": "ES256", "kid": material.issuer_kid}, {"iss": "ecs"}, signing_key)
    jwks = KeySet.import_key_set(json.loads((saved / "issuer.jwks.json").read_text()))
    assert jwt.decode(token, jwks, algorithms=["ES256"]).claims == {"iss": "ecs"}
    pem_key = ECKey.import_key((saved / "issuer.pem").read_bytes())
    assert jwt.decode(token, pem_key, algorithms=["ES256"]).claims == {"iss": "ecs"}


def test_readme_says_what_to_provision(material: HarnessMaterial, saved: Path) -> None:
    readme = (saved / "README.txt").read_text()
    assert "TEST ONLY" in readme
    assert material.issuer_kid in readme
    for name in ("ca.pem", "ca.key", "issuer.jwks.json", "issuer.pem", "issuer-key.pem", "rogue-ca.pem"):
        assert name in readme


@pytest.mark.parametrize("name", SOURCES)
def test_load_names_a_missing_file(saved: Path, name: str) -> None:
    (saved / name).unlink()
    with pytest.raises(ConfigError) as raised:
        HarnessMaterial.load(saved)
    assert raised.value.file == str(saved / name)
    assert raised.value.problem == "file is missing"
    assert f"conformance pki export {saved}" in raised.value.fix


@pytest.mark.parametrize("name", SOURCES)
def test_load_names_a_corrupted_file(saved: Path, name: str) -> None:
    (saved / name).write_bytes(b"-----BEGIN GARBAGE-----\nnot base64\n")
    with pytest.raises(ConfigError) as raised:
        HarnessMaterial.load(saved)
    assert raised.value.file == str(saved / name)


def test_load_blames_a_key_that_does_not_match_its_certificate(saved: Path) -> None:
    (saved / "ca.key").write_bytes((saved / "rogue-ca.key").read_bytes())
    with pytest.raises(ConfigError, match="does not belong") as raised:
        HarnessMaterial.load(saved)
    assert raised.value.file == str(saved / "ca.key")


def test_load_blames_a_leaf_certificate_posing_as_the_ca(material: HarnessMaterial, saved: Path) -> None:
    (saved / "ca.pem").write_bytes(material.ca.issue_client_cert("eec-1").cert_chain_pems[0].bytes())
    with pytest.raises(ConfigError, match="not a CA certificate") as raised:
        HarnessMaterial.load(saved)
    assert raised.value.file == str(saved / "ca.pem")


@pytest.mark.parametrize(
    "key",
    [
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
        lambda: ec.generate_private_key(ec.SECP384R1()),
    ],
    ids=["rsa", "p384"],
)
def test_load_refuses_an_issuer_key_unfit_for_es256(saved: Path, key: Callable[[], PrivateKeyTypes]) -> None:
    pem = key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (saved / "issuer-key.pem").write_bytes(pem)
    with pytest.raises(ConfigError, match="not an EC P-256 key") as raised:
        HarnessMaterial.load(saved)
    assert raised.value.file == str(saved / "issuer-key.pem")


def test_load_or_create_creates_once_then_reloads(tmp_path: Path) -> None:
    first = HarnessMaterial.load_or_create(tmp_path / "fresh")
    assert (tmp_path / "fresh" / "issuer.jwks.json").exists()
    again = HarnessMaterial.load_or_create(tmp_path / "fresh")
    assert _fingerprint(again.ca) == _fingerprint(first.ca)
    assert again.issuer_kid == first.issuer_kid


def test_load_or_create_never_replaces_partial_material(saved: Path) -> None:
    ca_pem = (saved / "ca.pem").read_bytes()
    (saved / "rogue-ca.key").unlink()
    with pytest.raises(ConfigError) as raised:
        HarnessMaterial.load_or_create(saved)
    assert raised.value.file == str(saved / "rogue-ca.key")
    assert (saved / "ca.pem").read_bytes() == ca_pem


def test_exported_client_identity_is_accepted_by_a_server_trusting_ca_pem(
    material: HarnessMaterial, saved: Path
) -> None:
    cert_path, key_path = material.export_client_identity(saved / "eecs", common_name="eec-42", filename_stem="eec")
    assert (cert_path.name, key_path.name) == ("eec.pem", "eec.key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.subject.rfc4514_string().endswith("CN=eec-42")
    client = ssl.create_default_context(cafile=saved / "ca.pem")
    client.load_cert_chain(cert_path, key_path)
    assert handshake(_server_trusting(saved / "ca.pem", material), client).accepted
    # Negative control: a server trusting another CA with the same DN refuses the same identity.
    assert not handshake(_server_trusting(saved / "rogue-ca.pem", material), client).accepted


def _server_trusting(cafile: Path, material: HarnessMaterial) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=cafile)
    material.ca.issue_server_cert("localhost").configure_cert(ctx)
    return ctx


def _fingerprint(ca: TestCA) -> bytes:
    return ca.certificate.fingerprint(hashes.SHA256())


def test_material_files_are_read_only_if_regular(saved: Path) -> None:
    (saved / "ca.key").unlink()
    os.mkfifo(saved / "ca.key")  # opened for reading, it would block until a writer came
    with pytest.raises(ConfigError) as raised:
        HarnessMaterial.load(saved)
    assert raised.value.file == str(saved / "ca.key")
    assert "is a FIFO (named pipe), not a regular file" in str(raised.value)


def test_missing_sources_lists_what_load_needs(saved: Path, tmp_path: Path) -> None:
    assert missing_sources(saved) == []
    (saved / "issuer-key.pem").unlink()
    (saved / "issuer.pem").unlink()  # derived from issuer-key.pem: not a source
    assert missing_sources(saved) == ["issuer-key.pem"]
    assert missing_sources(tmp_path / "absent") == list(SOURCES)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "PS256", "EdDSA"])
def test_each_declared_algorithm_signs_with_its_familys_key(material: HarnessMaterial, algorithm: str) -> None:
    from conformance.issued_tokens import verify_signature
    from conformance.peers.fake_ecs_issuer import TokenIssuer

    issuer = TokenIssuer.from_pem(material.issuer_key_for(algorithm), issuer="ecs.example.test", algorithm=algorithm)
    assert issuer.kid in material.issuer_kids().values()
    token = issuer.token(eec_id="eec-1", gpsi="msisdn-491700000001", audience="ees.example.test", scope=["s"])
    assert verify_signature(token, material.public_jwks()) == (True, "")


def test_an_old_folder_gains_the_new_issuer_keys_on_export_and_keeps_the_rest(
    material: HarnessMaterial, saved: Path
) -> None:
    from conformance.cli import main

    for name in ("issuer-rsa.pem", "issuer-ed25519.pem", "issuer-rsa.pub.pem", "issuer-ed25519.pub.pem"):
        (saved / name).unlink()
    old = HarnessMaterial.load(saved)
    assert set(old.issuer_keys) == {"ec"}
    with pytest.raises(ConfigError, match=r"issuer-rsa\.pem: issuer key: is missing.*pki export"):
        old.issuer_key_for("RS256")
    assert main(["pki", "export", str(saved)]) == 0
    again = HarnessMaterial.load(saved)
    assert set(again.issuer_keys) == {"ec", "rsa", "okp"}
    assert again.issuer_kid == material.issuer_kid
    assert again.ca.cert_pem.bytes() == material.ca.cert_pem.bytes()
    assert len(json.loads((saved / "issuer.jwks.json").read_text())["keys"]) == 3


def test_the_issuer_key_for_an_algorithm_without_one_is_one_clear_error(material: HarnessMaterial) -> None:
    with pytest.raises(ConfigError, match="no key for 'ES384'"):
        material.issuer_key_for("ES384")
