"""Bad input to the ``conformance`` command ends in one line and exit status 2, before any case runs.

Run folders, output folders, option values, target files that are no files, encrypted keys,
a missing material folder: each bug was seen through the CLI, so each is tested through it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from run_cli import Finished, conformance
from vendor_keys import PASSPHRASE, key_pem, write_eec

from conformance import cli, run_folders
from conformance.errors import ConfigError
from conformance.peers.material import HarnessMaterial
from conformance.reference.deployment import ReferenceDeployment
from conformance.targets.config import load_target

SERVER_CA = Path(__file__).resolve().parent.parent / "fixtures" / "targets" / "example-material" / "server-ca.pem"
PROMPT = "Enter PEM pass phrase"


def one_line(run: Finished) -> str:
    """The whole output of a run that stopped on bad input: exactly one line, no traceback."""
    assert run.status == 2, run.output
    lines = run.output.strip().splitlines()
    assert len(lines) == 1, run.output
    assert "Traceback" not in run.output
    assert "INTERNALERROR" not in run.output
    return lines[0]


def ees_declaration(directory: Path, extra_eec: str = "", harness: str = 'client_certs = "harness"') -> Path:
    """A valid local-authorization EES declaration whose server is down (nothing runs in these tests)."""
    path = directory / "acme.toml"
    path.write_text(
        f"""\
[target]
role = "ees"
base_url = "https://127.0.0.1:9"
fqdn = "ees1.example.test"
trust_anchor = "{SERVER_CA}"
client_auth = "mutual-certificate"
timeout = 1.0

[harness]
{harness}

[[eec]]
role = "authorized"
eec_id = "eec-1"
gpsi = "msisdn-491700000001"
{extra_eec}

[ees]
authorization = "local"
service_names = ["eees-eecregistration"]
""",
        "utf-8",
    )
    return path


# --- run folders: never shared ---------------------------------------------------------------------


def test_concurrent_reference_runs_write_separate_folders(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "conformance", "run", "--target", "reference", "--req", "ECS-TLS-01"]
    runs = [subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    runs.append(subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    folders = sorted((tmp_path / "reports" / "reference").iterdir())
    assert len(folders) == 2
    for folder in folders:
        assert (folder / "results.json").is_file()
        assert (folder / "junit.xml").is_file()
    ca_pems = {(f / "reference-target" / "harness-material" / "ca.pem").read_bytes() for f in folders}
    assert len(ca_pems) == 2  # each run started its own reference PKI, and kept it


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run starts in the same second."""
    second = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    monkeypatch.setattr(run_folders, "dt", SimpleNamespace(datetime=SimpleNamespace(now=lambda tz: second), UTC=dt.UTC))


def test_run_folder_names_retry_on_collision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixed_clock: None
) -> None:
    suffixes = iter(["aaaaaa", "aaaaaa", "bbbbbb"])
    monkeypatch.setattr(run_folders, "unique_suffix", lambda: next(suffixes))
    first, second = run_folders.fresh_folder(tmp_path / "reports"), run_folders.fresh_folder(tmp_path / "reports")
    assert (first.name, second.name) == ("20250102T030405Z-aaaaaa", "20250102T030405Z-bbbbbb")


def test_run_folder_names_give_up_after_the_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixed_clock: None
) -> None:
    monkeypatch.setattr(run_folders, "unique_suffix", lambda: "aaaaaa")
    run_folders.fresh_folder(tmp_path)
    with pytest.raises(ConfigError, match="no free run folder name in 3 attempts, give --out DIR"):
        run_folders.fresh_folder(tmp_path, attempts=3)


def test_a_locked_run_folder_is_refused(tmp_path: Path) -> None:
    with run_folders.exclusive(tmp_path), pytest.raises(ConfigError) as raised, run_folders.exclusive(tmp_path):
        pass
    assert str(raised.value) == (
        f"{tmp_path}: --out: is in use by another conformance run, wait for that run to end, or give another --out DIR"
    )
    with run_folders.exclusive(tmp_path):  # released at the end of the block
        pass


def test_the_lock_is_held_while_the_run_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[bool] = []

    def main(argv: list[str]) -> int:
        handle = os.open(tmp_path / "out" / run_folders.LOCK_FILE, os.O_RDWR)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(handle)
        return 0

    monkeypatch.setattr("conformance.cli.pytest.main", main)
    assert cli.main(["run", "--target", "reference", "--out", str(tmp_path / "out")]) == 0
    assert held == [True]


def test_a_run_that_never_started_leaves_no_folder(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "conformance", "run", "--target", "missing.toml"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "missing.toml: (file): does not exist" in done.stderr
    assert list((tmp_path / "reports").iterdir()) == []


# --- output folders: checked before the first case -------------------------------------------------


@pytest.mark.parametrize(
    ("out_name", "prepare", "problem"),
    [
        ("out", lambda d: (d / "out").write_text("x"), "is not a directory, give a folder (it is created if absent)"),
        ("file/out", lambda d: (d / "file").write_text("x"), "cannot be created (Not a directory)"),
        (
            "out",
            lambda d: [(d / "out").mkdir(), (d / "out" / "old-results.json").write_text("{}")],
            "is not empty, give a new or empty folder",
        ),
    ],
    ids=["a-file", "under-a-file", "not-empty"],
)
def test_out_is_checked_before_the_first_case(
    tmp_path: Path, out_name: str, prepare: Callable[[Path], object], problem: str
) -> None:
    prepare(tmp_path)
    out = tmp_path / out_name
    before = sorted(tmp_path.rglob("*"))
    line = one_line(conformance("run", "--target", "reference", out=out, limit=30))
    assert line.startswith(f"conformance: {out}: --out: {problem}")
    assert sorted(tmp_path.rglob("*")) == before  # nothing written: not even a reference PKI


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_checked_before_the_first_case(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir(mode=0o500)
    line = one_line(conformance("run", "--target", "reference", out=out, limit=30))
    assert line == f"conformance: {out}: --out: is not writable (Permission denied), give a folder you may write to"


def test_read_only_folder_fails_the_write_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same check in-process, for root too (it writes anywhere): the probe's OSError is one line."""

    def refuse(**kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("conformance.run_folders.tempfile.mkstemp", refuse)
    with pytest.raises(ConfigError, match=r"--out: is not writable \(Permission denied\)"):
        run_folders.empty_folder(tmp_path / "out")


@pytest.mark.parametrize(
    "argv",
    [("pki", "export", "{file}"), ("reference", "serve", "--targets-dir", "{file}")],
    ids=["pki-export", "reference-serve"],
)
def test_other_output_folders_are_checked_too(tmp_path: Path, argv: tuple[str, ...]) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    line = one_line(conformance(*(a.format(file=file) for a in argv), limit=30))
    option = "DIR" if argv[0] == "pki" else "--targets-dir"
    assert line == f"conformance: {file}: {option}: is not a directory, give a folder (it is created if absent)"


# --- option values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--case-timeout", "0.001", "from 1 to 3600"),
        ("--case-timeout", "0", "from 1 to 3600"),
        ("--case-timeout", "-5", "from 1 to 3600"),
        ("--case-timeout", "nan", "from 1 to 3600"),
        ("--case-timeout", "soon", "from 1 to 3600"),
        ("--deadline", "nan", "above 0 and at most 604800"),
        ("--deadline", "inf", "above 0 and at most 604800"),
        ("--deadline", "-1", "above 0 and at most 604800"),
        ("--deadline", "0", "above 0 and at most 604800"),
    ],
)
def test_option_values_out_of_range_are_one_line(option: str, value: str, allowed: str) -> None:
    run = conformance("run", "--target", "reference", option, value, limit=30)
    line = one_line(run)
    assert line.startswith(f"conformance run: argument {option}: {value!r} is ")
    assert f"give a number of seconds {allowed}" in line
    assert run.seconds < 10


@pytest.mark.parametrize(
    ("option", "value"), [("--case-timeout", "1"), ("--case-timeout", "3600"), ("--deadline", "0.5")]
)
def test_option_values_at_the_limits_are_accepted(option: str, value: str) -> None:
    args = cli.build_parser().parse_args(["run", "--target", "reference", option, value])
    assert getattr(args, option[2:].replace("-", "_")) == float(value)


# --- target files that are no files ----------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "target.toml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_target_that_is_no_regular_file_exits_2_at_once(tmp_path: Path, fifo: Path, kind: str) -> None:
    target, problem = (
        (fifo, "is a FIFO (named pipe)") if kind == "fifo" else (Path("/dev/zero"), "is a character device")
    )
    run = conformance("run", "--target", target, out=tmp_path / "out", limit=20)
    assert run.status == 2, run.output
    assert f"{target}: (file): {problem}, not a regular file, give the path of a regular file" in run.output
    assert "Traceback" not in run.output
    assert run.seconds < 5


# --- private keys never prompt ---------------------------------------------------------------------

ENCRYPTED_LINE = (
    "{path}: eec[0].key: 'eec.key' is an encrypted private key, give its passphrase in "
    "eec[0].key_passphrase_env (the name of an environment variable) or decrypt it"
)


def encrypted_vendor_target(directory: Path) -> Path:
    write_eec(directory, PASSPHRASE)
    return ees_declaration(directory, 'cert = "eec.pem"\nkey = "eec.key"', 'client_certs = "vendor"')


def test_encrypted_key_without_a_terminal_is_one_line(tmp_path: Path) -> None:
    path = encrypted_vendor_target(tmp_path)
    argv = [sys.executable, "-m", "conformance", "run", "--target", str(path), "--out", str(tmp_path / "out")]
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, start_new_session=True, check=False
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert ENCRYPTED_LINE.format(path=path) in done.stderr
    assert PROMPT not in done.stdout + done.stderr
    assert "Errno 22" not in done.stdout + done.stderr


def test_encrypted_key_on_a_terminal_never_prompts(tmp_path: Path) -> None:
    path = encrypted_vendor_target(tmp_path)
    status, output = on_a_terminal(["-m", "conformance", "run", "--target", str(path), "--out", str(tmp_path / "o")])
    assert status == 2, output
    assert ENCRYPTED_LINE.format(path=path) in output.replace("\r\n", "")
    assert PROMPT not in output


def on_a_terminal(argv: list[str], limit: float = 20.0) -> tuple[int, str]:
    """Run Python with a pseudo-terminal as its controlling terminal, as a user at a shell would."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: only exec, whatever happens
        try:
            os.execv(sys.executable, [sys.executable, *argv])
        finally:
            os._exit(127)
    output, deadline = b"", time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            if select.select([terminal], [], [], 0.1)[0]:
                try:
                    chunk = os.read(terminal, 4096)
                except OSError:  # EIO: the child closed its terminal
                    break
                if not chunk:
                    break
                output += chunk
        else:
            os.kill(pid, 9)
            pytest.fail(f"still running after {limit} s, waiting at a prompt? {output.decode(errors='replace')}")
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), output.decode(errors="replace")
    finally:
        os.close(terminal)


def test_encrypted_eec_key_with_its_passphrase_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole way: declared passphrase, read from the environment, given to the TLS client."""
    deployment = ReferenceDeployment.start(tmp_path / "reference")
    try:
        ecs = next(p for p in deployment.target_files if p.name == "reference-ecs.toml")
        material = HarnessMaterial.load(deployment.directory / "harness-material")
        text = ecs.read_text("utf-8").replace('client_certs = "harness"', 'client_certs = "vendor"')
        for number in ("0001", "0002", "0003"):
            cert, key = material.export_client_identity(ecs.parent, common_name=f"eec-{number}", filename_stem=number)
            key.write_bytes(key_pem(serialization.load_pem_private_key(key.read_bytes(), None), PASSPHRASE))
            lines = f'cert = "{cert.name}"\nkey = "{key.name}"\nkey_passphrase_env = "ACME_EEC_PASS"'
            text = text.replace(f'eec_id = "eec-{number}"', f'eec_id = "eec-{number}"\n{lines}')
        ecs.write_text(text, "utf-8")
        monkeypatch.setenv("ACME_EEC_PASS", PASSPHRASE)
        run = conformance("run", "--target", ecs, "--req", "ECS-TLS-01", out=tmp_path / "out", limit=60)
    finally:
        deployment.stop()
    assert run.status == 0, run.output
    assert set(run.verdicts().values()) == {"PASS"}
    assert PASSPHRASE not in (tmp_path / "out" / "results.json").read_text("utf-8")


# --- the declared material folder is never created behind the user's back -------------------------


def test_missing_material_folder_is_one_line_and_stays_missing(tmp_path: Path) -> None:
    path = ees_declaration(tmp_path, harness='client_certs = "harness"\nmaterial = "pki"')
    line = one_line(conformance("run", "--target", path, out=tmp_path / "out", limit=30))
    assert line.endswith(
        f"conformance: {path}: harness.material: 'pki' does not exist ({tmp_path / 'pki'}), "
        f"run `conformance pki export {tmp_path / 'pki'}` and provision its ca.pem "
        "(and, for an EES, issuer.jwks.json) on the target"
    )
    assert not (tmp_path / "pki").exists()


def test_pki_export_creates_the_material_a_declaration_names(tmp_path: Path) -> None:
    path = ees_declaration(tmp_path, harness='client_certs = "harness"\nmaterial = "pki"')
    done = conformance("pki", "export", tmp_path / "pki", "--target", path, limit=30)
    assert done.status == 0, done.output
    assert load_target(path).harness_material == tmp_path / "pki"
    assert (tmp_path / "pki" / "eec-eec-1.pem").is_file()


def test_encrypted_issuer_key_with_its_passphrase_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendor issuer key the reference EES trusts, encrypted, with its passphrase declared."""
    deployment = ReferenceDeployment.start(tmp_path / "reference")
    try:
        ees = next(p for p in deployment.target_files if p.name == "reference-ees-token.toml")
        plain = serialization.load_pem_private_key(
            (deployment.directory / "harness-material" / "issuer-key.pem").read_bytes(), None
        )
        (ees.parent / "issuer.key").write_bytes(key_pem(plain, PASSPHRASE))
        vendor = 'source = "vendor"\nkey = "issuer.key"\nkey_passphrase_env = "ACME_ISSUER_PASS"'
        ees.write_text(ees.read_text("utf-8").replace('source = "harness"', vendor), "utf-8")
        monkeypatch.setenv("ACME_ISSUER_PASS", PASSPHRASE)
        run = conformance("run", "--target", ees, "--req", "EES-TOK-01", out=tmp_path / "out", limit=60)
    finally:
        deployment.stop()
    assert run.status == 0, run.output
    assert set(run.verdicts().values()) == {"PASS"}
