"""Checks: small pure functions over captured evidence that raise when the target departs.

An outcome check raises :class:`~conformance.errors.CheckFailed` (the M requirement the case
cites); a shape check raises :class:`~conformance.errors.ShapeViolation` (the S requirement that
owns the form of a refusal). Neither does I/O.
"""

from conformance.checks import client_auth, concurrency, http, psk, schema, tls, token_claims

__all__ = ["client_auth", "concurrency", "http", "psk", "schema", "tls", "token_claims"]
