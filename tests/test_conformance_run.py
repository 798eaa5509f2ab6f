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


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    return conformance("run", "--target", "reference", out=tmp_path_factory.mktemp("clean"))


def test_reference_run_passes_every_applicable_test(clean_run: Finished) -> None:
    assert clean_run.status == 0, clean_run.output
    verdicts = clean_run.verdicts()
    assert set(verdicts.values()) <= {"PASS", "N/A"}
    assert sum(v == "PASS" for v in verdicts.values()) >= 50


def test_reference_run_writes_results_and_junit(clean_run: Finished) -> None:
    results = clean_run.results()
    assert results["schema_version"] == 1
    assert results["run"]["state"] == "complete"
    assert results["exit_status"] == 0
    assert results["counts"]["tls_connections"] > 0
    assert results["counts"]["http_requests"] > 0
    assert {t["role"] for t in results["targets"]} == {"ecs", "ees"}
    exchange = next(e for e in results["cases"][0]["evidence"] if e["kind"] == "HttpExchange")
    assert exchange["tls"]["outcome"] in ("established", "refused-with-alert", "closed-without-alert")
    junit = ET.parse(clean_run.out / "junit.xml").getroot()  # type: ignore[operator]
    cases = junit.findall(".//testcase")
    assert len(cases) == results["counts"]["cases"]["total"]
    assert all(c.find("properties/property[@name='requirement']") is not None for c in cases)


def test_na_is_visible_with_its_reason(clean_run: Finished) -> None:
    na = [c for c in clean_run.cases() if c["verdict"] == "N/A"]
    assert na
    assert all("declares" in c["message"] for c in na)


def test_tokens_are_redacted_in_results(clean_run: Finished) -> None:
    text = (clean_run.out / "results.json").read_text("utf-8")  # type: ignore[operator]
    assert "redacted" in text
    assert '"accessToken": "eyJ' not in text.replace("…[redacted", "")


def test_several_faults_at_once_fail_the_union_of_their_requirements(tmp_path: Path) -> None:
    faults = ("ecs.skips-gpsi-check", "ees.ignores-aud")
    run = conformance("run", "--target", "reference", *(a for f in faults for a in ("--fault", f)), out=tmp_path)
    assert run.status == 1, run.output
    assert run.requirements_with("FAIL") == {"ECS-GPSI-01", "EES-TOK-05"}


def test_best_practice_violation_warns_unless_strict(tmp_path: Path) -> None:
    run = conformance("run", "--target", "reference", "--fault", "ecs.plain-error-bodies", out=tmp_path)
    assert run.status == 0, run.output
    assert run.requirements_with("WARN") == {"ECS-RESP-01"}
    assert run.requirements_with("FAIL") == set()
    warned = [r for c in run.cases() for r in c["requirements"] if r["verdict"] == "WARN"]
    assert warned
    assert all("S-level requirement not met" in r["message"] for r in warned)
    strict = conformance(
        "run", "--target", "reference", "--fault", "ecs.plain-error-bodies", "--strict", out=tmp_path / "strict"
    )
    assert strict.status == 1
    assert strict.requirements_with("FAIL") == {"ECS-RESP-01"}


def test_req_selects_by_prefix(tmp_path: Path) -> None:
    run = conformance("run", "--target", "reference", "--req", "EES-TOK-0", out=tmp_path)
    assert run.status == 0, run.output
    cited = {rid for c in run.cases() for rid in [r["id"] for r in c["requirements"]][:1]}
    assert cited
    assert all(r.startswith("EES-TOK-0") for r in cited)


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
    assert "ecs.no-such-fault" in run.output
    assert "Traceback" not in run.output


def test_a_selection_that_matches_nothing_says_so(tmp_path: Path) -> None:
    run = conformance("run", "--target", "reference", "--req", "EES-NOPE", out=tmp_path)
    assert run.status == 2
    assert "--req EES-NOPE: selects no conformance case" in run.output
    assert "Traceback" not in run.output


def test_every_run_says_what_it_did_not_test(clean_run: Finished) -> None:
    """Issue: an exit 0 said nothing of the catalogue IDs no test covers, so it read as "conformant"."""
    results = clean_run.results()
    coverage = {row["id"]: row for row in results["coverage"]}
    assert set(coverage) == set(requirements.catalogue())
    tested = [r for r in coverage.values() if r["state"] in ("tested", "not-applicable")]
    uncovered = [r for r in coverage.values() if r["state"] == "not-covered"]
    assert all(r["tests"] and r["verdict"] for r in tested)
    line = f"requirements: {len(tested)} of {len(coverage)} tested ("
    assert line in clean_run.output
    if uncovered:
        assert f"{len(uncovered)} not covered by this harness version" in clean_run.output


def test_report_diff_gates_a_regression_between_two_real_runs(clean_run: Finished, tmp_path: Path) -> None:
    """Issue: `conformance report diff` on a clean run and a run with a fault exits 1 naming what regressed."""
    faulty = conformance("run", "--target", "reference", "--fault", "ees.ignores-aud", out=tmp_path / "faulty")
    assert faulty.status == 1, faulty.output
    assert clean_run.out is not None
    assert faulty.out is not None
    diff = conformance("report", "diff", clean_run.out / "results.json", faulty.out / "results.json")
    assert diff.status == 1, diff.output
    assert "EES-TOK-05" in diff.output
    same = conformance("report", "diff", clean_run.out / "results.json", clean_run.out / "results.json")
    assert same.status == 0, same.output


def test_every_run_draws_a_report_from_a_record_valid_under_its_schema(clean_run: Finished) -> None:
    from conformance.reporting.schema import problems

    assert clean_run.out is not None
    assert problems(clean_run.results()) == []
    page = (clean_run.out / "report.html").read_text("utf-8")
    assert "<html" in page
    assert "EES-TOK-05" in page
    assert "PRIVATE KEY" not in page
    for name in ("results.json", "report.html", "junit.xml"):
        assert f"wrote {(clean_run.out / name).resolve()}" in clean_run.output


def test_allure_results_carry_the_spec_clause_and_requirement(tmp_path: Path) -> None:
    """allure-pytest labels every case epic = TS 33.558, feature = clause, story = requirement ID, with the evidence."""
    allure_dir = tmp_path / "allure"
    run = conformance(
        "run", "--target", "reference", "--req", "EES-TOK-05", "--alluredir", allure_dir, out=tmp_path / "o"
    )
    assert run.status == 0, run.output
    results = [json.loads(p.read_text("utf-8")) for p in allure_dir.glob("*-result.json")]
    assert results
    for result in results:
        labels = {(label["name"], label["value"]) for label in result["labels"]}
        assert {("epic", "TS 33.558"), ("story", "EES-TOK-05")} <= labels
        assert any(name == "feature" and value.startswith("clause 6.") for name, value in labels)
        assert result["links"][0]["url"].startswith("https://www.3gpp.org/")
    attachments = list(allure_dir.glob("*-attachment.json"))
    assert attachments
    assert any('"kind": "HttpExchange"' in p.read_text("utf-8") for p in attachments)


def test_the_reproduce_command_of_a_failure_runs_that_case_alone(tmp_path: Path) -> None:
    """Issue: `conformance run` had no --case (argparse took it for --case-timeout), so the reproduce
    line of every FAIL message ended in exit 2."""
    import shlex

    run = conformance("run", "--target", "reference", "--fault", "ees.ignores-aud", "--req", "EES-TOK-05", out=tmp_path)
    failed = next(c for c in run.cases() if c["verdict"] == "FAIL")
    line = next(line for line in failed["message"].splitlines() if "reproduce: " in line)
    words = shlex.split(line.split("reproduce: ", 1)[1])
    assert words[:2] == ["conformance", "run"]
    again = conformance(*words[1:], out=tmp_path / "again")
    assert again.status == 1, again.output
    assert again.verdicts() == {failed["id"]: "FAIL"}
