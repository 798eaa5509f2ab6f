"""TS 33.558 6.2: "If the EEC sends the GPSI to the ECS, then the ECS shall also authenticate
the GPSI.\""""

import pytest

from conformance.checks import http


@pytest.mark.req("ECS-GPSI-01")
def test_refuses_gpsi_of_another_eec(ecs):
    """ECS-GPSI-01: the authorized EEC sending another EEC's GPSI as ueId is refused with 403."""
    foreign = ecs.identity("second").gpsi
    exchange = ecs.provision(gpsi=foreign)
    http.status_in(exchange, {403}, meaning="a refusal of a GPSI that does not belong to the authenticated EEC")
