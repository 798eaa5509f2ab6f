"""How the token reaches the EES and what a malformed one does to it (RFC 6750 2.1, RFC 7515 7.1,
RFC 7519 7.2): best practice (S), so a violation is a WARN unless ``--strict``.

A malformed token is the client's error: the EES refuses it (401 ``invalid_token`` or 400
``invalid_request``) and never answers with a 5xx. The token goes in ``Authorization: Bearer``
only: one in the query is not used, and one sent two ways is refused with 400.
"""

import pytest

from conformance.checks import http
from conformance.peers import forged_tokens

pytestmark = pytest.mark.needs("token-authorization")

_MALFORMED = {
    "two-segments": lambda ees: forged_tokens.two_segments(ees.token()),
    "four-segments": lambda ees: forged_tokens.four_segments(ees.token()),
    "bad-base64url": lambda ees: forged_tokens.bad_base64(ees.token()),
    "non-json-payload": lambda ees: forged_tokens.non_json_payload(ees.issuer),
    "wrong-claim-types": lambda ees: forged_tokens.wrong_claim_types(ees.issuer, ees.claims()),
    "oversized-16k": lambda ees: forged_tokens.oversized(ees.issuer, ees.claims(), size=16_384),
}


@pytest.mark.req("EES-TOK-11", "EES-RESP-02")
@pytest.mark.parametrize("kind", list(_MALFORMED))
def test_refuses_malformed_token_without_server_error(ees, kind):
    """A malformed token (segments, base64url, JSON, claim types, size) is refused with a 4xx, never a 5xx."""
    exchange = ees.register(token=ees.forged(kind.replace("-", " "), _MALFORMED[kind](ees)))
    http.refused(exchange, meaning=f"the token is malformed ({kind})")
    http.no_server_error(exchange, meaning=f"a malformed token ({kind})")
    error = "invalid_request" if exchange.status == 400 else "invalid_token"
    http.refusal_shape(exchange, status={400, 401}, bearer_error=error)


@pytest.mark.req("EES-TOK-12", "EES-RESP-02")
def test_token_in_query_is_not_used(ees):
    """A valid token sent only as the access_token query parameter is not used: no token was sent."""
    exchange = ees.register(token=None, params={"access_token": ees.token()})
    http.refused(exchange, meaning="the token came only in the query, where RFC 6750 2.1 profiles do not look")
    http.refusal_shape(exchange, status={400, 401})


@pytest.mark.req("EES-TOK-12", "EES-RESP-02")
def test_refuses_token_sent_two_ways(ees):
    """A valid token sent both in Authorization: Bearer and in the query is refused with 400 invalid_request."""
    token = ees.token()
    exchange = ees.register(token=token, params={"access_token": token})
    http.refused(exchange, meaning="the token was sent in more than one way (RFC 6750 2)")
    http.refusal_shape(exchange, status=400, bearer_error="invalid_request")
