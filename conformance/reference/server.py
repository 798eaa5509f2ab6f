"""Serve a reference app over HTTPS (HTTP/1.1 and HTTP/2, mutual TLS) from a background thread.

::

    with ReferenceServer(build_ecs_app(settings), ServerTls(chain, key, [eec_ca])) as ecs:
        httpx.post(f"{ecs.base_url}/eecs-serviceprovisioning/v1/request", ...)

The server runs hypercorn in its own thread with its own event loop, so sync tests, async
tests on any loop and pytest-xdist all reach it (a server bound to a test's loop only makes
progress while that loop runs). Start and stop are bounded; a startup error is raised in the
caller of :meth:`ReferenceServer.start`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from types import TracebackType
from typing import Any, cast

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app
from starlette.types import ASGIApp

from conformance.errors import HarnessError
from conformance.reference.tls import ServerTls, install_patches, server_context

__all__ = ["ReferenceServer", "ServerTls"]

log = logging.getLogger("conformance.reference.server")

KEEP_ALIVE_MAX_REQUESTS = 10**9
"""hypercorn closes a connection after 1000 requests by default (a GOAWAY on h2, which httpx
does not retry); a conformance run reuses connections far longer."""
GRACEFUL_TIMEOUT = 2.0
"""Seconds open connections get to finish when the server stops."""


class _ReferenceConfig(Config):
    """hypercorn builds its SSLContext from file paths; ours is prebuilt from :class:`ServerTls`."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self._context = context

    @property
    def ssl_enabled(self) -> bool:
        return True

    def create_ssl_context(self) -> ssl.SSLContext:
        return self._context


class ReferenceServer:
    """One HTTPS server for one ASGI app, on ``host`` (default 127.0.0.1) and a free port."""

    def __init__(self, app: ASGIApp, tls: ServerTls, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app, self.tls, self.host = app, tls, host
        self._requested_port = port
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = threading.Event()
        self._stop_requested = False
        self._stop_event: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise HarnessError("the reference server has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``: the ``{apiRoot}`` of the app's APIs."""
        return f"https://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Bind, start serving, and return once the server accepts connections."""
        if self._thread is not None:
            raise HarnessError("the reference server was already started")
        install_patches()
        context = server_context(self.tls)  # bad key material fails here, in the caller
        sock = self._bind()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(context, sock), name=f"reference-{self._port}", daemon=True
        )
        self._thread.start()
        if not self._listening.wait(timeout):
            self._abandon(timeout)
            raise HarnessError(f"the reference server did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            error, self._error = self._error, None
            raise error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving; open connections get :data:`GRACEFUL_TIMEOUT` seconds to finish."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if thread.is_alive():
            self._abandon(timeout)
            if thread.is_alive():
                raise HarnessError(f"the reference server on port {self._port} did not stop within {timeout} s")
        if self._error is not None:
            error, self._error = self._error, None
            raise HarnessError(f"the reference server on port {self._port} failed: {error!r}") from error

    def __enter__(self) -> ReferenceServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        # Bound and listening before the thread starts: the port is known at once, and a
        # client connecting during startup waits in the backlog instead of being refused.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.host, self._requested_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        return sock

    def _run(self, context: ssl.SSLContext, sock: socket.socket) -> None:
        assert self._loop is not None
        try:
            with asyncio.Runner(loop_factory=lambda: self._loop) as runner:  # type: ignore[arg-type,return-value]
                runner.run(self._serve(context, sock))
        except BaseException as error:
            self._error = error
            log.exception("reference server on port %s failed", self._port)
        finally:
            sock.close()
            self._listening.set()  # wakes a start() still waiting, which then re-raises

    async def _serve(self, context: ssl.SSLContext, sock: socket.socket) -> None:
        config = _ReferenceConfig(context)
        config.keep_alive_max_requests = KEEP_ALIVE_MAX_REQUESTS
        config.graceful_timeout = GRACEFUL_TIMEOUT
        config.ssl_handshake_timeout = 10
        config.errorlog = log
        app = wrap_app(cast(Any, self.app), config.wsgi_max_body_size, "asgi")
        sockets = Sockets(secure_sockets=[sock], insecure_sockets=[], quic_sockets=[])
        await worker_serve(app, config, sockets=sockets, shutdown_trigger=self._until_stop_requested)

    async def _until_stop_requested(self) -> None:
        # hypercorn awaits its shutdown trigger only once every listener is up: that is "started".
        self._stop_event = asyncio.Event()
        self._listening.set()
        if not self._stop_requested:
            await self._stop_event.wait()

    def _request_stop(self) -> None:
        self._stop_requested = True
        if self._stop_event is not None:
            self._stop_event.set()

    def _abandon(self, timeout: float) -> None:
        """Ask the serving thread to stop and wait up to ``timeout`` for it."""
        assert self._loop is not None and self._thread is not None
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the thread is ending
            self._loop.call_soon_threadsafe(self._request_stop)
        self._thread.join(timeout)

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._port is not None else "not started"
        return f"<ReferenceServer {where}>"
