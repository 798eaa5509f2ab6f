"""TLS facts: was the EEC authenticated in the handshake, as TS 33.558 6.2/6.3 demand.

The outcome (ECS-TLS-01..04, EES-TLS-01..04) is decided by whether the EEC was served; how the
server refused (a fatal alert in the handshake, or at the first read under TLS 1.3; an HTTP
refusal after a completed handshake; a close without an alert) is the shape, judged under
ECS-TLS-08 / EES-TLS-07. A close without an alert counts as a refusal only because the positive
control over the same transport runs right after the case and must succeed.
"""

from __future__ import annotations

from conformance.errors import CheckFailed, Inconclusive, ShapeViolation
from conformance.evidence import ConnectionOutcome, HttpExchange, TlsFacts

__all__ = ["CERTIFICATE_ALERTS", "modern_versions", "old_version_refused", "refused_in_handshake"]

CERTIFICATE_ALERTS = frozenset(
    {
        "certificate_required",
        "unknown_ca",
        "bad_certificate",
        "certificate_expired",
        "certificate_unknown",
        "certificate_revoked",
        "unsupported_certificate",
        "access_denied",
        "decrypt_error",
        "handshake_failure",  # what TLS 1.2 servers (OpenSSL among them) send when no certificate came
    }
)
"""RFC 8446 6.2 / RFC 5246 7.2.2 alerts that say "your certificate is not accepted"."""

_NO_VERDICT = (
    ConnectionOutcome.SERVER_CERT_REJECTED,
    ConnectionOutcome.CONNECTION_REFUSED,
    ConnectionOutcome.TIMEOUT,
    ConnectionOutcome.PROTOCOL_ERROR,
)


def refused_in_handshake(exchange: HttpExchange, *, presented: str) -> None:
    """The EEC presenting ``presented`` was not served; the refusal should be a certificate alert.

    Raises :class:`CheckFailed` when it was served (2xx), :class:`ShapeViolation` (layer ``tls``)
    when it was refused otherwise than by a certificate alert in the handshake, and
    :class:`Inconclusive` when nothing about the handshake could be observed.
    """
    tls = exchange.tls
    if tls.outcome == ConnectionOutcome.REFUSED_WITH_ALERT:
        if tls.alert_name in CERTIFICATE_ALERTS:
            return
        raise ShapeViolation(
            title=f"The server refused an EEC presenting {presented} with an alert that names no certificate problem",
            expected=f"a fatal alert such as {', '.join(sorted(CERTIFICATE_ALERTS)[:4])} (RFC 8446 6.2)",
            actual=f"alert {tls.alert_name or tls.alert} ({tls.phase})",
            layer="tls",
        )
    if exchange.answered:
        assert exchange.status is not None
        if 200 <= exchange.status < 300:
            raise CheckFailed(
                title=f"The server served an EEC presenting {presented}",
                expected="no service: the TLS handshake refused (a fatal certificate alert), or at least no 2xx",
                actual=f"handshake completed ({tls.version}, {tls.cipher}, ALPN {tls.alpn}); {exchange.summary()}",
            )
        raise ShapeViolation(
            title=f"The server let the handshake of an EEC presenting {presented} complete and refused it in HTTP",
            expected="the refusal in the TLS handshake, with a certificate alert",
            actual=f"handshake completed ({tls.version}); {exchange.summary()}",
            layer="tls",
        )
    if tls.outcome == ConnectionOutcome.CLOSED_WITHOUT_ALERT:
        raise ShapeViolation(
            title=f"The server closed the connection of an EEC presenting {presented} without a TLS alert",
            expected="a fatal certificate alert (counted as a refusal only because the positive control "
            "over the same transport succeeds right after)",
            actual=f"closed without alert at the {tls.phase or 'handshake'}: {tls.detail}",
            layer="tls",
        )
    if tls.outcome in _NO_VERDICT:
        raise Inconclusive(f"could not observe the handshake: {tls.outcome} ({tls.detail})")
    raise Inconclusive(f"unexpected connection outcome {tls.outcome} ({tls.detail})")  # pragma: no cover


def old_version_refused(facts: TlsFacts, *, offered: str) -> None:
    """A handshake offering only ``offered`` (TLS 1.0 or 1.1) did not come up (TS 33.210 6.2).

    Any refusal counts (a ``protocol_version`` alert, another alert, a close): the outcome is
    that no session at that version exists. :class:`CheckFailed` when one came up;
    :class:`Inconclusive` when the handshake could not be observed at all.
    """
    if facts.outcome == ConnectionOutcome.ESTABLISHED or facts.version == offered:
        raise CheckFailed(
            title=f"The server negotiated {facts.version or offered} with an EEC offering only {offered}",
            expected=f"{offered} refused: TLS 1.2 or 1.3 only (TS 33.210 6.2)",
            actual=f"handshake completed ({facts.version}, {facts.cipher})",
        )
    if facts.refused or facts.outcome == ConnectionOutcome.SERVER_CERT_REJECTED:
        return  # no session at that version; a rejected server certificate is judged with 1.2/1.3
    raise Inconclusive(f"could not observe a {offered} handshake: {facts.outcome} ({facts.detail})")


def modern_versions(attempts: dict[str, TlsFacts], *, fqdn: str) -> None:
    """TLS 1.2 and 1.3 were both tried: at least one comes up, and every one that reaches the
    server certificate finds it chaining to the declared trust anchor and naming ``fqdn``.

    A server certificate the harness rejects is the target's FAIL (the declared anchor and FQDN
    are what an EEC has); a server that speaks neither version is a FAIL too; a network failure
    is :class:`Inconclusive`.
    """
    rejected = {v: f for v, f in attempts.items() if f.outcome == ConnectionOutcome.SERVER_CERT_REJECTED}
    if rejected:
        version = next(iter(rejected))
        raise CheckFailed(
            title=f"Over {version} the server certificate does not chain to the declared trust anchor "
            f"or does not name {fqdn}",
            expected=f"a certificate chain to the declared trust anchor, for {fqdn}",
            actual="; ".join(f"{v}: {f.detail}" for v, f in rejected.items()),
        )
    up = [v for v, f in attempts.items() if f.outcome == ConnectionOutcome.ESTABLISHED]
    if up:
        return
    if all(f.refused for f in attempts.values()):
        raise CheckFailed(
            title="The server negotiated neither TLS 1.2 nor TLS 1.3",
            expected="TLS 1.2 or 1.3 (TS 33.210 6.2)",
            actual="; ".join(f"{v}: {f.outcome} {f.alert or ''} {f.detail}" for v, f in attempts.items()),
        )
    raise Inconclusive("; ".join(f"{v}: {f.outcome} ({f.detail})" for v, f in attempts.items()))
