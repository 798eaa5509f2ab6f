"""The target declaration (PICS/PIXIT): what a vendor says about the ECS or EES under test.

These are plain frozen data; :mod:`conformance.targets.config` builds them from a TOML file
and is the only place that knows the file format. Paths are absolute once loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Role = Literal["ecs", "ees"]
ClientAuth = Literal["mutual-certificate", "server-certificate", "psk"]
Authorization = Literal["token", "local"]
EecRole = Literal["authorized", "unauthorized", "second"]
HttpVersion = Literal["2", "1.1"]
PskHash = Literal["sha256", "sha384"]
PskTlsVersion = Literal["1.3", "1.2"]
HTTP_VERSIONS: tuple[HttpVersion, ...] = ("2", "1.1")
ALPN_IDS: dict[HttpVersion, str] = {"2": "h2", "1.1": "http/1.1"}
"""The ALPN protocol ID (RFC 7301) that offers each HTTP version over TLS."""
FUZZ_SEED = 33558
"""The seed of the generated bad requests (ROB-01) when the declaration gives none: fixed, so
two runs against one target send the same requests."""
FUZZ_EXAMPLES = 12
MAX_FUZZ_EXAMPLES = 100
MAX_CONCURRENT_CONNECTIONS = 200
"""The most connections the concurrency cases open at once, whatever a target allows."""


@dataclass(frozen=True)
class EecIdentity:
    """An EEC the target knows: its EEC ID, its GPSI, and what local policy makes of it.

    ``authorized``: authenticated and authorized. ``unauthorized``: authenticated (the target
    trusts its certificate) but not authorized by local policy. ``second``: another authorized
    EEC, for cross-EEC cases (a GPSI or token belonging to someone else).
    """

    role: EecRole
    eec_id: str
    gpsi: str
    cert: Path | None = None
    """Vendor-provided client certificate chain (PEM); ``None`` when the harness issues it."""
    key: Path | None = None
    key_passphrase_env: str | None = None
    """The environment variable that holds the passphrase of an encrypted ``key``."""
    key_passphrase: bytes | None = field(default=None, repr=False)
    """Its value, read when the declaration loads; never written back to a declaration."""
    oauth_key: Path | None = None
    """The private key (PEM) of the EEC as an OAuth client at the token endpoint, whose public half
    the ECS registered: it signs ``private_key_jwt`` assertions, and is the key of ``oauth_cert``.
    Default for ``private_key_jwt``: ``key`` (the vendor TLS client certificate's key)."""
    oauth_cert: Path | None = None
    """``self_signed_tls_client_auth``: the self-signed certificate (PEM) the ECS registered for
    this EEC, presented in TLS to the token endpoint with ``oauth_key``."""


@dataclass(frozen=True)
class CandidateEes:
    """An EES the ECS offers, as the ECS is configured (TS 33.558 6.2 first sentence)."""

    ees_id: str
    fqdn: str
    service_names: tuple[str, ...]
    authorization: Authorization
    token_pointer: str | None = None
    """Response binding: a JSON Pointer (RFC 6901) from the root of the ECSServProvResp to this
    EES's token, instead of ``token_delivery.member`` in its EESInfo."""


TokenClientAuth = Literal[
    "tls_client_auth",
    "self_signed_tls_client_auth",
    "private_key_jwt",
    "client_secret_basic",
    "client_secret_post",
]
TOKEN_CLIENT_AUTHS: tuple[TokenClientAuth, ...] = TokenClientAuth.__args__  # type: ignore[attr-defined]
"""OAuth client authentication at the token endpoint: RFC 8705 2.1 and 2.2 (the TLS client
certificate, CA-issued or self-signed and registered), RFC 7523 2.2 / OIDC Core 9 (a JWT the
client signs with its registered key), RFC 6749 2.3.1 (a client secret)."""


@dataclass(frozen=True)
class TokenDelivery:
    """How the ECS hands EES access tokens to the EEC: no released schema carries them.

    ``response``: inside ECSServProvResp, at ``member`` (a dotted path) of each EESInfo in
    ``ednCnfgInfo[].eess[]``. ``token-endpoint``: an OAuth 2.0 client-credentials token
    endpoint at ``token_url``, the EEC authenticating with its TLS client certificate.
    """

    binding: Literal["response", "token-endpoint"]
    member: str = "accessToken"
    token_url: str | None = None
    client_auth: TokenClientAuth = "tls_client_auth"
    """The client authentication of every token request the suite makes."""
    other_client_auths: tuple[TokenClientAuth, ...] = ()
    """Further methods the token endpoint accepts from the same EECs: each is checked once."""
    assertion_alg: str | None = None
    """``private_key_jwt``: the JWS algorithm of the client assertion; default: the key's own
    (ES256 for P-256, RS256 for RSA)."""
    client_id: str | None = None
    """The OAuth client ID; default: the EEC ID of the requesting EEC."""
    client_secret_env: str | None = None
    """The environment variable holding the client secret (``client_secret_basic``/``_post``)."""
    select: Literal["resource", "scope", "audience"] = "resource"
    """How a token request names its EES: ``resource`` (RFC 8707), ``scope`` or ``audience``."""
    server_name: str | None = None
    """SNI and certificate name of the token endpoint; default: the target FQDN when the endpoint
    is at ``base_url``'s host and port, otherwise the host of ``token_url``."""
    trust_anchor: Path | None = None
    """The CA that signs the token endpoint's certificate; default: the target's trust anchor."""

    @property
    def client_auths(self) -> tuple[TokenClientAuth, ...]:
        """Every declared client authentication method, ``client_auth`` first."""
        return (self.client_auth, *self.other_client_auths)


@dataclass(frozen=True)
class TokenKeys:
    """Where the public keys that verify the ECS's tokens are published."""

    jwks_file: Path | None = None
    jwks_url: str | None = None


@dataclass(frozen=True)
class TrustedIssuer:
    """The token issuer an EES trusts, played by the harness's fake ECS.

    ``harness``: the harness signs with the issuer key in its material directory, which the
    vendor provisions (``issuer.jwks.json`` from ``conformance pki export``). ``vendor``: the
    vendor gives the private key (``key``, PEM or JWK) its EES already trusts.
    """

    source: Literal["harness", "vendor"]
    issuer: str
    key: Path | None = None
    kid: str | None = None
    algorithm: str = "ES256"
    lifetime: int = 300
    key_passphrase_env: str | None = None
    """The environment variable that holds the passphrase of an encrypted PEM ``key``."""
    key_passphrase: bytes | None = field(default=None, repr=False)
    """Its value, read when the declaration loads; never written back to a declaration."""
    jwks_port: int | None = None
    """A loopback port on which the harness serves the issuer's JWKS and RFC 8414 metadata (HTTPS)."""


@dataclass(frozen=True)
class PskConfig:
    """An external PSK the target accepts for TLS (TS 33.558 6.2: PSK-based TLS, ECS-TLS-07).

    AKMA (TS 33.535) gives the EEC and the ECS K_AF, GBA (TS 33.220) Ks_(ext)_NAF; the vendor
    provisions one such key and its identity (the A-KID or B-TID) for the harness. The key comes
    from ``key_env`` (an environment variable) or ``key_file``, as hex, read when the declaration
    loads; it is never written back to a declaration nor into evidence.
    """

    identity: str
    key_env: str | None = None
    key_file: Path | None = None
    hash: PskHash = "sha256"
    """The hash bound to the PSK (RFC 8446 4.2.11): the server picks a cipher suite with this hash."""
    port: int | None = None
    """The port of a listener that serves PSK-based TLS; ``None``: the port of ``base_url``."""
    tls_version: PskTlsVersion = "1.3"
    key: bytes = field(default=b"", repr=False)
    """The key itself, read from ``key_env`` or ``key_file``."""


@dataclass(frozen=True)
class Deviation:
    """A requirement the vendor declares the target does not meet, and why."""

    requirement: str
    reason: str


@dataclass(frozen=True)
class TargetConfig:
    """One ECS or EES under test."""

    file: Path
    name: str
    role: Role
    base_url: str
    """The ``{apiRoot}`` of the EDGE-4 (ECS) or EDGE-1 (EES) APIs, ``https://host:port``."""
    fqdn: str
    """The name the server is known by: SNI, server certificate name, token ``iss``/``aud``."""
    trust_anchor: Path
    client_auth: ClientAuth
    eecs: tuple[EecIdentity, ...]
    client_certs: Literal["harness", "vendor"] = "harness"
    harness_material: Path | None = None
    """Directory written by ``conformance pki export``; ``None``: a throwaway one per run."""
    fuzz_seed: int = FUZZ_SEED
    """Seeds the schema-invalid requests the robustness cases (ROB-01) draw from the OpenAPI."""
    fuzz_examples: int = FUZZ_EXAMPLES
    """How many schema-invalid requests each robustness case draws and sends."""
    timeout: float = 5.0
    http_versions: tuple[HttpVersion, ...] = HTTP_VERSIONS
    """The HTTP versions the target speaks, preferred first; each is offered alone (its ALPN ID
    only), so a negative TLS case and its positive controls speak exactly the same transport."""
    deviations: tuple[Deviation, ...] = ()
    request_template: Path | None = None
    """Optional JSON body the harness starts every ECSServProvReq / EECRegistration from."""
    psk: PskConfig | None = None
    """An external PSK the ECS accepts (``[target.psk]``); ``None``: none declared (ECS-TLS-07 N/A)."""
    concurrent_connections: int | None = None
    """How many connections the target lets the harness open at the same moment, for the concurrency
    cases (one token on many connections, registration races); ``None``: not declared, they are N/A."""
    # ECS only
    candidate_ees: tuple[CandidateEes, ...] = ()
    token_delivery: TokenDelivery | None = None
    token_keys: TokenKeys | None = None
    max_token_lifetime: int = 3600
    # EES only
    authorization: Authorization | None = None
    service_names: tuple[str, ...] = ()
    trusted_issuer: TrustedIssuer | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def deviation(self, requirement: str) -> Deviation | None:
        return next((d for d in self.deviations if d.requirement == requirement), None)

    def deviation_reasons(self) -> dict[str, str]:
        """The declared deviations: requirement ID -> reason."""
        return {d.requirement: d.reason for d in self.deviations}
