"""A hard deadline for one network exchange, whatever the peer is doing.

Socket timeouts bound each read, not a peer that sends one byte per read forever (or one
header line, or one TLS record). :class:`Deadline` bounds the whole exchange: at the deadline
a timer shuts the watched connection down, which wakes any read blocked on it::

    with Deadline(15.0) as deadline:
        sock = socket.create_connection(address, timeout=5.0)
        deadline.watch(sock)
        ...                        # every blocking call now ends by the deadline
    deadline.expired               # True if the timer had to step in
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from typing import Self

__all__ = ["Deadline"]


class Deadline:
    """A deadline ``seconds`` from now; :meth:`watch` the connection it should end.

    It holds a ``dup`` of the watched socket: that descriptor stays ours until :meth:`close`,
    so the shutdown can never hit a descriptor number the kernel has meanwhile reused for
    another connection (the watched one may be closed, even detached by ``wrap_socket``).
    """

    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._timer: threading.Timer | None = None
        self._done = False
        self.expired = False

    @property
    def passed(self) -> bool:
        """The deadline has come (whether or not the timer has fired yet)."""
        return self.expired or time.monotonic() >= self._at

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock``'s connection down at the deadline; only the first socket counts."""
        with self._lock:
            if self._done or self._socket is not None:
                return
            self._socket = sock.dup()
        self._timer = threading.Timer(max(0.0, self._at - time.monotonic()), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._done or self._socket is None:
                return
            self.expired = True
            with suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Disarm the timer and let go of the connection."""
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()
        if self._socket is not None:
            self._socket.close()
