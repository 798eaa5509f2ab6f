"""The compliance report (report.html) drawn from the fixture records, read as text."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_records import assert_snapshot, case, clone, coverage_row, record

from conformance.reporting import html as html_report
from conformance.reporting.html import render_html, write_html
from conformance.reporting.masking import PRIVATE_KEY_MASK, PrivateKeyInReport
from conformance.requirements import catalogue

PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n-----END EC PRIVATE KEY-----"


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(record())


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each <details class="case">."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.case_text: dict[str, list[str]] = {}
        self._open_case: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "details":
            if "data-case" in attributes:
                self._open_case.append(str(attributes["id"]))
                self.case_text[str(attributes["id"])] = []
                self._depth = 0
            elif self._open_case:
                self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "details" and self._open_case:
            if self._depth:
                self._depth -= 1
            else:
                self._open_case.pop()

    def handle_data(self, data: str) -> None:
        if self._open_case:
            self.case_text[self._open_case[-1]].append(data)


def parse(text: str) -> _Elements:
    parser = _Elements()
    parser.feed(text)
    parser.close()
    return parser


def case_details(text: str) -> dict[str, dict[str, str | None]]:
    """data-case <details> by their id."""
    return {str(a["id"]): a for tag, a in parse(text).tags if tag == "details" and "data-case" in a}


def text_of_case(text: str, id_part: str, data: dict[str, Any] | None = None) -> str:
    data = data or record()
    anchor = f"case-{[c['id'] for c in data['cases']].index(case(data, id_part)['id']) + 1}"
    return " ".join(" ".join(parse(text).case_text[anchor]).split())


def test_report_is_one_self_contained_page(page: str) -> None:
    tags = parse(page).tags
    for tag, attrs in tags:
        for name in ("src", "href", "action", "srcset", "data", "poster"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), f"<{tag} {name}={value}> would load something"
    assert not any(tag in ("link", "iframe", "img", "object", "embed", "base") for tag, _ in tags)
    assert [tag for tag, _ in tags].count("script") == 1
    assert "@import" not in page
    assert "url(" not in page
    assert "http://www.w3.org/2000/svg" in page  # the only absolute URL: the SVG namespace, never fetched


def test_content_security_policy_allows_only_the_inline_style_and_script(page: str) -> None:
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp is not None
    policy = dict(p.strip().split(" ", 1) for p in html.unescape(csp.group(1)).split(";"))
    assert policy["default-src"] == "'none'"
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert style is not None
    assert script is not None

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy["style-src"] == digest(style.group(1))
    assert policy["script-src"] == digest(script.group(1))
    assert " style=" not in page
    assert " on" + "click=" not in page


def test_top_of_the_report_names_targets_harness_and_outcome(page: str) -> None:
    head = page[: page.index('<section id="requirements">')]
    assert "<title>TS 33.558 compliance report: acme-ecs, acme-ees</title>" in head
    assert "ts33558-conformance 0.2.0" in head
    assert "NOT CONFORMANT" in head
    assert "exit status 1" in head
    assert 'id="interrupted"' not in page
    for target in record()["targets"]:
        assert target["base_url"] in head
        assert target["fqdn"] in head
    assert "1 stale" in head


def test_an_interrupted_run_is_shown_prominently() -> None:
    text = render_html(record("interrupted"))
    banner = re.search(r'<div class="banner interrupted" id="interrupted">(.*?)</div>', text, re.DOTALL)
    assert banner is not None
    assert "RUN INTERRUPTED" in banner.group(1)
    assert "partial" in banner.group(1)
    assert text.index('id="interrupted"') < text.index('<section id="summary">')


def test_count_tiles_show_the_records_counts(page: str) -> None:
    data = record()
    shown = dict(re.findall(r'data-count="([^"]+)">(\d+)<', page))
    for verdict, n in data["counts"]["cases"].items():
        assert shown[f"cases-{verdict}"] == str(n)
    for key, n in data["counts"]["requirements"].items():
        assert shown[f"requirements-{key}"] == str(n)
    assert "disagree" not in page


def test_counts_that_disagree_with_the_cases_are_flagged() -> None:
    data = record()
    data["counts"]["cases"]["PASS"] += 5
    text = render_html(data)
    assert "counts.cases.PASS is 14, but the record lists 9" in text


def not_covered(clause: str) -> int:
    """Catalogue IDs of ``clause`` the fixture record says nothing of, or says are not covered."""
    rows = {row["id"]: row for row in record()["coverage"]}
    ids = [rid for rid, r in catalogue().items() if r.clause == clause]
    return sum(rid not in rows or rows[rid]["state"] == "not-covered" for rid in ids)


def test_chart_is_inline_svg_of_verdicts_per_clause(page: str) -> None:
    svg = page[page.index('<svg class="chart"') : page.index("</svg>")]
    titles = re.findall(r"<title>([^<]+)</title>", svg)
    assert "6.2 requirements: 1 FAIL" in titles
    assert "6.3 requirements: 1 FAIL" in titles
    assert f"6.2 requirements: {not_covered('6.2')} not covered" in titles
    assert "6.3 requirements: 3 not selected" in titles
    assert "6.2 cases: 1 INCONCLUSIVE" in titles
    assert "6.3 cases: 1 ERROR" in titles
    # bar segments span the bar exactly
    widths = [
        float(w) for w in re.findall(r'<rect class="v-[a-z-]+" x="[\d.]+" y="0" width="([\d.]+)" [^>]*><title>', svg)
    ]
    assert sum(widths) == pytest.approx(4 * html_report.CHART_BAR, abs=0.05)


def test_every_catalogue_requirement_is_listed_by_clause_with_its_tests(page: str) -> None:
    section = page[page.index('<section id="requirements">') : page.index('<section id="cases">')]
    rows = re.findall(r'<tr id="req-([A-Z0-9-]+)"[^>]*data-verdict="([^"]+)" data-clause="([^"]+)"', section)
    assert [r[0] for r in rows] == list(catalogue())
    data = record()
    for rid, key, clause in rows:
        row = coverage_row(data, rid)
        assert clause == row["clause"]
        assert key == (row["verdict"] or row["state"]) if row["state"] != "not-covered" else key == "not-covered"
    assert section.index('id="clause-6.2"') < section.index('id="clause-6.3"')
    assert f"{sum(r.clause == '6.2' for r in catalogue().values())} requirements:" in section
    # the FAILed requirement links to its case, with the verdict that case gave it
    html_row = section[section.index('id="req-EES-TOK-05"') :]
    html_row = html_row[: html_row.index("</tr>")]
    assert html_row.count('class="badge v-fail"') == 2
    assert html_row.count('class="badge v-pass"') == 1
    assert 'href="#case-' in html_row
    # a requirement no test covers is flagged as such
    html_row = section[section.index('id="req-ECS-TOK-01"') :]
    assert '<span class="badge v-not-covered">not covered</span>' in html_row[: html_row.index("</tr>")]


def test_a_catalogue_requirement_missing_from_the_record_is_flagged() -> None:
    data = record()
    data["coverage"] = [r for r in data["coverage"] if r["id"] != "ECS-ROB-01"]
    text = render_html(data)
    row = text[text.index('id="req-ECS-ROB-01"') :]
    assert "absent from the record" in row[: row.index("</tr>")]


def test_cases_are_collapsed_except_failures(page: str) -> None:
    details = case_details(page)
    assert len(details) == len(record()["cases"])
    for attrs in details.values():
        assert ("open" in attrs) == (attrs["data-verdict"] == "FAIL")


def test_a_failed_case_shows_verdicts_message_evidence_and_how_to_reproduce(page: str) -> None:
    text = text_of_case(page, "another_audience[acme-ees-sibling]")
    assert "EES-TOK-05 M 6.3 FAIL expected: HTTP 401; actual: 201" in text
    assert "EES-RESP-02 S 6.3 not judged not judged: nothing was refused" in text
    assert "Expected a refusal of a token addressed to another audience" in text
    assert "The harness broke this on purpose: token aud = sibling-of.ees.acme.test" in text
    assert "aud sibling-of.ees.acme.test" in text  # the decoded token
    assert "exp 1796105621 (2026-12-01T06:13:41Z)" in text
    assert "signature: verified" in text
    assert "POST https://198.51.100.20:9443/eees-eecregistration/v1/registrations → 201 (HTTP/2)" in text
    assert "conformance run --target acme-ees.toml --req EES-TOK-05" in text
    assert "curl --http2" in text


def test_tls_refusal_shows_the_alert_received(page: str) -> None:
    text = text_of_case(page, "untrusted_ca[acme-ecs-rogue-same-dn]")
    assert "no HTTP response" in text
    assert "TLS: refused-with-alert — alert received: TLSV1_ALERT_UNKNOWN_CA (handshake)" in text
    assert "openssl s_client -connect 198.51.100.10:8443" in text


def test_a_401_shows_its_challenge(page: str) -> None:
    text = text_of_case(page, "test_refuses_request_without_token[acme-ees]")
    assert 'www-authenticate Bearer realm="ees.acme.test"' in text


def test_measurements_and_other_evidence_kinds(page: str) -> None:
    assert "measurement token lifetime 300 s exp - iat" in text_of_case(page, "token_lifetime_within_declared")
    generic = text_of_case(page, "test_refuses_expired_token")
    assert "ServerClock" in generic
    assert "offset_s 0.2" in generic
    assert "problem: expired: exp is 300 s before the harness clock" in generic


def test_deviations_with_reasons_and_stale_ones_flagged(page: str) -> None:
    stale = text_of_case(page, "without_client_auth_eku")
    assert "Declared deviations" in stale
    assert "extended key usage of EEC certificates not enforced before firmware 4.1" in stale
    assert "STALE: the target complies; remove the deviation" in stale
    applied = text_of_case(page, "another_audience[acme-ees-absent]")
    assert "401 bodies are text/plain until EES release 4.2" in applied
    assert "STALE" not in applied
    summary = page[page.index('id="deviations"') : page.index('<section id="requirements">')]
    assert summary.count("STALE: the target complies") == 1


def test_not_applicable_cases_show_their_reason(page: str) -> None:
    text = text_of_case(page, "test_records_psk_tls")
    assert "N/A: target acme-ecs declares client_auth = mutual-certificate" in text


def test_filters_cover_every_verdict_and_clause(page: str) -> None:
    boxes = [(a["data-filter"], a["value"]) for t, a in parse(page).tags if t == "input" and "data-filter" in a]
    verdicts = [v for f, v in boxes if f == "verdict"]
    assert verdicts == ["PASS", "FAIL", "WARN", "N/A", "INCONCLUSIVE", "ERROR", "not-covered", "not-selected"]
    assert [v for f, v in boxes if f == "clause"] == ["6.2", "6.3"]


def test_markup_in_the_record_is_escaped() -> None:
    data = record()
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    data["cases"][0]["title"] = evil
    data["cases"][0]["evidence"][0]["text"] = evil
    data["targets"][0]["name"] = evil
    text = render_html(data)
    assert evil not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    assert text.count("<script") == 1


def test_private_keys_never_appear() -> None:
    data = record()
    data["cases"][2]["evidence"][2]["response_body"] = f"oops, the server's key:\n{PEM}"
    data["cases"][0]["message"] = "RSA PRIVATE KEY material"
    data["run"]["options"]["tls_key"] = PEM
    text = render_html(data)
    assert "PRIVATE KEY" not in text
    assert text.count(PRIVATE_KEY_MASK) == 3


def test_the_guard_refuses_a_page_that_still_holds_a_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.reporting import view

    monkeypatch.setattr(view, "mask_record", lambda r: r)  # as if masking were forgotten
    data = record()
    data["cases"][0]["message"] = PEM
    with pytest.raises(PrivateKeyInReport, match="refusing to write the HTML report"):
        render_html(data)


def test_vendor_credentials_are_masked() -> None:
    data = record()
    exchange = data["cases"][2]["evidence"][2]
    exchange["request_headers"]["authorization"] = "Basic YWNtZTpodW50ZXIy"
    exchange["request_body"] = '{"client_id": "eec-0001", "client_secret": "hunter2"}'
    exchange["url"] += "?password=hunter2"
    data["targets"][0]["password"] = "hunter2"
    data["targets"][0]["tls_key_passphrase"] = "hunter2"
    data["run"]["options"]["secret"] = "hunter2"
    data["cases"][2]["reproduce"]["openssl"] += " -pass pass:hunter2"
    data["cases"][2]["reproduce"]["curl"] += " -u acme:hunter2"
    text = render_html(data)
    assert "hunter2" not in text
    assert "YWNtZTpodW50ZXIy" not in text
    assert "&#34;client_secret&#34;: &#34;[masked]&#34;" in text
    assert "Basic [masked]" in text
    assert "-pass [masked]" in text
    assert "-u acme:[masked]" in text


def test_a_record_that_breaks_the_contract_is_refused() -> None:
    from conformance.reporting.schema import RecordError

    data = record()
    del data["cases"][0]["verdict"]
    with pytest.raises(RecordError, match=r"\$\.cases\[0\]: 'verdict' is a required property"):
        render_html(data)


def test_a_minimal_record_renders() -> None:
    minimal: dict[str, Any] = {
        "schema_version": 1,
        "harness": {"name": "ts33558-conformance", "version": "0.2.0"},
        "run": {"started": "2026-12-01T06:00:00+00:00", "state": "complete", "strict": False, "command": "x"},
        "targets": [],
        "counts": {
            "cases": dict.fromkeys(["PASS", "FAIL", "WARN", "N/A", "INCONCLUSIVE", "ERROR", "total"], 0),
            "requirements": dict.fromkeys(
                ["PASS", "FAIL", "WARN", "N/A", "INCONCLUSIVE", "ERROR", "total", "not-covered", "not-selected"], 0
            ),
        },
        "exit_status": 0,
        "coverage": [],
        "cases": [],
    }
    text = render_html(minimal)
    assert "the record holds no case" in text
    assert "no target" in text
    assert text.count('<span class="badge v-not-covered">not covered</span>') >= len(catalogue())


def test_snapshot_of_the_every_verdict_report(page: str) -> None:
    assert_snapshot("every-verdict.html", page)


def test_snapshot_of_the_interrupted_report() -> None:
    assert_snapshot("interrupted.html", render_html(record("interrupted")))


def test_rendering_is_deterministic_and_leaves_the_record_alone() -> None:
    data = record()
    before = clone(data)
    assert render_html(data) == render_html(data)
    assert data == before


def test_write_html(tmp_path: Path) -> None:
    path = write_html(record(), tmp_path / "deeper" / "report.html")
    assert path.read_text("utf-8") == render_html(record())
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
