"""Who an EEC is and what it may do: the admission steps the reference ECS and EES share.

TS 33.558 6.2/6.3 order the work the same way at both servers, and so do these steps:

1. :func:`read_json_request`: the body is a JSON object with a string ``eecId`` (else 4xx);
2. :func:`authenticate`: authentication happened in the TLS handshake, so the EEC *is* the
   subject CN of its client certificate, which must be a known EEC and equal ``eecId``;
3. :func:`check_gpsi`: "If the EEC sends the GPSI ..., [the server] shall also authenticate
   the GPSI": a ``ueId`` must be well formed and belong to the authenticated EEC;
4. :func:`check_schema`: the whole body is a valid ECSServProvReq / EECRegistration (else 400
   naming the member);
5. local authorization policy (:meth:`EecRegistry.is_authorized`), or, at a token-based EES,
   the access token.

Each step raises :class:`~conformance.reference.problems.Refusal` when it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from conformance.reference.problems import Refusal, bad_request, forbidden
from conformance.reference.request_schemas import first_violation
from conformance.reference.tokens import strict_json

MAX_BODY_BYTES = 64 * 1024
"""Larger request bodies are refused with 413 before they are parsed."""
DRAINED_BYTES = 4 * 1024 * 1024
"""Oversized bodies up to this size are read to their end (and dropped) before the 413."""

GPSI = re.compile(r"msisdn-[0-9]{5,15}|extid-[^@]+@[^@]+")
"""TS 29.571 Gpsi without its catch-all ``|.+`` branch (which makes any string schema-valid).

Always used with ``fullmatch``: ``re.match`` with ``$`` would accept a trailing newline."""


def is_well_formed_gpsi(value: object) -> bool:
    """``msisdn-<5..15 digits>`` or ``extid-<local>@<domain>``, nothing else."""
    return isinstance(value, str) and GPSI.fullmatch(value) is not None


@dataclass(frozen=True)
class KnownEec:
    """An EEC the server knows: its EEC ID (= certificate CN), its GPSI, and local policy's verdict."""

    eec_id: str
    gpsi: str
    authorized: bool = True


class EecRegistry:
    """The EECs a reference server knows, by EEC ID: identity, GPSI binding, local policy."""

    def __init__(self, eecs: Iterable[KnownEec]) -> None:
        self._eecs: dict[str, KnownEec] = {}
        for eec in eecs:
            if eec.eec_id in self._eecs:
                raise ValueError(f"EEC ID {eec.eec_id!r} registered twice")
            if not is_well_formed_gpsi(eec.gpsi):
                raise ValueError(f"EEC {eec.eec_id!r}: GPSI {eec.gpsi!r} is not msisdn-... or extid-...@...")
            self._eecs[eec.eec_id] = eec

    def __iter__(self) -> Iterator[KnownEec]:
        return iter(self._eecs.values())

    def __len__(self) -> int:
        return len(self._eecs)

    def get(self, eec_id: str | None) -> KnownEec | None:
        return self._eecs.get(eec_id) if eec_id is not None else None

    def gpsi_belongs(self, eec_id: str, gpsi: str) -> bool:
        """Whether ``gpsi`` is the GPSI registered for ``eec_id``."""
        eec = self._eecs.get(eec_id)
        return eec is not None and eec.gpsi == gpsi

    def is_authorized(self, eec_id: str) -> bool:
        """Local authorization policy: is this (authenticated) EEC allowed the service?"""
        eec = self._eecs.get(eec_id)
        return eec is not None and eec.authorized


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refused with 413 past ``limit`` bytes (HTTP/2 may send no Content-Length).

    An oversized body up to :data:`DRAINED_BYTES` is read to its end before the 413: answering
    while an HTTP/2 client is still sending makes hypercorn 0.18 drop the connection (a KeyError on
    the finished stream), and the EEC would see a silent close instead of the refusal."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAINED_BYTES:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAINED_BYTES:
            raise _too_large(limit)
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise _too_large(limit)
    return b"".join(chunks)


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "Content Too Large", f"the body exceeds {limit} bytes", "REQUEST_TOO_LARGE")


async def read_json_request(request: Request) -> dict[str, Any]:
    """The request body as a JSON object with a string ``eecId``: 415, 413 or 400 otherwise."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise Refusal(415, "Unsupported Media Type", "the body must be application/json", "UNSUPPORTED_MEDIA_TYPE")
    raw = await read_body(request)
    try:
        body = strict_json(raw)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        raise bad_request("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    if not isinstance(body.get("eecId"), str) or not body["eecId"]:
        raise bad_request("eecId is required and must be a non-empty string", "/eecId")
    return body


async def request_body(request: Request, *, validates_request: bool, validates_gpsi_form: bool) -> dict[str, Any]:
    """The request body as :func:`read_json_request` admits it, or as a faulty server takes it.

    ``validates_request=False`` (``*.crashes-on-bad-request``): the members are used unchecked, so
    a malformed body or a missing or mistyped ``eecId`` raises and answers 500, and a body of any
    size up to :data:`DRAINED_BYTES` is taken.
    ``validates_gpsi_form=False`` (``*.ignores-malformed-gpsi``): a ``ueId`` that is not a
    well-formed GPSI is dropped as if absent, so the EEC is served.
    """
    if validates_request:
        body = await read_json_request(request)
    else:
        body = strict_json(await read_body(request, limit=DRAINED_BYTES))
        body["eecId"].strip()
    if not validates_gpsi_form and not is_well_formed_gpsi(body.get("ueId", "msisdn-00000")):
        body = {name: value for name, value in body.items() if name != "ueId"}
    return body


def check_schema(body: Mapping[str, Any], schema_name: str) -> None:
    """400 naming the first member where ``body`` violates the TS 24.558 schema ``schema_name``.

    Run after the identity and GPSI steps, so their refusals keep their own causes; a body the
    checks before let through (a known EEC, a string ``eecId``) may still be invalid deeper down.
    """
    violation = first_violation(body, schema_name)
    if violation is not None:
        pointer, message = violation
        raise bad_request(f"the body is not a valid {schema_name}: {message}", pointer or None)


def has_client_certificate(scope: Mapping[str, Any]) -> bool:
    """Whether the TLS handshake carried a (verified) client certificate."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    return tls.get("client_cert_der") is not None


def client_identity(scope: Mapping[str, Any]) -> str | None:
    """The authenticated EEC ID: the client certificate's subject CN, ``None`` without a certificate.

    A scope without the ``tls`` extension (no shim, plain HTTP) has no identity: fail closed.
    """
    if not has_client_certificate(scope):
        return None
    common_name = scope["extensions"]["tls"].get("client_common_name")
    return common_name if isinstance(common_name, str) else None


def authenticate(request: Request, registry: EecRegistry, eec_id: str, *, by_certificate: bool = True) -> KnownEec:
    """The EEC the TLS handshake authenticated, bound to the body's ``eecId`` (403 otherwise).

    ``by_certificate=False`` is the ``*.no-client-authentication`` fault: the EEC is whoever the
    body's ``eecId`` claims to be.
    """
    if not by_certificate:
        claimed = registry.get(eec_id)
        if claimed is None:
            raise forbidden("eecId does not identify a known EEC", "UNKNOWN_EEC")
        return claimed
    if not has_client_certificate(request.scope):
        raise forbidden("no client certificate was presented in the TLS handshake", "NO_CLIENT_CERTIFICATE")
    eec = registry.get(client_identity(request.scope))
    if eec is None:
        raise forbidden("the client certificate does not identify a known EEC", "UNKNOWN_EEC")
    if eec.eec_id != eec_id:
        raise forbidden("eecId is not the EEC ID the client certificate authenticates", "EEC_ID_MISMATCH")
    return eec


def check_gpsi(body: Mapping[str, Any], eec: KnownEec, *, enforce_binding: bool = True) -> None:
    """A ``ueId`` must be a well-formed GPSI (400) of the authenticated EEC (403 GPSI_MISMATCH).

    ``enforce_binding=False`` is the ``*.skips-gpsi-check`` fault: the format is still checked.
    """
    if "ueId" not in body:
        return
    if not is_well_formed_gpsi(body["ueId"]):
        raise bad_request("ueId must be a GPSI: msisdn-<5 to 15 digits> or extid-<id>@<domain>", "/ueId")
    if enforce_binding and body["ueId"] != eec.gpsi:
        raise forbidden("ueId is not a GPSI of the authenticated EEC", "GPSI_MISMATCH")


def check_local_policy(eec: KnownEec, *, allowed: bool | None = None) -> None:
    """Local authorization policy: 403 NOT_AUTHORIZED unless ``eec`` is authorized.

    ``allowed`` overrides the registry's verdict (used by faults that get policy wrong).
    """
    if not (eec.authorized if allowed is None else allowed):
        raise forbidden("local authorization policy does not authorize this EEC", "NOT_AUTHORIZED")
