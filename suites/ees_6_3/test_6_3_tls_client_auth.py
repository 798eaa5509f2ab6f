"""TS 33.558 6.3: "Authentication between EEC and EES shall be done during the execution of
the TLS handshake protocol."

With mutual certificate authentication declared, an EEC whose certificate the EES must not trust
gets no service. Each case runs over every HTTP version the target declares, and so does the
positive control that brackets it: a refusal counts only where a valid EEC is served.
"""

import pytest

from conformance.checks import tls

pytestmark = [pytest.mark.needs("mutual-tls"), pytest.mark.every_transport]


@pytest.mark.req("EES-TLS-01", "EES-TLS-07")
def test_refuses_eec_without_client_certificate(ees):
    """An EEC presenting no client certificate is refused in the TLS handshake."""
    exchange = ees.request_as(ees.eec(cert="none"))
    tls.refused_in_handshake(exchange, presented="no client certificate")


@pytest.mark.req("EES-TLS-02", "EES-TLS-07")
@pytest.mark.parametrize("cert", ["untrusted-ca", "rogue-ca"])
def test_refuses_client_certificate_from_untrusted_ca(ees, cert):
    """A client certificate from an untrusted CA (also one with the trusted CA's subject DN) is refused."""
    exchange = ees.request_as(ees.eec(cert=cert))
    tls.refused_in_handshake(exchange, presented=f"a certificate issued by an {cert} CA")


@pytest.mark.req("EES-TLS-03", "EES-TLS-07")
@pytest.mark.parametrize("cert", ["expired", "not-yet-valid"])
def test_refuses_client_certificate_outside_validity(ees, cert):
    """An expired or not-yet-valid client certificate is refused in the TLS handshake."""
    exchange = ees.request_as(ees.eec(cert=cert))
    tls.refused_in_handshake(exchange, presented=f"an {cert} certificate")


@pytest.mark.req("EES-TLS-04", "EES-TLS-07")
@pytest.mark.parametrize("cert", ["wrong-eku", "no-digital-signature"])
def test_refuses_client_certificate_not_for_client_authentication(ees, cert):
    """A client certificate not for client authentication (EKU, key usage) is refused in the handshake."""
    exchange = ees.request_as(ees.eec(cert=cert))
    tls.refused_in_handshake(exchange, presented=f"a {cert} certificate (not usable for TLS client authentication)")
