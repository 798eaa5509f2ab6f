"""classify(): exception chains as httpx, httpcore and ssl build them, and real ones."""

from __future__ import annotations

import itertools
import ssl

import h11
import httpcore
import httpx
import pytest
from _pytest.mark import ParameterSet
from loopback import LoopbackServer, close_at_once, closed_port, garbage

from conformance.evidence import ConnectionOutcome as O
from conformance.peers.tls_outcome import classify


def chained(*excs: BaseException) -> BaseException:
    """``excs[0]`` raised from ``excs[1]`` raised from ... (httpx -> httpcore -> ssl)."""
    for outer, inner in itertools.pairwise(excs):
        outer.__cause__ = inner
    return excs[0]


def ssl_error(reason: str, cls: type[ssl.SSLError] = ssl.SSLError) -> ssl.SSLError:
    err = cls(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')} (_ssl.c:2580)")
    err.reason = reason
    return err


def verify_error(message: str) -> ssl.SSLCertVerificationError:
    err = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    err.reason, err.verify_message = "CERTIFICATE_VERIFY_FAILED", message
    return err


def via_httpx(kind: str, root: BaseException, message: str = "x") -> BaseException:
    return chained(getattr(httpx, kind)(message), getattr(httpcore, kind)(message), root)


ALERT_13 = "TLSV13_ALERT_CERTIFICATE_REQUIRED"
DISCONNECTED = "Server disconnected without sending a response."
EOF_MESSAGE = "EOF occurred in violation of protocol"
H11_GARBAGE = h11.RemoteProtocolError("illegal status line: b'SSH'")


def case(
    exc: BaseException, outcome: O, detail: str, *, alert: str | None = None, phase: str | None = None
) -> ParameterSet:
    names: list[str] = []
    link: BaseException | None = exc
    while link is not None:
        names.append(f"{type(link).__module__.split('.')[0]}.{type(link).__name__}")
        link = link.__cause__
    return pytest.param(exc, outcome, alert, phase, detail, id=f"{outcome.value}:{'<-'.join(names)}")


CASES = [
    case(
        via_httpx("ConnectError", verify_error("Hostname mismatch")),
        O.SERVER_CERT_REJECTED,
        "Hostname mismatch",
    ),
    case(
        via_httpx("ConnectError", ssl_error("TLSV1_ALERT_UNKNOWN_CA")),
        O.REFUSED_WITH_ALERT,
        "tlsv1 alert unknown ca",
        alert="TLSV1_ALERT_UNKNOWN_CA",
        phase="handshake",
    ),
    case(
        via_httpx("ReadError", ssl_error(ALERT_13)),
        O.REFUSED_WITH_ALERT,
        "certificate required",
        alert=ALERT_13,
        phase="first-read",
    ),
    case(
        via_httpx("WriteError", ssl_error(ALERT_13)),
        O.REFUSED_WITH_ALERT,
        ALERT_13,
        alert=ALERT_13,
        phase="first-read",
    ),
    case(
        ssl_error("SSLV3_ALERT_BAD_CERTIFICATE"),
        O.REFUSED_WITH_ALERT,
        "sslv3 alert bad certificate",
        alert="SSLV3_ALERT_BAD_CERTIFICATE",
    ),
    case(
        via_httpx("ConnectError", ConnectionRefusedError(111, "Connection refused")),
        O.CONNECTION_REFUSED,
        "httpx.ConnectError from ConnectionRefusedError: [Errno 111] Connection refused",
    ),
    case(via_httpx("ConnectTimeout", TimeoutError("timed out")), O.TIMEOUT, "connect timeout: "),
    case(via_httpx("ReadTimeout", TimeoutError("timed out")), O.TIMEOUT, "read timeout: "),
    case(via_httpx("WriteTimeout", TimeoutError("timed out")), O.TIMEOUT, "write timeout: "),
    case(via_httpx("PoolTimeout", TimeoutError("timed out")), O.TIMEOUT, "pool timeout: "),
    case(TimeoutError("The handshake operation timed out"), O.TIMEOUT, "socket timeout: TimeoutError"),
    case(
        via_httpx("ConnectError", ssl_error("UNEXPECTED_EOF_WHILE_READING", ssl.SSLEOFError)),
        O.CLOSED_WITHOUT_ALERT,
        "without a TLS alert",
        phase="handshake",
    ),
    case(
        via_httpx("RemoteProtocolError", h11.RemoteProtocolError(DISCONNECTED), DISCONNECTED),
        O.CLOSED_WITHOUT_ALERT,
        DISCONNECTED,
        phase="first-read",
    ),
    case(
        httpx.RemoteProtocolError("Server disconnected"),
        O.CLOSED_WITHOUT_ALERT,
        "Server disconnected",
        phase="first-read",
    ),
    case(
        via_httpx("ReadError", ConnectionResetError(104, "Connection reset by peer")),
        O.CLOSED_WITHOUT_ALERT,
        "reset",
        phase="first-read",
    ),
    case(
        via_httpx("WriteError", BrokenPipeError(32, "Broken pipe")),
        O.CLOSED_WITHOUT_ALERT,
        "pipe",
        phase="first-read",
    ),
    case(
        via_httpx("WriteError", ssl.SSLEOFError(8, EOF_MESSAGE)),  # h2 racing the alert
        O.CLOSED_WITHOUT_ALERT,
        EOF_MESSAGE,
        phase="first-read",
    ),
    case(via_httpx("ConnectError", ssl_error("WRONG_VERSION_NUMBER")), O.PROTOCOL_ERROR, "wrong version number"),
    case(via_httpx("ConnectError", ssl_error("RECORD_LAYER_FAILURE")), O.PROTOCOL_ERROR, "record layer failure"),
    case(
        via_httpx("ConnectError", ssl_error("PACKET_LENGTH_TOO_LONG")),
        O.PROTOCOL_ERROR,
        "packet length too long",
    ),
    case(
        via_httpx("RemoteProtocolError", H11_GARBAGE, "illegal"),
        O.PROTOCOL_ERROR,
        "httpx.RemoteProtocolError from h11.RemoteProtocolError: illegal status line",
    ),
    case(
        httpx.RemoteProtocolError("<ConnectionTerminated error_code:1>"),
        O.PROTOCOL_ERROR,
        "ConnectionTerminated",
    ),
    case(ValueError("odd"), O.PROTOCOL_ERROR, "ValueError: odd"),
    case(
        chained(httpx.ConnectError(""), OSError(113, "No route to host")),
        O.PROTOCOL_ERROR,
        "No route to host",
    ),
]


@pytest.mark.parametrize(("exc", "outcome", "alert", "phase", "detail"), CASES)
def test_constructed_chains(exc: BaseException, outcome: O, alert: str | None, phase: str | None, detail: str) -> None:
    got_outcome, got_alert, got_phase, got_detail = classify(exc)
    assert (got_outcome, got_alert, got_phase) == (outcome, alert, phase)
    assert detail in got_detail


def _raise_while_handling_an_alert(hide: bool) -> None:
    try:
        raise ssl_error("TLSV1_ALERT_UNKNOWN_CA")
    except ssl.SSLError:
        error = RuntimeError("while reading")
        error.__suppress_context__ = hide  # what `raise ... from None` would set
        raise error  # noqa: B904 (the implicit __context__ is the point)


@pytest.mark.parametrize("hide", [False, True])
def test_implicit_context_is_walked_even_when_hidden(hide: bool) -> None:
    with pytest.raises(RuntimeError) as info:
        _raise_while_handling_an_alert(hide)
    assert info.value.__suppress_context__ is hide
    assert info.value.__cause__ is None
    assert classify(info.value)[:2] == (O.REFUSED_WITH_ALERT, "TLSV1_ALERT_UNKNOWN_CA")


def test_a_cycle_in_the_chain_ends() -> None:
    outer, inner = httpx.ReadError("a"), ValueError("b")
    outer.__cause__, inner.__context__ = inner, outer
    assert classify(outer) == (O.PROTOCOL_ERROR, None, None, "httpx.ReadError from ValueError: b")


def test_the_callers_phase_wins() -> None:
    assert classify(ssl_error(ALERT_13), phase="first-read")[2] == "first-read"
    assert classify(TimeoutError("timed out"), phase="handshake")[3].startswith("connect timeout")


# --- real exceptions, straight from httpx ------------------------------------------------


def real_error(url: str) -> httpx.HTTPError:
    with (
        pytest.raises(httpx.HTTPError) as info,
        httpx.Client(timeout=2, verify=ssl.create_default_context()) as c,
    ):
        c.get(url)
    return info.value


def test_real_connection_refused() -> None:
    outcome, _, _, detail = classify(real_error(f"https://127.0.0.1:{closed_port()}/"))
    assert outcome is O.CONNECTION_REFUSED
    assert "ConnectionRefusedError" in detail


def test_real_close_without_alert() -> None:
    with LoopbackServer(close_at_once) as server:
        assert classify(real_error(server.url))[:3] == (O.CLOSED_WITHOUT_ALERT, None, "handshake")


def test_real_garbage() -> None:
    with LoopbackServer(garbage) as server:
        outcome, _, _, detail = classify(real_error(server.url))
    assert outcome is O.PROTOCOL_ERROR
    assert detail.startswith("httpx.ConnectError from ssl.SSLError")
