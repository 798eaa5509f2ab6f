"""The vendor's issuer key file: encrypted PEM with an explicit passphrase, never a prompt, never a FIFO."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from vendor_keys import PASSPHRASE, ec_key, key_pem, legacy_encrypted_pem, rsa_key

from conformance.errors import PeerError
from conformance.peers.fake_ecs_issuer import TokenIssuer

ECS = "ecs.example.test"


@pytest.mark.parametrize("form", ["pkcs8", "legacy"])
def test_encrypted_pem_with_its_passphrase(tmp_path: Path, form: str) -> None:
    key = rsa_key()
    path = tmp_path / "issuer.key"
    path.write_bytes(key_pem(key, PASSPHRASE) if form == "pkcs8" else legacy_encrypted_pem(key, PASSPHRASE))
    issuer = TokenIssuer.from_file(path, issuer=ECS, algorithm="RS256", password=PASSPHRASE.encode())
    assert issuer.kid == TokenIssuer.from_pem(key_pem(key), issuer=ECS).kid  # the same key, decrypted


def test_encrypted_pem_without_or_with_a_wrong_passphrase_fails_without_asking(tmp_path: Path) -> None:
    path = tmp_path / "issuer.key"
    path.write_bytes(key_pem(ec_key(), PASSPHRASE))
    with pytest.raises(PeerError, match="not an unencrypted PEM private key"):
        TokenIssuer.from_file(path, issuer=ECS)
    with pytest.raises(PeerError, match="not a PEM private key that this passphrase decrypts"):
        TokenIssuer.from_file(path, issuer=ECS, password=b"wrong")


def test_issuer_key_must_be_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "issuer.key"
    os.mkfifo(fifo)
    with pytest.raises(PeerError, match="is a FIFO"):
        TokenIssuer.from_file(fifo, issuer=ECS)
    with pytest.raises(PeerError, match="is a character device"):
        TokenIssuer.from_file("/dev/zero", issuer=ECS)
