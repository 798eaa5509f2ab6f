"""TS 33.558 6.2: "Authentication between EEC and ECS shall be done during the execution of
the TLS handshake protocol."

With mutual certificate authentication declared, an EEC whose certificate the ECS must not
trust never gets past the handshake. HTTP/1.1 is used so the refusal is observed cleanly.
"""

import pytest

from conformance.checks import tls


@pytest.mark.req("ECS-TLS-01")
def test_refuses_eec_without_client_certificate(ecs):
    """ECS-TLS-01: an EEC presenting no client certificate is refused in the TLS handshake."""
    ecs.require_mutual_tls()
    exchange = ecs.request_as(ecs.eec(cert="none", http2=False))
    tls.handshake_refused(exchange, presented="no client certificate")


@pytest.mark.req("ECS-TLS-02")
@pytest.mark.parametrize("cert", ["untrusted-ca", "rogue-ca"])
def test_refuses_client_certificate_from_untrusted_ca(ecs, cert):
    """ECS-TLS-02: a client certificate from an untrusted CA (also one with the trusted CA's subject DN) is refused."""
    ecs.require_mutual_tls()
    exchange = ecs.request_as(ecs.eec(cert=cert, http2=False))
    tls.handshake_refused(exchange, presented=f"a certificate issued by an {cert} CA")


@pytest.mark.req("ECS-TLS-03")
@pytest.mark.parametrize("cert", ["expired", "not-yet-valid"])
def test_refuses_client_certificate_outside_validity(ecs, cert):
    """ECS-TLS-03: an expired or not-yet-valid client certificate is refused in the TLS handshake."""
    ecs.require_mutual_tls()
    exchange = ecs.request_as(ecs.eec(cert=cert, http2=False))
    tls.handshake_refused(exchange, presented=f"an {cert} certificate")
