"""Malformed and schema-invalid service provisioning requests (TS 24.558 ECSServProvReq) are the
client's error: refused with 4xx, never 5xx, never served with tokens (ECS-ROB-01, best practice:
WARN unless ``--strict``).

The schema-invalid bodies are drawn from the TS 24.558 OpenAPI by schemathesis's negative mode,
seeded and bounded by the declaration (:mod:`conformance.peers.bad_requests`); a few hand-picked
malformed bodies (not JSON, a missing or mistyped eecId, deep nesting) are cases of their own.
Every request is the authorized EEC's, over its valid client certificate.
"""

import pytest

from conformance.checks import http
from conformance.peers import bad_requests


def _judge(exchange, meaning):
    http.client_error(exchange, meaning=meaning)


@pytest.mark.req("ECS-ROB-01")
def test_generated_schema_invalid_requests_are_client_errors(ecs):
    """Each schema-invalid ECSServProvReq schemathesis draws gets 4xx: never 5xx, never service or tokens."""
    sent = []
    for number, body in enumerate(ecs.generated_bad_bodies(), 1):
        label = f"generated body {number}: {body.describe(limit=80)}"
        sent.append((body.describe(), ecs.provision_raw(body.content(), label=label)))
    http.every(
        sent,
        lambda exchange, what: _judge(exchange, f"the body is not a valid ECSServProvReq ({what})"),
        hint=ecs.fuzz_origin(),
    )


@pytest.mark.req("ECS-ROB-01")
@pytest.mark.parametrize("name", bad_requests.EXPLICIT)
def test_malformed_provisioning_request_is_a_client_error(ecs, name):
    """A malformed ECSServProvReq (not JSON, not an object, no or a mistyped eecId) gets 4xx, never 5xx or tokens."""
    broken, content = ecs.explicit_bad_body(name)
    ecs.evidence.note("deliberately broken", f"{broken} ({len(content)} bytes)")
    _judge(ecs.provision_raw(content), broken)
