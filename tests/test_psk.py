"""PSK-based TLS (ECS-TLS-07): the PSK peer against a crafted tlslite-ng ECS, and the case end to end.

The crafted server (:mod:`psk_server`) knows one external PSK. The declared key must key a
TLS 1.3 handshake and carry the provisioning request; a wrong key of the same identity must be
refused with the alert recorded. The case records both and is PASS (I level: recorded); when the
declared key does not work it observed nothing and is INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from loopback import LoopbackServer
from psk_server import IDENTITY, KEY, PskServer
from run_cli import conformance

from conformance.checks import psk
from conformance.errors import Inconclusive
from conformance.evidence import ConnectionOutcome, EvidenceLog
from conformance.peers.psk import PskAttempt, PskPeer, wrong_key

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "targets"
PATH = "/eecs-serviceprovisioning/v1/request"


def attempt(
    port: int, *, key: bytes = KEY, identity: str = IDENTITY, hash_name: str = "sha256", log: EvidenceLog | None = None
) -> PskAttempt:
    peer = PskPeer(
        host="127.0.0.1",
        port=port,
        server_name="ecs.crafted.test",
        identity=identity,
        key=key,
        evidence=log if log is not None else EvidenceLog(),
        hash_name=hash_name,  # type: ignore[arg-type]
        timeout=2.0,
    )
    return peer.post(PATH, {"eecId": "eec-0001", "ueId": "msisdn-491700000001"})


def test_the_declared_key_connects_and_carries_the_request() -> None:
    with PskServer() as server:
        declared = attempt(server.port)
    tls = declared.exchange.tls
    assert declared.psk_used
    assert declared.key_exchange == "psk_dhe_ke (secp256r1)"
    assert (tls.outcome, tls.version, tls.cipher, tls.alpn) == (
        ConnectionOutcome.ESTABLISHED,
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
        "http/1.1",
    )
    assert declared.exchange.status == 200
    assert declared.exchange.response_json["ednCnfgInfo"]
    assert server.handshakes == ["psk"]
    assert server.bodies == [{"eecId": "eec-0001", "ueId": "msisdn-491700000001"}]
    assert server.seen[0].startswith(b"POST /eecs-serviceprovisioning/v1/request HTTP/1.1\r\n")
    psk.keyed_by_declared_psk(declared)


def test_a_sha384_psk_gets_a_sha384_cipher_suite() -> None:
    with PskServer(hash_name="sha384") as server:
        declared = attempt(server.port, hash_name="sha384")
    assert declared.psk_used
    assert declared.exchange.tls.cipher == "TLS_AES_256_GCM_SHA384"


def test_a_wrong_key_is_refused_with_the_alert_recorded() -> None:
    with PskServer() as server:
        wrong = attempt(server.port, key=wrong_key(KEY))
    tls = wrong.exchange.tls
    assert tls.outcome == ConnectionOutcome.REFUSED_WITH_ALERT
    assert (tls.alert, tls.phase) == ("illegal_parameter", "handshake")
    assert not wrong.psk_used
    assert not wrong.connected
    assert wrong.exchange.status is None
    assert server.handshakes == ["TLSLocalAlert: illegal_parameter: Binder does not verify"]
    assert server.seen == []
    assert wrong_key(KEY) != KEY
    assert len(wrong_key(KEY)) == len(KEY)


def test_the_key_never_enters_the_evidence() -> None:
    log = EvidenceLog()
    with PskServer() as server:
        declared = attempt(server.port, log=log)
        attempt(server.port, key=wrong_key(KEY), log=log)
    assert len(log.exchanges()) == 2
    text = repr(log.to_list()) + repr(declared)
    for key in (KEY, wrong_key(KEY)):
        assert key.hex() not in text
        assert key.hex().upper() not in text


@pytest.mark.parametrize("certificate", [False, True], ids=["refused", "certificate-instead"])
def test_an_unknown_identity_is_no_psk_handshake_so_the_case_observed_nothing(certificate: bool) -> None:
    with PskServer(certificate=certificate) as server:
        unknown = attempt(server.port, identity="someone-else")
    assert not unknown.psk_used
    assert unknown.exchange.status is None
    assert server.seen == []  # no request to a server that authenticated with an unverified certificate
    if certificate:
        assert unknown.exchange.tls.outcome == ConnectionOutcome.SERVER_CERT_REJECTED
    else:
        assert unknown.exchange.tls.alert == "handshake_failure"
    with pytest.raises(Inconclusive, match="nothing about PSK-based TLS was observed"):
        psk.keyed_by_declared_psk(unknown)


def test_nothing_listening_is_inconclusive() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = attempt(port)
    assert down.exchange.tls.outcome == ConnectionOutcome.CONNECTION_REFUSED
    with pytest.raises(Inconclusive, match="connection-refused"):
        psk.keyed_by_declared_psk(down)


def test_a_server_that_never_answers_ends_within_the_deadline() -> None:
    def mute(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait(10)

    with LoopbackServer(mute) as server:
        started = time.monotonic()
        silent = attempt(server.port)
    assert silent.exchange.tls.outcome == ConnectionOutcome.TIMEOUT
    assert time.monotonic() - started < 7  # 2 s timeout per operation, 6 s for the attempt


def test_an_answer_larger_than_the_cap_is_cut() -> None:
    with PskServer() as server:
        peer = PskPeer(
            host="127.0.0.1",
            port=server.port,
            server_name="ecs.crafted.test",
            identity=IDENTITY,
            key=KEY,
            evidence=EvidenceLog(),
            timeout=2.0,
            max_body_bytes=10,
        )
        cut = peer.post(PATH, {})
    assert cut.exchange.status == 200
    assert "cut at 10 bytes" in cut.exchange.tls.detail


# --- the case, end to end ----------------------------------------------------------------------


def psk_target(tmp_path: Path, port: int, psk_table: str, *, client_auth: str = "psk") -> Path:
    """example-ecs.toml pointed at ``port`` with ``client_auth`` and ``[target.psk]`` as given."""
    text = (EXAMPLES / "example-ecs.toml").read_text("utf-8")
    text = text.replace('base_url = "https://127.0.0.1:8443"', f'base_url = "https://127.0.0.1:{port}"')
    text = text.replace('client_auth = "mutual-certificate"', f'client_auth = "{client_auth}"', 1)
    text = text.replace('fqdn = "ecs.example.test"', 'fqdn = "ecs.crafted.test"', 1)
    text = text.replace('"example-material/', f'"{EXAMPLES / "example-material"}/')
    text = text.replace("\n[harness]", f"\n{psk_table}\n[harness]", 1)
    path = tmp_path / "psk-ecs.toml"
    path.write_text(text, "utf-8")
    (tmp_path / "psk.hex").write_text(KEY.hex() + "\n", "utf-8")
    return path


TABLE = f'[target.psk]\nidentity = "{IDENTITY}"\nkey_file = "psk.hex"\n'


def test_the_case_records_both_keys_and_passes(tmp_path: Path) -> None:
    with PskServer() as server:
        target = psk_target(tmp_path, server.port, TABLE)
        run = conformance("run", "--target", target, "--req", "ECS-TLS-07", out=tmp_path / "out")
    assert run.status == 0, run.output
    (case,) = run.cases()
    assert case["verdict"] == "PASS", case
    measured = {m["name"]: m["value"] for m in case["evidence"] if m["kind"] == "Measurement"}
    assert measured["declared PSK: PSK used"] is True
    assert measured["declared PSK: HTTP status"] == 200
    assert measured["wrong PSK, same identity: alert received"] == "illegal_parameter"
    assert measured["wrong PSK, same identity: PSK used"] is False
    assert server.handshakes == ["psk", "TLSLocalAlert: illegal_parameter: Binder does not verify"]
    assert run.results()["counts"]["tls_connections"] == 2
    written = "".join(p.read_text("utf-8", "replace") for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert KEY.hex() not in written


def test_the_case_is_inconclusive_when_the_declared_key_does_not_work(tmp_path: Path) -> None:
    with PskServer(key=wrong_key(KEY)) as server:
        target = psk_target(tmp_path, server.port, TABLE, client_auth="mutual-certificate")
        run = conformance("run", "--target", target, "--req", "ECS-TLS-07", out=tmp_path / "out")
    assert run.status == 2, run.output
    (case,) = run.cases()
    assert case["verdict"] == "INCONCLUSIVE"
    assert "the declared PSK did not key a TLS 1.3 handshake" in case["message"]
    assert server.handshakes == ["TLSLocalAlert: illegal_parameter: Binder does not verify"]  # no wrong-key try


def test_the_case_is_na_without_a_psk_declaration(tmp_path: Path) -> None:
    run = conformance("run", "--target", psk_target(tmp_path, 9, ""), "--req", "ECS-TLS-07", out=tmp_path / "out")
    assert run.status == 0, run.output
    (case,) = run.cases()
    assert case["verdict"] == "N/A"
    assert "declares no [target.psk]" in case["message"]
    assert run.results()["counts"]["tls_connections"] == 0


@pytest.mark.parametrize("reply", [b"HTTP/1.1 200 OK\r\n\r\n", b"\x16\x03\x03\x00\x05\x02\x00\x00\x01\x00", b"\x15"])
def test_garbage_instead_of_tls_is_recorded_not_raised(reply: bytes) -> None:
    def babble(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(reply)

    with LoopbackServer(babble) as server:
        garbage = attempt(server.port)
    assert not garbage.connected
    assert garbage.exchange.tls.outcome in (ConnectionOutcome.PROTOCOL_ERROR, ConnectionOutcome.CLOSED_WITHOUT_ALERT)
    with pytest.raises(Inconclusive):
        psk.keyed_by_declared_psk(garbage)
