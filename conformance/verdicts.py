"""Verdicts and the single policy step that turns what happened in a test into them.

Checks establish facts and raise; this module alone decides what a raised exception means for
each requirement a case cites, given its level, ``--strict`` and the target's declared
deviations. One case can so be PASS on its M requirement and WARN on the S requirement that
owns the shape of the refusal ("Outcome versus shape", REQUIREMENTS.md).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from conformance import requirements
from conformance.errors import CheckFailed, HarnessError, Inconclusive, NotApplicable, ShapeViolation
from conformance.requirements import Level


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    NA = "N/A"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


SEVERITY = [Verdict.ERROR, Verdict.INCONCLUSIVE, Verdict.FAIL, Verdict.WARN, Verdict.NA, Verdict.PASS]
"""Order in which verdicts win within one case (a broken bracket outweighs what the case saw)."""

LEVEL_ORDER: list[Level] = ["M", "S", "I"]
"""A case may judge a requirement below its catalogue level (the catalogue says which parts), never above."""

REQUIREMENT_SEVERITY = [Verdict.FAIL, Verdict.ERROR, Verdict.INCONCLUSIVE, Verdict.WARN, Verdict.PASS, Verdict.NA]
"""Order in which verdicts win across the cases of one requirement: one FAIL anywhere is the
requirement's FAIL, and a PASS on one target outweighs N/A on a target without the feature."""


@dataclass
class RequirementVerdict:
    """The verdict of one requirement in one case; ``verdict=None``: the case did not judge it."""

    id: str
    level: Level
    verdict: Verdict | None
    message: str = ""
    deviation: str | None = None
    """The reason of a deviation the target declared for this requirement."""
    stale: bool = False
    """A deviation was declared, but the target met the requirement."""


def decide(exc: BaseException | None, *, level: Level, strict: bool = False, deviation: str | None = None) -> Verdict:
    """The verdict of one requirement the exception ``exc`` counts against (``None``: it held).

    A violated S-level requirement is WARN (FAIL under ``strict``); an I-level one is only
    recorded (PASS). A declared deviation turns a violation into N/A, visibly.
    """
    if exc is None:
        return Verdict.PASS
    if isinstance(exc, CheckFailed):
        if deviation is not None:
            return Verdict.NA
        if level == "I":
            return Verdict.PASS
        if level == "S" and not strict:
            return Verdict.WARN
        return Verdict.FAIL
    if isinstance(exc, NotApplicable):
        return Verdict.NA
    if isinstance(exc, Inconclusive):
        return Verdict.INCONCLUSIVE
    return Verdict.ERROR


def judge(
    exc: BaseException | None,
    cited: Iterable[str],
    *,
    role: str,
    strict: bool = False,
    deviations: Mapping[str, str] | None = None,
    outcome_level: Level | None = None,
) -> list[RequirementVerdict]:
    """The verdict of every requirement a case cites (and of one it did not cite but violated).

    Who an exception counts against:

    * a :class:`ShapeViolation`: the S requirement owning refusal shapes on its layer; the
      outcome requirements held (the check that raised it ran after the outcome was judged);
    * a :class:`CheckFailed` naming a requirement: that one; the case judged nothing else;
    * any other :class:`CheckFailed`: the case's outcome requirements (all it cites but shape
      owners, or all if it cites only those); shape owners are then not judged;
    * N/A, INCONCLUSIVE, ERROR: every cited requirement alike.

    ``outcome_level`` judges the outcome requirements at a lower level than the catalogue's, for
    the parts the catalogue itself grades lower ("a token without ``sub``: S").
    """
    deviations = deviations or {}
    ids = list(dict.fromkeys(cited))
    owners = {owner for (_, owner_role), owner in requirements.SHAPE_OWNERS.items() if owner_role == role}
    outcome_ids = [rid for rid in ids if rid not in owners] or ids
    violated: set[str]
    if isinstance(exc, ShapeViolation):
        violated = {requirements.SHAPE_OWNERS[(exc.layer, role)]}
        held = set(outcome_ids) - violated
    elif isinstance(exc, CheckFailed) and exc.requirement:
        violated, held = {exc.requirement}, set()
    elif isinstance(exc, CheckFailed):
        violated, held = set(outcome_ids), set()
    elif exc is None:
        violated, held = set(), set(ids)
    else:  # N/A, INCONCLUSIVE, ERROR: nothing about the target was learnt
        kind = decide(exc, level="M")
        return [RequirementVerdict(rid, requirements.lookup(rid).level, kind, _text(exc)) for rid in ids]
    ids += sorted(violated - set(ids))
    levels = {rid: outcome_level for rid in outcome_ids if outcome_level is not None}
    return [
        _one(rid, exc if rid in violated else None, rid in violated | held, strict, deviations, levels.get(rid))
        for rid in ids
    ]


def _one(
    rid: str,
    exc: BaseException | None,
    judged: bool,
    strict: bool,
    deviations: Mapping[str, str],
    level_here: Level | None = None,
) -> RequirementVerdict:
    catalogued = requirements.lookup(rid).level
    level = max(catalogued, level_here or catalogued, key=LEVEL_ORDER.index)
    deviation = deviations.get(rid)
    if not judged:
        return RequirementVerdict(rid, level, None, "not judged: the case ended before it", deviation)
    verdict = decide(exc, level=level, strict=strict, deviation=deviation)
    message = _text(exc) if exc is not None else ""
    if exc is not None and deviation is not None:
        message = f"declared deviation ({deviation}); observed: {message}"
    elif exc is not None and verdict in (Verdict.WARN, Verdict.PASS):
        message = f"{level}-level requirement not met (recorded): {message}"
    stale = exc is None and deviation is not None
    return RequirementVerdict(rid, level, verdict, message, deviation, stale)


def _text(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, CheckFailed | HarnessError | Inconclusive | NotApplicable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def worst(verdicts: Iterable[Verdict | None], order: list[Verdict] = SEVERITY) -> Verdict:
    judged = [v for v in verdicts if v is not None]
    return min(judged, key=order.index) if judged else Verdict.PASS


def exit_status(counts: Mapping[Verdict, int]) -> int:
    """0: nothing applicable failed; 1: at least one FAIL; 2: no FAIL but ERROR/INCONCLUSIVE."""
    if counts.get(Verdict.FAIL, 0):
        return 1
    if counts.get(Verdict.ERROR, 0) or counts.get(Verdict.INCONCLUSIVE, 0):
        return 2
    return 0
