"""One EEC on many connections at the same moment: what each connection got.

A bearer token is good for its lifetime, whoever presents it and however often (RFC 6750 1.2):
an EES that refuses a valid token because the same token is in use on another connection breaks
EES-TOK-01 for real EECs that retry or run requests in parallel. And a server that allows
concurrent connections answers each, with a 2xx or a 4xx, never with a 5xx or a dropped
connection (EES-ROB-01, S).
"""

from __future__ import annotations

from collections.abc import Sequence

from conformance.checks import http
from conformance.errors import CheckFailed, Inconclusive
from conformance.evidence import HttpExchange

__all__ = ["answered_without_server_error", "served_at_least_once", "token_accepted_on_every_connection"]

_TOKEN_REFUSALS = frozenset({401, 403})


def served_at_least_once(exchanges: Sequence[HttpExchange], *, status: int) -> None:
    """At least one of ``exchanges`` was served (``status``): else the burst exercised nothing (a
    target refusing or failing everything) and the case has no verdict."""
    if not any(exchange.status == status for exchange in exchanges):
        answers = ", ".join(sorted({f"{x.status or x.tls.outcome}" for x in exchanges}))
        raise Inconclusive(
            f"precondition failed: none of {len(exchanges)} connections at once was served (HTTP {status}); "
            f"they got: {answers}"
        )


def token_accepted_on_every_connection(exchanges: Sequence[HttpExchange]) -> None:
    """The same valid token, presented on every one of ``exchanges`` at once, was refused on none
    (EES-TOK-01)."""
    http.every([(x.label, x) for x in exchanges], _token_not_refused)


def answered_without_server_error(exchanges: Sequence[HttpExchange], *, requirement: str) -> None:
    """Every connection got an answer, and no answer was a 5xx (``requirement``: the ROB-01 of the role)."""

    def answered_well(exchange: HttpExchange, _: str) -> None:
        if not exchange.answered or (exchange.status is not None and exchange.status >= 500):
            raise CheckFailed(
                title="a connection open at the same moment as the others got a server error or no answer",
                expected="an answer on every connection the server accepts at once (a 2xx, or a 4xx refusal), "
                "never a 5xx or a connection ended without one",
                actual=exchange.summary() + http.body_detail(exchange),
                requirement=requirement,
            )

    http.every([(x.label, x) for x in exchanges], answered_well)


def _token_not_refused(exchange: HttpExchange, _: str) -> None:
    if exchange.status in _TOKEN_REFUSALS:
        raise CheckFailed(
            title="a valid token was refused while the same token was in use on the other connections",
            expected="HTTP 201 on every connection: a bearer token is valid for its lifetime, however many "
            "requests present it (RFC 6750 1.2)",
            actual=exchange.summary() + http.body_detail(exchange),
            requirement="EES-TOK-01",
        )
