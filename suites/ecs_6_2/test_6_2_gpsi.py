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
