"""The harness material directory: what a vendor provisions once, and the harness reuses.

A target under test has to trust the harness twice: its TLS server trusts client certificates
from the harness CA (TS 33.558 6.2/6.3 mutual authentication), and an EES trusts access tokens
signed by the harness's fake ECS (6.3). Both trust anchors must survive between runs, so they
live in one directory::

    ca.pem / ca.key              the harness CA; a vendor adds ca.pem to its client trust store
    rogue-ca.pem / rogue-ca.key  its rogue twin (same DN, other key), kept so runs repeat
    stranger-ca.pem / .key       an unrelated CA (other DN): the plain "untrusted CA" case
    issuer-key.pem               the fake ECS's ES256 signing key (EC P-256)
    issuer-rsa.pem               its RS256/PS256 signing key (RSA 2048)
    issuer-ed25519.pem           its EdDSA signing key (Ed25519)
    issuer.pem                   the ES256 key's public key (PEM)
    issuer-rsa.pub.pem, issuer-ed25519.pub.pem  the others' public keys (PEM)
    issuer.jwks.json             every issuer public key, distinct kids; a vendor's EES trusts it
    oauth-<EEC ID>.pem/.key/.jwk.json  (``pki export``) each EEC's self-signed OAuth client
                                 certificate, key and public JWK, which an ECS token endpoint registers
    README.txt                   the above, for the person provisioning the target

Private key files are created mode 0600. Everything here is TEST ONLY.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc.jwk import ECKey, Key, KeyParameters, OKPKey, RSAKey

from conformance.errors import ConfigError
from conformance.files import Invalid, Missing, read_regular_file
from conformance.peers.pki import TestCA, self_signed_client_cert

__all__ = ["HarnessMaterial", "missing_sources"]

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644

CA_CERT, CA_KEY = "ca.pem", "ca.key"
ROGUE_CERT, ROGUE_KEY = "rogue-ca.pem", "rogue-ca.key"
STRANGER_CERT, STRANGER_KEY = "stranger-ca.pem", "stranger-ca.key"
ISSUER_KEY, ISSUER_PUBLIC, ISSUER_JWKS = "issuer-key.pem", "issuer.pem", "issuer.jwks.json"
ISSUER_RSA_KEY, ISSUER_ED25519_KEY = "issuer-rsa.pem", "issuer-ed25519.pem"
ISSUER_KEY_FILES = {"ec": ISSUER_KEY, "rsa": ISSUER_RSA_KEY, "okp": ISSUER_ED25519_KEY}
"""The issuer signing key of each key family, by file name. Only the EC key is a required source:
a folder exported before the RSA and Ed25519 keys existed gains them on `conformance pki export`."""
ISSUER_PUBLIC_FILES = {"ec": ISSUER_PUBLIC, "rsa": "issuer-rsa.pub.pem", "okp": "issuer-ed25519.pub.pem"}
_JWKS_ALG = {"ec": "ES256"}
"""The ``alg`` published with each family's key: RSA signs RS256 and PS256, Ed25519 EdDSA or
Ed25519 (RFC 9864), so those keys carry none (RFC 7517 4.4: optional) and fit either."""
RSA_BITS = 2048
README = "README.txt"
SOURCES = (CA_CERT, CA_KEY, ROGUE_CERT, ROGUE_KEY, STRANGER_CERT, STRANGER_KEY, ISSUER_KEY)
"""The files :meth:`HarnessMaterial.load` reads; the public ones are derived from them."""

README_TEXT = """\
TS 33.558 conformance harness material -- TEST ONLY, never provision it in production.

What the vendor provisions on the ECS/EES under test:
  ca.pem            trust anchor for TLS client certificates (the harness plays the EEC)
  issuer.jwks.json  public key of the trusted token issuer (the harness plays the ECS), as a JWKS;
  issuer.pem        the ES256 key as a PEM public key, for EESs that take one
  issuer-rsa.pub.pem / issuer-ed25519.pub.pem  the RSA (RS256/PS256) and Ed25519 (EdDSA) public keys
  oauth-<EEC ID>.pem / .jwk.json  (written by `pki export`, never replaced) an EEC's self-signed OAuth
                    client certificate and its public key: what an ECS token endpoint registers for
                    self_signed_tls_client_auth / private_key_jwt ([[eec]] oauth_cert, oauth_key)

Kept by the harness, never given to the target:
  ca.key            private key of the harness CA
  rogue-ca.pem/.key a rogue twin of the CA (same subject DN, other key) for negative tests
  stranger-ca.pem/.key an unrelated CA for negative tests
  issuer-key.pem    private ES256 key that signs the harness's access tokens (kid {kid})
  issuer-rsa.pem    private RSA key for RS256/PS256 tokens; issuer-ed25519.pem for EdDSA tokens
                    (which one signs follows [ees.token_issuer] algorithm; issuer.jwks.json has all)

Regenerate with `conformance pki export DIR`; the target must then be provisioned again.
"""


class HarnessMaterial:
    """The harness CA, its rogue twin, and the fake ECS's token signing key.

    Attributes:
      ca: The CA the target trusts for client certificates.
      rogue_ca: Its rogue twin: same DN, other key; the target must refuse its leaves.
      stranger_ca: An unrelated CA (another DN); the target must refuse its leaves too.
      issuer_key_pem: The fake ECS's EC P-256 private key, PKCS#8 PEM, for ES256.
      issuer_kid: The RFC 7638 thumbprint of that key, the ``kid`` of every harness token.
    """

    def __init__(
        self,
        ca: TestCA,
        rogue_ca: TestCA,
        stranger_ca: TestCA,
        issuer_key_pem: bytes,
        other_issuer_keys: dict[str, bytes] | None = None,
        directory: Path | None = None,
    ) -> None:
        self.ca, self.rogue_ca, self.stranger_ca, self.issuer_key_pem = ca, rogue_ca, stranger_ca, issuer_key_pem
        self.issuer_kid: str = ECKey.import_key(issuer_key_pem).thumbprint()
        self.issuer_keys: dict[str, bytes] = {"ec": issuer_key_pem, **(other_issuer_keys or {})}
        """Issuer private keys (PKCS#8 PEM) by family: ``ec`` always, ``rsa`` and ``okp`` when present."""
        self.directory = directory
        """Where the material was loaded from; None for a throwaway set."""

    def issuer_kids(self) -> dict[str, str]:
        """The ``kid`` (RFC 7638 thumbprint) of each family's issuer key."""
        return {family: _public_jwk(pem, None)["kid"] for family, pem in self.issuer_keys.items()}

    def issuer_key_for(self, algorithm: str) -> bytes:
        """The issuer private key that signs ``algorithm``; ConfigError when the material has none."""
        family = issuer_family(algorithm)
        if family is None:
            raise ConfigError(
                self.directory or "<harness material>",
                "issuer key",
                f"the harness material holds no key for {algorithm!r}",
                'use ES256, RS256/RS384/RS512, PS256/PS384/PS512 or EdDSA, or source = "vendor"',
            )
        if family not in self.issuer_keys:
            where = self.directory or Path("<harness material>")
            raise ConfigError(
                where / ISSUER_KEY_FILES[family],
                "issuer key",
                f"is missing: this folder predates the {family.upper()} issuer key that {algorithm} needs",
                f"run `conformance pki export {where}` (it adds the key, keeps the rest), then provision "
                "the new issuer.jwks.json",
            )
        return self.issuer_keys[family]

    def add_missing_issuer_keys(self) -> list[str]:
        """Generate the issuer keys of the families this material lacks; the files they go to."""
        added = []
        for family in ISSUER_KEY_FILES:
            if family not in self.issuer_keys:
                self.issuer_keys[family] = _new_issuer_key(family)
                added.append(ISSUER_KEY_FILES[family])
        return added

    @classmethod
    def create(cls) -> HarnessMaterial:
        """All fresh material: a new CA, its twin, and a new issuer key."""
        ca = TestCA.create()
        # Own key identifier: the reference's accepts-any-client-cert fault trusts both CAs at once.
        stranger = TestCA.create(common_name="Unrelated Test CA")
        others = {family: _new_issuer_key(family) for family in ("rsa", "okp")}
        return cls(ca, ca.rogue_twin(same_key_identifier=False), stranger, _new_issuer_key("ec"), others)

    @classmethod
    def load(cls, directory: Path | str) -> HarnessMaterial:
        """Load the material :meth:`save` wrote.

        Raises:
          ConfigError: naming the first file that is missing, unreadable, or broken.
        """
        directory = Path(directory)
        ca = _load_ca(directory, CA_CERT, CA_KEY)
        rogue_ca = _load_ca(directory, ROGUE_CERT, ROGUE_KEY)
        stranger_ca = _load_ca(directory, STRANGER_CERT, STRANGER_KEY)
        issuer_key_pem = _load_issuer_key(directory)
        others = {
            family: _load_other_issuer_key(directory, family)
            for family in ("rsa", "okp")
            if (directory / ISSUER_KEY_FILES[family]).exists()
        }
        return cls(ca, rogue_ca, stranger_ca, issuer_key_pem, others, directory)

    @classmethod
    def load_or_create(cls, directory: Path | str) -> HarnessMaterial:
        """Load the material in ``directory``; if it holds none yet, create and save it there.

        A directory holding only part of the material is an error, never silently replaced:
        the target may already trust what is there.
        """
        directory = Path(directory)
        if not any((directory / name).exists() for name in SOURCES):
            material = cls.create()
            material.save(directory)
            return material
        return cls.load(directory)

    def save(self, directory: Path | str) -> None:
        """Write every file (see the module docstring), private keys mode 0600 from the start."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _write(directory / CA_CERT, self.ca.cert_pem.bytes())
        _write(directory / CA_KEY, self.ca.private_key_pem.bytes(), PRIVATE_MODE)
        _write(directory / ROGUE_CERT, self.rogue_ca.cert_pem.bytes())
        _write(directory / ROGUE_KEY, self.rogue_ca.private_key_pem.bytes(), PRIVATE_MODE)
        _write(directory / STRANGER_CERT, self.stranger_ca.cert_pem.bytes())
        _write(directory / STRANGER_KEY, self.stranger_ca.private_key_pem.bytes(), PRIVATE_MODE)
        for family, pem in self.issuer_keys.items():
            _write(directory / ISSUER_KEY_FILES[family], pem, PRIVATE_MODE)
            _write(directory / ISSUER_PUBLIC_FILES[family], _public_pem(pem))
        _write(directory / ISSUER_JWKS, json.dumps(self.public_jwks(), indent=2).encode() + b"\n")
        _write(directory / README, README_TEXT.format(kid=self.issuer_kid).encode())

    def export_client_identity(
        self, directory: Path | str, *, common_name: str, filename_stem: str
    ) -> tuple[Path, Path]:
        """Issue a valid client certificate for one EEC ID and write it for a vendor's own client.

        Returns:
          The paths of ``<stem>.pem`` (the certificate chain) and ``<stem>.key`` (mode 0600).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        leaf = self.ca.issue_client_cert(common_name)
        cert_path, key_path = directory / f"{filename_stem}.pem", directory / f"{filename_stem}.key"
        _write(cert_path, b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
        _write(key_path, leaf.private_key_pem.bytes(), PRIVATE_MODE)
        return cert_path, key_path

    def export_oauth_client(self, directory: Path | str, *, common_name: str, filename_stem: str) -> tuple[Path, bool]:
        """Write a self-signed OAuth client certificate for one EEC, once: the ECS registers it.

        ``<stem>.pem`` (the certificate, for ``self_signed_tls_client_auth``), ``<stem>.key`` (mode
        0600) and ``<stem>.jwk.json`` (its public key as a JWK, for an ECS that registers keys for
        ``private_key_jwt``). An existing one is kept: a new one would void the ECS's registration.

        Returns:
          The path of ``<stem>.pem``, and whether it was created now.
        """
        directory = Path(directory)
        cert_path, key_path = directory / f"{filename_stem}.pem", directory / f"{filename_stem}.key"
        if cert_path.exists() and key_path.exists():
            return cert_path, False
        directory.mkdir(parents=True, exist_ok=True)
        leaf = self_signed_client_cert(common_name)
        _write(cert_path, leaf.cert_chain_pems[0].bytes())
        _write(key_path, leaf.private_key_pem.bytes(), PRIVATE_MODE)
        public = _jwk(leaf.private_key_pem.bytes())
        jwk = public.as_dict(private=False) | {"kid": public.thumbprint(), "use": "sig"}
        _write(directory / f"{filename_stem}.jwk.json", json.dumps(jwk, indent=2).encode() + b"\n")
        return cert_path, True

    def public_jwks(self) -> dict[str, Any]:
        """Every issuer public key as one JWKS, each with its thumbprint ``kid`` and ``use: sig``;
        the EC key first, with ``alg: ES256`` (as before there were others)."""
        keys = [_public_jwk(pem, _JWKS_ALG.get(family)) for family, pem in self.issuer_keys.items()]
        return {"keys": copy.deepcopy(keys)}

    def issuer_public_pem(self) -> bytes:
        """The ES256 issuer key's public key, SubjectPublicKeyInfo PEM."""
        return _public_pem(self.issuer_key_pem)


def issuer_family(algorithm: str) -> str | None:
    """Which harness issuer key signs ``algorithm``: ``ec`` (ES256), ``rsa`` (RS*, PS*), ``okp``
    (EdDSA, Ed25519); None for one the material has no key for (ES384, ES512)."""
    if algorithm == "ES256":
        return "ec"
    if algorithm[:2] in ("RS", "PS"):
        return "rsa"
    if algorithm in ("EdDSA", "Ed25519"):
        return "okp"
    return None


_PARSED_KEYS: dict[bytes, PrivateKeyTypes] = {}
"""PEM -> key, for :func:`_private_key`; a key generated here goes in as it is made."""
_MAX_PARSED_KEYS = 64


def _private_key(pem: bytes) -> PrivateKeyTypes:
    """An unencrypted PEM private key, parsed once per process: cryptography checks a key as it
    loads it, ~50 ms for RSA, and a run reads the same few keys when it creates, saves, loads
    and publishes its material. Raises ValueError or TypeError (encrypted) like the loader."""
    key = _PARSED_KEYS.get(pem)
    if key is None:
        key = serialization.load_pem_private_key(pem, password=None)
        _remember(pem, key)
    return key


def _remember(pem: bytes, key: PrivateKeyTypes) -> None:
    if len(_PARSED_KEYS) >= _MAX_PARSED_KEYS:
        _PARSED_KEYS.clear()
    _PARSED_KEYS[pem] = key


@functools.lru_cache(maxsize=32)
def _public_jwk(pem: bytes, alg: str | None) -> dict[str, Any]:
    """The public JWK of one issuer key, with its thumbprint ``kid`` and ``use: sig``.

    Cached by the key's PEM: loading a PEM key checks it, which for RSA costs ~50 ms, and a
    run asks for the same JWKS several times (saving the material, starting the reference).
    """
    key = _jwk(pem)
    parameters: KeyParameters = {"kid": key.thumbprint(), "use": "sig"}
    if alg is not None:
        parameters["alg"] = alg
    public: dict[str, Any] = key.as_dict(private=False, **parameters)
    return public


def _jwk(pem: bytes, parameters: KeyParameters | None = None) -> Key:
    native = _private_key(pem)
    if isinstance(native, rsa.RSAPrivateKey):
        return RSAKey.import_key(native, parameters)
    if isinstance(native, ed25519.Ed25519PrivateKey):
        return OKPKey.import_key(native, parameters)
    return ECKey.import_key(native, parameters)  # type: ignore[arg-type]


def _new_issuer_key(family: str) -> bytes:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if family == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    elif family == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _remember(pem, key)  # saving and publishing the new key then need not parse (and check) it again
    return pem


@functools.lru_cache(maxsize=32)
def _public_pem(private_pem: bytes) -> bytes:
    key = _private_key(private_pem)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def missing_sources(directory: Path) -> list[str]:
    """The files of the material :meth:`HarnessMaterial.load` needs that ``directory`` lacks."""
    return [name for name in SOURCES if not (directory / name).is_file()]


def _load_ca(directory: Path, cert_name: str, key_name: str) -> TestCA:
    """Load one CA, blaming the right file: the certificate, or the key that goes with it."""
    cert_pem = _read(directory, cert_name, "CA certificate")
    key_pem = _read(directory, key_name, "CA private key")
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise _broken(directory, cert_name, "CA certificate", f"not a PEM certificate ({exc})") from exc
    if not _is_ca(certificate):
        raise _broken(directory, cert_name, "CA certificate", "not a CA certificate")
    try:
        return TestCA.from_pem(cert_pem, key_pem)
    except (ValueError, TypeError) as exc:  # TypeError: an encrypted key
        raise _broken(directory, key_name, "CA private key", f"unusable with {cert_name} ({exc})") from exc


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _load_issuer_key(directory: Path) -> bytes:
    what = "issuer signing key"
    key_pem = _read(directory, ISSUER_KEY, what)
    try:
        key = _private_key(key_pem)
    except (ValueError, TypeError) as exc:
        raise _broken(directory, ISSUER_KEY, what, f"not an unencrypted PEM private key ({exc})") from exc
    if not (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)):
        raise _broken(directory, ISSUER_KEY, what, "not an EC P-256 key, which ES256 needs")
    return key_pem


def _load_other_issuer_key(directory: Path, family: str) -> bytes:
    name, what = ISSUER_KEY_FILES[family], f"{family.upper()} issuer signing key"
    key_pem = _read(directory, name, what)
    try:
        key = _private_key(key_pem)
    except (ValueError, TypeError) as exc:
        raise _broken(directory, name, what, f"not an unencrypted PEM private key ({exc})") from exc
    wanted = {"rsa": rsa.RSAPrivateKey, "okp": ed25519.Ed25519PrivateKey}[family]
    if not isinstance(key, wanted):
        raise _broken(directory, name, what, f"not an {'RSA' if family == 'rsa' else 'Ed25519'} private key")
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise _broken(directory, name, what, f"a {key.key_size}-bit RSA key; JWS needs 2048 bits or more")
    return key_pem


def _read(directory: Path, name: str, what: str) -> bytes:
    try:
        return read_regular_file(directory / name)
    except Missing:
        raise _broken(directory, name, what, "file is missing") from None
    except Invalid as invalid:
        raise _broken(directory, name, what, invalid.problem) from None


def _broken(directory: Path, name: str, what: str, problem: str) -> ConfigError:
    # `pki export` keeps whatever material is there, so the fix has to say "move it away" first.
    fix = f"restore it, or move the old files away and run `conformance pki export {directory}`"
    return ConfigError(directory / name, what, problem, fix)


def _write(path: Path, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Write ``data`` atomically, the file carrying ``mode`` from its creation on."""
    # A temp file opened with the final mode, then renamed: a key is never readable by others,
    # not even for a moment, and an existing 0644 file is replaced rather than reused.
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: mode 0600
    try:
        if mode != PRIVATE_MODE:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
