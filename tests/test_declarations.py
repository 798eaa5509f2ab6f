"""What a vendor declares changes verdicts visibly: deviations, external targets, served reference."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_cli import Finished, conformance

from conformance.reference.deployment import ReferenceDeployment


@pytest.fixture
def faulty_reference(tmp_path: Path) -> Iterator[ReferenceDeployment]:
    deployment = ReferenceDeployment.start(tmp_path / "reference", faults=["ees.ignores-aud"])
    yield deployment
    deployment.stop()


def test_declared_deviation_turns_the_failure_into_visible_na(
    faulty_reference: ReferenceDeployment, tmp_path: Path
) -> None:
    ees_token = next(p for p in faulty_reference.target_files if p.name == "reference-ees-token.toml")
    with ees_token.open("a", encoding="utf-8") as toml:
        toml.write('\n[[deviation]]\nrequirement = "EES-TOK-05"\nreason = "aud check ships in release 2.1"\n')
    run = conformance("run", "--target", ees_token, "--req", "EES-TOK-05", out=tmp_path / "out")
    assert run.status == 0, run.output
    judged = [(rid, v) for _, rid, v in run.judged()]
    assert ("EES-TOK-05", "N/A") in judged
    assert all(v == "N/A" for rid, v in judged if rid == "EES-TOK-05")
    messages = [r["message"] for c in run.cases() for r in c["requirements"] if r["id"] == "EES-TOK-05"]
    assert all("declared deviation (aud check ships in release 2.1)" in m for m in messages)


def run_token_ees_with_deviation(tmp_path: Path, faults: list[str], requirement: str, reason: str) -> Finished:
    """The reference token EES (with ``faults``) declaring a deviation, run on its EES-TOK-05 cases."""
    deployment = ReferenceDeployment.start(tmp_path / "reference", faults=faults)
    try:
        ees_token = next(p for p in deployment.target_files if p.name == "reference-ees-token.toml")
        with ees_token.open("a", encoding="utf-8") as toml:
            toml.write(f'\n[[deviation]]\nrequirement = "{requirement}"\nreason = "{reason}"\n')
        return conformance("run", "--target", ees_token, "--req", "EES-TOK-05", out=tmp_path / "out")
    finally:
        deployment.stop()


def test_a_deviation_on_the_shape_never_hides_a_failed_outcome(tmp_path: Path) -> None:
    """Issue: with a deviation on EES-RESP-01 (S) an EES refusing every valid token exited 0."""
    run = run_token_ees_with_deviation(tmp_path, ["ees.ignores-aud"], "EES-RESP-02", "we answer 400")
    assert run.status == 1, run.output
    assert "EES-TOK-05" in run.requirements_with("FAIL")


def test_a_deviation_the_target_no_longer_needs_is_reported_stale(tmp_path: Path) -> None:
    run = run_token_ees_with_deviation(tmp_path, [], "EES-TOK-05", "aud check ships in 2.1")
    assert run.status == 0, run.output
    (target,) = run.results()["targets"]
    assert target["deviations"] == [{"requirement": "EES-TOK-05", "reason": "aud check ships in 2.1", "stale": True}]
    assert "PASS (stale deviation) EES-TOK-05" in run.output
    assert "remove the deviation" in run.output


def test_reference_target_files_work_as_external_targets(faulty_reference: ReferenceDeployment, tmp_path: Path) -> None:
    run = conformance("run", *(a for p in faulty_reference.target_files for a in ("--target", p)), out=tmp_path / "o")
    assert run.status == 1, run.output
    assert run.requirements_with("FAIL") == {"EES-TOK-05"}


def test_reference_serve_writes_targets_and_stops_on_interrupt(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    server = subprocess.Popen(
        [sys.executable, "-m", "conformance", "reference", "serve", "--targets-dir", str(targets)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (targets / "reference-ecs.toml").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (targets / "reference-ecs.toml").exists()
        time.sleep(0.3)  # the files are written before the banner; let the banner out too
        run = conformance("run", "--target", targets / "reference-ecs.toml", out=tmp_path / "out")
        assert run.status == 0, run.output
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=20)
    assert server.returncode == 0, output
    assert "reference-ecs.toml" in output


def test_pki_export_writes_what_a_vendor_provisions(tmp_path: Path) -> None:
    done = conformance("pki", "export", tmp_path / "material")
    assert done.status == 0, done.output
    names = {p.name for p in (tmp_path / "material").iterdir()}
    assert {"ca.pem", "issuer.jwks.json", "issuer.pem", "README.txt", "eec-eec-0001.pem", "eec-eec-0001.key"} <= names
    for key in (tmp_path / "material").glob("*.key"):
        assert os.stat(key).st_mode & 0o777 == 0o600, key
    assert os.stat(tmp_path / "material" / "issuer-key.pem").st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("fault", "status"), [(None, 0), ("ecs.token-without-sub", 1)])
def test_token_endpoint_binding(tmp_path: Path, fault: str | None, status: int) -> None:
    """The same token checks through the OAuth 2.0 token endpoint instead of the response member."""
    deployment = ReferenceDeployment.start(tmp_path / "reference", faults=[fault] if fault else [])
    try:
        ecs = next(p for p in deployment.target_files if p.name == "reference-ecs.toml")
        text = ecs.read_text("utf-8")
        base_url = next(line.split('"')[1] for line in text.splitlines() if line.startswith("base_url"))
        ecs.write_text(
            text.replace(
                'binding = "response"\nmember = "accessToken"',
                f'binding = "token-endpoint"\ntoken_url = "{base_url}/oauth2/token"',
            ),
            "utf-8",
        )
        run = conformance("run", "--target", ecs, "--req", "ECS-TOK", out=tmp_path / "out")
    finally:
        deployment.stop()
    assert run.status == status, run.output
    exchanges = [e for c in run.cases() for e in c["evidence"] if e["kind"] == "HttpExchange"]
    assert any(e["url"].endswith("/oauth2/token") and e["status"] == 200 for e in exchanges)


def test_a_token_endpoint_error_is_the_targets_fail_with_the_answer_as_evidence(tmp_path: Path) -> None:
    """Issue: an error from the token endpoint for the authorized EEC became INCONCLUSIVE "issued no token"."""
    deployment = ReferenceDeployment.start(tmp_path / "reference")
    try:
        ecs = next(p for p in deployment.target_files if p.name == "reference-ecs.toml")
        text = ecs.read_text("utf-8")
        base_url = next(line.split('"')[1] for line in text.splitlines() if line.startswith("base_url"))
        ecs.write_text(  # a token URL that answers 404: the ECS issues nothing through it
            text.replace(
                'binding = "response"\nmember = "accessToken"',
                f'binding = "token-endpoint"\ntoken_url = "{base_url}/oauth2/no-such-endpoint"',
            ),
            "utf-8",
        )
        run = conformance("run", "--target", ecs, "--req", "ECS-TOK-06", out=tmp_path / "out")
    finally:
        deployment.stop()
    assert run.status == 1, run.output
    assert run.requirements_with("FAIL") == {"ECS-TOK-01"}
    assert "no-such-endpoint -> 404" in run.output


def run_reference_ecs_edited(tmp_path: Path, old: str, new: str) -> Finished:
    """The reference ECS target with ``old`` replaced by ``new`` in its declaration, run on ECS-TOK-06."""
    deployment = ReferenceDeployment.start(tmp_path / "reference")
    try:
        ecs = next(p for p in deployment.target_files if p.name == "reference-ecs.toml")
        text = ecs.read_text("utf-8")
        assert old in text, f"{old!r} is not in the reference ECS declaration"
        ecs.write_text(text.replace(old, new), "utf-8")
        return conformance("run", "--target", ecs, "--req", "ECS-TOK-06", out=tmp_path / "out")
    finally:
        deployment.stop()


def test_a_token_of_another_form_than_declared_is_the_declarations_error(tmp_path: Path) -> None:
    """Issue: a token object where the declaration says string was reported as the target's FAIL."""
    run = run_reference_ecs_edited(tmp_path, 'member = "accessToken"', 'member = "endPt"')
    assert run.status == 2, run.output
    assert set(run.verdicts().values()) == {"ERROR"}
    assert "ecs.token_delivery.member" in run.output
    assert "not a token string" in run.output


def test_a_token_pointer_that_does_not_resolve_is_the_declarations_error(tmp_path: Path) -> None:
    """A JSON Pointer (RFC 6901) the provisioning response does not have is an ERROR naming the key."""
    run = run_reference_ecs_edited(tmp_path, "/eess/2/accessToken", "/eess/7/accessToken")
    assert run.status == 2, run.output
    assert set(run.verdicts().values()) == {"ERROR"}
    assert "ecs.candidate_ees[2].token_pointer" in run.output
    assert "no index '7'" in run.output
