"""Parallel runs (``conformance run -n N``, pytest-xdist): one run, spread over worker processes.

The controller process is the run: it starts the reference deployment (once), writes the
results, prints the summary and decides the exit status. It runs no case and collects none;
its workers do, each against the same targets:

- :func:`worker_input` is what the controller hands every worker: the target files it loaded
  (the reference deployment's too, so a worker never starts one), the run folder, the start of
  the run (for ``--deadline``) and a folder where the sanity probes are shared, so that each
  runs once per target and transport, as in a serial run (:meth:`ConformanceRun.sanity`);
- a worker attaches every case's record, in plain JSON, to the case's teardown report
  (:func:`ship`), the one pytest-xdist forwards last; at its end it sends what it counted
  (:func:`worker_output`);
- the controller gathers them (:class:`Gathered`, a plugin it registers) and puts the cases back in collection order,
  so ``results.json`` says what a serial run says (only timings and run identifiers differ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.reporting.results import CaseRecord
from conformance.run import ConformanceRun, Options, SanityProbe, shared_probes

KEY = "conformance"
"""The key of this harness's entries in pytest-xdist's ``workerinput`` and ``workeroutput``."""
CASE_ATTRIBUTE = "conformance_case"
PROBE_ATTRIBUTE = "conformance_probe"
CRASHED = "???"
"""The phase of the report pytest-xdist makes up for a case whose worker died (dsession.handle_crashitem)."""


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_input(run: ConformanceRun, probe_dir: Path) -> dict[str, Any]:
    """What a worker needs to join the controller's run (plain types: it crosses a process boundary)."""
    return {
        "out": str(run.options.out) if run.options.out is not None else None,
        "target_files": [str(t.file) for t in run.targets],
        "started": run.started,
        "probe_dir": str(probe_dir),
    }


def attach(config: pytest.Config, options: Options) -> ConformanceRun:
    """The worker's view of its controller's run."""
    given = config.workerinput[KEY]  # type: ignore[attr-defined]
    options.out = Path(given["out"]) if given["out"] is not None else None
    return ConformanceRun.attach(
        options,
        [Path(f) for f in given["target_files"]],
        started=given["started"],
        probe_dir=Path(given["probe_dir"]),
    )


def ship(report: pytest.TestReport, case: CaseRecord, probe: tuple[str, str] | None) -> None:
    """Attach the case's whole record to its last report, in types pytest-xdist can send."""
    setattr(report, CASE_ATTRIBUTE, json.dumps(case.to_wire(), default=str))
    setattr(report, PROBE_ATTRIBUTE, list(probe) if probe is not None else None)


def worker_output(config: pytest.Config, run: ConformanceRun, cited: set[str]) -> None:
    config.workeroutput[KEY] = {  # type: ignore[attr-defined]
        "cited": sorted(cited),
        "connections": run.counter.connections,
        "requests": run.counter.requests,
    }


@dataclass
class Gathered:
    """What the controller receives from its workers."""

    probe_dir: Path
    order: list[str] = field(default_factory=list)
    """Node IDs in collection order (each worker collects the same)."""
    cases: dict[str, tuple[str, tuple[str, str] | None]] = field(default_factory=dict)
    """Node ID -> the last record its worker sent (JSON, read once at the end) and its sanity probe."""
    crashed: list[str] = field(default_factory=list)
    """Cases whose worker died while running them: no verdict, so the run is incomplete."""
    cited: set[str] = field(default_factory=set)
    connections: int = 0
    requests: int = 0

    # hooks: the controller registers its Gathered as a plugin
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.order:
            self.order = list(ids)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == CRASHED:  # what was sent before the crash may be a verdict the case had not earned yet
            self.crashed.append(report.nodeid)
            self.cases.pop(report.nodeid, None)
            return
        wire = getattr(report, CASE_ATTRIBUTE, None)
        if wire is None:
            return
        probe = getattr(report, PROBE_ATTRIBUTE, None)
        self.cases[report.nodeid] = (wire, (probe[0], probe[1]) if probe else None)

    def pytest_testnodedown(self, node: Any, error: object | None) -> None:
        """A worker's counts (none from a worker that crashed: its cases are missing too)."""
        mine = getattr(node, "workeroutput", {}).get(KEY)
        if mine is None:
            return
        self.cited.update(mine["cited"])
        self.connections += mine["connections"]
        self.requests += mine["requests"]

    def sorted_cases(self) -> list[CaseRecord]:
        """The cases as a serial run lists them: in collection order."""
        return [CaseRecord.from_wire(json.loads(wire)) for wire, _ in self._in_order()]

    def probes(self) -> list[SanityProbe]:
        """The sanity probes in the order a serial run would have run them: as first needed."""
        shared = shared_probes(self.probe_dir)
        keys = dict.fromkeys(probe for _, probe in self._in_order() if probe is not None)
        return [shared[key] for key in keys if key in shared]

    def _in_order(self) -> list[tuple[str, tuple[str, str] | None]]:
        index = {nodeid: i for i, nodeid in enumerate(self.order)}
        ids = sorted(self.cases, key=lambda nodeid: (index.get(nodeid, len(index)), nodeid))
        return [self.cases[nodeid] for nodeid in ids]
