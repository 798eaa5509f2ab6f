"""A record as the reports read it: masked, every optional member present, facts derived once.

The record contract leaves members optional (``curl`` may be absent, a coverage row may have
no text); :func:`prepare` fills them in so templates and writers never test for presence,
and masks what a report must not show (:mod:`conformance.reporting.masking`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from typing import Any

from conformance.reporting.masking import mask_record
from conformance.reporting.schema import SEVERITY, VERDICTS, validate

ROLE_CLAUSE = {"ecs": "6.2", "ees": "6.3"}
CLAUSE_TITLES = {
    "6.2": "Clause 6.2: authentication and authorization of the EEC by the ECS",
    "6.3": "Clause 6.3: authentication and authorization of the EEC by the EES",
}
ATTENTION = ("FAIL", "ERROR", "INCONCLUSIVE", "WARN", "N/A", "PASS")
"""The order in which a reader wants cases: what went wrong first."""
NOT_JUDGED = "not-judged"
ROW_KEYS = (*VERDICTS, NOT_JUDGED, "not-covered", "not-selected")
"""What a requirement row can show: a verdict, tested but not judged, or why it was not tested."""
TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time"})

_CERT_DEFAULTS: dict[str, Any] = {
    "subject": "",
    "issuer": "",
    "serial": "",
    "not_before": "",
    "not_after": "",
    "sans": [],
    "extended_key_usage": [],
    "sha256": "",
}
_TLS_DEFAULTS: dict[str, Any] = {
    "outcome": "",
    "server_name": None,
    "address": None,
    "version": None,
    "cipher": None,
    "alpn": None,
    "alert": None,
    "phase": None,
    "detail": None,
    "client_certificate": None,
    "server_chain": [],
}


def prepare(
    record: dict[str, Any], catalogue: dict[str, Any] | None = None, *, validated: bool = False
) -> dict[str, Any]:
    """The masked, normalised record; ``catalogue`` (ID -> requirement) fills in missing coverage rows.

    The record must satisfy the schema (:class:`~conformance.reporting.schema.RecordError` if not):
    a report is never drawn from a record that breaks the contract.

    Adds derived members, all prefixed ``_``: each case's ``_clauses``, ``_anchor``, ``_short``;
    ``_coverage`` (every row, catalogue IDs the record lacks included) and ``_computed_counts``.
    ``validated=True``: the caller vouches for the record (the engine that just wrote it; its
    output is held to the schema by the project's tests), which saves ~0.5 s on a large run.
    """
    if not validated:
        validate(record)
    r = mask_record(record)
    run = _defaults(r.get("run"), {"finished": None, "duration_s": None, "options": {}, "command": "", "strict": False})
    out: dict[str, Any] = {
        "schema_version": r.get("schema_version"),
        "harness": _defaults(r.get("harness"), {"name": "", "version": ""}),
        "run": run,
        "targets": [_target(t) for t in r.get("targets", [])],
        "counts": _defaults(r.get("counts"), {"tls_connections": None, "http_requests": None}),
        "exit_status": r.get("exit_status"),
        "sanity_probes": [
            {
                **_defaults(p, {"transport": None, "message": ""}),
                "evidence": [_evidence(e) for e in p.get("evidence", [])],
            }
            for p in r.get("sanity_probes", [])
        ],
        "cases": [],
    }
    for index, case in enumerate(r.get("cases", [])):
        c = dict(case)
        c["requirements"] = [
            _defaults(q, {"level": None, "clause": None, "message": "", "deviation": None})
            for q in case["requirements"]
        ]
        c["reproduce"] = _defaults(case.get("reproduce"), {"command": "", "curl": None, "openssl": None})
        c["evidence"] = [_evidence(e) for e in case.get("evidence", [])]
        c["_clauses"] = case_clauses(c)
        c["_deviations"] = _case_deviations(c, out["targets"])
        c["_anchor"] = f"case-{index + 1}"
        c["_short"] = short_name(c["id"])
        out["cases"].append(c)
    out["_coverage"] = _coverage(r.get("coverage", []), catalogue or {}, out["cases"])
    out["_computed_counts"] = computed_counts(out["cases"], out["_coverage"])
    return out


def _defaults(value: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    if isinstance(value, dict):
        merged.update(value)
    return merged


def _target(target: dict[str, Any]) -> dict[str, Any]:
    t = _defaults(
        target,
        {"file": None, "fqdn": None, "client_auth": None, "authorization": None, "http_versions": [], "deviations": []},
    )
    t["deviations"] = [_defaults(d, {"requirement": "", "reason": "", "stale": False}) for d in t["deviations"]]
    t["_clause"] = ROLE_CLAUSE.get(t.get("role", ""), "")
    return t


def _case_deviations(case: dict[str, Any], targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The deviations behind a case: those applied to its requirements, and those its target declares for them."""
    ids = [q["id"] for q in case["requirements"]]
    found: list[dict[str, Any]] = []
    for q in case["requirements"]:
        if isinstance(q["deviation"], dict):
            found.append(_defaults(q["deviation"], {"reason": "", "stale": False}) | {"requirement": q["id"]})
    for target in targets:
        if target["name"] == case.get("target"):
            found += [d for d in target["deviations"] if d["requirement"] in ids]
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for d in found:
        key = (d["requirement"], d["reason"])
        unique[key] = {**d, "stale": bool(d["stale"]) or bool(unique.get(key, {}).get("stale"))}
    return list(unique.values())


def _cert(cert: Any) -> dict[str, Any] | None:
    return _defaults(cert, _CERT_DEFAULTS) if isinstance(cert, dict) else None


def _evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    kind = evidence.get("kind", "")
    if kind == "HttpExchange":
        e = _defaults(
            evidence,
            {
                "request_headers": {},
                "request_body": "",
                "http_version": None,
                "response_headers": {},
                "response_body": "",
                "elapsed_ms": None,
            },
        )
        tls = _defaults(e.get("tls"), _TLS_DEFAULTS)
        tls["client_certificate"] = _cert(tls["client_certificate"])
        tls["server_chain"] = [c for c in (_cert(x) for x in tls["server_chain"] or []) if c is not None]
        e["tls"] = tls
        return e
    if kind == "TokenFacts":
        e = _defaults(evidence, {"redacted": "", "verified": None, "problem": ""})
        e["_times"] = {
            k: format_epoch(v) for k, v in e["claims"].items() if k in TIME_CLAIMS and format_epoch(v) is not None
        }
        return e
    if kind == "Measurement":
        return _defaults(evidence, {"unit": ""})
    if kind == "Note":
        return dict(evidence)
    return {"kind": kind, "_fields": [(k, v) for k, v in evidence.items() if k != "kind"]}


def _coverage(
    rows: list[dict[str, Any]], catalogue: dict[str, Any], cases: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every coverage row of the record, then every catalogue ID the record does not list; each with its tests."""
    by_case = {c["id"]: c for c in cases}
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for row in rows:
        seen.add(row["id"])
        known = catalogue.get(row["id"])
        r = _defaults(row, {"role": getattr(known, "role", None), "text": "", "reason": ""})
        r["text"] = r["text"] or getattr(known, "text", "")
        r["_in_record"] = True
        out.append(r)
    for rid, known in catalogue.items():
        if rid not in seen:
            out.append(
                {
                    "id": rid,
                    "level": known.level,
                    "clause": known.clause,
                    "role": known.role,
                    "text": known.text,
                    "state": "not-covered",
                    "verdict": None,
                    "tests": [],
                    "reason": "in the requirement catalogue, absent from this run's coverage",
                    "_in_record": False,
                }
            )
    for r in out:
        r["_key"] = row_key(r)
        r["_anchor"] = f"req-{_slug(r['id'])}"
        r["_tests"] = []
        for test in r["tests"]:
            case = by_case.get(test)
            verdict = None
            if case is not None:
                verdict = next((q["verdict"] for q in case["requirements"] if q["id"] == r["id"]), case["verdict"])
            r["_tests"].append({"id": test, "short": short_name(test), "case": case, "verdict": verdict})
    _unique_anchors(out)
    return out


def _unique_anchors(rows: list[dict[str, Any]]) -> None:
    used: Counter[str] = Counter()
    for r in rows:
        used[r["_anchor"]] += 1
        if used[r["_anchor"]] > 1:
            r["_anchor"] = f"{r['_anchor']}-{used[r['_anchor']]}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"


def row_key(row: dict[str, Any]) -> str:
    """What a coverage row shows: its verdict, ``not-judged``, ``not-covered`` or ``not-selected``."""
    if row["state"] in ("not-covered", "not-selected"):
        return str(row["state"])
    return str(row["verdict"]) if row.get("verdict") else NOT_JUDGED


def case_clauses(case: dict[str, Any]) -> list[str]:
    """The clauses a case checks: those of its requirements, else the one of its role."""
    clauses: list[str] = []
    for q in case.get("requirements", []):
        clause = q.get("clause")
        if clause and clause not in clauses:
            clauses.append(str(clause))
    return clauses or [ROLE_CLAUSE.get(case.get("role", ""), "?")]


def clause_order(clauses: list[str] | set[str]) -> list[str]:
    """6.2 and 6.3 first (always present), then any other clause in natural order."""
    known = list(CLAUSE_TITLES)
    return known + sorted((c for c in clauses if c not in known), key=_natural)


def _natural(text: str) -> list[Any]:
    return [(0, int(p), "") if p.isdecimal() else (1, 0, p) for p in re.split(r"(\d+)", text)]


def short_name(case_id: str) -> str:
    """``ees_6_3/test_x.py::test_y[target-variant]`` -> ``test_y[target-variant]``."""
    return case_id.rsplit("::", 1)[-1]


def worst(verdicts: list[str | None]) -> str | None:
    judged = [v for v in verdicts if v in SEVERITY]
    return min(judged, key=SEVERITY.index) if judged else None


def computed_counts(cases: list[dict[str, Any]], coverage: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts drawn from the cases and coverage rows themselves (to cross-check the record's counts)."""
    case_counts = Counter(c["verdict"] for c in cases)
    rows = [r for r in coverage if r.get("_in_record", True)]
    req_counts = Counter(row_key(r) for r in rows)
    return {
        "cases": {**{v: case_counts.get(v, 0) for v in VERDICTS}, "total": len(cases)},
        "requirements": {**{k: req_counts.get(k, 0) for k in ROW_KEYS}, "total": len(rows)},
    }


def count_mismatches(prepared: dict[str, Any]) -> list[str]:
    """Where the record's counts disagree with its own cases and coverage rows (one line each)."""
    out: list[str] = []
    stated = prepared["counts"]
    for group, keys in (("cases", (*VERDICTS, "total")), ("requirements", (*VERDICTS, "not-covered", "not-selected"))):
        computed = prepared["_computed_counts"][group]
        for key in keys:
            have = stated.get(group, {}).get(key)
            if have is not None and have != computed.get(key, 0):
                out.append(f"counts.{group}.{key} is {have}, but the record lists {computed.get(key, 0)}")
    return out


def format_epoch(value: Any) -> str | None:
    """A JWT NumericDate as ISO 8601 UTC, or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def as_text(value: Any) -> str:
    """A JSON value for display: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)
