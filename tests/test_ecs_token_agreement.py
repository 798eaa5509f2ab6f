"""The harness's verdict on an ECS token (signature with the declared keys, then the claim checks
of ECS-TOK-03..09) agrees with an independent JOSE implementation, PyJWT, over a corpus of good
and bad tokens. PyJWT is told the same policy: asymmetric algorithms only, the declared keys,
the expected iss and aud, exp required and in the future."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from conformance.checks import token_claims as token_checks
from conformance.errors import CheckFailed
from conformance.issued_tokens import ASYMMETRIC_ALGORITHMS, token_facts, verify_signature

ISS, AUD, KID = "ecs.example.test", "ees1.example.test", "ecs-1"
PYJWT_ALGORITHMS = [alg for alg in ASYMMETRIC_ALGORITHMS if alg not in ("Ed25519", "EdDSA")]

_EC = ECKey.generate_key("P-256", {"kid": KID}, private=True)
_RSA = RSAKey.generate_key(2048, {"kid": "ecs-rsa"}, private=True)
_OTHER_EC = ECKey.generate_key("P-256", {"kid": KID}, private=True)
JWKS: dict[str, Any] = dict(KeySet([_EC, _RSA]).as_dict(private=False))


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISS, "aud": AUD, "client_id": "eec-1", "sub": "msisdn-491700000001"}
    claims |= {"scope": "eees-eecregistration", "iat": now, "exp": now + 300, "jti": "j1"}
    claims |= changes
    return {k: v for k, v in claims.items() if v is not None}


def _sign(key: Any = _EC, alg: str = "ES256", header: dict[str, Any] | None = None, **changes: Any) -> str:
    head = {"alg": alg, "typ": "at+jwt", "kid": key.kid} | (header or {})
    return jose_jwt.encode(head, _claims(**changes), key, algorithms=[alg])


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _unsigned(alg: str = "none") -> str:
    return f"{_b64({'alg': alg, 'typ': 'at+jwt', 'kid': KID})}.{_b64(_claims())}."


def _flip_last(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[-1] ^= 1
    return f"{head}.{body}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


def _tampered_payload() -> str:
    head, _, sig = _sign().split(".")
    return f"{head}.{_b64(_claims(sub='msisdn-491700000009'))}.{sig}"


def _hs256_with_public_key() -> str:
    import hashlib
    import hmac

    pem = _EC.as_pem(private=False)
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': KID})}.{_b64(_claims())}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


CORPUS: dict[str, Callable[[], str]] = {
    "good-es256": _sign,
    "good-rs256": lambda: _sign(_RSA, "RS256"),
    "good-ps256": lambda: _sign(_RSA, "PS256"),
    "good-aud-array": lambda: _sign(aud=[AUD, "ees2.example.test"]),
    "alg-none": _unsigned,
    "alg-None": lambda: _unsigned("None"),
    "unpublished-key-same-kid": lambda: _sign(_OTHER_EC),
    "unknown-kid": lambda: _sign(header={"kid": "nope"}),
    "tampered-payload": _tampered_payload,
    "tampered-signature": lambda: _flip_last(_sign()),
    "stripped-signature": lambda: _sign().rsplit(".", 1)[0] + ".",
    "hs256-public-key": _hs256_with_public_key,
    "rs-key-for-es-alg": lambda: _sign(header={"kid": "ecs-rsa"}),
    "wrong-iss": lambda: _sign(iss="https://ecs.example.test"),
    "no-iss": lambda: _sign(iss=None),
    "wrong-aud": lambda: _sign(aud="ees2.example.test"),
    "no-aud": lambda: _sign(aud=None),
    "expired": lambda: _sign(iat=int(time.time()) - 900, exp=int(time.time()) - 600),
    "no-exp": lambda: _sign(exp=None),
    "exp-string": lambda: _sign(exp="tomorrow"),
    "two-segments": lambda: _sign().rsplit(".", 1)[0],
}
"""Named tokens; the names starting with ``good`` must be accepted by both."""


def harness_accepts(token: str) -> bool:
    ok, why = verify_signature(token, JWKS)
    facts = token_facts("t", token, verified=ok, problem=why)
    try:
        token_checks.signed_and_verified(facts)
        token_checks.claim_equals(facts, "iss", ISS, meaning="the ECS FQDN")
        token_checks.audience_names(facts, AUD)
        token_checks.expiry(facts, server_now=time.time(), max_lifetime=3600)
    except CheckFailed:
        return False
    return True


def pyjwt_accepts(token: str) -> bool:
    keys = jwt.PyJWKSet.from_dict(JWKS)
    try:
        header = jwt.get_unverified_header(token)
        key = next(k for k in keys.keys if k.key_id == header.get("kid"))
        jwt.decode(
            token,
            key.key,
            algorithms=PYJWT_ALGORITHMS,
            audience=AUD,
            issuer=ISS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except (jwt.PyJWTError, StopIteration, TypeError, ValueError):  # PyJWT raises TypeError on a key/alg mismatch
        return False
    return True


@pytest.mark.parametrize("name", CORPUS)
def test_harness_and_pyjwt_agree(name: str) -> None:
    token = CORPUS[name]()
    harness, independent = harness_accepts(token), pyjwt_accepts(token)
    assert harness == independent, f"{name}: harness {'accepts' if harness else 'refuses'}, PyJWT does not agree"
    assert harness == name.startswith("good"), f"{name}: harness {'accepts' if harness else 'refuses'}"


def test_rsa_key_size_agrees_with_cryptography() -> None:
    """The RSA modulus size the hygiene check reads from a JWK is the key's size."""
    for bits in (1024, 2048, 3072):
        numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
        n = base64.urlsafe_b64encode(numbers.n.to_bytes((bits + 7) // 8, "big")).decode().rstrip("=")
        jwk = {"kty": "RSA", "n": n, "e": "AQAB"}
        if bits < token_checks.MIN_RSA_BITS:
            with pytest.raises(CheckFailed):
                token_checks.rsa_key_size({"keys": [jwk]})
        else:
            token_checks.rsa_key_size({"keys": [jwk]})
    token_checks.rsa_key_size({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]})
