"""The token endpoint's client authentication in a declaration: ``private_key_jwt`` (RFC 7523) and
``self_signed_tls_client_auth`` (RFC 8705 2.2), with the EEC credentials they need; every problem is
one line naming the key. The end-to-end runs against the reference ECS are at the bottom."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from declarations import ECS, EES, REFERENCED, SECOND_EEC, VENDOR_EEC, Write, changed, config_error
from run_cli import conformance
from vendor_keys import ec_key, key_pem, rsa_key, write_eec

from conformance.peers.pki import TestCA, self_signed_client_cert
from conformance.reference.deployment import ReferenceDeployment
from conformance.targets.config import load_target
from conformance.targets.toml_format import dump_target

ENDPOINT = 'binding = "token-endpoint"\ntoken_url = "https://ecs.example.test/oauth2/token"'
AUTHORIZED = 'gpsi = "msisdn-491700000001"'
OAUTH = AUTHORIZED + '\noauth_key = "client.key"\noauth_cert = "client.pem"'


def declared(methods: str, eec: str = OAUTH, extra: str = "") -> str:
    """The ECS declaration with a token endpoint taking ``methods`` and the authorized EEC's ``eec`` lines."""
    text = changed(ECS, 'binding = "response"', ENDPOINT + "\n" + methods + extra)
    return changed(text, AUTHORIZED, eec)


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Writes a declaration as ``tmp_path/target.toml`` beside the files of ``test_target_config``'s."""
    for name, text in REFERENCED.items():
        (tmp_path / name).write_text(text)
    write_eec(tmp_path)

    def write(text: str) -> Path:
        path = tmp_path / "target.toml"
        path.write_text(text)
        return path

    return write


@pytest.fixture
def client_files(tmp_path: Path) -> Path:
    """``client.pem`` / ``client.key`` (a self-signed EEC OAuth client), ``other.key``, ``rsa.key``."""
    leaf = self_signed_client_cert("eec-1 OAuth client")
    (tmp_path / "client.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    (tmp_path / "client.key").write_bytes(leaf.private_key_pem.bytes())
    (tmp_path / "other.key").write_bytes(key_pem(ec_key("P-384")))
    (tmp_path / "rsa.key").write_bytes(key_pem(rsa_key()))
    return tmp_path


def test_both_methods_load_and_round_trip(write: Write, client_files: Path) -> None:
    text = declared(
        'client_auth = "private_key_jwt"\nother_client_auths = ["self_signed_tls_client_auth", "tls_client_auth"]',
        extra='\nassertion_alg = "ES256"',
    )
    config = load_target(write(text))
    delivery = config.token_delivery
    assert delivery is not None
    assert delivery.client_auths == ("private_key_jwt", "self_signed_tls_client_auth", "tls_client_auth")
    assert delivery.assertion_alg == "ES256"
    assert (config.eecs[0].oauth_key, config.eecs[0].oauth_cert) == (
        client_files / "client.key",
        client_files / "client.pem",
    )
    assert load_target(write(dump_target(config))) == config


def test_private_key_jwt_defaults_to_the_vendor_tls_key(write: Write, client_files: Path) -> None:
    """With vendor certificates the EEC's TLS key is the one the ECS registered, unless oauth_key says."""
    text = declared('client_auth = "private_key_jwt"', AUTHORIZED + "\n" + VENDOR_EEC)
    text = changed(text, "[[eec]]", '[harness]\nclient_certs = "vendor"\n\n[[eec]]')
    config = load_target(write(text))
    assert config.eecs[0].oauth_key is None
    assert config.eecs[0].key is not None


# fmt: off
PROBLEMS = [
    ('client_auth = "private_key_jwt"', AUTHORIZED, "", "eec[0].oauth_key",
     'missing (required when ecs.token_delivery declares "private_key_jwt" and the harness issues'),
    ('client_auth = "self_signed_tls_client_auth"', AUTHORIZED + '\noauth_key = "client.key"', "", "eec[0].oauth_cert",
     'missing (required when ecs.token_delivery declares "self_signed_tls_client_auth")'),
    ('client_auth = "self_signed_tls_client_auth"', AUTHORIZED + '\noauth_cert = "client.pem"', "", "eec[0].oauth_key",
     "missing (required when oauth_cert is given"),
    ('client_auth = "self_signed_tls_client_auth"', OAUTH.replace("client.key", "other.key"), "", "eec[0].oauth_key",
     "'other.key' does not match the public key of 'client.pem'"),
    ('client_auth = "self_signed_tls_client_auth"', OAUTH.replace("client", "eec"), "", "eec[0].oauth_cert",
     "'eec.pem' is not self-signed"),
    ('client_auth = "private_key_jwt"', OAUTH, '\nassertion_alg = "PS256"', "ecs.token_delivery.assertion_alg",
     "'PS256' does not fit eec[0].oauth_key 'client.key', an EC P-256 key"),
    ('client_auth = "private_key_jwt"', AUTHORIZED + '\noauth_key = "rsa.key"', '\nassertion_alg = "ES256"',
     "ecs.token_delivery.assertion_alg", 'set assertion_alg = "RS256", or remove it'),
    ('client_auth = "private_key_jwt"', AUTHORIZED + '\noauth_key = "ca.pem"', "", "eec[0].oauth_key",
     "holds no PEM private key"),
    ('client_auth = "tls_client_auth"', OAUTH, "", "eec[0].oauth_key",
     "not allowed here (no ecs.token_delivery client authentication uses it"),
    ('client_auth = "private_key_jwt"', OAUTH, "", "eec[0].oauth_cert",
     "not allowed here (no ecs.token_delivery client authentication uses it (self_signed_tls_client_auth))"),
    ('client_auth = "tls_client_auth"', AUTHORIZED, '\nassertion_alg = "ES256"', "ecs.token_delivery.assertion_alg",
     "not allowed here (only private_key_jwt signs a client assertion)"),
    ('client_auth = "tls_client_auth"\nother_client_auths = ["tls_client_auth"]', AUTHORIZED, "",
     "ecs.token_delivery.other_client_auths", "repeats a method"),
    ('client_auth = "tls_client_auth"\nother_client_auths = ["private_key_jw"]', AUTHORIZED, "",
     "ecs.token_delivery.other_client_auths", "did you mean 'private_key_jwt'?"),
    ('client_auth = "tls_client_auth"\nother_client_auths = ["client_secret_post"]', AUTHORIZED, "",
     "ecs.token_delivery.client_secret_env", 'missing (required when "client_secret_post" is declared)'),
    ('client_auth = "private_key_jw"', AUTHORIZED, "", "ecs.token_delivery.client_auth",
     "did you mean 'private_key_jwt'?"),
]
# fmt: on


@pytest.mark.parametrize(("methods", "eec", "extra", "key", "message"), PROBLEMS, ids=[p[3] for p in PROBLEMS])
def test_problem(write: Write, client_files: Path, methods: str, eec: str, extra: str, key: str, message: str) -> None:
    error = config_error(write(declared(methods, eec, extra)))
    assert error.key == key, str(error)
    assert message in str(error)


def test_an_unused_credential_on_an_ees_is_refused_too(write: Write, client_files: Path) -> None:
    error = config_error(write(changed(EES, AUTHORIZED, OAUTH)))
    assert error.key == "eec[0].oauth_key"


def test_only_the_authorized_eec_needs_the_credential(write: Write, client_files: Path) -> None:
    """The suite requests tokens for the authorized EEC; the others may go without (their cases say so)."""
    text = declared('client_auth = "self_signed_tls_client_auth"') + SECOND_EEC
    assert load_target(write(text)).eecs[1].oauth_cert is None


def test_a_bad_declaration_stops_the_run_with_exit_2(write: Write, client_files: Path, tmp_path: Path) -> None:
    path = write(declared('client_auth = "private_key_jwt"', AUTHORIZED))
    run = conformance("run", "--target", path, out=tmp_path / "out")
    assert run.status == 2, run.output
    assert f"{path}: eec[0].oauth_key: missing" in run.output


EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "targets"


@pytest.mark.parametrize(
    ("example", "methods"),
    [
        ("example-ecs-private-key-jwt.toml", ("private_key_jwt", "tls_client_auth")),
        ("example-ecs-self-signed.toml", ("self_signed_tls_client_auth",)),
    ],
)
def test_examples_load(example: str, methods: tuple[str, ...]) -> None:
    config = load_target(EXAMPLES / example)
    assert config.token_delivery is not None
    assert config.token_delivery.client_auths == methods
    assert config.eecs[0].oauth_key == EXAMPLES / "example-material" / "eec-oauth.key"


def test_pki_export_writes_oauth_clients_once(tmp_path: Path) -> None:
    """What a vendor registers stays valid: a second export keeps each EEC's self-signed client."""
    material = tmp_path / "material"
    assert conformance("pki", "export", material).status == 0
    first = (material / "oauth-eec-0001.pem").read_bytes()
    assert (material / "oauth-eec-0001.key").stat().st_mode & 0o777 == 0o600
    assert '"kty": "EC"' in (material / "oauth-eec-0001.jwk.json").read_text()
    assert conformance("pki", "export", material).status == 0
    assert (material / "oauth-eec-0001.pem").read_bytes() == first


# --- end to end: the reference ECS with each method as the one every token request uses -----------


@pytest.mark.parametrize("method", ["private_key_jwt", "self_signed_tls_client_auth"])
def test_reference_ecs_issues_every_token_through_the_method(tmp_path: Path, method: str) -> None:
    deployment = ReferenceDeployment.start(tmp_path / "reference")
    try:
        ecs = next(p for p in deployment.target_files if p.name == "reference-ecs-endpoint.toml")
        text = ecs.read_text("utf-8")
        old = 'client_auth = "tls_client_auth"\nother_client_auths = ["private_key_jwt", "self_signed_tls_client_auth"]'
        assert old in text
        other = next(m for m in ("private_key_jwt", "self_signed_tls_client_auth") if m != method)
        ecs.write_text(text.replace(old, f'client_auth = "{method}"\nother_client_auths = ["{other}"]'), "utf-8")
        run = conformance("run", "--target", ecs, "--req", "ECS-TOK", out=tmp_path / "out")
    finally:
        deployment.stop()
    assert run.status == 0, run.output
    token_requests = [  # outside the token-endpoint file, whose cases choose their method themselves
        e
        for c in run.cases()
        if "test_6_2_token_endpoint" not in c["id"]
        for e in c["evidence"]
        if e["kind"] == "HttpExchange" and e["url"].endswith("/oauth2/token") and e["status"] == 200
    ]
    assert token_requests
    assert all(e["label"].endswith(f", {method})") for e in token_requests), [e["label"] for e in token_requests]


# --- why the reference ECS may pin registered self-signed certificates in its TLS trust store ------


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    """One loopback TLS 1.3 handshake (bounded by timeouts): the server's outcome."""
    outcome: list[str] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)

        def serve() -> None:
            connection, _ = listener.accept()
            connection.settimeout(5)
            try:
                with server.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
                    outcome.append("accepted")
            except (ssl.SSLError, OSError) as exc:
                outcome.append(f"refused: {exc}")

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(listener.getsockname(), timeout=5) as raw:
            try:
                with client.wrap_socket(raw, server_hostname="ecs.example.test") as tls:
                    tls.sendall(b"x")
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass
        thread.join(10)
    return outcome[0]


def test_openssl_accepts_exactly_the_pinned_self_signed_certificate() -> None:
    """A self-signed end-entity certificate in the server's trust store passes the handshake; another
    one with the same subject and another key does not (OpenSSL matches the whole certificate)."""
    ca = TestCA.create()
    registered = self_signed_client_cert("eec-1 OAuth client")
    impostor = self_signed_client_cert(subject=registered.certificate.subject)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_server_cert("ecs.example.test").configure_cert(server)
    server.load_verify_locations(cadata=registered.cert_chain_pems[0].bytes().decode("ascii"))
    server.verify_mode = ssl.CERT_REQUIRED
    outcomes = []
    for leaf in (registered, impostor):
        client = ssl.create_default_context(cadata=ca.cert_pem.bytes().decode("ascii"))
        leaf.configure_cert(client)
        outcomes.append(_handshake(server, client))
    assert outcomes[0] == "accepted"
    assert outcomes[1].startswith("refused")
    assert "self-signed certificate" in outcomes[1]
