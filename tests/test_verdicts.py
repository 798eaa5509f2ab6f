"""The policy step: exceptions, levels, --strict and deviations to verdicts; verdicts to exit status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance import requirements
from conformance.errors import CheckFailed, ConfigError, HarnessError, Inconclusive, NotApplicable, ShapeViolation
from conformance.verdicts import Verdict, decide, exit_status, judge, worst

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
    assert decide(exc, level=level, strict=strict, deviation=deviation) == verdict  # type: ignore[arg-type]


def verdicts(exc: BaseException | None, cited: list[str], role: str = "ees", **knobs: Any) -> dict[str, Verdict | None]:
    return {r.id: r.verdict for r in judge(exc, cited, role=role, **knobs)}


SHAPE = ShapeViolation("401 without a challenge", "a Bearer challenge", "none", layer="http")
TLS_SHAPE = ShapeViolation("silent close", "an alert", "a close", layer="tls")


def test_a_wrong_shape_is_a_warn_on_its_owner_and_the_outcome_holds() -> None:
    assert verdicts(SHAPE, ["EES-TOK-05", "EES-RESP-02"]) == {"EES-TOK-05": Verdict.PASS, "EES-RESP-02": Verdict.WARN}
    assert verdicts(TLS_SHAPE, ["ECS-TLS-01", "ECS-TLS-08"], "ecs") == {
        "ECS-TLS-01": Verdict.PASS,
        "ECS-TLS-08": Verdict.WARN,
    }
    assert verdicts(SHAPE, ["EES-TOK-05", "EES-RESP-02"], strict=True)["EES-RESP-02"] == Verdict.FAIL


def test_a_shape_owner_the_case_did_not_cite_is_added() -> None:
    assert verdicts(SHAPE, ["EES-TOK-10"]) == {"EES-TOK-10": Verdict.PASS, "EES-RESP-02": Verdict.WARN}


def test_a_failed_outcome_fails_the_outcome_and_leaves_the_shape_unjudged() -> None:
    assert verdicts(FAILED, ["EES-TOK-05", "EES-RESP-02"]) == {"EES-TOK-05": Verdict.FAIL, "EES-RESP-02": None}


def test_a_check_naming_its_requirement_counts_only_against_it() -> None:
    named = CheckFailed("no token", "a token", "none", requirement="ECS-TOK-01")
    assert verdicts(named, ["ECS-TOK-06"], "ecs") == {"ECS-TOK-06": None, "ECS-TOK-01": Verdict.FAIL}


def test_a_deviation_excuses_only_the_requirement_it_names() -> None:
    """Issue: a deviation on an S ID hid an M FAIL of the same case."""
    excused = {"EES-RESP-02": "we answer 400"}
    assert verdicts(FAILED, ["EES-TOK-01", "EES-RESP-02"], deviations=excused)["EES-TOK-01"] == Verdict.FAIL
    assert verdicts(SHAPE, ["EES-TOK-05", "EES-RESP-02"], deviations=excused) == {
        "EES-TOK-05": Verdict.PASS,
        "EES-RESP-02": Verdict.NA,
    }


def test_a_deviation_on_a_requirement_that_holds_is_stale() -> None:
    (held,) = judge(None, ["EES-TOK-05"], role="ees", deviations={"EES-TOK-05": "not yet"})
    assert (held.verdict, held.stale, held.deviation) == (Verdict.PASS, True, "not yet")


def test_no_verdict_about_the_target_applies_to_every_cited_requirement_alike() -> None:
    for exc, verdict in [(Inconclusive("down"), Verdict.INCONCLUSIVE), (NotApplicable("psk"), Verdict.NA)]:
        assert set(verdicts(exc, ["EES-TOK-05", "EES-RESP-02"]).values()) == {verdict}


def test_a_part_the_catalogue_grades_lower_is_judged_at_that_level() -> None:
    assert verdicts(FAILED, ["EES-TOK-09"], outcome_level="S") == {"EES-TOK-09": Verdict.WARN}
    assert verdicts(FAILED, ["EES-RESP-02"], outcome_level="M") == {"EES-RESP-02": Verdict.WARN}  # never above


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


def test_catalogue_is_the_shared_requirements_md() -> None:
    """conformance/data/requirements.toml is a copy of the shared catalogue and must match it."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "spec" / "REQUIREMENTS.md"
    if not shared.is_file():
        pytest.skip(f"{shared} is not beside this checkout")
    assert requirements.from_markdown(shared.read_text("utf-8")) == requirements.catalogue()


def test_every_shape_owner_is_an_s_level_requirement_of_its_role() -> None:
    for (_, role), rid in requirements.SHAPE_OWNERS.items():
        assert requirements.lookup(rid).level == "S"
        assert requirements.lookup(rid).role == role


def test_catalogue_has_every_requirement_with_a_level() -> None:
    cat = requirements.catalogue()
    assert {"ECS-TLS-01", "EES-TLS-05", "EES-TOK-12", "ECS-ROB-01"} <= set(cat)
    assert {r.level for r in cat.values()} <= {"M", "S", "I"}
    assert cat["EES-TLS-04"].level == "S"
    assert cat["ECS-TLS-06"].level == "I"


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
