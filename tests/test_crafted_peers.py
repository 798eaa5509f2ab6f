"""Verdicts that hold on servers we did not write (issue of that name, section Proof).

Each test starts a small loopback server built for it (:mod:`crafted`: the reference's stack with
an app and TLS settings of the test's choosing, or the standard library), writes the server's
target declaration, runs the real ``conformance`` command against it and asserts the verdicts
exactly as ``results.json`` reports them.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from crafted import (
    ECS_FQDN,
    EECS,
    EES_FQDN,
    SERVICES,
    AcceptEverything,
    ChallengeRewriter,
    H2OrDrop,
    LockingOut,
    Provisioning,
)
from run_cli import Finished, conformance
from starlette.types import ASGIApp

from conformance.reference.deployment import ReferenceDeployment
from conformance.reference.ees import EesSettings, build_ees_app
from conformance.reference.policy import EecRegistry, KnownEec
from conformance.reference.server import ReferenceServer
from conformance.reference.tls import ServerTls
from conformance.targets.config import load_target
from conformance.targets.toml_format import dump_target

TLS_CASES = ("EES-TLS-01", "EES-TLS-02", "EES-TLS-03")
CLIENT_AUTH_SELECTION = ("--req", "EES-TLS-01", "--req", "EES-TLS-02", "--req", "EES-TLS-03")
"""The mutual-TLS cases these rules are about (five per transport); TLS-04/05 have their own tests."""
SHAPE_OWNERS = ("ECS-RESP-01", "EES-RESP-02", "ECS-TLS-08", "EES-TLS-07")
NEGATIVE_TESTS = (
    "test_generated_schema_invalid_requests_are_client_errors",
    "test_malformed_provisioning_request_is_a_client_error",
    "test_invalid_token_never_falls_back_to_local_policy",
    "test_other_grant_types_refused",
)


def ec_and_rsa_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    """The reference EES trusts only EC and RSA keys; the harness material also holds an Ed25519 one."""
    return {"keys": [k for k in jwks["keys"] if k["kty"] in ("EC", "RSA")]}


def is_negative(case: dict[str, Any]) -> bool:
    """A case that counts a refusal of what the application accepts: the suites name them
    test_refuses_*, plus a few others. The TLS profile (TLS 1.0/1.1 refused) is the server's TLS
    library's business, not the application's, and Python's ssl refuses them by default."""
    name = case["id"].split("::")[-1].split("[")[0]
    profile = any(r["id"].endswith("-TLS-05") for r in case["requirements"])
    return (name.startswith("test_refuses_") or name in NEGATIVE_TESTS) and not profile


@pytest.fixture(autouse=True)
def no_threads_left_behind() -> Iterator[None]:
    """Every crafted server is stopped, and its threads joined, by the end of its test."""
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left behind: {left}"


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
        EES_FQDN,
        registry,
        "token",
        SERVICES,
        trusted_issuer=ECS_FQDN,
        trusted_jwks=ec_and_rsa_keys(pki.material.public_jwks()),
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
        run = conformance("run", "--target", target, *CLIENT_AUTH_SELECTION, out=tmp_path / "out")
    assert run.status == 0, run.output
    tls_cases = verdicts_of(run, "EES-TLS")
    assert len(tls_cases) == 5, tls_cases
    assert all("http2" in c for c in tls_cases), tls_cases
    assert all(v == "PASS" for pairs in tls_cases.values() for rid, v in pairs if rid in TLS_CASES), tls_cases


def test_h2_only_ees_without_client_certificate_check_fails_tls(pki: Provisioning, tmp_path: Path) -> None:
    """The same HTTP/2-only EES with the check off (TLS never asks for a client certificate, the app
    serves anyone) fails EES-TLS-01..03: an outcome the harness observes on HTTP/2 alone."""
    tls = pki.server_tls(EES_FQDN, alpn=("h2",), client_auth="none")
    with serving(AcceptEverything(), tls) as server:
        target = pki.declare("h2-ees-open", "ees", server.base_url, http_versions=("2",), authorization="local")
        run = conformance("run", "--target", target, *CLIENT_AUTH_SELECTION, out=tmp_path / "out")
    assert run.status == 1, run.output
    outcomes = [(rid, v) for pairs in verdicts_of(run, "EES-TLS").values() for rid, v in pairs if rid in TLS_CASES]
    assert len(outcomes) == 5, outcomes
    assert all(v == "FAIL" for _, v in outcomes), outcomes
    assert {rid for rid, _ in outcomes} == set(TLS_CASES)


@dataclass
class DroppingRun:
    run: Finished
    dropped: int
    served: int


@pytest.fixture(scope="module")
def dropping_http11(tmp_path_factory: pytest.TempPathFactory) -> DroppingRun:
    """One run of the EES TLS cases against :class:`H2OrDrop`, declared ``http_versions = ["2", "1.1"]``."""
    directory = tmp_path_factory.mktemp("dropping-http11")
    pki = Provisioning.create(directory / "provisioning")
    server = H2OrDrop(pki.server_context(EES_FQDN, alpn=("h2", "http/1.1"), client_auth="none"))
    try:
        target = pki.declare("h2-or-drop", "ees", server.base_url, http_versions=("2", "1.1"), authorization="local")
        run = conformance("run", "--target", target, *CLIENT_AUTH_SELECTION, out=directory / "out")
    finally:
        server.close()
    return DroppingRun(run, server.dropped, server.served)


def tls_cases_by_transport(run: Finished) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    cases = {c["id"]: c for c in run.cases() if any(r["id"].startswith("EES-TLS") for r in c["requirements"])}
    h2 = {i: c for i, c in cases.items() if re.search(r"-http2[]-]", i)}
    http11 = {i: c for i, c in cases.items() if re.search(r"-http1\.1[]-]", i)}
    assert len(h2) + len(http11) == len(cases), sorted(cases)
    return h2, http11


def test_server_dropping_http11_and_checking_nothing_over_h2(dropping_http11: DroppingRun) -> None:
    """A standard-library server that drops every HTTP/1.1 connection and serves anyone over HTTP/2,
    declared ``["2", "1.1"]``: its h2 TLS cases FAIL, no TLS case ever PASSes, and the HTTP/1.1
    variants are INCONCLUSIVE (a dropped connection is no refusal when the valid EEC is dropped too)."""
    run = dropping_http11.run
    assert run.status == 1, run.output
    h2, http11 = tls_cases_by_transport(run)
    assert len(h2) == 5, (sorted(h2), sorted(http11))
    assert len(http11) == 5, (sorted(h2), sorted(http11))
    assert not any(r["verdict"] == "PASS" for c in [*h2.values(), *http11.values()] for r in c["requirements"])
    assert all(c["verdict"] == "FAIL" for c in h2.values()), {i: c["verdict"] for i, c in h2.items()}
    assert all(c["verdict"] == "INCONCLUSIVE" for c in http11.values()), {i: c["verdict"] for i, c in http11.items()}
    assert dropping_http11.dropped >= 1
    assert dropping_http11.served >= 1


def test_dropped_http11_variants_name_the_sanity_probe(dropping_http11: DroppingRun) -> None:
    """The INCONCLUSIVE HTTP/1.1 variants of the dropping server say what failed: the sanity probe
    (or the positive control), so a reader knows the valid EEC was dropped too."""
    _, http11 = tls_cases_by_transport(dropping_http11.run)
    assert http11
    for case_id, case in http11.items():
        text = case_messages(case)
        assert "sanity probe" in text or "positive control" in text, (case_id, text)


def test_h2_declared_server_checking_nothing_over_h2_fails_tls(pki: Provisioning, tmp_path: Path) -> None:
    """The dropping server declared ``http_versions = ["2"]``: only h2 variants, all FAIL, exit 1."""
    server = H2OrDrop(pki.server_context(EES_FQDN, alpn=("h2", "http/1.1"), client_auth="none"))
    try:
        target = pki.declare("h2-or-drop", "ees", server.base_url, http_versions=("2",), authorization="local")
        run = conformance("run", "--target", target, *CLIENT_AUTH_SELECTION, out=tmp_path / "out")
    finally:
        server.close()
    assert run.status == 1, run.output
    h2, http11 = tls_cases_by_transport(run)
    assert len(h2) == 5
    assert not http11
    assert all(c["verdict"] == "FAIL" for c in h2.values()), {i: c["verdict"] for i, c in h2.items()}
    assert server.dropped == 0


# 4-5: the shape of a refusal is judged apart from its outcome ------------------------------------


def test_token_refused_with_insufficient_scope_is_pass_and_warn(pki: Provisioning, tmp_path: Path) -> None:
    """An EES refusing a token for another audience (and one without aud) with 401 and
    ``Bearer error="insufficient_scope"``: the refusal is what EES-TOK-05 demands (PASS), its error
    code the wrong one (EES-RESP-02 WARN, in the same cases); exit 0, and 1 under --strict."""
    app = ChallengeRewriter(token_ees_app(pki), 'Bearer realm="crafted", error="insufficient_scope"')
    with serving(app, pki.server_tls(EES_FQDN)) as server:
        target = pki.declare("scope-ees", "ees", server.base_url, http_versions=("2",))
        run = conformance("run", "--target", target, "--req", "EES-TOK-05", out=tmp_path / "out")
        strict = conformance("run", "--target", target, "--req", "EES-TOK-05", "--strict", out=tmp_path / "strict")
    assert run.status == 0, run.output
    cases = verdicts_of(run, "EES-TOK-05")
    assert len(cases) == 2, cases
    for pairs in cases.values():
        assert sorted(pairs) == [("EES-RESP-02", "WARN"), ("EES-TOK-05", "PASS")], pairs
    warnings = [r["message"] for c in run.cases() for r in c["requirements"] if r["id"] == "EES-RESP-02"]
    assert all("insufficient_scope" in m for m in warnings), warnings
    assert strict.status == 1, strict.output
    assert {(rid, v) for pairs in verdicts_of(strict, "EES-TOK-05").values() for rid, v in pairs} == {
        ("EES-TOK-05", "PASS"),
        ("EES-RESP-02", "FAIL"),
    }


@pytest.mark.parametrize(
    "challenge",
    ["Bearer error=invalid_token", 'Bearer error = "invalid_token"', 'Basic realm="x", Bearer error="invalid_token"'],
    ids=["token-form", "spaces-around-equals", "second-challenge"],
)
def test_legal_challenge_spellings_are_no_violation(pki: Provisioning, tmp_path: Path, challenge: str) -> None:
    """A challenge in any spelling RFC 9110 11.6.1 allows (unquoted value, whitespace around ``=``,
    the Bearer challenge after another scheme's) is parsed, not string-matched: no FAIL, no WARN."""
    app = ChallengeRewriter(token_ees_app(pki), challenge)
    with serving(app, pki.server_tls(EES_FQDN)) as server:
        target = pki.declare("spelling-ees", "ees", server.base_url, http_versions=("2",))
        run = conformance("run", "--target", target, "--req", "EES-TOK-05", "--req", "EES-TOK-04", out=tmp_path / "o")
    assert run.status == 0, run.output
    judged = [(c, rid, v) for c, rid, v in run.judged()]
    refusals = {c for c, rid, _ in judged if rid == "EES-RESP-02"}
    assert len(refusals) >= 3, judged  # the expired and both wrong-audience cases at least
    assert all(v == "PASS" for _, _, v in judged), judged


# 6-7: the bracket of positive controls ------------------------------------------------------------


def test_accept_everything_server_fails_every_negative_case(pki: Provisioning, tmp_path: Path) -> None:
    """A server that answers 200/201 to anything, with or without certificate or token: every
    negative case of both roles is violated (FAIL at M, WARN at S), none PASS, none INCONCLUSIVE."""
    app = AcceptEverything()
    with serving(app, pki.server_tls(EES_FQDN, ECS_FQDN, client_auth="none")) as server:
        targets = [
            pki.declare("open-ees", "ees", server.base_url),
            pki.declare("open-ecs", "ecs", server.base_url),
        ]
        run = conformance("run", *(a for t in targets for a in ("--target", t)), out=tmp_path / "out")
    assert run.status == 1, run.output
    negatives = [c for c in run.cases() if is_negative(c) and c["verdict"] != "N/A"]
    assert len(negatives) >= 40, [c["id"] for c in run.cases()]
    for case in negatives:
        assert case["verdict"] in ("FAIL", "WARN"), (case["id"], case["verdict"], case_messages(case))
        outcome = [r for r in case["requirements"] if r["verdict"] and r["id"] not in SHAPE_OWNERS]
        assert outcome, case
        assert all(r["verdict"] == ("FAIL" if r["level"] == "M" else "WARN") for r in outcome), case
    assert not any(c["verdict"] in ("INCONCLUSIVE", "ERROR") for c in run.cases()), run.output
    # A PASS only where the application refuses nothing: the positive controls, the declared key set's
    # hygiene, and the TLS profile that the server's TLS library keeps (1.0/1.1 refused, a valid chain).
    measured = {c["id"] for c in run.cases() if all(r["level"] == "I" for r in c["requirements"])}
    passed = {
        c["id"].split("::")[-1].split("[")[0] for c in run.cases() if c["verdict"] == "PASS" and c["id"] not in measured
    }
    controls = {c["id"].split("::")[-1].split("[")[0] for c in run.cases() if c["positive_control"]}
    profile = {"test_refuses_tls_below_1_2", "test_tls_1_2_and_1_3_with_verifiable_server_certificate"}
    assert passed <= controls | profile | {"test_published_keys_are_public_and_strong"}, passed
    assert app.requests > len(negatives)


def test_server_locking_out_mid_run_never_earns_a_pass(pki: Provisioning, tmp_path: Path) -> None:
    """A server (its own, not the reference fault) serving its first requests to anyone, then refusing
    everything: no negative case PASSes; those refused after the lockout are INCONCLUSIVE, naming the
    positive control after the case that failed."""
    app = LockingOut(AcceptEverything(), serve=5)
    with serving(app, pki.server_tls(EES_FQDN)) as server:
        target = pki.declare("lockout-ees", "ees", server.base_url, http_versions=("2",))
        run = conformance("run", "--target", target, "--req", "EES-TOK", out=tmp_path / "out")
    assert run.status == 1, run.output
    # N/A from the declaration alone (it declares no concurrent_connections): such a case never ran
    negatives = [c for c in run.cases() if not c["positive_control"] and c["verdict"] != "N/A"]
    assert not any(r["verdict"] == "PASS" for c in negatives for r in c["requirements"]), run.output
    served_early = [c for c in negatives if c["verdict"] == "FAIL"]
    locked_out = [c for c in negatives if c["verdict"] == "INCONCLUSIVE"]
    assert served_early, run.output
    assert locked_out, run.output
    assert len(served_early) + len(locked_out) == len(negatives), run.output
    verdicts = [c["verdict"] for c in negatives]
    assert verdicts == sorted(verdicts, key=("FAIL", "INCONCLUSIVE").index), verdicts  # served, then locked out
    for case in locked_out:
        assert "the positive control after this case FAILED" in case_messages(case), case_messages(case)
    assert app.requests > app.serve


# 8-9: what the declaration says, before and without a probe -----------------------------------------


def test_server_certificate_only_ecs_makes_mutual_tls_cases_na_before_any_probe(
    pki: Provisioning, tmp_path: Path
) -> None:
    """An ECS declared ``client_auth = "server-certificate"``: its mutual-TLS cases are N/A from the
    declaration alone, saying why, and the harness never connects (no sanity probe, no INCONCLUSIVE)."""
    app = AcceptEverything()
    with serving(app, pki.server_tls(ECS_FQDN, client_auth="none")) as server:
        target = pki.declare("server-cert-ecs", "ecs", server.base_url, client_auth="server-certificate")
        args = ("--req", "ECS-TLS-01", "--req", "ECS-TLS-02", "--req", "ECS-TLS-03")
        run = conformance("run", "--target", target, *args, out=tmp_path / "out")
    assert run.status == 0, run.output
    cases = run.cases()
    assert len(cases) == 10, [c["id"] for c in cases]  # 5 cases x 2 declared HTTP versions
    for case in cases:
        assert case["verdict"] == "N/A", (case["id"], case["verdict"])
        assert "declares client_auth = 'server-certificate'" in case_messages(case), case_messages(case)
        assert "mutual certificate authentication" in case_messages(case)
    results = run.results()
    assert results["sanity_probes"] == [], results["sanity_probes"]
    assert app.requests == 0, results["sanity_probes"]


def test_declaration_without_unauthorized_or_second_eec(tmp_path: Path) -> None:
    """Declarations naming only the authorized EEC: ECS-AUTHZ-01 and EES-POL-02 are INCONCLUSIVE with
    what to declare (missing test data, not N/A), and the GPSI-01 cases still run, with a made-up
    foreign GPSI, and PASS against a correct ECS and EES."""
    deployment = ReferenceDeployment.start(tmp_path / "reference")
    try:
        targets = []
        for name in ("reference-ecs.toml", "reference-ees-local.toml", "reference-ees-token.toml"):
            config = load_target(deployment.directory / name)
            only_authorized = tuple(e for e in config.eecs if e.role == "authorized")
            config.file.write_text(dump_target(dataclasses.replace(config, eecs=only_authorized)), "utf-8")
            targets += ["--target", str(config.file)]
        reqs = ("ECS-AUTHZ-01", "EES-POL-02", "ECS-GPSI-01", "EES-GPSI-01")
        run = conformance("run", *targets, *(a for r in reqs for a in ("--req", r)), out=tmp_path / "out")
    finally:
        deployment.stop()
    assert run.status == 2, run.output
    by_requirement: dict[str, list[dict[str, Any]]] = {}
    for case in run.cases():
        for requirement in case["requirements"]:
            if requirement["verdict"]:
                by_requirement.setdefault(requirement["id"], []).append(requirement)
    missing = {"ECS-AUTHZ-01": 1, "EES-POL-02": 2}  # EES-POL-02: no token / a valid token, on the local EES
    for rid, count in missing.items():
        judged = [r for r in by_requirement[rid] if r["verdict"] != "N/A"]
        assert len(judged) == count, (rid, judged)
        assert all(r["verdict"] == "INCONCLUSIVE" for r in judged), (rid, judged)
        assert all('declare an [[eec]] with role = "unauthorized"' in r["message"] for r in judged), judged
    for rid in ("ECS-GPSI-01", "EES-GPSI-01"):
        assert by_requirement[rid], by_requirement[rid]
        assert all(r["verdict"] == "PASS" for r in by_requirement[rid]), by_requirement[rid]
    gpsi_cases = [c for c in run.cases() if any(r["id"].endswith("GPSI-01") for r in c["requirements"])]
    assert len(gpsi_cases) == 3
    for case in gpsi_cases:
        notes = [e for e in case["evidence"] if e["kind"] == "Note" and "made-up GPSI" in str(e)]
        assert notes, case["evidence"]
