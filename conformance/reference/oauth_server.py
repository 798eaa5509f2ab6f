"""The reference ECS's token endpoint on authlib's framework-agnostic OAuth 2.0 server core.

authlib's :class:`~authlib.oauth2.rfc6749.AuthorizationServer` with the client-credentials grant
(RFC 6749 4.4) does the protocol: which grant, client authentication, the RFC 6749 5.1/5.2
response and error bodies with ``Cache-Control: no-store``. What is TS 33.558 6.2 is ours: the
client is the EEC its TLS client certificate authenticates (``tls_client_auth``, RFC 8705 2.1),
local policy must authorize it, ``resource`` (RFC 8707) names a token-based candidate EES, and
the token is the EES access token the provisioning response would carry.

Besides ``tls_client_auth``, every EEC may authenticate with the credential the ECS registered
for it, one self-signed certificate per EEC (:attr:`EcsTokenServer.registered_certs`):
``self_signed_tls_client_auth`` (RFC 8705 2.2: that very certificate in TLS, compared by its
SHA-256 thumbprint) and ``private_key_jwt`` (RFC 7523 2.2: a client assertion verified with that
certificate's public key, by authlib's :class:`JWTBearerClientAssertion`).

The behaviour's faults reach in where a faulty ECS would differ: any grant type accepted,
the EEC taken from ``client_id`` instead of its certificate, local policy skipped, a token for a
local-policy EES, another ``token_type``, a client assertion's signature or ``exp`` unchecked, a
self-signed certificate not compared with the client's registered one.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
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
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jws
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

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

    def __init__(
        self,
        form: dict[str, str],
        headers: dict[str, str],
        asgi_scope: Mapping[str, Any],
        audiences: tuple[str, ...] = (),
    ) -> None:
        super().__init__("POST", "https://reference.invalid/oauth2/token", headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)
        self.asgi_scope = asgi_scope
        self.audiences = audiences
        """What a client assertion's ``aud`` may say: this token endpoint's URL, or the ECS (RFC 7523 3)."""

    @property
    def client_cert_der(self) -> bytes | None:
        """The certificate the client presented in TLS, as the ``tls`` extension gives it."""
        tls = (self.asgi_scope.get("extensions") or {}).get("tls") or {}
        der = tls.get("client_cert_der")
        return der if isinstance(der, bytes) else None

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
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials" or self.behaviour.accepts_any_grant_type


CLIENT_AUTH_METHODS = ("private_key_jwt", "self_signed_tls_client_auth", "tls_client_auth")
"""Tried in this order: an assertion in the body, else a self-signed certificate, else a CA-issued one."""


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(CLIENT_AUTH_METHODS)  # noqa: RUF012 (authlib's class attribute)


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
        registered_certs: Mapping[str, bytes] | None = None,
    ) -> None:
        super().__init__()
        self.registry, self.behaviour, self._issue, self.lifetime = registry, behaviour, issue, lifetime
        self.registered_certs = {eec_id: _der(pem) for eec_id, pem in (registered_certs or {}).items()}
        """The self-signed certificate (DER) registered for each EEC ID: RFC 8705 2.2, and its key for RFC 7523."""
        self.register_client_auth_method("private_key_jwt", _ClientAssertion(self))
        self.register_client_auth_method("self_signed_tls_client_auth", self._self_signed_tls_client_auth)
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
        return self.admitted(eec)

    def _self_signed_tls_client_auth(
        self, query_client: Callable[[str], Any], request: TokenRequest
    ) -> _EecClient | None:
        """RFC 8705 2.2: the TLS certificate is self-signed and is the one registered for ``client_id``.

        Not this method (None) when the certificate is not self-signed: then it is ``tls_client_auth``'s.
        The TLS layer let only registered self-signed certificates through (see ``deployment``); the
        thumbprint binds the one presented to the client it was registered for.
        """
        der = request.client_cert_der
        if der is None or not _is_self_signed(der):
            return None
        eec = self.registry.get(request.form.get("client_id"))
        if eec is None:
            raise InvalidClientError(description="client_id does not identify a known EEC")
        registered = self.registered_certs.get(eec.eec_id)
        matches = registered is not None and _thumbprint(registered) == _thumbprint(der)
        if not matches and self.behaviour.matches_registered_cert:
            raise InvalidClientError(description="the certificate is not the one registered for this client")
        return self.admitted(eec)

    def admitted(self, eec: KnownEec) -> _EecClient:
        """An authenticated EEC as a client, once local policy authorizes it (TS 33.558 6.2)."""
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


class _ClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """``private_key_jwt`` (RFC 7523 2.2, 3): authlib reads and checks the assertion; the key is
    the one of the EEC's registered certificate, ``aud`` this token endpoint, each ``jti`` once.

    Faults: the signature not verified (``verifies_client_assertion``), ``exp`` not checked
    (``checks_client_assertion_exp``).
    """

    CLIENT_AUTH_METHOD = "private_key_jwt"
    MAX_SEEN = 10_000

    def __init__(self, server: EcsTokenServer) -> None:
        unchecked_exp = not server.behaviour.checks_client_assertion_exp
        super().__init__(leeway=10 * 365 * 86400 if unchecked_exp else 60)
        self.server = server
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._request: TokenRequest | None = None

    def __call__(self, query_client: Callable[[str], Any], request: TokenRequest) -> _EecClient | None:
        self._request = request  # respond() is synchronous: the audiences are this request's
        client: _EecClient | None = super().__call__(query_client, request)
        return client

    def get_audiences(self) -> list[str]:
        return list(self._request.audiences) if self._request is not None else []

    def resolve_client_public_key(self, client: _EecClient) -> Key:
        registered = self.server.registered_certs.get(client.eec.eec_id)
        if registered is None:
            raise InvalidClientError(description="no key is registered for this client")
        public = x509.load_der_x509_certificate(registered).public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            return ECKey.import_key(public)
        if isinstance(public, rsa.RSAPublicKey):
            return RSAKey.import_key(public)
        if isinstance(public, ed25519.Ed25519PublicKey):
            return OKPKey.import_key(public)
        raise InvalidClientError(description="the registered key is of no JWS family")

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        if self.server.behaviour.verifies_client_assertion:
            claims: dict[str, Any] = super().process_assertion_claims(assertion, resolve_key)
            return claims
        payload = json.loads(jws.extract_compact(assertion.encode("ascii")).payload)  # fault: no signature check
        self.verify_claims(payload)
        return dict(payload)

    def validate_jti(self, claims: Mapping[str, Any], jti: str) -> bool:
        """Each ``jti`` once while its assertion is valid (RFC 7523 3, item 7)."""
        now = time.time()
        with self._lock:
            if len(self._seen) > self.MAX_SEEN:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
            key = f"{claims.get('sub')}:{jti}"
            if key in self._seen:
                return False
            exp = claims.get("exp")
            self._seen[key] = float(exp) if isinstance(exp, int | float) else now + 3600
            return True

    def authenticate_client(self, client: _EecClient) -> _EecClient:
        super().authenticate_client(client)
        return self.server.admitted(client.eec)


def _der(cert: bytes) -> bytes:
    if cert.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(cert).public_bytes(Encoding.DER)
    return cert


def _thumbprint(der: bytes) -> bytes:
    """The certificate's SHA-256 thumbprint, as RFC 8705 3.1 ``x5t#S256`` takes it."""
    return hashlib.sha256(der).digest()


def _is_self_signed(der: bytes) -> bool:
    certificate = x509.load_der_x509_certificate(der)
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
