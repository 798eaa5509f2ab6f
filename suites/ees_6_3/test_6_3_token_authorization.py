"""TS 33.558 6.3: "If the EES requires access token for authorization, then the EES shall
authorize the EEC by using the token." Token profile: clause 6.2 (JWT, JWS, bearer, claims)."""

import pytest

from conformance.checks import http
from conformance.peers import forged_tokens


@pytest.mark.positive_control
@pytest.mark.req("EES-TOK-01", "EES-RESP-01")
def test_accepts_valid_token(ees):
    """EES-TOK-01: a valid token from the trusted ECS, as Authorization: Bearer, is accepted (201 EECRegistration)."""
    ees.require_token_authorization()
    exchange = ees.register(token=ees.token())
    http.status_in(exchange, {201}, meaning="the registration served on a valid token")
    http.conforms_to(exchange, "EECRegistration")


@pytest.mark.req("EES-TOK-02")
def test_refuses_request_without_token(ees):
    """EES-TOK-02: a request without a token is refused with 401 and a Bearer challenge (RFC 6750 3.1)."""
    ees.require_token_authorization()
    exchange = ees.register(token=None)
    http.status_in(exchange, {401}, meaning="a refusal for a missing access token (401)")
    http.bearer_challenge(exchange, error=None)


@pytest.mark.req("EES-TOK-03")
@pytest.mark.parametrize("spelling", ["none", "None", "NONE", "nOnE"])
def test_refuses_unsigned_token(ees, spelling):
    """EES-TOK-03: an unsigned token (alg none, in any case) is refused with 401 invalid_token."""
    ees.require_token_authorization()
    exchange = ees.register(token=forged_tokens.alg_none(ees.claims(), alg_spelling=spelling))
    http.status_in(exchange, {401}, meaning="a refusal of an unsigned token (401 invalid_token)")
    http.bearer_challenge(exchange, error="invalid_token")


@pytest.mark.req("EES-TOK-05")
@pytest.mark.parametrize("audience", ["sibling", "absent"])
def test_refuses_token_for_another_audience(ees, audience):
    """EES-TOK-05: a token whose aud is not this EES's FQDN (a sibling EES), or lacks aud, is refused."""
    ees.require_token_authorization()
    token = ees.token(aud=f"sibling-of.{ees.config.fqdn}") if audience == "sibling" else ees.token(omit=("aud",))
    exchange = ees.register(token=token)
    http.status_in(exchange, {401}, meaning="a refusal of a token addressed to another audience (401 invalid_token)")
    http.bearer_challenge(exchange, error="invalid_token")


@pytest.mark.req("EES-TOK-10")
def test_invalid_token_never_falls_back_to_local_policy(ees):
    """EES-TOK-10: fail closed: an EEC local policy would allow, with a forged token, is refused, not served."""
    ees.require_token_authorization()
    exchange = ees.register(token=forged_tokens.tampered_signature(ees.token()))
    http.status_in(exchange, {401}, meaning="a refusal of a token whose signature does not verify (401)")
