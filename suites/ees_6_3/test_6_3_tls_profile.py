"""TS 33.558 6.3 with the TLS profile of TS 33.210 6.2: TLS 1.2 or 1.3 only, and a server
certificate the EEC can verify: chaining to the declared trust anchor, naming the EES FQDN."""

import ssl

import pytest

from conformance.checks import tls

OLD = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1}
MODERN = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


@pytest.mark.req("EES-TLS-05")
@pytest.mark.parametrize("offered", sorted(OLD))
def test_refuses_tls_below_1_2(ees, offered):
    """An EEC that offers only TLS 1.0 (or 1.1) gets no TLS session."""
    ees.evidence.note("deliberately broken", f"the EEC offers only {offered}")
    facts = ees.eec(tls_version=OLD[offered]).handshake(label=f"handshake offering only {offered}")
    tls.old_version_refused(facts, offered=offered)


@pytest.mark.req("EES-TLS-05")
@pytest.mark.judges_server_certificate
def test_tls_1_2_and_1_3_with_verifiable_server_certificate(ees):
    """TLS 1.2 and 1.3 are each tried and recorded; the server chain and name are verified in each."""
    attempts = {}
    for name, version in MODERN.items():
        facts = ees.eec(tls_version=version).handshake(label=f"handshake offering only {name}")
        attempts[name] = facts
        ees.evidence.note("recorded", f"{name}: {facts.outcome} {facts.version or ''} {facts.cipher or ''}".strip())
    tls.modern_versions(attempts, fqdn=ees.fqdn)
