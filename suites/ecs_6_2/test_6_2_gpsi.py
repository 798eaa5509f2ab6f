"""TS 33.558 6.2: "If the EEC sends the GPSI to the ECS, then the ECS shall also authenticate
the GPSI.\""""

import pytest

from conformance.checks import http


@pytest.mark.req("ECS-GPSI-01", "ECS-RESP-01")
def test_refuses_gpsi_of_another_eec(ecs):
    """The authorized EEC sending a GPSI of valid form that is not its own gets no service (403)."""
    exchange = ecs.provision(gpsi=ecs.foreign_gpsi())
    http.refused(exchange, meaning="the GPSI does not belong to the authenticated EEC")
    http.refusal_shape(exchange, status=403)


MALFORMED_GPSIS = {
    "msisdn-too-short": "msisdn-123",
    "msisdn-too-long": "msisdn-1234567890123456",
    "msisdn-not-digits": "msisdn-12a45",
    "extid-no-domain": "extid-nodomain",
    "imsi": "imsi-001010000000001",
    "msisdn-trailing-newline": "msisdn-491700000001\n",
    "empty": "",
    "number": 491700000001,
    "array": ["msisdn-491700000001"],
}
"""Not ``msisdn-<5..15 digits>`` nor ``extid-<id>@<domain>`` (TS 29.571 Gpsi, TS 23.003 28.8)."""


@pytest.mark.req("ECS-GPSI-02", "ECS-RESP-01")
@pytest.mark.parametrize("gpsi", MALFORMED_GPSIS.values(), ids=MALFORMED_GPSIS.keys())
def test_refuses_malformed_gpsi(ecs, gpsi):
    """A ueId that is not a well-formed GPSI is refused (400 ProblemDetails), with no service and no tokens."""
    ecs.evidence.note("deliberately broken", f"ueId = {gpsi!r}: not msisdn-<5..15 digits> or extid-<id>@<domain>")
    exchange = ecs.provision(gpsi=gpsi)
    http.refused(exchange, meaning=f"ueId {gpsi!r} is not a GPSI")
    http.refusal_shape(exchange, status=400)
