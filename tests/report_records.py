"""Record fixtures (results.json, schema_version 1) and snapshot helpers for the report tests.

``tests/data/records/every-verdict.json`` holds every verdict and coverage state of a run of
two targets (an ECS and an EES); ``interrupted.json`` is the same run stopped part-way.
Snapshots live in ``tests/data/snapshots/``; ``UPDATE_SNAPSHOTS=1`` rewrites them.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
RECORDS = DATA / "records"
SNAPSHOTS = DATA / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


@functools.cache
def _loaded(name: str) -> str:
    return (RECORDS / f"{name}.json").read_text("utf-8")


def record(name: str = "every-verdict") -> dict[str, Any]:
    """A fresh copy of a fixture record (tests may modify it)."""
    data: dict[str, Any] = json.loads(_loaded(name))
    return data


def write(directory: Path, data: dict[str, Any], name: str = "results.json") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), "utf-8")
    return path


def case(data: dict[str, Any], id_part: str) -> dict[str, Any]:
    """The one case whose ID contains ``id_part``."""
    found = [c for c in data["cases"] if id_part in c["id"]]
    assert len(found) == 1, f"{id_part!r} matches {len(found)} cases"
    result: dict[str, Any] = found[0]
    return result


def coverage_row(data: dict[str, Any], requirement: str) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in data["coverage"] if r["id"] == requirement)
    return row


def clone(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


def normalise(text: str) -> str:
    """What a snapshot must not depend on: the version of the harness that rendered it.

    (The report holds nothing else time-dependent: every time in it comes from the record.)
    """
    return re.sub(r"(Rendered by |content=\")ts33558-conformance [^\s\"<]+", r"\1ts33558-conformance VERSION", text)


def assert_snapshot(name: str, text: str) -> None:
    """``text`` equals the stored snapshot ``name`` (rewritten instead with UPDATE_SNAPSHOTS=1)."""
    path = SNAPSHOTS / name
    text = normalise(text)
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        if not UPDATE:
            raise AssertionError(f"snapshot {path} did not exist; written now, check it in")
        return
    expected = path.read_text("utf-8")
    if text != expected:
        import difflib

        delta = "".join(
            list(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "rendered", n=2))[
                :60
            ]
        )
        raise AssertionError(f"{name} differs from its snapshot (UPDATE_SNAPSHOTS=1 to accept):\n{delta}")
