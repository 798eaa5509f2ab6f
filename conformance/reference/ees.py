"""The reference EES: EDGE-1 EEC registration, authorized by token or by local policy (TS 33.558 6.3).

::

    POST /eees-eecregistration/v1/registrations   EECRegistration -> 201 EECRegistration + Location

Admission as :mod:`~conformance.reference.policy` describes (body, TLS identity, GPSI), then
"If the EES requires access token for authorization, then the EES shall authorize the EEC by
using the token. Otherwise, the EES shall authorize the EEC by its local authorization policy."

Token mode is an RFC 6750 resource server: the token comes only in ``Authorization: Bearer``;
none gives 401 with a bare ``WWW-Authenticate: Bearer realm=...``; a bad one 401
``error="invalid_token"``; a token without the service in its scope 403
``error="insufficient_scope"``; a token sent two ways 400 ``error="invalid_request"``.
The token is verified by :class:`TokenVerifier` against the trusted keys only: a JWKS given,
the keys at one configured JWKS URL (fetched over TLS verified with ``trusted_jwks_ca``), or both.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from conformance.reference.disruption import disrupted
from conformance.reference.faults import EesBehaviour
from conformance.reference.policy import (
    EecRegistry,
    KnownEec,
    authenticate,
    check_gpsi,
    check_local_policy,
    check_schema,
    request_body,
)
from conformance.reference.problems import EXCEPTION_HANDLERS, Refusal, bad_request
from conformance.reference.remote_jwks import RemoteKeySet
from conformance.reference.tokens import (
    InvalidToken,
    TokenVerifier,
    check_signature_algorithms,
)

REGISTRATION_SERVICE = "eees-eecregistration"
REGISTRATIONS_PATH = f"/{REGISTRATION_SERVICE}/v1/registrations"
DEFAULT_ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


@dataclass(frozen=True)
class EesSettings:
    """Everything the reference EES is configured with.

    Token mode needs ``trusted_issuer`` (the exact ``iss``) and its keys: ``trusted_jwks`` (may hold
    several keys), ``trusted_jwks_url`` with the CA that verifies its server (``trusted_jwks_ca``,
    PEM), or both. ``allowed_algorithms`` never admits ``none`` or an HMAC algorithm.
    """

    fqdn: str
    registry: EecRegistry
    authorization: Literal["token", "local"] = "token"
    service_names: tuple[str, ...] = (REGISTRATION_SERVICE,)
    trusted_issuer: str | None = None
    trusted_jwks: Mapping[str, Any] | None = None
    trusted_jwks_url: str | None = None
    trusted_jwks_ca: bytes | None = None
    allowed_algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway: int = 30
    """Seconds of clock skew tolerated on ``exp`` and ``nbf``."""

    def __post_init__(self) -> None:
        if self.authorization not in ("token", "local"):
            raise ValueError("authorization must be 'token' or 'local'")
        check_signature_algorithms(self.allowed_algorithms)
        if REGISTRATION_SERVICE not in self.service_names:
            raise ValueError(f"service_names must include {REGISTRATION_SERVICE}, the API this EES serves")
        if self.authorization == "token" and (not self.trusted_issuer or not self.has_trusted_keys):
            raise ValueError("a token-based EES needs trusted_issuer and trusted_jwks (or trusted_jwks_url)")
        if self.trusted_jwks_url is not None and self.trusted_jwks_ca is None:
            raise ValueError("trusted_jwks_url needs trusted_jwks_ca, the CA its server certificate chains to")

    @property
    def has_trusted_keys(self) -> bool:
        return bool(self.trusted_jwks) or self.trusted_jwks_url is not None


_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
IN_FLIGHT_HOLD = 0.05
"""Seconds a registration stays in flight under the concurrency faults: concurrent ones overlap."""


def challenge(realm: str, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    """A ``WWW-Authenticate: Bearer`` value (RFC 6750 3); quoted values keep to its character set."""
    params = [("realm", realm), ("error", error), ("error_description", description), ("scope", scope)]
    return "Bearer " + ", ".join(f'{name}="{_UNSAFE.sub("?", value)}"' for name, value in params if value)


def bearer_refusal(realm: str, status: int, cause: str, detail: str, error: str | None = None) -> Refusal:
    """A refusal with its RFC 6750 challenge; ``error=None`` when no credentials came (3.1)."""
    title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}[status]
    scope = REGISTRATION_SERVICE if error == "insufficient_scope" else None
    header = challenge(realm, error, detail if error else None, scope)
    return Refusal(status, title, detail, cause, headers={"WWW-Authenticate": header})


class _Ees:
    """The request handler, bound to one configuration and one behaviour (correct, or a named fault)."""

    def __init__(self, settings: EesSettings, behaviour: EesBehaviour) -> None:
        self.settings, self.behaviour, self.realm = settings, behaviour, settings.fqdn
        self._in_flight: set[str] = set()
        self.verifier: TokenVerifier | None = None
        if settings.trusted_issuer and settings.has_trusted_keys:
            remote = None
            if settings.trusted_jwks_url is not None and settings.trusted_jwks_ca is not None:
                remote = RemoteKeySet(settings.trusted_jwks_url, ca_pem=settings.trusted_jwks_ca)
            audience = {"own": settings.fqdn, "wrong": f"wrong-audience.{settings.fqdn}", "none": None}
            self.verifier = TokenVerifier(
                issuer=settings.trusted_issuer,
                jwks=settings.trusted_jwks,
                audience=audience[behaviour.audience_check],
                algorithms=settings.allowed_algorithms,
                leeway=settings.leeway,
                accept_alg_none=behaviour.accepts_alg_none,
                check_exp=behaviour.checks_exp,
                leniency=behaviour.token,
                remote=remote,
            )

    async def register(self, request: Request) -> Response:
        """EDGE-1 EECRegistration: admit, authorize, then register (201 echoing the request)."""
        body = await request_body(
            request,
            validates_request=self.behaviour.validates_request,
            validates_gpsi_form=self.behaviour.validates_gpsi_form,
        )
        if self.behaviour.checks_member_types:
            check_member_types(body)
        else:
            _crash_on_wrong_types(body)  # fault ees.500-on-wrong-member-type
        eec = authenticate(
            request, self.settings.registry, body["eecId"], by_certificate=self.behaviour.identifies_eec_by_certificate
        )
        if self.behaviour.lenient_gpsi and isinstance(body.get("ueId"), str):  # fault ees.lenient-gpsi
            body = {**body, "ueId": body["ueId"].strip().lower().replace("+", "")}
        check_gpsi(body, eec, enforce_binding=self.behaviour.looks_at_ueid)
        if self.behaviour.validates_request:
            check_schema(body, "EECRegistration")
        if self.settings.authorization == "token" and self.verifier and self.verifier.remote:
            # It may fetch the JWKS: off the loop, on the loop's own executor, which the server's
            # asyncio.Runner joins when it stops (anyio's worker threads would outlive the server).
            await asyncio.to_thread(self._authorize_by_token, request, eec)
        elif self.settings.authorization == "token":
            self._authorize_by_token(request, eec)
        else:
            self._authorize_locally(request, eec)
        if self.behaviour.concurrency != "correct":
            await self._one_at_a_time(request, eec)
        registration_id = str(uuid.uuid4())
        location = f"{request.url.scheme}://{request.url.netloc}{REGISTRATIONS_PATH}/{registration_id}"
        return JSONResponse(body, status_code=201, headers={"Location": location})

    async def _one_at_a_time(self, request: Request, eec: KnownEec) -> None:
        """Faults ees.refuses-a-token-in-use and ees.fails-registration-race: a registration is "in
        flight" for IN_FLIGHT_HOLD seconds, and one overlapping another of its token (or EEC) fails."""
        by_token = self.behaviour.concurrency == "refuses-token-in-use"
        key = request.headers.get("authorization") if by_token else eec.eec_id
        if key is None:  # no token: nothing to be in use
            return
        if key in self._in_flight:
            if by_token:
                raise bearer_refusal(self.realm, 401, "INVALID_TOKEN", "the token is in use", "invalid_token")
            raise Refusal(500, "Internal Server Error", "duplicate registration in progress", "SYSTEM_FAILURE")
        self._in_flight.add(key)
        try:
            await asyncio.sleep(IN_FLIGHT_HOLD)
        finally:
            self._in_flight.discard(key)

    def _authorize_by_token(self, request: Request, eec: KnownEec) -> None:
        try:
            token = self._bearer_token(request)
            if token is None:
                raise bearer_refusal(self.realm, 401, "TOKEN_REQUIRED", "an access token is required")
            self._check_token(token, eec)
        except Refusal as refusal:
            if refusal.status != 401 or not self.behaviour.fails_open_to_local_policy:
                raise
            check_local_policy(eec)  # the fault: fail open to local policy

    def _check_token(self, token: str, eec: KnownEec) -> None:
        """Signature and claims (401 invalid_token), then the scope (403 insufficient_scope).

        ``sub`` must be the authenticated EEC's GPSI: the request's ``ueId`` was already bound to it.
        """
        assert self.verifier is not None
        try:
            claims = self.verifier.verify(token)
            subject = eec.gpsi if self.behaviour.checks_sub else None
            client_id = eec.eec_id if self.behaviour.checks_client_id else None
            self.verifier.check_client(claims, client_id=client_id, subject=subject)
        except InvalidToken as invalid:
            detail = f"invalid access token: {invalid}"
            raise bearer_refusal(self.realm, 401, "INVALID_TOKEN", detail, "invalid_token") from None
        if self.behaviour.checks_scope and REGISTRATION_SERVICE not in TokenVerifier.scopes(claims):
            detail = f"the token's scope does not include {REGISTRATION_SERVICE}"
            raise bearer_refusal(self.realm, 403, "INSUFFICIENT_SCOPE", detail, "insufficient_scope")

    def _bearer_token(self, request: Request) -> str | None:
        """The token of ``Authorization: Bearer``; RFC 6750 2.3's query form is not used, and a
        token sent two ways is refused (RFC 6750 2: "MUST NOT use more than one method")."""
        values = request.headers.getlist("authorization")
        if len(values) > 1:
            raise self._invalid_request("more than one Authorization header")
        scheme, _, credentials = values[0].partition(" ") if values else ("", "", "")
        if self.behaviour.token_in_query and scheme.lower() != "bearer":  # fault ees.accepts-token-in-query
            return request.query_params.get("access_token")
        if scheme.lower() != "bearer":
            return None
        if self.behaviour.token_in_query:
            return credentials.strip()
        if "access_token" in request.query_params:
            raise self._invalid_request("the access token was sent in more than one way")
        return credentials.strip()

    def _invalid_request(self, detail: str) -> Refusal:
        return bearer_refusal(self.realm, 400, "INVALID_REQUEST", detail, "invalid_request")

    def _authorize_locally(self, request: Request, eec: KnownEec) -> None:
        """Local mode ignores tokens: a token never replaces the policy decision."""
        policy = self.behaviour.local_policy
        if policy == "skipped" or (policy == "bypassed-by-token" and _carries_bearer(request)):
            return
        check_local_policy(eec, allowed=False if policy == "refuses-everyone" else None)


_MEMBER_TYPES: dict[str, type | tuple[type, ...]] = {
    "ueId": str,
    "acProfs": list,
    "expTime": str,
    "eecSvcContSupp": list,
    "eecCntxId": str,
    "srcEesId": str,
    "endPt": dict,
    "ueMobilityReq": bool,
    "easSelReqInd": bool,
    "ueType": str,
    "discoveredEas": list,
    "unfulfillAcProfs": list,
    "unfulfilledAcProfs": dict,
}
"""The JSON type of each top-level EECRegistration member (TS 24.558 OpenAPI), checked by the reference."""


def check_member_types(body: Mapping[str, Any]) -> None:
    """400 naming the first top-level member of the wrong JSON type."""
    for name, wanted in _MEMBER_TYPES.items():
        if name in body and (not isinstance(body[name], wanted) or isinstance(body[name], bool) != (wanted is bool)):
            raise bad_request(f"{name} has the wrong type", f"/{name}")


def _crash_on_wrong_types(body: Mapping[str, Any]) -> None:
    for name, wanted in _MEMBER_TYPES.items():
        if name in body and not isinstance(body[name], wanted):
            raise TypeError(f"{name}: unexpected {type(body[name]).__name__}")


def _carries_bearer(request: Request) -> bool:
    return any(value.lower().startswith("bearer ") for value in request.headers.getlist("authorization"))


def build_ees_app(settings: EesSettings, behaviour: EesBehaviour | None = None) -> ASGIApp:
    """The reference EES as an ASGI app, to serve with :class:`.server.ReferenceServer`.

    ``behaviour`` defaults to the correct one; ``faults.ees_behaviour(names)`` gives a faulty one.
    """
    behaviour = behaviour or EesBehaviour()
    ees = _Ees(settings, behaviour)
    app = Starlette(
        routes=[Route(REGISTRATIONS_PATH, ees.register, methods=["POST"])],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.settings, app.state.behaviour = settings, behaviour
    return disrupted(app, behaviour.disruption)
