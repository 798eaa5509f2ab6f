"""The pytest plugin: targets, requirement markers, verdicts, results.

Registered through the ``pytest11`` entry point, so ``pytest suites --target FILE`` and
``conformance run`` are the same thing. Inert unless ``--target`` is given.

Verdicts map onto pytest outcomes: PASS and WARN pass, FAIL fails, N/A skips (with the
reason), INCONCLUSIVE and ERROR are errors. The exit status is the harness's own:
0 nothing applicable failed, 1 at least one FAIL, 2 no FAIL but ERROR/INCONCLUSIVE or no run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import requirements
from conformance.errors import CheckFailed, ConfigError, HarnessError, Inconclusive, NotApplicable
from conformance.evidence import EvidenceLog, Note
from conformance.peers.eec import connections_made
from conformance.reporting.results import CaseRecord, RunRecord, summary_lines
from conformance.run import ConformanceRun, Options
from conformance.targets.model import Role, TargetConfig
from conformance.targets.under_test import (
    CONTROL_STATUS,
    EcsUnderTest,
    EesUnderTest,
    TargetUnderTest,
    positive_control,
)
from conformance.verdicts import Verdict, decide

RUN = pytest.StashKey[ConformanceRun]()
RECORD = pytest.StashKey[RunRecord]()
EVIDENCE = pytest.StashKey[EvidenceLog]()
CASE = pytest.StashKey[CaseRecord]()
ROLES: tuple[Role, ...] = ("ecs", "ees")

_STATUS = {
    Verdict.PASS: ("passed", ".", "PASS"),
    Verdict.WARN: ("warn", "W", "WARN"),
    Verdict.FAIL: ("failed", "F", "FAIL"),
    Verdict.NA: ("n/a", "N", "N/A"),
    Verdict.INCONCLUSIVE: ("inconclusive", "I", "INCONCLUSIVE"),
    Verdict.ERROR: ("error", "E", "ERROR"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "TS 33.558 6.2/6.3 conformance")
    group.addoption(
        "--target",
        action="append",
        default=[],
        metavar="FILE|reference",
        help="target declaration (TOML); 'reference' starts the embedded reference ECS and EESes",
    )
    group.addoption(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="switch on a named fault in the reference target (see `conformance reference faults`)",
    )
    group.addoption(
        "--req",
        action="append",
        default=[],
        metavar="ID_PREFIX",
        help="run only tests citing a requirement ID starting with this (e.g. EES-TOK, ECS-TLS-02)",
    )
    group.addoption(
        "--conformance-strict",
        action="store_true",
        help="WARN (a best-practice level requirement violated) becomes FAIL; `conformance run --strict`",
    )
    group.addoption("--out", default=None, metavar="DIR", help="write results.json into DIR")
    group.addoption(
        "--deadline",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="cases not started within this many seconds of the run are INCONCLUSIVE",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "req(*ids): requirement IDs a conformance test checks, e.g. req('ECS-TLS-01')")
    config.addinivalue_line("markers", "positive_control: the case IS the positive control of its target")
    targets = config.getoption("target")
    if not targets:
        return
    out = config.getoption("out")
    options = Options(
        targets=targets,
        faults=config.getoption("fault"),
        requirement_prefixes=config.getoption("req"),
        strict=config.getoption("conformance_strict"),
        out=Path(out) if out else None,
        deadline=config.getoption("deadline"),
    )
    try:
        run = ConformanceRun.start(options)
    except (ConfigError, HarnessError, ValueError) as exc:
        pytest.exit(f"conformance: {exc}", returncode=2)
    config.stash[RUN] = run
    config.stash[RECORD] = RunRecord(targets=[_describe(t) for t in run.targets], options=_options_json(options))


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        run.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One instance of each conformance test (``req`` marker) per declared target of its role."""
    if metafunc.definition.get_closest_marker("req") is None:
        return
    run = metafunc.config.stash.get(RUN, None)
    for role in ROLES:
        if role in metafunc.fixturenames:
            targets = run.targets_for(role) if run else []
            params = [pytest.param(t, id=t.name) for t in targets] or [pytest.param(None, id=f"{role}")]
            metafunc.parametrize(role, params, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    prefixes = config.getoption("req")
    run = config.stash.get(RUN, None)
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        ids = requirement_ids(item)
        if not ids:
            keep.append(item)
            continue
        for rid in ids:
            try:
                requirements.lookup(rid)
            except KeyError as exc:
                raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
        if run is None and not config.option.collectonly:
            raise pytest.UsageError("conformance tests need a target: --target FILE or --target reference")
        targeted = _target_of(item) is not None
        selected = requirements.matches(ids, prefixes) and (targeted or run is None)
        (keep if selected else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def requirement_ids(item: pytest.Item) -> list[str]:
    return [rid for mark in item.iter_markers("req") for rid in mark.args]


def case_title(item: pytest.Item) -> str:
    """The first line of the test's docstring (its test purpose), or its name."""
    doc = (getattr(getattr(item, "function", None), "__doc__", "") or "").strip()
    return doc.splitlines()[0] if doc else item.name


def _target_of(item: pytest.Item) -> TargetConfig | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    return next((callspec.params[r] for r in ROLES if callspec.params.get(r) is not None), None)


# fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> EvidenceLog:
    """The evidence log of this test; peers write into it, reports read from it."""
    log = EvidenceLog()
    request.node.stash[EVIDENCE] = log
    return log


@pytest.fixture
def ecs(request: pytest.FixtureRequest, evidence: EvidenceLog) -> Iterator[EcsUnderTest]:
    """The ECS under test (one test instance per declared ECS target)."""
    yield from _bracketed(request, evidence)


@pytest.fixture
def ees(request: pytest.FixtureRequest, evidence: EvidenceLog) -> Iterator[EesUnderTest]:
    """The EES under test (one test instance per declared EES target)."""
    yield from _bracketed(request, evidence)


def _bracketed(request: pytest.FixtureRequest, evidence: EvidenceLog) -> Iterator[Any]:
    """Sanity probe before the case; for a negative case that passed, the positive control after it."""
    run = request.config.stash.get(RUN, None)
    config: TargetConfig | None = getattr(request, "param", None)
    if run is None or config is None:
        raise HarnessError("no target: run with --target FILE or --target reference")
    run.check_deadline()
    is_control = request.node.get_closest_marker("positive_control") is not None
    probe = run.require_sane(config, is_control=is_control)
    evidence.add(Note("sanity probe", probe.message))
    target = run.under_test(config, evidence)
    yield target
    case = request.node.stash.get(CASE, None)
    if not is_control and case is not None and case.verdict == Verdict.PASS:
        _control_after(target)


def _control_after(target: TargetUnderTest) -> None:
    exchange = positive_control(target)
    if exchange.status != CONTROL_STATUS[target.config.role]:
        raise Inconclusive(
            f"the positive control failed after this case ({exchange.summary()}): "
            "the refusal may not have been caused by what the case presented"
        )


# verdicts ---------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    if RUN not in item.config.stash or not requirement_ids(item):
        return report
    exc = call.excinfo.value if call.excinfo else None
    if call.when != "call" and exc is None:
        return report
    case = _case(item)
    if isinstance(exc, pytest.skip.Exception):
        exc = _na_from_skip(exc)
    verdict, message = _judge(item, case, exc)
    if verdict == Verdict.ERROR and not isinstance(exc, HarnessError):
        message = f"{message}\n{report.longreprtext}"  # a harness bug: keep the traceback as evidence
    case.add(call.when, verdict, message)
    case.duration_s += report.duration
    _apply(report, item, verdict, message, exc)
    return report


def _judge(item: pytest.Item, case: CaseRecord, exc: BaseException | None) -> tuple[Verdict, str]:
    run = item.config.stash[RUN]
    target = _target_of(item)
    deviations = [d for d in (target.deviation(r) for r in case.requirements) if d] if target else []
    deviation = deviations[0] if deviations else None
    if isinstance(exc, CheckFailed):
        exc.requirement = exc.requirement or "\n".join(_spec_lines(case.requirements))
        exc.hints.append(f"reproduce: {_reproduce(run.options, target, case)}")
    verdict = decide(
        exc,
        level=case.level,
        strict=run.options.strict,
        deviation_reason=deviation.reason if deviation else None,
    )
    if exc is None:
        return verdict, ""
    message = str(exc) if isinstance(exc, CheckFailed | HarnessError | Inconclusive) else f"{type(exc).__name__}: {exc}"
    if deviation and isinstance(exc, CheckFailed):
        message = f"declared deviation ({deviation.reason}); observed: {message}"
    elif isinstance(exc, CheckFailed) and verdict in (Verdict.WARN, Verdict.PASS):
        message = f"{case.level}-level requirement not met (recorded): {message}"
    return verdict, message


def _spec_lines(ids: list[str]) -> list[str]:
    """What the spec wants, from the catalogue: ``ID (level): requirement``."""
    return [f"{r.id} ({r.level}): {r.text}" for r in map(requirements.lookup, ids)]


def _reproduce(options: Options, target: TargetConfig | None, case: CaseRecord) -> str:
    """The command that runs this case again, alone."""
    reference = target is not None and target.name.startswith("reference-") and "reference" in options.targets
    where = "reference" if reference or target is None else str(target.file)
    faults = "".join(f" --fault {f}" for f in options.faults)
    return f"conformance run --target {where}{faults} --req {case.requirements[0]}"


def _apply(report: pytest.TestReport, item: pytest.Item, verdict: Verdict, message: str, exc: object) -> None:
    report.conformance_verdict = verdict  # type: ignore[attr-defined]
    if verdict in (Verdict.PASS, Verdict.WARN):
        report.outcome = "passed"
        report.longrepr = None
    elif verdict == Verdict.NA:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"N/A: {message}")
    else:
        report.outcome = "failed"
        if isinstance(exc, CheckFailed | HarnessError | Inconclusive):
            report.longrepr = f"{verdict.value}: {message}"
        if verdict != Verdict.FAIL and report.when == "call":
            report.when = "setup"  # JUnit and the terminal then count it as an error, not a target failure


def _na_from_skip(exc: BaseException) -> BaseException:
    return NotApplicable(str(getattr(exc, "msg", exc)))


def _case(item: pytest.Item) -> CaseRecord:
    if CASE not in item.stash:
        ids = requirement_ids(item)
        target = _target_of(item)
        item.stash[CASE] = CaseRecord(
            id=item.nodeid,
            title=case_title(item),
            requirements=ids,
            role=target.role if target else "",
            target=target.name if target else "",
            level=requirements.strongest_level(ids),
        )
    return item.stash[CASE]


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    verdict = getattr(report, "conformance_verdict", None)
    return _STATUS[verdict] if verdict is not None else None


# end of run -------------------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    record = session.config.stash.get(RECORD, None)
    run = session.config.stash.get(RUN, None)
    if record is None or run is None:
        return
    record.cases = [item.stash[CASE] for item in session.items if CASE in item.stash]
    for item in session.items:
        if CASE in item.stash and EVIDENCE in item.stash:
            item.stash[CASE].evidence = item.stash[EVIDENCE].to_list()
    record.sanity = [
        {
            "target": p.target,
            "reachable": p.reachable,
            "ok": p.ok,
            "message": p.message,
            "evidence": p.evidence.to_list(),
        }
        for p in run.probes()
    ]
    record.tls_connections = connections_made()
    record.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if run.options.out is not None:
        record.write(run.options.out)
    if exitstatus in (0, 1):
        session.exitstatus = record.exit_status()
    else:
        session.exitstatus = 2


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    record = config.stash.get(RECORD, None)
    run = config.stash.get(RUN, None)
    if record is None or run is None:
        return
    terminalreporter.section("TS 33.558 conformance verdicts")
    for probe in run.probes():
        if not probe.reachable:
            terminalreporter.write_line(f"!! {probe.message}", red=True, bold=True)
    for line in summary_lines(record):
        terminalreporter.write_line(line)
    if run.options.out is not None:
        terminalreporter.write_line(f"results: {run.options.out / 'results.json'}")


def _describe(target: TargetConfig) -> dict[str, Any]:
    return {
        "name": target.name,
        "role": target.role,
        "file": str(target.file),
        "base_url": target.base_url,
        "fqdn": target.fqdn,
        "client_auth": target.client_auth,
        "authorization": target.authorization,
    }


def _options_json(options: Options) -> dict[str, Any]:
    return {
        "targets": options.targets,
        "faults": options.faults,
        "req": options.requirement_prefixes,
        "strict": options.strict,
        "deadline_s": options.deadline,
    }
