"""PSK-based TLS (TS 33.558 6.2, ECS-TLS-07, I level): recorded, never failed.

What an ECS offers an EEC that holds the declared PSK, and what it does with a wrong key, are the
target's choices, so nothing here raises :class:`~conformance.errors.CheckFailed`. But a record
is only worth something if the declared key worked: when it did not key a handshake, the case
observed nothing about PSK-based TLS and is INCONCLUSIVE (the declaration, the listener or the
network is wrong), never a PASS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.errors import Inconclusive

if TYPE_CHECKING:
    from conformance.peers.psk import PskAttempt

__all__ = ["keyed_by_declared_psk"]


def keyed_by_declared_psk(attempt: PskAttempt) -> None:
    """The positive control of the PSK case: the declared PSK keyed a completed TLS handshake."""
    if attempt.psk_used:
        return
    tls = attempt.exchange.tls
    if attempt.connected:
        what = "the server completed the handshake without it (it authenticated with a certificate instead)"
    else:
        what = f"the handshake did not complete: {attempt.summary()}"
    raise Inconclusive(
        f"the declared PSK did not key a TLS 1.3 handshake with {tls.address} ({tls.server_name}): {what}; "
        "nothing about PSK-based TLS was observed, check [target.psk] identity, key, hash and port"
    )
