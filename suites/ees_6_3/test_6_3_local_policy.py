"""TS 33.558 6.3: "If the EES requires access token for authorization, then the EES shall
authorize the EEC by using the token. Otherwise, the EES shall authorize the EEC by its local
authorization policy.\""""

import pytest

from conformance.checks import http

pytestmark = pytest.mark.needs("local-authorization")


@pytest.mark.positive_control
@pytest.mark.req("EES-POL-01")
def test_serves_eec_allowed_by_local_policy(ees):
    """An EEC that local policy allows is served without a token."""
    exchange = ees.register(token=None)
    http.served(exchange, meaning="the registration of an EEC allowed by local policy")


@pytest.mark.req("EES-POL-02", "EES-RESP-02")
@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "valid-token"])
def test_refuses_eec_not_allowed_by_local_policy(ees, with_token):
    """An EEC local policy refuses gets no service, with or without a valid token (no bypass by token)."""
    token = ees.token("unauthorized") if with_token else None
    exchange = ees.register(role="unauthorized", token=token)
    http.refused(exchange, meaning="local authorization policy does not allow this EEC")
    http.refusal_shape(exchange, status=403)
