"""TLS profile facts (TS 33.210 6.2 via TS 33.558 6.2/6.3): which versions a server speaks.

Role-neutral: ``ECS-TLS-05`` and ``EES-TLS-05`` judge the same facts. An EEC pinned to one TLS
version (``tls_version=``) offers only it; what the server did with the offer is judged here.
"""

from __future__ import annotations

from conformance.errors import CheckFailed, Inconclusive
from conformance.evidence import ConnectionOutcome, HttpExchange

__all__ = ["LOCAL_REFUSALS", "legacy_version_refused", "modern_version_outcome"]

LOCAL_REFUSALS = ("NO_PROTOCOLS_AVAILABLE", "UNSUPPORTED_PROTOCOL", "no protocols available")
"""What the harness's own TLS library says when it cannot offer the pinned version at all."""


def _offered_locally_impossible(exchange: HttpExchange) -> bool:
    text = f"{exchange.tls.alert or ''} {exchange.tls.detail}"
    return exchange.tls.outcome == ConnectionOutcome.PROTOCOL_ERROR and any(r in text for r in LOCAL_REFUSALS)


def legacy_version_refused(exchange: HttpExchange, version: str) -> None:
    """The server refused a handshake offering only ``version`` (TLS 1.0 or 1.1).

    CheckFailed when the handshake completed (whatever HTTP said afterwards: the version was
    accepted); Inconclusive when the harness could not offer the version or saw nothing.
    """
    tls = exchange.tls
    if exchange.answered or (tls.version is not None and tls.version == version):
        raise CheckFailed(
            title=f"The server completed a TLS handshake offering only {version}",
            expected=f"{version} refused (TS 33.210 6.2: TLS 1.2 or 1.3 only), e.g. a protocol_version alert",
            actual=f"negotiated {tls.version} ({tls.cipher}); {exchange.summary()}",
        )
    if _offered_locally_impossible(exchange):
        raise Inconclusive(f"the harness's TLS library cannot offer {version} here: {tls.detail}")
    if tls.refused or tls.outcome == ConnectionOutcome.PROTOCOL_ERROR:
        return
    raise Inconclusive(f"could not observe the {version} handshake: {tls.outcome} ({tls.detail})")


def modern_version_outcome(exchange: HttpExchange, version: str) -> bool:
    """Whether a handshake offering only ``version`` (1.2 or 1.3) was served; the facts are in the
    exchange. A served exchange also proves the server chain verified against the declared trust
    anchor and named the declared FQDN: the EEC verifies both before it sends anything."""
    if exchange.answered:
        return True
    if exchange.tls.outcome in (ConnectionOutcome.SERVER_CERT_REJECTED,):
        raise CheckFailed(
            title=f"The server certificate presented over {version} does not verify",
            expected="a chain to the declared trust anchor naming the declared FQDN (TS 33.210 6.2)",
            actual=exchange.tls.detail,
        )
    return False
