"""HTTP facts: status codes, ProblemDetails bodies, bearer-token challenges, schemas."""

from __future__ import annotations

from collections.abc import Collection

from conformance.checks import schema
from conformance.errors import CheckFailed, Inconclusive
from conformance.evidence import HttpExchange

PROBLEM_JSON = "application/problem+json"


def answered(exchange: HttpExchange) -> None:
    """An HTTP response is needed to judge anything else; its absence is no verdict."""
    if not exchange.answered:
        raise Inconclusive(f"no HTTP response: {exchange.tls.outcome} ({exchange.tls.detail})")


def status_in(exchange: HttpExchange, expected: Collection[int], *, meaning: str) -> None:
    """Holds when the status is one of ``expected``; ``meaning`` says what that status stands for."""
    answered(exchange)
    if exchange.status not in expected:
        raise CheckFailed(
            title=f"Expected {meaning}",
            expected=f"HTTP {' or '.join(str(s) for s in sorted(expected))}",
            actual=exchange.summary() + _detail(exchange),
        )


def conforms_to(exchange: HttpExchange, schema_name: str) -> None:
    """Holds when the JSON body validates against the named 3GPP schema."""
    errors = schema.validate(exchange.response_json, schema_name)
    if errors:
        raise CheckFailed(
            title=f"The response body is not a valid {schema_name}",
            expected=f"a body valid against {schema_name} (TS 24.558 OpenAPI)",
            actual="; ".join(errors),
        )


def bearer_challenge(exchange: HttpExchange, *, error: str | None) -> None:
    """Holds when a 401 carries ``WWW-Authenticate: Bearer`` (RFC 6750 3) with the ``error`` code.

    ``error=None``: the request carried no credentials, so no error code is expected (RFC 6750 3.1).
    """
    challenge = exchange.header("www-authenticate") or ""
    if not challenge.lower().startswith("bearer"):
        raise CheckFailed(
            title="A refusal for lack of a valid token must challenge with the Bearer scheme",
            expected="WWW-Authenticate: Bearer ... (RFC 6750 section 3)",
            actual=f"WWW-Authenticate: {challenge or '(absent)'}",
        )
    if error is not None and f'error="{error}"' not in challenge:
        raise CheckFailed(
            title=f'The Bearer challenge must carry error="{error}"',
            expected=f'WWW-Authenticate: Bearer ..., error="{error}"',
            actual=f"WWW-Authenticate: {challenge}",
        )


def _detail(exchange: HttpExchange) -> str:
    body = " ".join(exchange.response_body.split())
    return f"; body: {body[:300]}" if body else ""


def precondition_status(exchange: HttpExchange, expected: int, *, what: str) -> None:
    """A step the case builds on must have succeeded; otherwise the case proves nothing."""
    answered(exchange)
    if exchange.status != expected:
        raise Inconclusive(f"precondition failed: {what} needed HTTP {expected}, got {exchange.summary()}")


def problem_details(exchange: HttpExchange) -> None:
    """Holds when a refusal is ProblemDetails (TS 29.122 5.2.6): problem+json whose status matches."""
    answered(exchange)
    content_type = (exchange.header("content-type") or "").split(";")[0].strip().lower()
    body = exchange.response_json
    if content_type != PROBLEM_JSON or not isinstance(body, dict):
        raise CheckFailed(
            title="A refusal must be a ProblemDetails document",
            expected=f"Content-Type: {PROBLEM_JSON} with a ProblemDetails JSON object",
            actual=f"Content-Type: {content_type or '(absent)'}" + _detail(exchange),
        )
    errors = schema.validate(body, "ProblemDetails")
    if errors or body.get("status", exchange.status) != exchange.status:
        raise CheckFailed(
            title="The ProblemDetails body is malformed or contradicts the HTTP status",
            expected=f"a valid ProblemDetails with status {exchange.status} (if present)",
            actual="; ".join(errors) or f"status member {body.get('status')!r}",
        )
