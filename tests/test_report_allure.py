"""Allure results from the record (epic/feature/story, links, attachments) and the single-file build."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from report_records import record

from conformance.reporting import allure


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("allure-results")
    allure.write_results(record(), directory)
    return directory


def result_of(directory: Path, name_part: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    for path in directory.glob("*-result.json"):
        data = json.loads(path.read_text("utf-8"))
        if name_part in data["fullName"]:
            found.append(data)
    assert len(found) == 1, name_part
    return found[0]


def labels(result: dict[str, Any], name: str) -> list[str]:
    return [label["value"] for label in result["labels"] if label["name"] == name]


def test_one_result_per_case_with_epic_feature_and_stories(results: Path) -> None:
    assert len(list(results.glob("*-result.json"))) == 16
    r = result_of(results, "another_audience[acme-ees-sibling]")
    assert labels(r, "epic") == ["TS 33.558"]
    assert labels(r, "feature") == ["clause 6.3"]
    assert labels(r, "story") == ["EES-TOK-05", "EES-RESP-02"]
    assert labels(r, "severity") == ["critical"]
    assert labels(r, "suite") == ["acme-ees"]
    assert r["links"] == [{"name": "TS 33.558 clause 6.3", "url": allure.SPEC_URL, "type": "link"}]
    assert r["status"] == "failed"
    assert r["statusDetails"]["message"].startswith("FAIL: EES-TOK-05 (M)")
    assert [s["name"] for s in r["steps"]] == ["EES-TOK-05 (M): FAIL", "EES-RESP-02 (S): not judged"]


@pytest.mark.parametrize(
    ("name", "status", "tag"),
    [
        ("untrusted_ca[acme-ecs-rogue-same-dn]", "passed", "PASS"),
        ("test_refuses_authenticated_unauthorized_eec", "passed", "WARN"),
        ("test_records_psk_tls", "skipped", "N/A"),
        ("gpsi_of_another_eec", "broken", "INCONCLUSIVE"),
        ("unsigned_token", "broken", "ERROR"),
    ],
)
def test_verdicts_map_onto_allure_statuses(results: Path, name: str, status: str, tag: str) -> None:
    r = result_of(results, name)
    assert r["status"] == status
    assert tag in labels(r, "tag")


def test_evidence_and_decoded_tokens_are_attachments(results: Path) -> None:
    r = result_of(results, "another_audience[acme-ees-sibling]")
    names = [a["name"] for a in r["attachments"]]
    assert names == [
        "message",
        "evidence 1: note: sanity probe",
        "evidence 2: note: deliberately broken",
        "evidence 3: decoded token: access token sent by the EEC (Authorization: Bearer)",
        "evidence 4: HTTP exchange: EEC authorized, valid certificate / EEC registration (EDGE-1)",
        "reproduce",
    ]
    token = json.loads((results / r["attachments"][3]["source"]).read_text("utf-8"))
    assert token["claims"]["aud"] == "sibling-of.ees.acme.test"
    exchange = json.loads((results / r["attachments"][4]["source"]).read_text("utf-8"))
    assert exchange["status"] == 201
    assert exchange["tls"]["outcome"] == "established"
    for attachment in r["attachments"]:
        assert (results / attachment["source"]).is_file()


def test_environment_categories_and_stable_names(results: Path, tmp_path: Path) -> None:
    environment = (results / "environment.properties").read_text("utf-8")
    assert "run.state=complete" in environment
    assert "target.acme-ees=ees https\\://198.51.100.20\\:9443" in environment
    assert json.loads((results / "categories.json").read_text("utf-8"))[0]["matchedStatuses"] == ["failed"]
    allure.write_results(record(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in results.iterdir())


def test_secrets_never_reach_the_attachments(tmp_path: Path) -> None:
    data = record()
    data["cases"][0]["evidence"][0]["text"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
    data["cases"][0]["message"] = "password=hunter2"
    allure.write_results(data, tmp_path)
    for path in tmp_path.iterdir():
        text = path.read_text("utf-8")
        assert "PRIVATE KEY" not in text
        assert "hunter2" not in text


def test_analytics_are_stripped_from_a_generated_report() -> None:
    page = (
        '<head><script async src="https://www.googletagmanager.com/gtag/js?id=G-X"></script>\n'
        "<script>\n window.dataLayer = window.dataLayer || [];\n function gtag(){dataLayer.push(arguments);}\n"
        " gtag('config', 'G-X');\n</script>\n<script>window.report = 1;</script></head>"
    )
    stripped = allure.strip_analytics(page)
    assert "googletagmanager" not in stripped
    assert "gtag" not in stripped
    assert "dataLayer" not in stripped
    assert "<script>window.report = 1;</script>" in stripped


def test_without_node_the_build_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    outcome = allure.build_single_file(tmp_path)
    assert outcome.missing
    assert not outcome.ok
    assert "npm install -g allure" in outcome.message


@pytest.mark.skipif(
    os.environ.get("CONFORMANCE_ALLURE_TEST") != "1",
    reason="builds a real Allure report with the allure npm CLI (slow); set CONFORMANCE_ALLURE_TEST=1",
)
def test_single_file_report_with_the_real_allure_cli(results: Path, tmp_path: Path) -> None:
    if allure.allure_command() is None:
        pytest.skip("the Allure 3 CLI is not installed (npm install -g allure)")
    outcome = allure.build_single_file(results, tmp_path / "allure-report.html")
    assert outcome.ok, outcome.message
    page = (tmp_path / "allure-report.html").read_text("utf-8")
    assert "googletagmanager" not in page
    assert "gtag(" not in page
