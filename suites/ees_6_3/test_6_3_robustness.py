"""Malformed or schema-invalid registrations get a 4xx, never a 5xx, and never a registration
(EES-ROB-01, best practice: WARN unless ``--strict``).

The schema-invalid bodies are generated from the TS 24.558 OpenAPI (EECRegistration): one
member at a time replaced by a JSON type its schema does not allow, seeded and bounded
(:mod:`conformance.peers.bad_requests`); the rest of the request is legitimate (the authorized
EEC's certificate and, where required, its valid token).
"""

import pytest

from conformance.checks import http
from conformance.peers.bad_requests import mutations

_MUTATIONS = {m.name: m for m in mutations()}
_RAW = {
    "not-json": b"{this is not JSON",
    "json-array": b"[]",
    "json-nan": b'{"eecId": NaN}',
    # Padding first: the evidence keeps the first 4 KiB of a body, which then stays cheap to re-read.
    "deeply-nested": b'{"eecId": "nested", "pad": "'
    + b"x" * 5000
    + b'", "deep": '
    + b"[" * 20_000
    + b"]" * 20_000
    + b"}",
}


def _judge(exchange, meaning):
    http.refused(exchange, meaning=meaning)
    http.no_server_error(exchange, meaning=meaning)
    http.refusal_shape(exchange, status=range(400, 500))


@pytest.mark.req("EES-ROB-01", "EES-RESP-02")
@pytest.mark.parametrize("name", list(_MUTATIONS))
def test_schema_invalid_registration_gets_4xx(ees, name):
    """A registration with one member of a type its schema does not allow gets a 4xx, never a 5xx or a 201."""
    mutation = _MUTATIONS[name]
    ees.evidence.note("deliberately broken", f"schema-invalid EECRegistration: {mutation.describe()}")
    exchange = ees.register(token=ees.token_if_required(), **mutation.members)
    _judge(exchange, f"the registration is not a valid EECRegistration ({mutation.describe()})")


@pytest.mark.req("EES-ROB-01", "EES-RESP-02")
@pytest.mark.parametrize("name", list(_RAW))
def test_malformed_body_gets_4xx(ees, name):
    """A body that is not a JSON object (invalid JSON, an array, NaN, deep nesting) gets a 4xx, never a 5xx."""
    ees.evidence.note("deliberately broken", f"request body: {name} ({len(_RAW[name])} bytes)")
    exchange = ees.register(token=ees.token_if_required(), body=_RAW[name])
    _judge(exchange, f"the body is not a JSON object ({name})")
