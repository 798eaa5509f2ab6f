"""TS 33.558 6.3: "If the EEC sends the GPSI to the EES, then the EES shall also authenticate
the GPSI.\""""

import pytest

from conformance.checks import http


@pytest.mark.req("EES-GPSI-01", "EES-RESP-02")
def test_refuses_gpsi_of_another_eec(ees):
    """The authorized EEC, with its own certificate and its own valid token, registering a foreign ueId is refused."""
    exchange = ees.register(token=ees.token_if_required(), gpsi=ees.foreign_gpsi())
    http.refused(exchange, meaning="the ueId (GPSI) does not belong to the authenticated EEC")
    http.refusal_shape(exchange, status=403)
