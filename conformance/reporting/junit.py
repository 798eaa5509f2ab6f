"""JUnit XML drawn from a run record, for CI dashboards.

One ``<testsuite>`` per target, one ``<testcase>`` per case. JUnit knows pass, failure,
error and skipped; the six verdicts map onto them without losing any:

=============  ==============================================================
PASS           passed
WARN           passed, with property ``verdict=WARN`` and the message in system-out
N/A            ``<skipped type="N/A" message="the reason">``
FAIL           ``<failure type="FAIL">``
INCONCLUSIVE   ``<error type="INCONCLUSIVE">``
ERROR          ``<error type="ERROR">``
=============  ==============================================================

Every case carries properties: ``verdict``, ``target``, ``role``, one ``requirement`` per
ID, and ``<ID>.level`` / ``<ID>.clause`` / ``<ID>.verdict`` per requirement.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.reporting import view
from conformance.reporting.masking import refuse_private_key
from conformance.reporting.output import write_text_atomically

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    """A value as XML 1.0 can carry it (control characters other than tab and newlines dropped)."""
    return _XML_INVALID.sub("", value if isinstance(value, str) else view.as_text(value))


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _seconds(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "0.000"


def _property(parent: ET.Element, name: str, value: Any) -> None:
    ET.SubElement(parent, "property", name=_text(name), value=_text("" if value is None else value))


def _classname(case: dict[str, Any]) -> tuple[str, str]:
    """``ees_6_3/test_x.py::test_y[v]`` -> (``ees_6_3.test_x``, ``test_y[v]``)."""
    case_id = str(case["id"])
    if "::" not in case_id:
        return str(case.get("target") or "conformance"), case_id
    module, name = case_id.split("::", 1)
    module = module.removesuffix(".py").replace("/", ".").replace("\\", ".")
    return module, name.replace("::", ".")


def _system_out(case: dict[str, Any]) -> str:
    lines = [f"verdict: {case['verdict']}  ({case['id']})"]
    for q in case["requirements"]:
        verdict = q["verdict"] or "not judged"
        lines.append(f"  {q['id']} ({q['level'] or '?'}, {q['clause'] or '?'}): {verdict}  {q['message']}".rstrip())
        if q["deviation"]:
            stale = " (STALE: the target complies)" if q["deviation"].get("stale") else ""
            lines.append(f"    declared deviation: {q['deviation'].get('reason', '')}{stale}")
    if case["message"]:
        lines += ["", case["message"]]
    lines += ["", f"reproduce: {case['reproduce']['command']}"]
    for tool in ("curl", "openssl"):
        if case["reproduce"][tool]:
            lines.append(f"  {tool}: {case['reproduce'][tool]}")
    evidence = [_evidence_line(e) for e in case["evidence"]]
    if evidence:
        lines += ["", "evidence:", *(f"  {line}" for line in evidence)]
    return "\n".join(lines)


def _evidence_line(e: dict[str, Any]) -> str:
    kind = e["kind"]
    if kind == "HttpExchange":
        tls = e["tls"]
        answer = f"{e['status']}" if e["status"] is not None else f"no HTTP response ({tls['outcome']})"
        alert = f", alert {tls['alert']}" if tls["alert"] else ""
        return f"{e['label']}: {e['method']} {e['url']} -> {answer}{alert}"
    if kind == "TokenFacts":
        claims = ", ".join(f"{k}={view.as_text(v)}" for k, v in e["claims"].items())
        problem = f"; problem: {e['problem']}" if e["problem"] else ""
        return f"token {e['label']}: {claims}{problem}"
    if kind == "Note":
        return f"{e['label']}: {e['text']}"
    if kind == "Measurement":
        return f"measurement {e['label']}: {view.as_text(e['value'])} {e['unit'] or ''}".rstrip()
    return f"{kind}: " + ", ".join(f"{k}={view.as_text(v)}" for k, v in e["_fields"])


def render_junit(record: dict[str, Any]) -> str:
    """JUnit XML (one testsuite per target) for ``record``; masked like every report."""
    r = view.prepare(record)
    root = ET.Element("testsuites", name=_text(r["harness"]["name"] or "ts33558-conformance"))
    targets = {t["name"]: t for t in r["targets"]}
    order = list(targets) + sorted({c["target"] for c in r["cases"]} - set(targets))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for name in order:
        cases = [c for c in r["cases"] if c["target"] == name]
        suite = ET.SubElement(root, "testsuite", name=_text(name), timestamp=_text(r["run"]["started"]))
        props = ET.SubElement(suite, "properties")
        _property(props, "harness", f"{r['harness']['name']} {r['harness']['version']}")
        _property(props, "run.state", r["run"]["state"])
        _property(props, "run.command", r["run"]["command"])
        _property(props, "run.strict", str(bool(r["run"]["strict"])).lower())
        target = targets.get(name)
        if target is not None:
            for key in ("role", "base_url", "fqdn", "client_auth", "authorization"):
                if target.get(key) is not None:
                    _property(props, f"target.{key}", target[key])
            for d in target["deviations"]:
                _property(props, f"deviation.{d['requirement']}", d["reason"] + (" (STALE)" if d["stale"] else ""))
        stats = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
        suite_time = 0.0
        for case in cases:
            bucket = _testcase(suite, case)
            if bucket is not None:
                stats[bucket] += 1
            suite_time += case["duration_s"] if isinstance(case["duration_s"], int | float) else 0.0
        for key, n in stats.items():
            suite.set(key, str(n))
            totals[key] += n
        suite.set("time", _seconds(suite_time))
        total_time += suite_time
    for key, n in totals.items():
        root.set(key, str(n))
    root.set("time", _seconds(total_time))
    ET.indent(root)
    xml = ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
    return refuse_private_key(xml, "the JUnit report")


def _testcase(suite: ET.Element, case: dict[str, Any]) -> str | None:
    """Add one ``<testcase>``; returns the suite counter it adds to (``None``: passed)."""
    classname, name = _classname(case)
    element = ET.SubElement(
        suite, "testcase", classname=_text(classname), name=_text(name), time=_seconds(case["duration_s"])
    )
    props = ET.SubElement(element, "properties")
    _property(props, "verdict", case["verdict"])
    _property(props, "target", case["target"])
    _property(props, "role", case["role"])
    _property(props, "title", case["title"])
    for q in case["requirements"]:
        _property(props, "requirement", q["id"])
    for q in case["requirements"]:
        _property(props, f"{q['id']}.level", q["level"])
        _property(props, f"{q['id']}.clause", q["clause"])
        _property(props, f"{q['id']}.verdict", q["verdict"] or "not judged")
        if q["deviation"]:
            _property(props, f"{q['id']}.deviation", q["deviation"].get("reason", ""))
    verdict = case["verdict"]
    message = _text(_first_line(case["message"]) or f"{verdict}: {case['title']}")
    bucket = None
    if verdict == "FAIL":
        ET.SubElement(element, "failure", type="FAIL", message=message).text = _text(case["message"])
        bucket = "failures"
    elif verdict in ("INCONCLUSIVE", "ERROR"):
        ET.SubElement(element, "error", type=verdict, message=message).text = _text(case["message"])
        bucket = "errors"
    elif verdict == "N/A":
        ET.SubElement(element, "skipped", type="N/A", message=message)
        bucket = "skipped"
    ET.SubElement(element, "system-out").text = _text(_system_out(case))
    return bucket


def write_junit(record: dict[str, Any], path: str | Path) -> Path:
    return write_text_atomically(render_junit(record), path)
