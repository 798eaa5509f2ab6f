"""``[target.psk]``: the external PSK an ECS accepts (ECS-TLS-07), read, checked and written back.

The key comes from an environment variable or a small file, as hex; every problem is one line
``FILE: target.psk.KEY: problem, fix`` that never shows the key itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import declarations
import pytest
from declarations import CERT, config_error
from run_cli import conformance

from conformance.errors import ConfigError
from conformance.targets.config import load_target
from conformance.targets.model import PskConfig
from conformance.targets.toml_format import dump_target

KEY = bytes(range(0xA0, 0xC0))
SECRET_HEX = KEY.hex()
ECS = declarations.ECS.replace('client_auth = "mutual-certificate"\n', 'client_auth = "psk"\n{psk}\n', 1)
Declare = Callable[..., Path]
PSK = '[target.psk]\nidentity = "akma-kid@ecs.example.test"\nkey_env = "ACME_PSK"\n'


@pytest.fixture
def declare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Declare:
    """Writes an ECS declaration with ``psk`` as its [target.psk] table; ACME_PSK holds the key."""
    (tmp_path / "ca.pem").write_text(CERT)
    (tmp_path / "jwks.json").write_text('{"keys": []}')
    monkeypatch.setenv("ACME_PSK", SECRET_HEX)

    def declare(psk: str, *, role_ees: bool = False) -> Path:
        text = ECS.format(psk=psk)
        if role_ees:
            text = text.replace('role = "ecs"', 'role = "ees"', 1).split("\n[ecs]\n")[0] + "\n"
            text += '[ees]\nauthorization = "local"\nservice_names = ["eees-eecregistration"]\n'
        path = tmp_path / "target.toml"
        path.write_text(text)
        return path

    return declare


def error_of(path: Path) -> ConfigError:
    """The one-line error :func:`declarations.config_error` checks, which never shows the key."""
    error = config_error(path)
    assert SECRET_HEX not in str(error)
    return error


def test_no_psk_table_declares_none(declare: Declare) -> None:
    assert load_target(declare("")).psk is None


def test_key_from_the_environment_with_defaults(declare: Declare) -> None:
    psk = load_target(declare(PSK)).psk
    assert psk == PskConfig(identity="akma-kid@ecs.example.test", key_env="ACME_PSK", key=KEY)
    assert (psk.hash, psk.tls_version, psk.port) == ("sha256", "1.3", None)
    assert SECRET_HEX not in repr(psk)


def test_key_from_a_file_with_every_key(declare: Declare, tmp_path: Path) -> None:
    (tmp_path / "psk.hex").write_text(SECRET_HEX[:32] + "\n  " + SECRET_HEX[32:].upper() + "\n")
    table = '[target.psk]\nidentity = "B-TID-1"\nkey_file = "psk.hex"\nhash = "sha384"\n'
    table += 'port = 9444\ntls_version = "1.2"\n'
    psk = load_target(declare(table)).psk
    assert psk == PskConfig("B-TID-1", None, tmp_path / "psk.hex", "sha384", 9444, "1.2", KEY)


@pytest.mark.parametrize("table", [PSK, '[target.psk]\nidentity = "x@y"\nkey_file = "psk.hex"\nhash = "sha384"\n'])
def test_round_trip_writes_where_the_key_is_never_the_key(declare: Declare, tmp_path: Path, table: str) -> None:
    (tmp_path / "psk.hex").write_text(SECRET_HEX)
    config = load_target(declare(table))
    text = dump_target(config)
    assert "[target.psk]" in text
    assert SECRET_HEX not in text
    config.file.write_text(text)
    assert load_target(config.file) == config


# fmt: off
PROBLEMS = [
    ('identity = "a"\nkey_env = "ACME_PSK"\nkey_file = "psk.hex"\n', "target.psk",
     "needs exactly one of key_env and key_file"),
    ('identity = "a"\n', "target.psk", "needs exactly one of key_env and key_file"),
    ('key_env = "ACME_PSK"\n', "target.psk.identity", "missing required key"),
    ('identity = ""\nkey_env = "ACME_PSK"\n', "target.psk.identity", "is empty"),
    ('identity = "a"\nkey_env = "NOT_SET_ANYWHERE"\n', "target.psk.key_env",
     "environment variable 'NOT_SET_ANYWHERE' is not set, export it with the PSK as hex"),
    ('identity = "a"\nkey_env = "lower case"\n', "target.psk.key_env", "environment variable"),
    ('identity = "a"\nkey_env = "SHORT_PSK"\n', "target.psk.key_env",
     "environment variable 'SHORT_PSK' holds a 8-byte key, give 16 to 256 bytes"),
    ('identity = "a"\nkey_env = "NOT_HEX_PSK"\n', "target.psk.key_env",
     "environment variable 'NOT_HEX_PSK' does not hold hex digits, write the key as hex digits"),
    ('identity = "a"\nkey_env = "EMPTY_PSK"\n', "target.psk.key_env", "environment variable 'EMPTY_PSK' is empty"),
    ('identity = "a"\nkey_file = "absent.hex"\n', "target.psk.key_file", "'absent.hex' does not exist"),
    ('identity = "a"\nkey_file = "big.hex"\n', "target.psk.key_file", "'big.hex' is larger than 4 KiB"),
    ('identity = "a"\nkey_file = "binary.key"\n', "target.psk.key_file", "'binary.key' is not hex text"),
    ('identity = "a"\nkey_file = "."\n', "target.psk.key_file", "is a directory, not a regular file"),
    ('identity = "a"\nkey_env = "ACME_PSK"\nhash = "md5"\n', "target.psk.hash",
     "'md5' is not allowed, use one of \"sha256\", \"sha384\""),
    ('identity = "a"\nkey_env = "ACME_PSK"\ntls_version = "1.1"\n', "target.psk.tls_version",
     "'1.1' is not allowed"),
    ('identity = "a"\nkey_env = "ACME_PSK"\nport = 70000\n', "target.psk.port", "70000 is not a TCP port"),
    ('identity = "a"\nkey_env = "ACME_PSK"\nport = "8443"\n', "target.psk.port", "expected an integer"),
    ('identity = "a"\nkey = "00"\n', "target.psk.key", "unknown key 'key', did you mean 'key_env'?"),
]
# fmt: on


@pytest.mark.parametrize(("body", "key", "message"), PROBLEMS, ids=[p[2][:40] for p in PROBLEMS])
def test_problem(
    declare: Declare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, key: str, message: str
) -> None:
    monkeypatch.setenv("SHORT_PSK", "0011223344556677")
    monkeypatch.setenv("NOT_HEX_PSK", SECRET_HEX[:-2] + "zz")
    monkeypatch.setenv("EMPTY_PSK", " ")
    (tmp_path / "big.hex").write_text("00" * 4096)
    (tmp_path / "binary.key").write_bytes(b"\xff\xfe" * 16)
    error = error_of(declare("[target.psk]\n" + body))
    assert error.key == key
    assert message in str(error)


def test_an_ees_declares_no_psk(declare: Declare) -> None:
    error = error_of(declare(PSK, role_ees=True))
    assert error.key == "target.psk"
    assert "not allowed for role = 'ees'" in str(error)
    assert "ECS-TLS-07" in str(error)


def test_a_broken_psk_table_stops_the_run_with_one_line(declare: Declare, tmp_path: Path) -> None:
    path = declare(PSK.replace("ACME_PSK", "UNSET_PSK_VARIABLE"))
    run = conformance("run", "--target", path, out=tmp_path / "out")
    assert run.status == 2
    assert f"{path}: target.psk.key_env: environment variable 'UNSET_PSK_VARIABLE' is not set" in run.output
