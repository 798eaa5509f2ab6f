"""Minimal valid target declarations for the loader's tests, and how they check one error.

Each test starts from ``EES`` or ``ECS``, changes one line (:func:`changed`) and expects one line
naming file, key, problem and fix (:func:`config_error`). The files they reference are written by
each test module's own fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.errors import ConfigError
from conformance.targets.config import load_target

CERT = "-----BEGIN CERTIFICATE-----\nMIIBplaceholder\n-----END CERTIFICATE-----\n"

EES = """\
[target]
role = "ees"
base_url = "https://127.0.0.1:9443"
fqdn = "ees1.example.test"
trust_anchor = "ca.pem"
client_auth = "mutual-certificate"
timeout = 5.0

[harness]
client_certs = "harness"

[[eec]]
role = "authorized"
eec_id = "eec-1"
gpsi = "msisdn-491700000001"

[ees]
authorization = "token"
service_names = ["eees-eecregistration"]

[ees.token_issuer]
source = "harness"
issuer = "ecs.example.test"
lifetime = 300
"""

ECS = """\
[target]
role = "ecs"
base_url = "https://ecs.example.test:8443"
fqdn = "ecs.example.test"
trust_anchor = "ca.pem"
client_auth = "mutual-certificate"

[[eec]]
role = "authorized"
eec_id = "eec-1"
gpsi = "msisdn-491700000001"

[ecs]
max_token_lifetime = 3600

[ecs.token_delivery]
binding = "response"

[ecs.token_keys]
jwks_file = "jwks.json"

[[ecs.candidate_ees]]
ees_id = "ees-1"
fqdn = "ees1.example.test"
service_names = ["eees-eecregistration"]
authorization = "token"
"""


REFERENCED = {
    "ca.pem": CERT,
    "public.jwk.json": '{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}',
    "jwks.json": '{"keys": []}',
    "template.json": '{"acProfs": [{"acId": "app-1"}]}',
    "array.json": "[1, 2]",
}
SECOND_EEC = '\n[[eec]]\nrole = "second"\neec_id = "eec-2"\ngpsi = "msisdn-491700000002"\n'
VENDOR_EEC = 'cert = "eec.pem"\nkey = "eec.key"'

Write = Callable[..., Path]
"""The ``write`` fixture: (declaration text, name="target.toml") -> its path."""


def changed(base: str, old: str, new: str) -> str:
    assert old in base, f"test bug: {old!r} is not in the base declaration"
    return base.replace(old, new, 1)


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_target(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {caught.value.key}: ")
    return caught.value
