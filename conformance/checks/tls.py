"""TLS facts: was the EEC authenticated in the handshake, as TS 33.558 6.2/6.3 demand."""

from __future__ import annotations

from conformance.errors import CheckFailed, Inconclusive
from conformance.evidence import ConnectionOutcome, HttpExchange

_NO_VERDICT = (
    ConnectionOutcome.SERVER_CERT_REJECTED,
    ConnectionOutcome.CONNECTION_REFUSED,
    ConnectionOutcome.TIMEOUT,
    ConnectionOutcome.PROTOCOL_ERROR,
)


def handshake_refused(exchange: HttpExchange, *, presented: str) -> None:
    """Holds when the server refused the TLS connection: an alert or a close, no HTTP answer.

    In TLS 1.3 the server judges the client certificate after the client considers the
    handshake done, so the refusal arrives as an alert at the first read; that counts.
    """
    tls = exchange.tls
    if tls.refused:
        return
    if tls.outcome in _NO_VERDICT:
        raise Inconclusive(f"could not observe the handshake: {tls.outcome} ({tls.detail})")
    raise CheckFailed(
        title=f"The server accepted a TLS connection from an EEC presenting {presented}",
        expected="the TLS handshake refused (a fatal alert such as certificate_required, unknown_ca, "
        "certificate_expired, bad_certificate) and no HTTP response",
        actual=f"handshake completed ({tls.version}, {tls.cipher}); {exchange.summary()}",
    )
