"""conformance report diff: what changed between two runs of the same target, and whether it regressed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from report_records import case, coverage_row, record, write
from run_cli import conformance

from conformance.reporting.diff import diff_records
from conformance.reporting.schema import RecordError


def set_requirement(data: dict[str, Any], id_part: str, requirement: str, verdict: str | None) -> None:
    """Change one requirement verdict in one case, and the case verdict and coverage row with it."""
    severity = ["ERROR", "INCONCLUSIVE", "FAIL", "WARN", "N/A", "PASS"]
    c = case(data, id_part)
    for q in c["requirements"]:
        if q["id"] == requirement:
            q["verdict"] = verdict
    c["verdict"] = min((q["verdict"] for q in c["requirements"] if q["verdict"]), key=severity.index)
    row = coverage_row(data, requirement)
    verdicts = [
        q["verdict"] for k in data["cases"] for q in k["requirements"] if q["id"] == requirement and q["verdict"]
    ]
    row["verdict"] = min(verdicts, key=severity.index)


def lines(old: dict[str, Any], new: dict[str, Any]) -> str:
    return "\n".join(diff_records(old, new, "old.json", "new.json").lines())


def test_identical_runs_have_nothing_to_report() -> None:
    result = diff_records(record(), record())
    assert result.changes == []
    assert not result.regressed
    assert result.exit_status() == 0
    assert result.lines()[-1] == "no change in verdicts, observations, coverage or declarations; exit status 0"


def test_a_new_failure_is_a_regression() -> None:
    new = record()
    set_requirement(new, "test_refuses_request_without_token", "EES-TOK-02", "FAIL")
    result = diff_records(record(), new)
    assert result.regressed
    assert result.exit_status() == 1
    text = "\n".join(result.lines())
    assert "REGRESSED (2)" in text
    assert "requirement EES-TOK-02 (M, 6.3): PASS -> FAIL  [new failure]" in text
    assert "case test_refuses_request_without_token[acme-ees]: PASS -> FAIL  [new failure]" in text
    assert "      EES-TOK-02: PASS -> FAIL" in text
    assert text.endswith("REGRESSED: 1 requirement and 1 case got worse (2 new failures); exit status 1")


def test_a_fix_is_reported_and_is_no_regression() -> None:
    new = record()
    set_requirement(new, "outside_validity[acme-ecs-expired]", "ECS-TLS-03", "PASS")
    result = diff_records(record(), new)
    assert not result.regressed
    text = "\n".join(result.lines())
    assert "FIXED (2)" in text
    assert "requirement ECS-TLS-03 (M, 6.2): FAIL -> PASS  [fixed]" in text


@pytest.mark.parametrize(
    ("id_part", "requirement", "old", "new", "regressed"),
    [
        ("test_refuses_authenticated_unauthorized_eec", "ECS-RESP-01", "WARN", "PASS", False),
        ("test_refuses_request_without_token", "EES-RESP-02", "PASS", "WARN", True),
        ("test_refuses_eec_without_client_certificate[acme-ees]", "EES-TLS-01", "PASS", "INCONCLUSIVE", True),
        ("test_refuses_eec_without_client_certificate[acme-ees]", "EES-TLS-01", "PASS", "N/A", True),
        ("gpsi_of_another_eec", "ECS-GPSI-01", "INCONCLUSIVE", "ERROR", False),
        ("gpsi_of_another_eec", "ECS-GPSI-01", "INCONCLUSIVE", "PASS", False),
    ],
)
def test_worse_is_a_regression_better_is_not(
    id_part: str, requirement: str, old: str, new: str, regressed: bool
) -> None:
    before = record()
    assert next(q for q in case(before, id_part)["requirements"] if q["id"] == requirement)["verdict"] == old
    after = record()
    set_requirement(after, id_part, requirement, new)
    assert diff_records(before, after).regressed is regressed
    assert diff_records(after, before).regressed is (not regressed and new != "ERROR")


def test_a_requirement_worse_inside_a_case_that_still_fails_is_a_regression() -> None:
    new = record()
    c = case(new, "another_audience[acme-ees-sibling]")
    c["requirements"][1]["verdict"] = "WARN"  # EES-RESP-02 was not judged; the case stays FAIL
    result = diff_records(record(), new)
    case_changes = [ch for ch in result.changes if ch.section == "case"]
    assert [ch.details for ch in case_changes] == [["EES-RESP-02: not judged -> WARN"]]
    assert not result.regressed  # from not judged to judged is new information, not worse
    c["requirements"][0]["verdict"] = "ERROR"
    c["verdict"] = "ERROR"
    assert not diff_records(record(), new).regressed  # FAIL -> ERROR: unknown now, not worse for the target


def test_changed_observations_are_reported_but_decide_nothing() -> None:
    new = record()
    refused = case(new, "without_client_certificate[acme-ees]")["evidence"][2]
    refused["tls"]["alert"] = "SSLV3_ALERT_HANDSHAKE_FAILURE"
    refused["tls"]["phase"] = "handshake"
    measured = next(e for e in case(new, "token_lifetime")["evidence"] if e.get("label") == "token lifetime")
    measured["value"] = 86400
    token = next(e for e in case(new, "another_audience[acme-ees-sibling]")["evidence"] if e["kind"] == "TokenFacts")
    token["verified"] = False
    result = diff_records(record(), new)
    assert not result.regressed
    assert result.exit_status() == 0
    text = "\n".join(result.lines())
    assert "CHANGED OBSERVATIONS (3)" in text
    assert (
        "observation test_refuses_eec_without_client_certificate[acme-ees] exchange 'EEC authorized, no certificate"
        " / EEC registration (EDGE-1)': TLS alert: TLSV13_ALERT_CERTIFICATE_REQUIRED -> SSLV3_ALERT_HANDSHAKE_FAILURE"
    ) in text
    assert "measurement 'token lifetime (exp - iat)': value: 300 s -> 86400 s" in text
    assert "token 'access token sent by the EEC (Authorization: Bearer)': signature verified: true -> false" in text


def test_coverage_and_declaration_changes() -> None:
    new = record()
    new["cases"] = [c for c in new["cases"] if "test_refuses_expired_token" not in c["id"]]
    row = coverage_row(new, "EES-TOK-04")
    row.update(state="not-covered", verdict=None, tests=[])
    new["targets"][1]["deviations"][1]["stale"] = False
    new["targets"][1]["deviations"].pop(0)
    text = lines(record(), new)
    assert "COVERAGE (2)" in text
    assert "coverage EES-TOK-04 (M, 6.3): PASS -> not-covered" in text
    assert "coverage case test_refuses_expired_token[acme-ees]: PASS -> not run" in text
    assert "DECLARATIONS (2)" in text
    assert "declaration acme-ees deviation from EES-RESP-02: declared: 401 bodies" in text
    assert "declaration acme-ees deviation from EES-TLS-04: declared (stale): extended" in text


def test_a_case_only_in_new_that_fails_is_a_new_failure() -> None:
    new = record()
    extra = json.loads(json.dumps(case(new, "another_audience[acme-ees-sibling]")))
    extra["id"] = extra["id"].replace("sibling", "wildcard")
    new["cases"].append(extra)
    result = diff_records(record(), new)
    assert result.regressed
    assert "case test_refuses_token_for_another_audience[acme-ees-wildcard]: not run -> FAIL  [new failure]" in (
        "\n".join(result.lines())
    )


def test_notes_say_when_the_comparison_is_uneven() -> None:
    new = record("interrupted")
    new["run"]["strict"] = True
    new["harness"]["version"] = "0.3.0"
    text = lines(record(), new)
    assert "note: the NEW run was interrupted: its results are partial" in text
    assert "note: strict differs (OLD False, NEW True)" in text
    assert "note: harness version differs (OLD 0.2.0, NEW 0.3.0)" in text


def test_runs_of_different_targets_are_refused() -> None:
    new = record()
    for t in new["targets"]:
        t["name"] = "other-" + t["name"]
    for c in new["cases"]:
        c["target"] = "other-" + c["target"]
    with pytest.raises(RecordError, match="a diff compares two runs of the same target"):
        diff_records(record(), new, "old.json", "new.json")


def run_diff(tmp_path: Path, old: dict[str, Any] | Path, new: dict[str, Any] | Path, *extra: str) -> tuple[int, str]:
    paths = [
        p if isinstance(p, Path) else write(tmp_path, p, f"{name}.json") for name, p in (("old", old), ("new", new))
    ]
    done = conformance("report", "diff", *paths, *extra)
    return done.status, done.output


def test_cli_exit_status_0_1_2(tmp_path: Path) -> None:
    status, output = run_diff(tmp_path, record(), record())
    assert status == 0
    assert "no change" in output
    worse = record()
    set_requirement(worse, "test_accepts_valid_token", "EES-TOK-01", "FAIL")
    status, output = run_diff(tmp_path, record(), worse)
    assert status == 1
    assert "requirement EES-TOK-01 (M, 6.3): PASS -> FAIL  [new failure]" in output
    status, output = run_diff(tmp_path, record(), tmp_path / "missing.json")
    assert status == 2
    assert output.strip() == f"conformance report: {tmp_path / 'missing.json'}: no such file"
    invalid = record()
    invalid["cases"][0]["verdict"] = "BROKEN"
    status, output = run_diff(tmp_path, invalid, record())
    assert status == 2
    assert len(output.strip().splitlines()) == 1
    assert f"{tmp_path / 'old.json'}: not a valid results.json: $.cases[0].verdict: 'BROKEN'" in output


def test_cli_json_output(tmp_path: Path) -> None:
    worse = record()
    set_requirement(worse, "test_accepts_valid_token", "EES-TOK-01", "FAIL")
    status, output = run_diff(tmp_path, record(), worse, "--json")
    assert status == 1
    data = json.loads(output)
    assert data["regressed"] is True
    assert {"section": "requirement", "subject": "EES-TOK-01", "old": "PASS", "new": "FAIL"}.items() <= (
        data["changes"][0].items()
    )
