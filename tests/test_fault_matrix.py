"""Every conformance check can fail, and only where it should: the fault matrix, derived from data.

Each fault in ``conformance/reference/faults.py`` names the requirement IDs it violates (and what
else it unavoidably breaks, with the reason). Under each fault the run exits 1, every violated ID
has a FAIL (WARN for S, which ``--strict`` turns into FAIL), no other ID fails, and every case
citing none of them keeps its clean verdict. Bracket faults break the target part-way through: no
negative case may then PASS. Nothing here names a fault: adding one to the catalogue adds its row.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
from run_cli import Finished, conformance

from conformance import requirements
from conformance.reference.faults import FAULTS, Fault

REQUIREMENT_FAULTS = sorted(name for name, fault in FAULTS.items() if fault.kind == "requirement")
BRACKET_FAULTS = sorted(name for name, fault in FAULTS.items() if fault.kind == "bracket")
CONTROL_MESSAGES = ("sanity probe", "positive control after this case", "precondition failed")


def run_under(tmp_path: Path, *faults: str) -> Finished:
    roles = sorted({FAULTS[f].role.upper() for f in faults})
    strict = ["--strict"]
    selection = [arg for role in roles for arg in ("--req", role)]
    fault_args = [arg for f in faults for arg in ("--fault", f)]
    return conformance("run", "--target", "reference", *fault_args, *selection, *strict, out=tmp_path)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each fault's run is kept, shared by the xdist workers: every fault runs once per session."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "fault-runs"


def fault_run(runs: Path, name: str) -> Finished:
    """The run under fault ``name``: made by whichever worker asks first, read by the others."""
    runs.mkdir(parents=True, exist_ok=True)
    out, summary = runs / name, runs / f"{name}.json"
    with (runs / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a worker already running this fault: wait for it
        if not summary.exists():
            run = run_under(out, *([name] if name != "clean" else []))
            summary.write_text(json.dumps({"status": run.status, "output": run.output, "seconds": run.seconds}))
    done = json.loads(summary.read_text())
    return Finished(done["status"], done["output"], done["seconds"], out)


@pytest.fixture(scope="module")
def clean(runs: Path) -> Finished:
    run = fault_run(runs, "clean")
    assert run.status == 0, run.output
    return run


def allowed_to_fail(fault: Fault, rid: str) -> bool:
    return rid in fault.violates or any(rid.startswith(prefix) for prefix, _ in fault.also_breaks)


def probe_refusal(case: dict[str, object]) -> bool:
    return case["verdict"] == "INCONCLUSIVE" and "sanity probe" in str(case["message"])


@pytest.mark.parametrize("name", REQUIREMENT_FAULTS)
def test_a_fault_fails_exactly_the_requirements_it_violates(name: str, clean: Finished, runs: Path) -> None:
    fault = FAULTS[name]
    run = fault_run(runs, name)
    assert run.status == 1, run.output
    failed = {(case, rid) for case, rid, verdict in run.judged() if verdict == "FAIL"}
    assert {rid for _, rid in failed} >= set(fault.violates), f"{name}: not every violated requirement failed"
    wrongly = sorted((case, rid) for case, rid in failed if not allowed_to_fail(fault, rid))
    assert not wrongly, f"{name} failed requirements it does not violate: {wrongly}"
    before = clean.verdicts()
    for case in run.cases():
        if any(allowed_to_fail(fault, r["id"]) for r in case["requirements"]):
            continue
        if fault.probe_fails and probe_refusal(case):
            continue
        assert case["verdict"] == before[case["id"]], f"{name} changed an unrelated case: {case['id']}"
    assert "ERROR" not in run.verdicts().values(), run.output


@pytest.mark.parametrize("name", BRACKET_FAULTS)
def test_a_target_broken_part_way_never_earns_a_pass_on_a_negative_case(name: str, tmp_path: Path) -> None:
    """Issue: with no after-case control and no probe gate, a refuse-everything EES got 16 PASS."""
    run = run_under(tmp_path, name)
    role = FAULTS[name].role
    negatives = [c for c in run.cases() if c["role"] == role and not c["positive_control"]]
    assert negatives, run.output
    assert run.status in (1, 2), run.output
    passed = [c["id"] for c in negatives if c["verdict"] in ("PASS", "WARN")]
    assert not passed, f"{name}: negative cases passed on a broken target: {passed}"
    for case in negatives:
        if case["verdict"] == "N/A":
            continue
        assert case["verdict"] == "INCONCLUSIVE", case["id"]
        assert any(m in case["message"] for m in CONTROL_MESSAGES), f"{case['id']}: {case['message']}"


def test_the_control_that_failed_is_named(tmp_path: Path) -> None:
    """A target that locks the EEC out after the probe: the after-case control is what failed."""
    (name,) = [n for n in BRACKET_FAULTS if n.startswith("ees.") and "locks-out" in n]
    run = run_under(tmp_path, name)
    messages = [c["message"] for c in run.cases() if c["verdict"] == "INCONCLUSIVE"]
    assert any("positive control after this case FAILED" in m for m in messages), run.output
    refusing = run_under(tmp_path / "refusing", next(n for n in BRACKET_FAULTS if n == "ees.refuses-everything"))
    probe_messages = [c["message"] for c in refusing.cases() if c["verdict"] == "INCONCLUSIVE"]
    assert probe_messages, refusing.output
    assert all("sanity probe" in m for m in probe_messages), refusing.output


def test_every_case_that_passes_on_the_clean_reference_can_fail(clean: Finished, runs: Path) -> None:
    """Each case that is PASS on the clean reference is FAIL under at least one named fault (but the
    measurements of I-level requirements, which are recorded and never failed)."""
    measured = {c["id"] for c in clean.cases() if all(r["level"] == "I" for r in c["requirements"])}
    passing = {case for case, verdict in clean.verdicts().items() if verdict == "PASS"} - measured
    failed: set[str] = set()
    for name in REQUIREMENT_FAULTS:
        failed |= {case for case, verdict in fault_run(runs, name).verdicts().items() if verdict == "FAIL"}
    assert sorted(passing - failed) == [], "cases no fault can fail"


def test_the_fault_catalogue_is_consistent() -> None:
    """Every fault names its server, real requirement IDs of its role, and effects the reference has."""
    from conformance.reference.faults import ecs_behaviour, ees_behaviour

    for fault in FAULTS.values():
        assert fault.name.startswith(f"{fault.role}.")
        assert fault.summary
        assert (fault.kind == "requirement") == bool(fault.violates), fault.name
        for rid in fault.violates:
            assert requirements.lookup(rid).role == fault.role, (fault.name, rid)
        assert all(reason for _, reason in fault.also_breaks), fault.name
        assert fault.effect, f"{fault.name} changes nothing"
        behaviour = ecs_behaviour if fault.role == "ecs" else ees_behaviour
        assert behaviour([fault.name]) != behaviour([]), f"{fault.name} has no effect on the {fault.role}"


def test_fault_names_are_validated() -> None:
    from conformance.reference.faults import parse_faults

    with pytest.raises(ValueError, match=r"ecs\.nope.*known faults: "):
        parse_faults(["ecs.nope"])
    some = REQUIREMENT_FAULTS[0]
    assert parse_faults([f" {some} ", ""]) == {some}
