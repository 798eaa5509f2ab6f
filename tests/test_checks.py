"""Every check: one passing and one failing evidence object (and INCONCLUSIVE where no verdict is possible)."""

from __future__ import annotations

import pytest
from evidence_factory import exchange, token

from conformance.checks import http, tls, tokens
from conformance.checks.schema import EXAMPLE_EEC_REGISTRATION, EXAMPLE_SERV_PROV_RESP
from conformance.errors import CheckFailed, Inconclusive
from conformance.evidence import ConnectionOutcome as O


@pytest.mark.parametrize("outcome", [O.REFUSED_WITH_ALERT, O.CLOSED_WITHOUT_ALERT])
def test_handshake_refused_holds_on_alert_or_close(outcome: O) -> None:
    tls.handshake_refused(exchange(None, outcome=outcome, alert="TLSV13_ALERT_CERTIFICATE_REQUIRED"), presented="x")


def test_handshake_refused_fails_when_the_server_answered() -> None:
    with pytest.raises(CheckFailed) as failed:
        tls.handshake_refused(exchange(403), presented="no client certificate")
    assert "accepted a TLS connection" in failed.value.title
    assert "403" in failed.value.actual


@pytest.mark.parametrize("outcome", [O.TIMEOUT, O.CONNECTION_REFUSED, O.SERVER_CERT_REJECTED, O.PROTOCOL_ERROR])
def test_handshake_refused_is_inconclusive_when_nothing_was_judged(outcome: O) -> None:
    with pytest.raises(Inconclusive):
        tls.handshake_refused(exchange(None, outcome=outcome), presented="x")


def test_status_in() -> None:
    http.status_in(exchange(403), {403}, meaning="a refusal")
    with pytest.raises(CheckFailed) as failed:
        http.status_in(exchange(200, body={"a": 1}), {403}, meaning="a refusal")
    assert failed.value.expected == "HTTP 403" and "200" in failed.value.actual
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


@pytest.mark.parametrize(
    ("header", "error", "ok"),
    [
        ('Bearer realm="ees"', None, True),
        ('Bearer realm="ees", error="invalid_token"', "invalid_token", True),
        ('Bearer realm="ees"', "invalid_token", False),
        ("Basic realm=x", None, False),
        (None, None, False),
    ],
)
def test_bearer_challenge(header: str | None, error: str | None, ok: bool) -> None:
    evidence = exchange(401, headers={"WWW-Authenticate": header} if header else {})
    if ok:
        http.bearer_challenge(evidence, error=error)
    else:
        with pytest.raises(CheckFailed):
            http.bearer_challenge(evidence, error=error)


def test_claim_equals() -> None:
    tokens.claim_equals(token({"sub": "msisdn-491700000001"}), "sub", "msisdn-491700000001", meaning="the GPSI")
    with pytest.raises(CheckFailed, match="missing"):
        tokens.claim_equals(token({}), "sub", "msisdn-491700000001", meaning="the GPSI")
    with pytest.raises(CheckFailed) as failed:
        tokens.claim_equals(token({"sub": "msisdn-1"}), "sub", "msisdn-491700000001", meaning="the GPSI")
    assert "msisdn-1" in failed.value.actual


def test_problem_details() -> None:
    problem = {"status": 403, "title": "Forbidden", "cause": "NOT_AUTHORIZED"}
    http.problem_details(exchange(403, body=problem, headers={"Content-Type": "application/problem+json"}))
    with pytest.raises(CheckFailed, match="ProblemDetails document"):
        http.problem_details(exchange(403, body=problem, headers={"Content-Type": "application/json"}))
    with pytest.raises(CheckFailed, match="contradicts"):
        http.problem_details(
            exchange(403, body={**problem, "status": 500}, headers={"Content-Type": "application/problem+json"})
        )
