"""Verdicts and the single policy step that turns what happened in a test into one.

Checks establish facts and raise; this module alone decides what a raised exception means,
given the requirement level, ``--strict`` and the target's declared deviations.
"""

from __future__ import annotations

import enum

from conformance.errors import CheckFailed, HarnessError, Inconclusive, NotApplicable
from conformance.requirements import Level


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    NA = "N/A"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


SEVERITY = [Verdict.ERROR, Verdict.INCONCLUSIVE, Verdict.FAIL, Verdict.WARN, Verdict.NA, Verdict.PASS]
"""Order in which verdicts win when one test produces several (call, then teardown)."""


def decide(
    exc: BaseException | None, *, level: Level, strict: bool = False, deviation_reason: str | None = None
) -> Verdict:
    """The verdict for a test that raised ``exc`` (``None``: the test body completed).

    A violated S-level requirement is WARN (FAIL under ``strict``); an I-level one is only
    recorded (PASS). A declared deviation turns a violation into N/A, visibly.
    """
    if exc is None:
        return Verdict.PASS
    if isinstance(exc, CheckFailed):
        if deviation_reason is not None:
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
    if isinstance(exc, HarnessError):
        return Verdict.ERROR
    return Verdict.ERROR


def worst(verdicts: list[Verdict]) -> Verdict:
    return min(verdicts, key=SEVERITY.index) if verdicts else Verdict.PASS


def exit_status(counts: dict[Verdict, int]) -> int:
    """0: nothing applicable failed; 1: at least one FAIL; 2: no FAIL but ERROR/INCONCLUSIVE."""
    if counts.get(Verdict.FAIL, 0):
        return 1
    if counts.get(Verdict.ERROR, 0) or counts.get(Verdict.INCONCLUSIVE, 0):
        return 2
    return 0
