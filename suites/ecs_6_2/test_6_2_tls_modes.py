"""TS 33.558 6.2: server-certificate-only and PSK-based TLS are possible; what the ECS then
provides is implementation-defined (I level: recorded, never failed)."""

import pytest

from conformance.checks import http


@pytest.mark.req("ECS-TLS-06")
@pytest.mark.needs("server-certificate-only")
def test_records_what_server_certificate_only_eec_gets(ecs):
    """Record what an EEC that presents no client certificate gets: EES information, tokens."""
    exchange = ecs.provision(ecs.eec(cert="none"))
    http.answered(exchange)
    ecs.evidence.note("recorded", f"without a client certificate: {exchange.summary()}")


@pytest.mark.req("ECS-TLS-07")
@pytest.mark.needs("psk")
def test_records_psk_tls(ecs):
    """PSK-based TLS (AKMA, GBA) is declared: the harness cannot yet act as a PSK client."""
    pytest.skip("declared client_auth = 'psk': PSK-based TLS is out of the harness's scope (TS 33.558 6.2)")
