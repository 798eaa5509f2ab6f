"""The fake EEC reads a server's early answer to an upload it refuses (RFC 9112 9.6, RFC 9110 15.5.14).

Crafted loopback TLS servers read the request head of an ~8 MiB upload, then answer 413 with a
ProblemDetails body and close with the body unread (the close turns into a TCP reset), or just
reset. The first must be recorded as the 413 it is, the second as the close it is.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest
from loopback import Behaviour, LoopbackServer

from conformance.evidence import ConnectionOutcome, EvidenceLog, HttpExchange
from conformance.peers.early_response import EARLY_NOTE, EarlyResponse, parse_early, whole_response
from conformance.peers.eec import FakeEEC
from conformance.peers.pki import LeafCert, TestCA

pytestmark = pytest.mark.timeout(30)
FQDN = "ees.example.test"

UPLOAD = b"x" * (8 << 20)
PROBLEM = {"type": "about:blank", "title": "Content Too Large", "status": 413, "cause": "REQUEST_TOO_LARGE"}
PROBLEM_BODY = json.dumps(PROBLEM).encode()
ANSWER_413 = (
    b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/problem+json\r\nConnection: close\r\n"
    + f"Content-Length: {len(PROBLEM_BODY)}\r\n\r\n".encode()
    + PROBLEM_BODY
)


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _answers_then_closes(answer: bytes) -> Behaviour:
    """Read the head, send ``answer`` at once (no Nagle delay: a reset would discard it unsent), close."""

    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _read_head(conn)
        conn.sendall(answer)

    return behaviour


def _resets(conn: socket.socket, stop: threading.Event) -> None:
    """Read the head, then abort the connection (SO_LINGER 0: a reset, nothing said)."""
    _read_head(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create(common_name="Early Answer Test CA")


@pytest.fixture(scope="module")
def good(ca: TestCA) -> LeafCert:
    return ca.issue_client_cert("eec-1")


def server_tls(ca: TestCA, alpn: str = "http/1.1") -> ssl.SSLContext:
    """Mutual TLS, as an EES: the server certificate for FQDN, client certificates from ``ca``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_server_cert(FQDN, "127.0.0.1").configure_cert(context)
    context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(context)
    context.set_alpn_protocols([alpn])
    return context


def _upload(
    url: str, ca: TestCA, good: LeafCert, evidence: EvidenceLog, alpn: str = "http/1.1", deadline: float | None = None
) -> HttpExchange:
    eec = FakeEEC(
        base_url=url,
        server_name=FQDN,
        trust_anchor=ca.cert_pem.bytes(),
        credential=good,
        evidence=evidence,
        timeout=2.0,
        alpn=(alpn,),
        deadline=deadline,
    )
    return eec.send("POST", "/eees-eecregistration/v1/registrations", content=UPLOAD, label="oversized")


def test_an_early_413_with_problem_details_is_the_exchange_s_answer(ca: TestCA, good: LeafCert) -> None:
    evidence = EvidenceLog()
    with LoopbackServer(_answers_then_closes(ANSWER_413), tls=server_tls(ca)) as server:
        exchange = _upload(server.url, ca, good, evidence)
    assert (exchange.status, exchange.http_version) == (413, "HTTP/1.1"), exchange.summary()
    assert exchange.header("content-type") == "application/problem+json"
    assert exchange.response_json == PROBLEM
    assert exchange.tls.outcome is ConnectionOutcome.ESTABLISHED
    assert exchange.tls.detail == EARLY_NOTE
    assert exchange.tls.version == "TLSv1.3"
    assert evidence.exchanges() == [exchange]


def test_a_server_that_just_resets_is_still_a_close(ca: TestCA, good: LeafCert) -> None:
    with LoopbackServer(_resets, tls=server_tls(ca)) as server:
        exchange = _upload(server.url, ca, good, EvidenceLog())
    assert exchange.status is None
    assert exchange.tls.outcome is ConnectionOutcome.CLOSED_WITHOUT_ALERT, exchange.tls.detail


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/problem+json\r\n",  # no end of head
        b"xHTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n",  # not a status line
        b"HTTP/1.1 4130 Content Too Large\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["head-cut-short", "junk-before-status-line", "four-digit-status"],
)
def test_bytes_that_are_not_a_whole_response_head_are_no_answer(ca: TestCA, good: LeafCert, answer: bytes) -> None:
    with LoopbackServer(_answers_then_closes(answer), tls=server_tls(ca)) as server:
        exchange = _upload(server.url, ca, good, EvidenceLog())
    assert exchange.status is None
    assert exchange.tls.detail != EARLY_NOTE


def test_an_early_answer_with_its_body_cut_short_is_kept_and_marked(ca: TestCA, good: LeafCert) -> None:
    with LoopbackServer(_answers_then_closes(ANSWER_413[:-10]), tls=server_tls(ca)) as server:
        exchange = _upload(server.url, ca, good, EvidenceLog())
    assert exchange.status == 413
    assert exchange.response_json is None
    assert "response body incomplete" in exchange.response_body


def test_parse_early_needs_a_complete_head_and_frames_the_body_by_method() -> None:
    def parse(data: bytes, method: str = "POST") -> EarlyResponse | None:
        return parse_early(data, method=method, target="/r", host="ees.example.test", limit=1 << 20)

    answer = parse(b"HTTP/1.1 100 Continue\r\n\r\n" + ANSWER_413)
    assert answer is not None
    assert (answer.status, answer.complete, json.loads(answer.body)) == (413, True, PROBLEM)
    assert ("Content-Type", "application/problem+json") in [(n.title(), v) for n, v in answer.headers]
    assert parse(ANSWER_413.split(b"\r\n\r\n")[0]) is None
    head = parse(b"HTTP/1.1 413 X\r\nContent-Length: 50\r\n\r\n", method="HEAD")
    assert head is not None
    assert (head.body, head.complete) == (b"", True)  # a HEAD response has no body (RFC 9112 6.3)
    closed = parse(b"HTTP/1.1 413 X\r\n\r\nuntil the close")
    assert closed is not None
    assert (closed.body, closed.complete) == (b"until the close", True)
    assert whole_response(ANSWER_413, "POST")
    assert not whole_response(ANSWER_413[:-1], "POST")


def _h2_answers_early_then_resets_the_stream(conn: socket.socket, stop: threading.Event) -> None:
    """HTTP/2: HEADERS 413 + DATA (END_STREAM) + RST_STREAM(NO_ERROR) (RFC 9113 8.1), body never
    read, the connection held open (up to 20 s) until the client closes it: then ``CLIENT_CLOSED``."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    conn.sendall(server.data_to_send())
    conn.settimeout(0.1)
    ends = time.monotonic() + 20
    while time.monotonic() < ends and not stop.is_set():
        try:
            data = conn.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            data = b""
        if not data:
            CLIENT_CLOSED.set()
            return
        for event in server.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = [(":status", "413"), ("content-type", "application/problem+json")]
                server.send_headers(event.stream_id, [*headers, ("content-length", str(len(PROBLEM_BODY)))])
                server.send_data(event.stream_id, PROBLEM_BODY, end_stream=True)
                server.reset_stream(event.stream_id, h2.errors.ErrorCodes.NO_ERROR)
        try:  # h2 answers the upload's late DATA frames (RST_STREAM): the client may have closed by then
            conn.sendall(server.data_to_send())
        except OSError:
            CLIENT_CLOSED.set()
            return


CLIENT_CLOSED = threading.Event()


def test_over_h2_an_early_answer_and_reset_is_the_exchange_s_answer(ca: TestCA, good: LeafCert) -> None:
    """RFC 9113 8.1: the response the server sent before our upload finished is kept, and the EEC
    stops there and closes, instead of waiting for flow-control window the server never grants
    (until the server's close after 20 s, or the 30 s deadline)."""
    CLIENT_CLOSED.clear()
    with LoopbackServer(_h2_answers_early_then_resets_the_stream, tls=server_tls(ca, "h2")) as server:
        exchange = _upload(server.url, ca, good, EvidenceLog(), alpn="h2", deadline=30)
        assert CLIENT_CLOSED.wait(5)
    assert exchange.elapsed_ms is not None
    assert exchange.elapsed_ms < 10_000, "waited for the server's close"
    assert exchange.tls.alpn == "h2"
    assert (exchange.status, exchange.http_version) == (413, "HTTP/2")
    assert exchange.response_json == json.loads(PROBLEM_BODY)
    assert exchange.tls.detail == EARLY_NOTE
