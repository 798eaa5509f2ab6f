"""The policy step: exceptions, levels, --strict and deviations to verdicts; verdicts to exit status."""

from __future__ import annotations

import pytest

from conformance import requirements
from conformance.errors import CheckFailed, ConfigError, HarnessError, Inconclusive, NotApplicable
from conformance.verdicts import Verdict, decide, exit_status, worst

FAILED = CheckFailed("t", "e", "a")


@pytest.mark.parametrize(
    ("exc", "level", "strict", "deviation", "verdict"),
    [
        (None, "M", False, None, Verdict.PASS),
        (FAILED, "M", False, None, Verdict.FAIL),
        (FAILED, "S", False, None, Verdict.WARN),
        (FAILED, "S", True, None, Verdict.FAIL),
        (FAILED, "I", True, None, Verdict.PASS),
        (FAILED, "M", False, "fixed in 2.1", Verdict.NA),
        (NotApplicable("psk"), "M", False, None, Verdict.NA),
        (Inconclusive("down"), "M", False, None, Verdict.INCONCLUSIVE),
        (ConfigError("f", "k", "p", "fix"), "M", False, None, Verdict.ERROR),
        (HarnessError("bug"), "M", False, None, Verdict.ERROR),
        (ZeroDivisionError(), "M", False, None, Verdict.ERROR),
    ],
)
def test_decide(exc: BaseException | None, level: str, strict: bool, deviation: str | None, verdict: Verdict) -> None:
    assert decide(exc, level=level, strict=strict, deviation_reason=deviation) == verdict  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        ({Verdict.PASS: 3, Verdict.NA: 1, Verdict.WARN: 1}, 0),
        ({Verdict.PASS: 3, Verdict.FAIL: 1, Verdict.INCONCLUSIVE: 2}, 1),
        ({Verdict.PASS: 3, Verdict.INCONCLUSIVE: 2}, 2),
        ({Verdict.ERROR: 1}, 2),
        ({}, 0),
    ],
)
def test_exit_status(counts: dict[Verdict, int], status: int) -> None:
    assert exit_status(counts) == status


def test_worst() -> None:
    assert worst([Verdict.PASS, Verdict.WARN, Verdict.INCONCLUSIVE]) == Verdict.INCONCLUSIVE
    assert worst([Verdict.PASS, Verdict.FAIL]) == Verdict.FAIL


def test_catalogue_has_every_requirement_with_a_level() -> None:
    cat = requirements.catalogue()
    assert {"ECS-TLS-01", "EES-TLS-05", "EES-TOK-12", "ECS-ROB-01"} <= set(cat)
    assert {r.level for r in cat.values()} <= {"M", "S", "I"}
    assert cat["EES-TLS-04"].level == "S" and cat["ECS-TLS-06"].level == "I"


@pytest.mark.parametrize(
    ("ids", "prefixes", "selected"),
    [
        (["EES-TOK-01"], [], True),
        (["EES-TOK-01"], ["EES-TOK"], True),
        (["EES-TOK-01"], ["ees-tok-01"], True),
        (["EES-TOK-01"], ["ECS"], False),
        (["EES-TOK-01", "EES-RESP-01"], ["EES-RESP"], True),
    ],
)
def test_requirement_prefix_selection(ids: list[str], prefixes: list[str], selected: bool) -> None:
    assert requirements.matches(ids, prefixes) is selected


def test_unknown_requirement_is_named() -> None:
    with pytest.raises(KeyError, match="ECS-NOPE-01"):
        requirements.lookup("ECS-NOPE-01")
