"""EES access tokens: minted by the reference ECS, verified by the reference EES.

TS 33.558 6.2: "JSON Web Token (JWT) as specified in IETF RFC 7519 for encoding and the JSON
signature profile as specified in IETF RFC 7515 for protection of tokens shall be followed",
with the claims ``iss`` (ECS FQDN), ``client_id`` (EEC ID), ``sub`` (GPSI), ``scope`` (EES
service names), ``aud`` (EES FQDN) and ``exp``.

:class:`TokenMinter` signs with one EC P-256 key (ES256, ``typ`` ``at+jwt``, ``kid``, plus
``iat`` and ``jti`` per RFC 9068). :class:`TokenVerifier` is deliberately small and strict
(RFC 8725): the algorithm comes from an allow-list that can never hold ``none`` or HMAC, keys
come only from the configured JWKS (``jku``/``x5u``/``jwk``/``x5c`` headers are never fetched or
used), a ``kid`` must name a trusted key, and every claim has its type checked. The trusted keys
are given, or fetched from one configured JWKS URL (:class:`~.remote_jwks.RemoteKeySet`), or both.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, KeySet, RSAKey

from conformance.reference.faults import Leniency, TokenBehaviour

MAX_TOKEN_CHARS = 8192
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_KEY_TYPES = {"ES": "EC", "RS": "RSA", "PS": "RSA"}
"""Key type by algorithm family: only asymmetric families exist here."""


class InvalidToken(ValueError):
    """The token must not be honoured; the message is safe to show the client."""


def check_signature_algorithms(algorithms: Collection[str]) -> None:
    """Refuse a configuration that would admit unsigned or HMAC tokens (alg confusion, RFC 8725 3.1)."""
    unsafe = [alg for alg in algorithms if alg[:2] not in _KEY_TYPES]
    if unsafe or not algorithms:
        raise ValueError(f"only ES*, RS* and PS* algorithms can be trusted, not {unsafe or 'nothing'}")


def new_signing_key() -> bytes:
    """A fresh EC P-256 private key (PKCS#8 PEM) for an ECS to sign tokens with."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def signing_key(pem: bytes, kid: str) -> ECKey:
    """The ES256 signing key of ``pem`` (EC P-256 only), labelled ``kid``."""
    private = load_pem_private_key(pem, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise ValueError("the ECS signing key must be an EC P-256 private key (ES256)")
    return ECKey.import_key(pem, {"kid": kid, "alg": "ES256", "use": "sig"})


def public_jwks(pem: bytes, kid: str) -> dict[str, Any]:
    """The JWKS that verifies tokens signed with ``pem``: public members only."""
    return dict(KeySet([signing_key(pem, kid)]).as_dict(private=False))


def published_jwks(pem: bytes, kid: str, behaviour: TokenBehaviour | None = None) -> dict[str, Any]:
    """The key set an ECS publishes: :func:`public_jwks`, or with ``d`` under ecs.jwks-with-private-key."""
    private = behaviour is not None and behaviour.publishes_private_key
    return dict(KeySet([signing_key(pem, kid)]).as_dict(private=private))


class KeySource(Protocol):
    """Trusted keys from elsewhere (a JWKS URL): cached, refreshed when a ``kid`` is unknown."""

    def current_keys(self) -> list[Key]: ...

    def refresh_for_unknown_kid(self) -> list[Key]: ...


class TokenMinter:
    """Signs EES access tokens for one issuer (the ECS FQDN).

    ``behaviour`` is the correct :class:`TokenBehaviour` unless a named fault changes it.
    """

    def __init__(
        self,
        issuer: str,
        key_pem: bytes,
        kid: str,
        lifetime: int,
        *,
        with_sub: bool = True,
        behaviour: TokenBehaviour | None = None,
    ) -> None:
        self.issuer, self.with_sub = issuer, with_sub
        self.behaviour = behaviour or TokenBehaviour()
        self.lifetime = self.behaviour.lifetime or lifetime
        self.key = signing_key(key_pem, kid)
        # fault ecs.tokens-signed-with-unpublished-key: a key nobody can verify with, same kid
        self._signer = signing_key(new_signing_key(), kid) if self.behaviour.unpublished_key else self.key
        self._fixed_jti = str(uuid.uuid4())

    def mint(self, *, client_id: str, subject: str, audience: str | list[str], scope: str) -> str:
        """A signed token with the TS 33.558 6.2 claims plus ``iat`` and a fresh ``jti``."""
        quirks = self.behaviour
        now = int(time.time())
        jti = str(uuid.uuid4()) if quirks.unique_jti else self._fixed_jti
        claims: dict[str, Any] = {"iss": self.issuer, "client_id": client_id, "sub": subject, "scope": scope}
        claims |= {"aud": audience, "iat": now, "exp": now + self.lifetime, "jti": jti}
        if not self.with_sub:  # fault ecs.token-without-sub
            del claims["sub"]
        claims |= dict(quirks.claims)
        for name in quirks.omit:
            claims.pop(name, None)
        header: dict[str, Any] = {"alg": quirks.alg, "typ": quirks.typ}
        if quirks.kid:
            header["kid"] = self.key.kid
        if quirks.alg == "none":  # fault ecs.unsigned-tokens
            return f"{_b64_json(header)}.{_b64_json(claims)}."
        return jwt.encode(header, claims, self._signer, algorithms=["ES256"])

    def jwks(self) -> dict[str, Any]:
        """The published key set (with ``d`` under the fault ecs.jwks-with-private-key)."""
        return dict(KeySet([self.key]).as_dict(private=self.behaviour.publishes_private_key))


def _b64_json(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TokenVerifier:
    """Verifies access tokens for one resource server: signature, then claims.

    ``jwks`` are the keys given; ``remote`` adds the keys of a configured JWKS URL, fetched when
    needed. ``audience=None`` skips the ``aud`` check, ``check_exp=False`` the ``exp`` check and
    ``accept_alg_none`` the signature of ``alg: none`` tokens: they exist only for the
    reference's named faults.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks: Mapping[str, Any] | None,
        audience: str | None,
        algorithms: Collection[str],
        leeway: int = 30,
        accept_alg_none: bool = False,
        check_exp: bool = True,
        leniency: Leniency | None = None,
        remote: KeySource | None = None,
    ) -> None:
        check_signature_algorithms(algorithms)
        if not jwks and remote is None:
            raise ValueError("a verifier needs trusted keys: a JWKS, a JWKS URL or both")
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self.algorithms, self.accept_alg_none = frozenset(algorithms), accept_alg_none
        self.check_exp, self.lenient = check_exp, leniency or Leniency()
        given = KeySet.import_key_set(dict(jwks)).keys if jwks else []  # type: ignore[arg-type]
        self.given_keys: list[Key] = list(given)
        if any(key.key_type not in _KEY_TYPES.values() for key in self.given_keys):
            raise ValueError("the trusted JWKS may hold only EC and RSA keys (no 'oct' secrets)")
        self.remote = remote

    def trusted_keys(self) -> list[Key]:
        """The given keys and, with a JWKS URL, its cached (or freshly fetched) keys."""
        return self.given_keys + (self.remote.current_keys() if self.remote else [])

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token whose signature, issuer, audience and times are valid."""
        _header, claims = self._verified_parts(token)
        self._check_issuer_audience(claims)
        self._check_times(claims)
        return claims

    def check_client(self, claims: Mapping[str, Any], *, client_id: str | None, subject: str | None) -> None:
        """The token was issued to this EEC (``client_id``) for its GPSI (``sub``); ``None`` skips one (a fault)."""
        if client_id is not None and claims.get("client_id") != client_id:
            raise InvalidToken("client_id is missing or is not the authenticated EEC")
        if subject is not None and claims.get("sub") != subject:
            raise InvalidToken("sub is missing or is not the GPSI of the request")

    @staticmethod
    def scopes(claims: Mapping[str, Any]) -> set[str]:
        """The scope claim's space-separated values; a non-string scope grants nothing."""
        scope = claims.get("scope")
        return set(scope.split(" ")) if isinstance(scope, str) else set()

    def _verified_parts(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("the token is too long")
        segments = token.split(".")
        if len(segments) != 3 or not all(_B64URL.fullmatch(segment) for segment in segments):
            if self.lenient.crash_on_malformed:  # fault ees.500-on-malformed-token
                raise RuntimeError("token parser crashed")
            raise InvalidToken("not a JWS compact serialization")
        try:
            header, claims = _json_object(segments[0], "header"), _json_object(segments[1], "payload")
        except InvalidToken:
            if self.lenient.crash_on_malformed:
                raise RuntimeError("token parser crashed") from None
            raise
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise InvalidToken("the header has no alg")
        if self.accept_alg_none and alg.lower() == "none":
            return header, claims  # fault ees.accepts-alg-none
        if self.lenient.skip_signature:  # fault ees.ignores-signature
            return header, claims
        if self.lenient.hmac_with_public_key and alg.startswith("HS"):
            self._check_hmac_with_public_key(token, alg)  # fault ees.accepts-hs256-with-public-key
            return header, claims
        if self.lenient.embedded_jwk and isinstance(header.get("jwk"), dict):
            self._check_with_foreign_keys(token, alg, [JWKRegistry.import_key(header["jwk"])])
            return header, claims  # fault ees.trusts-embedded-jwk
        if self.lenient.fetch_jku and isinstance(header.get("jku"), str):
            _fetch_jwks(header["jku"])  # fault ees.fetches-jku: fetched (an SSRF), then not trusted
        if alg not in self.algorithms:
            raise InvalidToken(f"alg {alg} is not accepted")
        if "crit" in header:  # RFC 7515 4.1.11: we understand no extension
            raise InvalidToken("critical header extensions are not supported")
        self._check_signature(token, header, alg)
        return header, claims

    def _check_signature(self, token: str, header: Mapping[str, Any], alg: str) -> None:
        for key in self._candidate_keys(header, alg):
            try:
                jws.deserialize_compact(token, key, algorithms=[alg])
                return
            except (JoseError, ValueError, TypeError):
                continue
        raise InvalidToken("the signature does not verify with a trusted key")

    def _check_hmac_with_public_key(self, token: str, alg: str) -> None:
        signing_input, _, signature = token.rpartition(".")
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(alg)
        if digest is None:
            raise InvalidToken(f"alg {alg} is not accepted")
        for key in self.trusted_keys():
            if not isinstance(key, ECKey | RSAKey):
                continue
            mac = hmac.new(key.as_pem(private=False), signing_input.encode("ascii"), digest).digest()
            if hmac.compare_digest(base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), signature):
                return
        raise InvalidToken("the signature does not verify with a trusted key")

    def _check_with_foreign_keys(self, token: str, alg: str, keys: list[Key]) -> None:
        for key in keys:
            try:
                jws.deserialize_compact(token, key, algorithms=[alg])
                return
            except (JoseError, ValueError, TypeError):
                continue
        raise InvalidToken("the signature does not verify")

    def _candidate_keys(self, header: Mapping[str, Any], alg: str) -> list[Key]:
        """Trusted keys of the algorithm's type, narrowed to the ``kid`` when there is one."""
        key_type = _KEY_TYPES[alg[:2]]
        if "kid" not in header or self.lenient.ignore_kid:
            return [key for key in self.trusted_keys() if key.key_type == key_type]
        kid = header["kid"]
        if not isinstance(kid, str):
            raise InvalidToken("kid is not a string")
        given = [key for key in self.given_keys if key.key_type == key_type and key.kid == kid]
        if given:  # a configured key: the JWKS URL, if any, is not fetched for it
            return given
        named = [key for key in self.trusted_keys() if key.key_type == key_type and key.kid == kid]
        if not named and self.remote is not None:  # the issuer may have rotated its key: fetch again (rate-limited)
            named = [k for k in self.remote.refresh_for_unknown_kid() if k.key_type == key_type and k.kid == kid]
        if not named:
            raise InvalidToken("kid does not name a trusted key")
        return named

    def _check_issuer_audience(self, claims: Mapping[str, Any]) -> None:
        iss = claims.get("iss")
        if self.lenient.issuer_match == "loose" and isinstance(iss, str):  # fault ees.loose-iss-match
            if _loose(iss) != _loose(self.issuer):
                raise InvalidToken("iss is not the trusted ECS")
        elif iss != self.issuer:
            raise InvalidToken("iss is missing or is not the trusted ECS")
        if self.audience is None:  # fault ees.ignores-aud
            return
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if self.audience not in audiences:
            raise InvalidToken("aud is missing or does not name this EES")

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = time.time()
        for name in ("exp", "nbf", "iat"):
            if name in claims and not _is_number(claims[name]):
                raise InvalidToken(f"{name} is not a number")
        if not self.check_exp:  # fault ees.accepts-expired-token
            pass
        elif "exp" not in claims:
            if self.lenient.require_exp:
                raise InvalidToken("exp is missing")
        elif now >= claims["exp"] + self.leeway:
            raise InvalidToken("the token has expired")
        if self.lenient.check_nbf and "nbf" in claims and claims["nbf"] > now + self.leeway:
            raise InvalidToken("the token is not valid yet (nbf)")


def _loose(issuer: str) -> str:
    return issuer.lower().removeprefix("https://").removeprefix("http://").rstrip("/").rstrip(".")


def _fetch_jwks(url: str) -> None:
    """What a sloppy EES does with ``jku``: fetch it (no certificate check), e.g. to warm a key cache."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, verify=False, timeout=2.0)  # the fault itself


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def strict_json(raw: bytes | str) -> Any:
    """``json.loads`` refusing what RFC 8259 does not allow but Python does (NaN, Infinity):
    a NaN ``exp`` would compare false against the clock and never expire."""
    return json.loads(raw, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = strict_json(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, RecursionError):
        raise InvalidToken(f"the {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the {what} is not a JSON object")
    return value
