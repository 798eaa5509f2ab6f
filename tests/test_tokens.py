"""The fake ECS token issuer, the forged tokens and the token helpers the checks rely on.

The issuer must mint exactly the TS 33.558 6.2 token profile; every forgery must be refused
by ``verify_signature`` for the reason it was built to probe; and the helpers must read a
token the same way whether it is well formed or hostile.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from joserfc import jws, jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, KeySet, OctKey, OKPKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from conformance.errors import PeerError
from conformance.evidence import TokenFacts
from conformance.issued_tokens import (
    JwksError,
    TokenFormatError,
    b64url_decode,
    decode_unverified,
    load_jwks,
    private_members,
    token_facts,
    verify_signature,
)
from conformance.peers import forged_tokens as forged
from conformance.peers.fake_ecs_issuer import TokenIssuer

ECS, EES, EEC_ID, GPSI = "ecs.operator.example", "ees-1.operator.example", "eec-0001", "msisdn-491700000001"
SERVICES = ("eees-eecregistration", "eees-easdiscovery")
SIX_TWO_CLAIMS = {"iss", "client_id", "sub", "scope", "aud", "exp", "iat", "jti"}


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer.generate(issuer=ECS)


@pytest.fixture(scope="module")
def keys(issuer: TokenIssuer) -> KeySet:
    return load_jwks(issuer.public_jwks())


@pytest.fixture(scope="module")
def attacker_key() -> ECKey:
    return ECKey.generate_key("P-256")


@pytest.fixture
def token(issuer: TokenIssuer) -> str:
    return issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES)


@pytest.fixture
def claims(token: str) -> dict[str, Any]:
    return decode_unverified(token)[1]


def signature_of(token: str) -> bytes:
    return b64url_decode(token.split(".")[2])


# --- the issuer ----------------------------------------------------------------------


def test_minted_token_verifies_with_joserfc_and_verify_signature(token: str, keys: KeySet) -> None:
    decoded = jwt.decode(token, KeySet.import_key_set(json.loads(json.dumps(keys.as_dict()))))
    JWTClaimsRegistry(
        iss={"essential": True, "value": ECS},
        aud={"essential": True, "value": EES},
        exp={"essential": True},
    ).validate(decoded.claims)
    assert verify_signature(token, keys) == (True, "")


def test_claims_are_exactly_the_6_2_set(issuer: TokenIssuer) -> None:
    claims = issuer.claims_for(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES, now=1_800_000_000)
    assert set(claims) == SIX_TWO_CLAIMS
    jti = claims.pop("jti")
    assert claims == {
        "iss": ECS,
        "client_id": EEC_ID,
        "sub": GPSI,
        "scope": "eees-eecregistration eees-easdiscovery",
        "aud": EES,
        "exp": 1_800_000_300,
        "iat": 1_800_000_000,
    }
    assert uuid.UUID(jti).version == 4


def test_minted_token_carries_the_claims_unchanged(issuer: TokenIssuer) -> None:
    claims = issuer.claims_for(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=["svc"], lifetime=60)
    assert decode_unverified(issuer.mint(claims))[1] == claims
    assert claims["exp"] - claims["iat"] == 60


def test_scope_string_is_taken_as_joined_and_spaced_names_are_refused(issuer: TokenIssuer) -> None:
    assert issuer.claims_for(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope="a b")["scope"] == "a b"
    with pytest.raises(ValueError, match="no spaces"):
        issuer.claims_for(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=["a b"])


def test_header_is_alg_typ_at_jwt_and_kid(token: str, issuer: TokenIssuer) -> None:
    header, _ = decode_unverified(token)
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": issuer.kid}


def test_mint_header_knobs(issuer: TokenIssuer, claims: dict[str, Any]) -> None:
    assert "kid" not in decode_unverified(issuer.mint(claims, kid=None))[0]
    assert decode_unverified(issuer.mint(claims, kid="other"))[0]["kid"] == "other"
    header = decode_unverified(issuer.mint(claims, header={"typ": "JWT", "cty": "x"}))[0]
    assert header == {"alg": "ES256", "typ": "JWT", "kid": issuer.kid, "cty": "x"}


def test_jti_is_unique_per_token(issuer: TokenIssuer) -> None:
    tokens = [issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES) for _ in range(20)]
    assert len({decode_unverified(t)[1]["jti"] for t in tokens}) == 20


def test_token_omits_and_overrides_claims(issuer: TokenIssuer, keys: KeySet) -> None:
    token = issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES, omit=("aud",), exp=5, nbf=7)
    claims = decode_unverified(token)[1]
    assert "aud" not in claims
    assert (claims["exp"], claims["nbf"]) == (5, 7)
    assert verify_signature(token, keys) == (True, "")
    single = issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES, omit="sub")
    assert set(decode_unverified(single)[1]) == SIX_TWO_CLAIMS - {"sub"}


@pytest.mark.parametrize(
    ("omit", "overrides", "message"),
    [(("audience",), {}, "does not have"), (("aud",), {"aud": "x"}, "both omitted and overridden")],
)
def test_token_refuses_contradictory_knobs(
    issuer: TokenIssuer, omit: tuple[str, ...], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES, omit=omit, **overrides)


def test_mint_with_another_key_keeps_the_trusted_kid(
    issuer: TokenIssuer, claims: dict[str, Any], keys: KeySet, attacker_key: ECKey
) -> None:
    token = issuer.mint(claims, key=attacker_key)
    assert decode_unverified(token)[0]["kid"] == issuer.kid
    ok, why = verify_signature(token, keys)
    assert not ok
    assert "signature does not verify" in why


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519"])
def test_every_algorithm_round_trips(algorithm: str) -> None:
    issuer = TokenIssuer.generate(issuer=ECS, algorithm=algorithm)
    token = issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES)
    assert decode_unverified(token)[0]["alg"] == algorithm
    assert verify_signature(token, issuer.public_jwks()) == (True, "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # EdDSA is deprecated (RFC 9864), on purpose here
        jwt.decode(token, load_jwks(issuer.public_jwks()), algorithms=[algorithm])


# --- keys ----------------------------------------------------------------------------


def test_public_jwks_has_no_private_members(issuer: TokenIssuer) -> None:
    jwks = issuer.public_jwks()
    (key,) = jwks["keys"]
    assert "d" not in key
    assert private_members(jwks) == []
    assert (key["kid"], key["alg"], key["use"]) == (issuer.kid, "ES256", "sig")


def test_public_pem_is_the_public_key(issuer: TokenIssuer, token: str) -> None:
    pem = issuer.public_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    load_pem_public_key(pem)
    jwt.decode(token, ECKey.import_key(pem))


def test_kid_is_the_stable_rfc7638_thumbprint(issuer: TokenIssuer) -> None:
    public = {k: v for k, v in issuer.public_jwks()["keys"][0].items() if k in ("kty", "crv", "x", "y")}
    digest = hashlib.sha256(json.dumps(public, sort_keys=True, separators=(",", ":")).encode()).digest()
    assert issuer.kid == forged.b64url(digest)
    assert issuer.kid == TokenIssuer(issuer.key, issuer=ECS).kid
    assert TokenIssuer(issuer.key, issuer=ECS, kid="chosen").kid == "chosen"


def test_from_pem_round_trip(issuer: TokenIssuer) -> None:
    again = TokenIssuer.from_pem(issuer.key.as_pem(private=True), issuer=ECS)
    assert again.kid == issuer.kid
    assert again.public_jwks() == issuer.public_jwks()
    token = again.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES)
    assert verify_signature(token, issuer.public_jwks()) == (True, "")


def test_from_file_reads_pem_and_jwk(issuer: TokenIssuer, tmp_path: Path) -> None:
    pem_file, jwk_file = tmp_path / "issuer-key.pem", tmp_path / "issuer-key.jwk"
    pem_file.write_bytes(issuer.key.as_pem(private=True))
    jwk_file.write_text(json.dumps({**issuer.key.as_dict(private=True), "kid": "from-jwk"}))
    assert TokenIssuer.from_file(pem_file, issuer=ECS).kid == issuer.kid
    from_jwk = TokenIssuer.from_file(jwk_file, issuer=ECS)
    assert (from_jwk.kid, from_jwk.algorithm) == ("from-jwk", "ES256")
    assert from_jwk.public_jwks()["keys"][0]["x"] == issuer.public_jwks()["keys"][0]["x"]


def test_rsa_pem_infers_rs256() -> None:
    rsa = RSAKey.generate_key(2048)
    assert TokenIssuer.from_pem(rsa.as_pem(private=True), issuer=ECS).algorithm == "RS256"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TokenIssuer(OctKey.generate_key(256), issuer=ECS), "asymmetric private key"),
        (
            lambda: TokenIssuer(ECKey.generate_key("P-256", private=False), issuer=ECS),
            "asymmetric private key",
        ),
        (lambda: TokenIssuer(ECKey.generate_key("P-256"), issuer=ECS, algorithm="RS256"), "cannot sign"),
        (lambda: TokenIssuer(OKPKey.generate_key("X25519"), issuer=ECS), "no JWS signature algorithm"),
        (lambda: TokenIssuer.from_pem(b"garbage", issuer=ECS), "not an unencrypted PEM"),
        (lambda: TokenIssuer.from_file("/nonexistent/key.pem", issuer=ECS), "cannot read"),
    ],
)
def test_unusable_issuer_keys_are_peer_errors(make: Callable[[], TokenIssuer], message: str) -> None:
    with pytest.raises(PeerError, match=message):
        make()


# --- forged tokens: each fails verify_signature for its own reason -------------------

ATTACKER = "https://attacker.example"
SQL_KID, SQL_SECRET = forged.INJECTED_KIDS[1]

EXPECTED: dict[str, tuple[str, str | None]] = {
    # forgery: (what verify_signature says, what decode_unverified raises or None if it decodes)
    "tampered-signature": ("signature does not verify", None),
    "tampered-payload": ("signature does not verify", None),
    "stripped-signature": ("signature segment is empty", None),
    "ecdsa-zero-signature": ("all zero bytes (CVE-2022-21449)", None),
    **{f"alg-{spelling}": (f"alg '{spelling}' means unsigned", None) for spelling in forged.ALG_NONE_SPELLINGS},
    "hs256-with-public-key": ("symmetric alg 'HS256' refused", None),
    "embedded-jwk": ("header ['jwk'] ignored", None),
    "jku-elsewhere": ("no key with kid", None),
    "x5u-elsewhere": ("header ['x5u'] ignored", None),
    "unknown-kid": ("no key with kid 'no-such-key'", None),
    "injected-kid-path": ("symmetric alg 'HS256' refused", None),
    "injected-kid-sql": ("symmetric alg 'HS256' refused", None),
    "injected-kid-real-key": ("no key with kid '../../", None),
    "untrusted-issuer-key": ("no key with kid", None),
    "untrusted-key-trusted-kid": ("signature does not verify", None),
    "two-segments": ("2 segment(s)", "2 segment(s)"),
    "four-segments": ("4 segment(s)", "4 segment(s)"),
    "bad-base64": ("outside the base64url alphabet", "payload is not base64url"),
    "non-json-payload": ("payload is not JSON", "payload is not JSON"),
    "json-array-payload": ("not an object", "payload is JSON but not an object"),
}


@pytest.fixture
def forgeries(token: str, claims: dict[str, Any], issuer: TokenIssuer, attacker_key: ECKey) -> dict[str, str]:
    return {
        "tampered-signature": forged.tampered_signature(token),
        "tampered-payload": forged.tampered_payload(token, sub="someone-else"),
        "stripped-signature": forged.stripped_signature(token),
        "ecdsa-zero-signature": forged.ecdsa_zero_signature(token),
        **{
            f"alg-{spelling}": forged.alg_none(claims, alg_spelling=spelling, kid=issuer.kid)
            for spelling in forged.ALG_NONE_SPELLINGS
        },
        "hs256-with-public-key": forged.hs256_with_public_key(claims, issuer.public_pem(), kid=issuer.kid),
        "embedded-jwk": forged.embedded_jwk(claims, attacker_key),
        "jku-elsewhere": forged.jku_elsewhere(claims, attacker_key, f"{ATTACKER}/jwks.json"),
        "x5u-elsewhere": forged.x5u_elsewhere(claims, attacker_key, f"{ATTACKER}/cert.pem"),
        "unknown-kid": forged.unknown_kid(issuer, claims),
        "injected-kid-path": forged.injected_kid(issuer, claims),
        "injected-kid-sql": forged.injected_kid(issuer, claims, kid=SQL_KID, secret=SQL_SECRET),
        "injected-kid-real-key": forged.injected_kid(issuer, claims, secret=None),
        "untrusted-issuer-key": forged.untrusted_issuer_key(claims),
        "untrusted-key-trusted-kid": forged.untrusted_issuer_key(claims, kid=issuer.kid),
        "two-segments": forged.two_segments(token),
        "four-segments": forged.four_segments(token),
        "bad-base64": forged.bad_base64(token),
        "non-json-payload": forged.non_json_payload(issuer),
        "json-array-payload": forged.non_json_payload(issuer, payload=b"[1, 2]"),
    }


def test_every_forgery_has_an_expectation(forgeries: dict[str, str]) -> None:
    assert set(forgeries) == set(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_forged_token_fails_verification_for_its_reason(name: str, forgeries: dict[str, str], keys: KeySet) -> None:
    reason, format_error = EXPECTED[name]
    ok, why = verify_signature(forgeries[name], keys)
    assert not ok
    assert reason in why
    if format_error is None:
        header, _ = decode_unverified(forgeries[name])
        assert isinstance(header.get("alg"), str)
    else:
        with pytest.raises(TokenFormatError) as raised:
            decode_unverified(forgeries[name])
        assert format_error in str(raised.value)


@pytest.mark.parametrize("algorithm", ["ES256", "ES512", "RS256", "Ed25519"])
def test_tampered_signature_always_changes_the_signature_bytes(algorithm: str) -> None:
    issuer = TokenIssuer.generate(issuer=ECS, algorithm=algorithm)
    for _ in range(25):
        token = issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES)
        tampered = forged.tampered_signature(token)
        assert len(signature_of(tampered)) == len(signature_of(token))
        assert signature_of(tampered) != signature_of(token)
        assert tampered.split(".")[:2] == token.split(".")[:2]


def test_tampered_signature_changes_an_a_in_the_middle() -> None:
    assert forged.tampered_signature("h.p.AAAAAA") == "h.p.AAABAA"
    with pytest.raises(ValueError, match="no signature"):
        forged.tampered_signature("h.p.")
    with pytest.raises(ValueError, match="three segments"):
        forged.tampered_signature("h.p")


def test_tampered_payload_keeps_the_signature(token: str) -> None:
    default = forged.tampered_payload(token)
    assert default.split(".")[2] == token.split(".")[2]
    assert decode_unverified(default)[1]["exp"] == decode_unverified(token)[1]["exp"] + 3600
    assert decode_unverified(forged.tampered_payload(token, aud="x"))[1]["aud"] == "x"


@pytest.mark.parametrize(("algorithm", "size"), [("ES256", 64), ("ES384", 96), ("ES512", 132)])
def test_ecdsa_zero_signature_is_r_s_zero(algorithm: str, size: int) -> None:
    token = TokenIssuer.generate(issuer=ECS, algorithm=algorithm).token(
        eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES
    )
    zero = forged.ecdsa_zero_signature(token)
    assert signature_of(zero) == bytes(size)
    assert zero.split(".")[:2] == token.split(".")[:2]


def test_ecdsa_zero_signature_relabels_an_rsa_token_es256() -> None:
    issuer = TokenIssuer.generate(issuer=ECS, algorithm="RS256")
    zero = forged.ecdsa_zero_signature(issuer.token(eec_id=EEC_ID, gpsi=GPSI, audience=EES, scope=SERVICES))
    assert decode_unverified(zero)[0]["alg"] == "ES256"
    assert signature_of(zero) == bytes(64)
    ok, why = verify_signature(zero, issuer.public_jwks())
    assert not ok
    assert "cannot verify alg 'ES256'" in why


@pytest.mark.parametrize("spelling", forged.ALG_NONE_SPELLINGS)
def test_alg_none_spellings(spelling: str, claims: dict[str, Any], keys: KeySet) -> None:
    token = forged.alg_none(claims, alg_spelling=spelling)
    header, decoded = decode_unverified(token)
    assert header == {"alg": spelling, "typ": "at+jwt"}
    assert decoded == claims
    assert token.endswith(".")
    with pytest.raises(JoseError):
        jwt.decode(token, keys)


def test_hs256_with_public_key_is_a_genuine_hmac(claims: dict[str, Any], issuer: TokenIssuer) -> None:
    token = forged.hs256_with_public_key(claims, issuer.public_pem())
    signing_input, _, _ = token.rpartition(".")
    expected = hmac.new(issuer.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    assert signature_of(token) == expected  # what a confused verifier would accept
    assert decode_unverified(token)[0]["alg"] == "HS256"


def test_hs256_is_refused_even_when_listed(claims: dict[str, Any], issuer: TokenIssuer, keys: KeySet) -> None:
    token = forged.hs256_with_public_key(claims, issuer.public_pem(), kid=issuer.kid)
    ok, why = verify_signature(token, keys, algorithms=("HS256", "ES256"))
    assert (ok, "refused" in why) == (False, True)


def test_attacker_signed_forgeries_verify_under_the_attacker_key(claims: dict[str, Any], attacker_key: ECKey) -> None:
    attacker_jwks = {"keys": [{**attacker_key.as_dict(private=False), "kid": attacker_key.thumbprint()}]}
    for token in (
        forged.embedded_jwk(claims, attacker_key),
        forged.jku_elsewhere(claims, attacker_key, "https://attacker.example/jwks"),
        forged.x5u_elsewhere(claims, attacker_key, "https://attacker.example/cert.pem"),
        forged.untrusted_issuer_key(claims, key=attacker_key, kid=attacker_key.thumbprint()),
    ):
        assert verify_signature(token, attacker_jwks) == (True, ""), decode_unverified(token)[0]


def test_key_bearing_headers(claims: dict[str, Any], attacker_key: ECKey) -> None:
    jwk_header = decode_unverified(forged.embedded_jwk(claims, attacker_key))[0]
    assert jwk_header["jwk"] == attacker_key.as_dict(private=False)
    assert "d" not in jwk_header["jwk"]
    jku_header = decode_unverified(forged.jku_elsewhere(claims, attacker_key, "https://a.example/k"))[0]
    assert jku_header["jku"] == "https://a.example/k"
    assert decode_unverified(forged.x5u_elsewhere(claims, attacker_key, "https://a.example/c"))[0]["x5u"]


def test_untrusted_issuer_key_names_its_issuer(claims: dict[str, Any], issuer: TokenIssuer) -> None:
    assert decode_unverified(forged.untrusted_issuer_key(claims))[1]["iss"] == ECS
    other = forged.untrusted_issuer_key(claims, issuer_name="rogue-ecs.example")
    assert decode_unverified(other)[1]["iss"] == "rogue-ecs.example"


def test_kid_forgeries_use_the_trusted_key_or_the_lookup_secret(claims: dict[str, Any], issuer: TokenIssuer) -> None:
    # A genuine signature by the trusted key: only the kid is wrong.
    jws.deserialize_compact(forged.unknown_kid(issuer, claims), issuer.key)
    jws.deserialize_compact(forged.injected_kid(issuer, claims, secret=None), issuer.key)
    for kid, secret in forged.INJECTED_KIDS:
        token = forged.injected_kid(issuer, claims, kid=kid, secret=secret)
        assert decode_unverified(token)[0]["kid"] == kid
        signing_input = token.rpartition(".")[0]
        assert signature_of(token) == hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()


def test_shape_forgeries(token: str) -> None:
    assert forged.two_segments(token).count(".") == 1
    assert forged.four_segments(token).count(".") == 3
    assert forged.stripped_signature(token) == token.rpartition(".")[0] + "."


def test_non_json_payload_is_genuinely_signed(issuer: TokenIssuer) -> None:
    token = forged.non_json_payload(issuer)
    assert jws.deserialize_compact(token, issuer.key).payload == b"not a JSON claim set"


def test_oversized_is_validly_signed_and_large(issuer: TokenIssuer, claims: dict[str, Any], keys: KeySet) -> None:
    token = forged.oversized(issuer, claims, size=20_000)
    assert 20_000 <= len(token) < 20_010
    assert verify_signature(token, keys) == (True, "")
    assert decode_unverified(token)[1]["aud"] == EES


def test_wrong_claim_types_are_validly_signed_and_refused_by_a_claims_validator(
    issuer: TokenIssuer, claims: dict[str, Any], keys: KeySet
) -> None:
    token = forged.wrong_claim_types(issuer, claims)
    assert verify_signature(token, keys) == (True, "")  # only the claim types are wrong
    decoded = decode_unverified(token)[1]
    assert (decoded["exp"], decoded["aud"]) == (str(claims["exp"]), 33558)
    with pytest.raises(JoseError):
        JWTClaimsRegistry(exp={"essential": True}).validate(decoded)
    assert decode_unverified(forged.wrong_claim_types(issuer, claims, sub=None))[1]["sub"] is None


def test_compact_builds_exactly_the_parts() -> None:
    token = forged.compact({"alg": "x"}, b"raw", b"\x00\xff")
    assert token == forged.b64url(b'{"alg":"x"}') + ".cmF3.AP8"


# --- decode_unverified ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("a.b.c.d.e", "five is a JWE"),
        ("", "1 segment(s)"),
        ("eyJhbGciOiJFUzI1NiJ9=.e30.", "padded with '='"),
        ("eyJhbGciOiJFUzI1NiJ9.e31.", "non-canonical"),
        ("eyJhbGciOiJFUzI1NiJ9.e.", "impossible length"),
        ("e30." + forged.b64url(b"\xff\xfe") + ".", "not UTF-8"),
        ("e30." + forged.b64url(b'{"aud":1,"aud":2}') + ".", "duplicate member name(s) ['aud']"),
        (forged.b64url(b'"x"') + ".e30.", "header is JSON but not an object"),
        ("e30.e30.a+b", "signature is not base64url"),
    ],
)
def test_decode_unverified_says_why(token: str, reason: str) -> None:
    with pytest.raises(TokenFormatError) as raised:
        decode_unverified(token)
    assert reason in str(raised.value)


def test_decode_unverified_accepts_an_empty_signature() -> None:
    assert decode_unverified("e30.eyJhIjoxfQ.") == ({}, {"a": 1})


def test_b64url_decode_matches_the_encoder() -> None:
    for length in range(40):
        data = bytes(range(length))
        assert b64url_decode(forged.b64url(data)) == data


# --- verify_signature edge cases -----------------------------------------------------


def test_verify_signature_requires_kid_only_with_several_keys(
    issuer: TokenIssuer, claims: dict[str, Any], keys: KeySet
) -> None:
    no_kid = issuer.mint(claims, kid=None)
    assert verify_signature(no_kid, keys) == (True, "")
    two = {"keys": [*issuer.public_jwks()["keys"], TokenIssuer.generate(issuer=ECS).public_jwks()["keys"][0]]}
    ok, why = verify_signature(no_kid, two)
    assert not ok
    assert "no kid in the header and the key set has 2 keys" in why
    assert verify_signature(issuer.mint(claims), two) == (True, "")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"header": {"kid": 7}}, "kid is not a string"),
        ({"alg": "ES256", "header": {"alg": "ES384"}}, "cannot verify alg 'ES384'"),
    ],
)
def test_verify_signature_header_problems(
    issuer: TokenIssuer, claims: dict[str, Any], keys: KeySet, kwargs: dict[str, Any], reason: str
) -> None:
    header = {"alg": "ES256", "typ": "at+jwt", "kid": issuer.kid, **kwargs["header"]}
    token = forged.compact(header, claims, signature_of(issuer.mint(claims)))
    ok, why = verify_signature(token, keys)
    assert not ok
    assert reason in why


def test_verify_signature_honours_the_allow_list(token: str, keys: KeySet) -> None:
    ok, why = verify_signature(token, keys, algorithms=("RS256",))
    assert not ok
    assert "not in the accepted algorithms" in why


def test_verify_signature_refuses_a_missing_alg_and_duplicate_kids(
    issuer: TokenIssuer, claims: dict[str, Any], token: str
) -> None:
    assert "alg is missing" in verify_signature(forged.compact({"typ": "at+jwt"}, claims), issuer.public_jwks())[1]
    twice = {"keys": issuer.public_jwks()["keys"] * 2}
    assert "2 keys share kid" in verify_signature(token, twice)[1]


def test_verify_signature_accepts_a_large_x5c_header(issuer: TokenIssuer, claims: dict[str, Any]) -> None:
    token = issuer.mint(claims, header={"x5c": ["A" * 1500, "B" * 1500]})
    assert verify_signature(token, issuer.public_jwks()) == (True, "")


# --- key sets ------------------------------------------------------------------------


def test_load_jwks_from_a_file(issuer: TokenIssuer, tmp_path: Path, token: str) -> None:
    path = tmp_path / "issuer.jwks.json"
    path.write_text(json.dumps(issuer.public_jwks()))
    assert verify_signature(token, load_jwks(path)) == (True, "")


def test_load_jwks_skips_unknown_key_types(issuer: TokenIssuer, token: str) -> None:
    jwks = {"keys": [{"kty": "ML-DSA", "kid": "pq"}, *issuer.public_jwks()["keys"]]}
    assert len(load_jwks(jwks).keys) == 1


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ({}, '"keys" array'),
        ({"keys": "x"}, '"keys" array'),
        ({"keys": [1]}, "keys[0] is not a JSON object"),
        ({"keys": [{"kty": "EC", "crv": "P-256"}]}, "unusable key set"),
        ({"keys": []}, "unusable key set"),
        (Path("/nonexistent/jwks.json"), "cannot read"),
    ],
)
def test_load_jwks_errors(source: dict[str, Any] | Path, reason: str) -> None:
    with pytest.raises(JwksError) as raised:
        load_jwks(source)
    assert reason in str(raised.value)


def test_private_members_are_reported(issuer: TokenIssuer) -> None:
    leaked = {"keys": [issuer.key.as_dict(private=True), OctKey.generate_key(256).as_dict(private=True)]}
    assert private_members(leaked) == ["keys[0].d", "keys[1].k"]
    assert private_members({"keys": "nonsense"}) == []


def test_a_jwks_with_private_members_still_verifies(issuer: TokenIssuer, token: str) -> None:
    leaked = {"keys": [{**issuer.key.as_dict(private=True), "kid": issuer.kid}]}
    assert verify_signature(token, leaked) == (True, "")


# --- evidence ------------------------------------------------------------------------


def test_token_facts_of_a_good_token(token: str) -> None:
    facts = token_facts("token for ees-1", token, verified=True)
    assert isinstance(facts, TokenFacts)
    assert facts.header["typ"] == "at+jwt"
    assert facts.claims["aud"] == EES
    assert (facts.verified, facts.problem) == (True, "")
    assert token not in facts.redacted
    assert facts.redacted.startswith(token[:12])


def test_token_facts_of_a_malformed_token(token: str) -> None:
    facts = token_facts("bad", forged.two_segments(token), verified=False, problem="signature: no")
    assert (facts.header, facts.claims) == ({}, {})
    assert facts.problem.startswith("signature: no; not a JWS: 2 segment(s)")
