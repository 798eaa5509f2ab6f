"""TS 33.558 6.2: the token carries the ECS FQDN (iss), the EEC ID (client_id), the GPSI (sub), the
expected EES service names (scope), the EES FQDN (aud) and an expiration time (exp); 6.3: the EES
"shall authorize the EEC by using the token", so a token whose claims do not fit this EEC, this
EES and this service is refused.

Each token is validly signed by the trusted (fake) ECS; only the claim the case names is changed,
as its evidence note "deliberately broken" says.
"""

import pytest

from conformance.checks import http

pytestmark = pytest.mark.needs("token-authorization")


def _refused_as_invalid(exchange, meaning):
    http.refused(exchange, meaning=meaning)
    http.refusal_shape(exchange, status=401, bearer_error="invalid_token")


@pytest.mark.req("EES-TOK-04", "EES-RESP-02")
def test_refuses_token_without_exp(ees):
    """A token without exp (one that would never expire) is refused."""
    _refused_as_invalid(ees.register(token=ees.token(omit=("exp",))), "the token has no expiration time (exp)")


def _near_misses(issuer):
    """``iss`` values that are not the trusted issuer, though a sloppy comparison takes them for it."""
    bare = issuer.removeprefix("https://")
    return {
        "trailing-dot": issuer + ".",
        "upper-case": issuer.upper() if issuer.upper() != issuer else issuer.lower(),
        "scheme-changed": bare if issuer.startswith("https://") else f"https://{issuer}",
        "other-ecs": f"other-{bare}",
    }


@pytest.mark.req("EES-TOK-06", "EES-RESP-02")
@pytest.mark.parametrize("variant", ["trailing-dot", "upper-case", "scheme-changed", "other-ecs", "absent"])
def test_refuses_token_from_another_issuer(ees, variant):
    """A token whose iss is not exactly the trusted ECS (a near miss, another ECS), or lacks iss, is refused."""
    near_misses = _near_misses(ees.issuer.issuer)
    token = ees.token(omit=("iss",)) if variant == "absent" else ees.token(iss=near_misses[variant])
    _refused_as_invalid(ees.register(token=token), f"the token's iss is not the trusted ECS ({variant})")


@pytest.mark.req("EES-TOK-07", "EES-RESP-02")
@pytest.mark.parametrize("variant", ["other-service", "absent"])
def test_refuses_token_without_invoked_service_in_scope(ees, variant):
    """A token whose scope lacks the invoked EES service (eees-eecregistration) is refused (403 insufficient_scope)."""
    token = ees.token(scope="eees-easdiscovery") if variant == "other-service" else ees.token(omit=("scope",))
    exchange = ees.register(token=token)
    http.refused(exchange, meaning="the token's scope does not include the invoked service")
    http.refusal_shape(exchange, status=403, bearer_error="insufficient_scope")


@pytest.mark.req("EES-TOK-08", "EES-RESP-02")
@pytest.mark.parametrize("variant", ["foreign-client-id", "absent", "replayed-token-of-second-eec"])
def test_refuses_token_issued_to_another_eec(ees, variant):
    """A token whose client_id is another EEC (with this EEC's own sub), lacks client_id, or another EEC's whole
    token replayed over this EEC's certificate, is refused."""
    if variant == "replayed-token-of-second-eec":
        token = ees.token("second")
        ees.evidence.note("deliberately broken", "the second EEC's valid token, sent by the authorized EEC")
    elif variant == "absent":
        token = ees.token(omit=("client_id",))
    else:
        token = ees.token(client_id=ees.foreign_eec_id())
    _refused_as_invalid(ees.register(token=token), f"the token was not issued to the authenticated EEC ({variant})")
