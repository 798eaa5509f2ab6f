"""TS 33.558 6.2: server-certificate-only and PSK-based TLS are possible; what the ECS then
provides is implementation-defined (I level: recorded, never failed).

The PSK case brings its own positive control (``own_control``): the declared PSK must key a
handshake, or the case is INCONCLUSIVE; the certificate-based sanity probe does not gate it, so
it runs against an ECS that speaks only PSK-based TLS (``client_auth = "psk"``) too."""

import pytest

from conformance.checks import http, psk


@pytest.mark.req("ECS-TLS-06")
@pytest.mark.needs("server-certificate-only")
def test_records_what_server_certificate_only_eec_gets(ecs):
    """Record what an EEC that presents no client certificate gets: EES information, tokens."""
    exchange = ecs.provision(ecs.eec(cert="none"))
    http.answered(exchange)
    ecs.evidence.note("recorded", f"without a client certificate: {exchange.summary()}")


@pytest.mark.req("ECS-TLS-07")
@pytest.mark.needs("psk")
@pytest.mark.own_control
def test_records_psk_tls(ecs):
    """Provision over TLS 1.3 keyed by the declared PSK, then by a wrong key of the same identity; record both."""
    declared = ecs.provision_with_psk()
    psk.keyed_by_declared_psk(declared)
    wrong = ecs.provision_with_psk(wrong=True)
    for name, attempt in (("declared PSK", declared), ("wrong PSK, same identity", wrong)):
        tls = attempt.exchange.tls
        ecs.measure(f"{name}: outcome", attempt.summary())
        ecs.measure(f"{name}: TLS version and cipher suite", [tls.version, tls.cipher])
        ecs.measure(f"{name}: PSK used", attempt.psk_used)
        ecs.measure(f"{name}: alert received", tls.alert)
        ecs.measure(f"{name}: HTTP status", attempt.exchange.status)
