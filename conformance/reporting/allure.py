"""Allure results drawn from a run record, and (when the Allure 3 CLI is installed) a single-file report.

Each case becomes one ``<uuid>-result.json``: epic ``TS 33.558``, feature the clause, one
story per requirement ID, one step per requirement verdict, a link to the specification,
and its evidence, decoded tokens, message and reproduce commands as attachments. Verdicts
map onto Allure's statuses as in JUnit: FAIL failed, INCONCLUSIVE/ERROR broken, N/A
skipped, PASS and WARN passed (WARN tagged ``WARN``, its message kept).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.reporting import view
from conformance.reporting.masking import refuse_private_key
from conformance.reporting.output import write_text_atomically

EPIC = "TS 33.558"
SPEC_URL = "https://www.3gpp.org/DynaReport/33558.htm"
"""The specification's page at 3GPP (versions, downloads)."""
STATUS = {
    "PASS": "passed",
    "WARN": "passed",
    "N/A": "skipped",
    "FAIL": "failed",
    "INCONCLUSIVE": "broken",
    "ERROR": "broken",
}
SEVERITY = {"M": "critical", "S": "normal", "I": "minor"}
_NAMESPACE = uuid.UUID("4f0f6c1e-8d7b-5a3c-9e2f-33558c0a11e5")


def _uuid(*parts: str) -> str:
    """Stable across writes of the same run: rewriting a run overwrites its files."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def _epoch_ms(timestamp: Any) -> int:
    try:
        return int(dt.datetime.fromisoformat(str(timestamp)).timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        return 0


def _dump(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


class _Attachments:
    def __init__(self, directory: Path, case_uuid: str) -> None:
        self.directory = directory
        self.case_uuid = case_uuid
        self.written: list[Path] = []
        self.entries: list[dict[str, str]] = []

    def add(self, name: str, text: str, mime: str) -> None:
        extension = "json" if mime == "application/json" else "txt"
        source = f"{_uuid(self.case_uuid, str(len(self.entries)), name)}-attachment.{extension}"
        self.written.append(
            write_text_atomically(refuse_private_key(text, "an Allure attachment"), self.directory / source)
        )
        self.entries.append({"name": name, "source": source, "type": mime})


def _evidence_name(index: int, e: dict[str, Any]) -> str:
    kinds = {
        "HttpExchange": "HTTP exchange",
        "TokenFacts": "decoded token",
        "Note": "note",
        "Measurement": "measurement",
    }
    label = e.get("label") or ""
    return f"evidence {index}: {kinds.get(e['kind'], e['kind'])}{': ' + str(label) if label else ''}"


def _result(record: dict[str, Any], case: dict[str, Any], directory: Path, written: list[Path]) -> dict[str, Any]:
    started = _epoch_ms(record["run"]["started"])
    duration = case["duration_s"] if isinstance(case["duration_s"], int | float) else 0
    stop = started + int(duration * 1000)
    case_uuid = _uuid(str(record["run"]["started"]), case["id"])
    verdict = case["verdict"]
    attachments = _Attachments(directory, case_uuid)
    if case["message"]:
        attachments.add("message", case["message"], "text/plain")
    for index, e in enumerate(case["evidence"], start=1):
        if e["kind"] == "TokenFacts":
            body = {k: e[k] for k in ("label", "header", "claims", "verified", "problem", "redacted")}
        elif e["kind"] in ("HttpExchange", "Note", "Measurement"):
            body = {k: v for k, v in e.items() if not k.startswith("_")}
        else:
            body = {"kind": e["kind"], **dict(e["_fields"])}
        attachments.add(_evidence_name(index, e), _dump(body), "application/json")
    reproduce = [case["reproduce"]["command"]] + [
        f"{tool}: {case['reproduce'][tool]}" for tool in ("curl", "openssl") if case["reproduce"][tool]
    ]
    attachments.add("reproduce", "\n".join(reproduce), "text/plain")
    written += attachments.written

    labels = [
        {"name": "epic", "value": EPIC},
        *({"name": "feature", "value": f"clause {clause}"} for clause in case["_clauses"]),
        *({"name": "story", "value": q["id"]} for q in case["requirements"]),
        {"name": "parentSuite", "value": EPIC},
        {"name": "suite", "value": case["target"]},
        {"name": "subSuite", "value": case["id"].split("::")[0]},
        {"name": "severity", "value": _severity(case)},
        {"name": "tag", "value": verdict},
        {"name": "framework", "value": "ts33558-conformance"},
    ]
    steps = [
        {
            "name": f"{q['id']} ({q['level'] or '?'}): {q['verdict'] or 'not judged'}",
            "status": STATUS.get(q["verdict"] or "", "unknown"),
            "statusDetails": {"message": q["message"]} if q["message"] else {},
            "stage": "finished",
            "start": started,
            "stop": stop,
            "steps": [],
            "attachments": [],
            "parameters": [],
        }
        for q in case["requirements"]
    ]
    message = f"{verdict}: {case['message']}" if case["message"] else verdict
    return {
        "uuid": case_uuid,
        "historyId": hashlib.sha256(case["id"].encode()).hexdigest()[:32],
        "testCaseId": hashlib.sha256(case["id"].split("[")[0].encode()).hexdigest()[:32],
        "fullName": case["id"],
        "name": f"{case['title']} [{case['_short']}]" if case["title"] else case["_short"],
        "description": _description(case),
        "status": STATUS.get(verdict, "unknown"),
        "statusDetails": {"message": message},
        "stage": "finished",
        "start": started,
        "stop": stop,
        "labels": labels,
        "links": [
            {"name": f"TS 33.558 clause {clause}", "url": SPEC_URL, "type": "link"} for clause in case["_clauses"]
        ],
        "parameters": [{"name": "target", "value": case["target"]}, {"name": "role", "value": case["role"]}],
        "steps": steps,
        "attachments": attachments.entries,
    }


def _severity(case: dict[str, Any]) -> str:
    levels = {q["level"] for q in case["requirements"]}
    return next((SEVERITY[level] for level in ("M", "S", "I") if level in levels), "normal")


def _description(case: dict[str, Any]) -> str:
    lines = [f"**{case['verdict']}**: {case['title']}", "", f"`{case['id']}`", ""]
    lines += [
        f"- {q['id']} ({q['level'] or '?'}, clause {q['clause'] or '?'}): {q['verdict'] or 'not judged'}"
        for q in case["requirements"]
    ]
    for d in case["_deviations"]:
        lines.append(f"- declared deviation from {d['requirement']}: {d['reason']}{' (STALE)' if d['stale'] else ''}")
    return "\n".join(lines)


def write_results(record: dict[str, Any], directory: str | Path) -> list[Path]:
    """Write allure-results for ``record`` into ``directory``; returns every file written."""
    out = Path(directory)
    r = view.prepare(record)
    written: list[Path] = []
    for case in r["cases"]:
        result = _result(r, case, out, written)
        path = out / f"{result['uuid']}-result.json"
        written.append(write_text_atomically(refuse_private_key(_dump(result), "an Allure result"), path))
    environment = {
        "harness": f"{r['harness']['name']} {r['harness']['version']}",
        "run.started": r["run"]["started"],
        "run.state": r["run"]["state"],
        "run.strict": str(r["run"]["strict"]).lower(),
        **{f"target.{t['name']}": f"{t['role']} {t['base_url']}" for t in r["targets"]},
    }
    properties = "".join(f"{_property_escape(k)}={_property_escape(v)}\n" for k, v in environment.items())
    written.append(write_text_atomically(properties, out / "environment.properties"))
    categories = [
        {"name": "FAIL: the target violated a requirement", "matchedStatuses": ["failed"]},
        {
            "name": "INCONCLUSIVE: the case proves nothing",
            "matchedStatuses": ["broken"],
            "messageRegex": "INCONCLUSIVE.*",
        },
        {
            "name": "ERROR: the harness or its configuration broke",
            "matchedStatuses": ["broken"],
            "messageRegex": "ERROR.*",
        },
    ]
    written.append(write_text_atomically(_dump(categories), out / "categories.json"))
    executor = {"name": r["harness"]["name"], "type": "ts33558-conformance", "buildName": r["run"]["started"]}
    written.append(write_text_atomically(_dump(executor), out / "executor.json"))
    return written


def _property_escape(text: Any) -> str:
    return re.sub(r"([=:\\#!])", r"\\\1", str(text)).replace("\n", "\\n")


@dataclass
class BuildOutcome:
    ok: bool
    missing: bool
    message: str
    path: Path | None = None


_TRACKERS = (
    re.compile(r"<script[^>]*googletagmanager\.com[^>]*>\s*</script>", re.IGNORECASE),
    re.compile(
        r"<script[^>]*>(?:(?!</script>).)*?(?:gtag\(|dataLayer|google-analytics|googletagmanager)(?:(?!</script>).)*</script>",
        re.IGNORECASE | re.DOTALL,
    ),
    re.compile(r"<link[^>]*(?:googletagmanager|google-analytics)[^>]*>", re.IGNORECASE),
)


def strip_analytics(html: str) -> str:
    """The report without Google Tag Manager / Analytics script elements (Allure's generator adds one)."""
    for pattern in _TRACKERS:
        html = pattern.sub("", html)
    return html


def allure_command() -> list[str] | None:
    """How to run the Allure 3 CLI (``allure`` on PATH, or ``npx --no-install allure``), or None."""
    if shutil.which("node") is None:
        return None
    found = shutil.which("allure")
    if found is not None:
        return [found]
    npx = shutil.which("npx")
    if npx is not None:
        probe = subprocess.run(
            [npx, "--no-install", "allure", "--version"], capture_output=True, text=True, timeout=60, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip().startswith("3"):
            return [npx, "--no-install", "allure"]
    return None


def build_single_file(results_dir: Path, html_path: Path | None = None, timeout: float = 300.0) -> BuildOutcome:
    """Build a single-file Allure report from ``results_dir`` (analytics removed), if the CLI is installed."""
    command = allure_command()
    if command is None:
        return BuildOutcome(
            False,
            True,
            "single-file Allure report not built: needs Node.js and the Allure 3 CLI (npm install -g allure)",
        )
    target = html_path or results_dir.resolve().parent / "allure-report.html"
    with tempfile.TemporaryDirectory(prefix="allure-report-") as tmp:
        argv = [
            *command,
            "awesome",
            str(results_dir.resolve()),
            "--single-file",
            "--output",
            tmp,
            "--report-name",
            "TS 33.558 conformance",
        ]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=tmp)
        except subprocess.TimeoutExpired:
            return BuildOutcome(False, False, f"allure did not finish within {timeout:.0f} s")
        index = Path(tmp) / "index.html"
        if done.returncode != 0 or not index.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return BuildOutcome(False, False, f"allure failed (exit {done.returncode}): {tail[0]}")
        html = strip_analytics(index.read_text("utf-8"))
    write_text_atomically(html, target)
    return BuildOutcome(True, False, f"single-file Allure report written to {target}", target)
