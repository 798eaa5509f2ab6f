"""Checks of single values in a target declaration: URLs, FQDNs, GPSIs, PEM and JSON files, keys.

Each check raises :class:`Invalid` with what is wrong and how to fix it; the loader in
:mod:`conformance.targets.config` adds the file and the dotted key.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from conformance import gpsi
from conformance.files import BadPassphrase, Invalid

Check = Callable[[str], None]
"""Raises :class:`Invalid` when a string (a value, or the text of a referenced file) is wrong."""


def matching(pattern: str, what: str, fix: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.fullmatch(value):
            raise Invalid(f"{value!r} is not {what}", fix)

    return check


def one_of(allowed: Iterable[str], what: str) -> Check:
    options = tuple(allowed)

    def check(value: str) -> None:
        if value not in options:
            listing = "use one of " + ", ".join(f'"{option}"' for option in options)
            raise Invalid(f"{value!r} is not a known {what}", did_you_mean(value, options, listing))

    return check


FQDN = matching(
    r"(?=.{4,253}\Z)([0-9A-Za-z]([-0-9A-Za-z]{0,61}[0-9A-Za-z])?\.)+[A-Za-z]{2,63}\.?",
    "a fully qualified domain name",
    'write a DNS name such as "ees1.example.test" (TS 29.571 Fqdn)',
)
GPSI = matching(
    gpsi.PATTERN,
    "a GPSI",
    'write "msisdn-" and 5 to 15 digits, or "extid-<id>@<domain>" (TS 29.571 Gpsi)',
)
SERVICE = matching(r"[A-Za-z0-9_:-]+", "a service name", 'write one API name per entry: "eees-eecregistration"')
NAME = matching(
    r"[A-Za-z0-9][A-Za-z0-9._-]*",
    "a usable target name",
    "use letters, digits, '.', '_' and '-' (the default is the file name)",
)
MEMBER = matching(r"[^.\s]+(\.[^.\s]+)*", "a dotted member path", 'join member names with dots: "ext.accessToken"')
JSON_POINTER = matching(
    r"(/([^~/]|~[01])*)+",
    "a JSON Pointer (RFC 6901)",
    'start with "/" and escape "~" as "~0", "/" as "~1": "/ednCnfgInfo/0/eess/1/accessToken"',
)
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")


def https(value: str) -> SplitResult:
    fix = 'write "https://host" or "https://host:port"'
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"{value!r} is not a valid URL ({exc})", fix) from None
    if parts.scheme != "https":
        raise Invalid(f"{value!r} is not an https:// URL", f"{fix}: TS 33.558 requires TLS")
    host = parts.hostname or ""
    if parts.username is not None or port == 0 or not (_HOST.fullmatch(host) or _is_ip(host)):
        raise Invalid(f"{value!r} does not name a usable host and port", fix)
    return parts


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def api_root(value: str) -> None:
    parts = https(value)
    if parts.path or parts.query or parts.fragment:
        fix = "give only https://host[:port]: the harness appends the API paths"
        raise Invalid(f"{value!r} has a path, query or fragment", fix)


def https_url(value: str) -> None:
    if https(value).fragment:
        raise Invalid(f"{value!r} has a fragment", "remove the '#...' part")


def pem(label: str, pattern: str) -> Check:
    """The text holds a PEM block of this label (``pattern`` also admits variants like "EC PRIVATE KEY")."""

    def check(text: str) -> None:
        if not re.search(f"-----BEGIN {pattern}-----", text):
            fix = f"give a PEM file with a '-----BEGIN {label}-----' block"
            raise Invalid(f"holds no PEM {label.lower()}", fix)

    return check


CERTIFICATE = pem("CERTIFICATE", "CERTIFICATE")
PRIVATE_KEY = pem("PRIVATE KEY", "(?:[A-Z]+ )?PRIVATE KEY")


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise Invalid(f"is not valid JSON ({exc})", "fix the JSON syntax") from None
    if not isinstance(value, dict):
        raise Invalid("is not a JSON object", "give a JSON object ({...})")
    return value


def request_template(text: str) -> None:
    json_object(text)


def jwks(text: str) -> None:
    if not isinstance(json_object(text).get("keys"), list):
        raise Invalid('has no "keys" array', 'give a JWK Set (RFC 7517 5): {"keys": [...]}')


def signing_key(text: str) -> None:
    if not text.lstrip().startswith("{"):
        PRIVATE_KEY(text)
    elif "d" not in json_object(text):
        raise Invalid('is a public JWK (no "d" member)', "give the private key the issuer signs with")


ENV_NAME = matching(
    r"[A-Za-z_][A-Za-z0-9_]*",
    "an environment variable name",
    'give the name of the variable that holds the passphrase, such as "EEC_KEY_PASSPHRASE"',
)

_ENCRYPTED_PEM = re.compile(r"-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED")


def private_key(pem: bytes, passphrase: bytes | None, written: str, passphrase_key: str) -> PrivateKeyTypes:
    """The private key in ``pem``, decrypted with ``passphrase`` if it is encrypted.

    ``written`` is the file as the declaration names it and ``passphrase_key`` the dotted key
    that would give the passphrase, for the messages. Never prompts: cryptography, unlike
    OpenSSL's PEM reader, has no terminal fallback.
    """
    encrypted = bool(_ENCRYPTED_PEM.search(pem.decode("ascii", "replace")))
    if encrypted and passphrase is None:
        raise _encrypted(written, passphrase_key)
    if passphrase is not None and not encrypted:
        raise BadPassphrase(f"is set but {written!r} is not encrypted", "remove it")
    try:
        return serialization.load_pem_private_key(pem, password=passphrase)
    except TypeError:  # encrypted in a form the PEM header did not show
        raise _encrypted(written, passphrase_key) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        if encrypted:
            raise BadPassphrase(f"its passphrase does not decrypt {written!r} ({exc})", "give the right one") from None
        fix = "give a PKCS#8, SEC1 or PKCS#1 PEM key"
        raise Invalid(f"{written!r} is not a usable PEM private key ({exc})", fix) from None


def _encrypted(written: str, passphrase_key: str) -> Invalid:
    fix = f"give its passphrase in {passphrase_key} (the name of an environment variable) or decrypt it"
    return Invalid(f"{written!r} is an encrypted private key", fix)


def leaf_certificate(pem: bytes) -> x509.Certificate:
    """The first certificate of a PEM chain: the one the private key belongs to."""
    try:
        return x509.load_pem_x509_certificates(pem)[0]
    except ValueError as exc:
        raise Invalid(f"holds no usable PEM certificate ({exc})", "give a PEM certificate chain") from None


def is_self_signed(certificate: x509.Certificate) -> bool:
    """Issued by itself: its issuer is its subject and its own key verifies its signature."""
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def same_public_key(key: PrivateKeyTypes, certificate: x509.Certificate) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == certificate.public_key().public_bytes(*spki)


def did_you_mean(word: str, options: Iterable[str], listing: str) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f"did you mean '{close[0]}'?" if close else listing
