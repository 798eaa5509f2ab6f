"""JUnit XML from the record: one testcase per case, every verdict distinguishable."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from report_records import assert_snapshot, record

from conformance.reporting.junit import render_junit


@pytest.fixture(scope="module")
def suites() -> ET.Element:
    return ET.fromstring(render_junit(record()))


def case_element(root: ET.Element, name_part: str) -> ET.Element:
    found = [t for t in root.iter("testcase") if name_part in t.get("name", "")]
    assert len(found) == 1, name_part
    return found[0]


def properties(element: ET.Element) -> list[tuple[str, str]]:
    return [(p.get("name", ""), p.get("value", "")) for p in element.findall("./properties/property")]


def test_one_suite_per_target_one_testcase_per_case(suites: ET.Element) -> None:
    data = record()
    assert [s.get("name") for s in suites.findall("testsuite")] == ["acme-ecs", "acme-ees"]
    assert len(list(suites.iter("testcase"))) == len(data["cases"])
    assert suites.get("tests") == "16"
    assert (suites.get("failures"), suites.get("errors"), suites.get("skipped")) == ("2", "2", "2")
    ecs = suites.find("testsuite[@name='acme-ecs']")
    assert ecs is not None
    assert ("target.role", "ecs") in properties(ecs)
    assert ("run.state", "complete") in properties(ecs)


def test_classname_and_name_come_from_the_case_id(suites: ET.Element) -> None:
    t = case_element(suites, "another_audience[acme-ees-sibling]")
    assert t.get("classname") == "ees_6_3.test_6_3_token_authorization"
    assert t.get("name") == "test_refuses_token_for_another_audience[acme-ees-sibling]"
    assert float(t.get("time", "")) == pytest.approx(0.0145, abs=0.001)


def test_fail_is_a_failure_with_requirement_properties(suites: ET.Element) -> None:
    t = case_element(suites, "another_audience[acme-ees-sibling]")
    failure = t.find("failure")
    assert failure is not None
    assert failure.get("type") == "FAIL"
    assert failure.get("message", "").startswith("EES-TOK-05 (M): A token whose `aud`")
    assert "expected: HTTP 401" in (failure.text or "")
    props = properties(t)
    assert ("verdict", "FAIL") in props
    assert [v for k, v in props if k == "requirement"] == ["EES-TOK-05", "EES-RESP-02"]
    assert ("EES-TOK-05.level", "M") in props
    assert ("EES-TOK-05.verdict", "FAIL") in props
    assert ("EES-RESP-02.level", "S") in props
    assert ("EES-RESP-02.verdict", "not judged") in props


def test_warn_passes_with_its_verdict_and_message(suites: ET.Element) -> None:
    t = case_element(suites, "test_refuses_authenticated_unauthorized_eec")
    assert t.find("failure") is None
    assert t.find("error") is None
    assert t.find("skipped") is None
    assert ("verdict", "WARN") in properties(t)
    assert ("ECS-RESP-01.verdict", "WARN") in properties(t)
    assert ("ECS-AUTHZ-01.verdict", "PASS") in properties(t)
    out = t.findtext("system-out") or ""
    assert "verdict: WARN" in out
    assert "expected Content-Type application/problem+json" in out


def test_not_applicable_is_skipped_with_its_reason(suites: ET.Element) -> None:
    skipped = case_element(suites, "test_records_psk_tls").find("skipped")
    assert skipped is not None
    assert skipped.get("type") == "N/A"
    assert "declares client_auth = mutual-certificate" in skipped.get("message", "")


@pytest.mark.parametrize(("name", "verdict"), [("gpsi_of_another_eec", "INCONCLUSIVE"), ("unsigned_token", "ERROR")])
def test_inconclusive_and_error_are_errors_of_their_kind(suites: ET.Element, name: str, verdict: str) -> None:
    error = case_element(suites, name).find("error")
    assert error is not None
    assert error.get("type") == verdict


def test_pass_carries_evidence_and_reproduce_in_system_out(suites: ET.Element) -> None:
    t = case_element(suites, "untrusted_ca[acme-ecs-rogue-same-dn]")
    assert list(t) == [t.find("properties"), t.find("system-out")]
    out = t.findtext("system-out") or ""
    assert "no HTTP response (refused-with-alert), alert TLSV1_ALERT_UNKNOWN_CA" in out
    assert "reproduce: conformance run --target acme-ecs.toml --req ECS-TLS-02" in out


def test_stale_deviation_and_interrupted_state() -> None:
    root = ET.fromstring(render_junit(record("interrupted")))
    ees = ET.fromstring(render_junit(record())).find("testsuite[@name='acme-ees']")
    assert ees is not None
    assert (
        "deviation.EES-TLS-04",
        "extended key usage of EEC certificates not enforced before firmware 4.1 (STALE)",
    ) in (properties(ees))
    for suite in root.findall("testsuite"):
        assert ("run.state", "interrupted") in properties(suite)


def test_control_characters_and_secrets_do_not_break_or_leak() -> None:
    data = record()
    data["cases"][2]["message"] = "bad\x00byte\x1b[31m -----BEGIN PRIVATE KEY----- x"
    data["cases"][3]["message"] = "client_secret=hunter2 \x07"
    xml = render_junit(data)
    ET.fromstring(xml)
    assert "PRIVATE KEY" not in xml
    assert "hunter2" not in xml


def test_snapshot_of_the_junit_xml() -> None:
    assert_snapshot("every-verdict.junit.xml", render_junit(record()))
