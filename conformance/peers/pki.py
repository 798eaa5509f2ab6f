"""A trustme-shaped test PKI: the harness CA, its rogue twin, and the leaves they issue.

One idea, three nouns (:class:`TestCA`, :class:`LeafCert`, and trustme's ``Blob``), every way a
client certificate can deviate a keyword-only knob on :meth:`TestCA.issue_client_cert`::

    ca = TestCA.create()
    good = ca.issue_client_cert("eec-1")
    expired = ca.issue_client_cert("eec-1", not_after=datetime.now(UTC) - timedelta(days=1))
    wrong_eku = ca.issue_client_cert("eec-1", eku=("serverAuth",))
    rogue = ca.rogue_twin().issue_client_cert("eec-1")

Server certificates come from trustme; client certificates are signed here with ``cryptography``
because trustme hard-codes clientAuth+serverAuth+codeSigning and has no URI SANs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from conformance.evidence import CertSummary

__all__ = ["Blob", "KeyType", "LeafCert", "TestCA", "self_signed_client_cert", "summarize", "summarize_der"]

Blob = trustme.Blob
KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_Ext = TypeVar("_Ext", bound=x509.ExtensionType)

DEFAULT_CA_NAME = "TS 33.558 Harness Test CA"
DEFAULT_ORGANIZATION = "TS 33.558 conformance harness (TEST ONLY)"
CA_LIFETIME = timedelta(days=3650)
"""Vendors provision the harness CA once; ten years outlives any test campaign."""
LEAF_LIFETIME = timedelta(days=365)
CLOCK_SKEW = timedelta(hours=1)
"""Leaves start an hour in the past so a target whose clock runs behind still accepts them."""

EKU_NAMES: dict[str, ObjectIdentifier] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
    "anyExtendedKeyUsage": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}
"""The OpenSSL short names of extended key usages; anything else is given as a dotted OID."""

KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)
"""The bits of the key usage extension, named as :class:`cryptography.x509.KeyUsage` names them."""

_SAN_PREFIXES: dict[type[x509.GeneralName], str] = {
    x509.DNSName: "DNS",
    x509.IPAddress: "IP",
    x509.UniformResourceIdentifier: "URI",
    x509.RFC822Name: "email",
}


class TestCA:
    """A certificate authority the harness controls; the target is provisioned to trust it.

    Get one from :meth:`create` (fresh) or :meth:`from_pem` (persisted, or a vendor's test CA).
    """

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, certificate: x509.Certificate, private_key: PrivateKey) -> None:
        self._certificate = certificate
        self._private_key = private_key

    @classmethod
    def create(
        cls,
        *,
        common_name: str = DEFAULT_CA_NAME,
        organization: str = DEFAULT_ORGANIZATION,
        key_type: KeyType = "ec",
    ) -> TestCA:
        """A fresh self-signed root CA, valid from an hour ago for ten years.

        Args:
          common_name: The CN of the CA's subject (and issuer) DN.
          organization: The O of that DN; it also goes into every client certificate.
          key_type: ``"ec"`` (P-256) or ``"rsa"`` (2048 bits).
        """
        key = _generate_key(key_type, 2048)
        subject = _name(common_name, organization)
        not_before = datetime.now(UTC) - CLOCK_SKEW
        key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        return cls(_self_signed_ca(subject, key, not_before, not_before + CA_LIFETIME, key_id), key)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> TestCA:
        """Load a CA from its PEM certificate and unencrypted PEM private key.

        Raises:
          ValueError: not a CA certificate, not an EC or RSA key, or the key does not match.
        """
        certificate = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"unsupported CA key type {type(key).__name__}; use an EC or RSA key")
        if _spki(key.public_key()) != _spki(certificate.public_key()):
            raise ValueError("the private key does not belong to the CA certificate")
        constraints = _extension(certificate, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise ValueError("the certificate is not a CA certificate (basicConstraints cA is not set)")
        return cls(certificate, key)

    @property
    def certificate(self) -> x509.Certificate:
        """The CA certificate, as a :mod:`cryptography` object."""
        return self._certificate

    @property
    def cert_pem(self) -> Blob:
        """The PEM CA certificate: what a target adds to its trust store."""
        return Blob(self._certificate.public_bytes(serialization.Encoding.PEM))

    @property
    def private_key_pem(self) -> Blob:
        """The CA's private key, unencrypted PKCS#8 PEM. Test only: anyone holding it is the CA."""
        return Blob(_pkcs8(self._private_key))

    @property
    def organization(self) -> str:
        """The O of the CA's subject DN, or the harness default if it has none."""
        names = self._certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(names[0].value) if names else DEFAULT_ORGANIZATION

    def rogue_twin(self, *, same_key_identifier: bool = True) -> TestCA:
        """A CA that looks like this one in everything but its key.

        Same subject and issuer DN, same validity, and by default the same subject key
        identifier: only the signature tells the twin's leaves from the real ones. A server that
        trusts this CA must refuse them (TS 33.558 6.2/6.3 mutual authentication; ECS-TLS-02,
        EES-TLS-02). OpenSSL does, with "certificate signature failure" (alert decrypt_error, not
        unknown_ca: the key identifier leads it to the real CA, whose key then fails the signature).

        Args:
          same_key_identifier: ``False`` gives the twin the key identifier of its own key, so a
            server can trust both CAs at once and still build each chain (OpenSSL picks the
            issuer by name and key identifier): what the reference's faults need.
        """
        real = self._certificate
        key = _generate_like(self._private_key)
        key_id = _extension(real, x509.SubjectKeyIdentifier) if same_key_identifier else None
        if key_id is None:
            key_id = x509.SubjectKeyIdentifier.from_public_key(
                real.public_key() if same_key_identifier else key.public_key()
            )
        twin = _self_signed_ca(real.subject, key, real.not_valid_before_utc, real.not_valid_after_utc, key_id)
        return TestCA(twin, key)

    def issue_server_cert(
        self, *hostnames_or_ips: str, not_after: datetime | None = None, key_type: KeyType = "ec"
    ) -> LeafCert:
        """A server certificate for DNS names and IP addresses, issued by trustme.

        trustme sets the CN to the first identity and the extended key usage to serverAuth,
        clientAuth and codeSigning; it needs the CA certificate to carry a subject key
        identifier (every :meth:`create` CA does).

        Args:
          hostnames_or_ips: The subjectAltName entries (``"ecs.example.test"``, ``"127.0.0.1"``).
          not_after: The expiry; by default a year from now.
          key_type: ``"ec"`` (P-256) or ``"rsa"`` (2048 bits).
        """
        if not hostnames_or_ips:
            raise ValueError("a server certificate needs at least one hostname or IP address")
        if _extension(self._certificate, x509.SubjectKeyIdentifier) is None:
            raise ValueError("trustme issues server certificates only for a CA with a subject key identifier")
        not_before, not_after = _validity(None, not_after)
        issued = self._trustme_ca.issue_cert(
            *hostnames_or_ips,
            common_name=hostnames_or_ips[0],
            organization_name=self.organization,
            not_before=not_before,
            not_after=not_after,
            key_type=trustme.KeyType.RSA if key_type == "rsa" else trustme.KeyType.ECDSA,
        )
        return LeafCert(issued.private_key_pem.bytes(), [pem.bytes() for pem in issued.cert_chain_pems])

    def issue_client_cert(
        self,
        common_name: str,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        eku: Sequence[str] | None = ("clientAuth",),
        key_usage: Sequence[str] | None = ("digital_signature",),
        key_type: KeyType = "ec",
        rsa_key_size: int = 2048,
        uri_sans: Sequence[str] = (),
    ) -> LeafCert:
        """A client certificate for one EEC (or EAS, or EES acting as a client).

        The defaults give a certificate any server trusting this CA must accept. Each knob
        makes one deviation; naive datetimes are taken as UTC.

        Args:
          common_name: The subject CN, normally the EEC ID. The subject O is the CA's.
          not_before: Start of validity; by default an hour ago (or a day before ``not_after``
            if that is earlier), so ``not_after`` alone in the past gives an expired cert.
          not_after: End of validity; by default a year after ``not_before``.
          eku: Extended key usage names (``"clientAuth"``, ``"serverAuth"``, ...) or dotted
            OIDs; ``None`` leaves the extension out.
          key_usage: :data:`KEY_USAGES` bits to set; ``None`` leaves the extension out.
          key_type: ``"ec"`` (P-256) or ``"rsa"``.
          rsa_key_size: RSA modulus size in bits, 1024 for the weak-key variant (OpenSSL 3
            loads such a key only into a context at ``@SECLEVEL=0``).
          uri_sans: URIs for the subjectAltName extension; empty: no such extension.
        """
        key = _shared_rsa_key(rsa_key_size) if key_type == "rsa" else _generate_key(key_type, rsa_key_size)
        start, end = _validity(not_before, not_after)
        builder = self._leaf_builder(_name(common_name, self.organization), key, start, end)
        if key_usage is not None:
            builder = builder.add_extension(_key_usage(key_usage), critical=True)
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([_eku_oid(n) for n in eku]), critical=False)
        if uri_sans:
            sans = [x509.UniformResourceIdentifier(uri) for uri in uri_sans]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        certificate = builder.sign(self._private_key, hashes.SHA256())
        return LeafCert(_pkcs8(key), [certificate.public_bytes(serialization.Encoding.PEM)])

    def configure_trust(self, ctx: ssl.SSLContext) -> None:
        """Make ``ctx`` trust certificates this CA issues."""
        ctx.load_verify_locations(cadata=self.cert_pem.bytes().decode("ascii"))

    def _leaf_builder(
        self, subject: x509.Name, key: PrivateKey, not_before: datetime, not_after: datetime
    ) -> x509.CertificateBuilder:
        authority_key_id = x509.AuthorityKeyIdentifier.from_issuer_public_key(self._private_key.public_key())
        own_key_id = _extension(self._certificate, x509.SubjectKeyIdentifier)
        if own_key_id is not None:
            authority_key_id = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(own_key_id)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(authority_key_id, critical=False)
        )

    @functools.cached_property
    def _trustme_ca(self) -> trustme.CA:
        return trustme.CA.from_pem(self.cert_pem.bytes(), self.private_key_pem.bytes())


class LeafCert:
    """A certificate with its private key and chain, ready to present in a TLS handshake.

    Get one from :meth:`TestCA.issue_client_cert`, :meth:`TestCA.issue_server_cert`, or
    :meth:`from_pem` (a vendor-provided client identity).

    Attributes:
      cert_chain_pems: The leaf first, then any intermediates (never the root).
      private_key_pem: The leaf's private key, unencrypted PEM.
      private_key_and_cert_chain_pem: Both in one PEM, the form ``load_cert_chain`` takes.
    """

    def __init__(self, private_key_pem: bytes, cert_chain_pems: Sequence[bytes]) -> None:
        self.private_key_pem = Blob(private_key_pem)
        self.cert_chain_pems = [Blob(pem) for pem in cert_chain_pems]
        self.private_key_and_cert_chain_pem = Blob(private_key_pem + b"".join(cert_chain_pems))

    @classmethod
    def from_pem(cls, cert_chain_pem: bytes, private_key_pem: bytes) -> LeafCert:
        """Load a leaf from a PEM chain (leaf first) and its unencrypted PEM private key.

        Raises:
          ValueError: no certificate in the chain, or the key does not belong to the leaf.
        """
        chain = x509.load_pem_x509_certificates(cert_chain_pem)
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if _spki(key.public_key()) != _spki(chain[0].public_key()):
            raise ValueError("the private key does not belong to the first certificate of the chain")
        return cls(private_key_pem, [c.public_bytes(serialization.Encoding.PEM) for c in chain])

    @functools.cached_property
    def certificate(self) -> x509.Certificate:
        """The leaf certificate, as a :mod:`cryptography` object."""
        return x509.load_pem_x509_certificate(self.cert_chain_pems[0].bytes())

    def summary(self) -> CertSummary:
        """The leaf's facts for evidence: see :func:`summarize` (cached, as for a presented chain)."""
        return summarize_der(self.certificate.public_bytes(serialization.Encoding.DER))

    def configure_cert(self, ctx: ssl.SSLContext) -> None:
        """Make ``ctx`` present this certificate chain and key."""
        # load_cert_chain only takes paths (https://bugs.python.org/issue16487); the temp
        # file is created 0600 by tempfile and removed on exit.
        with self.private_key_and_cert_chain_pem.tempfile() as path:
            ctx.load_cert_chain(path)


def self_signed_client_cert(
    common_name: str = "",
    *,
    subject: x509.Name | None = None,
    organization: str = DEFAULT_ORGANIZATION,
    key_type: KeyType = "ec",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> LeafCert:
    """A self-signed client certificate: the credential of ``self_signed_tls_client_auth`` (RFC 8705 2.2).

    No CA vouches for it; the authorization server accepts it because it registered exactly this
    certificate (or its key) for the client. An end-entity certificate (``CA:FALSE``) with
    ``clientAuth`` and ``digitalSignature``, like the CA-issued client certificates, so that only
    its issuer (itself) tells it apart. ``subject`` (a whole name) overrides ``common_name``.
    """
    key = _generate_key(key_type, 2048)
    start, end = _validity(not_before, not_after)
    subject = subject or _name(common_name, organization)
    certificate = (
        _self_signed_builder(subject, key, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(("digital_signature",)), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return LeafCert(_pkcs8(key), [certificate.public_bytes(serialization.Encoding.PEM)])


def summarize(cert: x509.Certificate) -> CertSummary:
    """The facts of a certificate that matter to a verdict, as plain strings.

    DNs in RFC 4514 form, the serial and SHA-256 fingerprint in lowercase hex, times in ISO
    8601 UTC, SANs as ``DNS:x`` / ``IP:x`` / ``URI:x`` / ``email:x``, extended key usages by
    their OpenSSL short names (``clientAuth``) or dotted OID.
    """
    eku = _extension(cert, x509.ExtendedKeyUsage)
    san = _extension(cert, x509.SubjectAlternativeName)
    return CertSummary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        sans=[_general_name(name) for name in san] if san is not None else [],
        extended_key_usage=[_eku_name(oid) for oid in eku] if eku is not None else [],
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def summarize_der(der: bytes) -> CertSummary:
    """:func:`summarize` for a DER certificate, as ``getpeercert(binary_form=True)`` gives it.

    A certificate OpenSSL accepted but ``cryptography`` cannot parse is still evidence: its
    subject and issuer then say so, and the fingerprint is that of the DER bytes.
    Each call returns its own copy: a target presents the same few certificates on every
    connection, so the parsed facts are cached by the DER bytes.
    """
    cached = _summarize_der(der)
    return dataclasses.replace(cached, sans=list(cached.sans), extended_key_usage=list(cached.extended_key_usage))


@functools.lru_cache(maxsize=256)
def _summarize_der(der: bytes) -> CertSummary:
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        unparsed = f"(not parseable: {exc})"
        return CertSummary(unparsed, unparsed, "", "", "", sha256=hashlib.sha256(der).hexdigest())
    return summarize(cert)


def _self_signed_builder(
    subject: x509.Name, key: PrivateKey, not_before: datetime, not_after: datetime
) -> x509.CertificateBuilder:
    """A certificate that names ``subject`` as its issuer too, for ``key``; extensions to add."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


def _self_signed_ca(
    subject: x509.Name,
    key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
    key_id: x509.SubjectKeyIdentifier,
) -> x509.Certificate:
    usage = _key_usage(("digital_signature", "key_cert_sign", "crl_sign"))
    return (
        _self_signed_builder(subject, key, not_before, not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(key_id, critical=False)
        .sign(key, hashes.SHA256())
    )


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _validity(not_before: datetime | None, not_after: datetime | None) -> tuple[datetime, datetime]:
    not_before, not_after = _utc(not_before), _utc(not_after)
    if not_before is None:
        not_before = datetime.now(UTC) - CLOCK_SKEW
        if not_after is not None:
            not_before = min(not_before, not_after - timedelta(days=1))
    if not_after is None:
        not_after = not_before + LEAF_LIFETIME
    if not_after <= not_before:
        raise ValueError(f"not_after ({not_after}) must be later than not_before ({not_before})")
    return not_before, not_after


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _key_usage(names: Sequence[str]) -> x509.KeyUsage:
    unknown = set(names) - set(KEY_USAGES)
    if unknown:
        raise ValueError(f"unknown key usage {sorted(unknown)}; known: {', '.join(KEY_USAGES)}")
    return x509.KeyUsage(**{bit: bit in names for bit in KEY_USAGES})


def _eku_oid(name: str) -> ObjectIdentifier:
    if name in EKU_NAMES:
        return EKU_NAMES[name]
    if name.replace(".", "").isdigit():
        return ObjectIdentifier(name)
    raise ValueError(f"unknown extended key usage {name!r}; use one of {', '.join(EKU_NAMES)} or a dotted OID")


def _eku_name(oid: ObjectIdentifier) -> str:
    return next((name for name, known in EKU_NAMES.items() if known == oid), oid.dotted_string)


def _general_name(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DirectoryName):
        return f"DirName:{name.value.rfc4514_string()}"
    if isinstance(name, x509.RegisteredID):
        return f"RID:{name.value.dotted_string}"
    if isinstance(name, x509.OtherName):
        return f"othername:{name.type_id.dotted_string}"
    return f"{_SAN_PREFIXES[type(name)]}:{name.value}"


def _extension(cert: x509.Certificate, kind: type[_Ext]) -> _Ext | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


@functools.cache
def _shared_rsa_key(size: int) -> rsa.RSAPrivateKey:
    """One RSA key per size for every RSA client certificate of the process.

    Generating a 2048-bit key costs 50-500 ms, and a run issues an RSA variant per target.
    What such a variant tests is in its certificate (key usage, modulus size), never in the
    key being unique to it; EC keys cost well under a millisecond and stay fresh.
    """
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def _generate_key(key_type: KeyType, rsa_key_size: int) -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_key_size)
    raise ValueError(f"unknown key type {key_type!r}; use 'ec' or 'rsa'")


def _generate_like(key: PrivateKey) -> PrivateKey:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    return rsa.generate_private_key(public_exponent=65537, key_size=key.key_size)


def _pkcs8(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
