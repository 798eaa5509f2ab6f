"""The HTTP/2 frames a server sends during our upload, read as its answer on our stream."""

from __future__ import annotations

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from conformance.peers.h2_early_answer import H2EarlyAnswer

BODY = b'{"status": 413, "title": "Content Too Large"}'


def _server_bytes(*steps: str, body: bytes = BODY) -> bytes:
    """What an h2 server sends after our HEADERS on stream 1: its preface, then ``steps``."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.send_headers(1, [(":method", "POST"), (":path", "/"), (":scheme", "https"), (":authority", "x")])
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    for step in steps:
        if step == "100":
            server.send_headers(1, [(":status", "100")])
        elif step == "413":
            server.send_headers(1, [(":status", "413"), ("content-type", "application/problem+json")])
        elif step == "413-no-body":
            server.send_headers(1, [(":status", "413")], end_stream=True)
        elif step == "data":
            server.send_data(1, body, end_stream=True)
        elif step == "half-data":
            server.send_data(1, body[:10])
        elif step == "reset":
            server.reset_stream(1, h2.errors.ErrorCodes.NO_ERROR)
    return server.data_to_send()


def _fed(data: bytes, *, chunk: int = 1, limit: int = 1 << 20) -> H2EarlyAnswer:
    answer = H2EarlyAnswer(stream_id=1, limit=limit)
    for start in range(0, len(data), chunk):
        answer.feed(data[start : start + chunk])
    return answer


def test_a_413_with_body_and_reset_fed_byte_by_byte_is_complete() -> None:
    answer = _fed(_server_bytes("413", "data", "reset"))
    assert answer.complete
    response = answer.response()
    assert response is not None
    assert (response.status, response.body, response.complete) == (413, BODY, True)
    assert response.headers == [("content-type", "application/problem+json")]


@pytest.mark.parametrize("steps", [("413",), ("413", "half-data"), ()])
def test_an_answer_without_end_stream_is_not_complete(steps: tuple[str, ...]) -> None:
    answer = _fed(_server_bytes(*steps), chunk=7)
    assert not answer.complete
    response = answer.response()
    assert (response.status if response else None) == (413 if steps else None)
    assert response is None or not response.complete


def test_informational_headers_are_not_the_answer() -> None:
    assert _fed(_server_bytes("100")).response() is None
    answer = _fed(_server_bytes("100", "413-no-body"))
    assert answer.complete
    assert answer.response() is not None


def test_garbage_is_no_answer_and_stops_reading() -> None:
    answer = _fed(b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\n\r\n" * 3)
    assert answer.response() is None
    answer.feed(_server_bytes("413-no-body"))  # nothing after the garbage is trusted
    assert answer.response() is None


def test_a_frame_longer_than_we_allow_stops_reading() -> None:
    header = (70_000).to_bytes(3, "big") + bytes((0x0, 0x1)) + (1).to_bytes(4, "big")
    answer = _fed(header + b"x" * 100, chunk=4096)
    assert answer.response() is None


def test_the_body_is_cut_at_the_limit_and_marked() -> None:
    answer = _fed(_server_bytes("413", "data", body=b"y" * 5000), chunk=512, limit=100)
    response = answer.response()
    assert response is not None
    assert len(response.body) == 100
    assert "cut at 100 bytes" in response.problems
