"""TS 33.558 6.2: "After successful authentication, the ECS shall authorize the EEC by its
local authorization policy." and "The ECS shall send the service response back to the EEC"."""

import pytest

from conformance.checks import http


@pytest.mark.positive_control
@pytest.mark.req("ECS-AUTHZ-02")
def test_serves_authenticated_authorized_eec(ecs):
    """ECS-AUTHZ-02: an authenticated, authorized EEC gets 200 with a schema-valid ECSServProvResp."""
    exchange = ecs.provision()
    http.status_in(exchange, {200}, meaning="the service provisioning response for an authorized EEC")
    http.conforms_to(exchange, "ECSServProvResp")


@pytest.mark.req("ECS-AUTHZ-01")
def test_refuses_authenticated_unauthorized_eec(ecs):
    """ECS-AUTHZ-01: an EEC that authenticates but is not authorized by local policy gets 403 and no service."""
    exchange = ecs.provision(role="unauthorized")
    http.status_in(exchange, {403}, meaning="a refusal by local authorization policy (403)")


@pytest.mark.req("ECS-RESP-01")
def test_refusal_is_problem_details(ecs):
    """ECS-RESP-01: the refusal of an unauthorized EEC is ProblemDetails (application/problem+json, matching status)."""
    exchange = ecs.provision(role="unauthorized")
    http.precondition_status(exchange, 403, what="the refusal of an unauthorized EEC")
    http.problem_details(exchange)
