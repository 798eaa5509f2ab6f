"""Deadline: a blocked read ends at the deadline, and nothing happens after close()."""

from __future__ import annotations

import socket
import time

from conformance.peers.deadline import Deadline


def test_a_blocked_read_ends_at_the_deadline() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs, Deadline(0.2) as deadline:
        deadline.watch(ours)
        started = time.monotonic()
        assert ours.recv(1) == b""  # woken by the shutdown, not by a timeout
        assert 0.15 < time.monotonic() - started < 1.0
        assert deadline.expired
        assert deadline.passed


def test_close_disarms_it() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        with Deadline(0.1) as deadline:
            deadline.watch(ours)
        time.sleep(0.2)
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x"  # the connection was left alone
        assert not deadline.expired
        assert deadline.passed


def test_only_the_first_socket_is_watched_and_it_may_be_closed_meanwhile() -> None:
    first, first_peer = socket.socketpair()
    second, second_peer = socket.socketpair()
    with second, second_peer, first_peer, Deadline(0.1) as deadline:
        deadline.watch(first)
        deadline.watch(second)
        first.close()  # the dup keeps the connection ours: the shutdown still reaches it
        assert first_peer.recv(1) == b""
        assert deadline.expired
        second_peer.sendall(b"y")
        assert second.recv(1) == b"y"
