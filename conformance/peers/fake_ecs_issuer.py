"""The harness playing the ECS: it mints the EES access tokens an EES under test must judge.

TS 33.558 6.2 fixes the token profile: an OAuth 2.0 bearer token, a JWT (RFC 7519) signed
as a JWS (RFC 7515), whose claims carry the ECS FQDN (``iss``), the EEC ID (``client_id``),
the GPSI (``sub``), the expected EES service names (``scope``), the EES FQDN (``aud``) and
an expiration time (``exp``). The issuer adds what RFC 9068 and RFC 8725 recommend: ``iat``,
``jti``, and the header members ``typ: at+jwt`` and ``kid``.

One noun, one common path, every deviation a keyword::

    issuer = TokenIssuer.generate(issuer="ecs.example")
    good = issuer.token(eec_id="eec-1", gpsi="msisdn-1", audience="ees.example", scope=["svc"])
    expired = issuer.token(..., exp=1)                 # replace a claim
    no_aud = issuer.token(..., omit=("aud",))          # remove a claim
    claims = issuer.claims_for(...)
    foreign = issuer.mint(claims, key=other_key)       # signed by a key the EES must not trust

Tokens joserfc refuses to mint (``alg: none``, HMAC keyed with a public key, zero ECDSA
signatures, ...) live in :mod:`conformance.peers.forged_tokens`.
"""

from __future__ import annotations

import enum
import json
import time
import uuid
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey

from conformance.errors import PeerError
from conformance.files import Invalid, read_regular_file

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "SigningKey",
    "TokenIssuer",
    "algorithm_misfit",
    "as_signing_key",
    "default_algorithm",
    "describe_key",
    "sign",
]

ACCESS_TOKEN_TYPE: Final = "at+jwt"
"""The ``typ`` of a JWT access token (RFC 9068 2.1; the ``application/`` prefix is omitted)."""

_EC_ALGORITHMS: Final = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}

SigningKey = ECKey | RSAKey | OKPKey
"""The key types an ECS can sign with: asymmetric, so the EES needs only the public part."""


class _Default(enum.Enum):
    KID = "the issuer's kid"


def default_algorithm(key: Key) -> str:
    """The signature algorithm that naturally goes with ``key``: ES256/384/512 by curve,
    RS256 for RSA (the one RFC 9068 2.1 requires), Ed25519 for an Ed25519 key (RFC 9864)."""
    if isinstance(key, ECKey):
        if key.curve_name in _EC_ALGORITHMS:
            return _EC_ALGORITHMS[key.curve_name]
    elif isinstance(key, RSAKey):
        return "RS256"
    elif isinstance(key, OKPKey) and key.curve_name in ("Ed25519", "Ed448"):
        return key.curve_name
    raise PeerError(f"no JWS signature algorithm for a {key.key_type} key {_describe(key)}")


def _describe(key: Key) -> str:
    curve = getattr(key, "curve_name", None)
    return f"(curve {curve})" if curve else ""


def describe_key(key: Key) -> str:
    """What kind of key this is, for messages: "an EC P-256 key", "a 2048-bit RSA key"."""
    if isinstance(key, RSAKey):
        return f"a {key.public_key.key_size}-bit RSA key"
    if isinstance(key, OKPKey):
        return f"an {key.curve_name} key"
    curve = getattr(key, "curve_name", None)
    return f"an {key.key_type} {curve} key" if curve else f"a {key.key_type} key"


def algorithm_misfit(key: Key, algorithm: str) -> str | None:
    """Why ``key`` cannot sign ``algorithm`` (joserfc's own check, as the issuer applies it), or None."""
    try:
        jws.JWSRegistry.algorithms[algorithm].check_key(key)
    except KeyError:
        return f"{algorithm!r} is not a JWS algorithm joserfc knows"
    except JoseError as err:
        return str(err.description or err)
    return None


def _generate(algorithm: str) -> SigningKey:
    curves: dict[str, Literal["P-256", "P-384", "P-521"]] = {
        "ES256": "P-256",
        "ES384": "P-384",
        "ES512": "P-521",
    }
    if algorithm in curves:
        return ECKey.generate_key(curves[algorithm])
    if algorithm[:2] in ("RS", "PS"):
        return RSAKey.generate_key(2048)
    if algorithm in ("EdDSA", "Ed25519"):
        return OKPKey.generate_key("Ed25519")
    raise PeerError(f"cannot generate a key for algorithm {algorithm!r}: use ES*, RS*, PS*, EdDSA or Ed25519")


def key_like(key: SigningKey) -> SigningKey:
    """A fresh key of the same family and size or curve as ``key``: it signs the same algorithms,
    but nobody has registered or trusted it."""
    if isinstance(key, RSAKey):
        return RSAKey.generate_key(key.public_key.key_size)
    if isinstance(key, OKPKey):
        return OKPKey.generate_key(key.curve_name)
    return ECKey.generate_key(key.curve_name)


def _import_pem(pem: bytes, password: bytes | None) -> SigningKey:
    # cryptography never prompts for a passphrase: without one, an encrypted key is a TypeError.
    try:
        native = load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as err:
        what = "a PEM private key that this passphrase decrypts" if password else "an unencrypted PEM private key"
        raise PeerError(f"not {what}: {err}") from None
    return as_signing_key(native)


def as_signing_key(native: PrivateKeyTypes) -> SigningKey:
    """The joserfc form of a cryptography private key; PeerError for a type no JWS algorithm uses."""
    if isinstance(native, ec.EllipticCurvePrivateKey):
        return ECKey.import_key(native)
    if isinstance(native, rsa.RSAPrivateKey):
        return RSAKey.import_key(native)
    if isinstance(native, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return OKPKey.import_key(native)
    raise PeerError(f"unsupported private key type {type(native).__name__}: use EC, RSA or Ed25519")


class TokenIssuer:
    """A fake ECS that signs EES access tokens with one asymmetric private key.

    ``kid`` defaults to the key's own ``kid`` or else its RFC 7638 thumbprint, so the same
    key always publishes the same ``kid``. ``algorithm`` defaults to the one that goes with
    the key (:func:`default_algorithm`). ``lifetime`` is the default ``exp - iat`` in seconds.
    """

    def __init__(
        self,
        key: Key,
        *,
        issuer: str,
        kid: str | None = None,
        algorithm: str | None = None,
        lifetime: int = 300,
    ) -> None:
        if not isinstance(key, SigningKey) or not key.is_private:
            # A symmetric or public-only key cannot play an ECS: the EES would need the
            # secret to verify, or we could not sign at all.
            raise PeerError("a token issuer needs an asymmetric private key (EC, RSA or OKP)")
        self.key: SigningKey = key
        self.issuer = issuer
        self.algorithm = algorithm or default_algorithm(key)
        self.kid: str = kid or key.kid or key.thumbprint()
        self.lifetime = lifetime
        misfit = algorithm_misfit(key, self.algorithm)
        if misfit is not None:
            raise PeerError(
                f"key {_describe(key) or key.key_type} cannot sign {self.algorithm!r}: {misfit}; "
                f"set algorithm = {default_algorithm(key)!r}"
            )

    @classmethod
    def generate(
        cls, *, issuer: str, algorithm: str = "ES256", kid: str | None = None, lifetime: int = 300
    ) -> TokenIssuer:
        """A fresh issuer with a new key for ``algorithm`` (RSA keys are 2048 bits)."""
        return cls(_generate(algorithm), issuer=issuer, kid=kid, algorithm=algorithm, lifetime=lifetime)

    @classmethod
    def from_pem(
        cls,
        pem: bytes,
        *,
        issuer: str,
        kid: str | None = None,
        algorithm: str | None = None,
        lifetime: int = 300,
        password: bytes | None = None,
    ) -> TokenIssuer:
        """An issuer signing with a PEM private key (PKCS#8, SEC1 or PKCS#1), encrypted with ``password``."""
        return cls(_import_pem(pem, password), issuer=issuer, kid=kid, algorithm=algorithm, lifetime=lifetime)

    @classmethod
    def from_file(
        cls,
        path: Path | str,
        *,
        issuer: str,
        kid: str | None = None,
        algorithm: str | None = None,
        lifetime: int = 300,
        password: bytes | None = None,
    ) -> TokenIssuer:
        """An issuer from a PEM private key (encrypted with ``password``) or a private JWK (JSON) file.

        A JWK's own ``kid`` and ``alg`` are used unless ``kid``/``algorithm`` are given.
        """
        path = Path(path)
        try:
            data = read_regular_file(path)
        except Invalid as err:
            raise PeerError(f"{path}: cannot read the issuer key: it {err.problem}") from None
        if not data.lstrip().startswith(b"{"):
            try:
                return cls.from_pem(
                    data, issuer=issuer, kid=kid, algorithm=algorithm, lifetime=lifetime, password=password
                )
            except PeerError as err:
                raise PeerError(f"{path}: {err}") from None
        try:
            key = JWKRegistry.import_key(json.loads(data))
        except (ValueError, JoseError) as err:
            raise PeerError(f"{path}: not a usable JWK: {err}") from None
        return cls(key, issuer=issuer, kid=kid, algorithm=algorithm or key.alg, lifetime=lifetime)

    def claims_for(
        self,
        *,
        eec_id: str,
        gpsi: str,
        audience: str,
        scope: Iterable[str] | str,
        lifetime: int | None = None,
        now: int | None = None,
    ) -> dict[str, Any]:
        """The TS 33.558 6.2 claim set for one EEC and one EES, plus ``iat`` and ``jti``.

        ``scope`` is a list of EES service names, joined with spaces (RFC 6749 3.3, RFC 9068
        2.2.3); a string is taken as already joined. ``now`` pins the clock (Unix seconds).
        """
        if isinstance(scope, str):
            scope_value = scope
        else:
            names = list(scope)
            spaced = [name for name in names if not name or " " in name]
            if spaced:
                raise ValueError(f"a scope token is non-empty and has no spaces (RFC 6749 3.3): {spaced}")
            scope_value = " ".join(names)
        issued_at = int(time.time()) if now is None else now
        return {
            "iss": self.issuer,
            "client_id": eec_id,
            "sub": gpsi,
            "scope": scope_value,
            "aud": audience,
            "exp": issued_at + (self.lifetime if lifetime is None else lifetime),
            "iat": issued_at,
            "jti": str(uuid.uuid4()),
        }

    def mint(
        self,
        claims: Mapping[str, Any],
        *,
        header: Mapping[str, Any] | None = None,
        alg: str | None = None,
        kid: str | Literal[_Default.KID] | None = _Default.KID,
        key: Key | None = None,
    ) -> str:
        """Sign ``claims`` as a compact JWS, exactly as given (no claim is added or checked).

        The header is ``alg``, ``typ: at+jwt`` and ``kid``, then ``header`` on top (it may
        replace or add members). ``kid=None`` leaves ``kid`` out. ``key`` signs with another
        key, e.g. an attacker's; the issuer's ``kid`` is kept unless ``kid`` says otherwise,
        which is what an attacker would do to make the EES pick the trusted key.
        """
        signing_key = self.key if key is None else key
        algorithm = alg or (self.algorithm if key is None else default_algorithm(key))
        protected: dict[str, Any] = {"alg": algorithm, "typ": ACCESS_TOKEN_TYPE}
        chosen_kid = self.kid if kid is _Default.KID else kid
        if chosen_kid is not None:
            protected["kid"] = chosen_kid
        protected.update(header or {})
        payload = json.dumps(dict(claims), separators=(",", ":"), ensure_ascii=False).encode()
        return sign(protected, payload, signing_key)

    def token(
        self,
        *,
        eec_id: str,
        gpsi: str,
        audience: str,
        scope: Iterable[str] | str,
        omit: Iterable[str] = (),
        lifetime: int | None = None,
        **overrides: Any,
    ) -> str:
        """A signed token for the common path, with claims removed (``omit``) or replaced.

        ``issuer.token(..., omit=("aud",))`` drops ``aud``; ``issuer.token(..., aud="x")``
        replaces it; an override may also add a claim (``nbf=...``).
        """
        claims = self.claims_for(eec_id=eec_id, gpsi=gpsi, audience=audience, scope=scope, lifetime=lifetime)
        omitted = {omit} if isinstance(omit, str) else set(omit)
        if omitted & overrides.keys():
            raise ValueError(f"claims both omitted and overridden: {sorted(omitted & overrides.keys())}")
        unknown = omitted - claims.keys()
        if unknown:
            raise ValueError(f"cannot omit claims the token does not have: {sorted(unknown)}")
        claims.update(overrides)
        return self.mint({name: value for name, value in claims.items() if name not in omitted})

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS an EES is provisioned with: the public key only, with ``kid``, ``alg``, ``use``."""
        public = dict(self.key.as_dict(private=False))
        public.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"})
        return {"keys": [public]}

    def public_pem(self) -> bytes:
        """The public key as PEM (SubjectPublicKeyInfo), for EESes configured with a PEM file."""
        return self.key.as_pem(private=False)

    def __repr__(self) -> str:
        return f"TokenIssuer(issuer={self.issuer!r}, kid={self.kid!r}, algorithm={self.algorithm!r})"


def sign(header: Mapping[str, Any], payload: bytes, key: Key) -> str:
    """A compact JWS of ``payload`` with exactly ``header``, signed by ``key`` via joserfc.

    Used by the issuer and by the forgeries that need a real signature. Unknown header
    members are allowed (RFC 7515 4: ignore what you do not understand); joserfc's
    SecurityWarning for deliberately weak choices (``EdDSA``, ``none``) is silenced here,
    because the test chose them.
    """
    alg = header.get("alg")
    registry = jws.JWSRegistry(algorithms=[str(alg)], strict_check_header=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            return jws.serialize_compact(dict(header), payload, key, registry=registry)
    except (JoseError, ValueError) as err:
        raise PeerError(f"cannot sign with alg {alg!r} and a {key.key_type} key: {err}") from None
