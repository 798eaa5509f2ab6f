"""Reading the access tokens an ECS issues: decode, load its keys, verify, record.

The checks of TS 33.558 6.2 (ECS-TOK-*) look at tokens in two steps, and this module keeps
them apart: :func:`decode_unverified` says what the token *claims* (header and claims, or
why it is not a JWS at all), :func:`verify_signature` says whether the ECS's published keys
back those claims. Neither judges the claims; that is the checks' job.

``verify_signature`` is deliberately stricter than a generic JOSE library (RFC 8725):

* the algorithm allow-list is ours, never the header's: ``none`` and ``HS*`` are refused
  before any key is looked at (RFC 8725 3.1, 3.2), whatever ``algorithms`` says;
* keys come only from the declared key set; ``jwk``, ``jku``, ``x5u`` and ``x5c`` header
  members are never used or fetched (RFC 8725 3.10);
* a ``kid`` must name a key in the set; without a ``kid`` only a one-key set is tried.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import Key, KeySet

from conformance.evidence import TokenFacts, redact_token

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "JwksError",
    "TokenFormatError",
    "b64url_decode",
    "decode_unverified",
    "load_jwks",
    "private_members",
    "token_facts",
    "verify_signature",
]

ASYMMETRIC_ALGORITHMS: tuple[str, ...] = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
    "Ed25519",
)
"""The signature algorithms an ECS may use for its tokens (RFC 7518 3.1, RFC 8037, RFC 9864)."""

PRIVATE_KEY_MEMBERS: frozenset[str] = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""JWK members that must never be published: RSA/EC/OKP private parts (RFC 7518 6.2.2,
6.3.2, RFC 8037 2) and the symmetric secret ``k`` (RFC 7518 6.4.1)."""

MAX_HEADER_BYTES = 16_384
"""joserfc refuses headers over 512 bytes; a legitimate ``x5c`` chain is larger than that."""

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_SEGMENT_NAMES = ("header", "payload", "signature")


class TokenFormatError(ValueError):
    """The string is not a JWS in compact serialization; the message says why."""


class JwksError(ValueError):
    """A JSON Web Key Set that cannot be used to verify anything; the message says why."""


def b64url_decode(segment: str) -> bytes:
    """Decode one base64url segment strictly, as RFC 7515 section 2 defines it.

    Unpadded, URL-safe alphabet only, and canonical: the unused low bits of the last
    character must be zero (RFC 4648 3.5), so one token has exactly one spelling.
    Raises :class:`ValueError` naming the rule broken.
    """
    if "=" in segment:
        raise ValueError("padded with '=' (RFC 7515 section 2 omits padding)")
    if not _BASE64URL.fullmatch(segment):
        bad = sorted({c for c in segment if not _BASE64URL.fullmatch(c)})
        raise ValueError(f"characters outside the base64url alphabet: {''.join(bad)!r}")
    if len(segment) % 4 == 1:
        raise ValueError(f"impossible length {len(segment)} (a multiple of 4 plus 1)")
    raw = binascii.a2b_base64(segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4))
    if _b64url(raw) != segment:
        raise ValueError("non-canonical: the last character carries non-zero unused bits")
    return raw


def _b64url(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode().replace("+", "-").replace("/", "_").rstrip("=")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 4 / RFC 7519 4: reject duplicate member names, or take the last one. An
    # issuer that emits duplicates invites verifier disagreement, so we reject and say so.
    names = [name for name, _ in pairs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise TokenFormatError(f"duplicate member name(s) {duplicates}")
    return dict(pairs)


def _json_object(segment: str, part: str) -> dict[str, Any]:
    try:
        raw = b64url_decode(segment)
    except ValueError as err:
        raise TokenFormatError(f"{part} is not base64url: {err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenFormatError(f"{part} is not UTF-8 (RFC 8725 3.7)") from None
    try:
        value = json.loads(text, object_pairs_hook=_reject_duplicates)
    except TokenFormatError as err:
        raise TokenFormatError(f"{part} has a {err}") from None
    except ValueError as err:
        raise TokenFormatError(f"{part} is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise TokenFormatError(f"{part} is JSON but not an object (it is a {type(value).__name__})")
    return value


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a compact JWS and decode its header and claims, **without** checking the signature.

    Use it to say what a token claims, never to trust it. Raises :class:`TokenFormatError`
    with the reason when the string is not three base64url segments whose first two are
    UTF-8 JSON objects (RFC 7515 7.1, RFC 7519 7.2). The signature segment must be valid
    base64url but may be empty (``alg: none`` and stripped signatures decode fine).
    """
    if not isinstance(token, str):
        raise TokenFormatError(f"a token is a string, not {type(token).__name__}")
    segments = token.split(".")
    if len(segments) != 3:
        hint = " (five is a JWE, which TS 33.558 6.2 does not use)" if len(segments) == 5 else ""
        raise TokenFormatError(f"{len(segments)} segment(s), a JWS compact serialization has 3 (RFC 7515 7.1){hint}")
    header = _json_object(segments[0], "header")
    claims = _json_object(segments[1], "payload")
    try:
        b64url_decode(segments[2])
    except ValueError as err:
        raise TokenFormatError(f"signature is not base64url: {err}") from None
    return header, claims


def load_jwks(source: Mapping[str, Any] | Path) -> KeySet:
    """A joserfc :class:`KeySet` from a JWKS document or a file holding one (RFC 7517 5).

    Keys of a type joserfc does not know are skipped (RFC 7517 5); a set with no usable key,
    or a key with broken members, raises :class:`JwksError`. Private members are accepted
    here (verification only needs the public part); report them with :func:`private_members`.

    joserfc gives a key without ``kid`` its RFC 7638 thumbprint as ``kid``; judge whether
    the ECS *published* a ``kid`` from the document, not from the returned set.
    """
    document = _read_jwks(source) if isinstance(source, Path) else source
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list):
        raise JwksError('a JWKS is a JSON object with a "keys" array (RFC 7517 5)')
    for index, key in enumerate(keys):
        if not isinstance(key, Mapping):
            raise JwksError(f"keys[{index}] is not a JSON object")
    try:
        return KeySet.import_key_set({"keys": [dict(key) for key in keys]})
    except (JoseError, ValueError, TypeError) as err:
        raise JwksError(f"unusable key set: {type(err).__name__}: {err}") from None


def _read_jwks(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise JwksError(f"{path}: cannot read: {err.strerror or err}") from None
    except ValueError as err:
        raise JwksError(f"{path}: not JSON: {err}") from None


def private_members(jwks: Mapping[str, Any]) -> list[str]:
    """Where a published key set leaks secrets, e.g. ``["keys[0].d"]``; empty when clean."""
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return []
    return [
        f"keys[{index}].{member}"
        for index, key in enumerate(keys)
        if isinstance(key, Mapping)
        for member in sorted(PRIVATE_KEY_MEMBERS & set(key))
    ]


def verify_signature(
    token: str,
    jwks: KeySet | Mapping[str, Any],
    *,
    algorithms: Collection[str] = ASYMMETRIC_ALGORITHMS,
) -> tuple[bool, str]:
    """Whether ``token``'s signature verifies under ``jwks``: ``(True, "")`` or ``(False, why)``.

    Never raises for a bad token (a token must not crash a check); a bad ``jwks`` raises
    :class:`JwksError`. Checks only the signature: expiry, audience and the other claims
    are for the checks to judge.
    """
    keys = jwks if isinstance(jwks, KeySet) else load_jwks(jwks)
    try:
        header, _ = decode_unverified(token)
    except TokenFormatError as err:
        return False, f"not a JWS: {err}"
    alg = header.get("alg")
    refused = _refused_algorithm(alg, algorithms)
    if refused:
        return False, refused
    assert isinstance(alg, str)
    key, why = _select_key(header, keys)
    if key is None:
        return False, why
    return _verify_with(token, key, alg, header)


def _refused_algorithm(alg: Any, algorithms: Collection[str]) -> str:
    if not isinstance(alg, str):
        return f"header alg is missing or not a string: {alg!r} (RFC 7515 4.1.1)"
    if alg.lower() == "none":
        return f"alg {alg!r} means unsigned; refused in every spelling (RFC 8725 3.2, RFC 9068 2.1)"
    if alg.upper().startswith("HS"):
        # RFC 8725 3.1: an HMAC "signature" keyed with the ECS's public key is forgeable by
        # anyone; an ECS token must be signed with its private key.
        return f"symmetric alg {alg!r} refused: ECS tokens are verified with public keys only (RFC 8725 3.1)"
    if alg not in algorithms:
        return f"alg {alg!r} is not in the accepted algorithms {sorted(algorithms)} (RFC 8725 3.1)"
    return ""


def _select_key(header: Mapping[str, Any], keys: KeySet) -> tuple[Key | None, str]:
    kid = header.get("kid")
    if kid is None:
        if len(keys.keys) == 1:
            return keys.keys[0], ""
        return None, f"no kid in the header and the key set has {len(keys.keys)} keys (RFC 7515 4.1.4)"
    if not isinstance(kid, str):
        return None, f"kid is not a string: {kid!r} (RFC 7515 4.1.4)"
    matches = [key for key in keys.keys if key.kid == kid]
    if not matches:
        known = sorted(str(key.kid) for key in keys.keys)
        return None, f"no key with kid {kid!r} in the key set (kids: {known})"
    if len(matches) > 1:
        return None, f"{len(matches)} keys share kid {kid!r}; refusing to guess"
    return matches[0], ""


def _verify_with(token: str, key: Key, alg: str, header: Mapping[str, Any]) -> tuple[bool, str]:
    registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    registry.max_header_length = MAX_HEADER_BYTES
    signature = b64url_decode(token.rsplit(".", 1)[1])  # decode_unverified vouched for it
    if not signature:
        return False, f"the signature segment is empty, yet alg is {alg!r} (CVE-2020-28042)"
    # The caller chose to accept EdDSA by listing it; joserfc's deprecation warning
    # (RFC 9864) is a fact for the hygiene check, not a reason to fail verification.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        try:
            registry.get_alg(alg).check_key(key)
        except JoseError as err:
            return False, f"key kid {key.kid!r} ({key.key_type}) cannot verify alg {alg!r}: {err}"
        try:
            jws.deserialize_compact(token, key, registry=registry)
        except BadSignatureError:
            notes = _notes(signature, header)
            return False, f"signature does not verify with key kid {key.kid!r} ({alg}){notes}"
        except Exception as err:  # joserfc and cryptography raise many types on hostile input
            return False, f"{alg} verification with key kid {key.kid!r} failed: {type(err).__name__}: {err}"
    return True, ""


def _notes(signature: bytes, header: Mapping[str, Any]) -> str:
    notes = []
    if not any(signature):
        notes.append("the signature is all zero bytes (CVE-2022-21449)")
    ignored = sorted({"jwk", "jku", "x5u", "x5c"} & set(header))
    if ignored:
        notes.append(f"header {ignored} ignored: keys come only from the key set (RFC 8725 3.10)")
    return "".join(f"; {note}" for note in notes)


def token_facts(label: str, token: str, *, verified: bool | None = None, problem: str = "") -> TokenFacts:
    """Evidence for one token: decoded header and claims (or why they could not be), redacted.

    ``verified`` and ``problem`` come from :func:`verify_signature` when the caller ran it;
    a decode failure is appended to ``problem``.
    """
    try:
        header, claims = decode_unverified(token)
    except TokenFormatError as err:
        header, claims = {}, {}
        problem = "; ".join(p for p in (problem, f"not a JWS: {err}") if p)
    return TokenFacts(
        label=label,
        header=header,
        claims=claims,
        redacted=redact_token(token) if isinstance(token, str) else repr(token),
        verified=verified,
        problem=problem,
        sha256=hashlib.sha256(token.encode()).hexdigest() if isinstance(token, str) else "",
    )
