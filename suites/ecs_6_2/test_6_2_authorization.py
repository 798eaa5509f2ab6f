"""TS 33.558 6.2: "After successful authentication, the ECS shall authorize the EEC by its
local authorization policy." and "The ECS shall send the service response back to the EEC"."""

import pytest

from conformance.checks import http


@pytest.mark.positive_control
@pytest.mark.req("ECS-AUTHZ-02")
def test_serves_authenticated_authorized_eec(ecs):
    """An authenticated, authorized EEC gets 200 with a schema-valid ECSServProvResp."""
    exchange = ecs.provision()
    http.status_in(exchange, {200}, meaning="the service provisioning response for an authorized EEC")
    http.conforms_to(exchange, "ECSServProvResp")


@pytest.mark.req("ECS-AUTHZ-01", "ECS-RESP-01")
def test_refuses_authenticated_unauthorized_eec(ecs):
    """An EEC that authenticates but is not authorized by local policy gets no service (403 ProblemDetails)."""
    exchange = ecs.provision(role="unauthorized")
    http.refused(exchange, meaning="local authorization policy does not authorize this EEC")
    http.refusal_shape(exchange, status=403)
