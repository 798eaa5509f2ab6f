"""TS 33.558 6.3 via TS 33.210 6.2: the EES's TLS profile (TLS 1.2 or 1.3 only, a server
certificate chaining to the declared trust anchor and naming the EES), and what a
server-certificate-only EES provides (recorded)."""

import ssl
import warnings

import pytest

from conformance.checks import tls_profile
from conformance.errors import CheckFailed
from conformance.under_test import CONTROL_STATUS

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    LEGACY = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1}
MODERN = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


@pytest.mark.req("EES-TLS-05")
@pytest.mark.parametrize("version", list(LEGACY))
def test_refuses_legacy_tls_versions(ees, version):
    """An EEC offering only TLS 1.0 or 1.1 gets no handshake."""
    exchange = ees.request_as(ees.eec(tls_version=LEGACY[version]))
    tls_profile.legacy_version_refused(exchange, version)


@pytest.mark.req("EES-TLS-05")
@pytest.mark.positive_control
def test_speaks_tls_1_2_or_1_3_with_a_verified_server_certificate(ees):
    """TLS 1.2 and 1.3 are each tried and recorded; at least one completes, with the server
    certificate chaining to the declared trust anchor and naming the EES FQDN."""
    served = []
    for version, pinned in MODERN.items():
        exchange = ees.request_as(ees.eec(tls_version=pinned), label=f"EEC offering only {version}")
        ok = tls_profile.modern_version_outcome(exchange, version)
        ees.measure(f"{version} served", ok)
        if ok:  # the handshake completed with a verified server certificate; HTTP is not judged here
            served.append(version)
            chain = " <- ".join(str(c) for c in exchange.tls.server_chain) or "(not recorded)"
            ees.evidence.note("server certificate", f"{version}: {ees.fqdn} verified; chain {chain}")
    if not served:
        raise CheckFailed(
            title="The EES completed a TLS handshake with the authorized EEC over neither TLS 1.2 nor TLS 1.3",
            expected="TLS 1.2 or 1.3 with a verified server certificate naming the EES (TS 33.210 6.2)",
            actual="no version served; see the exchanges",
        )


@pytest.mark.req("EES-TLS-06")
@pytest.mark.needs("server-certificate-only")
@pytest.mark.positive_control
def test_records_what_a_server_certificate_only_ees_provides(ees):
    """Without a client certificate the EES (declared server-certificate-only) is asked as the
    authorized EEC; what it answers is recorded, not judged."""
    exchange = ees.request_as(ees.eec(cert="none"), label="authorized EEC without a client certificate")
    ees.measure("served without a client certificate", exchange.answered and exchange.status == CONTROL_STATUS["ees"])
    ees.measure("answer", exchange.summary())
