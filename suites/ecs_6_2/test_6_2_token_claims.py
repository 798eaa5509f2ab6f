"""TS 33.558 6.2: "The claims of the EES service tokens in the form of JWT shall include the
ECS FQDN (issuer), EEC ID (client_id), GPSI (subject), expected EES service name(s) (scope),
EES FQDN (audience), expiration time (expiration).\""""

import pytest

from conformance.checks import tokens

pytestmark = pytest.mark.needs("token-issuance")


@pytest.mark.req("ECS-TOK-06")
def test_token_subject_is_the_gpsi(ecs):
    """Every EES access token issued to an EEC that sent its GPSI has sub = that GPSI."""
    gpsi = ecs.identity().gpsi
    for token in ecs.tokens_issued().values():
        tokens.claim_equals(token, "sub", gpsi, meaning="the GPSI of the EEC")
