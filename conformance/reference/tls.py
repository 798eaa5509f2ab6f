"""TLS for the reference servers: the server context, two upstream patches, the scope extension.

:class:`ServerTls` says what a server presents and whom it trusts; :func:`server_context`
turns it into an :class:`ssl.SSLContext` (OpenSSL does the client-certificate checks, as in a
C server). :func:`install_patches` makes asyncio and hypercorn behave like such a server:

* it flushes the TLS alert of a refused handshake (CPython gh-98078), and
* it exposes the client certificate to the ASGI app as ``scope["extensions"]["tls"]``
  (see :class:`TlsExtension`), which hypercorn does not do.

For in-process use without TLS (Starlette's ``TestClient``), :func:`with_tls_extension` puts a
:func:`tls_extension_from_cert` into every scope, as the patched server would.
"""

from __future__ import annotations

import _ssl
import asyncio.sslproto
import contextlib
import ctypes
import functools
import ssl
import tempfile
import threading
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from starlette.types import ASGIApp, Receive, Scope, Send

ClientAuth = Literal["required", "optional", "none"]

NO_CHECK_TIME = 0x200000
"""OpenSSL ``X509_V_FLAG_NO_CHECK_TIME``; Python 3.11's :class:`ssl.VerifyFlags` has no name for it."""

ALPN = ["h2", "http/1.1"]
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 suites: forward secret AEAD only (TS 33.210 6.2 profile, RFC 9113 9.2.2 for h2)."""

_VERIFY_MODES = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


@dataclass(frozen=True)
class ServerTls:
    """What a reference server presents in TLS and which client certificates it accepts.

    ``client_auth``: ``required`` refuses a handshake without a valid client certificate;
    ``optional`` asks for one but lets the client go without (a fault); ``none`` never asks.
    ``check_time=False`` accepts expired and not-yet-valid client certificates (a fault).
    ``alpn``: the protocols offered in ALPN, preferred first (``("h2",)``: an HTTP/2-only server).
    """

    cert_chain_pem: bytes
    key_pem: bytes
    client_cas_pem: list[bytes] = field(default_factory=list)
    client_auth: ClientAuth = "required"
    check_time: bool = True
    alpn: tuple[str, ...] = tuple(ALPN)
    check_usage: bool = True
    """False: accept a client certificate whatever its (extended) key usage says (a fault)."""
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    """Below TLS 1.2 (a fault): the TLS 1.0/1.1 suites are enabled too, at OpenSSL security level 0."""
    legacy_cert_chain_pem: bytes | None = None
    legacy_key_pem: bytes | None = None
    """An RSA certificate the server presents to TLS 1.2 clients (a fault: a stale one, for another name)."""


OLD_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES:@SECLEVEL=0"
"""Also the CBC suites TLS 1.0/1.1 need; OpenSSL 3 negotiates those versions only at level 0."""
LEGACY_CIPHERS = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"
"""TLS 1.2 suites that select the RSA certificate (TLS 1.3 picks by signature algorithm: the EC one)."""

X509_PURPOSE_ANY = 7
"""OpenSSL's ``X509_PURPOSE_ANY``: no key usage or extended key usage check of the peer's certificate."""


def _accept_any_purpose(context: ssl.SSLContext) -> None:
    """``SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY)``, which Python's ssl does not expose.

    A server context verifies client certificates for the ``sslclient`` purpose (extended key
    usage clientAuth, key usage digitalSignature or keyAgreement): that check is what a fault
    switches off here. ``PySSLContext`` holds its ``SSL_CTX *`` right after the object header.
    """
    libssl = ctypes.CDLL(_ssl.__file__)
    set_purpose = libssl.SSL_CTX_set_purpose
    set_purpose.argtypes, set_purpose.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_int
    ssl_ctx = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not ssl_ctx or set_purpose(ssl_ctx, X509_PURPOSE_ANY) != 1:
        raise RuntimeError("cannot switch off the client certificate purpose check (SSL_CTX_set_purpose)")


def server_context(tls: ServerTls) -> ssl.SSLContext:
    """A TLS 1.2+ server context with the ALPN of ``tls`` (default h2/http1.1) and its client-certificate policy."""
    if tls.client_auth != "none" and not tls.client_cas_pem:
        raise ValueError("client certificates are requested but no client CA is trusted (client_cas_pem)")
    # Not ssl.create_default_context(Purpose.CLIENT_AUTH): that also trusts the system CAs
    # for client certificates, and the reference must trust exactly the configured ones.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():  # ssl.TLSVersion.TLSv1/TLSv1_1 are deprecated names
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = tls.minimum_version
        old = tls.minimum_version < ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION  # RFC 9113 9.2.1
    context.set_ciphers(OLD_CIPHERS if old else LEGACY_CIPHERS if tls.legacy_cert_chain_pem else CIPHERS)
    context.set_alpn_protocols(list(tls.alpn))
    _load_identity(context, tls.cert_chain_pem, tls.key_pem)
    if tls.legacy_cert_chain_pem is not None and tls.legacy_key_pem is not None:
        _load_identity(context, tls.legacy_cert_chain_pem, tls.legacy_key_pem)
    for ca_pem in tls.client_cas_pem:
        context.load_verify_locations(cadata=ca_pem.decode("ascii"))
    context.verify_mode = _VERIFY_MODES[tls.client_auth]
    if not tls.check_time:
        context.verify_flags |= NO_CHECK_TIME
    if not tls.check_usage:
        _accept_any_purpose(context)
    return context


def _load_identity(context: ssl.SSLContext, cert_chain_pem: bytes, key_pem: bytes) -> None:
    """``load_cert_chain`` only reads files: stage them in a private (0700) directory, then delete."""
    with tempfile.TemporaryDirectory(prefix="reference-tls-") as directory:
        cert_file, key_file = Path(directory, "chain.pem"), Path(directory, "key.pem")
        cert_file.write_bytes(cert_chain_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)


class TlsExtension(TypedDict):
    """``scope["extensions"]["tls"]``: the connection's TLS facts as the app sees them."""

    tls_version: str | None
    cipher_suite: str | None
    alpn: str | None
    client_cert_der: bytes | None
    """The verified client certificate; ``None`` when the client sent none (optional mode)."""
    client_cert_name: str | None
    """Subject as an RFC 4514 string."""
    client_common_name: str | None
    """The subject's single CN: the EEC ID. ``None`` when absent or ambiguous (several CNs)."""


def tls_extension_from_cert(
    cert: bytes | None,
    *,
    tls_version: str | None = "TLSv1.3",
    cipher_suite: str | None = "TLS_AES_128_GCM_SHA256",
    alpn: str | None = "h2",
) -> TlsExtension:
    """The extension for a client presenting ``cert`` (PEM or DER; ``None``: no certificate)."""
    der = _to_der(cert) if cert is not None else None
    name, common_name = _subject(der) if der is not None else (None, None)
    return TlsExtension(
        tls_version=tls_version,
        cipher_suite=cipher_suite,
        alpn=alpn,
        client_cert_der=der,
        client_cert_name=name,
        client_common_name=common_name,
    )


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> TlsExtension:
    """The extension of a live connection (asyncio gives us the ``ssl_object`` after the handshake)."""
    cipher = ssl_object.cipher()
    return tls_extension_from_cert(
        ssl_object.getpeercert(binary_form=True),
        tls_version=ssl_object.version(),
        cipher_suite=cipher[0] if cipher else None,
        alpn=ssl_object.selected_alpn_protocol(),
    )


def _to_der(cert: bytes) -> bytes:
    if cert.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(cert).public_bytes(Encoding.DER)
    return cert


@functools.lru_cache(maxsize=256)
def _subject(der: bytes) -> tuple[str, str | None]:
    # Cached: every connection of an EEC presents the same certificate, parsing it costs ~0.1 ms.
    subject = x509.load_der_x509_certificate(der).subject
    common_names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    # An identity that could be read two ways is no identity.
    common_name = common_names[0].value if len(common_names) == 1 else None
    return subject.rfc4514_string(), common_name if isinstance(common_name, str) else None


def with_tls_extension(app: ASGIApp, extension: TlsExtension) -> ASGIApp:
    """``app`` seeing ``extension`` in every HTTP scope, as behind :class:`ReferenceServer`."""

    async def app_with_tls(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": dict(extension)}}
        await app(scope, receive, send)

    return app_with_tls


# --- patches ---------------------------------------------------------------------------

_patch_lock = threading.Lock()
_patched = False


def install_patches() -> None:
    """Apply both patches once per process (idempotent, thread-safe)."""
    global _patched
    with _patch_lock:
        if not _patched:
            _flush_alert_on_failed_handshake()
            _expose_tls_to_hypercorn_apps()
            _patched = True


def _flush_alert_on_failed_handshake() -> None:
    """CPython gh-98078 (fixed upstream after 3.11): asyncio's SSLProtocol tears the transport
    down on a failed handshake without writing OpenSSL's pending fatal alert, so a refused
    client sees a bare TCP close instead of e.g. ``TLSV1_ALERT_UNKNOWN_CA``. Flush it first.
    Harmless for asyncio TLS clients in the same process: they too should send their alert."""
    original = asyncio.sslproto.SSLProtocol._on_handshake_complete

    def on_handshake_complete(self: Any, handshake_exc: BaseException | None) -> None:
        if handshake_exc is not None:
            with contextlib.suppress(Exception):  # the transport may be gone; it closes anyway
                self._process_outgoing()
        original(self, handshake_exc)

    asyncio.sslproto.SSLProtocol._on_handshake_complete = on_handshake_complete  # type: ignore[method-assign]


def _expose_tls_to_hypercorn_apps() -> None:
    """hypercorn 0.18 puts no TLS facts in the scope and has no per-connection hook; its
    asyncio worker builds one ``TCPServer`` per accepted connection (after the handshake),
    so a subclass there wraps the app with that connection's :class:`TlsExtension`."""
    import hypercorn.asyncio.run as hypercorn_run
    from hypercorn.asyncio.tcp_server import TCPServer

    class TlsExposingTCPServer(TCPServer):
        def __init__(
            self, app: Any, loop: Any, config: Any, context: Any, state: Any, reader: Any, writer: Any
        ) -> None:
            ssl_object = writer.get_extra_info("ssl_object")
            if ssl_object is not None:
                app = _HypercornAppWithTls(app, tls_extension(ssl_object))
            super().__init__(app, loop, config, context, state, reader, writer)

    hypercorn_run.TCPServer = TlsExposingTCPServer  # type: ignore[attr-defined]


class _HypercornAppWithTls:
    """hypercorn's internal app wrapper interface, adding the ``tls`` extension to HTTP scopes."""

    def __init__(self, app: Callable[..., Awaitable[None]], extension: TlsExtension) -> None:
        self._app, self._extension = app, extension

    async def __call__(self, scope: Any, receive: Any, send: Any, sync_spawn: Any, call_soon: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope.setdefault("extensions", {})["tls"] = dict(self._extension)
        await self._app(scope, receive, send, sync_spawn, call_soon)
