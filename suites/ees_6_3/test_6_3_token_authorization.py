"""TS 33.558 6.3: "If the EES requires access token for authorization, then the EES shall
authorize the EEC by using the token." Token profile: clause 6.2 (JWT, JWS, bearer, claims).

Every refusal case judges the outcome (served or not) under its own requirement and the form of
the refusal (401, the Bearer challenge and its error code, ProblemDetails) under EES-RESP-02.
"""

import time

import pytest

from conformance.checks import http
from conformance.peers import forged_tokens

pytestmark = pytest.mark.needs("token-authorization")


@pytest.mark.positive_control
@pytest.mark.req("EES-TOK-01")
def test_accepts_valid_token(ees):
    """A valid token from the trusted ECS, as Authorization: Bearer, is accepted and the request served."""
    exchange = ees.register(token=ees.token())
    http.served(exchange, meaning="the registration served on a valid token")


@pytest.mark.req("EES-TOK-02", "EES-RESP-02")
def test_refuses_request_without_token(ees):
    """A request without a token is refused (401, a Bearer challenge without an error code, RFC 6750 3.1)."""
    exchange = ees.register(token=None)
    http.refused(exchange, meaning="no access token was sent")
    http.refusal_shape(exchange, status=401, bearer_error=None)


@pytest.mark.req("EES-TOK-03", "EES-RESP-02")
@pytest.mark.parametrize("spelling", ["none", "None", "NONE", "nOnE"])
def test_refuses_unsigned_token(ees, spelling):
    """An unsigned token (alg none, in any letter case) is refused."""
    exchange = ees.register(token=forged_tokens.alg_none(ees.claims(), alg_spelling=spelling))
    http.refused(exchange, meaning="the token is unsigned (alg none)")
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-04", "EES-RESP-02")
def test_refuses_expired_token(ees):
    """A token that expired ten minutes ago is refused."""
    exchange = ees.register(token=ees.token(exp=int(time.time()) - 600))
    http.refused(exchange, meaning="the token has expired")
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-04", "EES-RESP-02", level="S")
def test_refuses_token_not_yet_valid(ees):
    """A token whose nbf is ten minutes ahead is refused (the catalogue grades this part S)."""
    exchange = ees.register(token=ees.token(nbf=int(time.time()) + 600))
    http.refused(exchange, meaning="the token is not valid yet (nbf)")
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-05", "EES-RESP-02")
@pytest.mark.parametrize("audience", ["sibling", "absent"])
def test_refuses_token_for_another_audience(ees, audience):
    """A token whose aud is not this EES's FQDN (a sibling EES), or lacks aud, is refused."""
    token = ees.token(aud=f"sibling-of.{ees.fqdn}") if audience == "sibling" else ees.token(omit=("aud",))
    exchange = ees.register(token=token)
    http.refused(exchange, meaning="the token is addressed to another audience")
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-09", "EES-RESP-02")
def test_refuses_token_whose_subject_is_another_gpsi(ees):
    """A token whose sub is a GPSI other than the EEC's own, with the EEC's own ueId, is refused."""
    exchange = ees.register(token=ees.token(sub=ees.foreign_gpsi()))
    http.refused(exchange, meaning="the token's sub is not the GPSI of the request")
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-09", "EES-RESP-02", level="S")
def test_refuses_token_without_subject(ees):
    """A token without sub is refused (the catalogue grades this part S)."""
    exchange = ees.register(token=ees.token(omit=("sub",)))
    http.refused(exchange, meaning="the token has no sub")
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-10")
def test_invalid_token_never_falls_back_to_local_policy(ees):
    """Fail closed: an EEC local policy would allow, with a token whose signature does not verify, is refused."""
    exchange = ees.register(token=forged_tokens.tampered_signature(ees.token()))
    http.refused(exchange, meaning="the token's signature does not verify")
