"""The target declaration loader: every problem is one line naming file, key, problem and fix.

Most cases start from a valid declaration (``EES`` or ``ECS`` below), change one line, and
check the dotted key and the words of the message.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from declarations import CERT, ECS, EES, REFERENCED, SECOND_EEC, VENDOR_EEC, Write, changed, config_error
from vendor_keys import (
    PASSPHRASE,
    ec_key,
    ed25519_key,
    eec_identity,
    key_pem,
    legacy_encrypted_pem,
    rsa_jwk,
    rsa_key,
    write_eec,
)

from conformance.errors import ConfigError
from conformance.peers.material import HarnessMaterial
from conformance.targets.config import load_target, load_targets
from conformance.targets.model import TargetConfig, TokenDelivery, TokenKeys, TrustedIssuer
from conformance.targets.toml_format import dump_target

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "targets"

HARNESS = '[harness]\nclient_certs = "harness"\n'
VENDOR_ISSUER = 'source = "vendor"\nkey = "issuer.key"'


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Writes a declaration as ``tmp_path/target.toml``, beside the files it may reference."""
    for name, text in REFERENCED.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "binary.der").write_bytes(b"0\x82\x01\xff\xfe")
    write_eec(tmp_path)  # eec.pem and eec.key: vendor keys are decrypted and matched when loading
    (tmp_path / "issuer.key").write_bytes(key_pem(ec_key()))
    (tmp_path / "issuer.jwk.json").write_text(rsa_jwk())

    def write(text: str, name: str = "target.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write


# --- the example files ---------------------------------------------------------------------------


def test_example_ecs_loads() -> None:
    config = load_target(FIXTURES / "example-ecs.toml")
    assert (config.name, config.role, config.fqdn) == ("example-ecs", "ecs", "ecs.example.test")
    assert [e.role for e in config.eecs] == ["authorized", "unauthorized", "second"]
    assert [(c.ees_id, c.authorization) for c in config.candidate_ees] == [
        ("ees-1", "token"),
        ("ees-2", "local"),
    ]
    assert config.token_delivery == TokenDelivery(binding="response", member="accessToken")
    assert config.token_keys == TokenKeys(jwks_file=FIXTURES / "example-material" / "ecs-jwks.json")
    assert config.deviation("ECS-TOK-11") is not None
    for path in (config.trust_anchor, config.request_template, config.token_keys.jwks_file):
        assert path is not None
        assert path.is_absolute()
        assert path.is_file()


def test_example_ees_loads() -> None:
    config = load_target(FIXTURES / "example-ees.toml")
    assert (config.name, config.role, config.authorization) == ("example-ees", "ees", "token")
    assert config.trusted_issuer == TrustedIssuer(source="harness", issuer="ecs.example.test")
    assert config.service_names == ("eees-eecregistration",)
    assert config.trust_anchor == FIXTURES / "example-material" / "server-ca.pem"
    assert config.candidate_ees == ()
    assert config.token_delivery is None


def test_example_trust_anchor_is_a_real_certificate() -> None:
    pem = (FIXTURES / "example-material" / "server-ca.pem").read_bytes()
    assert "TEST ONLY" in x509.load_pem_x509_certificate(pem).subject.rfc4514_string()


# --- what a valid declaration gives --------------------------------------------------------------


def test_defaults_and_absolute_paths(write: Write) -> None:
    path = write(changed(EES, "timeout = 5.0\n", ""))
    config = load_target(path)
    assert config.name == "target"  # the file stem
    assert config.file == path.resolve()
    assert config.trust_anchor == path.parent / "ca.pem"
    assert (config.timeout, config.http_versions, config.client_certs, config.harness_material) == (
        5.0,
        ("2", "1.1"),
        "harness",
        None,
    )
    assert config.trusted_issuer == TrustedIssuer(source="harness", issuer="ecs.example.test")
    assert next(e for e in config.eecs if e.role == "authorized").gpsi == "msisdn-491700000001"


def test_the_generated_bad_requests_are_seeded_and_counted_by_the_declaration(write: Write) -> None:
    assert (load_target(write(EES)).fuzz_seed, load_target(write(EES)).fuzz_examples) == (33558, 12)
    config = load_target(write(changed(EES, HARNESS, HARNESS + "fuzz_seed = 7\nfuzz_examples = 3\n")))
    assert (config.fuzz_seed, config.fuzz_examples) == (7, 3)


def test_concurrent_connections_is_read_and_written_back(write: Write) -> None:
    assert load_target(write(EES)).concurrent_connections is None  # not declared: the concurrency cases are N/A
    config = load_target(write(changed(EES, "timeout = 5.0", "timeout = 5.0\nconcurrent_connections = 20")))
    assert config.concurrent_connections == 20
    assert load_target(write(dump_target(config), name="again.toml")).concurrent_connections == 20


@pytest.mark.parametrize(
    ("written", "versions"), [('["2"]', ("2",)), ('["1.1"]', ("1.1",)), ('["1.1", "2"]', ("1.1", "2"))]
)
def test_http_versions_say_which_transports_every_case_uses(
    write: Write, written: str, versions: tuple[str, ...]
) -> None:
    path = write(changed(EES, "timeout = 5.0\n", f"timeout = 5.0\nhttp_versions = {written}\n"))
    assert load_target(path).http_versions == versions


WITH_MATERIAL = 'client_certs = "harness"\nmaterial = "state/pki"'


def test_material_directory_is_resolved(write: Write) -> None:
    path = write(changed(EES, 'client_certs = "harness"', WITH_MATERIAL))
    HarnessMaterial.create().save(path.parent / "state" / "pki")
    assert load_target(path).harness_material == path.parent / "state" / "pki"


def test_material_directory_need_not_exist_for_pki_export(write: Write) -> None:
    path = write(changed(EES, 'client_certs = "harness"', WITH_MATERIAL))
    assert load_target(path, material_must_exist=False).harness_material == path.parent / "state" / "pki"
    assert not (path.parent / "state").exists()


def _material_without_ca_key(pki: Path) -> None:
    HarnessMaterial.create().save(pki)
    (pki / "ca.key").unlink()


@pytest.mark.parametrize(
    ("prepare", "problem", "fix"),
    [
        (lambda pki: None, "'state/pki' does not exist (", "run `conformance pki export "),
        (lambda pki: pki.mkdir(parents=True), "'state/pki' holds no harness material (", "run `conformance pki export"),
        (
            _material_without_ca_key,
            "'state/pki' lacks ca.key (",
            "restore them, or move the folder away, run `conformance pki export",
        ),
    ],
    ids=["absent", "empty", "partial"],
)
def test_material_directory_is_never_created_behind_the_user_s_back(
    write: Write, prepare: Callable[[Path], object], problem: str, fix: str
) -> None:
    path = write(changed(EES, 'client_certs = "harness"', WITH_MATERIAL))
    pki = path.parent / "state" / "pki"
    prepare(pki)
    before = sorted(p.name for p in pki.iterdir()) if pki.is_dir() else None
    error = config_error(path)
    assert error.key == "harness.material"
    assert error.problem.startswith(problem)
    assert error.fix.startswith(fix)
    assert "provision its ca.pem (and, for an EES, issuer.jwks.json) on the target" in error.fix
    assert (sorted(p.name for p in pki.iterdir()) if pki.is_dir() else None) == before  # nothing created


def test_vendor_certificates_and_keys(write: Write) -> None:
    text = changed(EES, 'client_certs = "harness"', 'client_certs = "vendor"')
    text = changed(
        text,
        'gpsi = "msisdn-491700000001"',
        'gpsi = "msisdn-491700000001"\ncert = "eec.pem"\nkey = "eec.key"',
    )
    text = changed(
        text,
        'source = "harness"',
        'source = "vendor"\nkey = "issuer.jwk.json"\nkid = "k1"\nalgorithm = "RS256"',
    )
    config = load_target(write(text))
    eec = next(e for e in config.eecs if e.role == "authorized")
    assert (eec.cert, eec.key) == (config.file.parent / "eec.pem", config.file.parent / "eec.key")
    assert config.trusted_issuer is not None
    assert (config.trusted_issuer.key, config.trusted_issuer.kid) == (
        config.file.parent / "issuer.jwk.json",
        "k1",
    )
    assert config.trusted_issuer.algorithm == "RS256"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('gpsi = "msisdn-491700000001"', 'gpsi = "extid-user1@edge.example.test"'),
        ('gpsi = "msisdn-491700000001"', 'gpsi = "msisdn-49170"'),
        ("timeout = 5.0", "timeout = 120"),
        ("timeout = 5.0", "timeout = 0.5"),
        ('base_url = "https://127.0.0.1:9443"', 'base_url = "https://[::1]:9443"'),
        ('base_url = "https://127.0.0.1:9443"', 'base_url = "https://localhost"'),
        ('fqdn = "ees1.example.test"', 'fqdn = "ees1.example.test."'),
    ],
)
def test_accepted_values(write: Write, old: str, new: str) -> None:
    load_target(write(changed(EES, old, new)))


def test_local_authorization_needs_no_token_issuer(write: Write) -> None:
    config = load_target(write(changed(EES, 'authorization = "token"', 'authorization = "local"').split("[ees.")[0]))
    assert (config.authorization, config.trusted_issuer) == ("local", None)


def test_token_endpoint_binding_and_jwks_url(write: Write) -> None:
    text = changed(
        ECS,
        'binding = "response"',
        'binding = "token-endpoint"\ntoken_url = "https://ecs.example.test/oauth2/token"',
    )
    text = changed(text, 'jwks_file = "jwks.json"', 'jwks_url = "https://ecs.example.test/jwks"')
    config = load_target(write(text))
    assert config.token_delivery == TokenDelivery(
        binding="token-endpoint", token_url="https://ecs.example.test/oauth2/token"
    )
    assert config.token_keys == TokenKeys(jwks_url="https://ecs.example.test/jwks")


def test_token_endpoint_client_and_pointer_keys(write: Write) -> None:
    text = changed(
        ECS,
        'binding = "response"',
        'binding = "token-endpoint"\ntoken_url = "https://as.example.test:9443/t"\nclient_auth = "client_secret_basic"'
        '\nclient_id = "c1"\nclient_secret_env = "AS_SECRET"\nselect = "audience"\nserver_name = "as.example.test"',
    )
    delivery = load_target(write(text)).token_delivery
    assert delivery is not None
    assert (delivery.client_auth, delivery.client_id, delivery.client_secret_env) == (
        "client_secret_basic",
        "c1",
        "AS_SECRET",
    )
    assert (delivery.select, delivery.server_name, delivery.trust_anchor) == ("audience", "as.example.test", None)
    pointed = changed(
        ECS, 'authorization = "token"', 'authorization = "token"\ntoken_pointer = "/ednCnfgInfo/0/eess/0/a~1b"'
    )
    assert load_target(write(pointed)).candidate_ees[0].token_pointer == "/ednCnfgInfo/0/eess/0/a~1b"


# --- every problem, one line each ----------------------------------------------------------------

ONE_EEC = '[[eec]]\nrole = "authorized"\neec_id = "eec-1"\ngpsi = "msisdn-491700000001"\n'
DEVIATION = '[[deviation]]\nrequirement = "EES-TOK-11"\nreason = "kid not set"\n'

# (base declaration, text replaced, replacement, dotted key of the error, words of the message)
# fmt: off
CASES = [
    # unknown keys: a suggestion, or the allowed keys
    (EES, "base_url =", "base_ulr =", "target.base_ulr", "unknown key 'base_ulr', did you mean 'base_url'?"),
    (EES, "timeout = 5.0", 'colour = "blue"', "target.colour", "allowed keys: name, role, base_url, fqdn,"),
    (EES, "[target]", "[taget]", "taget", "unknown key 'taget', did you mean 'target'?"),
    (EES, "eec_id =", "eecid =", "eec[0].eecid", "did you mean 'eec_id'?"),
    (EES, "issuer =", "isuer =", "ees.token_issuer.isuer", "did you mean 'issuer'?"),
    (ECS, "[ecs.token_delivery]\n", "[ecs.unused]\n", "ecs.unused", "allowed keys: max_token_lifetime,"),
    (ECS, 'authorization = "token"', 'authorisation = "token"', "ecs.candidate_ees[0].authorisation",
     "did you mean 'authorization'?"),
    # missing keys and tables
    (EES, 'fqdn = "ees1.example.test"\n', "", "target.fqdn",
     'missing required key, add fqdn = "..." under [target]'),
    (EES, 'eec_id = "eec-1"\n', "", "eec[0].eec_id",
     'missing required key, add eec_id = "..." under [[eec]]'),
    (EES, ONE_EEC, "", "eec", "missing required table, add one [[eec]] table per entry"),
    (EES, "[ees.token_issuer]", "[ees.other]", "ees.other", "unknown key 'other'"),
    (ECS, 'ees_id = "ees-1"\n', "", "ecs.candidate_ees[0].ees_id", "missing required key"),
    (ECS, '[ecs.token_delivery]\nbinding = "response"\n', "", "ecs.token_delivery",
     "missing required table, add a [ecs.token_delivery] table"),
    # wrong types: TOML booleans are not numbers, floats are not integers
    (EES, "timeout = 5.0", 'timeout = "5"', "target.timeout",
     "expected a number, got a string, write timeout = 5.0"),
    (EES, "timeout = 5.0", "timeout = true", "target.timeout", "expected a number, got a boolean"),
    (EES, "timeout = 5.0", "http_versions = true", "target.http_versions",
     "expected an array of strings, got a boolean"),
    (EES, "timeout = 5.0", 'http_versions = ["3"]', "target.http_versions",
     "'3' is not a known HTTP version, use one of \"2\", \"1.1\""),
    (EES, "timeout = 5.0", 'http_versions = ["2", "2"]', "target.http_versions", "lists a version twice"),
    (EES, "lifetime = 300", "lifetime = true", "ees.token_issuer.lifetime",
     "expected an integer, got a boolean"),
    (EES, "lifetime = 300", "lifetime = 300.0", "ees.token_issuer.lifetime",
     "expected an integer, got a float"),
    (EES, "lifetime = 300", "lifetime = 1979-05-27", "ees.token_issuer.lifetime", "got a date or time"),
    (EES, 'eec_id = "eec-1"', "eec_id = 1", "eec[0].eec_id",
     'expected a string, got an integer, write eec_id = "..."'),
    (EES, '["eees-eecregistration"]', '"eees-eecregistration"', "ees.service_names",
     "expected an array of strings, got a string"),
    (EES, '["eees-eecregistration"]', "[1]", "ees.service_names",
     "expected an array of strings, got an array"),
    (EES, "[[eec]]", "[eec]", "eec",
     "expected an array of tables, got a table, add one [[eec]] table per entry"),
    (ECS, "[target]", 'harness = "yes"\n[target]', "harness", "expected a table, got a string"),
    (EES, "[ees]", "[extra]\nmode = 1\n[ees]", "extra.mode", "expected a string, got an integer"),
    # empty values
    (EES, 'eec_id = "eec-1"', 'eec_id = "  "', "eec[0].eec_id", "is empty, give a value"),
    (EES, '["eees-eecregistration"]', "[]", "ees.service_names", "is empty, list at least one"),
    # enumerations list their values, or suggest the closest
    (EES, 'role = "ees"', 'role = "ess"', "target.role", "'ess' is not allowed, did you mean 'ees'?"),
    (EES, '"mutual-certificate"', '"tls"', "target.client_auth",
     'use one of "mutual-certificate", "server-certificate", "psk"'),
    (EES, 'role = "authorized"', 'role = "admin"', "eec[0].role", '"authorized", "unauthorized", "second"'),
    (EES, 'client_certs = "harness"', 'client_certs = "mine"', "harness.client_certs", '"harness", "vendor"'),
    (EES, 'source = "harness"', 'source = "ecs"', "ees.token_issuer.source", "'ecs' is not allowed"),
    (EES, "lifetime = 300", 'algorithm = "none"', "ees.token_issuer.algorithm",
     'use one of "ES256", "ES384",'),
    (EES, "lifetime = 300", 'algorithm = "HS256"', "ees.token_issuer.algorithm", "'HS256' is not allowed"),
    (ECS, 'binding = "response"', 'binding = "body"', "ecs.token_delivery.binding",
     '"response", "token-endpoint"'),
    # URLs
    (EES, "https://127.0.0.1:9443", "http://127.0.0.1:9443", "target.base_url", "is not an https:// URL"),
    (EES, '"https://127.0.0.1:9443"', '"127.0.0.1:9443"', "target.base_url", "is not an https:// URL"),
    (EES, "https://127.0.0.1:9443", "https://127.0.0.1:9443/api", "target.base_url", "has a path, query or"),
    (EES, "https://127.0.0.1:9443", "https://127.0.0.1:9443/", "target.base_url", "has a path, query or"),
    (EES, "https://127.0.0.1:9443", "https://127.0.0.1:9443?a=b", "target.base_url", "has a path, query or"),
    (EES, "https://127.0.0.1:9443", "https://127.0.0.1:99999", "target.base_url", "is not a valid URL"),
    (EES, "https://127.0.0.1:9443", "https://127.0.0.1:0", "target.base_url", "does not name a usable host"),
    (EES, "https://127.0.0.1:9443", "https://me@127.0.0.1", "target.base_url", "does not name a usable host"),
    (EES, "https://127.0.0.1:9443", "https://ex ample.test", "target.base_url",
     "does not name a usable host"),
    (ECS, 'binding = "response"', 'binding = "token-endpoint"\ntoken_url = "http://ecs.example.test/t"',
     "ecs.token_delivery.token_url", "is not an https:// URL"),
    (ECS, 'jwks_file = "jwks.json"', 'jwks_url = "https://ecs.example.test/jwks#x"',
     "ecs.token_keys.jwks_url",
     "has a fragment"),
    # FQDNs (TS 29.571 Fqdn)
    (EES, '"ees1.example.test"', '"localhost"', "target.fqdn", "is not a fully qualified domain name"),
    (EES, '"ees1.example.test"', '"ees_1.example.test"', "target.fqdn", "is not a fully qualified"),
    (EES, '"ees1.example.test"', '"10.0.0.1"', "target.fqdn", "is not a fully qualified"),
    (EES, '"ecs.example.test"', '"ecs_1.example.test"', "ees.token_issuer.issuer",
     "is neither an FQDN nor an https URL"),
    (ECS, '"ees1.example.test"', '"ees1"', "ecs.candidate_ees[0].fqdn", "is not a fully qualified"),
    # GPSIs (TS 29.571 Gpsi, in its strict form)
    (EES, '"msisdn-491700000001"', '"491700000001"', "eec[0].gpsi", "'491700000001' is not a GPSI"),
    (EES, '"msisdn-491700000001"', '"msisdn-4917"', "eec[0].gpsi",
     'is not a GPSI, write "msisdn-" and 5 to 15'),
    (EES, '"msisdn-491700000001"', '"msisdn-4917000000011234"', "eec[0].gpsi", "is not a GPSI"),
    (EES, '"msisdn-491700000001"', '"msisdn-49170000000a"', "eec[0].gpsi", "is not a GPSI"),
    (EES, '"msisdn-491700000001"', '"extid-user@a@b"', "eec[0].gpsi", "is not a GPSI"),
    (EES, '"msisdn-491700000001"', '"imsi-262011234567890"', "eec[0].gpsi", "is not a GPSI"),
    # EEC identities
    (EES, "[ees]", SECOND_EEC.replace('"second"', '"authorized"') + "[ees]", "eec[1].role",
     "'authorized' is already used by eec[0].role"),
    (EES, "[ees]", SECOND_EEC.replace("eec-2", "eec-1") + "[ees]", "eec[1].eec_id",
     "is already used by eec[0]"),
    (EES, "[ees]", SECOND_EEC.replace("0002", "0001") + "[ees]", "eec[1].gpsi",
     "is already used by eec[0].gpsi"),
    (EES, 'role = "authorized"', 'role = "unauthorized"', "eec", 'no EEC has role = "authorized"'),
    (EES, 'client_certs = "harness"', 'client_certs = "vendor"', "eec[0].cert",
     'missing (required when harness.client_certs = "vendor")'),
    (EES, 'eec_id = "eec-1"', 'eec_id = "eec-1"\ncert = "eec.pem"', "eec[0].cert",
     "not allowed here (the harness issues EEC certificates)"),
    (EES, 'eec_id = "eec-1"', 'eec_id = "eec-1"\nkey_passphrase_env = "PASS"', "eec[0].key_passphrase_env",
     "not allowed here (the harness issues EEC certificates)"),
    (EES, 'source = "harness"', 'source = "harness"\nkey_passphrase_env = "PASS"',
     "ees.token_issuer.key_passphrase_env", 'not allowed here (source = "harness" signs with the harness material)'),
    (EES, 'source = "harness"', VENDOR_ISSUER + '\nkey_passphrase_env = "my pass"',
     "ees.token_issuer.key_passphrase_env",
     "'my pass' is not an environment variable name, give the name of the variable that holds the passphrase"),
    # referenced files: relative to the declaration, and of the right kind
    (EES, '"ca.pem"', '"missing.pem"', "target.trust_anchor", "'missing.pem' does not exist ("),
    (EES, '"ca.pem"', '"."', "target.trust_anchor", "'.' is a directory, not a regular file ("),
    (EES, '"ca.pem"', '"/dev/zero"', "target.trust_anchor",
     "'/dev/zero' is a character device, not a regular file (/dev/zero), give the path of a regular file"),
    (EES, '"ca.pem"', '"eec.key"', "target.trust_anchor", "'eec.key' holds no PEM certificate"),
    (EES, '"ca.pem"', '"binary.der"', "target.trust_anchor", "'binary.der' is not a text file"),
    (EES, "timeout = 5.0", 'request_template = "array.json"', "target.request_template",
     "is not a JSON object"),
    (EES, "timeout = 5.0", 'request_template = "ca.pem"', "target.request_template", "is not valid JSON"),
    (ECS, '"jwks.json"', '"template.json"', "ecs.token_keys.jwks_file", 'has no "keys" array'),
    (EES, 'source = "harness"', VENDOR_ISSUER.replace("issuer.key", "public.jwk.json"),
     "ees.token_issuer.key",
     "'public.jwk.json' is a public JWK"),
    (EES, 'source = "harness"', VENDOR_ISSUER.replace("issuer.key", "ca.pem"), "ees.token_issuer.key",
     "holds no PEM private key"),
    (EES, 'client_certs = "harness"', 'client_certs = "harness"\nmaterial = "ca.pem"', "harness.material",
     "is not a directory"),
    # role-specific sections, and keys that depend on other keys
    (EES, "[ees]", "[ecs]\n[ees]", "ecs", 'not allowed here ([ecs] is for role = "ecs")'),
    (ECS, "[ecs]", "[ees]\n[ecs]", "ees", 'not allowed here ([ees] is for role = "ees")'),
    (EES, 'role = "ees"', 'role = "ecs"', "ecs", 'missing (required when role = "ecs"), add a [ecs] table'),
    (EES, 'source = "harness"', 'source = "vendor"', "ees.token_issuer.key",
     'missing (required when source = "vendor")'),
    (EES, 'source = "harness"', 'source = "harness"\nkey = "issuer.key"', "ees.token_issuer.key",
     "not allowed here"),
    (EES, "lifetime = 300", 'algorithm = "ES384"', "ees.token_issuer.algorithm",
     'does not fit source = "harness"'),
    (ECS, 'binding = "response"', 'binding = "token-endpoint"', "ecs.token_delivery.token_url",
     'missing (required when binding = "token-endpoint")'),
    (ECS, 'binding = "response"', 'binding = "token-endpoint"\ntoken_url = "https://x.test/t"\nmember = "a"',
     "ecs.token_delivery.member", 'not allowed here (binding = "token-endpoint" does not use it)'),
    (ECS, 'binding = "response"', 'binding = "response"\ntoken_url = "https://x.test/t"',
     "ecs.token_delivery.token_url", 'not allowed here (binding = "response" does not use it)'),
    (ECS, 'binding = "response"', 'binding = "response"\nmember = "ext..token"', "ecs.token_delivery.member",
     "is not a dotted member path"),
    (ECS, 'binding = "response"', 'binding = "token-endpoint"\ntoken_url = "https://x.test/t"\n'
     'client_auth = "client_secret_post"', "ecs.token_delivery.client_secret_env",
     'missing (required when client_auth = "client_secret_post")'),
    (ECS, 'binding = "response"', 'binding = "token-endpoint"\ntoken_url = "https://x.test/t"\n'
     'client_secret_env = "S"', "ecs.token_delivery.client_secret_env", "not allowed here"),
    (ECS, 'binding = "response"', 'binding = "token-endpoint"\ntoken_url = "https://x.test/t"\nselect = "aud"',
     "ecs.token_delivery.select", '"resource", "scope", "audience"'),
    (ECS, 'binding = "response"', 'binding = "response"\nselect = "scope"', "ecs.token_delivery.select",
     'not allowed here (binding = "response" does not use it)'),
    (ECS, 'authorization = "token"', 'authorization = "token"\ntoken_pointer = "eess/0"',
     "ecs.candidate_ees[0].token_pointer", "is not a JSON Pointer (RFC 6901)"),
    (ECS, 'authorization = "token"', 'authorization = "token"\ntoken_pointer = "/a/~2"',
     "ecs.candidate_ees[0].token_pointer", "is not a JSON Pointer (RFC 6901)"),
    (ECS, 'jwks_file = "jwks.json"', "", "ecs.token_keys", "needs exactly one of jwks_file and jwks_url"),
    (ECS, 'jwks_file = "jwks.json"', 'jwks_file = "jwks.json"\njwks_url = "https://x.test/k"',
     "ecs.token_keys",
     "needs exactly one"),
    (ECS, "[[ecs.candidate_ees]]", "[[ecs.candidate_ees]]\n" + 'ees_id = "ees-1"\nfqdn = "a.example.test"\n'
     'service_names = ["x"]\nauthorization = "local"\n[[ecs.candidate_ees]]', "ecs.candidate_ees[1].ees_id",
     "'ees-1' is already used by ecs.candidate_ees[0].ees_id"),
    (ECS, '["eees-eecregistration"]', '["eees eecregistration"]', "ecs.candidate_ees[0].service_names",
     "'eees eecregistration' is not a service name"),
    # ranges
    (EES, "timeout = 5.0", "timeout = 0", "target.timeout",
     "0 is out of range, use a number above 0 and at most 120"),
    (EES, "timeout = 5.0", "timeout = 120.5", "target.timeout", "is out of range"),
    (EES, "timeout = 5.0", "timeout = nan", "target.timeout", "is out of range"),
    (EES, "lifetime = 300", "lifetime = 0", "ees.token_issuer.lifetime", "0 is not positive"),
    (ECS, "max_token_lifetime = 3600", "max_token_lifetime = -1", "ecs.max_token_lifetime",
     "-1 is not positive"),
    (EES, HARNESS, HARNESS + "fuzz_examples = 0\n", "harness.fuzz_examples", "0 is not positive"),
    (EES, HARNESS, HARNESS + "fuzz_examples = 101\n", "harness.fuzz_examples", "101 is too many, use at most 100"),
    (EES, HARNESS, HARNESS + 'fuzz_seed = "7"\n', "harness.fuzz_seed", "expected an integer, got a string"),
    (EES, "timeout = 5.0", "timeout = 5.0\nconcurrent_connections = 1", "target.concurrent_connections",
     "1 is out of range, give 2 to 200"),
    (EES, "timeout = 5.0", "timeout = 5.0\nconcurrent_connections = 201", "target.concurrent_connections",
     "201 is out of range"),
    (EES, "timeout = 5.0", "timeout = 5.0\nconcurrent_connections = 0", "target.concurrent_connections",
     "0 is not positive"),
    (EES, "timeout = 5.0", 'timeout = 5.0\nconcurrent_connections = "20"', "target.concurrent_connections",
     "expected an integer, got a string"),
    # names and deviations
    (EES, "[target]", '[target]\nname = "my target"', "target.name",
     "'my target' is not a usable target name"),
    (EES, "[ees]", DEVIATION.replace("EES-TOK-11", "all of them") + "[ees]", "deviation[0].requirement",
     "'all of them' is not an EES requirement ID, use an ID from conformance/data/requirements.toml"),
    (EES, "[ees]", DEVIATION.replace("EES-", "ECS-") + "[ees]", "deviation[0].requirement",
     "'ECS-TOK-11' is not an EES requirement ID, did you mean 'EES-TOK-11'?"),
    (EES, "[ees]", DEVIATION.replace("EES-TOK-11", "EES-TOK-99") + "[ees]", "deviation[0].requirement",
     "'EES-TOK-99' is not an EES requirement ID"),
    (EES, "[ees]", DEVIATION.replace("kid not set", "") + "[ees]", "deviation[0].reason", "is empty"),
    (EES, "[ees]", DEVIATION.replace('reason = "kid not set"\n', "") + "[ees]", "deviation[0].reason",
     "missing required key"),
    (EES, "[ees]", DEVIATION + DEVIATION + "[ees]", "deviation[1].requirement",
     "'EES-TOK-11' is already used by deviation[0].requirement, declare each deviation once"),
]
# fmt: on


@pytest.mark.parametrize(("base", "old", "new", "key", "message"), CASES, ids=[case[3] for case in CASES])
def test_problem(write: Write, base: str, old: str, new: str, key: str, message: str) -> None:
    error = config_error(write(changed(base, old, new)))
    assert error.key == key
    assert message in str(error)


def test_missing_role_section(write: Write) -> None:
    error = config_error(write(EES.split("[ees]")[0]))
    assert (error.key, error.problem, error.fix) == (
        "ees",
        'missing (required when role = "ees")',
        "add a [ees] table",
    )


def test_token_authorization_needs_a_token_issuer(write: Write) -> None:
    error = config_error(write(EES.split("[ees.token_issuer]")[0]))
    assert (error.key, error.problem) == (
        "ees.token_issuer",
        'missing (required when authorization = "token")',
    )


def test_default_name_must_be_usable_too(write: Write) -> None:
    error = config_error(write(EES, name="my target.toml"))
    assert error.key == "target.name"
    assert "(the default is the file name)" in error.fix


# --- vendor keys: decrypted, matched to their certificate or algorithm when the declaration loads --

PASSPHRASE_ENV = '\nkey_passphrase_env = "ACME_EEC_PASS"'


def vendor_eec(write: Write, extra: str = "") -> Path:
    text = changed(EES, 'client_certs = "harness"', 'client_certs = "vendor"')
    return write(changed(text, 'gpsi = "msisdn-491700000001"', f'gpsi = "msisdn-491700000001"\n{VENDOR_EEC}{extra}'))


def test_encrypted_eec_key_without_passphrase_is_one_line(write: Write) -> None:
    path = vendor_eec(write)
    write_eec(path.parent, PASSPHRASE)
    assert str(config_error(path)) == (
        f"{path}: eec[0].key: 'eec.key' is an encrypted private key, give its passphrase in "
        "eec[0].key_passphrase_env (the name of an environment variable) or decrypt it"
    )


def test_encrypted_eec_key_with_its_passphrase(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_EEC_PASS", PASSPHRASE)
    path = vendor_eec(write, PASSPHRASE_ENV)
    write_eec(path.parent, PASSPHRASE)
    eec = next(e for e in load_target(path).eecs if e.role == "authorized")
    assert (eec.key_passphrase_env, eec.key_passphrase) == ("ACME_EEC_PASS", PASSPHRASE.encode())


@pytest.mark.parametrize(
    ("value", "encrypted", "message"),
    [
        (None, True, "environment variable 'ACME_EEC_PASS' is not set, export it with the key's passphrase"),
        ("", True, "environment variable 'ACME_EEC_PASS' is empty, set it to the key's passphrase"),
        ("wrong", True, "its passphrase does not decrypt 'eec.key' ("),
        (PASSPHRASE, False, "is set but 'eec.key' is not encrypted, remove it"),
    ],
    ids=["unset", "empty", "wrong", "plain-key"],
)
def test_passphrase_problems_name_the_passphrase_key(
    write: Write, monkeypatch: pytest.MonkeyPatch, value: str | None, encrypted: bool, message: str
) -> None:
    monkeypatch.delenv("ACME_EEC_PASS", raising=False)
    if value is not None:
        monkeypatch.setenv("ACME_EEC_PASS", value)
    path = vendor_eec(write, PASSPHRASE_ENV)
    write_eec(path.parent, PASSPHRASE if encrypted else None)
    error = config_error(path)
    assert error.key == "eec[0].key_passphrase_env"
    assert message in str(error)


def test_eec_key_must_match_its_certificate(write: Write) -> None:
    path = vendor_eec(write)
    (path.parent / "eec.key").write_bytes(key_pem(ec_key()))
    assert str(config_error(path)) == (
        f"{path}: eec[0].key: 'eec.key' does not match the public key of 'eec.pem', "
        "give the private key of that certificate (the first one in the chain)"
    )


def test_eec_certificate_must_parse(write: Write) -> None:
    path = vendor_eec(write)
    (path.parent / "eec.pem").write_text(CERT)  # a PEM block, but no certificate inside
    error = config_error(path)
    assert error.key == "eec[0].cert"
    assert "'eec.pem' holds no usable PEM certificate" in error.problem


def issuer_with(write: Write, key_file: str, data: bytes | str, algorithm: str, extra: str = "") -> Path:
    line = f'source = "vendor"\nkey = "{key_file}"\nalgorithm = "{algorithm}"{extra}'
    path = write(changed(EES, 'source = "harness"', line))
    target = path.parent / key_file
    target.write_bytes(data) if isinstance(data, bytes) else target.write_text(data)
    return path


# fmt: off
MISFITS = [
    (lambda: key_pem(ec_key()), "RS256", "an EC P-256 key (Algorithm 'RS256' requires 'RSA' key)", "ES256"),
    (lambda: key_pem(ec_key("P-384")), "ES256", "an EC P-384 key (Key for 'ES256' not supported", "ES384"),
    (lambda: key_pem(rsa_key()), "ES256", "a 2048-bit RSA key (Algorithm 'ES256' requires 'EC' key)", "RS256"),
    (lambda: key_pem(ed25519_key()), "PS256", "an Ed25519 key (Algorithm 'PS256' requires 'RSA' key)", "Ed25519"),
    (rsa_jwk, "EdDSA", "a 2048-bit RSA key (Algorithm 'EdDSA' requires 'OKP' key)", "RS256"),
]
# fmt: on


@pytest.mark.parametrize(("key", "algorithm", "described", "suggested"), MISFITS, ids=[m[1] + m[3] for m in MISFITS])
def test_issuer_key_must_fit_the_algorithm(
    write: Write, key: Callable[[], bytes | str], algorithm: str, described: str, suggested: str
) -> None:
    data = key()
    path = issuer_with(write, "issuer.jwk.json" if isinstance(data, str) else "issuer.key", data, algorithm)
    error = config_error(path)
    assert error.key == "ees.token_issuer.algorithm"
    assert error.problem.startswith(f"'{algorithm}' does not fit ")
    assert described in error.problem
    assert error.fix == f'set algorithm = "{suggested}", or give a key for {algorithm}'


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (lambda: key_pem(ec_key("P-384")), "ES384"),
        (lambda: key_pem(rsa_key()), "PS256"),
        (lambda: key_pem(ed25519_key()), "EdDSA"),
        (rsa_jwk, "RS256"),
    ],
)
def test_issuer_keys_that_fit(write: Write, key: Callable[[], bytes | str], algorithm: str) -> None:
    data = key()
    path = issuer_with(write, "issuer.jwk.json" if isinstance(data, str) else "issuer.key", data, algorithm)
    assert load_target(path).trusted_issuer.algorithm == algorithm  # type: ignore[union-attr]


def test_encrypted_issuer_key_in_the_legacy_form(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    """``BEGIN RSA PRIVATE KEY`` with ``Proc-Type: 4,ENCRYPTED``: what older OpenSSL writes."""
    path = issuer_with(write, "issuer.key", legacy_encrypted_pem(rsa_key(), PASSPHRASE), "RS256")
    assert str(config_error(path)) == (
        f"{path}: ees.token_issuer.key: 'issuer.key' is an encrypted private key, give its passphrase in "
        "ees.token_issuer.key_passphrase_env (the name of an environment variable) or decrypt it"
    )
    monkeypatch.setenv("ACME_ISSUER_PASS", PASSPHRASE)
    text = path.read_text().replace(
        'algorithm = "RS256"', 'algorithm = "RS256"\nkey_passphrase_env = "ACME_ISSUER_PASS"'
    )
    path.write_text(text)
    issuer = load_target(path).trusted_issuer
    assert issuer is not None
    assert issuer.key_passphrase == PASSPHRASE.encode()


def test_a_jwk_has_no_passphrase(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_ISSUER_PASS", PASSPHRASE)
    path = issuer_with(write, "issuer.jwk.json", rsa_jwk(), "RS256", '\nkey_passphrase_env = "ACME_ISSUER_PASS"')
    error = config_error(path)
    assert error.key == "ees.token_issuer.key_passphrase_env"
    assert error.problem == "is set but 'issuer.jwk.json' is a JWK, which is never encrypted"


def test_unusable_issuer_jwk(write: Write) -> None:
    path = issuer_with(write, "issuer.jwk.json", '{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "d"}', "ES256")
    error = config_error(path)
    assert error.key == "ees.token_issuer.key"
    assert "'issuer.jwk.json' is not a usable JWK" in error.problem


# --- the file itself -----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    error = config_error(tmp_path / "absent.toml")
    assert (error.key, error.problem) == ("(file)", "does not exist")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    error = config_error(tmp_path)
    assert (error.key, error.problem) == ("(file)", "is a directory, not a regular file")


def test_device_instead_of_file() -> None:
    error = config_error(Path("/dev/zero"))  # read without a bound, it would never end
    assert (error.key, error.problem) == ("(file)", "is a character device, not a regular file")


def test_fifo_instead_of_file(tmp_path: Path) -> None:
    fifo = tmp_path / "target.toml"
    os.mkfifo(fifo)  # opened for reading, it would block until a writer came
    error = config_error(fifo)
    assert (error.key, error.problem) == ("(file)", "is a FIFO (named pipe), not a regular file")


def test_declaration_larger_than_the_cap(write: Write) -> None:
    path = write(EES + "#" * (1024 * 1024) + "\n")
    error = config_error(path)
    assert (error.key, error.problem) == ("(file)", "is larger than 1024 KiB")


@pytest.mark.parametrize("reference", ["ca.pem", "eec.pem", "eec.key", "issuer.key", "template.json", "jwks.json"])
def test_referenced_files_are_capped_and_regular(write: Write, reference: str) -> None:
    """The same rule for every file the declaration names: a FIFO is refused, a huge file too."""
    text = changed(EES, 'client_certs = "harness"', 'client_certs = "vendor"')
    text = changed(text, 'gpsi = "msisdn-491700000001"', f'gpsi = "msisdn-491700000001"\n{VENDOR_EEC}')
    text = changed(text, 'source = "harness"', VENDOR_ISSUER)
    text = changed(text, "timeout = 5.0", 'timeout = 5.0\nrequest_template = "template.json"')
    path = write(text)
    load_target(path)
    key = {
        "ca.pem": "target.trust_anchor",
        "eec.pem": "eec[0].cert",
        "eec.key": "eec[0].key",
        "issuer.key": "ees.token_issuer.key",
        "template.json": "target.request_template",
    }.get(reference)
    if key is None:  # jwks.json belongs to the ECS declaration
        path, key = write(ECS, name="ecs.toml"), "ecs.token_keys.jwks_file"
    referenced = path.parent / reference
    referenced.unlink()
    os.mkfifo(referenced)
    error = config_error(path)
    assert error.key == key
    assert f"'{reference}' is a FIFO (named pipe), not a regular file" in error.problem
    referenced.unlink()
    referenced.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * (1024 * 1024))
    error = config_error(path)
    assert error.key == key
    assert f"'{reference}' is larger than 1024 KiB" in error.problem


def test_not_utf8(write: Write) -> None:
    path = write("")
    path.write_bytes(b'[target]\nname = "\xff"\n')
    assert config_error(path).problem == "is not UTF-8 text"


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("[target]\nrole = \n", "line 2, column 8", "Invalid value"),
        ('[target]\nrole = "ees"\nrole = "ecs"\n', "line 3, column 13", "Cannot overwrite a value"),
        ('[target]\nrole = "ees', "end of document", "Unterminated string"),
    ],
)
def test_invalid_toml_names_line_and_column(write: Write, text: str, where: str, problem: str) -> None:
    error = config_error(write(text))
    assert error.key == where
    assert error.problem == f"not valid TOML: {problem}"


# --- several targets -----------------------------------------------------------------------------


def test_load_targets_keeps_order(write: Write) -> None:
    paths = [write(ECS, name="b-ecs.toml"), write(EES, name="a-ees.toml")]
    assert [c.name for c in load_targets(paths)] == ["b-ecs", "a-ees"]


def test_duplicate_names_name_both_files(write: Write) -> None:
    first = write(ECS.replace('"jwks.json"', '"../jwks.json"').replace('"ca.pem"', '"../ca.pem"'), name="one/site.toml")
    second = write(EES.replace('"ca.pem"', '"../ca.pem"'), name="two/site.toml")  # same stem: same default name
    with pytest.raises(ConfigError) as caught:
        load_targets([first, second])
    assert caught.value.key == "target.name"
    assert str(caught.value).startswith(f"{second}: target.name: name 'site' is already used by {first.resolve()}")


# --- writing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["example-ecs.toml", "example-ees.toml"])
def test_examples_round_trip(tmp_path: Path, example: str) -> None:
    copy = shutil.copytree(FIXTURES, tmp_path / "targets") / example
    config = load_target(copy)
    copy.write_text(dump_target(config))
    assert load_target(copy) == config


def rich_ees(write: Write, outside: Path) -> TargetConfig:
    """An EES declaration using every option, with hostile strings and a path outside its directory."""
    config = load_target(write(EES))
    hostile = 'quote " backslash \\ newline \n tab \t cr \r ctl \x01\x1f\x7f nul \x00 é 𝄞 \u2028 \'single\' """'
    return replace(
        config,
        trust_anchor=outside,
        client_certs="vendor",
        harness_material=config.file.parent / "material",
        timeout=0.25,
        http_versions=("1.1",),
        eecs=tuple(
            replace(
                e,
                eec_id=hostile,
                cert=outside,
                key=config.file.parent / "keys" / "eec.key",
                key_passphrase_env="EEC_KEY_PASSPHRASE",
                key_passphrase=PASSPHRASE.encode(),
            )
            for e in config.eecs
        ),
        trusted_issuer=TrustedIssuer(
            source="vendor",
            issuer="ecs.example.test",
            key=outside.parent / "issuer.key",
            kid=hostile,
            algorithm="EdDSA",
            lifetime=60,
        ),
        extra={
            "ascii": "".join(map(chr, range(128))),
            "plain": hostile,
            "with space": "x",
            "dotted.key": "y",
            "ü": "z",
            '"': "q",
        },
    )


def test_rich_config_round_trips(
    write: Write, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "ca.pem"
    chain, eec_key = eec_identity()
    outside.write_bytes(chain)
    (outside.parent / "issuer.key").write_bytes(key_pem(ed25519_key()))
    config = rich_ees(write, outside)
    (config.file.parent / "keys").mkdir()
    (config.file.parent / "keys" / "eec.key").write_bytes(key_pem(eec_key, PASSPHRASE))
    HarnessMaterial.create().save(config.file.parent / "material")
    monkeypatch.setenv("EEC_KEY_PASSPHRASE", PASSPHRASE)
    text = dump_target(config)
    config.file.write_text(text)
    assert load_target(config.file) == config
    assert f'trust_anchor = "{outside}"' in text  # outside the directory: absolute
    assert 'key = "keys/eec.key"' in text
    assert 'material = "material"' in text
    assert 'key_passphrase_env = "EEC_KEY_PASSPHRASE"' in text
    assert PASSPHRASE not in text
    assert PASSPHRASE not in repr(config)


def test_dump_writes_only_the_binding_s_keys(write: Write) -> None:
    config = load_target(write(ECS))
    response = dump_target(config)
    assert 'member = "accessToken"' in response
    assert "token_url" not in response
    assert 'client_auth = "tls' not in response
    endpoint = replace(config, token_delivery=TokenDelivery(binding="token-endpoint", token_url="https://x.test/t"))
    text = dump_target(endpoint)
    assert "member" not in text
    assert 'client_auth = "tls_client_auth"' in text
    config.file.write_text(text)
    assert load_target(config.file) == endpoint


def test_dump_writes_only_the_role_s_sections(write: Write) -> None:
    ees = load_target(write(EES))
    confused = replace(ees, candidate_ees=load_target(write(ECS, name="ecs.toml")).candidate_ees)
    assert "[ecs" not in dump_target(confused)


def test_dump_resolves_relative_model_paths(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_target(write(EES))
    monkeypatch.chdir(config.file.parent.parent)
    here = Path(config.file.parent.name)  # how the reference deployment names its directory: relative
    relative = replace(config, file=here / "target.toml", trust_anchor=here / "ca.pem")
    assert 'trust_anchor = "ca.pem"' in dump_target(relative)
