"""Token hygiene (RFC 8725, RFC 9068) for the EES access tokens of TS 33.558 6.2: the JWS
profile of RFC 7515 is followed as current practice wants it."""

import pytest

from conformance.checks import token_claims

pytestmark = pytest.mark.needs("token-issuance")


@pytest.mark.req("ECS-TOK-11")
def test_token_header_and_claims_hygiene(ecs):
    """Every token has a resolvable kid, typ at+jwt, an asymmetric algorithm and an iat claim."""
    issued = ecs.tokens_issued()
    jwks, _ = ecs.token_keys()
    for token in issued.values():
        token_claims.kid_resolvable(token, jwks)
        token_claims.typ_is(token, "at+jwt")
        token_claims.asymmetric_algorithm(token)
        token_claims.has_claim(token, "iat", meaning="iat: when the token was issued (RFC 9068 2.2)")


@pytest.mark.req("ECS-TOK-11")
def test_jti_unique_across_requests(ecs):
    """Every token has a jti, and no two tokens share one, across two provisioning requests."""
    first = ecs.tokens_issued()
    second = ecs.tokens_issued()
    token_claims.jti_unique([*first.values(), *second.values()])


@pytest.mark.req("ECS-TOK-11")
def test_published_keys_are_public_and_strong(ecs):
    """The declared key set carries no private members, and its RSA keys have at least 2048 bits."""
    jwks, _ = ecs.token_keys()
    token_claims.no_private_members(jwks)
    token_claims.rsa_key_size(jwks)
