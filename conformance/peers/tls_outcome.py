"""What a TLS connection attempt came to, as the client saw it.

:func:`classify` turns the exception a failed exchange raised into a
:class:`~conformance.evidence.ConnectionOutcome`; :func:`session_facts` reads what an
established connection negotiated. Neither judges: "the server sent UNKNOWN_CA" is a fact,
whether that is right is for a check to say.

httpx wraps httpcore, which wraps the original :mod:`ssl` or :mod:`socket` error with
``raise ... from exc``, so the truth is at the bottom of the ``__cause__`` chain and the
top tells *when* it happened (``ConnectError``: in the handshake; ``ReadError``: after it).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import Any

import httpcore
import httpx

from conformance.evidence import ConnectionOutcome, TlsFacts
from conformance.peers.pki import summarize_der

Classification = tuple[ConnectionOutcome, str | None, str | None, str]
"""``(outcome, alert reason or None, phase or None, human detail)``."""

HANDSHAKE = "handshake"
FIRST_READ = "first-read"

_CONNECT_PHASE = (httpx.ConnectError, httpx.ConnectTimeout, httpcore.ConnectError, httpcore.ConnectTimeout)
_READ_PHASE = (
    httpx.ReadError,
    httpx.WriteError,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
    httpcore.ReadError,
    httpcore.WriteError,
    httpcore.ReadTimeout,
    httpcore.WriteTimeout,
    httpcore.RemoteProtocolError,
)
_TIMEOUTS = (httpx.TimeoutException, httpcore.TimeoutException, TimeoutError)
_TIMEOUT_KINDS = {
    "ConnectTimeout": "connect",
    "ReadTimeout": "read",
    "WriteTimeout": "write",
    "PoolTimeout": "pool",
}
_CLOSED = (
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
)
_DISCONNECTED = "Server disconnected"
"""How httpcore words a close before any response (h11: "... without sending a response.")."""


def classify(exc: BaseException, *, phase: str | None = None) -> Classification:
    """How a connection attempt that raised ``exc`` ended, before any HTTP response.

    ``phase`` is where the caller knows it was (a raw socket probe); by default it is read
    from the httpx/httpcore exception type. It is reported for alerts and closes only.
    Nothing here raises: an exception no rule knows is a ``PROTOCOL_ERROR`` naming it.
    """
    chain = _chain(exc)
    where = phase or _phase(chain)
    for err in chain:
        if isinstance(err, ssl.SSLCertVerificationError):
            detail = getattr(err, "verify_message", None) or str(err)
            return ConnectionOutcome.SERVER_CERT_REJECTED, None, None, detail
    for err in chain:
        if "ALERT" in _reason(err):
            return ConnectionOutcome.REFUSED_WITH_ALERT, _reason(err), where, str(err)
    described = _describe(chain)
    if any(isinstance(err, ConnectionRefusedError) for err in chain):
        return ConnectionOutcome.CONNECTION_REFUSED, None, None, f"connection refused: {described}"
    if any(isinstance(err, _TIMEOUTS) for err in chain):
        return ConnectionOutcome.TIMEOUT, None, None, f"{_timeout_kind(chain, where)} timeout: {described}"
    if any(_is_close(err) for err in chain):
        detail = f"the server closed the connection without a TLS alert ({described})"
        return ConnectionOutcome.CLOSED_WITHOUT_ALERT, None, where, detail
    return ConnectionOutcome.PROTOCOL_ERROR, None, None, described


def session_facts(ssl_object: Any, *, server_name: str, address: str) -> TlsFacts:
    """What an established TLS connection negotiated: version, cipher, ALPN, server chain.

    ``ssl_object`` is an :class:`ssl.SSLSocket`, an :class:`ssl.SSLObject`, or the
    ``_ssl._SSLSocket`` that httpcore's sync stream hands out as ``"ssl_object"``. Read it
    while the connection is open: a closed one has forgotten all of this.
    """
    cipher = ssl_object.cipher()
    return TlsFacts(
        outcome=ConnectionOutcome.ESTABLISHED,
        server_name=server_name,
        address=address,
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        alpn=ssl_object.selected_alpn_protocol(),
        server_chain=[summarize_der(der) for der in _server_chain_der(ssl_object)],
    )


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _phase(chain: Sequence[BaseException]) -> str | None:
    for err in chain:
        if isinstance(err, _CONNECT_PHASE):
            return HANDSHAKE
        if isinstance(err, _READ_PHASE):
            return FIRST_READ
    return None


def _timeout_kind(chain: Sequence[BaseException], phase: str | None) -> str:
    for err in chain:
        if type(err).__name__ in _TIMEOUT_KINDS:
            return _TIMEOUT_KINDS[type(err).__name__]
    return {HANDSHAKE: "connect", FIRST_READ: "read"}.get(phase or "", "socket")


def _is_close(err: BaseException) -> bool:
    if isinstance(err, _CLOSED):
        return True
    if isinstance(err, ssl.SSLError):
        return _reason(err) == "UNEXPECTED_EOF_WHILE_READING"
    if isinstance(err, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
        return str(err).startswith(_DISCONNECTED)
    return False


def _reason(err: BaseException) -> str:
    """OpenSSL's reason (``TLSV1_ALERT_UNKNOWN_CA``); ssl errors raised from Python lack one."""
    return (getattr(err, "reason", None) or "") if isinstance(err, ssl.SSLError) else ""


def _describe(chain: Sequence[BaseException]) -> str:
    """``Outer: message`` or ``Outer from Root: root message``; the root is the precise one."""
    outer, root = chain[0], chain[-1]
    message = str(root) or "(no message)"
    if outer is root:
        return f"{_name(outer)}: {message}"
    return f"{_name(outer)} from {_name(root)}: {message}"


def _name(err: BaseException) -> str:
    module = type(err).__module__.split(".")[0]
    return type(err).__qualname__ if module == "builtins" else f"{module}.{type(err).__qualname__}"


def _server_chain_der(ssl_object: Any) -> list[bytes]:
    # The verified chain is public API only from Python 3.13; on 3.11 the C object has it
    # (httpcore's sync stream already hands that out, ssl.SSLSocket keeps it as _sslobj).
    # CI runs 3.11 only: the C-object path; the public 3.13 path is not exercised there.
    for holder in (ssl_object, getattr(ssl_object, "_sslobj", None)):
        get_chain = getattr(holder, "get_verified_chain", None)
        if get_chain is not None:
            return [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in get_chain()]  # type: ignore[attr-defined]
    leaf = ssl_object.getpeercert(True)
    return [leaf] if leaf else []
