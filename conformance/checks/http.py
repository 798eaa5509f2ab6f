"""HTTP facts: was the EEC served or refused (the outcome), and the form of a refusal (the shape).

Outcome checks (:func:`served`, :func:`refused`) decide M requirements and raise
:class:`CheckFailed`. :func:`refusal_shape` judges status, ``WWW-Authenticate`` (parsed per
RFC 9110 11.6.1, never matched as a string) and ProblemDetails together, and raises one
:class:`ShapeViolation` listing every departure, judged under ECS-RESP-01 / EES-RESP-02.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Collection, Sequence

from conformance.checks import schema
from conformance.checks.www_authenticate import ChallengeSyntaxError, find, parse_challenges
from conformance.errors import CheckFailed, Inconclusive, ShapeViolation
from conformance.evidence import ConnectionOutcome, HttpExchange

__all__ = [
    "NOT_CHECKED",
    "PROBLEM_JSON",
    "answered",
    "client_error",
    "conforms_to",
    "every",
    "no_server_error",
    "precondition_status",
    "problem_details",
    "refusal_shape",
    "refused",
    "served",
    "status_in",
]

PROBLEM_JSON = "application/problem+json"
_LEAKS = ("Traceback (most recent call last)", 'File "/', "Exception in ASGI application", "at java.", "panic:")
"""Signs of internals in a refusal body: a stack trace of Python, Java or Go."""


class _NotChecked(enum.Enum):
    NOT_CHECKED = "not checked"


NOT_CHECKED = _NotChecked.NOT_CHECKED


def answered(exchange: HttpExchange) -> None:
    """An HTTP response is needed to judge anything else; its absence is no verdict."""
    if not exchange.answered:
        raise Inconclusive(f"no HTTP response: {exchange.tls.outcome} ({exchange.tls.detail})")


def _is_success(exchange: HttpExchange) -> bool:
    return exchange.status is not None and 200 <= exchange.status < 300


def served(exchange: HttpExchange, *, meaning: str) -> None:
    """The EEC was served: a 2xx answer. ``meaning`` says what the service is."""
    answered(exchange)
    if not _is_success(exchange):
        raise CheckFailed(
            title=f"Expected {meaning}",
            expected="the request served (HTTP 2xx)",
            actual=exchange.summary() + body_detail(exchange),
        )


def refused(exchange: HttpExchange, *, meaning: str) -> None:
    """The EEC was not served. ``meaning`` says why it must not be.

    Any answer but a 2xx is a refusal here (its form is :func:`refusal_shape`'s business); so is a
    connection the server ended without answering, counted only because the positive control runs
    right after the case. No observation at all (timeout, nothing listening) is no verdict.
    """
    if _is_success(exchange):
        raise CheckFailed(
            title=f"The request was served although {meaning}",
            expected=f"a refusal: {meaning}",
            actual=exchange.summary() + body_detail(exchange),
        )
    if exchange.answered:
        return
    tls = exchange.tls
    if tls.outcome in (ConnectionOutcome.REFUSED_WITH_ALERT, ConnectionOutcome.CLOSED_WITHOUT_ALERT):
        raise ShapeViolation(
            title="The request was refused by ending the connection, not with an HTTP error response",
            expected="an HTTP 4xx refusal (ProblemDetails; WWW-Authenticate on a 401)",
            actual=f"{tls.outcome} ({tls.alert or tls.detail})",
            layer="http",
        )
    raise Inconclusive(f"no HTTP response: {tls.outcome} ({tls.detail})")


def refusal_shape(
    exchange: HttpExchange,
    *,
    status: int | Collection[int],
    bearer_error: str | _NotChecked | None = NOT_CHECKED,
    problem_details: bool = True,
) -> None:
    """The refusal has the expected form: ``status``; on a 401 (always) and wherever ``bearer_error``
    is given, a ``Bearer`` challenge whose ``error`` is ``bearer_error`` (``None``: no error code,
    RFC 6750 3.1 for a request without credentials); a ProblemDetails body; no internals leaked."""
    answered(exchange)
    wanted = {status} if isinstance(status, int) else set(status)
    expected, actual = [], []
    if exchange.status not in wanted:
        expected.append(f"HTTP {' or '.join(map(str, sorted(wanted)))}")
        actual.append(f"HTTP {exchange.status}")
    if exchange.status == 401 or bearer_error is not NOT_CHECKED:
        problem = _challenge_problem(exchange, bearer_error)
        if problem:
            expected.append(problem[0])
            actual.append(problem[1])
    if problem_details and (problem := _problem_details_problem(exchange)):
        expected.append(problem[0])
        actual.append(problem[1])
    if leak := next((sign for sign in _LEAKS if sign in exchange.response_body), None):
        expected.append("a refusal that reveals no internals")
        actual.append(f"the body contains {leak!r}")
    if expected:
        raise ShapeViolation(
            title="The refusal does not have the form RFC 6750 / RFC 9110 / TS 29.122 give it",
            expected="; ".join(expected),
            actual="; ".join(actual),
            layer="http",
        )


def _challenge_problem(exchange: HttpExchange, error: str | _NotChecked | None) -> tuple[str, str] | None:
    """(expected, actual) when ``WWW-Authenticate`` is absent, malformed, or has the wrong Bearer error."""
    want = "WWW-Authenticate: Bearer" + ("" if error is NOT_CHECKED or error is None else f' error="{error}"')
    header = exchange.header("www-authenticate")
    if header is None:
        return f"{want} (RFC 9110 11.6.1: a 401 carries a challenge)", "no WWW-Authenticate"
    try:
        bearer = find(parse_challenges(header), "Bearer")
    except ChallengeSyntaxError as exc:
        return f"{want}, well formed (RFC 9110 11.6.1)", f"WWW-Authenticate: {header} (malformed: {exc})"
    if bearer is None:
        return f"{want} (RFC 6750 3)", f"WWW-Authenticate: {header} (no Bearer challenge)"
    got = bearer.param("error")
    if error is NOT_CHECKED or got == error:
        return None
    if error is None:
        return "a Bearer challenge without an error code (RFC 6750 3.1: no credentials were sent)", f"error={got!r}"
    return want + " (RFC 6750 3.1)", f"WWW-Authenticate: {header}"


def _problem_details_problem(exchange: HttpExchange) -> tuple[str, str] | None:
    content_type = (exchange.header("content-type") or "").split(";")[0].strip().lower()
    body = exchange.response_json
    if content_type != PROBLEM_JSON or not isinstance(body, dict):
        return f"Content-Type: {PROBLEM_JSON} with a ProblemDetails object", f"Content-Type: {content_type or '(none)'}"
    errors = schema.validate(body, "ProblemDetails")
    if errors or body.get("status", exchange.status) != exchange.status:
        actual = "; ".join(errors) or f"status {body['status']!r}"
        return f"a valid ProblemDetails with status {exchange.status}", actual
    return None


def client_error(exchange: HttpExchange, *, meaning: str) -> None:
    """The request was refused as the client's error: a 4xx, never a 2xx (served) or a 5xx (the server broke)."""
    refused(exchange, meaning=meaning)
    if exchange.status is not None and not 400 <= exchange.status < 500:
        raise CheckFailed(
            title=f"A bad request was not refused as the client's error ({meaning})",
            expected="HTTP 4xx (never 5xx: a malformed request must not break the server)",
            actual=exchange.summary() + body_detail(exchange),
        )


def no_server_error(exchange: HttpExchange, *, meaning: str) -> None:
    """The server answered without an internal error: a 5xx to ``meaning`` (a bad input) is a crash,
    counted against the robustness requirement the case cites for its outcome."""
    answered(exchange)
    if exchange.status is not None and exchange.status >= 500:
        raise CheckFailed(
            title=f"The server failed with a {exchange.status} on {meaning}",
            expected="a 4xx refusal: bad input is the client's error, never the server's",
            actual=exchange.summary() + body_detail(exchange),
        )


def every(
    sent: Sequence[tuple[str, HttpExchange]], judge: Callable[[HttpExchange, str], None], *, hint: str = ""
) -> None:
    """Judge each ``(what was sent, exchange)`` with ``judge(exchange, what)``, then raise the worst
    finding over them all: an outcome failure, else a request without a verdict, else a shape violation.

    For a case that sends many requests (generated bad requests): its verdict says how many of
    them went wrong and shows the first few, rather than stopping at the first. ``hint`` (where
    the requests came from, how to send them again) goes with a failure.
    """
    failures: list[tuple[str, CheckFailed]] = []
    shapes: list[tuple[str, CheckFailed]] = []
    unjudged: list[tuple[str, Inconclusive]] = []
    for what, exchange in sent:
        try:
            judge(exchange, what)
        except ShapeViolation as exc:
            shapes.append((what, exc))
        except CheckFailed as exc:
            failures.append((what, exc))
        except Inconclusive as exc:
            unjudged.append((what, exc))
    hints = [hint] if hint else []
    if failures:
        raise _summed(failures, len(sent), hints)
    if unjudged:
        what, reason = unjudged[0]
        raise Inconclusive(f"{len(unjudged)} of {len(sent)} requests got no verdict; the first [{what}]: {reason}")
    if shapes:
        raise _summed(shapes, len(sent), hints)


def _summed(hits: list[tuple[str, CheckFailed]], total: int, hints: list[str], shown: int = 3) -> CheckFailed:
    """The first finding of ``hits`` (its type kept), counting them all and showing a few."""
    first = hits[0][1]
    actual = "; ".join(f"[{what}] {exc.actual}" for what, exc in hits[:shown])
    if len(hits) > shown:
        actual += f"; ... and {len(hits) - shown} more"
    title = f"{len(hits)} of {total} requests: {first.title}"
    return dataclasses.replace(first, title=title, actual=actual, hints=[*first.hints, *hints])


def status_in(exchange: HttpExchange, expected: Collection[int], *, meaning: str) -> None:
    """Holds when the status is one of ``expected``; ``meaning`` says what that status stands for."""
    answered(exchange)
    if exchange.status not in expected:
        raise CheckFailed(
            title=f"Expected {meaning}",
            expected=f"HTTP {' or '.join(str(s) for s in sorted(expected))}",
            actual=exchange.summary() + body_detail(exchange),
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


def precondition_status(exchange: HttpExchange, expected: int, *, what: str) -> None:
    """A step the case builds on must have succeeded; otherwise the case proves nothing."""
    answered(exchange)
    if exchange.status != expected:
        raise Inconclusive(f"precondition failed: {what} needed HTTP {expected}, got {exchange.summary()}")


def problem_details(exchange: HttpExchange) -> None:
    """Holds when a refusal is ProblemDetails (TS 29.122 5.2.6): problem+json whose status matches."""
    answered(exchange)
    problem = _problem_details_problem(exchange)
    if problem is not None:
        raise CheckFailed(
            title="A refusal must be a ProblemDetails document",
            expected=problem[0],
            actual=problem[1] + body_detail(exchange),
        )


def body_detail(exchange: HttpExchange) -> str:
    """``; body: ...``: the start of the response body on one line, for a failure's ``actual``."""
    body = " ".join(exchange.response_body.split())
    return f"; body: {body[:300]}" if body else ""
