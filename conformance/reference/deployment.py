"""The reference deployment: one ECS and two EESes on loopback, and the target files for them.

The ECS knows both EESes as candidates: ``ees-token`` uses token-based authorization,
``ees-local`` local authorization (TS 33.558 6.2 first sentence). The token EES trusts the
reference ECS's key, given, and the harness's token issuer (the fake ECS of the 6.3 suite) by
its JWKS URL only, as an EES provisioned with an ECS's ``jwks_uri`` would: its target file
declares ``jwks_port``, the harness serves the key set there during a run
(:mod:`conformance.peers.issuer_server`), and the EES fetches it when the first token comes.
What it writes into its directory is exactly what a vendor would: target TOML files, the
server CA, the ECS key set, and the harness material the servers were provisioned with.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance.peers.issuer_server import JWKS_PATH as ISSUER_JWKS_PATH
from conformance.peers.issuer_server import LOOPBACK
from conformance.peers.material import HarnessMaterial
from conformance.peers.pki import LeafCert, TestCA, self_signed_client_cert
from conformance.reference.ecs import JWKS_PATH, TOKEN_PATH, EcsSettings, KnownEes, build_ecs_app
from conformance.reference.ees import EesSettings, build_ees_app
from conformance.reference.faults import TlsBehaviour, ecs_behaviour, ees_behaviour, parse_faults
from conformance.reference.policy import EecRegistry, KnownEec
from conformance.reference.server import ReferenceServer
from conformance.reference.tls import ServerTls
from conformance.reference.tokens import new_signing_key, public_jwks, published_jwks
from conformance.targets.model import (
    Authorization,
    CandidateEes,
    EecIdentity,
    TargetConfig,
    TokenDelivery,
    TokenKeys,
    TrustedIssuer,
)
from conformance.targets.toml_format import dump_target

ECS_FQDN = "ecs.reference.test"
EES_TOKEN_FQDN = "ees-token.reference.test"
EES_LOCAL_FQDN = "ees-local.reference.test"
EES_TOKEN2_FQDN = "ees-token2.reference.test"
"""A second token-based candidate (served by the token EES's server): one token each (ECS-TOK-01)."""
MAX_TOKEN_LIFETIME = 600
"""The reference ECS targets declare this; the ECS issues tokens for 300 s."""
ECS_KID = "reference-ecs-1"
SERVICES = ("eees-eecregistration",)
CONCURRENT_CONNECTIONS = 20
"""What the reference EES targets declare they accept at once: the concurrency cases' connections."""
EECS = (
    EecIdentity("authorized", "eec-0001", "msisdn-491700000001"),
    EecIdentity("unauthorized", "eec-0002", "msisdn-491700000002"),
    EecIdentity("second", "eec-0003", "msisdn-491700000003"),
)


@dataclass
class ReferenceDeployment:
    """Running reference servers and the target files that describe them."""

    directory: Path
    servers: list[ReferenceServer]
    target_files: list[Path] = field(default_factory=list)
    jwks_port: int = 0
    """Where the token EES fetches the harness issuer's JWKS (declared in its target file)."""
    _stopped: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, directory: Path, *, faults: Iterable[str] = ()) -> ReferenceDeployment:
        """Start ECS, token EES and local EES with ``faults`` on, and write their target files."""
        active = parse_faults(faults)
        directory.mkdir(parents=True, exist_ok=True)
        material = HarnessMaterial.load_or_create(directory / "harness-material")
        material.save(directory / "harness-material")
        server_ca = TestCA.create(common_name="Reference Server Test CA")
        server_ca.cert_pem.write_to_path(str(directory / "server-ca.pem"))
        ecs_key = new_signing_key()
        ecs_jwks = public_jwks(ecs_key, ECS_KID)
        registry = EecRegistry(KnownEec(e.eec_id, e.gpsi, authorized=e.role != "unauthorized") for e in EECS)
        jwks_port = _free_loopback_port()

        oauth_clients = _oauth_clients(directory / "oauth-clients")
        ecs_does, ees_does = ecs_behaviour(active), ees_behaviour(active)
        published = published_jwks(ecs_key, ECS_KID, ecs_does.tokens)
        (directory / "ecs-jwks.json").write_text(json.dumps(published, indent=1), "utf-8")

        def tls(behaviour: TlsBehaviour, fqdn: str, registered: tuple[bytes, ...] = ()) -> ServerTls:
            return _server_tls(server_ca, material, fqdn, behaviour, registered)

        token_settings = EesSettings(
            EES_TOKEN_FQDN,
            registry,
            "token",
            SERVICES,
            trusted_issuer=ECS_FQDN,
            trusted_jwks=ecs_jwks,
            trusted_jwks_url=f"https://{LOOPBACK}:{jwks_port}{ISSUER_JWKS_PATH}",
            trusted_jwks_ca=material.ca.cert_pem.bytes(),
        )
        ees_token = ReferenceServer(build_ees_app(token_settings, ees_does), tls(ees_does.tls, EES_TOKEN_FQDN))
        ees_local = ReferenceServer(
            build_ees_app(EesSettings(EES_LOCAL_FQDN, registry, "local", SERVICES), ees_does),
            tls(ees_does.tls, EES_LOCAL_FQDN),
        )
        deployment = cls(directory, [ees_token, ees_local], jwks_port=jwks_port)
        try:
            ees_token.start()
            ees_local.start()
            candidates = (
                KnownEes("ees-token", EES_TOKEN_FQDN, ees_token.base_url, SERVICES, "token"),
                KnownEes("ees-local", EES_LOCAL_FQDN, ees_local.base_url, SERVICES, "local"),
                KnownEes("ees-token-2", EES_TOKEN2_FQDN, ees_token.base_url, SERVICES, "token"),
            )
            registered = tuple((eec_id, leaf.cert_chain_pems[0].bytes()) for eec_id, leaf in oauth_clients.items())
            ecs_settings = EcsSettings(
                ECS_FQDN, registry, candidates, ecs_key, ECS_KID, registered_client_certs=registered
            )
            ecs = ReferenceServer(
                build_ecs_app(ecs_settings, ecs_does),
                tls(ecs_does.tls, ECS_FQDN, tuple(pem for _, pem in registered)),
            )
            deployment.servers.append(ecs)
            ecs.start()
            deployment.target_files = deployment._write_targets(ecs, candidates)
        except BaseException:
            deployment.stop()
            raise
        return deployment

    def _write_targets(self, ecs: ReferenceServer, candidates: tuple[KnownEes, ...]) -> list[Path]:
        ees_token, ees_local = self.servers[0], self.servers[1]
        common: dict[str, Any] = dict(
            trust_anchor=self.directory / "server-ca.pem",
            client_auth="mutual-certificate",
            eecs=EECS,
            harness_material=self.directory / "harness-material",
        )
        ecs_common: dict[str, Any] = dict(
            role="ecs",
            base_url=ecs.base_url,
            fqdn=ECS_FQDN,
            candidate_ees=tuple(CandidateEes(c.ees_id, c.fqdn, c.service_names, c.authorization) for c in candidates),
            max_token_lifetime=MAX_TOKEN_LIFETIME,
            **common,
        )
        targets = [
            TargetConfig(
                file=self.directory / "reference-ecs.toml",
                name="reference-ecs",
                **{**ecs_common, "candidate_ees": _pointed(ecs_common["candidate_ees"])},
                token_delivery=TokenDelivery(binding="response", member="accessToken"),
                token_keys=TokenKeys(jwks_file=self.directory / "ecs-jwks.json"),
            ),
            # The same ECS declared with the other binding: tokens from its OAuth 2.0 token
            # endpoint, keys from its published JWKS URL; each EEC may also authenticate there
            # with the self-signed certificate registered for it, or a JWT signed with its key.
            TargetConfig(
                file=self.directory / "reference-ecs-endpoint.toml",
                name="reference-ecs-endpoint",
                **{**ecs_common, "eecs": self._with_oauth_credentials(EECS)},
                token_delivery=TokenDelivery(
                    binding="token-endpoint",
                    token_url=f"{ecs.base_url}{TOKEN_PATH}",
                    other_client_auths=("private_key_jwt", "self_signed_tls_client_auth"),
                ),
                token_keys=TokenKeys(jwks_url=f"{ecs.base_url}{JWKS_PATH}"),
            ),
            self._ees_target("reference-ees-token", ees_token, EES_TOKEN_FQDN, "token", common, self.jwks_port),
            self._ees_target("reference-ees-local", ees_local, EES_LOCAL_FQDN, "local", common, None),
        ]
        for target in targets:
            target.file.write_text(dump_target(target), "utf-8")
        return [t.file for t in targets]

    def _with_oauth_credentials(self, eecs: tuple[EecIdentity, ...]) -> tuple[EecIdentity, ...]:
        """The EECs with the credential files :func:`_oauth_clients` wrote: the vendor's registration."""
        folder = self.directory / "oauth-clients"
        return tuple(
            replace(eec, oauth_key=folder / f"{eec.eec_id}.key", oauth_cert=folder / f"{eec.eec_id}.pem")
            for eec in eecs
        )

    def _ees_target(
        self,
        name: str,
        server: ReferenceServer,
        fqdn: str,
        authorization: Authorization,
        common: dict[str, Any],
        jwks_port: int | None,
    ) -> TargetConfig:
        return TargetConfig(
            file=self.directory / f"{name}.toml",
            name=name,
            role="ees",
            base_url=server.base_url,
            fqdn=fqdn,
            **common,
            authorization=authorization,
            service_names=SERVICES,
            trusted_issuer=TrustedIssuer(source="harness", issuer=ECS_FQDN, jwks_port=jwks_port),
            concurrent_connections=CONCURRENT_CONNECTIONS,
        )

    def wait(self) -> None:
        """Block until :meth:`stop` is called (or the process is interrupted)."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        self._stopped.set()
        for server in reversed(self.servers):
            server.stop()


def _free_loopback_port() -> int:
    """A loopback port free now, for the harness to serve its issuer's JWKS on during a run.

    The port is released again until the run binds it; a clash in between is reported by the
    run as one configuration line ("cannot serve on 127.0.0.1:PORT"), never as a target failure.
    """
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _pointed(candidates: tuple[CandidateEes, ...]) -> tuple[CandidateEes, ...]:
    """The last candidate's token declared by a JSON Pointer (RFC 6901), the others by member name."""
    last = len(candidates) - 1
    pointer = f"/ednCnfgInfo/0/eess/{last}/accessToken"
    return tuple(replace(c, token_pointer=pointer) if i == last else c for i, c in enumerate(candidates))


def _oauth_clients(folder: Path) -> dict[str, LeafCert]:
    """One self-signed certificate per EEC, registered at the ECS as that OAuth client's credential,
    written as ``<EEC ID>.pem`` / ``.key`` for the target file (as a vendor would hand them over).

    Its CN is not the EEC ID, so it never authenticates an EEC at EDGE-4, only at the token endpoint.
    """
    folder.mkdir(parents=True, exist_ok=True)
    clients: dict[str, LeafCert] = {}
    for eec in EECS:
        leaf = self_signed_client_cert(f"{eec.eec_id} OAuth client")
        (folder / f"{eec.eec_id}.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
        key_file = folder / f"{eec.eec_id}.key"
        key_file.touch(mode=0o600)
        key_file.write_bytes(leaf.private_key_pem.bytes())
        clients[eec.eec_id] = leaf
    return clients


def _server_tls(
    ca: TestCA, material: HarnessMaterial, fqdn: str, behaviour: TlsBehaviour, registered: tuple[bytes, ...] = ()
) -> ServerTls:
    """The server's TLS: client certificates from the harness CA, and the self-signed ones
    ``registered`` for OAuth clients. OpenSSL accepts a self-signed certificate only if that very
    certificate is in the trust store (``tests/test_client_auth_declarations.py`` shows it), so pinning them there lets
    exactly the registered ones through; the token endpoint then binds each to its client."""
    leaf = ca.issue_server_cert(behaviour.certificate_for or fqdn, "127.0.0.1")
    legacy = (
        ca.issue_server_cert(behaviour.legacy_certificate_for, key_type="rsa")
        if behaviour.legacy_certificate_for
        else None
    )
    client_cas = [material.ca.cert_pem.bytes(), *registered]
    if behaviour.trust_rogue_ca:
        client_cas += [material.rogue_ca.cert_pem.bytes(), material.stranger_ca.cert_pem.bytes()]
    return ServerTls(
        cert_chain_pem=b"".join(pem.bytes() for pem in leaf.cert_chain_pems),
        key_pem=leaf.private_key_pem.bytes(),
        client_cas_pem=client_cas,
        client_auth=behaviour.client_auth,
        check_time=behaviour.check_time,
        check_usage=behaviour.checks_key_usage,
        minimum_version=ssl.TLSVersion.TLSv1 if behaviour.accepts_old_tls else ssl.TLSVersion.TLSv1_2,
        legacy_cert_chain_pem=b"".join(pem.bytes() for pem in legacy.cert_chain_pems) if legacy else None,
        legacy_key_pem=legacy.private_key_pem.bytes() if legacy else None,
    )
