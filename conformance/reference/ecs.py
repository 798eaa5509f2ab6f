"""The reference ECS: EDGE-4 service provisioning with EES access tokens (TS 33.558 6.2).

Three routes::

    POST /eecs-serviceprovisioning/v1/request   ECSServProvReq -> 200 ECSServProvResp, tokens inside
    POST /oauth2/token                          client-credentials grant (RFC 6749 4.4), mTLS client
    GET  /.well-known/jwks.json                 the public key(s) that verify the tokens

A provisioning request is admitted as :mod:`~conformance.reference.policy` describes (body,
TLS identity, GPSI, local policy). The ECS then "issues separate EES access tokens to be used
for each candidate EES that use[s] token-based authorization": one JWS (ES256, ``typ``
``at+jwt``) per such EES, at ``EESInfo.<token_member>``, with the claims of 6.2 (``iss`` ECS
FQDN, ``client_id`` EEC ID, ``sub`` GPSI, ``scope`` EES service names, ``aud`` EES FQDN,
``exp``) plus ``iat`` and ``jti``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from conformance.reference.disruption import disrupted
from conformance.reference.faults import EcsBehaviour
from conformance.reference.oauth_server import EcsTokenServer, InvalidScopeError, InvalidTargetError, TokenRequest
from conformance.reference.policy import (
    EecRegistry,
    KnownEec,
    authenticate,
    check_gpsi,
    check_local_policy,
    check_schema,
    read_body,
    request_body,
)
from conformance.reference.problems import EXCEPTION_HANDLERS, NO_STORE, OAuthError, Refusal, plain_refusal_handler
from conformance.reference.tokens import TokenMinter, new_signing_key, public_jwks, signing_key

__all__ = ["EcsSettings", "KnownEes", "build_ecs_app", "new_signing_key", "public_jwks"]

PROVISIONING_PATH = "/eecs-serviceprovisioning/v1/request"
TOKEN_PATH = "/oauth2/token"
JWKS_PATH = "/.well-known/jwks.json"
EES_AUTH_METHODS = ["TLS_CLIENT_SERVER_CERTIFICATE"]
"""``EESInfo.eesAuthMethods``: the reference EESes authenticate EECs by client certificate."""


@dataclass(frozen=True)
class KnownEes:
    """A candidate EES as the ECS is configured with it (6.2: its authorization method)."""

    ees_id: str
    fqdn: str
    base_url: str
    service_names: tuple[str, ...] = ("eees-eecregistration",)
    authorization: Literal["token", "local"] = "token"

    def __post_init__(self) -> None:
        if self.authorization not in ("token", "local"):
            raise ValueError(f"EES {self.ees_id}: authorization must be 'token' or 'local'")
        if not self.service_names:
            raise ValueError(f"EES {self.ees_id}: service_names must name at least one EES service")

    def is_named_by(self, resource: str) -> bool:
        """RFC 8707 ``resource``: ``https://<fqdn>`` or the EES's base URL (trailing ``/`` ignored)."""
        return resource.rstrip("/") in (f"https://{self.fqdn}", self.base_url.rstrip("/"))


@dataclass(frozen=True)
class EcsSettings:
    """Everything the reference ECS is configured with."""

    fqdn: str
    registry: EecRegistry
    candidates: tuple[KnownEes, ...]
    signing_key_pem: bytes
    """EC P-256 private key (PEM) that signs the EES access tokens (ES256)."""
    kid: str
    token_lifetime: int = 300
    token_member: str = "accessToken"
    """Where a token goes in each EESInfo; a dotted path makes nested objects."""
    dnn: str = "edge.reference.test"
    registered_client_certs: tuple[tuple[str, bytes], ...] = ()
    """(EEC ID, PEM): the self-signed certificate registered for each EEC as an OAuth client; the
    token endpoint takes it in TLS (``self_signed_tls_client_auth``) and its key verifies the
    EEC's client assertions (``private_key_jwt``). The TLS listener must trust these too."""

    def __post_init__(self) -> None:
        # ednCnfgInfo[].eess has minItems 1: an ECS without candidates could only answer 204.
        if not self.candidates:
            raise ValueError("the ECS needs at least one candidate EES")
        if len({ees.ees_id for ees in self.candidates}) != len(self.candidates):
            raise ValueError("candidate EES IDs must be unique")
        if self.token_lifetime <= 0:
            raise ValueError("token_lifetime must be a positive number of seconds")
        signing_key(self.signing_key_pem, self.kid)  # a wrong key fails here, not at the first request


class _Ecs:
    """The request handlers, bound to one configuration and one behaviour (correct, or a named fault)."""

    def __init__(self, settings: EcsSettings, behaviour: EcsBehaviour) -> None:
        self.settings, self.behaviour = settings, behaviour
        self.minter = TokenMinter(
            settings.fqdn,
            settings.signing_key_pem,
            settings.kid,
            settings.token_lifetime,
            with_sub=behaviour.token_with_sub,
            behaviour=behaviour.tokens,
        )
        self.oauth = EcsTokenServer(
            settings.registry,
            behaviour,
            self._issue,
            self.minter.lifetime,
            registered_certs=dict(settings.registered_client_certs),
        )
        self._shared_tokens: dict[tuple[str, str], str] = {}
        """Fault ecs.one-token-for-all-ees: the one token per (EEC ID, GPSI)."""

    async def provisioning(self, request: Request) -> Response:
        """EDGE-4 ECSServProvReq: admit the EEC, then answer with EDN configuration and tokens."""
        body = await request_body(
            request,
            validates_request=self.behaviour.validates_request,
            validates_gpsi_form=self.behaviour.validates_gpsi_form,
        )
        eec = authenticate(
            request, self.settings.registry, body["eecId"], by_certificate=self.behaviour.identifies_eec_by_certificate
        )
        check_gpsi(body, eec, enforce_binding=self.behaviour.checks_gpsi)
        if self.behaviour.validates_request:
            check_schema(body, "ECSServProvReq")
        if self.behaviour.applies_local_policy:
            check_local_policy(eec)
        return JSONResponse(self._provisioning_response(eec, body.get("ueId", eec.gpsi)))

    def _provisioning_response(self, eec: KnownEec, gpsi: str) -> dict[str, Any]:
        if not self.behaviour.valid_provisioning_response:
            return {"ednCnfgInfo": []}
        eess = [self._ees_info(ees, eec, gpsi) for ees in self.settings.candidates]
        return {"ednCnfgInfo": [{"ednConInfo": {"dnn": self.settings.dnn}, "eess": eess}]}

    def _ees_info(self, ees: KnownEes, eec: KnownEec, gpsi: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "eesId": ees.ees_id,
            "eecRegConf": True,
            "endPt": {"uri": ees.base_url},  # EndPoint is oneOf uri|fqdn|ipv4Addrs|ipv6Addrs
            "eesAuthMethods": list(EES_AUTH_METHODS),
        }
        if ees.authorization == "token" or self.behaviour.tokens.for_local_ees:
            _set_member(info, self.settings.token_member, self._mint(eec, gpsi, ees))
        return info

    def _mint(self, eec: KnownEec, gpsi: str, ees: KnownEes, scope: str | None = None) -> str:
        """The token ``eec`` presents to ``ees``: ``sub`` is ``gpsi``, scope all of ``ees``'s services."""
        scope = scope or " ".join(ees.service_names)
        if self.behaviour.tokens.one_for_all and ees.authorization == "token":
            return self._shared_token(eec, gpsi)
        return self.minter.mint(client_id=eec.eec_id, subject=gpsi, audience=ees.fqdn, scope=scope)

    def _shared_token(self, eec: KnownEec, gpsi: str) -> str:
        """Fault ecs.one-token-for-all-ees: one token naming every token-based EES."""
        key = (eec.eec_id, gpsi)
        if key not in self._shared_tokens:
            token_based = [ees for ees in self.settings.candidates if ees.authorization == "token"]
            services = sorted({name for ees in token_based for name in ees.service_names})
            self._shared_tokens[key] = self.minter.mint(
                client_id=eec.eec_id, subject=gpsi, audience=[ees.fqdn for ees in token_based], scope=" ".join(services)
            )
        return self._shared_tokens[key]

    async def token(self, request: Request) -> Response:
        """RFC 6749 4.4 client-credentials grant; the client authenticates by TLS (RFC 8705), on authlib."""
        form = await _read_form(request)
        if "grant_type" not in form:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        audiences = (str(request.url.replace(query="")), f"https://{self.settings.fqdn}{TOKEN_PATH}")
        token_request = TokenRequest(form, dict(request.headers), request.scope, audiences)
        status, body, headers = self.oauth.respond(token_request)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        return JSONResponse(body, status_code=status, headers={**NO_STORE, **headers})

    def _issue(self, eec: KnownEec, scope: str | None, form: dict[str, str]) -> tuple[str, str]:
        """The token for the EES ``resource`` names, with the scope granted: (compact JWS, scope)."""
        ees = self._target(form)
        granted = self._granted_scope(form, ees)
        return self._mint(eec, eec.gpsi, ees, granted), granted

    def _target(self, form: dict[str, str]) -> KnownEes:
        resource = form.get("resource", "")
        for ees in self.settings.candidates:
            allowed = ees.authorization == "token" or self.behaviour.tokens.for_local_ees
            if allowed and ees.is_named_by(resource):
                return ees
        raise InvalidTargetError(description="resource must name a token-based candidate EES (https://<fqdn>)")

    @staticmethod
    def _granted_scope(form: dict[str, str], ees: KnownEes) -> str:
        if "scope" not in form:
            return " ".join(ees.service_names)
        requested = form["scope"].split()
        if not requested or not set(requested) <= set(ees.service_names):
            raise InvalidScopeError(description=f"scope must be among: {' '.join(ees.service_names)}")
        return " ".join(requested)

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.minter.jwks())


async def _read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; each parameter at most once (RFC 6749 3.2)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise OAuthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        pairs = urllib.parse.parse_qsl((await read_body(request)).decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError(400, "invalid_request", "the body is not a valid form") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise OAuthError(400, "invalid_request", "a parameter was sent more than once")
    return form


def _set_member(info: dict[str, Any], path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        info = info.setdefault(name, {})
    info[leaf] = value


def build_ecs_app(settings: EcsSettings, behaviour: EcsBehaviour | None = None) -> ASGIApp:
    """The reference ECS as an ASGI app, to serve with :class:`.server.ReferenceServer`.

    ``behaviour`` defaults to the correct one; ``faults.ecs_behaviour(names)`` gives a faulty one.
    """
    behaviour = behaviour or EcsBehaviour()
    ecs = _Ecs(settings, behaviour)
    routes = [
        Route(PROVISIONING_PATH, ecs.provisioning, methods=["POST"]),
        Route(TOKEN_PATH, ecs.token, methods=["POST"]),
        Route(JWKS_PATH, ecs.jwks, methods=["GET"]),
    ]
    handlers = dict(EXCEPTION_HANDLERS)
    if not behaviour.problem_details:
        handlers[Refusal] = plain_refusal_handler
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.settings, app.state.behaviour, app.state.minter = settings, behaviour, ecs.minter
    return disrupted(app, behaviour.disruption)
