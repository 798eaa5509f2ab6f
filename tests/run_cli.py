"""Run the ``conformance`` command in a subprocess, as a user would, with a hard time limit."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Finished:
    status: int
    output: str
    seconds: float
    out: Path | None

    def results(self) -> dict[str, Any]:
        assert self.out is not None
        data: dict[str, Any] = json.loads((self.out / "results.json").read_text("utf-8"))
        return data

    def cases(self) -> list[dict[str, Any]]:
        cases: list[dict[str, Any]] = self.results()["cases"]
        return cases

    def verdicts(self) -> dict[str, str]:
        """Case ID -> the case's verdict."""
        return {c["id"]: c["verdict"] for c in self.cases()}

    def judged(self) -> list[tuple[str, str, str]]:
        """(case ID, requirement ID, verdict) for every requirement a case judged."""
        return [(c["id"], r["id"], r["verdict"]) for c in self.cases() for r in c["requirements"] if r["verdict"]]

    def requirements_with(self, verdict: str) -> set[str]:
        return {rid for _, rid, v in self.judged() if v == verdict}


def conformance(*args: str | Path, out: Path | None = None, limit: float = 120.0) -> Finished:
    import time

    argv = [sys.executable, "-m", "conformance", *map(str, args)]
    if out is not None:
        argv += ["--out", str(out)]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=limit, check=False)
    return Finished(done.returncode, done.stdout + done.stderr, time.monotonic() - started, out)
