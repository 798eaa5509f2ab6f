"""The target as a test sees it: the declaration, the peers bound to it, the operations.

A test gets an :class:`EcsUnderTest` (fixture ``ecs``) or an :class:`EesUnderTest` (fixture
``ees``), bound to one transport (the HTTP version and ALPN the case speaks). They set up peers
(a fake EEC with a chosen identity and certificate, the fake ECS token issuer), perform the
EDGE-4 / EDGE-1 operations and record every exchange in the case's evidence log. They never
judge: that is what :mod:`conformance.checks` is for. Suites use what is here and never read the
declaration themselves, so one suite runs against any target file.

This module sits above :mod:`conformance.peers` and :mod:`conformance.targets`: it binds peers
to a declared target, and neither of those imports it.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import hashlib
import json
import os
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from authlib.oauth2.auth import ClientAuth as OAuthClientAuth
from authlib.oauth2.rfc6749 import OAuth2Token
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization

from conformance.checks import schema
from conformance.errors import CheckFailed, ConfigError, HarnessError, Inconclusive, NotApplicable, PeerError
from conformance.evidence import EvidenceLog, HttpExchange, TokenFacts
from conformance.files import read_regular_file
from conformance.issued_tokens import JwksError, load_jwks, token_facts, verify_signature
from conformance.peers import bad_requests
from conformance.peers.credentials import CertVariant, CredentialFactory, FileCredential, self_signed_like
from conformance.peers.eec import ClientCredential, ContextCache, FakeEEC, WireCounter
from conformance.peers.fake_ecs_issuer import SigningKey, TokenIssuer, as_signing_key, default_algorithm, key_like
from conformance.peers.material import HarnessMaterial
from conformance.targets import edge_apis
from conformance.targets.model import (
    ALPN_IDS,
    TOKEN_CLIENT_AUTHS,
    CandidateEes,
    EecIdentity,
    EecRole,
    HttpVersion,
    TargetConfig,
    TokenClientAuth,
    TokenDelivery,
)

if TYPE_CHECKING:
    from conformance.peers.psk import PskAttempt

__all__ = [
    "CAPABILITIES",
    "CONTROL_STATUS",
    "TOKEN_CLIENT_AUTHS",
    "EcsUnderTest",
    "EesUnderTest",
    "Peers",
    "TargetUnderTest",
    "not_applicable_because",
    "positive_control",
]

CONTROL_STATUS = {"ecs": 200, "ees": 201}
"""What the positive control must get: the ECSServProvResp, the created EECRegistration."""

_ROLE_SECTIONS = {
    "unauthorized": 'an [[eec]] with role = "unauthorized" (its certificate trusted, local policy refusing it)',
    "second": 'an [[eec]] with role = "second" (another authorized EEC)',
    "authorized": 'an [[eec]] with role = "authorized"',
}


@dataclass
class Peers:
    """The peer material for one target, shared by all its cases in a run."""

    material: HarnessMaterial
    credentials: CredentialFactory
    issuer: TokenIssuer | None = None
    counter: WireCounter = field(default_factory=WireCounter)
    contexts: ContextCache = field(default_factory=ContextCache)
    oauth_certs: dict[str, FileCredential] = field(default_factory=dict)
    """The registered self-signed certificate of each EEC (``oauth_cert``), by EEC ID: one TLS context each."""


def _mutual_tls(config: TargetConfig) -> str | None:
    if config.client_auth == "mutual-certificate":
        return None
    return f"declares client_auth = '{config.client_auth}'; this case needs mutual certificate authentication"


def _authorization(mode: str) -> Callable[[TargetConfig], str | None]:
    def check(config: TargetConfig) -> str | None:
        return None if config.authorization == mode else f"declares {config.authorization} authorization, not {mode}"

    return check


def _token_based_candidate(config: TargetConfig) -> str | None:
    if any(ees.authorization == "token" for ees in config.candidate_ees):
        return None
    return "declares no token-based candidate EES (ecs.candidate_ees), so it issues no tokens"


def _local_candidate(config: TargetConfig) -> str | None:
    if any(ees.authorization == "local" for ees in config.candidate_ees):
        return None
    return "declares no local-policy candidate EES (ecs.candidate_ees)"


def _token_endpoint(config: TargetConfig) -> str | None:
    delivery = config.token_delivery
    if delivery is not None and delivery.binding == "token-endpoint":
        return None
    return 'declares no OAuth 2.0 token endpoint (ecs.token_delivery.binding = "token-endpoint")'


def _psk_declared(config: TargetConfig) -> str | None:
    if config.psk is not None:
        return None
    return "declares no [target.psk] (the PSK identity and key for PSK-based TLS)"


def _concurrency_declared(config: TargetConfig) -> str | None:
    if config.concurrent_connections is not None:
        return None
    return "declares no [target] concurrent_connections (how many connections it accepts at the same moment)"


def _client_auth_is(mode: str) -> Callable[[TargetConfig], str | None]:
    def check(config: TargetConfig) -> str | None:
        return None if config.client_auth == mode else f"declares client_auth = '{config.client_auth}', not '{mode}'"

    return check


CAPABILITIES: dict[str, Callable[[TargetConfig], str | None]] = {
    "mutual-tls": _mutual_tls,
    "token-authorization": _authorization("token"),
    "local-authorization": _authorization("local"),
    "token-issuance": _token_based_candidate,
    "local-candidate": _local_candidate,
    "token-endpoint": _token_endpoint,
    "server-certificate-only": _client_auth_is("server-certificate"),
    "psk": _psk_declared,
    "concurrency": _concurrency_declared,
}
"""What a case can need (``@pytest.mark.needs(NAME)``): each says why a declaration lacks it, or None."""


def not_applicable_because(config: TargetConfig, needs: list[str]) -> str | None:
    """Why a case needing ``needs`` is N/A on ``config`` (from the declaration alone), or None."""
    for name in needs:
        reason = CAPABILITIES[name](config)
        if reason is not None:
            return f"target {config.name} {reason}"
    return None


class TargetUnderTest:
    """What both roles share: EEC identities, test data, fake EECs."""

    request_schema: str
    """The schema of the role's main request body (a :data:`.checks.schema.SCHEMAS` alias)."""

    def __init__(
        self, config: TargetConfig, peers: Peers, evidence: EvidenceLog, transport: HttpVersion | None = None
    ) -> None:
        self.config = config
        self.peers = peers
        self.evidence = evidence
        self.transport: HttpVersion = transport or config.http_versions[0]

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def fqdn(self) -> str:
        """The name the target is known by: SNI, its certificate, ``iss`` or ``aud`` of tokens."""
        return self.config.fqdn

    @property
    def role(self) -> str:
        return self.config.role

    def identity(self, role: EecRole = "authorized") -> EecIdentity:
        """The declared EEC with this role; INCONCLUSIVE (missing test data) when there is none."""
        for identity in self.config.eecs:
            if identity.role == role:
                return identity
        raise Inconclusive(
            f"missing test data: declare {_ROLE_SECTIONS[role]} in {self.config.file.name} ([[eec]] section)"
        )

    def foreign_gpsi(self) -> str:
        """A GPSI of valid form that is not the authorized EEC's: the second EEC's, or one made up."""
        for identity in self.config.eecs:
            if identity.role == "second":
                return identity.gpsi
        declared = {e.gpsi for e in self.config.eecs}
        seed = int(hashlib.sha256(self.config.name.encode()).hexdigest()[:8], 16)
        for attempt in range(100):
            candidate = f"msisdn-4917099{(seed + attempt) % 10**6:06d}"
            if candidate not in declared:
                self.evidence.note("test data", f"made-up GPSI {candidate}: belongs to no declared EEC")
                return candidate
        raise Inconclusive('missing test data: declare an [[eec]] with role = "second"')  # pragma: no cover

    def foreign_eec_id(self) -> str:
        """An EEC ID that is not the authorized EEC's: the second EEC's, or one made up."""
        for identity in self.config.eecs:
            if identity.role == "second":
                return identity.eec_id
        declared = {e.eec_id for e in self.config.eecs}
        candidate = next(f"eec-made-up-{n}" for n in range(len(declared) + 1) if f"eec-made-up-{n}" not in declared)
        self.evidence.note("test data", f"made-up EEC ID {candidate}: belongs to no declared EEC")
        return candidate

    def eec(
        self,
        role: EecRole = "authorized",
        *,
        cert: CertVariant = "valid",
        tls_version: ssl.TLSVersion | None = None,
    ) -> FakeEEC:
        """A fake EEC acting as the ``role`` identity, presenting the ``cert`` variant, over this case's transport."""
        credential = self.peers.credentials.for_eec(self.identity(role), cert)
        if cert != "valid":
            self.evidence.note("deliberately broken", f"the EEC presents client certificate variant '{cert}'")
        return FakeEEC(
            base_url=self.config.base_url,
            server_name=self.config.fqdn,
            trust_anchor=self.config.trust_anchor,
            credential=credential,
            evidence=self.evidence,
            timeout=self.config.timeout,
            alpn=(ALPN_IDS[self.transport],),
            tls_version=tls_version,
            label=f"EEC {role}, {cert} certificate, HTTP/{self.transport}",
            counter=self.peers.counter,
            contexts=self.peers.contexts,
        )

    def request_as(self, eec: FakeEEC, *, label: str = "") -> HttpExchange:
        """The role's main operation, sent by ``eec`` as the authorized EEC would send it."""
        raise NotImplementedError

    def body(self, role: EecRole = "authorized", **members: Any) -> dict[str, Any]:
        """The request body the harness would send for ``role`` (``members`` override; None removes)."""
        return edge_apis.request_body(self.config, self.identity(role), **members)

    def explicit_bad_body(self, name: str) -> tuple[str, bytes]:
        """A hand-picked malformed body (:func:`.bad_requests.explicit`): (what is broken, body)."""
        return bad_requests.explicit(name, self.body())

    def fuzz_origin(self) -> str:
        """Where :meth:`generated_bad_bodies` come from: generator, seed, count (the same draw them again)."""
        seed, count = self.config.fuzz_seed, self.config.fuzz_examples
        return (
            f"schema-invalid {self.request_schema} bodies drawn by {bad_requests.generator()} "
            f"with seed {seed}, {count} of them ([harness] fuzz_seed = {seed}, fuzz_examples = {count})"
        )

    def generated_bad_bodies(self) -> list[bad_requests.BadBody]:
        """The schema-invalid bodies schemathesis draws for this role's request schema, seeded and
        bounded by the declaration, each made the authorized EEC's (:func:`.bad_requests.for_eec`)."""
        seed, count, schema_name = self.config.fuzz_seed, self.config.fuzz_examples, self.request_schema
        eec = self.identity()
        drawn, bodies = _still_invalid_for_eec(schema_name, seed, count, eec.eec_id, eec.gpsi)
        self.evidence.note(
            "deliberately broken",
            f"{self.fuzz_origin()}: {drawn} drawn, {len(bodies)} still invalid with the EEC's own "
            "eecId and ueId, and sent",
        )
        if not bodies:
            raise Inconclusive(f"missing test data: seed {seed} drew no body that stays invalid; change fuzz_seed")
        return list(bodies)

    def at_once(self, send: Callable[[FakeEEC, str], HttpExchange]) -> list[HttpExchange]:
        """``send(eec, label)`` by as many fake EECs (the authorized identity, its valid certificate)
        as the target allows connections at once (``concurrent_connections``), each on its own fresh
        connection from its own thread, released together so that the connections are open at the
        same moment. The exchanges in the EECs' order; each is bounded by its own deadline."""
        count = self.config.concurrent_connections
        if count is None:
            raise NotApplicable(f"target {self.name} {_concurrency_declared(self.config)}")
        self.evidence.note("test data", f"{count} connections of the authorized EEC at the same moment")
        eecs = [self.eec() for _ in range(count)]
        start = threading.Barrier(count)
        exchanges: list[HttpExchange | None] = [None] * count
        failures: list[BaseException] = []

        def one(index: int) -> None:
            with contextlib.suppress(threading.BrokenBarrierError):  # a slow thread start: go anyway
                start.wait(timeout=self.config.timeout)
            try:
                exchanges[index] = send(eecs[index], f"connection {index + 1} of {count}")
            except BaseException as exc:  # a harness error: raised below, in the case's thread
                failures.append(exc)

        threads = [threading.Thread(target=one, args=(i,), name=f"eec-at-once-{i + 1}") for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=eecs[0].deadline + self.config.timeout)
        if failures:
            raise failures[0]
        if any(thread.is_alive() for thread in threads) or None in exchanges:
            raise HarnessError(f"a concurrent exchange with {self.name} outlived its deadline")
        return [exchange for exchange in exchanges if exchange is not None]

    def measure(self, name: str, value: Any, unit: str = "") -> None:
        """Record a measured, implementation-defined fact (EES-TOK-13): reported, never judged."""
        self.evidence.measure(f"measured on {self.name}", name, value, unit)


@functools.lru_cache(maxsize=32)
def _still_invalid_for_eec(
    schema_name: str, seed: int, count: int, eec_id: str, gpsi: str | None
) -> tuple[int, list[bad_requests.BadBody]]:
    """How many bodies the seed draws, and those still schema-invalid once made this EEC's: once
    per process (validating them is most of a generated-bodies case's own work). Never modified."""
    drawn = bad_requests.draw(schema_name, seed=seed, count=count)
    mine = [bad_requests.for_eec(body, eec_id=eec_id, gpsi=gpsi) for body in drawn]
    return len(drawn), [body for body in mine if schema.validate(body.value, schema_name, max_errors=1)]


class EcsUnderTest(TargetUnderTest):
    """An ECS: the EDGE-4 service provisioning request and the tokens it issues."""

    request_schema = bad_requests.REQUEST_SCHEMAS["ecs"]

    def provision(
        self,
        eec: FakeEEC | None = None,
        *,
        role: EecRole = "authorized",
        gpsi: Any = edge_apis.OWN_GPSI,
        label: str = "",
        **members: Any,
    ) -> HttpExchange:
        """Send an ECSServProvReq for the ``role`` identity (``eecId``, ``ueId`` = its GPSI)."""
        body = edge_apis.request_body(self.config, self.identity(role), gpsi=gpsi, **members)
        sender = eec or self.eec(role)
        return sender.send(
            "POST",
            edge_apis.SERVICE_PROVISIONING_PATH,
            json=body,
            label=label or "service provisioning request (EDGE-4)",
        )

    def request_as(self, eec: FakeEEC, *, label: str = "") -> HttpExchange:
        return self.provision(eec, label=label)

    def provision_raw(
        self, content: bytes, *, content_type: str = "application/json", role: EecRole = "authorized", label: str = ""
    ) -> HttpExchange:
        """POST ``content`` as it is to the provisioning resource, as ``role`` (for malformed requests)."""
        return self.eec(role).send(
            "POST",
            edge_apis.SERVICE_PROVISIONING_PATH,
            content=content,
            headers={"Content-Type": content_type},
            label=label or "malformed service provisioning request (EDGE-4)",
        )

    def provision_with_psk(self, *, wrong: bool = False) -> PskAttempt:
        """The authorized EEC's ECSServProvReq over PSK-based TLS (``[target.psk]``, ECS-TLS-07),
        keyed by the declared PSK or, ``wrong``, by that key with every bit flipped (same identity)."""
        psk = self.config.psk
        if psk is None:
            raise NotApplicable(f"target {self.name} {_psk_declared(self.config)}")
        if psk.tls_version != "1.3":
            raise Inconclusive(
                f"target {self.name} declares PSK-based TLS {psk.tls_version} (target.psk.tls_version): the harness "
                "offers external PSKs in TLS 1.3 only (tlslite-ng has no RFC 4279 PSK cipher suites), so nothing "
                "was observed"
            )
        from conformance.peers.psk import PskPeer, wrong_key  # tlslite-ng takes ~0.1 s to import: PSK cases only

        url = httpx.URL(self.config.base_url)
        key, label = (wrong_key(psk.key), "wrong key") if wrong else (psk.key, "declared key")
        if wrong:
            self.evidence.note("deliberately broken", "the PSK: the declared key with every bit flipped, same identity")
        peer = PskPeer(
            host=url.host,
            port=psk.port or url.port or 443,
            server_name=self.config.fqdn,
            identity=psk.identity,
            key=key,
            evidence=self.evidence,
            hash_name=psk.hash,
            timeout=self.config.timeout,
            label=label,
            counter=self.peers.counter,
        )
        return peer.post(
            edge_apis.SERVICE_PROVISIONING_PATH, self.body(), label="service provisioning request (EDGE-4)"
        )

    def issued_tokens(self, exchange: HttpExchange, *, role: EecRole = "authorized") -> dict[str, TokenFacts]:
        """The EES access tokens the ECS issued to ``role``, by ``eesId``, decoded as evidence.

        Response binding: read from ``exchange`` (a provisioning response). Token-endpoint binding:
        one client-credentials request per declared token-based candidate EES. A declared
        token-based EES without a token is the target's FAIL (ECS-TOK-01); a token whose place
        or form does not fit the declared binding is the declaration's ERROR.
        """
        delivery = self.config.token_delivery
        if delivery is None:
            raise NotApplicable(f"target {self.name} declares no token delivery (ecs.token_delivery)")
        if delivery.binding == "response":
            found = self._tokens_in_response(exchange)
        else:
            found = self._tokens_from_endpoint(role)
        facts = {ees_id: token_facts(f"token for {ees_id}", tok) for ees_id, tok in found.items()}
        for fact in facts.values():
            self.evidence.add(fact)
        return facts

    def tokens_issued(self, *, role: EecRole = "authorized", verify: bool = False) -> dict[str, TokenFacts]:
        """Provision ``role`` and return the tokens for the declared token-based EESes (precondition:
        the provisioning request succeeds; every declared token-based EES gets its token).

        ``verify``: also verify each signature with the declared key set (:meth:`token_keys`),
        recorded in the facts (``verified``, ``problem``) and as a note naming the key. The
        server's clock, from the ``Date`` header of the response that delivered the tokens, is
        recorded and kept for :meth:`server_now`.
        """
        exchange = self.provision(role=role)
        if exchange.status != CONTROL_STATUS["ecs"]:
            raise Inconclusive(f"precondition failed: the service provisioning request got {exchange.summary()}")
        raw = self._issued_compact(exchange, role)
        self._measure_clock()
        keys = self.token_keys()[1] if verify else None
        issued: dict[str, TokenFacts] = {}
        for ees_id, compact in raw.items():
            verified: bool | None = None
            problem = ""
            if keys is not None:
                verified, problem = verify_signature(compact, keys)
                if verified:
                    self.evidence.note("verified", f"token for {ees_id}: {self._key_text(compact)}")
            fact = token_facts(f"token for {ees_id}", compact, verified=verified, problem=problem)
            self.evidence.add(fact)
            issued[ees_id] = fact
        for ees in self.config.candidate_ees:
            if ees.authorization == "token" and ees.ees_id not in issued:
                raise CheckFailed(
                    title=f"The ECS issued no access token for the token-based candidate EES {ees.ees_id}",
                    expected=f"a token for {ees.ees_id} ({self._binding_text()})",
                    actual=f"tokens for: {', '.join(sorted(issued)) or 'none'}",
                    requirement="ECS-TOK-01",
                )
        return issued

    def candidate(self, ees_id: str) -> CandidateEes:
        """The declared candidate EES ``ees_id`` (a token for an undeclared EES is the target's business)."""
        for ees in self.config.candidate_ees:
            if ees.ees_id == ees_id:
                return ees
        raise CheckFailed(
            title=f"The ECS issued a token for {ees_id!r}, which is no declared candidate EES",
            expected=f"tokens only for {', '.join(e.ees_id for e in self.config.candidate_ees)}",
            actual=f"a token for {ees_id!r}",
            requirement="ECS-CFG-01",
        )

    def candidates(self, authorization: str) -> tuple[CandidateEes, ...]:
        """The declared candidate EESes with this authorization method (``token`` or ``local``)."""
        return tuple(ees for ees in self.config.candidate_ees if ees.authorization == authorization)

    @property
    def max_token_lifetime(self) -> int:
        return self.config.max_token_lifetime

    @property
    def binding(self) -> str:
        """How the ECS delivers tokens: ``response`` or ``token-endpoint``."""
        delivery = self.config.token_delivery
        if delivery is None:
            raise NotApplicable(f"target {self.name} declares no token delivery (ecs.token_delivery)")
        return delivery.binding

    def server_now(self) -> float:
        """The ECS's clock now (local clock plus the offset measured from its last ``Date`` header)."""
        return time.time() + self._clock_offset

    _clock_offset: float = 0.0

    def _measure_clock(self) -> None:
        exchange = next((e for e in reversed(self.evidence.exchanges()) if e.answered), None)
        header = exchange.header("date") if exchange is not None else None
        local = time.time()
        try:
            server = email.utils.parsedate_to_datetime(header).timestamp() if header else None
        except (TypeError, ValueError):
            server = None
        if server is None:
            self._clock_offset = 0.0
            self.evidence.note(
                "clock", f"no usable Date header ({header!r}): the harness clock stands in for the ECS's"
            )
            return
        # Date has one-second resolution and names the second the response was made: the
        # offset is known to about a second, which the lifetime checks allow for.
        self._clock_offset = server - local
        self.evidence.note(
            "clock",
            f"ECS Date: {header}; harness clock {local:.3f}; offset {self._clock_offset:+.1f} s (resolution 1 s)",
        )

    def token_keys(self) -> tuple[dict[str, Any], Any]:
        """The declared key set that verifies the ECS's tokens: the document and its joserfc KeySet.

        ``jwks_file``: read from the file (unusable: the declaration's ERROR). ``jwks_url``:
        fetched as the authorized EEC over TLS verified with the declared trust anchor, bounded
        by the target's timeout and the EEC's body limit (unusable: the target's FAIL, ECS-TOK-03).
        """
        if self._keys is not None:
            return self._keys
        declared = self.config.token_keys
        if declared is None:
            raise NotApplicable(f"target {self.name} declares no token keys (ecs.token_keys)")
        if declared.jwks_file is not None:
            try:
                document = json.loads(declared.jwks_file.read_text("utf-8"))
                keyset = load_jwks(document)
            except (OSError, ValueError) as err:
                raise ConfigError(self.config.file, "ecs.token_keys.jwks_file", str(err), "give a JWKS file") from None
            self.evidence.note("token keys", f"declared key set file {declared.jwks_file.name}: {_kids(document)}")
        else:
            assert declared.jwks_url is not None
            exchange = self._eec_at(declared.jwks_url, "authorized").send(
                "GET", declared.jwks_url, label="the ECS's published key set (jwks_url)"
            )
            document = exchange.response_json
            try:
                if exchange.status != 200:
                    raise JwksError(f"got {exchange.summary()}")
                keyset = load_jwks(document)
            except JwksError as err:
                raise CheckFailed(
                    title="The declared jwks_url gives no usable key set to verify the ECS's tokens with",
                    expected=f"200 with a JWKS (RFC 7517 5) at {declared.jwks_url}",
                    actual=str(err),
                    requirement="ECS-TOK-03",
                ) from None
            self.evidence.note("token keys", f"fetched from {declared.jwks_url}: {_kids(document)}")
        self._keys = (document, keyset)
        return self._keys

    _keys: tuple[dict[str, Any], Any] | None = None

    def _key_text(self, compact: str) -> str:
        document, _ = self.token_keys()
        header = token_facts("", compact).header
        for key in document.get("keys", []):
            if isinstance(key, dict) and ("kid" not in header or key.get("kid") == header.get("kid")):
                return (
                    f"verified with kid {key.get('kid')!r} ({key.get('kty')}, {key.get('crv') or key.get('alg') or ''})"
                )
        return "verified"

    def request_token(
        self,
        ees: CandidateEes,
        *,
        role: EecRole = "authorized",
        grant_type: str = "client_credentials",
        label: str = "",
        method: TokenClientAuth | None = None,
        assertion_key: SigningKey | None = None,
        assertion_claims: dict[str, Any] | None = None,
        presented: ClientCredential | None = None,
    ) -> HttpExchange:
        """One token-endpoint request (RFC 6749 4.4) by ``role`` for ``ees``, built with authlib.

        The EES is named as declared (``ecs.token_delivery.select``): ``resource`` (RFC 8707,
        ``https://<fqdn>``, the default), ``audience`` (its FQDN) or ``scope`` alone; ``scope`` is
        always its service names. The client authenticates with ``method`` (default: the declared
        ``client_auth``), see :meth:`_client_auth`. The request goes over the fake EEC of ``role``
        (its certificate, this case's ALPN, timeouts, bounded reads, recorded as evidence), with
        SNI and certificate verification for the token endpoint's own host.

        Negative cases forge the client authentication: ``assertion_key`` signs the
        ``private_key_jwt`` assertion instead of the EEC's key, ``assertion_claims`` override its
        claims (``exp``...), and ``presented`` is the TLS client certificate instead of the EEC's.
        """
        delivery = self.config.token_delivery
        if delivery is None or delivery.token_url is None:
            raise NotApplicable(f"target {self.name} declares no token endpoint (ecs.token_delivery.token_url)")
        method = method or delivery.client_auth
        params: dict[str, str] = {"scope": " ".join(ees.service_names)}
        if delivery.select == "resource":
            params["resource"] = f"https://{ees.fqdn}"
        elif delivery.select == "audience":
            params["audience"] = ees.fqdn
        if grant_type == "client_credentials":
            body = prepare_token_request(grant_type, **params)
        else:  # a deliberately wrong grant: authlib would insist on that grant's own parameters
            body = urllib.parse.urlencode({"grant_type": grant_type, **params})
        auth = self._client_auth(delivery, method, role, assertion_key, assertion_claims)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        url, headers, body = auth.prepare("POST", delivery.token_url, headers, body)
        if presented is None and method == "self_signed_tls_client_auth":
            presented = self.registered_self_signed(role)
        return self._eec_at(url, role, presented).send(
            "POST",
            url,
            content=body.encode("ascii"),
            headers=dict(headers),
            label=label or f"token request for {ees.ees_id} (RFC 6749 4.4, grant_type={grant_type}, {method})",
        )

    def _client_auth(
        self,
        delivery: TokenDelivery,
        method: TokenClientAuth,
        role: EecRole,
        assertion_key: SigningKey | None,
        assertion_claims: dict[str, Any] | None,
    ) -> OAuthClientAuth:
        """authlib's client authentication for ``method``.

        ``tls_client_auth`` and ``self_signed_tls_client_auth`` (RFC 8705 2.1, 2.2): ``client_id``
        in the body, the certificate in TLS. ``private_key_jwt`` (RFC 7523 2.2, OIDC Core 9):
        authlib's :class:`PrivateKeyJWT` signs the assertion (``iss`` = ``sub`` = client ID, ``aud``
        = the token URL, ``jti``, ``exp``) with the EEC's registered key. ``client_secret_basic`` /
        ``client_secret_post`` (RFC 6749 2.3.1): the secret from the declared environment variable.
        """
        assert delivery.token_url is not None
        client_id = delivery.client_id or self.identity(role).eec_id
        if method in ("tls_client_auth", "self_signed_tls_client_auth"):
            return OAuthClientAuth(client_id, None, "none")
        if method == "private_key_jwt":
            key = assertion_key or self.assertion_key(role)
            algorithm = delivery.assertion_alg or default_algorithm(key)
            signer = PrivateKeyJWT(delivery.token_url, claims=dict(assertion_claims or {}), alg=algorithm)
            self.evidence.note("client assertion", f"private_key_jwt signed {algorithm} with key {key.thumbprint()}")
            return OAuthClientAuth(client_id, key, signer)
        return OAuthClientAuth(client_id, self._client_secret(delivery), method)

    def assertion_key(self, role: EecRole = "authorized") -> SigningKey:
        """The key ``role`` signs ``private_key_jwt`` assertions with: ``oauth_key``, else its TLS key."""
        index, identity = self._declared(role)
        path, passphrase, name = identity.oauth_key, None, "oauth_key"
        if path is None and identity.key is not None:
            path, passphrase, name = identity.key, identity.key_passphrase, "key"
        if path is None:
            raise ConfigError(
                self.config.file,
                f"eec[{index}].oauth_key",
                "missing: this EEC requests a token with private_key_jwt",
                "give the private key whose public half the ECS registered for this EEC",
            )
        try:
            native = serialization.load_pem_private_key(read_regular_file(path), passphrase)
            return as_signing_key(native)
        except (OSError, ValueError, TypeError, PeerError) as exc:
            raise ConfigError(self.config.file, f"eec[{index}].{name}", f"unusable ({exc})", "give a PEM key") from None

    def registered_self_signed(self, role: EecRole = "authorized") -> FileCredential:
        """The self-signed certificate the ECS registered for ``role`` (``oauth_cert``), with its key."""
        index, identity = self._declared(role)
        if identity.oauth_cert is None or identity.oauth_key is None:
            raise ConfigError(
                self.config.file,
                f"eec[{index}].oauth_cert",
                "missing: this EEC requests a token with self_signed_tls_client_auth",
                "give the self-signed certificate the ECS registered for this EEC, and its oauth_key",
            )
        if identity.eec_id not in self.peers.oauth_certs:
            self.peers.oauth_certs[identity.eec_id] = FileCredential(identity.oauth_cert, identity.oauth_key)
        return self.peers.oauth_certs[identity.eec_id]

    def require_client_auth(self, method: TokenClientAuth) -> None:
        """N/A unless the token endpoint is declared to accept ``method``.

        Declared: ``ecs.token_delivery.client_auth`` or one of its ``other_client_auths``.
        """
        delivery = self.config.token_delivery
        declared = delivery.client_auths if delivery is not None and delivery.binding == "token-endpoint" else ()
        if method not in declared:
            listing = ", ".join(declared) or "none (no token endpoint)"
            raise NotApplicable(
                f"target {self.name} declares token endpoint client authentication {listing}, not {method}"
            )

    def stranger_key(self, role: EecRole = "authorized") -> SigningKey:
        """A fresh key of the same kind as ``role``'s assertion key, which the ECS cannot have registered."""
        own = self.assertion_key(role)
        self.evidence.note("test data", f"a fresh {own.key_type} key, never registered, signs the assertion")
        return key_like(own)

    def unregistered_self_signed(self, role: EecRole = "authorized") -> list[tuple[str, ClientCredential]]:
        """Self-signed certificates not registered for ``role``: a fresh one with the subject of its
        registered one, and the registered certificate of each other declared EEC."""
        registered = self.registered_self_signed(role)
        subject = registered.summary().subject
        forged: list[tuple[str, ClientCredential]] = [
            ("a fresh self-signed certificate with the registered one's subject", self_signed_like(registered)),
        ]
        for other in self.config.eecs:
            if other.role != role and other.oauth_cert is not None:
                forged.append(
                    (
                        f"the self-signed certificate registered for {other.eec_id}",
                        self.registered_self_signed(other.role),
                    )
                )
        if len(forged) == 1:
            self.evidence.note("coverage", "no other [[eec]] declares an oauth_cert: only a fresh certificate is tried")
        self.evidence.note("test data", f"registered certificate of {self.identity(role).eec_id}: {subject}")
        return forged

    def _declared(self, role: EecRole) -> tuple[int, EecIdentity]:
        identity = self.identity(role)
        return self.config.eecs.index(identity), identity

    def _client_secret(self, delivery: TokenDelivery) -> str | None:
        name = delivery.client_secret_env
        secret = os.environ.get(name) if name else None
        if not secret:
            raise ConfigError(
                self.config.file,
                "ecs.token_delivery.client_secret_env",
                f"the environment variable {name!r} is not set or empty",
                f"export {name} with the client secret of the EEC's OAuth client",
            )
        return secret

    def server_name_for(self, url: str) -> tuple[str, Path]:
        """SNI / certificate name and trust anchor for an endpoint at ``url`` (token or JWKS URL).

        At ``base_url``'s host and port: the target's FQDN and trust anchor. At the token
        endpoint's host and port: ``ecs.token_delivery.server_name`` / ``trust_anchor`` when
        declared. Elsewhere, and by default: the URL's own host and the target's trust anchor.
        """
        delivery = self.config.token_delivery
        where = _origin(url)
        if where == _origin(self.config.base_url) and not (
            delivery is not None
            and delivery.token_url
            and _origin(delivery.token_url) == where
            and delivery.server_name
        ):
            return self.config.fqdn, self.config.trust_anchor
        if delivery is not None and delivery.token_url and _origin(delivery.token_url) == where:
            return (
                delivery.server_name or httpx.URL(url).host,
                delivery.trust_anchor or self.config.trust_anchor,
            )
        return httpx.URL(url).host, self.config.trust_anchor

    def _eec_at(self, url: str, role: EecRole, presented: ClientCredential | None = None) -> FakeEEC:
        """The fake EEC of ``role`` aimed at ``url`` (its own name and anchor), presenting its valid
        TLS client certificate, or ``presented`` (a self-signed one, for the token endpoint)."""
        server_name, anchor = self.server_name_for(url)
        if presented is None and (server_name, anchor) == (self.config.fqdn, self.config.trust_anchor):
            return self.eec(role)
        if (server_name, anchor) != (self.config.fqdn, self.config.trust_anchor):
            self.evidence.note("endpoint", f"{url}: SNI and certificate name {server_name}, trust anchor {anchor.name}")
        if presented is not None:
            cert = presented.summary()
            shown = f"{cert.subject} (issuer {cert.issuer}, SHA-256 {cert.sha256})"
            self.evidence.note("client certificate", f"presented at the token endpoint: {shown}")
        return FakeEEC(
            base_url=urllib.parse.urlsplit(url)._replace(path="", query="", fragment="").geturl(),
            server_name=server_name,
            trust_anchor=anchor,
            credential=presented or self.peers.credentials.for_eec(self.identity(role), "valid"),
            evidence=self.evidence,
            timeout=self.config.timeout,
            alpn=(ALPN_IDS[self.transport],),
            label=f"EEC {role}, {'self-signed' if presented else 'valid'} certificate, HTTP/{self.transport}, "
            f"at {server_name}",
            counter=self.peers.counter,
            contexts=self.peers.contexts,
        )

    def _issued_compact(self, exchange: HttpExchange, role: EecRole) -> dict[str, str]:
        if self.binding == "response":
            return self._tokens_in_response(exchange)
        return self._tokens_from_endpoint(role)

    def _binding_text(self) -> str:
        delivery = self.config.token_delivery
        assert delivery is not None
        if delivery.binding == "response":
            return f"at ednCnfgInfo[].eess[].{delivery.member} of the provisioning response"
        return f"from the token endpoint {delivery.token_url}"

    def _tokens_in_response(self, exchange: HttpExchange) -> dict[str, str]:
        delivery = self.config.token_delivery
        assert delivery is not None
        pointed = {ees.ees_id for ees in self.config.candidate_ees if ees.token_pointer}
        found: dict[str, str] = {}
        for ees_id, value in edge_apis.tokens_in_response(self.config, exchange.response_json).items():
            if ees_id not in pointed:
                found[ees_id] = self._compact(value, f"ednCnfgInfo[].eess[{ees_id}].{delivery.member}")
        for index, ees in enumerate(self.config.candidate_ees):
            if ees.token_pointer is None:
                continue
            key = f"ecs.candidate_ees[{index}].token_pointer"
            try:
                value = edge_apis.resolve_pointer(exchange.response_json, ees.token_pointer)
            except LookupError as err:
                if not any(
                    str(info.get("eesId")) == ees.ees_id for info in edge_apis.ees_infos(exchange.response_json)
                ):
                    continue  # the ECS offered no such EES at all: no token, the target's business (ECS-TOK-01)
                raise ConfigError(
                    self.config.file,
                    key,
                    f"{ees.token_pointer!r} does not resolve in the provisioning response ({err})",
                    "point it at where the ECS puts the token of this EES (RFC 6901), or remove it",
                ) from None
            found[ees.ees_id] = self._compact(value, ees.token_pointer, key=key)
        return found

    def _compact(self, value: Any, where: str, *, key: str = "ecs.token_delivery.member") -> str:
        """A token as delivered: a compact JWS string, or an object holding one as ``access_token``."""
        if isinstance(value, dict) and isinstance(value.get("access_token"), str):
            return str(value["access_token"])
        if isinstance(value, str):
            return value
        raise ConfigError(
            self.config.file,
            key,
            f"the value at {where} is {type(value).__name__}, not a token string or an object with access_token",
            "point member at the token string itself",
        )

    def _tokens_from_endpoint(self, role: EecRole) -> dict[str, str]:
        found: dict[str, str] = {}
        for ees in self.candidates("token"):
            exchange = self.request_token(ees, role=role)
            body = exchange.response_json
            if exchange.status == 200 and isinstance(body, dict) and "error" not in body:
                body = OAuth2Token.from_dict(body)  # RFC 6749 5.1, as authlib's OAuth2Client reads it
            if exchange.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                raise CheckFailed(
                    title=f"The token endpoint issued no access token for {ees.ees_id} to the authorized EEC",
                    expected="200 with an access_token (RFC 6749 4.4.3, 5.1)",
                    actual=f"{exchange.summary()}; body: {exchange.response_body[:300] or '(none)'}",
                    requirement="ECS-TOK-01",
                )
            found[ees.ees_id] = self._compact(body, f"the token response for {ees.ees_id}")
        return found


def _origin(url: str) -> str:
    """``host:port`` of an https URL (port 443 when absent), lower-cased."""
    parsed = httpx.URL(url)
    return f"{parsed.host.lower()}:{parsed.port or 443}"


def _kids(document: Any) -> str:
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        return "no keys array"
    return ", ".join(f"kid {k.get('kid')!r} ({k.get('kty')})" for k in keys if isinstance(k, dict)) or "no keys"


class EesUnderTest(TargetUnderTest):
    """An EES: the EDGE-1 EEC registration, with or without tokens from the fake ECS."""

    request_schema = bad_requests.REQUEST_SCHEMAS["ees"]

    @property
    def issuer(self) -> TokenIssuer:
        if self.peers.issuer is None:
            raise NotApplicable(f"target {self.name} declares no token issuer (ees.token_issuer)")
        return self.peers.issuer

    def request_as(self, eec: FakeEEC, *, label: str = "") -> HttpExchange:
        return self.register(eec, token=self.token_if_required(), label=label)

    def token_if_required(self, role: EecRole = "authorized") -> str | None:
        """A valid token for ``role`` when the EES declares token-based authorization, else None."""
        return self.token(role) if self.config.authorization == "token" else None

    def claims(self, role: EecRole = "authorized") -> dict[str, Any]:
        """The claim set the fake ECS puts in a valid token for ``role`` and this EES."""
        eec = self.identity(role)
        return self.issuer.claims_for(eec_id=eec.eec_id, gpsi=eec.gpsi, audience=self.config.fqdn, scope=self._scope())

    def _scope(self) -> tuple[str, ...]:
        return self.config.service_names or (edge_apis.EEC_REGISTRATION_SERVICE,)

    def token(self, role: EecRole = "authorized", *, omit: tuple[str, ...] = (), **claims: Any) -> str:
        """A token the fake ECS issues for ``role`` and this EES, valid unless ``claims``/``omit`` say otherwise."""
        eec = self.identity(role)
        if omit or claims:
            changed = [f"{name} omitted" for name in omit] + [f"{name} = {value!r}" for name, value in claims.items()]
            self.evidence.note("deliberately broken", f"token claims: {', '.join(changed)}")
        scope = claims.pop("scope", self._scope())
        return self.issuer.token(
            eec_id=eec.eec_id, gpsi=eec.gpsi, audience=self.config.fqdn, scope=scope, omit=omit, **claims
        )

    def forged(self, kind: str, token: str) -> str:
        """Record that ``token`` is a deliberately broken one (``kind`` says how) and return it."""
        self.evidence.note("deliberately broken", f"forged token: {kind}")
        return token

    def register(
        self,
        eec: FakeEEC | None = None,
        *,
        role: EecRole = "authorized",
        token: str | None = None,
        gpsi: Any = edge_apis.OWN_GPSI,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        label: str = "",
        **members: Any,
    ) -> HttpExchange:
        """Send an EECRegistration for ``role``; ``token`` goes in ``Authorization: Bearer``.

        ``params`` adds a query string (a token there is evidence of what was sent, redacted);
        ``body`` sends these raw bytes as ``application/json`` instead of the built registration.
        """
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
            self.evidence.add(token_facts("access token sent by the EEC (Authorization: Bearer)", token))
        for name, value in (params or {}).items():
            if name == "access_token":
                self.evidence.add(token_facts("access token sent by the EEC (query parameter access_token)", value))
        sender = eec or self.eec(role)
        payload: dict[str, Any] = {"content": body}
        if body is None:
            payload = {"json": edge_apis.request_body(self.config, self.identity(role), gpsi=gpsi, **members)}
        else:
            sent_headers.setdefault("Content-Type", "application/json")
        return sender.send(
            "POST",
            edge_apis.EEC_REGISTRATION_PATH,
            headers=sent_headers,
            params=params,
            label=label or f"EEC registration (EDGE-1){', raw body' if body is not None else ''}",
            **payload,
        )


def positive_control(target: TargetUnderTest, *, label: str = "positive control") -> HttpExchange:
    """The request that must succeed for every other verdict on ``target`` to mean something:
    the authorized EEC, its valid certificate (and token), over the target's transport."""
    return target.request_as(target.eec(), label=f"{label}: authorized EEC, valid certificate (and token)")
