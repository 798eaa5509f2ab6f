"""What a server already sent when the EEC's upload failed: a TLS alert, or an early HTTP/1.1 answer
(the HTTP/2 counterpart is :mod:`conformance.peers.h2_early_answer`).

A server that will not take a request body (413 Content Too Large, RFC 9110 15.5.14; or a 401
decided from the headers alone) may answer before the body has arrived and close the
connection; RFC 9112 9.6 asks a client that is still sending to watch for that answer. The
EEC's write then fails (broken pipe, connection reset), but the answer is already in its
receive buffer. :func:`drain` reads it, bounded in bytes and time, and :func:`parse_early`
parses it with h11, so a status line + headers count only when they are complete and valid
HTTP/1.1, never because some bytes look like one.

The same read finds the other thing a failed write can hide: under TLS 1.3 a server that
refuses the client certificate sends its alert after the client's handshake is done, and the
client may be writing when the alert arrives.

OpenSSL still reads a session whose write failed, and the kernel keeps what arrived before the
reset. What it cannot bring back is an answer the server never put on the wire: a server that
closes with our body unread sends a reset that discards its own unsent bytes, so its answer
survives only if it was transmitted first (``TCP_NODELAY``, or a lingering close as nginx does).
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11

__all__ = ["EARLY_NOTE", "EarlyResponse", "Pending", "drain", "parse_early", "whole_response"]

EARLY_NOTE = "answered early, before the upload finished"
_READ_SIZE = 16 * 1024
_MAX_HEAD_BYTES = 64 * 1024


@dataclass
class Pending:
    """What was waiting on the connection: an alert, or bytes (``complete``: the server closed)."""

    alert: ssl.SSLError | None = None
    data: bytes = b""
    complete: bool = False


@dataclass
class EarlyResponse:
    """An HTTP/1.1 response parsed from bytes the server sent before the request was fully written."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    complete: bool = True
    """False: the body stopped short of its framing (Content-Length) or of ``limit``."""
    problems: list[str] = field(default_factory=list)


def drain(
    ssl_object: Any,
    sock: Any,
    *,
    timeout: float,
    limit: int,
    until: Callable[[bytes], bool] = lambda data: False,
) -> Pending:
    """Read what the server sent on a TLS session.

    ``ssl_object`` is the session (httpcore's ``get_extra_info("ssl_object")``), ``sock`` its
    socket (whose timeout bounds each read). Reads until the server closes, an error, ``limit``
    bytes, ``until(data)`` says the answer is whole, or ``timeout`` seconds: whichever comes
    first. Never raises for the network.
    """
    pending, ends = Pending(), time.monotonic() + timeout
    previous = _timeout_of(sock)
    try:
        while len(pending.data) <= limit and not (pending.data and until(pending.data)):
            remaining = ends - time.monotonic()
            if remaining <= 0:
                break
            _set_timeout(sock, remaining)
            chunk = ssl_object.read(_READ_SIZE)
            if not chunk:
                pending.complete = True
                break
            pending.data += chunk
    except ssl.SSLZeroReturnError:  # close_notify: an orderly end
        pending.complete = True
    except ssl.SSLError as exc:
        if "ALERT" in (exc.reason or "") and not pending.data:
            pending.alert = exc
        pending.complete = True
    except (OSError, ValueError):  # reset, timeout, or a socket already closed
        pass
    finally:
        _set_timeout(sock, previous)
    return pending


def whole_response(data: bytes, method: str) -> bool:
    """Whether ``data`` holds an entire HTTP/1.1 response (head and framed body) to ``method``."""
    answer = parse_early(data, method=method, target="/", host="server", limit=len(data), closed=False)
    return answer is not None and answer.complete


def parse_early(
    data: bytes, *, method: str, target: str, host: str, limit: int, closed: bool = True
) -> EarlyResponse | None:
    """The HTTP/1.1 response in ``data``, or None unless its status line and headers are complete.

    h11 is given the request the EEC was sending (``method``, ``target``, ``host``; the method
    decides whether a body follows, RFC 9112 6.3) and then the server's bytes, and (``closed``)
    their end: a body shorter than its Content-Length is kept, marked incomplete.
    """
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
    request = h11.Request(method=method, target=target or "/", headers=[("Host", host), ("Content-Length", "1")])
    try:
        connection.send(request)
        connection.receive_data(data)
        event = connection.next_event()
        while isinstance(event, h11.InformationalResponse):
            event = connection.next_event()
    except h11.ProtocolError:
        return None
    if not isinstance(event, h11.Response):
        return None
    answer = EarlyResponse(event.status_code, [(n.decode("latin-1"), v.decode("latin-1")) for n, v in event.headers])
    _read_body(connection, answer, limit, closed)
    return answer


def _read_body(connection: h11.Connection, answer: EarlyResponse, limit: int, closed: bool) -> None:
    if closed:
        connection.receive_data(b"")  # the server has said all it will: its close ends a close-delimited body
    try:
        while True:
            event = connection.next_event()
            if isinstance(event, h11.Data):
                answer.body += bytes(event.data)
                if len(answer.body) > limit:
                    answer.body, answer.complete = answer.body[:limit], False
                    answer.problems.append(f"body cut at {limit} bytes")
                    return
            elif isinstance(event, h11.EndOfMessage):
                return
            else:  # NEED_DATA after the end, PAUSED, ConnectionClosed
                answer.complete = False
                return
    except h11.ProtocolError as exc:
        answer.complete = False
        answer.problems.append(f"body incomplete: {exc}")


def _timeout_of(sock: Any) -> float | None:
    try:
        value: float | None = sock.gettimeout()
    except (OSError, AttributeError):
        return None
    return value


def _set_timeout(sock: Any, value: float | None) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.settimeout(value)
