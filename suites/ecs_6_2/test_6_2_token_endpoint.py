"""Token-endpoint binding: the ECS hands out EES access tokens from an OAuth 2.0 token endpoint,
client-credentials grant (RFC 6749 4.4), bearer tokens (RFC 6750)."""

import pytest

from conformance.checks import http, token_claims

pytestmark = [pytest.mark.needs("token-endpoint"), pytest.mark.needs("token-issuance")]


@pytest.mark.req("ECS-TOK-10")
def test_client_credentials_grant_gives_bearer_token(ecs):
    """A client-credentials request of the authorized EEC for a token-based EES gets a Bearer token."""
    for ees in ecs.candidates("token"):
        token_claims.bearer_token_response(ecs.request_token(ees))


@pytest.mark.req("ECS-TOK-10", "ECS-RESP-01")
@pytest.mark.parametrize(
    "grant_type", ["password", "authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"]
)
def test_other_grant_types_refused(ecs, grant_type):
    """Another grant type gets no token (400 unsupported_grant_type, RFC 6749 5.2)."""
    ees = ecs.candidates("token")[0]
    ecs.evidence.note("deliberately broken", f"grant_type = {grant_type!r} instead of client_credentials")
    exchange = ecs.request_token(ees, grant_type=grant_type)
    http.refused(exchange, meaning=f"grant_type {grant_type!r} is not the client-credentials grant")
    token_claims.oauth_error_shape(exchange, error="unsupported_grant_type")
