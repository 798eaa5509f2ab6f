"""Token-endpoint binding: the ECS hands out EES access tokens from an OAuth 2.0 token endpoint,
client-credentials grant (RFC 6749 4.4), bearer tokens (RFC 6750)."""

import time

import pytest

from conformance.checks import client_auth, http, token_claims
from conformance.under_test import TOKEN_CLIENT_AUTHS

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


@pytest.mark.req("ECS-TOK-10")
@pytest.mark.parametrize("method", TOKEN_CLIENT_AUTHS)
def test_declared_client_authentication_gets_token(ecs, method):
    """Each client authentication the token endpoint is declared to accept gets the authorized EEC a
    Bearer token: its TLS certificate (RFC 8705 2.1), a registered self-signed one (2.2), a JWT signed
    with its registered key (RFC 7523 2.2), or a client secret (RFC 6749 2.3.1)."""
    ecs.require_client_auth(method)
    ees = ecs.candidates("token")[0]
    token_claims.bearer_token_response(ecs.request_token(ees, method=method))


@pytest.mark.req("ECS-TOK-10", "ECS-RESP-01")
@pytest.mark.parametrize("forgery", ["signed with another key", "expired"])
def test_forged_client_assertion_refused(ecs, forgery):
    """private_key_jwt: an assertion the EEC's registered key did not sign, or one whose exp has
    passed, authenticates no client (RFC 7523 3, items 4 and 9): no token, ideally invalid_client."""
    ecs.require_client_auth("private_key_jwt")
    ees = ecs.candidates("token")[0]
    control = ecs.request_token(ees, method="private_key_jwt", label="positive control: the EEC's own assertion")
    client_auth.control_got_token(control, method="private_key_jwt")
    ecs.evidence.note("deliberately broken", f"the client assertion is {forgery}")
    if forgery == "expired":
        now = int(time.time())
        exchange = ecs.request_token(
            ees, method="private_key_jwt", assertion_claims={"iat": now - 7200, "exp": now - 3600}
        )
    else:
        exchange = ecs.request_token(ees, method="private_key_jwt", assertion_key=ecs.stranger_key())
    client_auth.no_token(exchange, meaning=f"the client assertion is {forgery}")
    client_auth.invalid_client_shape(exchange)


@pytest.mark.req("ECS-TOK-10", "ECS-RESP-01")
def test_unregistered_self_signed_cert_refused(ecs):
    """self_signed_tls_client_auth: a self-signed certificate that is not the one registered for the
    client authenticates nobody (RFC 8705 2.2): neither a fresh one, nor another EEC's registered one."""
    ecs.require_client_auth("self_signed_tls_client_auth")
    ees = ecs.candidates("token")[0]
    method = "self_signed_tls_client_auth"
    control = ecs.request_token(ees, method=method, label="positive control: the registered certificate")
    client_auth.control_got_token(control, method=method)
    for what, certificate in ecs.unregistered_self_signed():
        ecs.evidence.note("deliberately broken", f"the EEC presents {what}")
        exchange = ecs.request_token(ees, method=method, presented=certificate, label=f"token request with {what}")
        client_auth.no_token(exchange, meaning=f"the certificate is {what}", handshake_refusal_ok=True)
        client_auth.invalid_client_shape(exchange)
