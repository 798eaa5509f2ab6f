"""TS 33.558 6.2/6.3: tokens are JWTs protected by the JWS profile of RFC 7515, signed by the ECS;
the EES authorizes the EEC "by using the token", so only a signature that verifies with the
trusted ECS key counts (RFC 8725 3.1-3.3, 3.10).

Each case sends the authorized EEC's own certificate and a token whose claims are all valid;
only the protection is broken, as the evidence note "deliberately broken" says.
"""

import json

import pytest
from joserfc.jwk import ECKey

from conformance.checks import http
from conformance.errors import CheckFailed
from conformance.peers import forged_tokens
from conformance.peers.fetch_trap import FetchTrap

pytestmark = pytest.mark.needs("token-authorization")

_BROKEN = {
    "tampered-signature": lambda ees: forged_tokens.tampered_signature(ees.token()),
    "tampered-payload": lambda ees: forged_tokens.tampered_payload(ees.token()),
    "stripped-signature": lambda ees: forged_tokens.stripped_signature(ees.token()),
    "ecdsa-zero-signature": lambda ees: forged_tokens.ecdsa_zero_signature(ees.token()),
}

_ATTACKER_KEYS = {
    "hs256-keyed-with-ecs-public-key": lambda ees: forged_tokens.hs256_with_public_key(
        ees.claims(), ees.issuer.public_pem(), kid=ees.issuer.kid
    ),
    "embedded-jwk": lambda ees: forged_tokens.embedded_jwk(ees.claims(), ECKey.generate_key("P-256")),
    "unknown-kid": lambda ees: forged_tokens.unknown_kid(ees.issuer, ees.claims()),
    "kid-path-traversal-hs256": lambda ees: forged_tokens.injected_kid(
        ees.issuer, ees.claims(), kid=forged_tokens.INJECTED_KIDS[0][0], secret=forged_tokens.INJECTED_KIDS[0][1]
    ),
    "kid-sql-injection-hs256": lambda ees: forged_tokens.injected_kid(
        ees.issuer, ees.claims(), kid=forged_tokens.INJECTED_KIDS[1][0], secret=forged_tokens.INJECTED_KIDS[1][1]
    ),
    "untrusted-issuer-key": lambda ees: forged_tokens.untrusted_issuer_key(ees.claims()),
    "untrusted-key-under-trusted-kid": lambda ees: forged_tokens.untrusted_issuer_key(ees.claims(), kid=ees.issuer.kid),
}


def _refused_as_invalid(exchange, meaning):
    http.refused(exchange, meaning=meaning)
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-03", "EES-RESP-02")
@pytest.mark.parametrize("kind", list(_BROKEN))
def test_refuses_token_with_broken_signature(ees, kind):
    """A token whose signature was tampered with, stripped, or zeroed (CVE-2022-21449) is refused."""
    token = ees.forged(kind.replace("-", " "), _BROKEN[kind](ees))
    _refused_as_invalid(ees.register(token=token), f"the token's signature does not verify ({kind})")


@pytest.mark.req("EES-TOK-03", "EES-RESP-02")
@pytest.mark.parametrize("kind", list(_ATTACKER_KEYS))
def test_refuses_token_signed_with_key_of_attackers_choice(ees, kind):
    """A token signed with a key the attacker chose (HS256 + public key, jwk, kid tricks, foreign key) is refused."""
    token = ees.forged(kind.replace("-", " "), _ATTACKER_KEYS[kind](ees))
    _refused_as_invalid(ees.register(token=token), f"no trusted ECS key signed the token ({kind})")


@pytest.mark.req("EES-TOK-03", "EES-RESP-02")
@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_never_fetches_key_url_named_by_token(ees, member):
    """A token whose jku/x5u points at a URL the harness serves is refused, and the URL is never fetched."""
    attacker = ECKey.generate_key("P-256")
    attacker.ensure_kid()
    jwks = {"keys": [dict(attacker.as_dict(private=False))]}
    body = json.dumps(jwks).encode() if member == "jku" else attacker.as_pem(private=False)
    with FetchTrap(body) as trap:
        url = trap.url(f"/{member}")
        if member == "jku":
            token = forged_tokens.jku_elsewhere(ees.claims(), attacker, url)
        else:
            token = forged_tokens.x5u_elsewhere(ees.claims(), attacker, url)
        token = ees.forged(f"signed by an attacker key, {member} = {url} (a listener the harness runs)", token)
        exchange = ees.register(token=token)
        visits = trap.wait_quiet()
    ees.evidence.note(
        "fetch trap",
        f"{len(visits)} connection(s) to {url}"
        + "".join(f"; {v.peer} {v.tls} {v.request_line!r} {v.user_agent!r}" for v in visits),
    )
    http.refused(exchange, meaning=f"the token was signed by a key its {member} header names, not by the ECS")
    if visits:
        raise CheckFailed(
            title=f"The EES fetched the {member} URL of a token (RFC 8725 3.10: never fetch what a token names)",
            expected=f"no connection to {url}",
            actual=f"{len(visits)} connection(s): " + "; ".join(f"{v.request_line or v.tls}" for v in visits),
        )
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")
