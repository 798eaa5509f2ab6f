"""The run record: one entry per conformance case, the single source of every report.

``results.json`` (``schema_version`` 1) is :meth:`RunRecord.to_json`; the summary printed at the
end of a run, the JUnit file and the HTML report all draw from the same verdicts. A case holds
the verdict of each requirement it judged (M and S apart); :func:`coverage` folds those into
one line per catalogue ID, so a run also says what it did *not* test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance import __version__, requirements
from conformance.verdicts import REQUIREMENT_SEVERITY, SEVERITY, RequirementVerdict, Verdict, exit_status, worst

SCHEMA_VERSION = 1
NOT_JUDGED = "not judged"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class CaseRecord:
    """What one test established: the verdict of each requirement, why, and the evidence."""

    id: str
    title: str
    target: str
    role: str
    cited: list[str]
    positive_control: bool = False
    """The case is a positive control (the authorized EEC must be served), not a negative case."""
    requirements: list[RequirementVerdict] = field(default_factory=list)
    phases: list[dict[str, str]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    reproduce: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def verdict(self) -> Verdict:
        return worst(r.verdict for r in self.requirements)

    @property
    def message(self) -> str:
        """The message of the requirement that decided the case's verdict."""
        return next((r.message for r in self.requirements if r.verdict == self.verdict and r.message), "")

    def judged_the_target(self) -> bool:
        """The case reached a verdict about the target (PASS, WARN or FAIL on some requirement).

        Such a verdict on a negative case is only earned if the target still serves the authorized
        EEC right after: a refusal may have been the target refusing everyone, and a 5xx or a silent
        close the target being down."""
        verdicts = {r.verdict for r in self.requirements}
        if verdicts & {Verdict.INCONCLUSIVE, Verdict.ERROR}:
            return False
        return bool(verdicts & {Verdict.PASS, Verdict.WARN, Verdict.FAIL})

    def fold(self, phase: str, judged: list[RequirementVerdict]) -> None:
        """Fold in a phase's verdicts: per requirement, the most severe one wins, its message with it."""
        self.phases.append({"phase": phase, "verdicts": ", ".join(f"{r.id}={r.verdict}" for r in judged)})
        known = {r.id: r for r in self.requirements}
        for new in judged:
            old = known.get(new.id)
            if old is None:
                self.requirements.append(new)
                known[new.id] = new
            elif new.verdict is not None and (old.verdict is None or worst([old.verdict, new.verdict]) != old.verdict):
                old.verdict, old.message, old.stale = new.verdict, new.message, old.stale and new.stale

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "target": self.target,
            "role": self.role,
            "positive_control": self.positive_control,
            "verdict": self.verdict.value,
            "message": self.message,
            "duration_s": round(self.duration_s, 4),
            "requirements": [_requirement_json(r) for r in self.requirements],
            "evidence": self.evidence,
            "reproduce": self.reproduce,
            "phases": self.phases,
        }

    def to_wire(self) -> dict[str, Any]:
        """Every field, in plain JSON types: what a pytest-xdist worker sends its controller.

        Unlike :meth:`to_json` (the results.json form) nothing is derived or dropped, so
        :meth:`from_wire` gives back an equal record."""
        wire = asdict(self)
        for r in wire["requirements"]:
            r["verdict"] = r["verdict"].value if r["verdict"] is not None else None
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> CaseRecord:
        judged = [
            RequirementVerdict(**{**r, "verdict": Verdict(r["verdict"]) if r["verdict"] is not None else None})
            for r in wire["requirements"]
        ]
        return cls(**{**wire, "requirements": judged})


def _requirement_json(r: RequirementVerdict) -> dict[str, Any]:
    deviation = {"reason": r.deviation, "stale": r.stale} if r.deviation is not None else None
    return {
        "id": r.id,
        "level": r.level,
        "clause": requirements.lookup(r.id).clause,
        "verdict": r.verdict.value if r.verdict is not None else None,
        "message": r.message,
        "deviation": deviation,
    }


@dataclass
class CoverageRow:
    """One catalogue ID in one run: tested (and how), not applicable, not selected, not covered."""

    id: str
    state: str
    verdict: Verdict | None
    tests: list[str]
    reason: str = ""


def coverage(cases: list[CaseRecord], cited_by_suites: set[str], roles_run: set[str]) -> list[CoverageRow]:
    """Every catalogue ID with what this run knows of it.

    ``cited_by_suites``: the IDs some test of this harness version cites (before selection);
    ``roles_run``: the roles that had a target in this run.
    """
    rows = []
    for rid, requirement in requirements.catalogue().items():
        judged = [(c, r) for c in cases for r in c.requirements if r.id == rid and r.verdict is not None]
        if judged:
            verdict = worst((r.verdict for _, r in judged), REQUIREMENT_SEVERITY)
            tests = list(dict.fromkeys(c.id for c, _ in judged))
            reason = ""
            state = "tested"
            if verdict == Verdict.NA:
                state = "not-applicable"
                reason = "; ".join(dict.fromkeys(r.message.splitlines()[0] for _, r in judged if r.message))
            rows.append(CoverageRow(rid, state, verdict, tests, reason))
        elif rid in cited_by_suites:
            why = "not selected (--req)" if requirement.role in roles_run else f"no {requirement.role.upper()} target"
            rows.append(CoverageRow(rid, "not-selected", None, [], why))
        else:
            rows.append(CoverageRow(rid, "not-covered", None, [], "no test in this harness version checks it yet"))
    return rows


@dataclass
class RunRecord:
    targets: list[dict[str, Any]]
    options: dict[str, Any]
    command: str = ""
    strict: bool = False
    started: str = field(default_factory=_now)
    finished: str = ""
    duration_s: float = 0.0
    interrupted: bool = False
    cases: list[CaseRecord] = field(default_factory=list)
    sanity: list[dict[str, Any]] = field(default_factory=list)
    cited_by_suites: set[str] = field(default_factory=set)
    tls_connections: int = 0
    http_requests: int = 0

    def counts(self) -> dict[Verdict, int]:
        counter = Counter(c.verdict for c in self.cases)
        return {v: counter.get(v, 0) for v in SEVERITY}

    def coverage(self) -> list[CoverageRow]:
        return coverage(self.cases, self.cited_by_suites, {t["role"] for t in self.targets})

    def exit_status(self) -> int:
        return exit_status(self.counts())

    def mark_stale_deviations(self) -> None:
        """A declared deviation is stale when its requirement was judged and held on that target."""
        for target in self.targets:
            for deviation in target.get("deviations", []):
                judged = [
                    r
                    for c in self.cases
                    if c.target == target["name"]
                    for r in c.requirements
                    if r.id == deviation["requirement"] and r.verdict is not None
                ]
                deviation["stale"] = bool(judged) and all(r.stale for r in judged)

    def to_json(self) -> dict[str, Any]:
        rows = self.coverage()
        by_state = Counter(r.state for r in rows if r.state in ("not-selected", "not-covered"))
        by_verdict = Counter(r.verdict.value for r in rows if r.verdict is not None)
        return {
            "schema_version": SCHEMA_VERSION,
            "harness": {"name": "ts33558-conformance", "version": __version__},
            "run": {
                "started": self.started,
                "finished": self.finished,
                "duration_s": round(self.duration_s, 3),
                "state": "interrupted" if self.interrupted else "complete",
                "strict": self.strict,
                "command": self.command,
                "options": self.options,
            },
            "targets": self.targets,
            "counts": {
                "cases": {**{v.value: n for v, n in self.counts().items()}, "total": len(self.cases)},
                "requirements": {
                    **{v.value: by_verdict.get(v.value, 0) for v in SEVERITY},
                    **{state: by_state.get(state, 0) for state in ("not-selected", "not-covered")},
                    "total": len(rows),
                },
                "tls_connections": self.tls_connections,
                "http_requests": self.http_requests,
            },
            "exit_status": self.exit_status(),
            "coverage": [_coverage_json(r) for r in rows],
            "sanity_probes": self.sanity,
            "cases": [c.to_json() for c in self.cases],
        }

    def write(self, directory: Path) -> list[Path]:
        """``results.json`` and the HTML compliance report drawn from it; the paths written."""
        from conformance.reporting.html import write_html

        directory.mkdir(parents=True, exist_ok=True)
        record = json.loads(json.dumps(self.to_json(), ensure_ascii=False, default=str))
        path = directory / "results.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False), "utf-8")
        os.replace(tmp, path)
        return [path, write_html(record, directory / "report.html", validated=True)]


def _coverage_json(row: CoverageRow) -> dict[str, Any]:
    requirement = requirements.lookup(row.id)
    return {
        **asdict(row),
        "verdict": row.verdict.value if row.verdict is not None else None,
        "level": requirement.level,
        "clause": requirement.clause,
        "role": requirement.role,
        "text": requirement.text,
    }


def coverage_lines(rows: list[CoverageRow]) -> list[str]:
    """``requirements: 20 of 53 tested (18 PASS, 1 WARN, 1 N/A); 33 not covered by this harness version``."""
    tested = [r for r in rows if r.state in ("tested", "not-applicable")]
    verdicts = Counter(r.verdict for r in tested if r.verdict is not None)
    shown = ", ".join(f"{verdicts[v]} {v.value}" for v in REQUIREMENT_SEVERITY if verdicts[v])
    line = f"requirements: {len(tested)} of {len(rows)} tested ({shown or 'none'})"
    not_selected = [r for r in rows if r.state == "not-selected"]
    not_covered = [r for r in rows if r.state == "not-covered"]
    if not_selected:
        line += f"; {len(not_selected)} not selected in this run"
    if not_covered:
        line += f"; {len(not_covered)} not covered by this harness version"
    lines = [line]
    if not_covered:
        lines.append("  not covered: " + " ".join(r.id for r in not_covered))
    return lines


def summary_lines(record: RunRecord) -> list[str]:
    """The compact summary printed at the end of a run: what needs attention, one line each, then
    N/A grouped by reason, the counts and the coverage. The details are in report.html."""
    rows: list[str] = []
    groups: dict[tuple[str, str, str], list[CaseRecord]] = {}
    for case in sorted(record.cases, key=lambda c: (c.role, c.cited, c.id)):
        for r in case.requirements:
            if r.verdict is None or (r.verdict in (Verdict.PASS, Verdict.NA) and not r.stale):
                continue
            verdict = "PASS (stale deviation)" if r.stale else r.verdict.value
            whole = r.verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE)  # a harness or setup problem: all of it
            reason = _reason(r.message, limit=None if whole else 200) or _stale(r)
            groups.setdefault((verdict, r.id, reason), []).append(case)
    order = ["FAIL", "ERROR", "INCONCLUSIVE", "WARN", "PASS (stale deviation)"]
    for (verdict, rid, reason), cases in sorted(groups.items(), key=lambda g: (order.index(g[0][0]), g[0][1])):
        names = ", ".join(_short(c.id) for c in cases[:2]) + (f" and {len(cases) - 2} more" if len(cases) > 2 else "")
        rows += [f"{verdict} {rid}: {reason}", f"    {names}"]
    not_applicable: dict[str, int] = {}
    for case in record.cases:
        if case.verdict == Verdict.NA:
            reason = _reason(case.message)
            not_applicable[reason] = not_applicable.get(reason, 0) + 1
    if not_applicable:
        rows.append(f"N/A ({sum(not_applicable.values())} cases):")
        rows += [f"  {n:>4} x {reason}" for reason, n in sorted(not_applicable.items(), key=lambda i: -i[1])]
    counts = record.counts()
    rows.append(
        "cases: "
        + "  ".join(f"{v.value}: {counts[v]}" for v in reversed(SEVERITY))
        + f"  (total {len(record.cases)}, TLS connections {record.tls_connections})"
    )
    rows += coverage_lines(record.coverage())
    return rows


def _reason(message: str, limit: int | None = 200) -> str:
    """The one-line reason of a message: its title (the line after the requirement's text), or its first line."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if lines and len(lines) > 1 and lines[0].split(" ", 1)[0] in requirements.catalogue():
        lines = lines[1:]  # "ID (level): text" is the spec; the next line says what happened
    if not lines:
        return ""
    title = lines[0].split("(recorded): ", 1)[-1]
    actual = next((line.removeprefix("actual:").strip() for line in lines if line.startswith("actual:")), "")
    reason = f"{title} (got: {actual})" if actual else title
    return reason if limit is None or len(reason) <= limit else reason[: limit - 3] + "..."


def _stale(r: RequirementVerdict) -> str:
    return f"the target declared a deviation ({r.deviation}) but met the requirement: remove the deviation"


def _short(node_id: str) -> str:
    """``ees_6_3/test_x.py::test_y[target-variant]`` -> ``test_y[target-variant]``."""
    return node_id.rsplit("::", 1)[-1]
