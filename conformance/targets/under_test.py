"""The target as a test sees it: the declaration, the peers bound to it, the operations.

A test gets an :class:`EcsUnderTest` (fixture ``ecs``) or an :class:`EesUnderTest` (fixture
``ees``). They set up peers (a fake EEC with a chosen identity and certificate, the fake ECS
token issuer) and perform the EDGE-4 / EDGE-1 operations, recording every exchange in the
test's evidence log. They never judge: that is what :mod:`conformance.checks` is for.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from conformance.errors import NotApplicable
from conformance.evidence import EvidenceLog, HttpExchange, TokenFacts
from conformance.peers.credentials import CertVariant, CredentialFactory
from conformance.peers.eec import FakeEEC
from conformance.peers.material import HarnessMaterial
from conformance.peers.token_issuer import TokenIssuer
from conformance.targets import edge_apis
from conformance.targets.model import EecIdentity, EecRole, TargetConfig
from conformance.tokens import token_facts


@dataclass
class Peers:
    """The peer material for one target, shared by all its tests in a run."""

    material: HarnessMaterial
    credentials: CredentialFactory
    issuer: TokenIssuer | None = None


class TargetUnderTest:
    """What both roles share: EEC identities and fake EECs."""

    def __init__(self, config: TargetConfig, peers: Peers, evidence: EvidenceLog) -> None:
        self.config = config
        self.peers = peers
        self.evidence = evidence

    @property
    def name(self) -> str:
        return self.config.name

    def identity(self, role: EecRole = "authorized") -> EecIdentity:
        """The declared EEC with this role, or N/A when the target declares none."""
        return self.config.eec(role)

    def eec(
        self,
        role: EecRole = "authorized",
        *,
        cert: CertVariant = "valid",
        tls_version: ssl.TLSVersion | None = None,
        http2: bool | None = None,
    ) -> FakeEEC:
        """A fake EEC acting as the ``role`` identity and presenting the ``cert`` variant."""
        credential = self.peers.credentials.for_eec(self.identity(role), cert)
        knobs: dict[str, Any] = {"tls_version": tls_version, "label": f"EEC {role}, {cert} certificate"}
        if http2 is not None:
            knobs["http2"] = http2
        return FakeEEC.for_target(self.config, credential=credential, evidence=self.evidence, **knobs)

    def request_as(self, eec: FakeEEC, *, label: str = "") -> HttpExchange:
        """The role's main operation, sent by ``eec`` as the authorized EEC would send it."""
        raise NotImplementedError

    def require_mutual_tls(self) -> None:
        """N/A unless the target declares mutual certificate authentication."""
        if self.config.client_auth != "mutual-certificate":
            raise NotApplicable(
                f"target {self.name} declares client_auth = '{self.config.client_auth}'; "
                "this case needs mutual certificate authentication"
            )


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
        one client-credentials request per declared candidate EES.
        """
        delivery = self.config.token_delivery
        if delivery is None:
            raise NotApplicable(f"target {self.name} declares no token delivery (ecs.token_delivery)")
        if delivery.binding == "response":
            found = edge_apis.tokens_in_response(self.config, exchange.response_json)
        else:
            found = self._tokens_from_endpoint(role)
        facts = {ees_id: token_facts(f"token for {ees_id}", str(tok)) for ees_id, tok in found.items()}
        for fact in facts.values():
            self.evidence.add(fact)
        return facts

    def _tokens_from_endpoint(self, role: EecRole) -> dict[str, Any]:
        delivery = self.config.token_delivery
        assert delivery is not None and delivery.token_url is not None  # the loader guarantees it
        found: dict[str, Any] = {}
        eec = self.identity(role)
        for ees in self.config.candidate_ees:
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
            if exchange.status == 200 and isinstance(body, dict) and body.get("access_token"):
                found[ees.ees_id] = body["access_token"]
        return found


class EesUnderTest(TargetUnderTest):
    """An EES: the EDGE-1 EEC registration, with or without tokens from the fake ECS."""

    @property
    def issuer(self) -> TokenIssuer:
        if self.peers.issuer is None:
            raise NotApplicable(f"target {self.name} declares no token issuer (ees.token_issuer)")
        return self.peers.issuer

    def require_token_authorization(self) -> None:
        if self.config.authorization != "token":
            raise NotApplicable(f"target {self.name} declares local authorization, not token-based")

    def require_local_authorization(self) -> None:
        if self.config.authorization != "local":
            raise NotApplicable(f"target {self.name} declares token-based authorization, not local")

    def request_as(self, eec: FakeEEC, *, label: str = "") -> HttpExchange:
        token = self.token() if self.config.authorization == "token" else None
        return self.register(eec, token=token, label=label)

    def claims(self, role: EecRole = "authorized") -> dict[str, Any]:
        """The claim set the fake ECS puts in a valid token for ``role`` and this EES."""
        eec = self.identity(role)
        return self.issuer.claims_for(eec_id=eec.eec_id, gpsi=eec.gpsi, audience=self.config.fqdn, scope=self._scope())

    def _scope(self) -> tuple[str, ...]:
        return self.config.service_names or (edge_apis.EEC_REGISTRATION_SERVICE,)

    def token(self, role: EecRole = "authorized", *, omit: tuple[str, ...] = (), **claims: Any) -> str:
        """A token the fake ECS issues for ``role`` and this EES, valid unless ``claims``/``omit`` say otherwise."""
        eec = self.identity(role)
        return self.issuer.token(
            eec_id=eec.eec_id, gpsi=eec.gpsi, audience=self.config.fqdn, scope=self._scope(), omit=omit, **claims
        )

    def register(
        self,
        eec: FakeEEC | None = None,
        *,
        role: EecRole = "authorized",
        token: str | None = None,
        gpsi: Any = edge_apis.OWN_GPSI,
        headers: dict[str, str] | None = None,
        label: str = "",
        **members: Any,
    ) -> HttpExchange:
        """Send an EECRegistration for ``role``; ``token`` goes in ``Authorization: Bearer``."""
        body = edge_apis.request_body(self.config, self.identity(role), gpsi=gpsi, **members)
        sent_headers = dict(headers or {})
        if token is not None:
            sent_headers["Authorization"] = f"Bearer {token}"
            self.evidence.add(token_facts("access token sent by the EEC (Authorization: Bearer)", token))
        sender = eec or self.eec(role)
        return sender.send(
            "POST",
            edge_apis.EEC_REGISTRATION_PATH,
            json=body,
            headers=sent_headers,
            label=label or "EEC registration (EDGE-1)",
        )


def positive_control(target: TargetUnderTest) -> HttpExchange:
    """The request that must succeed for every other verdict on ``target`` to mean something."""
    return target.request_as(target.eec(), label="positive control: authorized EEC, valid certificate (and token)")


CONTROL_STATUS = {"ecs": 200, "ees": 201}
