"""Real vendor keys and certificates for declaration tests: plain or encrypted PEM, and JWKs.

The loader decrypts vendor keys and matches them to their certificate or algorithm, so the
files a test declaration references must be the real thing, not placeholders.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc.jwk import RSAKey

PASSPHRASE = "correct horse battery staple"


def key_pem(key: PrivateKeyTypes, passphrase: str | None = None) -> bytes:
    """``key`` as PKCS#8 PEM, encrypted (``-----BEGIN ENCRYPTED PRIVATE KEY-----``) with a passphrase."""
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def legacy_encrypted_pem(key: rsa.RSAPrivateKey, passphrase: str) -> bytes:
    """The OpenSSL 1.x form: ``BEGIN RSA PRIVATE KEY`` with ``Proc-Type: 4,ENCRYPTED`` headers."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(passphrase.encode()),
    )


@functools.cache
def eec_identity() -> tuple[bytes, PrivateKeyTypes]:
    """An EEC certificate chain (PEM) from a throwaway CA, and its private key."""
    leaf = trustme.CA().issue_cert("eec-1.example.test")
    chain = b"".join(pem.bytes() for pem in leaf.cert_chain_pems)
    return chain, serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)


@functools.cache
def ec_key(curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    return ec.generate_private_key(curves[curve])


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def rsa_jwk() -> str:
    """The private JWK of :func:`rsa_key`, as JSON text."""
    return json.dumps(RSAKey.import_key(rsa_key()).as_dict(private=True))


def write_eec(directory: Path, passphrase: str | None = None, stem: str = "eec") -> tuple[Path, Path]:
    """``<stem>.pem`` and ``<stem>.key`` in ``directory``: a matching EEC certificate and key."""
    chain, key = eec_identity()
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(chain)
    key_path.write_bytes(key_pem(key, passphrase))
    return cert_path, key_path
