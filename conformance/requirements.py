"""The requirement catalogue: stable IDs (ECS-*, EES-*) with their level, role and text.

The catalogue is data (``data/requirements.toml``, a copy of the shared REQUIREMENTS.md);
every conformance test cites IDs from it and the plugin refuses unknown ones.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Level = Literal["M", "S", "I"]


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
    """Every requirement by ID, loaded once."""
    raw = tomllib.loads(resources.files("conformance").joinpath("data/requirements.toml").read_text("utf-8"))
    return {rid: Requirement(id=rid, **fields) for rid, fields in raw.items()}


def lookup(requirement_id: str) -> Requirement:
    try:
        return catalogue()[requirement_id]
    except KeyError:
        raise KeyError(f"unknown requirement ID {requirement_id!r} (see conformance/data/requirements.toml)") from None


def matches(requirement_ids: tuple[str, ...] | list[str], prefixes: list[str]) -> bool:
    """Whether any ID starts with any selector: ``EES-TOK`` selects EES-TOK-01..12, ``ECS-TLS-02`` one."""
    if not prefixes:
        return True
    return any(rid.upper().startswith(p.upper()) for rid in requirement_ids for p in prefixes)


def strongest_level(requirement_ids: tuple[str, ...] | list[str]) -> Level:
    """The level that decides a test citing several requirements: M over S over I."""
    levels = {lookup(rid).level for rid in requirement_ids}
    order: tuple[Level, ...] = ("M", "S", "I")
    return next((lvl for lvl in order if lvl in levels), "M")
