"""The requirement catalogue: stable IDs (ECS-*, EES-*) with their level, role, clause and text.

The catalogue is data (``data/requirements.toml``), a copy of the project's shared
``REQUIREMENTS.md`` made by :func:`from_markdown` (``python -m conformance.requirements
REQUIREMENTS.md`` rewrites it); every conformance test cites IDs from it and the plugin refuses
unknown ones.
"""

from __future__ import annotations

import functools
import re
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

Level = Literal["M", "S", "I"]
LEVELS: tuple[Level, ...] = ("M", "S", "I")

SHAPE_OWNERS: dict[tuple[str, str], str] = {
    ("http", "ecs"): "ECS-RESP-01",
    ("http", "ees"): "EES-RESP-02",
    ("tls", "ecs"): "ECS-TLS-08",
    ("tls", "ees"): "EES-TLS-07",
}
"""The S-level requirement that judges the *shape* of a refusal, by layer and role.

"Outcome versus shape" (REQUIREMENTS.md): an M verdict is decided by what happened; how a
refusal was expressed (status, challenge, ProblemDetails, alert or HTTP refusal) is judged
under these, so a correct refusal with an unusual shape is a WARN, never a FAIL."""


@dataclass(frozen=True)
class Requirement:
    id: str
    level: Level
    role: Literal["ecs", "ees"]
    clause: str
    text: str
    observed: str


@functools.cache
def catalogue() -> dict[str, Requirement]:
    """Every requirement by ID, in catalogue order, loaded once."""
    raw = tomllib.loads(resources.files("conformance").joinpath("data/requirements.toml").read_text("utf-8"))
    return {rid: Requirement(id=rid, **fields) for rid, fields in raw.items()}


def lookup(requirement_id: str) -> Requirement:
    try:
        return catalogue()[requirement_id]
    except KeyError:
        raise KeyError(f"unknown requirement ID {requirement_id!r} (see conformance/data/requirements.toml)") from None


def matches(requirement_ids: tuple[str, ...] | list[str], prefixes: list[str]) -> bool:
    """Whether any ID starts with any selector: ``EES-TOK`` selects EES-TOK-01..13, ``ECS-TLS-02`` one."""
    if not prefixes:
        return True
    return any(rid.upper().startswith(p.upper()) for rid in requirement_ids for p in prefixes)


# --- the copy from REQUIREMENTS.md -------------------------------------------------------------

_ROW = re.compile(r"^\|\s*(?P<id>E[CE]S-[A-Z]+-\d\d(?:\.\.\d\d)?)\s*\|\s*(?P<level>[^|]+?)\s*\|(?P<rest>.*)\|\s*$")
_CLAUSE = re.compile(r"^## Clause (\d+\.\d+)")
_AS_FOR = re.compile(r"^As (ECS-[A-Z]+-\d\d)(?:\.\.(\d\d))?, for the EES\.?$")


def from_markdown(text: str) -> dict[str, Requirement]:
    """The catalogue as ``REQUIREMENTS.md`` writes it: one table row per ID.

    A row written for a range of EES IDs "as" their ECS twins (``EES-TLS-01..05 | M/S | As
    ECS-TLS-01..05, for the EES.``) becomes one requirement per ID, with the twin's level and text.
    """
    found: dict[str, Requirement] = {}
    clause = ""
    for line in text.splitlines():
        if heading := _CLAUSE.match(line):
            clause = heading.group(1)
        row = _ROW.match(line)
        if row is None or not clause:
            continue
        cells = [cell.strip() for cell in row.group("rest").split("|")]
        requirement, observed = cells[0], cells[1] if len(cells) > 1 else ""
        for rid, level, req_text, obs in _expand(row.group("id"), row.group("level"), requirement, observed, found):
            found[rid] = Requirement(rid, level, "ecs" if rid.startswith("ECS") else "ees", clause, req_text, obs)
    return found


def _expand(
    rid: str, level: str, text: str, observed: str, known: dict[str, Requirement]
) -> list[tuple[str, Level, str, str]]:
    twin = _AS_FOR.match(text)
    if twin is None:
        return [(rid, _level(level, rid), text, observed)]
    first_twin, last = twin.group(1), twin.group(2)
    prefix, start = rid[: rid.rindex("-") + 1], int(rid.split("-")[-1].split("..")[0])
    twin_prefix, twin_start = first_twin[: first_twin.rindex("-") + 1], int(first_twin.split("-")[-1])
    count = int(last) - twin_start + 1 if last else 1
    rows = []
    for offset in range(count):
        source = known[f"{twin_prefix}{twin_start + offset:02d}"]
        own = f"{prefix}{start + offset:02d}"
        rows.append((own, source.level, f"As {source.id}, for the EES: {source.text}", source.observed))
    return rows


def _level(cell: str, rid: str) -> Level:
    for level in LEVELS:
        if cell == level:
            return level
    raise ValueError(f"{rid}: level {cell!r} is not one of M, S, I")


def to_toml(requirements: dict[str, Requirement]) -> str:
    """``data/requirements.toml`` for ``requirements``."""
    lines = [
        "# Requirement catalogue, TS 33.558 clauses 6.2 and 6.3.",
        "# Generated from the shared REQUIREMENTS.md by `python -m conformance.requirements PATH`; do not edit.",
        "# level: M = shall (FAIL), S = best practice / normative reference (WARN, FAIL under --strict),",
        "# I = implementation-defined (measured and recorded, never failed).",
    ]
    for r in requirements.values():
        lines += ["", f"[{r.id}]", f'level = "{r.level}"', f'role = "{r.role}"', f'clause = "{r.clause}"']
        lines += [f"text = {_toml_string(r.text)}", f"observed = {_toml_string(r.observed)}"]
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":  # python -m conformance.requirements ../shared/spec/REQUIREMENTS.md
    source = Path(sys.argv[1])
    target = Path(__file__).parent / "data" / "requirements.toml"
    target.write_text(to_toml(from_markdown(source.read_text("utf-8"))), "utf-8")
    print(f"{target}: {len(from_markdown(source.read_text('utf-8')))} requirements")
