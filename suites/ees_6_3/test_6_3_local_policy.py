"""TS 33.558 6.3: "If the EES requires access token for authorization, then the EES shall
authorize the EEC by using the token. Otherwise, the EES shall authorize the EEC by its local
authorization policy.\""""

import pytest

from conformance.checks import http


@pytest.mark.positive_control
@pytest.mark.req("EES-POL-01", "EES-RESP-01")
def test_serves_eec_allowed_by_local_policy(ees):
    """EES-POL-01: at an EES without token-based authorization, an EEC its policy allows is served without a token."""
    ees.require_local_authorization()
    exchange = ees.register(token=None)
    http.status_in(exchange, {201}, meaning="the registration of an EEC allowed by local policy")
    http.conforms_to(exchange, "EECRegistration")


@pytest.mark.req("EES-POL-02")
@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "valid-token"])
def test_refuses_eec_not_allowed_by_local_policy(ees, with_token):
    """EES-POL-02: an EEC local policy refuses gets 403, with or without a valid token (no bypass by token)."""
    ees.require_local_authorization()
    token = ees.token("unauthorized") if with_token else None
    exchange = ees.register(role="unauthorized", token=token)
    http.status_in(exchange, {403}, meaning="a refusal by local authorization policy (403)")
