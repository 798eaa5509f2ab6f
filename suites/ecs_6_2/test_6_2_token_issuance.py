"""TS 33.558 6.2: "The ECS is configured with the authorization method (token-based or local)
of each EES" and "issues separate EES access tokens to be used for each candidate EES that use
token-based authorization"; the tokens are JWTs protected with the JWS profile of RFC 7515."""

import pytest

from conformance.checks import http, token_claims

pytestmark = pytest.mark.needs("token-issuance")


def _local_token_refused(ecs, ees):
    exchange = ecs.request_token(ees, label=f"token request for the local-policy EES {ees.ees_id}")
    http.refused(exchange, meaning=f"{ees.ees_id} is declared local-policy: it gets no token")


@pytest.mark.req("ECS-CFG-01")
def test_tokens_exactly_for_token_based_ees(ecs):
    """Tokens are issued for exactly the candidate EESes declared token-based, none for the others."""
    issued = ecs.tokens_issued()
    token_based = [ees.ees_id for ees in ecs.candidates("token")]
    local = ecs.candidates("local")
    if ecs.binding == "response":
        token_claims.issued_for_exactly(issued, token_based, local=[ees.ees_id for ees in local])
    else:
        token_claims.issued_for_exactly(issued, token_based)
        for ees in local:
            _local_token_refused(ecs, ees)


@pytest.mark.req("ECS-TOK-01")
def test_separate_token_for_each_token_based_ees(ecs):
    """Each token-based candidate EES gets its own token, distinct from every other EES's."""
    issued = ecs.tokens_issued()
    if len(ecs.candidates("token")) < 2:
        ecs.evidence.note("coverage", "one token-based candidate EES declared: distinctness not observable")
    token_claims.distinct(issued)


@pytest.mark.req("ECS-TOK-02")
@pytest.mark.needs("local-candidate")
def test_no_token_for_local_policy_ees(ecs):
    """A candidate EES declared local-policy gets no token (in the response, or from the token endpoint)."""
    issued = ecs.tokens_issued()
    local = ecs.candidates("local")
    if ecs.binding == "response":
        local_ids = [ees.ees_id for ees in local]
        token_claims.issued_for_exactly(set(issued) & set(local_ids), [], local=local_ids)
    else:
        for ees in local:
            _local_token_refused(ecs, ees)


@pytest.mark.req("ECS-TOK-03")
def test_tokens_are_signed_jws_verifiable_with_declared_keys(ecs):
    """Every token is a JWS compact serialization, signed (not alg none), verifying with the declared keys."""
    for token in ecs.tokens_issued(verify=True).values():
        token_claims.signed_and_verified(token)
