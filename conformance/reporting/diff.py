"""What changed between two runs of the same target(s): ``conformance report diff OLD NEW``.

Requirements are matched by ID, cases by case ID, evidence inside a case by its label (and
its position among records with that label). A requirement or case *regressed* when its
verdict got worse, or when it FAILs now and did not before; that alone makes the exit
status 1. Changed observations (another TLS alert, another status, another measured value),
coverage and declaration changes are reported but decide nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from conformance.reporting import view
from conformance.reporting.schema import RecordError

BADNESS = {"PASS": 0, "N/A": 1, "WARN": 2, "INCONCLUSIVE": 3, "ERROR": 3, "FAIL": 4}
"""How bad a verdict is for the target: a change to a higher number is a regression.

ERROR and INCONCLUSIVE rank below FAIL (they prove nothing either way) but above WARN:
a requirement that passed and now cannot be shown to pass got worse.
"""


@dataclass
class Change:
    """One difference; ``subject`` is a requirement ID, a case ID, or a target name."""

    section: str
    """``requirement``, ``case``, ``observation``, ``coverage``, ``declaration``."""
    subject: str
    old: str | None
    new: str | None
    detail: str = ""
    regression: bool = False
    fixed: bool = False
    new_failure: bool = False
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        arrow = f"{self.old if self.old is not None else '-'} -> {self.new if self.new is not None else '-'}"
        tags = [t for t, on in (("new failure", self.new_failure), ("fixed", self.fixed)) if on]
        suffix = f"  [{', '.join(tags)}]" if tags else ""
        what = f"{self.section} {self.subject}"
        detail = f" {self.detail}" if self.detail else ""
        return f"{what}{detail}: {arrow}{suffix}"


@dataclass
class RunDiff:
    old_source: str
    new_source: str
    old_run: str
    new_run: str
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)

    def exit_status(self) -> int:
        return 1 if self.regressed else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "old": {"source": self.old_source, "run": self.old_run},
            "new": {"source": self.new_source, "run": self.new_run},
            "regressed": self.regressed,
            "notes": self.notes,
            "changes": [dataclasses.asdict(c) for c in self.changes],
        }

    def lines(self) -> list[str]:
        out = [f"OLD {self.old_source}: {self.old_run}", f"NEW {self.new_source}: {self.new_run}"]
        out += [f"note: {n}" for n in self.notes]
        sections = [
            ("REGRESSED", [c for c in self.changes if c.regression]),
            ("FIXED", [c for c in self.changes if c.fixed and not c.regression]),
            (
                "OTHER VERDICT CHANGES",
                [c for c in self.changes if c.section in ("requirement", "case") and not (c.regression or c.fixed)],
            ),
            ("CHANGED OBSERVATIONS", [c for c in self.changes if c.section == "observation"]),
            ("COVERAGE", [c for c in self.changes if c.section == "coverage"]),
            ("DECLARATIONS", [c for c in self.changes if c.section == "declaration"]),
        ]
        for title, changes in sections:
            if changes:
                out += ["", f"{title} ({len(changes)})"]
                for change in changes:
                    out.append(f"  {change.line()}")
                    out += [f"      {d}" for d in change.details]
        out.append("")
        out.append(self.summary())
        return out

    def summary(self) -> str:
        regressions = self.regressions
        if regressions:
            reqs = sum(1 for c in regressions if c.section == "requirement")
            cases = sum(1 for c in regressions if c.section == "case")
            new = sum(1 for c in regressions if c.new_failure)
            return (
                f"REGRESSED: {_n(reqs, 'requirement')} and {_n(cases, 'case')} got worse"
                f" ({_n(new, 'new failure')}); exit status 1"
            )
        fixed = sum(1 for c in self.changes if c.fixed)
        if not self.changes:
            return "no change in verdicts, observations, coverage or declarations; exit status 0"
        return f"no regression ({fixed} fixed, {len(self.changes)} changes in all); exit status 0"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _worse(old: str | None, new: str | None) -> bool:
    if new == "FAIL" and old != "FAIL":
        return True
    return old in BADNESS and new in BADNESS and BADNESS[str(new)] > BADNESS[str(old)]


def _fixed(old: str | None, new: str | None) -> bool:
    return new == "PASS" and old in ("FAIL", "WARN", "ERROR", "INCONCLUSIVE")


def _run_line(r: dict[str, Any]) -> str:
    names = ", ".join(t["name"] for t in r["targets"]) or "no target"
    return (
        f"{names}; started {r['run']['started']}, {r['run']['state']}, "
        f"{len(r['cases'])} cases, exit status {r['exit_status']}"
    )


def diff_records(old: dict[str, Any], new: dict[str, Any], old_source: str = "OLD", new_source: str = "NEW") -> RunDiff:
    """Compare two (schema-valid) records; :class:`RecordError` if they test different targets."""
    a, b = view.prepare(old), view.prepare(new)
    names_a = {t["name"] for t in a["targets"]} | {c["target"] for c in a["cases"]}
    names_b = {t["name"] for t in b["targets"]} | {c["target"] for c in b["cases"]}
    if names_a and names_b and not names_a & names_b:
        raise RecordError(
            new_source,
            f"tests {', '.join(sorted(names_b))}, but {old_source} tests {', '.join(sorted(names_a))}: "
            "a diff compares two runs of the same target",
        )
    d = RunDiff(old_source, new_source, _run_line(a), _run_line(b))
    _notes(d, a, b, names_a, names_b)
    _requirements(d, a, b)
    _cases(d, a, b)
    _declarations(d, a, b)
    return d


def _notes(d: RunDiff, a: dict[str, Any], b: dict[str, Any], names_a: set[str], names_b: set[str]) -> None:
    for name in sorted(names_a - names_b):
        d.notes.append(f"target {name} is only in OLD")
    for name in sorted(names_b - names_a):
        d.notes.append(f"target {name} is only in NEW")
    for label, r in (("OLD", a), ("NEW", b)):
        if r["run"]["state"] == "interrupted":
            d.notes.append(f"the {label} run was interrupted: its results are partial")
    if a["run"]["strict"] != b["run"]["strict"]:
        d.notes.append(
            f"strict differs (OLD {a['run']['strict']}, NEW {b['run']['strict']}): WARN and FAIL compare unevenly"
        )
    req_a, req_b = a["run"]["options"].get("req"), b["run"]["options"].get("req")
    if req_a != req_b:
        d.notes.append(f"requirement selection differs (OLD {req_a}, NEW {req_b})")
    if a["harness"]["version"] != b["harness"]["version"]:
        d.notes.append(f"harness version differs (OLD {a['harness']['version']}, NEW {b['harness']['version']})")


def _requirements(d: RunDiff, a: dict[str, Any], b: dict[str, Any]) -> None:
    rows_a = {r["id"]: r for r in a["_coverage"]}
    rows_b = {r["id"]: r for r in b["_coverage"]}
    for rid in [*rows_a, *(r for r in rows_b if r not in rows_a)]:
        ra, rb = rows_a.get(rid), rows_b.get(rid)
        key_a = view.row_key(ra) if ra else None
        key_b = view.row_key(rb) if rb else None
        if key_a == key_b:
            continue
        row = rb or ra
        assert row is not None
        label = f"({row['level']}, {row['clause']})"
        va = ra["verdict"] if ra else None
        vb = rb["verdict"] if rb else None
        if va and vb:
            d.changes.append(
                Change("requirement", rid, va, vb, label, _worse(va, vb), _fixed(va, vb), vb == "FAIL" and va != "FAIL")
            )
        elif vb == "FAIL":  # tested now, failing; untested (or absent) before
            d.changes.append(Change("requirement", rid, key_a, vb, label, regression=True, new_failure=True))
        else:
            d.changes.append(Change("coverage", rid, key_a, key_b, label))


def _cases(d: RunDiff, a: dict[str, Any], b: dict[str, Any]) -> None:
    cases_a = {c["id"]: c for c in a["cases"]}
    cases_b = {c["id"]: c for c in b["cases"]}
    for cid, ca in cases_a.items():
        cb = cases_b.get(cid)
        if cb is None:
            d.changes.append(Change("coverage", f"case {ca['_short']}", ca["verdict"], "not run"))
            continue
        details = _requirement_changes(ca, cb)
        worse_inside = any(_worse(old, new) for _, old, new in details)
        va, vb = ca["verdict"], cb["verdict"]
        if va != vb or details:
            regression = _worse(va, vb) or worse_inside
            d.changes.append(
                Change(
                    "case",
                    ca["_short"],
                    va,
                    vb,
                    regression=regression,
                    fixed=_fixed(va, vb),
                    new_failure=vb == "FAIL" and va != "FAIL",
                    details=[f"{rid}: {old or 'not judged'} -> {new or 'not judged'}" for rid, old, new in details],
                )
            )
        for subject, what, old, new in _observations(ca, cb):
            d.changes.append(Change("observation", ca["_short"], old, new, f"{subject}: {what}"))
    for cid, cb in cases_b.items():
        if cid not in cases_a:
            failing = cb["verdict"] == "FAIL"
            d.changes.append(
                Change(
                    "case" if failing else "coverage",
                    cb["_short"] if failing else f"case {cb['_short']}",
                    "not run",
                    cb["verdict"],
                    regression=failing,
                    new_failure=failing,
                )
            )


def _requirement_changes(ca: dict[str, Any], cb: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    qa = {q["id"]: q["verdict"] for q in ca["requirements"]}
    qb = {q["id"]: q["verdict"] for q in cb["requirements"]}
    return [
        (rid, qa.get(rid), qb.get(rid)) for rid in [*qa, *(q for q in qb if q not in qa)] if qa.get(rid) != qb.get(rid)
    ]


def _keyed(evidence: list[dict[str, Any]], kind: str) -> dict[tuple[str, int], dict[str, Any]]:
    """Evidence of one kind by (label, occurrence): the second exchange labelled X is (X, 2)."""
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for e in evidence:
        if e["kind"] != kind:
            continue
        label = str(e.get("label", "")) if kind != "Measurement" else f"{e.get('label', '')} ({e.get('name', '')})"
        seen[label] = seen.get(label, 0) + 1
        out[(label, seen[label])] = e
    return out


def _observations(ca: dict[str, Any], cb: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    """(subject, what, old, new) for every observed fact that differs between the two runs of a case."""
    out: list[tuple[str, str, str | None, str | None]] = []

    def text(value: Any) -> str | None:
        return None if value is None or value == "" else view.as_text(value)

    def name(label: str, n: int) -> str:
        return f"'{label}'" + (f" #{n}" if n > 1 else "")

    ex_a, ex_b = _keyed(ca["evidence"], "HttpExchange"), _keyed(cb["evidence"], "HttpExchange")
    for key in [k for k in ex_a if k in ex_b]:
        ea, eb = ex_a[key], ex_b[key]
        facts: tuple[tuple[str, Any, Any], ...] = (
            ("TLS outcome", ea["tls"]["outcome"], eb["tls"]["outcome"]),
            ("TLS alert", ea["tls"]["alert"], eb["tls"]["alert"]),
            ("TLS version", ea["tls"]["version"], eb["tls"]["version"]),
            ("HTTP status", ea["status"], eb["status"]),
            ("HTTP version", ea["http_version"], eb["http_version"]),
        )
        for what, old, new in facts:
            if old != new:
                out.append((f"exchange {name(*key)}", what, text(old), text(new)))
    for key in [k for k in ex_a if k not in ex_b]:
        out.append((f"exchange {name(*key)}", "captured", "captured", "not captured"))
    for key in [k for k in ex_b if k not in ex_a]:
        out.append((f"exchange {name(*key)}", "captured", "not captured", "captured"))

    me_a, me_b = _keyed(ca["evidence"], "Measurement"), _keyed(cb["evidence"], "Measurement")
    for key in [*me_a, *(k for k in me_b if k not in me_a)]:
        ma, mb = me_a.get(key), me_b.get(key)
        old = f"{view.as_text(ma['value'])} {ma['unit'] or ''}".strip() if ma else None
        new = f"{view.as_text(mb['value'])} {mb['unit'] or ''}".strip() if mb else None
        if old != new:
            out.append((f"measurement {name(*key)}", "value", old, new))

    tok_a, tok_b = _keyed(ca["evidence"], "TokenFacts"), _keyed(cb["evidence"], "TokenFacts")
    for key in [k for k in tok_a if k in tok_b]:
        ta, tb = tok_a[key], tok_b[key]
        facts = (
            ("signature verified", ta["verified"], tb["verified"]),
            ("problem", ta["problem"], tb["problem"]),
            ("alg", ta["header"].get("alg"), tb["header"].get("alg")),
            ("claims present", sorted(ta["claims"]), sorted(tb["claims"])),
        )
        for what, old, new in facts:
            if old != new:
                out.append((f"token {name(*key)}", what, text(old), text(new)))
    return out


def _declarations(d: RunDiff, a: dict[str, Any], b: dict[str, Any]) -> None:
    targets_a = {t["name"]: t for t in a["targets"]}
    for tb in b["targets"]:
        ta = targets_a.get(tb["name"])
        if ta is None:
            continue
        for key in ("base_url", "fqdn", "client_auth", "authorization", "http_versions"):
            if ta.get(key) != tb.get(key):
                d.changes.append(
                    Change("declaration", tb["name"], view.as_text(ta.get(key)), view.as_text(tb.get(key)), key)
                )
        dev_a = {x["requirement"]: x for x in ta["deviations"]}
        dev_b = {x["requirement"]: x for x in tb["deviations"]}
        for rid in [*dev_a, *(r for r in dev_b if r not in dev_a)]:
            old, new = _deviation_state(dev_a.get(rid)), _deviation_state(dev_b.get(rid))
            if old != new:
                d.changes.append(Change("declaration", tb["name"], old, new, f"deviation from {rid}"))


def _deviation_state(dev: dict[str, Any] | None) -> str | None:
    if dev is None:
        return None
    return f"declared{' (stale)' if dev['stale'] else ''}: {dev['reason']}"
