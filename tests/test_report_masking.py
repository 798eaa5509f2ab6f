"""What a report never shows: private keys and vendor credentials, wherever they hide in a record."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.reporting.masking import (
    MASK,
    PRIVATE_KEY_MASK,
    PrivateKeyInReport,
    is_credential_name,
    mask_record,
    mask_text,
    refuse_private_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"client_secret": "s3cr3t", "client_id": "eec-0001"}',
            '{"client_secret": "[masked]", "client_id": "eec-0001"}',
        ),
        (
            "grant_type=client_credentials&client_secret=s3cr3t&x=1",
            "grant_type=client_credentials&client_secret=[masked]&x=1",
        ),
        ("password: hunter2", "password: [masked]"),
        ("-H 'Authorization: Basic YWNtZTpodW50ZXIy'", "-H 'Authorization: Basic [masked]'"),
        ("openssl pkcs12 -in eec.p12 -passin pass:hunter2", "openssl pkcs12 -in eec.p12 -passin [masked]"),
        ("curl --pass hunter2 --cert eec.pem", "curl --pass [masked] --cert eec.pem"),
        ("curl -u acme:hunter2 https://x", "curl -u acme:[masked] https://x"),
        ("https://acme:hunter2@ees.acme.test:9443/", "https://acme:[masked]@ees.acme.test:9443/"),
        # left alone: what only looks like it
        ("https://198.51.100.10:8443/eecs-serviceprovisioning/v1/request", None),
        ("Basic Constraints: CA:TRUE; bypass -passive", None),
        ("a client_secret_expires_at claim", None),
        ("token eyJhbGciOiJF…[redacted 494 chars, sha256:535a499e48ed]", None),
    ],
)
def test_credentials_in_text(text: str, expected: str | None) -> None:
    assert mask_text(text) == (text if expected is None else expected)


def test_any_text_with_a_private_key_is_replaced_whole() -> None:
    for marker in ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY"):
        assert mask_text(f"before\n-----BEGIN {marker}-----\nMIIE\n-----END {marker}-----\nafter") == PRIVATE_KEY_MASK


@pytest.mark.parametrize(
    "name", ["password", "Password", "client_secret", "Client-Secret", "key_passphrase", "db_passwd"]
)
def test_credential_names(name: str) -> None:
    assert is_credential_name(name)


@pytest.mark.parametrize("name", ["client_id", "secret_ref_id", "password_hint", "passage"])
def test_other_names(name: str) -> None:
    assert not is_credential_name(name)


def test_mask_record_masks_members_keys_and_jwk_private_parts_and_copies() -> None:
    record: dict[str, Any] = {
        "targets": [{"name": "acme", "password": "hunter2", "tls": {"key_passphrase": "x", "empty_secret": ""}}],
        "evidence": [
            {"request_headers": {"Authorization": "Basic YWNtZQ==", "X-Other": "Basic stays"}},
            {"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "pub", "y": "pub", "d": "private"}]}},
            {"-----BEGIN PRIVATE KEY-----": "key as a member name"},
        ],
        "lone": "a\ud800b",
    }
    masked = mask_record(record)
    assert masked["targets"][0] == {
        "name": "acme",
        "password": MASK,
        "tls": {"key_passphrase": MASK, "empty_secret": ""},
    }
    assert masked["evidence"][0]["request_headers"] == {"Authorization": f"Basic {MASK}", "X-Other": "Basic stays"}
    assert masked["evidence"][1]["jwks"]["keys"][0] == {"kty": "EC", "crv": "P-256", "x": "pub", "y": "pub", "d": MASK}
    assert list(masked["evidence"][2]) == [PRIVATE_KEY_MASK]
    assert masked["lone"] == "a\ufffdb"
    assert record["targets"][0]["password"] == "hunter2"  # the input is left alone


def test_refuse_private_key() -> None:
    assert refuse_private_key("fine", "x") == "fine"
    with pytest.raises(PrivateKeyInReport, match="refusing to write the page"):
        refuse_private_key("-----BEGIN PRIVATE KEY-----", "the page")
