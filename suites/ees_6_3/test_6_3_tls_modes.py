"""TS 33.558 6.3 NOTE: "If only server side certificate-based TLS authentication is performed, it
is left to implementation on which information within a service procedure and services will be
provided by the EES." Recorded (I level), never judged."""

import pytest

from conformance.under_test import CONTROL_STATUS


@pytest.mark.req("EES-TLS-06")
@pytest.mark.needs("server-certificate-only")
@pytest.mark.positive_control
def test_records_what_a_server_certificate_only_ees_provides(ees):
    """Without a client certificate the EES (declared server-certificate-only) is asked as the
    authorized EEC; what it answers is recorded, not judged."""
    exchange = ees.request_as(ees.eec(cert="none"), label="authorized EEC without a client certificate")
    ees.measure("served without a client certificate", exchange.answered and exchange.status == CONTROL_STATUS["ees"])
    ees.measure("answer", exchange.summary())
