"""The main job end to end: the full suite against the embedded reference, with and without faults.

Every named fault must make the run exit 1 with exactly the tests that check it failing: this is
what proves that each conformance check can fail.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from run_cli import Finished, conformance

from conformance import requirements
from conformance.reference.faults import FAULTS


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    return conformance("run", "--target", "reference", out=tmp_path_factory.mktemp("clean"))


def test_reference_run_passes_every_applicable_test(clean_run: Finished) -> None:
    assert clean_run.status == 0, clean_run.output
    verdicts = clean_run.verdicts()
    assert set(verdicts.values()) <= {"PASS", "N/A"}
    assert sum(v == "PASS" for v in verdicts.values()) >= 30


def test_reference_run_writes_results_and_junit(clean_run: Finished) -> None:
    results = clean_run.results()
    assert results["exit_status"] == 0
    assert results["counts"]["tls_connections"] > 0
    assert {t["role"] for t in results["targets"]} == {"ecs", "ees"}
    exchange = next(e for e in results["tests"][0]["evidence"] if e["kind"] == "HttpExchange")
    assert exchange["tls"]["outcome"] in ("established", "refused-with-alert", "closed-without-alert")
    junit = ET.parse(clean_run.out / "junit.xml").getroot()  # type: ignore[operator]
    cases = junit.findall(".//testcase")
    assert len(cases) == results["counts"]["total"]


def test_na_is_visible_with_its_reason(clean_run: Finished) -> None:
    na = [t for t in clean_run.results()["tests"] if t["verdict"] == "N/A"]
    assert na and all("declares" in t["message"] for t in na)


def test_tokens_are_redacted_in_results(clean_run: Finished) -> None:
    text = (clean_run.out / "results.json").read_text("utf-8")  # type: ignore[operator]
    assert "redacted" in text
    assert '"accessToken": "eyJ' not in text.replace("…[redacted", "")


FAILED_UNDER_SOME_FAULT: set[str] = set()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_fault_fails_exactly_the_tests_that_check_it(fault: str, tmp_path: Path) -> None:
    best_practice_only = all(requirements.lookup(r).level == "S" for r in FAULTS[fault].requirements)
    strict = ["--strict"] if best_practice_only else []  # an S-level violation is a WARN unless --strict
    run = conformance("run", "--target", "reference", "--fault", fault, *strict, out=tmp_path)
    assert run.status == 1, run.output
    tests = run.results()["tests"]
    failed = [t for t in tests if t["verdict"] == "FAIL"]
    FAILED_UNDER_SOME_FAULT.update(t["id"] for t in failed)
    checked = set(FAULTS[fault].requirements)
    assert failed, f"{fault}: nothing failed"
    for test in failed:
        assert checked & set(test["requirements"]), f"{fault} failed an unrelated test: {test['id']}"
    for requirement in checked:
        assert any(requirement in t["requirements"] for t in failed), f"{fault}: no {requirement} test failed"
    assert not [t for t in tests if t["verdict"] == "ERROR"], run.output


def test_several_faults_at_once_fail_the_union_of_their_tests(tmp_path: Path) -> None:
    faults = ("ecs.skips-gpsi-check", "ees.ignores-aud")
    run = conformance("run", "--target", "reference", *(a for f in faults for a in ("--fault", f)), out=tmp_path)
    assert run.status == 1, run.output
    failed = {r for t in run.results()["tests"] if t["verdict"] == "FAIL" for r in t["requirements"]}
    assert failed == {"ECS-GPSI-01", "EES-TOK-05"}


def test_best_practice_violation_warns_unless_strict(tmp_path: Path) -> None:
    run = conformance("run", "--target", "reference", "--fault", "ecs.plain-error-bodies", out=tmp_path)
    assert run.status == 0, run.output
    warned = [t for t in run.results()["tests"] if t["verdict"] == "WARN"]
    assert [t["requirements"] for t in warned] == [["ECS-RESP-01"]]
    assert "S-level requirement not met" in warned[0]["message"]


def test_req_selects_by_prefix(tmp_path: Path) -> None:
    run = conformance("run", "--target", "reference", "--req", "EES-TOK-0", out=tmp_path)
    assert run.status == 0, run.output
    ids = {r for t in run.results()["tests"] for r in t["requirements"]}
    assert ids and all(r.startswith("EES-TOK-0") or r == "EES-RESP-01" for r in ids)


def test_list_needs_no_target() -> None:
    listing = conformance("list", "--json")
    assert listing.status == 0, listing.output
    rows = json.loads(listing.output)
    assert {"ECS-TLS-01", "EES-TOK-01", "EES-POL-01", "ECS-AUTHZ-02"} <= {
        r for row in rows for r in row["requirements"]
    }
    assert all(row["title"] and row["level"] in "MSI" and row["role"] in ("ecs", "ees") for row in rows)


def test_unknown_fault_is_a_setup_error() -> None:
    run = conformance("run", "--target", "reference", "--fault", "ecs.no-such-fault")
    assert run.status == 2
    assert "ecs.no-such-fault" in run.output and "Traceback" not in run.output


def test_every_case_that_passes_can_fail(clean_run: Finished) -> None:
    """Every case PASS on the clean reference is FAIL under at least one named fault."""
    if len(FAILED_UNDER_SOME_FAULT) == 0:
        pytest.fail("run the fault tests of this module first (they fill FAILED_UNDER_SOME_FAULT)")
    passing = {case for case, verdict in clean_run.verdicts().items() if verdict == "PASS"}
    assert passing - FAILED_UNDER_SOME_FAULT == set()
