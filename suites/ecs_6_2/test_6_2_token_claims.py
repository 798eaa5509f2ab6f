"""TS 33.558 6.2: "The claims of the EES service tokens in the form of JWT shall include the
ECS FQDN (issuer), EEC ID (client_id), GPSI (subject), expected EES service name(s) (scope),
EES FQDN (audience), expiration time (expiration).\""""

import pytest

from conformance.checks import http, tokens
from conformance.errors import Inconclusive


@pytest.mark.req("ECS-TOK-06")
def test_token_subject_is_the_gpsi(ecs):
    """ECS-TOK-06: every EES access token issued to an EEC that sent its GPSI has sub = that GPSI."""
    eec = ecs.identity()
    exchange = ecs.provision()
    http.precondition_status(exchange, 200, what="the service provisioning request")
    issued = ecs.issued_tokens(exchange)
    if not issued:
        raise Inconclusive("the ECS issued no token to inspect (declare a token-based candidate EES)")
    for token in issued.values():
        tokens.claim_equals(token, "sub", eec.gpsi, meaning="the GPSI of the EEC")
