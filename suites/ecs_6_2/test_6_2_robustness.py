"""Malformed and schema-invalid service provisioning requests (TS 24.558 ECSServProvReq) are the
client's error: refused with 4xx, never 5xx, never served with tokens."""

import json

import pytest

from conformance.checks import http


def _json(value):
    return json.dumps(value).encode()


# (id, what is broken, content, content type); the body builders get the valid body.
BAD_REQUESTS = [
    ("missing-eecId", "eecId (required) left out", lambda b: _json({k: v for k, v in b.items() if k != "eecId"})),
    ("eecId-number", "eecId is a number, not a string", lambda b: _json(b | {"eecId": 1234})),
    ("eecId-null", "eecId is null", lambda b: _json(b | {"eecId": None})),
    ("eecId-array", "eecId is an array", lambda b: _json(b | {"eecId": [b["eecId"]]})),
    ("eecId-object", "eecId is an object", lambda b: _json(b | {"eecId": {"id": b["eecId"]}})),
    ("body-array", "the body is a JSON array, not an object", lambda b: _json([b])),
    ("body-string", "the body is a JSON string", lambda b: _json("eecId")),
    ("not-json", "the body is not JSON", lambda b: b"{eecId: eec"),
    ("truncated-json", "the body is cut off mid-object", lambda b: _json(b)[:-3]),
]


@pytest.mark.req("ECS-ROB-01")
@pytest.mark.parametrize(
    ("broken", "build"),
    [(what, build) for _, what, build in BAD_REQUESTS],
    ids=[case_id for case_id, _, _ in BAD_REQUESTS],
)
def test_bad_provisioning_request_is_a_client_error(ecs, broken, build):
    """A malformed or schema-invalid ECSServProvReq gets 4xx: never 5xx, never service or tokens."""
    ecs.evidence.note("deliberately broken", broken)
    exchange = ecs.provision_raw(build(ecs.body()))
    http.client_error(exchange, meaning=broken)
