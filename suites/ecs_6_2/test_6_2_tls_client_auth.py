"""TS 33.558 6.2: "Authentication between EEC and ECS shall be done during the execution of
the TLS handshake protocol."

With mutual certificate authentication declared, an EEC whose certificate the ECS must not trust
gets no service. Each case runs over every HTTP version the target declares, and so does the
positive control that brackets it: a refusal counts only where a valid EEC is served.
"""

import pytest

from conformance.checks import tls

pytestmark = [pytest.mark.needs("mutual-tls"), pytest.mark.every_transport]


@pytest.mark.req("ECS-TLS-01", "ECS-TLS-08")
def test_refuses_eec_without_client_certificate(ecs):
    """An EEC presenting no client certificate is refused in the TLS handshake."""
    exchange = ecs.request_as(ecs.eec(cert="none"))
    tls.refused_in_handshake(exchange, presented="no client certificate")


@pytest.mark.req("ECS-TLS-02", "ECS-TLS-08")
@pytest.mark.parametrize("cert", ["untrusted-ca", "rogue-ca"])
def test_refuses_client_certificate_from_untrusted_ca(ecs, cert):
    """A client certificate from an untrusted CA (also one with the trusted CA's subject DN) is refused."""
    exchange = ecs.request_as(ecs.eec(cert=cert))
    tls.refused_in_handshake(exchange, presented=f"a certificate issued by an {cert} CA")


@pytest.mark.req("ECS-TLS-03", "ECS-TLS-08")
@pytest.mark.parametrize("cert", ["expired", "not-yet-valid"])
def test_refuses_client_certificate_outside_validity(ecs, cert):
    """An expired or not-yet-valid client certificate is refused in the TLS handshake."""
    exchange = ecs.request_as(ecs.eec(cert=cert))
    tls.refused_in_handshake(exchange, presented=f"an {cert} certificate")


@pytest.mark.req("ECS-TLS-04", "ECS-TLS-08")
@pytest.mark.parametrize("cert", ["wrong-eku", "no-digital-signature"])
def test_refuses_client_certificate_with_wrong_key_usage(ecs, cert):
    """A client certificate whose EKU excludes clientAuth, or whose key usage lacks digitalSignature, is refused."""
    presented = {
        "wrong-eku": "a certificate whose extended key usage is serverAuth only (no clientAuth)",
        "no-digital-signature": "a certificate whose key usage lacks digitalSignature",
    }[cert]
    exchange = ecs.request_as(ecs.eec(cert=cert))
    tls.refused_in_handshake(exchange, presented=presented)
