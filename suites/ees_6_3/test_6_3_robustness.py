"""Malformed or schema-invalid registrations get a 4xx, never a 5xx, and never a registration
(EES-ROB-01, best practice: WARN unless ``--strict``; the refusal's form under EES-RESP-02).

The schema-invalid bodies are drawn from the TS 24.558 OpenAPI (EECRegistration) by
schemathesis's negative mode, seeded and bounded by the declaration
(:mod:`conformance.peers.bad_requests`); a few hand-picked malformed bodies (not JSON, a missing
or mistyped eecId, deep nesting) are cases of their own. The rest of each request is legitimate:
the authorized EEC's certificate and, where required, its valid token.
"""

import pytest

from conformance.checks import http
from conformance.peers import bad_requests


def _judge(exchange, meaning):
    http.refused(exchange, meaning=meaning)
    http.no_server_error(exchange, meaning=meaning)
    http.refusal_shape(exchange, status=range(400, 500))


@pytest.mark.req("EES-ROB-01", "EES-RESP-02")
def test_generated_schema_invalid_registrations_get_4xx(ees):
    """Each schema-invalid EECRegistration schemathesis draws gets a 4xx, never a 5xx or a 201."""
    sent = []
    for number, body in enumerate(ees.generated_bad_bodies(), 1):
        label = f"generated body {number}: {body.describe(limit=80)}"
        exchange = ees.register(token=ees.token_if_required(), body=body.content(), label=label)
        sent.append((body.describe(), exchange))
    http.every(
        sent,
        lambda exchange, what: _judge(exchange, f"the body is not a valid EECRegistration ({what})"),
        hint=ees.fuzz_origin(),
    )


@pytest.mark.req("EES-ROB-01", "EES-RESP-02")
@pytest.mark.parametrize("name", bad_requests.EXPLICIT)
def test_malformed_registration_gets_4xx(ees, name):
    """A malformed registration (not JSON, not an object, no or a mistyped eecId, deep nesting) gets a 4xx."""
    broken, content = ees.explicit_bad_body(name)
    ees.evidence.note("deliberately broken", f"{broken} ({len(content)} bytes)")
    _judge(ees.register(token=ees.token_if_required(), body=content), broken)
