"""TS 33.558 6.3: "After successful authentication and authorization, the EES shall process the
request and sends the service response back to the EEC.\""""

import pytest

from conformance.checks import http


@pytest.mark.positive_control
@pytest.mark.req("EES-RESP-01")
def test_processes_request_of_authorized_eec(ees):
    """The authorized EEC (with a token where one is required) gets 201 with a valid EECRegistration."""
    exchange = ees.request_as(ees.eec())
    http.status_in(exchange, {201}, meaning="the created registration (201)")
    http.conforms_to(exchange, "EECRegistration")
