"""The record contract: results.schema.json, the fixture records, and one-line errors for bad files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from report_records import RECORDS, case, record, write

from conformance.reporting.schema import RecordError, load_record, problems, schema, validate
from conformance.requirements import catalogue


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("path", sorted(RECORDS.glob("*.json")), ids=lambda p: p.name)
def test_fixture_records_are_valid(path: Path) -> None:
    assert problems(json.loads(path.read_text("utf-8"))) == []
    assert load_record(path)["schema_version"] == 1


def test_every_verdict_fixture_holds_every_kind_of_result() -> None:
    data = record()
    case_verdicts = {c["verdict"] for c in data["cases"]}
    assert case_verdicts == {"PASS", "FAIL", "WARN", "N/A", "INCONCLUSIVE", "ERROR"}
    requirement_verdicts = {q["verdict"] for c in data["cases"] for q in c["requirements"]}
    assert None in requirement_verdicts  # a requirement not judged in a case
    assert {r["state"] for r in data["coverage"]} == {"tested", "not-applicable", "not-covered", "not-selected"}
    assert [r["id"] for r in data["coverage"]] == list(catalogue())
    deviations = [d for t in data["targets"] for d in t["deviations"]]
    assert {d["stale"] for d in deviations} == {True, False}
    na = [c for c in data["cases"] if c["verdict"] == "N/A"]
    assert all(c["message"] for c in na)  # N/A always with its reason
    alerts = {e["tls"]["alert"] for c in data["cases"] for e in c["evidence"] if e["kind"] == "HttpExchange"}
    assert "TLSV1_ALERT_UNKNOWN_CA" in alerts
    challenge = case(data, "test_refuses_request_without_token")["evidence"][2]
    assert challenge["status"] == 401
    assert "www-authenticate" in challenge["response_headers"]
    assert any(e["kind"] == "TokenFacts" for c in data["cases"] for e in c["evidence"])
    assert record("interrupted")["run"]["state"] == "interrupted"


def test_fixture_counts_agree_with_its_cases_and_coverage() -> None:
    from conformance.reporting import view

    for name in ("every-verdict", "interrupted"):
        assert view.count_mismatches(view.prepare(record(name))) == [], name


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("cases"), "$: 'cases' is a required property"),
        (lambda d: d["cases"][0].update(verdict="MAYBE"), "$.cases[0].verdict: 'MAYBE' is not one of"),
        (lambda d: d["run"].update(state="paused"), "$.run.state: 'paused' is not one of"),
        (lambda d: d["cases"][2]["evidence"][2].update(status="403"), "$.cases[2].evidence[2].status: '403' is not"),
        (lambda d: d["cases"][0]["evidence"][1].pop("text"), "$.cases[0].evidence[1]: 'text' is a required property"),
        (lambda d: d["coverage"][0].update(state="maybe"), "$.coverage[0].state"),
        (lambda d: d.update(exit_status=3), "$.exit_status: 3 is not one of"),
        (lambda d: d.update(schema_version=2), "schema_version 2 is not supported (this harness reads 1)"),
    ],
)
def test_an_invalid_record_is_one_line_naming_the_member(
    mutate: Callable[[dict[str, Any]], object], expected: str
) -> None:
    data = record()
    mutate(data)
    with pytest.raises(RecordError) as caught:
        validate(data, "x/results.json")
    message = str(caught.value)
    assert message.startswith("x/results.json: ")
    assert expected in message
    assert "\n" not in message


def test_unknown_evidence_kinds_and_additional_members_are_allowed() -> None:
    data = record()
    data["cases"][0]["evidence"].append({"kind": "ServerClock", "offset_s": 0.4})
    data["run"]["x-vendor"] = {"anything": True}
    assert problems(data) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"", "not JSON: Expecting value at line 1 column 1"),
        (b'{"schema_version": 1,', "not JSON"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b"[]", "not a valid results.json: $: [] is not of type 'object'"),
        (b'{"schema_version": 1}', "not a valid results.json: $: 'harness' is a required property (and 6 more)"),
    ],
)
def test_load_record_reports_a_bad_file_in_one_line(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RecordError) as caught:
        load_record(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_load_record_of_a_directory(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="is a directory"):
        load_record(tmp_path)


def test_load_record_round_trip(tmp_path: Path) -> None:
    data = record()
    assert load_record(write(tmp_path, data)) == data
