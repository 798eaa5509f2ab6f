"""The library internals the harness patches or relies on are still there, shaped as we use them.

One test per internal. A failure names the internal and the file that relies on it: after a
library upgrade, this file says what broke before a conformance run says something confusing.
The tested versions are pinned in ``constraints.txt`` (tox installs under it) and capped in
``pyproject.toml``; bump a pin only with this file passing on the new version.
"""

from __future__ import annotations

import asyncio.sslproto
import inspect
import socket
import ssl
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import httpcore
import httpx
import pytest
import trustme

TIMEOUT = 5.0


def _parameters(func: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(func).parameters)


def _require(condition: bool, internal: str, relied_on_by: str, detail: str) -> None:
    if not condition:
        pytest.fail(f"{internal} changed ({detail}); {relied_on_by} relies on it", pytrace=False)


# --- asyncio (conformance/reference/tls.py: the gh-98078 alert flush) ---------------------------


def test_sslprotocol_on_handshake_complete() -> None:
    internal = "asyncio.sslproto.SSLProtocol._on_handshake_complete"
    method = getattr(asyncio.sslproto.SSLProtocol, "_on_handshake_complete", None)
    _require(callable(method), internal, "conformance/reference/tls.py", "it is gone")
    assert method is not None
    # install_patches() may already have replaced it in this process: same signature either way.
    _require(
        _parameters(method) == ["self", "handshake_exc"],
        internal,
        "conformance/reference/tls.py",
        f"parameters are {_parameters(method)}, expected ['self', 'handshake_exc']",
    )


def test_sslprotocol_process_outgoing() -> None:
    internal = "asyncio.sslproto.SSLProtocol._process_outgoing"
    method = getattr(asyncio.sslproto.SSLProtocol, "_process_outgoing", None)
    _require(callable(method), internal, "conformance/reference/tls.py (the alert flush calls it)", "it is gone")
    assert method is not None
    _require(_parameters(method) == ["self"], internal, "conformance/reference/tls.py", f"{_parameters(method)}")


# --- hypercorn (conformance/reference/tls.py and conformance/reference/server.py) ---------------


def test_hypercorn_run_uses_module_level_tcpserver() -> None:
    import hypercorn.asyncio.run as hypercorn_run
    from hypercorn.asyncio.tcp_server import TCPServer

    internal = "hypercorn.asyncio.run.TCPServer"
    where = "conformance/reference/tls.py (_expose_tls_to_hypercorn_apps replaces it with a subclass)"
    current = getattr(hypercorn_run, "TCPServer", None)
    _require(
        isinstance(current, type) and issubclass(current, TCPServer),
        internal,
        where,
        f"it is {current!r}, not hypercorn.asyncio.tcp_server.TCPServer or a subclass",
    )
    # The replacement only works if worker_serve looks the class up by that global name per connection.
    _require(
        "TCPServer" in _names_used(hypercorn_run.worker_serve.__code__),
        "hypercorn.asyncio.run.worker_serve",
        where,
        "it no longer builds its per-connection server through the module global TCPServer",
    )


def test_hypercorn_tcpserver_init_signature() -> None:
    from hypercorn.asyncio.tcp_server import TCPServer

    expected = ["self", "app", "loop", "config", "context", "state", "reader", "writer"]
    _require(
        _parameters(TCPServer.__init__) == expected,
        "hypercorn.asyncio.tcp_server.TCPServer.__init__",
        "conformance/reference/tls.py (TlsExposingTCPServer.__init__)",
        f"parameters are {_parameters(TCPServer.__init__)}, expected {expected}",
    )


def test_hypercorn_app_wrapper_call_signature() -> None:
    from hypercorn.app_wrappers import ASGIWrapper

    expected = ["self", "scope", "receive", "send", "sync_spawn", "call_soon"]
    _require(
        _parameters(ASGIWrapper.__call__) == expected,
        "hypercorn.app_wrappers.ASGIWrapper.__call__",
        "conformance/reference/tls.py (_HypercornAppWithTls.__call__)",
        f"parameters are {_parameters(ASGIWrapper.__call__)}, expected {expected}",
    )


def test_hypercorn_worker_serve_signature() -> None:
    from hypercorn.asyncio.run import worker_serve

    parameters = inspect.signature(worker_serve).parameters
    missing = {"app", "config", "sockets", "shutdown_trigger"} - set(parameters)
    _require(
        not missing, "hypercorn.asyncio.run.worker_serve", "conformance/reference/server.py", f"no {sorted(missing)}"
    )
    _require(
        inspect.iscoroutinefunction(worker_serve),
        "hypercorn.asyncio.run.worker_serve",
        "conformance/reference/server.py",
        "it is no longer a coroutine function",
    )


def test_hypercorn_config() -> None:
    from hypercorn.config import Config

    where = "conformance/reference/server.py (_ReferenceConfig and _serve)"
    _require(
        isinstance(inspect.getattr_static(Config, "ssl_enabled", None), property),
        "hypercorn.config.Config.ssl_enabled",
        where,
        "it is not a property",
    )
    _require(
        _parameters(Config.create_ssl_context) == ["self"],
        "hypercorn.config.Config.create_ssl_context",
        where,
        f"parameters are {_parameters(Config.create_ssl_context)}",
    )
    config = Config()
    for attribute in ("keep_alive_max_requests", "graceful_timeout", "ssl_handshake_timeout", "errorlog"):
        _require(hasattr(config, attribute), f"hypercorn.config.Config.{attribute}", where, "it is gone")
    _require(
        isinstance(config.wsgi_max_body_size, int),
        "hypercorn.config.Config.wsgi_max_body_size",
        where,
        f"it is {config.wsgi_max_body_size!r}",
    )


def test_hypercorn_sockets() -> None:
    from hypercorn.config import Sockets

    try:
        sockets = Sockets(secure_sockets=[], insecure_sockets=[], quic_sockets=[])
    except TypeError as err:
        pytest.fail(f"hypercorn.config.Sockets changed ({err}); conformance/reference/server.py relies on it")
    assert sockets.secure_sockets == []


def test_hypercorn_wrap_app() -> None:
    from hypercorn.utils import wrap_app

    expected = ["app", "wsgi_max_body_size", "mode"]
    _require(
        _parameters(wrap_app) == expected,
        "hypercorn.utils.wrap_app",
        "conformance/reference/server.py",
        f"parameters are {_parameters(wrap_app)}, expected {expected}",
    )


def _names_used(code: types.CodeType) -> set[str]:
    """Global and attribute names in ``code`` and every function nested in it."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_used(constant)
    return names


# --- httpcore (conformance/peers/eec.py, conformance/peers/tls_outcome.py) ----------------------


class _TlsServer:
    """A one-connection threaded TLS server on 127.0.0.1: ``ok`` answers one HTTP/1.1 request,
    ``close`` reads it and closes without answering; a refused handshake just ends it."""

    def __init__(self, context: ssl.SSLContext, mode: str) -> None:
        self.context, self.mode = context, mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.settimeout(TIMEOUT)
        try:
            with self.context.wrap_socket(conn, server_side=True) as tls:
                request = b""  # read it all even to close: unread data would make the close a reset
                while b"\r\n\r\n" not in request:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                if self.mode == "ok":
                    tls.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.listener.close()
        self.thread.join(TIMEOUT)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def _client_context(ca: trustme.CA | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca is not None:
        ca.configure_trust(context)
    return context


Events = list[tuple[str, dict[str, Any]]]


def _request(ca: trustme.CA, *, mode: str, trusted: bool) -> tuple[Events, BaseException | None, dict[str, Any]]:
    """One GET through httpx with a ``trace`` callback: the events, the error, and what was read in them."""
    events: Events = []
    seen: dict[str, Any] = {}

    def trace(event: str, info: dict[str, Any]) -> None:
        events.append((event, info))
        if event == "connection.start_tls.complete":  # read it while open, as conformance/peers/eec.py does
            ssl_object = info["return_value"].get_extra_info("ssl_object")
            seen["ssl_object"] = ssl_object
            seen["verified_chain"] = _verified_chain(ssl_object)
        if event == "connection.connect_tcp.complete":
            seen["socket"] = info["return_value"].get_extra_info("socket")

    server = _TlsServer(_server_context(ca), mode)
    error: BaseException | None = None
    try:
        with httpx.Client(verify=_client_context(ca if trusted else None), timeout=TIMEOUT, http2=False) as client:
            client.get(f"https://127.0.0.1:{server.port}/", extensions={"trace": trace})
    except httpx.HTTPError as err:
        error = err
    finally:
        server.close()
    return events, error, seen


def _verified_chain(ssl_object: Any) -> list[bytes] | None:
    get_chain = getattr(ssl_object, "get_verified_chain", None)
    if get_chain is None:
        return None
    return [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in get_chain()]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def good_exchange(ca: trustme.CA) -> tuple[Events, BaseException | None, dict[str, Any]]:
    return _request(ca, mode="ok", trusted=True)


def test_httpcore_trace_events(good_exchange: tuple[Events, BaseException | None, dict[str, Any]]) -> None:
    events, error, _ = good_exchange
    assert error is None, f"the loopback exchange failed: {error!r}"
    names = [name for name, _ in events]
    used = ("connection.connect_tcp.started", "connection.connect_tcp.complete", "connection.start_tls.complete")
    for expected in used:
        _require(
            expected in names,
            f"httpcore's trace event {expected!r}",
            "conformance/peers/eec.py (_ConnectionWatch)",
            f"not emitted; events were {names}",
        )


def test_httpcore_connect_tcp_socket(good_exchange: tuple[Events, BaseException | None, dict[str, Any]]) -> None:
    _, _, seen = good_exchange
    _require(
        isinstance(seen.get("socket"), socket.socket),
        'httpcore sync stream get_extra_info("socket") at connection.connect_tcp.complete',
        "conformance/peers/eec.py (_ConnectionWatch reads the address and arms the deadline)",
        f"it returned {seen.get('socket')!r}",
    )


def test_httpcore_ssl_object_is_the_c_sslsocket(
    good_exchange: tuple[Events, BaseException | None, dict[str, Any]],
) -> None:
    import _ssl

    _, _, seen = good_exchange
    ssl_object = seen.get("ssl_object")
    where = "conformance/peers/eec.py (_ConnectionWatch, _pending_alert) and conformance/peers/tls_outcome.py"
    _require(
        isinstance(ssl_object, _ssl._SSLSocket),  # type: ignore[attr-defined]
        'httpcore sync stream get_extra_info("ssl_object")',
        where,
        f"it returned {type(ssl_object)!r}, not _ssl._SSLSocket",
    )
    for method in ("read", "cipher", "version", "selected_alpn_protocol", "getpeercert"):
        _require(callable(getattr(ssl_object, method, None)), f"_ssl._SSLSocket.{method}", where, "it is gone")


def test_verified_chain_is_readable(good_exchange: tuple[Events, BaseException | None, dict[str, Any]]) -> None:
    import _ssl

    where = "conformance/peers/tls_outcome.py (_server_chain_der)"
    if sys.version_info >= (3, 13):  # not exercised in CI (3.11 only): the public API from 3.13
        _require(hasattr(ssl.SSLSocket, "get_verified_chain"), "ssl.SSLSocket.get_verified_chain", where, "gone")
    else:  # CI runs this branch (3.11): only the C object has it
        c_socket = _ssl._SSLSocket  # type: ignore[attr-defined]
        _require(hasattr(c_socket, "get_verified_chain"), "_ssl._SSLSocket.get_verified_chain", where, "gone")
    _require(hasattr(ssl._ssl, "ENCODING_DER"), "ssl._ssl.ENCODING_DER", where, "gone")  # type: ignore[attr-defined]
    _, _, seen = good_exchange
    chain = seen.get("verified_chain")
    _require(
        bool(chain) and len(chain or []) == 2,
        "get_verified_chain() on httpcore's ssl_object",
        where,
        f"it gave {chain!r}, expected the leaf and the CA",
    )


def test_httpcore_failed_events_carry_the_exception(ca: trustme.CA) -> None:
    events, error, _ = _request(ca, mode="ok", trusted=False)
    assert isinstance(error, httpx.ConnectError), f"an untrusted server should fail the handshake, got {error!r}"
    failed = [(name, info) for name, info in events if name.endswith(".failed")]
    _require(
        [name for name, _ in failed] == ["connection.start_tls.failed"],
        "httpcore's trace events '<step>.failed'",
        "conformance/peers/eec.py (_write_failed)",
        f"events were {[name for name, _ in events]}",
    )
    _require(
        isinstance(failed[0][1].get("exception"), httpcore.ConnectError),
        "httpcore's trace '.failed' info['exception']",
        "conformance/peers/eec.py (_write_failed)",
        f"info was {failed[0][1]!r}",
    )


def test_httpcore_server_disconnected_wording(ca: trustme.CA) -> None:
    from conformance.peers import tls_outcome

    _, error, _ = _request(ca, mode="close", trusted=True)
    _require(
        isinstance(error, httpx.RemoteProtocolError) and str(error).startswith(tls_outcome._DISCONNECTED),
        f"httpcore's {tls_outcome._DISCONNECTED!r} error for a close before any response",
        "conformance/peers/tls_outcome.py (_is_close)",
        f"got {error!r}",
    )


# --- joserfc (conformance/issued_tokens.py, conformance/peers/fake_ecs_issuer.py, conformance/targets/config.py,
# conformance/reference/tokens.py) --------------------------------------------------------------


@pytest.fixture(scope="module")
def ec_key() -> Any:
    from joserfc.jwk import ECKey

    return ECKey.generate_key("P-256")


def test_joserfc_jws_registry_instance(ec_key: Any) -> None:
    from joserfc import jws

    where = "conformance/issued_tokens.py (_verify_with) and conformance/peers/fake_ecs_issuer.py (sign)"
    try:
        registry = jws.JWSRegistry(algorithms=["ES256"], strict_check_header=False)
    except TypeError as err:
        pytest.fail(f"joserfc.jws.JWSRegistry(algorithms=, strict_check_header=) changed ({err}); {where} relies on it")
    _require(
        isinstance(getattr(registry, "max_header_length", None), int),
        "joserfc.jws.JWSRegistry.max_header_length",
        "conformance/issued_tokens.py (_verify_with)",
        "gone",
    )
    registry.max_header_length = 16_384
    registry.get_alg("ES256").check_key(ec_key)
    token = jws.serialize_compact({"alg": "ES256"}, b"payload", ec_key, registry=registry)
    _require(
        jws.deserialize_compact(token, ec_key, registry=registry).payload == b"payload",
        "joserfc.jws.serialize_compact/deserialize_compact(registry=)",
        where,
        "the round trip failed",
    )


def test_joserfc_jws_registry_algorithms(ec_key: Any) -> None:
    from joserfc import jws

    algorithms = getattr(jws.JWSRegistry, "algorithms", None)
    _require(
        isinstance(algorithms, dict),
        "joserfc.jws.JWSRegistry.algorithms (class-level dict)",
        "conformance/peers/fake_ecs_issuer.py (algorithm_misfit)",
        f"it is {algorithms!r}",
    )
    assert isinstance(algorithms, dict)
    missing = {"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"} - set(algorithms)
    _require(
        not missing,
        "joserfc.jws.JWSRegistry.algorithms",
        "conformance/peers/fake_ecs_issuer.py",
        f"no {sorted(missing)}",
    )
    algorithms["ES256"].check_key(ec_key)


def test_joserfc_algorithms_keyword(ec_key: Any) -> None:
    from joserfc import jws, jwt

    where = "conformance/reference/tokens.py (jwt.encode, jws.deserialize_compact with algorithms=)"
    token = jwt.encode({"alg": "ES256"}, {"sub": "eec"}, ec_key, algorithms=["ES256"])
    _require(
        jws.deserialize_compact(token, ec_key, algorithms=["ES256"]).payload.startswith(b"{"),
        "joserfc algorithms= keyword",
        where,
        "the round trip failed",
    )


def test_joserfc_key_registries_and_errors(ec_key: Any) -> None:
    import joserfc.errors
    from joserfc.jwk import JWKRegistry, KeySet

    imported = JWKRegistry.import_key(ec_key.as_dict(private=False))
    _require(
        imported.thumbprint() == ec_key.thumbprint(),
        "joserfc.jwk.JWKRegistry.import_key",
        "conformance/peers/fake_ecs_issuer.py and conformance/targets/config.py",
        "a JWK did not round-trip",
    )
    key_set = KeySet.import_key_set({"keys": [ec_key.as_dict(private=False)]})
    _require(
        len(list(key_set.keys)) == 1,
        "joserfc.jwk.KeySet.import_key_set / .keys",
        "conformance/issued_tokens.py and conformance/reference/tokens.py",
        "gone",
    )
    for name in ("BadSignatureError", "JoseError", "SecurityWarning"):
        _require(
            hasattr(joserfc.errors, name),
            f"joserfc.errors.{name}",
            "conformance/issued_tokens.py, fake_ecs_issuer.py",
            "gone",
        )


# --- schemathesis (conformance/peers/draw_bad_bodies.py: what each drawn body broke) ---------------


def test_schemathesis_case_meta_describes_the_violation() -> None:
    from schemathesis.generation.meta import CaseMetadata, FuzzingPhaseData, PhaseInfo

    _require(
        {"phase"} <= set(CaseMetadata.__dataclass_fields__) and {"data"} <= set(PhaseInfo.__dataclass_fields__),
        "schemathesis Case.meta.phase.data",
        "conformance/peers/draw_bad_bodies.py (_violation)",
        "CaseMetadata.phase or PhaseInfo.data is gone",
    )
    _require(
        "description" in FuzzingPhaseData.__dataclass_fields__,
        "schemathesis FuzzingPhaseData.description",
        "conformance/peers/draw_bad_bodies.py (_violation)",
        "the fuzzing phase no longer describes what a negative case violates",
    )
