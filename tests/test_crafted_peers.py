"""Verdicts that hold on servers we did not write (issue of that name, section Proof).

Each test starts a small loopback server built for it (:mod:`crafted`: the reference's stack with
an app and TLS settings of the test's choosing, or the standard library), writes the server's
target declaration, runs the real ``conformance`` command against it and asserts the verdicts
exactly as ``results.json`` reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from crafted import (
    EECS,
    ECS_FQDN,
    EES_FQDN,
    SERVICES,
    AcceptEverything,
    ChallengeRewriter,
    H2OrDrop,
    LockingOut,
    Provisioning,
)
from run_cli import Finished, conformance

from conformance.reference.ees import EesSettings, build_ees_app
from conformance.reference.policy import EecRegistry, KnownEec
from conformance.reference.server import ReferenceServer
from conformance.reference.tls import ServerTls
from starlette.types import ASGIApp

TLS_CASES = ("EES-TLS-01", "EES-TLS-02", "EES-TLS-03")


@pytest.fixture
def pki(tmp_path: Path) -> Provisioning:
    return Provisioning.create(tmp_path / "provisioning")


@contextmanager
def serving(app: ASGIApp, tls: ServerTls) -> Iterator[ReferenceServer]:
    server = ReferenceServer(app, tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def token_ees_app(pki: Provisioning) -> ASGIApp:
    """A correct token-based EES for the crafted EECs: the reference EES app, configured here."""
    registry = EecRegistry(KnownEec(e.eec_id, e.gpsi, authorized=e.role != "unauthorized") for e in EECS)
    settings = EesSettings(
        EES_FQDN, registry, "token", SERVICES, trusted_issuer=ECS_FQDN, trusted_jwks=pki.material.public_jwks()
    )
    return build_ees_app(settings)


def verdicts_of(run: Finished, prefix: str) -> dict[str, list[tuple[str, str]]]:
    """Case ID -> [(requirement, verdict)] for the cases judging a requirement starting with ``prefix``."""
    found: dict[str, list[tuple[str, str]]] = {}
    for case_id, rid, verdict in run.judged():
        found.setdefault(case_id, []).append((rid, verdict))
    return {c: pairs for c, pairs in found.items() if any(rid.startswith(prefix) for rid, _ in pairs)}


def case_messages(case: dict[str, Any]) -> str:
    return "\n".join([case.get("message", ""), *(r["message"] for r in case["requirements"])])


# 1-3: the TLS cases over HTTP/2 ---------------------------------------------------------------


def test_h2_only_ees_with_client_certificate_check_passes_tls(pki: Provisioning, tmp_path: Path) -> None:
    """An HTTP/2-only EES (ALPN h2 alone, declared http_versions = ["2"]) that checks client
    certificates passes its TLS cases: the harness offers only h2 and judges on that transport."""
    tls = pki.server_tls(EES_FQDN, alpn=("h2",), client_auth="required")
    with serving(AcceptEverything(), tls) as server:
        target = pki.declare("h2-ees", "ees", server.base_url, http_versions=("2",), authorization="local")
        run = conformance("run", "--target", target, "--req", "EES-TLS", out=tmp_path / "out")
    assert run.status == 0, run.output
    tls_cases = verdicts_of(run, "EES-TLS")
    assert len(tls_cases) == 5 and all("http2" in c for c in tls_cases), tls_cases
    assert all(v == "PASS" for pairs in tls_cases.values() for rid, v in pairs if rid in TLS_CASES), tls_cases
