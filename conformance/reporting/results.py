"""The run record: one entry per conformance case, the single source of every report.

``results.json`` is written from :class:`RunRecord`; the summary table, the JUnit file
(pytest's own) and any later HTML view all draw from the same verdicts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.requirements import Level
from conformance.verdicts import SEVERITY, Verdict, exit_status, worst


@dataclass
class CaseRecord:
    """What one test established: the verdict, why, and the evidence behind it."""

    id: str
    title: str
    requirements: list[str]
    role: str
    target: str
    level: Level
    verdict: Verdict = Verdict.PASS
    message: str = ""
    phases: list[dict[str, str]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0

    def add(self, phase: str, verdict: Verdict, message: str) -> None:
        """Fold in a phase's verdict; the most severe one wins, its message with it."""
        self.phases.append({"phase": phase, "verdict": verdict.value, "message": message})
        self.verdict = worst([Verdict(p["verdict"]) for p in self.phases])
        self.message = next(p["message"] for p in self.phases if p["verdict"] == self.verdict)


@dataclass
class RunRecord:
    targets: list[dict[str, Any]]
    options: dict[str, Any]
    started: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    finished: str = ""
    cases: list[CaseRecord] = field(default_factory=list)
    sanity: list[dict[str, Any]] = field(default_factory=list)
    tls_connections: int = 0

    def counts(self) -> dict[Verdict, int]:
        counter = Counter(c.verdict for c in self.cases)
        return {v: counter.get(v, 0) for v in SEVERITY}

    def exit_status(self) -> int:
        return exit_status(self.counts())

    def to_json(self) -> dict[str, Any]:
        counts = {v.value: n for v, n in self.counts().items()}
        return {
            "harness": {"name": "ts33558-conformance", "version": __version__},
            "started": self.started,
            "finished": self.finished,
            "targets": self.targets,
            "options": self.options,
            "counts": {**counts, "total": len(self.cases), "tls_connections": self.tls_connections},
            "exit_status": self.exit_status(),
            "sanity_probes": self.sanity,
            "tests": [asdict(c) for c in self.cases],
        }

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "results.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False, default=str), "utf-8")
        os.replace(tmp, path)
        return path


def summary_lines(record: RunRecord) -> list[str]:
    """The summary table printed at the end of a run: one row per case, then why for the others."""
    cases = sorted(record.cases, key=lambda c: (c.role, c.requirements, c.target, c.id))
    width = max([len(",".join(c.requirements)) for c in cases] + [11]) + 2
    rows = [f"{'VERDICT':<14}{'REQUIREMENT':<{width}}CASE"]
    rows += [f"{c.verdict.value:<14}{','.join(c.requirements):<{width}}{_short(c.id)}" for c in cases]
    explained: dict[tuple[Verdict, str], list[CaseRecord]] = {}
    for case in cases:
        if case.verdict not in (Verdict.PASS, Verdict.NA):
            explained.setdefault((case.verdict, case.message), []).append(case)
    for (verdict, message), group in explained.items():  # one message, however many cases share it
        names = ", ".join(_short(c.id) for c in group[:3]) + (f" and {len(group) - 3} more" if len(group) > 3 else "")
        rows += ["", f"{verdict.value} {names}", *(f"    {line}" for line in message.splitlines())]
    counts = record.counts()
    rows.append("")
    rows.append(
        "  ".join(f"{v.value}: {counts[v]}" for v in reversed(SEVERITY))
        + f"  (total {len(record.cases)}, TLS connections {record.tls_connections})"
    )
    return rows


def _short(node_id: str) -> str:
    """``ees_6_3/test_x.py::test_y[target-variant]`` -> ``test_y[target-variant]``."""
    return node_id.rsplit("::", 1)[-1]
