"""TS 33.558 6.3: "If the EEC sends the GPSI to the EES, then the EES shall also authenticate
the GPSI.\""""

import pytest

from conformance.checks import http


@pytest.mark.req("EES-GPSI-01")
def test_refuses_gpsi_of_another_eec(ees):
    """EES-GPSI-01: the authorized EEC registering with another EEC's GPSI (token sub to match) is refused with 403."""
    foreign = ees.identity("second").gpsi
    token = ees.token(sub=foreign) if ees.config.authorization == "token" else None
    exchange = ees.register(token=token, gpsi=foreign)
    http.status_in(exchange, {403}, meaning="a refusal of a GPSI that does not belong to the authenticated EEC")
