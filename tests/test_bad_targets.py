"""A broken target file, a target that is down, a port that never answers: exit 2, one clear message."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_cli import conformance

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "targets"


def _target_file(tmp_path: Path, port: int, *, timeout: float = 1.0, typo: bool = False) -> Path:
    text = (EXAMPLES / "example-ecs.toml").read_text("utf-8")
    text = text.replace('base_url = "https://127.0.0.1:8443"', f'base_url = "https://127.0.0.1:{port}"')
    text = text.replace("timeout = 5.0", f"timeout = {timeout}")
    if typo:
        text = text.replace("base_url =", "base_ulr =")
    for name in ("example-material",):
        text = text.replace(f'"{name}/', f'"{EXAMPLES / name}/')
    path = tmp_path / "ecs.toml"
    path.write_text(text, "utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(5)
    for sock in accepted:
        sock.close()
    server.close()


def test_typo_in_target_file_names_file_and_key(tmp_path: Path) -> None:
    path = _target_file(tmp_path, 8443, typo=True)
    run = conformance("run", "--target", path, out=tmp_path / "out")
    assert run.status == 2
    assert f"{path}: target.base_ulr: unknown key" in run.output
    assert "base_url" in run.output
    assert "Traceback" not in run.output


def test_missing_target_file_is_exit_2(tmp_path: Path) -> None:
    run = conformance("run", "--target", tmp_path / "nope.toml")
    assert run.status == 2
    assert "nope.toml" in run.output
    assert "Traceback" not in run.output


def test_target_that_is_down_is_inconclusive_with_one_message(tmp_path: Path) -> None:
    run = conformance("run", "--target", _target_file(tmp_path, _free_port()), out=tmp_path / "out", limit=60)
    assert run.status == 2, run.output
    assert set(run.verdicts().values()) <= {"INCONCLUSIVE", "N/A"}
    assert run.output.count("unreachable") >= 1
    assert "connection-refused" in run.output
    assert "Traceback" not in run.output


def test_port_that_never_answers_ends_within_a_minute(tmp_path: Path, silent_port: int) -> None:
    run = conformance("run", "--target", _target_file(tmp_path, silent_port), out=tmp_path / "out", limit=60)
    assert run.status == 2, run.output
    assert "timeout" in run.output
    assert set(run.verdicts().values()) <= {"INCONCLUSIVE", "N/A"}
    assert run.seconds < 60


def test_pytest_on_the_suites_without_target_says_what_is_missing() -> None:
    import subprocess
    import sys

    suites = Path(__file__).resolve().parent.parent / "suites"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(suites), "-q"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "conformance tests need a target: --target FILE or --target reference" in done.stdout + done.stderr


def test_psk_target_says_the_harness_cannot_speak_psk(tmp_path: Path) -> None:
    path = _target_file(tmp_path, _free_port())
    text = path.read_text("utf-8")
    path.write_text(text.replace('client_auth = "mutual-certificate"', 'client_auth = "psk"', 1), "utf-8")
    run = conformance("run", "--target", path, out=tmp_path / "out")
    assert run.status == 2, run.output
    assert "cannot yet establish TLS-PSK" in run.output
    assert run.results()["counts"]["tls_connections"] == 0
