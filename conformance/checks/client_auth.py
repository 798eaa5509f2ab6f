"""OAuth client authentication at the ECS's token endpoint: a client that does not prove who it is
gets no token (RFC 6749 3.2.1 and 4.4.2: a confidential client MUST authenticate).

The outcome decides ECS-TOK-10: a token for a forged client assertion or an unregistered
certificate is a FAIL. How the refusal came is judged apart: RFC 6749 5.2 ``invalid_client``
(400, or 401) is the expected form, anything else a WARN under ECS-RESP-01. A certificate the
ECS never registered may also be refused in the TLS handshake, which is a refusal too.
"""

from __future__ import annotations

from conformance.errors import CheckFailed, Inconclusive, ShapeViolation
from conformance.evidence import ConnectionOutcome, HttpExchange

__all__ = ["control_got_token", "invalid_client_shape", "no_token"]

_HANDSHAKE_REFUSALS = (ConnectionOutcome.REFUSED_WITH_ALERT, ConnectionOutcome.CLOSED_WITHOUT_ALERT)


def _got_token(exchange: HttpExchange) -> bool:
    body = exchange.response_json
    return exchange.status == 200 and isinstance(body, dict) and isinstance(body.get("access_token"), str)


def control_got_token(exchange: HttpExchange, *, method: str) -> None:
    """The positive control: the same request with the EEC's real credential got a token.

    Without it a refusal of the forged one would prove nothing (the endpoint might refuse everyone,
    or the method might be misdeclared): the case is INCONCLUSIVE.
    """
    if not _got_token(exchange):
        raise Inconclusive(
            f"positive control failed: the authorized EEC authenticating with {method} got no token "
            f"({exchange.summary()}); check the declared credential and the ECS's registration of it"
        )


def no_token(exchange: HttpExchange, *, meaning: str, handshake_refusal_ok: bool = False) -> None:
    """No token for a client that did not authenticate: ``meaning`` says what was forged.

    ``handshake_refusal_ok``: the forgery is a TLS client certificate, which the ECS may refuse in
    the handshake already. No observation at all (timeout, nothing listening) is no verdict.
    """
    if exchange.status is not None and 200 <= exchange.status < 300:
        raise CheckFailed(
            title=f"The token endpoint answered {exchange.status} although {meaning}",
            expected="no token: an RFC 6749 5.2 error, invalid_client",
            actual=f"{exchange.summary()}; body: {exchange.response_body[:300] or '(none)'}",
            requirement="ECS-TOK-10",
        )
    if exchange.answered:
        return
    if handshake_refusal_ok and exchange.tls.outcome in _HANDSHAKE_REFUSALS:
        return
    raise Inconclusive(f"no HTTP response: {exchange.tls.outcome} ({exchange.tls.detail})")


def invalid_client_shape(exchange: HttpExchange) -> None:
    """An HTTP refusal is RFC 6749 5.2 ``invalid_client``: 400, or 401 (with a ``WWW-Authenticate``)."""
    if not exchange.answered:
        return  # refused in the handshake: no HTTP form to judge
    body = exchange.response_json
    error = body.get("error") if isinstance(body, dict) else None
    if exchange.status not in (400, 401) or error != "invalid_client":
        raise ShapeViolation(
            title="The token endpoint's refusal of an unauthenticated client is not invalid_client",
            expected="HTTP 400 (or 401) with a JSON body whose error = 'invalid_client' (RFC 6749 5.2)",
            actual=f"HTTP {exchange.status}, error = {error!r}",
            layer="http",
        )
