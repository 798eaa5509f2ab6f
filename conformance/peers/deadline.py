"""A hard deadline for one network exchange, whatever the peer is doing.

Socket timeouts bound each read, not a peer that sends one byte per read forever (or one
header line, or one TLS record). :class:`Deadline` bounds the whole exchange: at the deadline
a watchdog shuts the watched connection down, which wakes any read blocked on it::

    with Deadline(15.0) as deadline:
        sock = socket.create_connection(address, timeout=5.0)
        deadline.watch(sock)
        ...                        # every blocking call now ends by the deadline
    deadline.expired               # True if the watchdog had to step in

One watchdog thread serves every deadline of the process: a run makes hundreds of exchanges,
and starting a timer thread for each cost ~1 ms of a ~5 ms exchange (the new thread must get
the GIL before ``start()`` returns). The watchdog sleeps until the earliest armed deadline and
ends itself after :data:`IDLE_S` with nothing to watch, so an idle process keeps no thread.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from contextlib import suppress
from typing import Self

__all__ = ["Deadline"]

IDLE_S = 2.0
"""The watchdog thread ends after this long without an armed deadline."""


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
        _WATCHDOG.arm(self, self._at)  # outside self._lock: the watchdog takes it to expire us

    @property
    def closed(self) -> bool:
        return self._done

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
        """Disarm the deadline and let go of the connection."""
        with self._lock:
            self._done = True
        if self._socket is not None:
            self._socket.close()


class _Watchdog:
    """The one thread that expires deadlines: it sleeps until the earliest armed one is due.

    A closed deadline stays in the heap until its time comes (then it is dropped unexpired):
    cheaper than removing it, and a run's heap holds at most the exchanges of one deadline span.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: Deadline, at: float) -> None:
        with self._changed:
            heapq.heappush(self._heap, (at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:  # earlier than what the watchdog sleeps towards
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                due = self._pop_due()
                if not due:
                    if not self._heap and not self._changed.wait(IDLE_S) and not self._heap:
                        self._thread = None  # the next arm() starts a new one
                        return
                    if self._heap:
                        self._changed.wait(self._heap[0][0] - time.monotonic())
                    continue
            for deadline in due:  # outside the condition: _expire takes the deadline's own lock
                deadline._expire()

    def _pop_due(self) -> list[Deadline]:
        now, due = time.monotonic(), []
        while self._heap and (self._heap[0][2].closed or self._heap[0][0] <= now):
            deadline = heapq.heappop(self._heap)[2]
            if not deadline.closed:
                due.append(deadline)
        return due


_WATCHDOG = _Watchdog()
