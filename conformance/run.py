"""One conformance run: its targets, their peers, the sanity probe, the deadline.

The pytest plugin creates one :class:`ConformanceRun` per session; the CLI only builds
pytest arguments. ``--target reference`` starts the embedded reference ECS and EESes and
loads the target files they write, so they are tested exactly like external targets.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conformance import requirements
from conformance.errors import ConfigError, HarnessError, Inconclusive
from conformance.evidence import ConnectionOutcome, EvidenceLog, HttpExchange
from conformance.gc_tuning import tune_for_a_run
from conformance.peers import bad_requests
from conformance.peers.credentials import CredentialFactory
from conformance.peers.eec import WireCounter
from conformance.peers.fake_ecs_issuer import TokenIssuer
from conformance.peers.material import HarnessMaterial
from conformance.targets.config import load_targets
from conformance.targets.model import HttpVersion, Role, TargetConfig
from conformance.under_test import (
    CONTROL_STATUS,
    EcsUnderTest,
    EesUnderTest,
    Peers,
    TargetUnderTest,
    positive_control,
)

REFERENCE = "reference"


class Deployment(Protocol):
    """What a run needs from a set of servers it started itself (the embedded reference)."""

    directory: Path
    target_files: list[Path]

    def stop(self) -> None: ...


@dataclass
class Options:
    targets: list[str]
    faults: list[str] = field(default_factory=list)
    requirement_prefixes: list[str] = field(default_factory=list)
    strict: bool = False
    out: Path | None = None
    deadline: float = 1800.0


@dataclass
class SanityProbe:
    """The positive control run once per target and transport before any case: is there anything to test?"""

    target: str
    transport: HttpVersion
    reachable: bool
    ok: bool
    message: str
    evidence: list[dict[str, Any]]
    """The probe's evidence records (:meth:`EvidenceLog.to_list`), as results.json shows them."""
    server_certificate_rejected: bool = False
    """The harness could not verify the server certificate against the declared anchor and FQDN."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SanityProbe:
        return cls(**data)


class ConformanceRun:
    """Everything a run shares across tests; built from the command-line options."""

    def __init__(self, options: Options, targets: list[TargetConfig], deployment: Deployment | None = None) -> None:
        self.options = options
        self.targets = targets
        self.deployment = deployment
        self.started = time.monotonic()
        self.counter = WireCounter()
        self._peers: dict[str, Peers] = {}
        self._probes: dict[tuple[str, HttpVersion], SanityProbe] = {}
        self._lock = threading.Lock()
        self._materials: dict[Path | None, HarnessMaterial] = {}
        self._issuer_servers: list[Any] = []
        self.probe_dir: Path | None = None
        """Shared by the pytest-xdist workers of one run: each sanity probe runs once, in the first
        worker that needs it, and the others read its result (``None``: a run in one process)."""
        self.serves_issuers = True
        """Serve a declared ``jwks_port``; a worker leaves that to the controller (one port, one server)."""

    @classmethod
    def start(cls, options: Options) -> ConformanceRun:
        """Load (or, for ``reference``, start and load) the targets; ConfigError on bad input."""
        if options.faults and REFERENCE not in options.targets:
            raise ConfigError(
                "<command line>",
                "--fault",
                "faults exist only in the embedded reference target",
                "add --target reference or drop --fault",
            )
        deployment = None
        paths: list[Path] = []
        for target in options.targets:
            if target == REFERENCE:
                deployment = _start_reference(options)
                paths.extend(deployment.target_files)
            else:
                paths.append(Path(target))
        tune_for_a_run()
        try:
            run = cls(options, load_targets(paths), deployment)
        except BaseException:
            if deployment is not None:
                deployment.stop()
            raise
        run.prefetch_bad_requests()
        return run

    def prefetch_bad_requests(self) -> None:
        """Start drawing the robustness cases' generated bodies (seconds of CPU) in the background."""
        for target in self.targets:
            if requirements.matches([f"{target.role.upper()}-ROB-01"], self.options.requirement_prefixes):
                schema_name = bad_requests.REQUEST_SCHEMAS[target.role]
                bad_requests.prefetch(schema_name, seed=target.fuzz_seed, count=target.fuzz_examples)

    @classmethod
    def attach(cls, options: Options, target_files: list[Path], *, started: float, probe_dir: Path) -> ConformanceRun:
        """A pytest-xdist worker's view of the run its controller started: the same target files
        (the controller's reference deployment, never one of its own), deadline and sanity probes."""
        run = cls(options, load_targets(target_files))
        run.started = started  # time.monotonic() is one clock for every process of the machine
        run.probe_dir = probe_dir
        run.serves_issuers = False
        return run

    def close(self) -> None:
        bad_requests.stop_prefetching()
        for server in self._issuer_servers:
            server.stop()
        if self.deployment is not None:
            self.deployment.stop()
            if self.options.out is None:  # nobody asked to keep what the reference was started with
                shutil.rmtree(self.deployment.directory, ignore_errors=True)

    def targets_for(self, role: Role) -> list[TargetConfig]:
        return [t for t in self.targets if t.role == role]

    # peers -------------------------------------------------------------------------------
    def peers_for(self, config: TargetConfig) -> Peers:
        with self._lock:
            if config.name not in self._peers:
                self._peers[config.name] = self._make_peers(config)
            return self._peers[config.name]

    def _make_peers(self, config: TargetConfig) -> Peers:
        material = self._material(config)
        credentials = CredentialFactory(material, vendor_certs=config.client_certs == "vendor")
        issuer = None
        declared = config.trusted_issuer
        if declared is not None:
            if declared.source == "vendor" and declared.key is not None:
                issuer = TokenIssuer.from_file(
                    declared.key,
                    issuer=declared.issuer,
                    kid=declared.kid,
                    algorithm=declared.algorithm,
                    lifetime=declared.lifetime,
                    password=declared.key_passphrase,
                )
            else:
                issuer = TokenIssuer.from_pem(
                    material.issuer_key_for(declared.algorithm),  # the family's key: EC, RSA or Ed25519
                    issuer=declared.issuer,
                    kid=declared.kid,  # None: the key's thumbprint, as in the material's issuer.jwks.json
                    algorithm=declared.algorithm,
                    lifetime=declared.lifetime,
                )
            if declared.jwks_port is not None and self.serves_issuers:
                self._serve_issuer(issuer, material, declared.jwks_port)
        return Peers(material=material, credentials=credentials, issuer=issuer, counter=self.counter)

    def _serve_issuer(self, issuer: TokenIssuer, material: HarnessMaterial, port: int) -> None:
        """Publish ``issuer``'s JWKS and RFC 8414 metadata on 127.0.0.1:``port`` for the run."""
        from conformance.peers.issuer_server import IssuerServer

        server = IssuerServer(issuer.public_jwks(), issuer=issuer.issuer, ca=material.ca, port=port)
        server.start()
        self._issuer_servers.append(server)

    def _material(self, config: TargetConfig) -> HarnessMaterial:
        """The declared material directory (loaded once per run), or one throwaway set (``None``)."""
        directory = config.harness_material
        if directory not in self._materials:
            load = HarnessMaterial.create if directory is None else lambda: HarnessMaterial.load(directory)
            self._materials[directory] = load()
        return self._materials[directory]

    def under_test(
        self, config: TargetConfig, evidence: EvidenceLog, transport: HttpVersion | None = None
    ) -> TargetUnderTest:
        cls = EcsUnderTest if config.role == "ecs" else EesUnderTest
        return cls(config, self.peers_for(config), evidence, transport)

    # preconditions -----------------------------------------------------------------------
    def check_deadline(self) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.options.deadline:
            raise Inconclusive(f"run deadline of {self.options.deadline:.0f} s reached; case not run (--deadline)")

    def sanity(self, config: TargetConfig, transport: HttpVersion) -> SanityProbe:
        """The sanity probe for ``config`` over ``transport``, run once and cached."""
        key = (config.name, transport)
        with self._lock:
            probe = self._probes.get(key)
        if probe is None:
            probe = self._probe(config, transport) if self.probe_dir is None else self._shared_probe(config, transport)
            with self._lock:
                probe = self._probes.setdefault(key, probe)
        return probe

    def probes(self) -> list[SanityProbe]:
        """The probes this process ran or read, in the order the cases first needed them."""
        return list(self._probes.values())

    def _shared_probe(self, config: TargetConfig, transport: HttpVersion) -> SanityProbe:
        """The probe run by whichever worker needs it first: a target sees it once, as in a serial
        run (a target that serves an EEC once, or rate-limits, would refuse a second probe)."""
        assert self.probe_dir is not None
        result = self.probe_dir / f"{_probe_stem(config.name, transport)}.json"
        with _locked(result.with_suffix(".lock")):
            if result.exists():
                return SanityProbe.from_json(json.loads(result.read_text("utf-8")))
            probe = self._probe(config, transport)
            partial = result.with_suffix(".tmp")
            partial.write_text(json.dumps(probe.to_json(), default=str), "utf-8")
            os.replace(partial, result)
            return probe

    def _probe(self, config: TargetConfig, transport: HttpVersion) -> SanityProbe:
        log = EvidenceLog()
        if config.client_auth == "psk":  # Python's ssl gains external-PSK callbacks only in 3.13
            message = (
                f"target {config.name} declares client_auth = 'psk': this harness cannot yet establish "
                "TLS-PSK (AKMA/GBA) connections for its certificate-based cases; only ECS-TLS-07 "
                "([target.psk]) runs against it"
            )
            return SanityProbe(config.name, transport, False, False, message, log.to_list())
        try:
            exchange = positive_control(self.under_test(config, log, transport), label="sanity probe")
        except (HarnessError, Inconclusive) as exc:
            message = f"harness could not probe {config.name}: {exc}"
            return SanityProbe(config.name, transport, False, False, message, log.to_list())
        expected = CONTROL_STATUS[config.role]
        if not exchange.answered:
            rejected = exchange.tls.outcome == ConnectionOutcome.SERVER_CERT_REJECTED
            message = _unreachable(config, transport, exchange)
            return SanityProbe(
                config.name, transport, False, False, message, log.to_list(), server_certificate_rejected=rejected
            )
        # h10-robustness: the control counts only with a whole, parseable JSON body: a truncated or
        # non-JSON 2xx would otherwise pass here and surface later as a schema error on `None`.
        json_body = isinstance(exchange.response_json, dict | list)
        ok = exchange.status == expected and json_body
        verb = "succeeded" if ok else "FAILED"
        wanted = f"expected {expected}"
        if not json_body:
            wanted += f" with a JSON body; body is not JSON: {_excerpt(exchange)}"
        message = (
            f"sanity probe (the positive control before any case, HTTP/{transport}) {verb}: "
            f"{exchange.summary()} ({wanted})"
        )
        return SanityProbe(config.name, transport, True, ok, message, log.to_list())

    def require_sane(
        self, config: TargetConfig, transport: HttpVersion, *, is_control: bool, judges_certificate: bool = False
    ) -> SanityProbe:
        """Raise Inconclusive unless the target's sanity probe allows this case to mean something.

        A case that judges the server certificate itself (``judges_certificate``) still runs when
        the probe failed on that certificate: the rejection is then its verdict, not a missing
        precondition."""
        probe = self.sanity(config, transport)
        if not probe.reachable and judges_certificate and probe.server_certificate_rejected:
            return probe
        if not probe.reachable:
            raise Inconclusive(probe.message)
        if not probe.ok and not is_control:
            raise Inconclusive(f"{probe.message}; a refusal in this case would prove nothing")
        return probe


def shared_probes(directory: Path) -> dict[tuple[str, str], SanityProbe]:
    """The probes the workers of a run shared in ``directory`` (:attr:`ConformanceRun.probe_dir`), by key."""
    probes = [SanityProbe.from_json(json.loads(p.read_text("utf-8"))) for p in directory.glob("*.json")]
    return {(p.target, p.transport): p for p in probes}


def _probe_stem(target: str, transport: HttpVersion) -> str:
    """A file name for any target name (a declaration may name it anything)."""
    return hashlib.sha256(f"{target}\0{transport}".encode()).hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` across processes (the probe takes its own timeouts)."""
    handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _excerpt(exchange: HttpExchange, limit: int = 120) -> str:
    """The start of a response body for a one-line message (the evidence keeps the rest)."""
    body = exchange.response_body.replace("\n", " ")
    note = body.rsplit("…[response body ", 1)
    shown = body[:limit] + ("…" if len(body) > limit else "")
    return f"{shown!r}" + (f" [response body {note[1]}" if len(note) == 2 else "") if body else "(empty)"


def _unreachable(config: TargetConfig, transport: HttpVersion, exchange: HttpExchange) -> str:
    tls = exchange.tls
    if tls.alert and "NO_APPLICATION_PROTOCOL" in tls.alert:
        hint = (
            f"the target does not speak HTTP/{transport} (ALPN refused): correct target.http_versions, "
            f"which declares {list(config.http_versions)}"
        )
        return f"sanity probe: target {config.name} refused HTTP/{transport} at {config.base_url}: {tls.alert}; {hint}"
    hint = {
        "connection-refused": "is the server running at that address?",
        "timeout": "the port accepts connections but nothing answers in time",
        "server-cert-rejected": (
            "check target.trust_anchor and target.fqdn; if they are right, the server's certificate is wrong "
            "(judged under the TLS profile requirement, ECS-TLS-05/EES-TLS-05)"
        ),
    }.get(tls.outcome.value, "")
    if tls.outcome.value == "refused-with-alert":
        hint = _alert_hint(tls.alert, tls.phase)
    return (
        f"sanity probe (the positive control before any case, HTTP/{transport}) got no answer: target "
        f"{config.name} unreachable at {config.base_url} over HTTP/{transport}: {tls.outcome} ({tls.detail})"
        f"{'; ' + hint if hint else ''}"
    )


_CERTIFICATE_ALERTS = (
    "BAD_CERTIFICATE",
    "UNSUPPORTED_CERTIFICATE",
    "CERTIFICATE_REVOKED",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_UNKNOWN",
    "CERTIFICATE_REQUIRED",
    "UNKNOWN_CA",
    "ACCESS_DENIED",
    "DECRYPT_ERROR",
)


def _alert_hint(alert: str | None, phase: str | None) -> str:
    """What an alert against the positive control supports (h10-robustness): a certificate alert
    blames the harness's client certificate; any other alert in the handshake came before the
    server judged a client certificate, so it says nothing about it."""
    name = alert or "an alert"
    if alert is not None and any(kind in alert for kind in _CERTIFICATE_ALERTS):
        where = "at the first read, after the handshake" if phase == "first-read" else "in the handshake"
        return (
            f"the target answered the harness's valid client certificate with the certificate alert {name} {where}: "
            "provision ca.pem from the harness material (conformance pki export)"
        )
    if phase == "first-read":
        return f"the target sent {name} after the handshake; it names no certificate problem"
    return (
        f"the target sent {name} in the handshake, before it judged any client certificate: "
        "check the TLS versions and cipher suites it allows (the harness offers TLS 1.2 and 1.3) "
        "and target.http_versions (ALPN)"
    )


def _start_reference(options: Options) -> Deployment:
    from conformance.reference.deployment import ReferenceDeployment

    directory = (options.out / "reference-target") if options.out else Path(tempfile.mkdtemp(prefix="reference-"))
    return ReferenceDeployment.start(directory, faults=options.faults)
