"""The reference EES configured with its issuer's JWKS URL only, fetched from the harness's issuer server.

This is what proves an EES provisioned with nothing but the harness's ``jwks_port`` URL works end
to end: a valid harness token is accepted after a fetch of exactly the configured URL, a token
signed by another key is refused, a ``jku`` in a token is never fetched, and unknown ``kid``
values cause at most one refetch per interval.
"""

from __future__ import annotations

import http.server
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from joserfc.jwk import ECKey

from conformance.evidence import EvidenceLog
from conformance.peers import forged_tokens
from conformance.peers.fake_ecs_issuer import TokenIssuer
from conformance.peers.issuer_server import JWKS_PATH, IssuerServer
from conformance.peers.material import HarnessMaterial
from conformance.reference.ees import EesSettings, build_ees_app
from conformance.reference.faults import ees_behaviour
from conformance.reference.policy import EecRegistry, KnownEec
from conformance.reference.remote_jwks import RemoteKeySet
from conformance.reference.tls import tls_extension_from_cert, with_tls_extension
from conformance.reference.tokens import InvalidToken, TokenVerifier
from conformance.under_test import EesUnderTest

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

ECS, EES = "ecs.example.test", "ees.example.test"
GPSI = "msisdn-491700000001"
REGISTRATIONS = "/eees-eecregistration/v1/registrations"


@pytest.fixture(scope="module")
def material() -> HarnessMaterial:
    return HarnessMaterial.create()


@pytest.fixture(scope="module")
def issuer(material: HarnessMaterial) -> TokenIssuer:
    return TokenIssuer.from_pem(material.issuer_key_for("ES256"), issuer=ECS)


@pytest.fixture
def issuer_server(material: HarnessMaterial, issuer: TokenIssuer) -> Iterator[IssuerServer]:
    with IssuerServer(issuer.public_jwks(), issuer=ECS, ca=material.ca) as server:
        yield server


def _url(server: IssuerServer, path: str = JWKS_PATH) -> str:
    return f"https://127.0.0.1:{server.port}{path}"


class JwksUrlEes:
    """The reference EES trusting only ``url`` (no key given), reached in-process as EEC eec-1."""

    def __init__(self, material: HarnessMaterial, url: str, *faults: str) -> None:
        settings = EesSettings(
            EES,
            EecRegistry([KnownEec("eec-1", GPSI)]),
            trusted_issuer=ECS,
            trusted_jwks_url=url,
            trusted_jwks_ca=material.ca.cert_pem.bytes(),
        )
        leaf = material.ca.issue_client_cert("eec-1").cert_chain_pems[0].bytes()
        app = with_tls_extension(build_ees_app(settings, ees_behaviour(faults)), tls_extension_from_cert(leaf))
        self.client = TestClient(app, base_url=f"https://{EES}")

    def register(self, token: str) -> httpx.Response:
        response: httpx.Response = self.client.post(
            REGISTRATIONS, json={"eecId": "eec-1", "ueId": GPSI}, headers={"Authorization": f"Bearer {token}"}
        )
        return response


def _claims(issuer: TokenIssuer) -> dict[str, Any]:
    return issuer.claims_for(eec_id="eec-1", gpsi=GPSI, audience=EES, scope=("eees-eecregistration",))


def _refused_as_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_accepts_a_harness_token_after_fetching_only_the_configured_url(
    material: HarnessMaterial, issuer: TokenIssuer, issuer_server: IssuerServer
) -> None:
    ees = JwksUrlEes(material, _url(issuer_server))
    assert issuer_server.requests == []  # nothing is fetched before a token needs it
    first = ees.register(issuer.mint(_claims(issuer)))
    second = ees.register(issuer.mint(_claims(issuer)))
    assert (first.status_code, second.status_code) == (201, 201), first.text
    assert issuer_server.requests == [JWKS_PATH]  # fetched once, then cached


def test_refuses_a_token_signed_by_another_key(
    material: HarnessMaterial, issuer: TokenIssuer, issuer_server: IssuerServer
) -> None:
    ees = JwksUrlEes(material, _url(issuer_server))
    stranger = ECKey.generate_key("P-256")
    _refused_as_invalid_token(ees.register(issuer.mint(_claims(issuer), key=stranger)))  # the trusted kid
    _refused_as_invalid_token(ees.register(forged_tokens.untrusted_issuer_key(_claims(issuer))))
    _refused_as_invalid_token(ees.register(forged_tokens.unknown_kid(issuer, _claims(issuer))))
    assert ees.register(issuer.mint(_claims(issuer))).status_code == 201  # the positive control
    # the unknown kids came within the refetch interval of the first fetch: no refetch
    assert issuer_server.requests == [JWKS_PATH]


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/attacker.jwks", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("faults", [(), ("ees.fetches-jku",)], ids=["correct", "ees.fetches-jku"])
def test_a_jku_in_the_token_is_never_where_keys_come_from(
    material: HarnessMaterial,
    issuer: TokenIssuer,
    issuer_server: IssuerServer,
    recorder: tuple[str, list[str]],
    faults: tuple[str, ...],
) -> None:
    """Only the configured URL is fetched; the fault still fetches the jku (and the trap sees it)."""
    url, seen = recorder
    attacker = ECKey.generate_key("P-256")
    ees = JwksUrlEes(material, _url(issuer_server), *faults)
    _refused_as_invalid_token(ees.register(forged_tokens.jku_elsewhere(_claims(issuer), attacker, url)))
    assert seen == (["/attacker.jwks"] if faults else [])
    assert set(issuer_server.requests) <= {JWKS_PATH}


def test_an_unreachable_jwks_url_refuses_tokens_and_never_crashes(
    material: HarnessMaterial, issuer: TokenIssuer
) -> None:
    with IssuerServer(issuer.public_jwks(), issuer=ECS, ca=material.ca) as server:
        url = _url(server)
    _refused_as_invalid_token(JwksUrlEes(material, url).register(issuer.mint(_claims(issuer))))


def test_a_kid_naming_a_given_key_never_fetches_the_jwks_url(
    material: HarnessMaterial, issuer: TokenIssuer, issuer_server: IssuerServer
) -> None:
    """Keys given and a JWKS URL (the reference token EES trusts both): a token whose kid names a
    given key is verified with it alone; an unknown kid still fetches the URL."""
    remote = RemoteKeySet(_url(issuer_server), ca_pem=material.ca.cert_pem.bytes())
    verifier = TokenVerifier(issuer=ECS, jwks=issuer.public_jwks(), audience=EES, algorithms=["ES256"], remote=remote)
    assert verifier.verify(issuer.mint(_claims(issuer)))["iss"] == ECS
    assert remote.fetched == []
    other = TokenIssuer.from_pem(HarnessMaterial.create().issuer_key_for("ES256"), issuer=ECS)
    with pytest.raises(InvalidToken, match="kid"):
        verifier.verify(other.mint(_claims(other)))
    assert remote.fetched == [remote.url]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_kids_refetch_at_most_once_per_interval(material: HarnessMaterial, issuer_server: IssuerServer) -> None:
    clock = _Clock()
    keys = RemoteKeySet(_url(issuer_server), ca_pem=material.ca.cert_pem.bytes(), refetch_interval=30, clock=clock)
    assert [k.kid for k in keys.current_keys()] == [issuer_server.jwks["keys"][0]["kid"]]
    for _ in range(5):
        keys.refresh_for_unknown_kid()
    clock.now += 31
    keys.refresh_for_unknown_kid()
    keys.refresh_for_unknown_kid()
    assert issuer_server.requests == [JWKS_PATH, JWKS_PATH]
    clock.now += 300  # max_age: the cache is refreshed on the next use
    keys.current_keys()
    assert keys.fetched == [keys.url] * 3


def test_a_key_set_too_large_from_another_ca_or_with_secrets_trusts_only_public_keys(
    material: HarnessMaterial, issuer: TokenIssuer
) -> None:
    ca_pem = material.ca.cert_pem.bytes()
    padded = {"keys": issuer.public_jwks()["keys"], "padding": "x" * 70_000}
    with IssuerServer(padded, issuer=ECS, ca=material.ca) as server:
        assert RemoteKeySet(_url(server), ca_pem=ca_pem).current_keys() == []
    with IssuerServer(issuer.public_jwks(), issuer=ECS, ca=HarnessMaterial.create().ca) as server:
        assert RemoteKeySet(_url(server), ca_pem=ca_pem).current_keys() == []  # TLS not verified: nothing trusted
    private = ECKey.generate_key("P-256", parameters={"kid": "leaked"}).as_dict(private=True)
    mixed = {"keys": [private, {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}
    with IssuerServer(mixed, issuer=ECS, ca=material.ca) as server:
        (key,) = RemoteKeySet(_url(server), ca_pem=ca_pem).current_keys()
    assert key.kid == "leaked"
    assert "d" not in key.as_dict(private=False)
    assert not key.is_private
    with pytest.raises(ValueError, match="https://"):
        RemoteKeySet("http://127.0.0.1:1/jwks.json", ca_pem=ca_pem)


def test_the_reference_token_ees_takes_the_harness_keys_from_the_run_s_jwks_port(tmp_path: Path) -> None:
    """``conformance run --target reference``: the token EES's target declares ``jwks_port``, the run
    serves the issuer there before the first token, and the EES fetches it (and nothing else)."""
    from conformance.run import ConformanceRun, Options

    run = ConformanceRun.start(Options(targets=["reference"], out=tmp_path / "out"))
    try:
        config = next(t for t in run.targets if t.name == "reference-ees-token")
        assert config.trusted_issuer is not None
        assert config.trusted_issuer.jwks_port is not None
        target = run.under_test(config, EvidenceLog())
        assert isinstance(target, EesUnderTest)
        exchange = target.register(token=target.token(), label="registration with a harness token")
        refused = target.register(token=forged_tokens.untrusted_issuer_key(target.claims()), label="stranger's key")
        (served,) = run._issuer_servers  # the one the run started for the declared jwks_port
        assert (exchange.status, refused.status) == (201, 401)
        assert served.port == config.trusted_issuer.jwks_port
        assert served.requests == [JWKS_PATH]
    finally:
        run.close()
