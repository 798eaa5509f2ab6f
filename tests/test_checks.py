"""Every check: one passing and one failing evidence object (and INCONCLUSIVE where no verdict is possible)."""

from __future__ import annotations

import pytest
from evidence_factory import exchange, token

from conformance.checks import http, tls, token_claims
from conformance.checks.schema import EXAMPLE_EEC_REGISTRATION, EXAMPLE_SERV_PROV_RESP
from conformance.errors import CheckFailed, Inconclusive, ShapeViolation
from conformance.evidence import ConnectionOutcome as O
from conformance.evidence import HttpExchange, TlsFacts


def test_refused_in_handshake_holds_on_a_certificate_alert() -> None:
    for alert in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_UNKNOWN_CA"):
        tls.refused_in_handshake(exchange(None, outcome=O.REFUSED_WITH_ALERT, alert=alert), presented="x")


def test_refused_in_handshake_fails_when_the_eec_was_served() -> None:
    with pytest.raises(CheckFailed) as failed:
        tls.refused_in_handshake(exchange(201), presented="no client certificate")
    assert not isinstance(failed.value, ShapeViolation)
    assert "served an EEC presenting no client certificate" in failed.value.title
    assert "201" in failed.value.actual


@pytest.mark.parametrize(
    ("evidence", "actual"),
    [
        (exchange(403), "403"),
        (exchange(None, outcome=O.CLOSED_WITHOUT_ALERT), "closed without alert"),
        (exchange(None, outcome=O.REFUSED_WITH_ALERT, alert="TLSV1_ALERT_INTERNAL_ERROR"), "internal_error"),
    ],
    ids=["http-refusal", "silent-close", "unfitting-alert"],
)
def test_refused_in_handshake_other_refusals_are_the_wrong_shape(evidence: HttpExchange, actual: str) -> None:
    with pytest.raises(ShapeViolation) as wrong:
        tls.refused_in_handshake(evidence, presented="x")
    assert wrong.value.layer == "tls"
    assert actual in wrong.value.actual


@pytest.mark.parametrize("outcome", [O.TIMEOUT, O.CONNECTION_REFUSED, O.SERVER_CERT_REJECTED, O.PROTOCOL_ERROR])
def test_refused_in_handshake_is_inconclusive_when_nothing_was_judged(outcome: O) -> None:
    with pytest.raises(Inconclusive):
        tls.refused_in_handshake(exchange(None, outcome=outcome), presented="x")


def test_served_and_refused_decide_the_outcome_only() -> None:
    http.served(exchange(201), meaning="registration")
    http.refused(exchange(403), meaning="not allowed")
    http.refused(exchange(500), meaning="not allowed")  # a refusal, however ugly: the shape is judged apart
    with pytest.raises(CheckFailed):
        http.served(exchange(403), meaning="registration")
    with pytest.raises(CheckFailed) as served:
        http.refused(exchange(201), meaning="the token expired")
    assert "served although the token expired" in served.value.title
    with pytest.raises(ShapeViolation):
        http.refused(exchange(None, outcome=O.CLOSED_WITHOUT_ALERT), meaning="x")
    with pytest.raises(Inconclusive):
        http.refused(exchange(None, outcome=O.TIMEOUT), meaning="x")


def test_status_in() -> None:
    http.status_in(exchange(403), {403}, meaning="a refusal")
    with pytest.raises(CheckFailed) as failed:
        http.status_in(exchange(200, body={"a": 1}), {403}, meaning="a refusal")
    assert failed.value.expected == "HTTP 403"
    assert "200" in failed.value.actual
    with pytest.raises(Inconclusive):
        http.status_in(exchange(None, outcome=O.TIMEOUT), {403}, meaning="a refusal")


def test_precondition_status_is_inconclusive_not_fail() -> None:
    http.precondition_status(exchange(200), 200, what="provisioning")
    with pytest.raises(Inconclusive):
        http.precondition_status(exchange(500), 200, what="provisioning")


def test_conforms_to() -> None:
    http.conforms_to(exchange(200, body=EXAMPLE_SERV_PROV_RESP), "ECSServProvResp")
    http.conforms_to(exchange(201, body=EXAMPLE_EEC_REGISTRATION), "EECRegistration")
    with pytest.raises(CheckFailed) as failed:
        http.conforms_to(exchange(200, body={"ednCnfgInfo": []}), "ECSServProvResp")
    assert "ednCnfgInfo" in failed.value.actual


PROBLEM = {"status": 401, "title": "Unauthorized"}
PROBLEM_JSON = {"Content-Type": "application/problem+json"}


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ('Bearer realm="ees"', None),
        ('Bearer realm="ees", error="invalid_token"', "invalid_token"),
        ("Bearer error=invalid_token", "invalid_token"),
        ('Bearer error = "invalid_token"', "invalid_token"),
        ('Basic realm="x", Bearer error="invalid_token"', "invalid_token"),
        ('bEaReR eRRor="invalid_token"', "invalid_token"),
    ],
)
def test_refusal_shape_accepts_every_legal_spelling(header: str, error: str | None) -> None:
    """Issue: legal RFC 9110 spellings of a correct challenge were reported as FAIL."""
    evidence = exchange(401, body=PROBLEM, headers={"WWW-Authenticate": header, **PROBLEM_JSON})
    http.refusal_shape(evidence, status=401, bearer_error=error)


@pytest.mark.parametrize(
    ("headers", "error", "departure"),
    [
        ({"WWW-Authenticate": 'Bearer realm="ees"'}, "invalid_token", 'error="invalid_token"'),
        ({"WWW-Authenticate": 'Bearer error="insufficient_scope"'}, "invalid_token", "insufficient_scope"),
        ({"WWW-Authenticate": 'Bearer error="invalid_token"'}, None, "without an error code"),
        ({"WWW-Authenticate": "Basic realm=x"}, None, "no Bearer challenge"),
        ({"WWW-Authenticate": 'Bearer error="unterminated'}, None, "malformed"),
        ({}, None, "no WWW-Authenticate"),
    ],
)
def test_refusal_shape_names_each_departure(headers: dict[str, str], error: str | None, departure: str) -> None:
    evidence = exchange(401, body=PROBLEM, headers={**headers, **PROBLEM_JSON})
    with pytest.raises(ShapeViolation) as wrong:
        http.refusal_shape(evidence, status=401, bearer_error=error)
    assert wrong.value.layer == "http"
    assert departure in wrong.value.actual + wrong.value.expected


def test_refusal_shape_collects_status_problem_details_and_leaks() -> None:
    evidence = exchange(500, headers={"Content-Type": "text/plain"})
    evidence.response_body = 'Traceback (most recent call last):\n  File "/srv/app.py"'
    with pytest.raises(ShapeViolation) as wrong:
        http.refusal_shape(evidence, status=403)
    assert "HTTP 500" in wrong.value.actual
    assert "text/plain" in wrong.value.actual
    assert "Traceback" in wrong.value.actual
    http.refusal_shape(exchange(403, body={"status": 403}, headers=PROBLEM_JSON), status=403)


def test_claim_equals() -> None:
    token_claims.claim_equals(token({"sub": "msisdn-491700000001"}), "sub", "msisdn-491700000001", meaning="the GPSI")
    with pytest.raises(CheckFailed, match="missing"):
        token_claims.claim_equals(token({}), "sub", "msisdn-491700000001", meaning="the GPSI")
    with pytest.raises(CheckFailed) as failed:
        token_claims.claim_equals(token({"sub": "msisdn-1"}), "sub", "msisdn-491700000001", meaning="the GPSI")
    assert "msisdn-1" in failed.value.actual


def test_problem_details() -> None:
    problem = {"status": 403, "title": "Forbidden", "cause": "NOT_AUTHORIZED"}
    http.problem_details(exchange(403, body=problem, headers={"Content-Type": "application/problem+json"}))
    with pytest.raises(CheckFailed, match="ProblemDetails document"):
        http.problem_details(exchange(403, body=problem, headers={"Content-Type": "application/json"}))
    with pytest.raises(CheckFailed, match="status 403"):
        http.problem_details(
            exchange(403, body={**problem, "status": 500}, headers={"Content-Type": "application/problem+json"})
        )


def test_checks_export_exactly_their_modules() -> None:
    """``conformance.checks.__all__`` is the suite-facing API: every module a suite imports, nothing else."""
    import pkgutil

    import conformance.checks as checks

    modules = {m.name for m in pkgutil.iter_modules(checks.__path__)} - {"www_authenticate"}
    assert set(checks.__all__) == modules
    for name in checks.__all__:
        module = getattr(checks, name)
        assert module.__all__, f"conformance.checks.{name} declares no __all__"
        assert all(hasattr(module, member) for member in module.__all__), f"{name}.__all__ names what it lacks"


def _facts(outcome: O, version: str | None = None, alert: str | None = None) -> TlsFacts:
    return TlsFacts(outcome, "ecs.example.test", version=version, alert=alert, detail="d")


def test_old_version_refused() -> None:
    tls.old_version_refused(_facts(O.REFUSED_WITH_ALERT, alert="TLSV1_ALERT_PROTOCOL_VERSION"), offered="TLSv1")
    tls.old_version_refused(_facts(O.CLOSED_WITHOUT_ALERT), offered="TLSv1.1")
    with pytest.raises(CheckFailed, match="negotiated TLSv1"):
        tls.old_version_refused(_facts(O.ESTABLISHED, "TLSv1"), offered="TLSv1")
    with pytest.raises(Inconclusive):
        tls.old_version_refused(_facts(O.TIMEOUT), offered="TLSv1")


def test_modern_versions_judge_the_server_certificate() -> None:
    up, refused = _facts(O.ESTABLISHED, "TLSv1.3"), _facts(O.REFUSED_WITH_ALERT, alert="X_ALERT_PROTOCOL_VERSION")
    tls.modern_versions({"TLSv1.2": refused, "TLSv1.3": up}, fqdn="ecs.example.test")
    with pytest.raises(CheckFailed, match=r"does not name ecs\.example\.test"):
        tls.modern_versions({"TLSv1.2": _facts(O.SERVER_CERT_REJECTED), "TLSv1.3": up}, fqdn="ecs.example.test")
    with pytest.raises(CheckFailed, match="neither"):
        tls.modern_versions({"TLSv1.2": refused, "TLSv1.3": refused}, fqdn="ecs.example.test")
    with pytest.raises(Inconclusive):
        tls.modern_versions({"TLSv1.2": _facts(O.TIMEOUT), "TLSv1.3": refused}, fqdn="ecs.example.test")


def test_json_pointer_resolution() -> None:
    from conformance.targets.edge_apis import resolve_pointer

    doc = {"a": [{"b/c": 1, "~d": 2}], "": 3}
    assert resolve_pointer(doc, "/a/0/b~1c") == 1
    assert resolve_pointer(doc, "/a/0/~0d") == 2
    assert resolve_pointer(doc, "/") == 3
    for bad, why in [
        ("/a/1", "no index '1'"),
        ("/a/01", "no index '01'"),
        ("/x", "no member 'x'"),
        ("/a/0/b~1c/z", "int"),
    ]:
        with pytest.raises(LookupError, match=why):
            resolve_pointer(doc, bad)


def _client_error(exchange: HttpExchange, what: str) -> None:
    http.client_error(exchange, meaning=what)
    http.refusal_shape(exchange, status=range(400, 500))


def test_every_raises_the_worst_finding_over_all_requests_and_counts_them() -> None:
    problem = {"type": "about:blank", "status": 400}
    refused = exchange(400, body=problem, headers={"content-type": "application/problem+json"})
    plain = exchange(400, body="no", headers={"content-type": "text/plain"})
    crashed, unanswered = exchange(500), exchange(None, outcome=O.TIMEOUT)
    http.every([("a", refused), ("b", refused)], _client_error)  # all refused well: nothing raised
    with pytest.raises(ShapeViolation) as shape:
        http.every([("a", refused), ("b", plain)], _client_error)
    assert shape.value.title.startswith("1 of 2 requests: ")
    assert shape.value.actual.startswith("[b] ")
    with pytest.raises(Inconclusive, match="1 of 3 requests got no verdict; the first \\[c\\]"):
        http.every([("a", plain), ("b", refused), ("c", unanswered)], _client_error)
    many = [(f"body {n}", crashed) for n in range(5)]
    with pytest.raises(CheckFailed) as failed:
        http.every([("x", plain), ("y", unanswered), *many], _client_error)
    assert type(failed.value) is CheckFailed  # the outcome, not the shape or the missing answer, decides
    assert failed.value.title.startswith("5 of 7 requests: A bad request was not refused")
    assert failed.value.actual.startswith("[body 0] ")
    assert failed.value.actual.endswith("; ... and 2 more")
