"""The fake ECS's published keys: JWKS and RFC 8414 metadata served over verified TLS."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conformance.issued_tokens import verify_signature
from conformance.peers.fake_ecs_issuer import TokenIssuer
from conformance.peers.issuer_server import METADATA_PATH, IssuerServer, issuer_host
from conformance.peers.material import HarnessMaterial
from conformance.targets.config import load_target

ECS = "ecs.example.test"


@pytest.fixture(scope="module")
def material() -> HarnessMaterial:
    return HarnessMaterial.create()


def _client(material: HarnessMaterial) -> httpx.Client:
    context = ssl.create_default_context(cadata=material.ca.cert_pem.bytes().decode())
    return httpx.Client(verify=context, timeout=5)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "PS256", "EdDSA"])
def test_a_harness_token_verifies_with_the_jwks_fetched_over_verified_tls(
    material: HarnessMaterial, algorithm: str
) -> None:
    issuer = TokenIssuer.from_pem(material.issuer_key_for(algorithm), issuer=ECS, algorithm=algorithm)
    with IssuerServer(issuer.public_jwks(), issuer=ECS, ca=material.ca) as server, _client(material) as client:
        jwks = client.get(f"https://127.0.0.1:{server.port}/jwks.json").json()
        metadata = client.get(f"https://localhost:{server.port}{METADATA_PATH}").json()
    token = issuer.token(eec_id="eec-1", gpsi="msisdn-491700000001", audience="ees.example.test", scope=["s"])
    assert verify_signature(token, jwks) == (True, "")
    assert jwks["keys"][0]["alg"] == algorithm
    assert "d" not in jwks["keys"][0]
    assert metadata["issuer"] == f"https://{ECS}"
    assert metadata["jwks_uri"] == f"https://{ECS}:{server.port}/jwks.json"


def test_the_certificate_names_the_issuer_host_and_another_ca_refuses_it(material: HarnessMaterial) -> None:
    with IssuerServer(material.public_jwks(), issuer="https://ecs.example.test/", ca=material.ca) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            context = ssl.create_default_context(cadata=material.ca.cert_pem.bytes().decode())
            with context.wrap_socket(raw, server_hostname=ECS) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(httpx.ConnectError), _client(HarnessMaterial.create()) as stranger:
            stranger.get(f"https://127.0.0.1:{server.port}/jwks.json")
    assert issuer_host("https://ecs.example.test:8443/oauth") == ECS


def test_a_declared_jwks_port_is_served_during_the_run(tmp_path: Path) -> None:
    from conformance.run import ConformanceRun, Options

    material = HarnessMaterial.create()
    material.save(tmp_path / "m")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    example = Path(__file__).resolve().parent.parent / "fixtures/targets/example-ees.toml"
    text = example.read_text().replace('# material = "harness-material"', f'material = "{tmp_path / "m"}"')
    text = text.replace('algorithm = "ES256"', f'algorithm = "RS256"\njwks_port = {port}')
    text = text.replace('"example-material/server-ca.pem"', f'"{example.parent / "example-material/server-ca.pem"}"')
    (tmp_path / "t.toml").write_text(text)
    config = load_target(tmp_path / "t.toml")
    assert config.trusted_issuer is not None
    assert config.trusted_issuer.jwks_port == port
    run = ConformanceRun(Options(targets=[str(tmp_path / "t.toml")]), [config])
    try:
        issuer = run.peers_for(config).issuer
        assert issuer is not None
        assert issuer.algorithm == "RS256"
        with _client(material) as client:
            jwks = client.get(f"https://127.0.0.1:{port}/jwks.json").json()
        assert verify_signature(issuer.token(eec_id="e", gpsi="msisdn-4917000001", audience="a.b", scope="s"), jwks)[0]
    finally:
        run.close()


def test_pki_serve_serves_until_interrupted(tmp_path: Path) -> None:
    material = HarnessMaterial.create()
    material.save(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "conformance.cli", "pki", "serve", str(tmp_path), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert "jwks.json" in (process.stdout.readline() if process.stdout else "")
        deadline = time.monotonic() + 10
        with _client(material) as client:
            while True:
                try:
                    jwks = client.get(f"https://127.0.0.1:{port}/jwks.json").json()
                    break
                except httpx.ConnectError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        assert len(jwks["keys"]) == 3
    finally:
        process.send_signal(2)  # Ctrl-C
        assert process.wait(timeout=10) == 0
        if process.stdout:
            process.stdout.close()
