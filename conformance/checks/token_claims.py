"""Token facts: the claims and protection of the EES access tokens an ECS issues (6.2).

Each function judges one fact of one token (or of a set of tokens, or of the published key
set) from evidence alone and raises :class:`CheckFailed` with what was expected against what
the token says. Claims are compared as JSON values, never as substrings of the token.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from conformance.errors import CheckFailed, ShapeViolation
from conformance.evidence import HttpExchange, TokenFacts
from conformance.issued_tokens import ASYMMETRIC_ALGORITHMS, private_members

__all__ = [
    "MIN_RSA_BITS",
    "asymmetric_algorithm",
    "audience_names",
    "bearer_token_response",
    "claim_equals",
    "distinct",
    "expiry",
    "has_claim",
    "issued_for_exactly",
    "jti_unique",
    "kid_resolvable",
    "no_private_members",
    "oauth_error_shape",
    "rsa_key_size",
    "scope_is",
    "signed_and_verified",
    "typ_is",
]

MIN_RSA_BITS = 2048
"""RFC 8725 3.5 / NIST SP 800-57: RSA keys below 2048 bits are too weak."""

CLOCK_SLACK_S = 2.0
"""What the lifetime checks allow for the one-second resolution of the ``Date`` header and the
time the response took to arrive."""

__all__ = ["claim_equals"]


def claim_equals(token: TokenFacts, claim: str, expected: Any, *, meaning: str) -> None:
    """Holds when ``claim`` is present and equal to ``expected`` (``meaning``: what it must name)."""
    has_claim(token, claim, meaning=f"{claim} = {expected!r} ({meaning})")
    if token.claims[claim] != expected:
        raise CheckFailed(
            title=f"{token.label}: claim '{claim}' does not name {meaning}",
            expected=f"{claim} = {expected!r}",
            actual=f"{claim} = {token.claims[claim]!r}",
        )


def has_claim(token: TokenFacts, claim: str, *, meaning: str) -> None:
    """Holds when ``claim`` is present (``meaning``: what it must be)."""
    if claim not in token.claims:
        raise CheckFailed(
            title=f"{token.label}: claim '{claim}' is missing",
            expected=meaning,
            actual=f"claims present: {', '.join(sorted(token.claims)) or 'none'}",
        )


def scope_is(token: TokenFacts, services: Collection[str]) -> None:
    """``scope`` is a string of space-separated names (RFC 8693 4.2) that are exactly ``services``."""
    wanted = " ".join(sorted(services))
    has_claim(token, "scope", meaning=f"scope = {wanted!r} (the EES service names)")
    scope = token.claims["scope"]
    if not isinstance(scope, str):
        raise CheckFailed(
            title=f"{token.label}: claim 'scope' is not a string of space-separated names",
            expected=f"scope = {wanted!r} (RFC 8693 4.2, RFC 9068 2.2.3)",
            actual=f"scope = {scope!r} ({type(scope).__name__})",
        )
    names = scope.split(" ")
    if set(names) != set(services) or "" in names:
        missing, extra = sorted(set(services) - set(names)), sorted(set(names) - set(services))
        raise CheckFailed(
            title=f"{token.label}: claim 'scope' does not name exactly the EES's service names",
            expected=f"the names {sorted(services)} (any order, single spaces)",
            actual=f"scope = {scope!r}"
            + (f"; missing {missing}" if missing else "")
            + (f"; extra {extra}" if extra else ""),
        )


def audience_names(token: TokenFacts, fqdn: str) -> None:
    """``aud`` is the EES FQDN, or an array holding it (RFC 7519 4.1.3)."""
    has_claim(token, "aud", meaning=f"aud = {fqdn!r} (the FQDN of the EES the token is for)")
    aud = token.claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
    if audiences is None or fqdn not in audiences:
        raise CheckFailed(
            title=f"{token.label}: claim 'aud' does not name the EES the token is for",
            expected=f"aud = {fqdn!r} (or an array containing it)",
            actual=f"aud = {aud!r}",
        )


def expiry(token: TokenFacts, *, server_now: float, max_lifetime: int) -> None:
    """``exp`` is a number, in the future of the ECS's clock, at most ``max_lifetime`` s away
    (from ``iat`` when there is one, and from the ECS's clock now)."""
    has_claim(token, "exp", meaning="exp: a NumericDate in the future (RFC 7519 4.1.4)")
    exp = token.claims["exp"]
    if not _is_number(exp):
        raise CheckFailed(
            title=f"{token.label}: claim 'exp' is not a NumericDate",
            expected="exp: a JSON number of seconds since the epoch (RFC 7519 2, 4.1.4)",
            actual=f"exp = {exp!r} ({type(exp).__name__})",
        )
    if exp <= server_now - CLOCK_SLACK_S:
        raise CheckFailed(
            title=f"{token.label}: the token has already expired when issued",
            expected=f"exp after the ECS's clock now ({server_now:.0f})",
            actual=f"exp = {exp} ({server_now - exp:.0f} s in the past)",
        )
    iat = token.claims.get("iat")
    spans = [("exp - now (ECS clock)", exp - server_now - CLOCK_SLACK_S)]
    if _is_number(iat):
        spans.append(("exp - iat", exp - iat))
    for what, span in spans:
        if span > max_lifetime:
            raise CheckFailed(
                title=f"{token.label}: the token lives longer than the declared maximum",
                expected=f"{what} <= max_token_lifetime = {max_lifetime} s",
                actual=f"{what} = {span:.0f} s (exp = {exp}, iat = {iat!r}, ECS now = {server_now:.0f})",
            )


def signed_and_verified(token: TokenFacts) -> None:
    """A JWS (not ``alg: none``) whose signature verified with the declared keys."""
    alg = token.header.get("alg")
    if not token.header:
        raise CheckFailed(
            title=f"{token.label}: not a JWS in compact serialization",
            expected="a JWT in JWS compact serialization (RFC 7519 7.1, RFC 7515 7.1)",
            actual=token.problem or "no decodable header",
        )
    if not isinstance(alg, str) or alg.lower() == "none":
        raise CheckFailed(
            title=f"{token.label}: the token is not signed",
            expected="a signed JWS (alg: an asymmetric signature algorithm)",
            actual=f"alg = {alg!r}; {token.problem}",
        )
    if token.verified is not True:
        raise CheckFailed(
            title=f"{token.label}: the signature does not verify with the ECS's declared keys",
            expected="a signature that verifies with a key of the declared key set (ecs.token_keys)",
            actual=token.problem or "not verified",
        )


def distinct(tokens: Mapping[str, TokenFacts]) -> None:
    """Each EES got its own token: no two EESes share one (compared by SHA-256 of the compact form)."""
    by_digest: dict[str, list[str]] = {}
    for ees_id, token in tokens.items():
        by_digest.setdefault(token.sha256, []).append(ees_id)
    shared = [sorted(ids) for ids in by_digest.values() if len(ids) > 1]
    if shared:
        raise CheckFailed(
            title="The ECS handed out one token for several EESes",
            expected="a separate access token for each token-based candidate EES",
            actual="; ".join(
                f"the same token (sha256 {tokens[ids[0]].sha256[:12]}) for {', '.join(ids)}" for ids in shared
            ),
        )


def issued_for_exactly(issued: Iterable[str], token_based: Iterable[str], *, local: Iterable[str] = ()) -> None:
    """Tokens went to exactly the EESes declared token-based (ECS-CFG-01)."""
    got, wanted = set(issued), set(token_based)
    if got != wanted:
        extra, missing = sorted(got - wanted), sorted(wanted - got)
        local_extra = sorted(set(extra) & set(local))
        raise CheckFailed(
            title="The ECS's tokens do not follow the declared authorization method of each EES",
            expected=f"tokens for exactly {sorted(wanted)} (declared token-based)",
            actual=f"tokens for {sorted(got)}"
            + (f"; for local-policy EES(es) {local_extra}" if local_extra else "")
            + (f"; none for {missing}" if missing else ""),
        )


def bearer_token_response(exchange: HttpExchange) -> None:
    """A successful token response (RFC 6749 5.1): 200, an access_token, token_type Bearer
    (compared case-insensitively, RFC 6749 7.1 / RFC 6750 4)."""
    body = exchange.response_json
    if exchange.status != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise CheckFailed(
            title="The token endpoint issued no access token to the authorized EEC",
            expected="200 with a JSON access_token (RFC 6749 4.4.3, 5.1)",
            actual=exchange.summary(),
        )
    token_type = body.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise CheckFailed(
            title="The token endpoint's token is not a bearer token",
            expected="token_type = 'Bearer' (RFC 6750 4, case-insensitive)",
            actual=f"token_type = {token_type!r}",
        )


def oauth_error_shape(exchange: HttpExchange, *, error: str) -> None:
    """The refusal is an RFC 6749 5.2 error response: 400, JSON with ``error`` = ``error``."""
    body = exchange.response_json
    got = body.get("error") if isinstance(body, dict) else None
    if exchange.status != 400 or got != error:
        raise ShapeViolation(
            title="The token endpoint's refusal is not the RFC 6749 5.2 error response",
            expected=f"HTTP 400 with a JSON body whose error = {error!r}",
            actual=f"HTTP {exchange.status}, error = {got!r}",
            layer="http",
        )


# hygiene (ECS-TOK-11, RFC 8725, RFC 9068) --------------------------------------------------


def typ_is(token: TokenFacts, expected: str = "at+jwt") -> None:
    """The header ``typ`` names an access token (RFC 9068 2.1; media types compare case-insensitively)."""
    typ = token.header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != expected:
        raise CheckFailed(
            title=f"{token.label}: header 'typ' does not mark a JWT access token",
            expected=f"typ = {expected!r} (RFC 9068 2.1, RFC 8725 3.11)",
            actual=f"typ = {typ!r}",
        )


def kid_resolvable(token: TokenFacts, jwks: Mapping[str, Any]) -> None:
    """The header carries a ``kid`` naming exactly one key of the published set (RFC 7515 4.1.4)."""
    kid = token.header.get("kid")
    kids = [k.get("kid") for k in jwks.get("keys", []) if isinstance(k, Mapping)]
    if not isinstance(kid, str):
        raise CheckFailed(
            title=f"{token.label}: header 'kid' is missing",
            expected=f"a kid naming a key of the published set (kids: {kids})",
            actual=f"kid = {kid!r}",
        )
    if kids.count(kid) != 1:
        raise CheckFailed(
            title=f"{token.label}: header 'kid' does not name exactly one published key",
            expected=f"one of {kids}, exactly once",
            actual=f"kid = {kid!r} ({kids.count(kid)} keys carry it)",
        )


def asymmetric_algorithm(token: TokenFacts) -> None:
    """A signed token uses an asymmetric algorithm (unsigned ones are ECS-TOK-03's business)."""
    alg = token.header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        return
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise CheckFailed(
            title=f"{token.label}: not signed with an asymmetric algorithm",
            expected=f"alg one of {list(ASYMMETRIC_ALGORITHMS)} (RFC 8725 3.1)",
            actual=f"alg = {alg!r}",
        )


def rsa_key_size(jwks: Mapping[str, Any], minimum: int = MIN_RSA_BITS) -> None:
    """Every published RSA key has a modulus of at least ``minimum`` bits."""
    for index, key in enumerate(jwks.get("keys", [])):
        if not isinstance(key, Mapping) or key.get("kty") != "RSA":
            continue
        bits = _modulus_bits(key.get("n"))
        if bits < minimum:
            raise CheckFailed(
                title=f"Published RSA key keys[{index}] (kid {key.get('kid')!r}) is too short",
                expected=f"an RSA modulus of at least {minimum} bits (RFC 8725 3.5)",
                actual=f"{bits} bits" if bits else f"n = {key.get('n')!r} is not a base64url integer",
            )


def no_private_members(jwks: Mapping[str, Any]) -> None:
    """The published key set carries no private key members (RFC 7517 / RFC 7518 6)."""
    leaks = private_members(jwks)
    if leaks:
        raise CheckFailed(
            title="The published key set carries private key material",
            expected="public members only (no d, p, q, dp, dq, qi, oth, k)",
            actual=f"private members at {', '.join(leaks)}",
        )


def jti_unique(tokens: Iterable[TokenFacts]) -> None:
    """Every token has a ``jti`` (RFC 9068 2.2) and no two tokens share one (RFC 7519 4.1.7).

    The same token seen twice (same SHA-256) is one token: handing it to several EESes is
    ECS-TOK-01's business, not a jti collision."""
    seen: dict[Any, str] = {}
    unique = {token.sha256 or token.redacted: token for token in tokens}
    for token in unique.values():
        has_claim(token, "jti", meaning="a jti unique to this token (RFC 9068 2.2, RFC 7519 4.1.7)")
        jti = token.claims["jti"]
        key = repr(jti)
        if key in seen:
            raise CheckFailed(
                title="Two tokens carry the same 'jti'",
                expected="a jti unique per token (RFC 7519 4.1.7)",
                actual=f"jti = {jti!r} in both {seen[key]} and {token.label}",
            )
        seen[key] = token.label


def _modulus_bits(n: Any) -> int:
    if not isinstance(n, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
