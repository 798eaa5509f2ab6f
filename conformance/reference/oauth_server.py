"""The reference ECS's token endpoint on authlib's framework-agnostic OAuth 2.0 server core.

authlib's :class:`~authlib.oauth2.rfc6749.AuthorizationServer` with the client-credentials grant
(RFC 6749 4.4) does the protocol: which grant, client authentication, the RFC 6749 5.1/5.2
response and error bodies with ``Cache-Control: no-store``. What is TS 33.558 6.2 is ours: the
client is the EEC its TLS client certificate authenticates (``tls_client_auth``, RFC 8705 2.1),
local policy must authorize it, ``resource`` (RFC 8707) names a token-based candidate EES, and
the token is the EES access token the provisioning response would carry.

The behaviour's faults reach in where a faulty ECS would differ: any grant type accepted,
the EEC taken from ``client_id`` instead of its certificate, local policy skipped, a token for a
local-policy EES, another ``token_type``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientCredentialsGrant, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from conformance.reference.faults import EcsBehaviour
from conformance.reference.policy import EecRegistry, KnownEec, client_identity

__all__ = ["EcsTokenServer", "InvalidScopeError", "InvalidTargetError", "TokenRequest"]


_DESCRIPTIONS = {"unsupported_grant_type": "only client_credentials is supported"}
"""For authlib's errors that carry no description (RFC 6749 5.2 makes it optional; ours always say why)."""


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 2: ``resource`` names no EES this client may get a token for."""

    error = "invalid_target"


class TokenRequest(OAuth2Request):  # type: ignore[misc]
    """A token request as the starlette handler read it: the form and the ASGI scope (its TLS facts)."""

    def __init__(self, form: dict[str, str], headers: dict[str, str], asgi_scope: Mapping[str, Any]) -> None:
        super().__init__("POST", "https://reference.invalid/oauth2/token", headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)
        self.asgi_scope = asgi_scope

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class _EecClient(ClientMixin):  # type: ignore[misc]
    """An EEC as an OAuth client: confidential, authenticated only by its TLS certificate."""

    def __init__(self, eec: KnownEec, behaviour: EcsBehaviour) -> None:
        self.eec, self.behaviour = eec, behaviour

    def get_client_id(self) -> str:
        return self.eec.eec_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "tls_client_auth"

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials" or self.behaviour.accepts_any_grant_type


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["tls_client_auth"]  # noqa: RUF012 (authlib's class attribute)


class _AnyGrant(_ClientCredentials):
    """Fault ``ecs.accepts-any-grant-type``: every grant type is treated as client credentials."""

    GRANT_TYPE = "client_credentials"

    @classmethod
    def check_token_endpoint(cls, request: Any) -> bool:
        return True

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        self.request.client = client


class EcsTokenServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's authorization server, bound to the reference ECS's EECs and token minting.

    ``issue(client, scope, form)`` mints the token (and may raise an :class:`OAuth2Error`);
    ``token_type`` and ``lifetime`` fill the RFC 6749 5.1 response.
    """

    def __init__(
        self,
        registry: EecRegistry,
        behaviour: EcsBehaviour,
        issue: Callable[[KnownEec, str | None, dict[str, str]], tuple[str, str]],
        lifetime: int,
    ) -> None:
        super().__init__()
        self.registry, self.behaviour, self._issue, self.lifetime = registry, behaviour, issue, lifetime
        self.register_client_auth_method("tls_client_auth", self._tls_client_auth)
        self.register_grant(_AnyGrant if behaviour.accepts_any_grant_type else _ClientCredentials)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> _EecClient | None:
        eec = self.registry.get(client_id)
        return _EecClient(eec, self.behaviour) if eec is not None else None

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Self-contained JWS access tokens: nothing to store."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal system here."""

    def create_oauth2_request(self, request: TokenRequest) -> TokenRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, dict[str, str]]:
        if isinstance(body, dict) and "error" in body and not body.get("error_description"):
            body = {**body, "error_description": _DESCRIPTIONS.get(body["error"], body["error"])}
        return status, body, dict(headers)

    def _tls_client_auth(self, query_client: Callable[[str], Any], request: TokenRequest) -> _EecClient:
        """RFC 8705 2.1: ``client_id`` names the client its TLS certificate authenticates.

        400 ``invalid_client`` (RFC 6749 5.2 allows it; a 401 would need a WWW-Authenticate with an
        HTTP authentication scheme, and tls_client_auth is none).
        """
        client_id = request.form.get("client_id")
        if not client_id:
            raise InvalidRequestError("client_id is required with tls_client_auth")
        if self.behaviour.identifies_eec_by_certificate:
            eec = self.registry.get(client_identity(request.asgi_scope))
        else:  # fault *.no-client-authentication: the client is whoever client_id says
            eec = self.registry.get(client_id)
        if eec is None:
            raise InvalidClientError(description="the client certificate does not identify a known EEC")
        if client_id != eec.eec_id:
            raise InvalidClientError(description="client_id is not the EEC the client certificate authenticates")
        if not eec.authorized and self.behaviour.applies_local_policy:
            raise UnauthorizedClientError(description="local authorization policy does not authorize this EEC")
        return _EecClient(eec, self.behaviour)

    def _generate(self, grant_type: str, client: _EecClient, scope: str | None = None, **_: Any) -> dict[str, Any]:
        request: TokenRequest = self._current
        token, granted = self._issue(client.eec, scope, request.form)
        return {
            "access_token": token,
            "token_type": self.behaviour.token_type,
            "expires_in": self.lifetime,
            "scope": granted,
        }

    def respond(self, request: TokenRequest) -> tuple[int, Any, dict[str, str]]:
        """The token endpoint's answer to ``request``: (status, JSON body, headers).

        Synchronous from start to end (no await), so on the server's one event loop the request
        the token generator reads back is this one.
        """
        self._current = request
        result: tuple[int, Any, dict[str, str]] = self.create_token_response(request)
        return result
