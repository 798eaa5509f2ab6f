"""Client certificates the fake EEC can present: the good one and the deliberately bad ones.

Every variant is issued for the EEC's own identity (CN = EEC ID), so that a refusal can only
be explained by the defect the variant carries.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from conformance.errors import Inconclusive, PeerError
from conformance.evidence import CertSummary
from conformance.files import read_regular_file
from conformance.peers.eec import ClientCredential
from conformance.peers.material import HarnessMaterial
from conformance.peers.pki import KeyType, LeafCert, self_signed_client_cert, summarize_der

CertVariant = Literal[
    "valid",
    "none",
    "untrusted-ca",
    "rogue-ca",
    "expired",
    "not-yet-valid",
    "wrong-eku",
    "no-digital-signature",
]
VARIANTS: tuple[CertVariant, ...] = CertVariant.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FileCredential:
    """A vendor-provided client certificate chain and key, read from PEM files.

    ``passphrase`` decrypts an encrypted key (the declaration's ``key_passphrase_env``).
    """

    cert: Path
    key: Path
    passphrase: bytes | None = field(default=None, repr=False)

    def configure_cert(self, ctx: ssl.SSLContext) -> None:
        try:
            ctx.load_cert_chain(self.cert, self.key, password=self._passphrase)
        except (OSError, ssl.SSLError) as exc:
            raise PeerError(f"cannot load client certificate {self.cert} / key {self.key}: {exc}") from exc

    def _passphrase(self) -> bytes:
        # Always a callback: with password=None OpenSSL asks on the terminal ("Enter PEM pass
        # phrase:") and blocks the run, or fails with EINVAL when there is no terminal.
        if self.passphrase is None:
            raise PeerError(
                f"{self.key} is an encrypted private key and no passphrase was given: "
                "set [[eec]] key_passphrase_env, or decrypt the key"
            )
        return self.passphrase

    def summary(self) -> CertSummary:
        der = ssl.PEM_cert_to_DER_cert(read_regular_file(self.cert).decode("ascii"))
        return summarize_der(der)


def self_signed_like(credential: FileCredential) -> LeafCert:
    """A fresh self-signed certificate with the subject of ``credential``'s, and a key of its kind:
    what an impostor of a ``self_signed_tls_client_auth`` client would present."""
    original = x509.load_pem_x509_certificate(read_regular_file(credential.cert))
    key_type: KeyType = "rsa" if isinstance(original.public_key(), rsa.RSAPublicKey) else "ec"
    return self_signed_client_cert(subject=original.subject, key_type=key_type)


class EecIdentity(Protocol):
    """What the factory needs of a declared EEC (``targets.model.EecIdentity`` is one)."""

    @property
    def eec_id(self) -> str: ...
    @property
    def cert(self) -> Path | None: ...
    @property
    def key(self) -> Path | None: ...
    @property
    def key_passphrase(self) -> bytes | None: ...


class CredentialFactory:
    """Issues (and caches) the client certificate variants for the EECs of one target."""

    def __init__(self, material: HarnessMaterial, *, vendor_certs: bool) -> None:
        self.material = material
        self.vendor_certs = vendor_certs
        self._cache: dict[tuple[str, str], LeafCert] = {}
        self._lock = threading.Lock()

    def for_eec(self, eec: EecIdentity, variant: CertVariant = "valid") -> ClientCredential | None:
        """The credential to present for ``eec``; ``None`` for the ``none`` variant."""
        if variant == "none":
            return None
        if variant == "valid" and self.vendor_certs:
            if eec.cert is None or eec.key is None:
                raise PeerError(f"EEC {eec.eec_id}: client_certs = 'vendor' but no cert/key declared")
            return FileCredential(eec.cert, eec.key, eec.key_passphrase)
        if self.vendor_certs and variant in ("expired", "not-yet-valid", "wrong-eku", "no-digital-signature"):
            raise Inconclusive(
                f"missing test data: with harness.client_certs = 'vendor' the harness cannot issue a '{variant}' "
                "certificate under your CA; use client_certs = 'harness' (provision ca.pem) to run this case"
            )
        with self._lock:
            key = (eec.eec_id, variant)
            if key not in self._cache:
                self._cache[key] = self._issue(eec.eec_id, variant)
            return self._cache[key]

    def _issue(self, eec_id: str, variant: CertVariant) -> LeafCert:
        now = dt.datetime.now(dt.UTC)
        ca = self.material.ca
        if variant == "valid":
            return ca.issue_client_cert(eec_id)
        if variant == "untrusted-ca":
            return self.material.stranger_ca.issue_client_cert(eec_id)
        if variant == "rogue-ca":
            return self.material.rogue_ca.issue_client_cert(eec_id)
        if variant == "expired":
            return ca.issue_client_cert(
                eec_id, not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
            )
        if variant == "not-yet-valid":
            return ca.issue_client_cert(
                eec_id, not_before=now + dt.timedelta(days=1), not_after=now + dt.timedelta(days=30)
            )
        if variant == "wrong-eku":
            return ca.issue_client_cert(eec_id, eku=("serverAuth",))
        if variant == "no-digital-signature":
            return ca.issue_client_cert(eec_id, key_usage=("key_encipherment",), key_type="rsa")
        raise PeerError(f"unknown certificate variant {variant!r}; known: {', '.join(VARIANTS)}")
