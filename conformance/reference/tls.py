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

import asyncio.sslproto
import contextlib
import ssl
import tempfile
import threading
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
    """

    cert_chain_pem: bytes
    key_pem: bytes
    client_cas_pem: list[bytes] = field(default_factory=list)
    client_auth: ClientAuth = "required"
    check_time: bool = True
    check_purpose: bool = True
    """False: accept client certificates whatever their (extended) key usage says (a fault)."""


def server_context(tls: ServerTls) -> ssl.SSLContext:
    """A TLS 1.2+ server context with ALPN h2/http1.1 and the client-certificate policy of ``tls``."""
    if tls.client_auth != "none" and not tls.client_cas_pem:
        raise ValueError("client certificates are requested but no client CA is trusted (client_cas_pem)")
    # Not ssl.create_default_context(Purpose.CLIENT_AUTH): that also trusts the system CAs
    # for client certificates, and the reference must trust exactly the configured ones.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION  # RFC 9113 9.2.1
    context.set_ciphers(CIPHERS)
    context.set_alpn_protocols(ALPN)
    _load_identity(context, tls.cert_chain_pem, tls.key_pem)
    for ca_pem in tls.client_cas_pem:
        context.load_verify_locations(cadata=ca_pem.decode("ascii"))
    context.verify_mode = _VERIFY_MODES[tls.client_auth]
    if not tls.check_time:
        context.verify_flags |= NO_CHECK_TIME
    if not tls.check_purpose:
        _accept_any_purpose(context)
    return context


X509_PURPOSE_ANY = 7
"""OpenSSL's purpose that checks no key usage; a server otherwise verifies client certificates
for ``sslclient`` (clientAuth EKU, digitalSignature key usage), which Python cannot switch off."""


def _accept_any_purpose(context: ssl.SSLContext) -> None:
    """``SSL_CTX_set_purpose(ctx, X509_PURPOSE_ANY)`` through ctypes, for the fault
    ees.ignores-client-cert-usage only. The ``SSL_CTX *`` is the first member after the object
    header of CPython's ``PySSLContext``; libssl is the one the ``_ssl`` module is linked with."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("ssl") or "libssl.so.3"
    libssl = ctypes.CDLL(name)
    libssl.SSL_CTX_set_purpose.argtypes = (ctypes.c_void_p, ctypes.c_int)
    libssl.SSL_CTX_set_purpose.restype = ctypes.c_int
    ssl_ctx = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not ssl_ctx or libssl.SSL_CTX_set_purpose(ssl_ctx, X509_PURPOSE_ANY) != 1:
        raise RuntimeError("cannot switch off the client certificate purpose check (fault not available)")


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


def _subject(der: bytes) -> tuple[str, str | None]:
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
