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

import hashlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.errors import CheckFailed, ConfigError, Inconclusive, NotApplicable
from conformance.evidence import EvidenceLog, HttpExchange, TokenFacts
from conformance.peers.credentials import CertVariant, CredentialFactory
from conformance.peers.eec import FakeEEC, WireCounter
from conformance.peers.material import HarnessMaterial
from conformance.peers.token_issuer import TokenIssuer
from conformance.targets import edge_apis
from conformance.targets.model import ALPN_IDS, EecIdentity, EecRole, HttpVersion, TargetConfig
from conformance.tokens import token_facts

__all__ = [
    "CAPABILITIES",
    "CONTROL_STATUS",
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


CAPABILITIES: dict[str, Callable[[TargetConfig], str | None]] = {
    "mutual-tls": _mutual_tls,
    "token-authorization": _authorization("token"),
    "local-authorization": _authorization("local"),
    "token-issuance": _token_based_candidate,
    "local-candidate": _local_candidate,
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
        )

    def request_as(self, eec: FakeEEC, *, label: str = "") -> HttpExchange:
        """The role's main operation, sent by ``eec`` as the authorized EEC would send it."""
        raise NotImplementedError


class EcsUnderTest(TargetUnderTest):
    """An ECS: the EDGE-4 service provisioning request and the tokens it issues."""

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

    def tokens_issued(self, *, role: EecRole = "authorized") -> dict[str, TokenFacts]:
        """Provision ``role`` and return the tokens for the declared token-based EESes (precondition:
        the provisioning request succeeds; every declared token-based EES gets its token)."""
        exchange = self.provision(role=role)
        if exchange.status != CONTROL_STATUS["ecs"]:
            raise Inconclusive(f"precondition failed: the service provisioning request got {exchange.summary()}")
        issued = self.issued_tokens(exchange, role=role)
        for ees in self.config.candidate_ees:
            if ees.authorization == "token" and ees.ees_id not in issued:
                raise CheckFailed(
                    title=f"The ECS issued no access token for the token-based candidate EES {ees.ees_id}",
                    expected=f"a token for {ees.ees_id} ({self._binding_text()})",
                    actual=f"tokens for: {', '.join(sorted(issued)) or 'none'}",
                    requirement="ECS-TOK-01",
                )
        return issued

    def _binding_text(self) -> str:
        delivery = self.config.token_delivery
        assert delivery is not None
        if delivery.binding == "response":
            return f"at ednCnfgInfo[].eess[].{delivery.member} of the provisioning response"
        return f"from the token endpoint {delivery.token_url}"

    def _tokens_in_response(self, exchange: HttpExchange) -> dict[str, str]:
        delivery = self.config.token_delivery
        assert delivery is not None
        found: dict[str, str] = {}
        for ees_id, value in edge_apis.tokens_in_response(self.config, exchange.response_json).items():
            found[ees_id] = self._compact(value, f"ednCnfgInfo[].eess[{ees_id}].{delivery.member}")
        return found

    def _compact(self, value: Any, where: str) -> str:
        """A token as delivered: a compact JWS string, or an object holding one as ``access_token``."""
        if isinstance(value, dict) and isinstance(value.get("access_token"), str):
            return str(value["access_token"])
        if isinstance(value, str):
            return value
        raise ConfigError(
            self.config.file,
            "ecs.token_delivery.member",
            f"the value at {where} is {type(value).__name__}, not a token string or an object with access_token",
            "point member at the token string itself",
        )

    def _tokens_from_endpoint(self, role: EecRole) -> dict[str, str]:
        delivery = self.config.token_delivery
        assert delivery is not None and delivery.token_url is not None  # the loader guarantees it
        found: dict[str, str] = {}
        eec = self.identity(role)
        for ees in self.config.candidate_ees:
            if ees.authorization != "token":
                continue
            exchange = self.eec(role).send(
                "POST",
                delivery.token_url,
                form={
                    "grant_type": "client_credentials",
                    "client_id": eec.eec_id,
                    "scope": " ".join(ees.service_names),
                    "resource": f"https://{ees.fqdn}",
                },
                label=f"token request for {ees.ees_id} (RFC 6749 4.4)",
            )
            body = exchange.response_json
            if exchange.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                raise CheckFailed(
                    title=f"The token endpoint issued no access token for {ees.ees_id} to the authorized EEC",
                    expected="200 with an access_token (RFC 6749 4.4.3, 5.1)",
                    actual=f"{exchange.summary()}; body: {exchange.response_body[:300] or '(none)'}",
                    requirement="ECS-TOK-01",
                )
            found[ees.ees_id] = self._compact(body, f"the token response for {ees.ees_id}")
        return found


class EesUnderTest(TargetUnderTest):
    """An EES: the EDGE-1 EEC registration, with or without tokens from the fake ECS."""

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

    def measure(self, name: str, value: Any, unit: str = "") -> None:
        """Record a measured, implementation-defined fact (EES-TOK-13): reported, never judged."""
        self.evidence.measure(f"measured on {self.name}", name, value, unit)

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
        if body is not None:
            sent_headers.setdefault("Content-Type", "application/json")
            return sender.send(
                "POST",
                edge_apis.EEC_REGISTRATION_PATH,
                content=body,
                headers=sent_headers,
                params=params,
                label=label or "EEC registration (EDGE-1), raw body",
            )
        document = edge_apis.request_body(self.config, self.identity(role), gpsi=gpsi, **members)
        return sender.send(
            "POST",
            edge_apis.EEC_REGISTRATION_PATH,
            json=document,
            headers=sent_headers,
            params=params,
            label=label or "EEC registration (EDGE-1)",
        )


def positive_control(target: TargetUnderTest, *, label: str = "positive control") -> HttpExchange:
    """The request that must succeed for every other verdict on ``target`` to mean something:
    the authorized EEC, its valid certificate (and token), over the target's transport."""
    return target.request_as(target.eec(), label=f"{label}: authorized EEC, valid certificate (and token)")
