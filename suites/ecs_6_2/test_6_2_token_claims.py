"""TS 33.558 6.2: "The claims of the EES service tokens in the form of JWT shall include the
ECS FQDN (issuer), EEC ID (client_id), GPSI (subject), expected EES service name(s) (scope),
EES FQDN (audience), expiration time (expiration).\"

Each case judges one claim of every token the ECS issues to the authorized EEC, read from the
decoded token (whether its signature verifies is ECS-TOK-03's verdict, not these)."""

import pytest

from conformance.checks import token_claims

pytestmark = pytest.mark.needs("token-issuance")


@pytest.mark.req("ECS-TOK-04")
def test_token_issuer_is_the_ecs_fqdn(ecs):
    """Every EES access token has iss = the ECS FQDN."""
    for token in ecs.tokens_issued().values():
        token_claims.claim_equals(token, "iss", ecs.fqdn, meaning="the ECS FQDN")


@pytest.mark.req("ECS-TOK-05")
def test_token_client_id_is_the_eec_id(ecs):
    """Every EES access token has client_id = the EEC ID of the request."""
    eec_id = ecs.identity().eec_id
    for token in ecs.tokens_issued().values():
        token_claims.claim_equals(token, "client_id", eec_id, meaning="the EEC ID of the request")


@pytest.mark.req("ECS-TOK-06")
def test_token_subject_is_the_gpsi(ecs):
    """Every EES access token issued to an EEC that sent its GPSI has sub = that GPSI."""
    gpsi = ecs.identity().gpsi
    for token in ecs.tokens_issued().values():
        token_claims.claim_equals(token, "sub", gpsi, meaning="the GPSI of the EEC")


@pytest.mark.req("ECS-TOK-07")
def test_token_scope_is_the_ees_service_names(ecs):
    """Every EES access token's scope is exactly the declared service names of its EES."""
    for ees_id, token in ecs.tokens_issued().items():
        token_claims.scope_is(token, ecs.candidate(ees_id).service_names)


@pytest.mark.req("ECS-TOK-08")
def test_token_audience_is_the_ees_fqdn(ecs):
    """Every EES access token's aud names the FQDN of the EES it is for."""
    for ees_id, token in ecs.tokens_issued().items():
        token_claims.audience_names(token, ecs.candidate(ees_id).fqdn)


@pytest.mark.req("ECS-TOK-09")
def test_token_expires_within_the_declared_lifetime(ecs):
    """Every EES access token has exp in the future of the ECS's clock, at most max_token_lifetime away."""
    issued = ecs.tokens_issued()
    now = ecs.server_now()
    for token in issued.values():
        token_claims.expiry(token, server_now=now, max_lifetime=ecs.max_token_lifetime)
