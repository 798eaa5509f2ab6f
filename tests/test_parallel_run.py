"""``conformance run -n N`` (pytest-xdist) says exactly what a serial run says.

Same verdict per case, the same results.json apart from timings and what differs between any
two runs (ports, token IDs, certificate serials), the same exit status, one reference deployment
and one sanity probe per target and transport; also with several targets in one invocation.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from run_cli import Finished, conformance

from conformance import parallel
from conformance.errors import Inconclusive
from conformance.reference.deployment import ReferenceDeployment
from conformance.reporting.results import CaseRecord
from conformance.run import ConformanceRun, Options
from conformance.verdicts import RequirementVerdict, Verdict

PORT = re.compile(r"127\.0\.0\.1:\d+")
FULL_RUN_LIMIT = 300.0


def comparable(results: dict[str, Any]) -> dict[str, Any]:
    """results.json without what differs between any two runs of the same suite on the same target:
    timings, the run's start, its reference's ports and files; evidence keeps its kinds, in order."""
    r = copy.deepcopy(results)
    for key in ("started", "finished", "duration_s"):
        del r["run"][key]
    for target in r["targets"]:
        del target["base_url"], target["file"]
    for case in r["cases"]:
        del case["duration_s"]
        case["evidence"] = [e["kind"] for e in case["evidence"]]
        case["reproduce"] = sorted(case["reproduce"])
        case["message"] = PORT.sub("127.0.0.1:PORT", case["message"])
        for requirement in case["requirements"]:
            requirement["message"] = PORT.sub("127.0.0.1:PORT", requirement["message"])
    for probe in r["sanity_probes"]:
        probe["message"] = PORT.sub("127.0.0.1:PORT", probe["message"])
        probe["evidence"] = [e["kind"] for e in probe["evidence"]]
    return r


def assert_same_run(serial: Finished, parallel: Finished) -> None:
    assert parallel.status == serial.status, parallel.output
    assert parallel.verdicts() == serial.verdicts()
    assert [c["id"] for c in parallel.cases()] == [c["id"] for c in serial.cases()]  # collection order
    ours, theirs = comparable(parallel.results()), comparable(serial.results())
    for key in ours:
        assert ours[key] == theirs[key], key
    assert ours == theirs


def run_twice(*args: str | Path, tmp_path: Path, limit: float = 120.0) -> tuple[Finished, Finished]:
    serial = conformance("run", *args, out=tmp_path / "serial", limit=limit)
    parallel = conformance("run", *args, "-n", "2", out=tmp_path / "parallel", limit=limit)
    return serial, parallel


def test_a_parallel_reference_run_says_what_a_serial_one_says(tmp_path: Path) -> None:
    """One test for the full pair of runs: under `pytest -n --dist worksteal` a module fixture
    shared by several tests may be built once per worker."""
    serial, parallel = run_twice("--target", "reference", tmp_path=tmp_path, limit=FULL_RUN_LIMIT)
    assert serial.status == 0, serial.output
    assert_same_run(serial, parallel)
    assert parallel.results()["counts"]["tls_connections"] == serial.results()["counts"]["tls_connections"]
    assert_one_reference_deployment(parallel)
    assert_each_probe_once(serial, parallel)
    assert junit_verdicts(parallel) == junit_verdicts(serial)
    assert set(junit_verdicts(serial).values()) == {"PASS", "N/A"}


def assert_one_reference_deployment(parallel: Finished) -> None:
    """Every case of every worker reached the servers the controller started and declared."""
    results = parallel.results()
    declared = {urlsplit(t["base_url"]).port for t in results["targets"]}
    reached = {urlsplit(e["url"]).port for c in results["cases"] for e in c["evidence"] if e["kind"] == "HttpExchange"}
    assert reached
    assert reached <= declared
    assert [p.name for p in parallel.out.iterdir() if p.is_dir()] == ["reference-target"]  # type: ignore[union-attr]


def assert_each_probe_once(serial: Finished, parallel: Finished) -> None:
    probed = [(p["target"], p["transport"]) for p in parallel.results()["sanity_probes"]]
    assert len(probed) == len(set(probed))
    assert probed == [(p["target"], p["transport"]) for p in serial.results()["sanity_probes"]]
    assert all(p["ok"] for p in parallel.results()["sanity_probes"])


def junit_verdicts(run: Finished) -> dict[str, str]:
    """Test case -> its verdict property, each case once."""
    import xml.etree.ElementTree as ET

    root = ET.parse(run.out / "junit.xml").getroot()  # type: ignore[operator]
    cases = root.findall(".//testcase")
    seen = {f"{c.get('classname')}::{c.get('name')}": c for c in cases}
    assert len(seen) == len(cases)
    verdicts = {name: c.find("properties/property[@name='verdict']") for name, c in seen.items()}
    return {name: v.get("value", "") if v is not None else "" for name, v in verdicts.items()}


def test_a_fault_fails_the_same_cases_in_parallel(tmp_path: Path) -> None:
    serial, parallel = run_twice(
        "--target", "reference", "--fault", "ees.ignores-aud", "--req", "EES-TOK", tmp_path=tmp_path
    )
    assert serial.status == 1, serial.output
    assert parallel.requirements_with("FAIL") == serial.requirements_with("FAIL") == {"EES-TOK-05"}
    assert_same_run(serial, parallel)


def test_a_target_that_serves_an_eec_once_sees_one_probe_in_parallel(tmp_path: Path) -> None:
    """Each worker probing for itself would lock the EEC out before the other worker's probe."""
    fault = "ees.locks-out-after-first-request"
    serial, parallel = run_twice("--target", "reference", "--fault", fault, "--req", "EES-TOK-0", tmp_path=tmp_path)
    assert serial.status == 1, serial.output
    assert_same_run(serial, parallel)


def test_a_run_past_its_deadline_is_inconclusive_in_parallel_too(tmp_path: Path) -> None:
    serial, parallel = run_twice("--target", "reference", "--req", "ECS-GPSI", "--deadline", "0.001", tmp_path=tmp_path)
    assert serial.status == 2, serial.output
    assert set(parallel.verdicts().values()) == {"INCONCLUSIVE"}
    assert_same_run(serial, parallel)


@pytest.fixture
def faulty_reference(tmp_path: Path) -> Iterator[ReferenceDeployment]:
    deployment = ReferenceDeployment.start(tmp_path / "reference", faults=["ees.ignores-aud"])
    yield deployment
    deployment.stop()


def test_two_targets_in_one_invocation_run_side_by_side(faulty_reference: ReferenceDeployment, tmp_path: Path) -> None:
    files = {p.stem: p for p in faulty_reference.target_files}
    targets: list[str | Path] = ["--target", files["reference-ecs"], "--target", files["reference-ees-token"]]
    serial, parallel = run_twice(*targets, "--req", "EES-TOK-05", "--req", "ECS-TOK-01", tmp_path=tmp_path)
    assert serial.status == 1, serial.output
    assert {c["target"] for c in serial.cases()} == {"reference-ecs", "reference-ees-token"}
    assert serial.requirements_with("FAIL") == {"EES-TOK-05"}
    assert_same_run(serial, parallel)


def test_a_declared_jwks_port_is_served_once_for_every_worker(tmp_path: Path) -> None:
    """One port: the controller serves the issuer's key set; a worker serving it too would fail to bind.
    The reference token EES declares its ``jwks_port`` and fetches the harness issuer's keys from it."""
    deployment = ReferenceDeployment.start(tmp_path / "reference")
    try:
        ees_token = next(p for p in deployment.target_files if p.stem == "reference-ees-token")
        assert "jwks_port = " in ees_token.read_text("utf-8")
        serial, parallel = run_twice("--target", ees_token, "--req", "EES-TOK-01", tmp_path=tmp_path)
    finally:
        deployment.stop()
    assert serial.status == 0, serial.output
    assert_same_run(serial, parallel)


@pytest.mark.parametrize(("option", "value"), [("-n", "many"), ("-n", "-1"), ("--dist", "each")])
def test_bad_parallel_options_end_in_one_line(option: str, value: str, tmp_path: Path) -> None:
    run = conformance("run", "--target", "reference", option, value, out=tmp_path / "out")
    assert run.status == 2
    assert len(run.output.strip().splitlines()) == 1, run.output
    assert not (tmp_path / "out").exists()


def a_case(nodeid: str = "ees_6_3/test_x.py::test_y[reference-ees-token]") -> CaseRecord:
    return CaseRecord(
        id=nodeid,
        title="a title",
        target="reference-ees-token",
        role="ees",
        cited=["EES-TOK-05", "EES-RESP-02"],
        requirements=[
            RequirementVerdict("EES-TOK-05", "M", Verdict.FAIL, "wrong aud served"),
            RequirementVerdict("EES-RESP-02", "S", None, deviation="we answer 400", stale=True),
        ],
        phases=[{"phase": "call", "verdicts": "EES-TOK-05=FAIL"}],
        evidence=[{"kind": "Note", "text": "x"}],
        reproduce={"curl": "curl ..."},
        duration_s=0.25,
    )


def test_a_case_record_crosses_to_the_controller_unchanged() -> None:
    case = a_case()
    assert CaseRecord.from_wire(json.loads(json.dumps(case.to_wire()))) == case


def report_of(nodeid: str, when: str) -> pytest.TestReport:
    return pytest.TestReport(nodeid, (nodeid, None, nodeid), {}, "passed", None, when)  # type: ignore[arg-type]


def test_the_controller_keeps_collection_order_and_the_last_record_of_each_case(tmp_path: Path) -> None:
    gathered = parallel.Gathered(tmp_path)
    gathered.pytest_xdist_node_collection_finished(None, ["a::first", "a::second", "a::third"])
    sent = [("a::third", "call"), ("a::first", "call"), ("a::first", "teardown"), ("a::third", "teardown")]
    for nodeid, when in sent:
        report = report_of(nodeid, when)
        case = a_case(nodeid)
        case.phases = [{"phase": when, "verdicts": ""}]
        parallel.ship(report, case, ("reference-ees-token", "2"))
        gathered.pytest_runtest_logreport(report)
    cases = gathered.sorted_cases()
    assert [c.id for c in cases] == ["a::first", "a::third"]
    assert [c.phases[0]["phase"] for c in cases] == ["teardown", "teardown"]


def test_a_case_whose_worker_crashed_has_no_verdict(tmp_path: Path) -> None:
    """What its worker sent before dying may be a PASS the positive control after it had not yet earned."""
    gathered = parallel.Gathered(tmp_path)
    report = report_of("a::first", "call")
    parallel.ship(report, a_case("a::first"), None)
    gathered.pytest_runtest_logreport(report)
    gathered.pytest_runtest_logreport(report_of("a::first", parallel.CRASHED))
    assert gathered.sorted_cases() == []
    assert gathered.crashed == ["a::first"]


def test_a_worker_keeps_the_controllers_deadline(tmp_path: Path) -> None:
    """A worker's deadline counts from the start of the run, not from its own start."""
    run = ConformanceRun.attach(
        Options(targets=[], deadline=10.0), [], started=time.monotonic() - 11, probe_dir=tmp_path
    )
    with pytest.raises(Inconclusive, match="run deadline of 10 s reached"):
        run.check_deadline()
