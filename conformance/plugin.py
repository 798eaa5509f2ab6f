"""The pytest plugin: targets, requirement markers, verdicts, results.

Registered through the ``pytest11`` entry point, so ``pytest suites --target FILE`` and
``conformance run`` are the same thing. Inert unless ``--target`` is given.

A case is judged per requirement it cites (:func:`conformance.verdicts.judge`); its pytest
outcome is the worst of those: PASS and WARN pass, FAIL fails, N/A skips (with the reason),
INCONCLUSIVE and ERROR are errors. The exit status is the harness's own: 0 nothing applicable
failed, 1 at least one FAIL, 2 no FAIL but ERROR/INCONCLUSIVE or no run.

Markers a suite uses::

    @pytest.mark.req("EES-TOK-05", "EES-RESP-02")   # what the case judges: its outcome, and the refusal's shape
    @pytest.mark.req("EES-TOK-09", level="S")         # a part the catalogue grades S ("a token without sub: S")
    @pytest.mark.needs("token-authorization")         # N/A, before any probe, when the declaration lacks it
    @pytest.mark.every_transport                      # one variant per declared HTTP version (TLS cases)
    @pytest.mark.positive_control                     # the case is itself the positive control
    @pytest.mark.own_control                          # the case brings its own control on its own transport
"""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import parallel, requirements
from conformance.errors import ConfigError, HarnessError, Inconclusive, NotApplicable
from conformance.evidence import EvidenceLog, Note
from conformance.reporting.reproduce import reproduce_block
from conformance.reporting.results import CaseRecord, RunRecord, summary_lines
from conformance.requirements import LEVELS, Level
from conformance.run import ConformanceRun, Options
from conformance.run_folders import fresh_folder, run_name
from conformance.targets.model import HttpVersion, Role, TargetConfig
from conformance.under_test import (
    CAPABILITIES,
    CONTROL_STATUS,
    EcsUnderTest,
    EesUnderTest,
    TargetUnderTest,
    not_applicable_because,
    positive_control,
)
from conformance.verdicts import Verdict, judge

RUN = pytest.StashKey[ConformanceRun]()
RECORD = pytest.StashKey[RunRecord]()
EVIDENCE = pytest.StashKey[EvidenceLog]()
CASE = pytest.StashKey[CaseRecord]()
STARTED = pytest.StashKey[float]()
WRITTEN = pytest.StashKey[list[Path]]()
PROGRESS = pytest.StashKey[dict[str, Any]]()
PROBED = pytest.StashKey[tuple[str, str]]()
"""The (target, transport) of the sanity probe a case relied on."""
CITED = pytest.StashKey[set[str]]()
GATHERED = pytest.StashKey[parallel.Gathered]()
"""On the controller of a parallel run (``-n N``): what its workers sent."""
ROLES: tuple[Role, ...] = ("ecs", "ees")
CONTROL_AFTER = "the positive control after this case"

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
        "--case",
        action="append",
        default=[],
        metavar="NAME",
        help="run only the cases whose name contains NAME, e.g. 'test_refuses_unsigned_token[reference-ees-token]'",
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
    config.addinivalue_line("markers", "req(*ids): requirement IDs a conformance test judges, e.g. req('ECS-TLS-01')")
    config.addinivalue_line("markers", "positive_control: the case IS the positive control of its target")
    config.addinivalue_line("markers", f"needs(*capabilities): N/A unless the target declares them: {CAPABILITIES}")
    config.addinivalue_line("markers", "every_transport: one variant per HTTP version the target declares")
    config.addinivalue_line(
        "markers",
        "judges_server_certificate: the case judges the server certificate from its own handshakes; it still "
        "runs when the sanity probe could not verify that certificate",
    )
    config.addinivalue_line(
        "markers", "own_control: the case brings its own positive control (no sanity probe, no control after it)"
    )
    targets = config.getoption("target")
    if not targets:
        return
    options = Options(
        targets=targets,
        faults=config.getoption("fault"),
        requirement_prefixes=config.getoption("req"),
        strict=config.getoption("conformance_strict"),
        deadline=config.getoption("deadline"),
    )
    if parallel.is_worker(config):  # the controller started the run (and the reference): join it
        config.stash[RUN] = parallel.attach(config, options)
        return
    try:  # `pytest suites --target FILE` writes its reports where `conformance run` would
        out = config.getoption("out") or str(fresh_folder(Path("reports") / run_name(targets)))
        options.out = Path(out)
        run = ConformanceRun.start(options)
    except (ConfigError, HarnessError, ValueError) as exc:
        pytest.exit(f"conformance: {exc}", returncode=2)
    config.stash[RUN] = run
    config.stash[STARTED] = time.monotonic()
    config.stash[PROGRESS] = {"clause": None, "done": 0, "failed": 0}
    config.stash[RECORD] = RunRecord(
        targets=[_describe(t) for t in run.targets],
        options=_options_json(options),
        command=_command(options),
        strict=options.strict,
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is not None:
        run.close()
    gathered = config.stash.get(GATHERED, None)
    if gathered is not None:
        shutil.rmtree(gathered.probe_dir, ignore_errors=True)


# parallel runs (pytest-xdist; these hooks exist only with it, hence optionalhook) ----------
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """On the controller, for each worker it starts: the run to join (conformance/parallel.py)."""
    config: pytest.Config = node.config
    run = config.stash.get(RUN, None)
    if run is None:
        return
    if GATHERED not in config.stash:
        config.stash[GATHERED] = parallel.Gathered(Path(tempfile.mkdtemp(prefix="conformance-probes-")))
        config.pluginmanager.register(config.stash[GATHERED], "conformance-gathered")
        for target in run.targets:  # a declared jwks_port is one port: the controller serves it for all
            if target.trusted_issuer is not None and target.trusted_issuer.jwks_port is not None:
                run.peers_for(target)
    node.workerinput[parallel.KEY] = parallel.worker_input(run, config.stash[GATHERED].probe_dir)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One instance of each conformance test per declared target of its role (and per transport)."""
    if metafunc.definition.get_closest_marker("req") is None:
        return
    run = metafunc.config.stash.get(RUN, None)
    every_transport = metafunc.definition.get_closest_marker("every_transport") is not None
    for role in ROLES:
        if role not in metafunc.fixturenames:
            continue
        targets = run.targets_for(role) if run else []
        if every_transport:
            pairs = [pytest.param(t, v, id=f"{t.name}-http{v}") for t in targets for v in t.http_versions]
            metafunc.parametrize([role, "transport"], pairs or [pytest.param(None, None, id=role)], indirect=True)
        else:
            params = [pytest.param(t, id=t.name) for t in targets] or [pytest.param(None, id=role)]
            metafunc.parametrize(role, params, indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    prefixes, names = config.getoption("req"), config.getoption("case")
    run = config.stash.get(RUN, None)
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    cited: set[str] = set()
    for item in items:
        ids = requirement_ids(item)
        if not ids:
            keep.append(item)
            continue
        _validate_markers(item, ids)
        cited.update(ids)
        if run is None and not config.option.collectonly:
            raise pytest.UsageError("conformance tests need a target: --target FILE or --target reference")
        targeted = _target_of(item) is not None
        selected = requirements.matches(ids, prefixes) and (targeted or run is None)
        selected = selected and (not names or any(name in item.nodeid for name in names))
        (keep if selected else drop).append(item)
    config.stash[CITED] = cited
    if RECORD in config.stash:
        config.stash[RECORD].cited_by_suites = cited
    if config.pluginmanager.hasplugin("allure_pytest"):
        for item in keep:
            _allure_labels(item)
    if run is not None and (prefixes or names) and not any(requirement_ids(i) for i in keep):
        wanted = " ".join([*(f"--req {p}" for p in prefixes), *(f"--case {n}" for n in names)])
        raise pytest.UsageError(f"{wanted}: selects no conformance case (see `conformance list`)")
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


SPEC_URL = "https://www.3gpp.org/DynaReport/33558.htm"


def _allure_labels(item: pytest.Item) -> None:
    """allure-pytest's own markers: epic, feature, story = specification, clause, requirement."""
    ids = requirement_ids(item)
    if not ids:
        return
    clause = requirements.lookup(ids[0]).clause
    item.add_marker(pytest.mark.allure_label("TS 33.558", label_type="epic"))
    item.add_marker(pytest.mark.allure_label(f"clause {clause}", label_type="feature"))
    item.add_marker(pytest.mark.allure_label(*ids, label_type="story"))
    item.add_marker(pytest.mark.allure_link(SPEC_URL, name=f"TS 33.558 clause {clause}", link_type="link"))


def _attach_evidence(request: pytest.FixtureRequest, evidence: EvidenceLog) -> None:
    """With ``--alluredir``: the case's evidence and the tokens it saw, as Allure attachments."""
    # allure_pytest is loaded whenever installed; its listener only with --alluredir. Without
    # one, serialising every case's evidence for attachments nobody writes cost ~0.3 ms/case.
    if not request.config.pluginmanager.hasplugin("allure_listener"):
        return
    import json

    import allure

    records = evidence.to_list()
    allure.attach(json.dumps(records, indent=1), "evidence", allure.attachment_type.JSON)
    tokens = [r for r in records if r["kind"] == "TokenFacts"]
    if tokens:
        allure.attach(json.dumps(tokens, indent=1), "decoded tokens", allure.attachment_type.JSON)


def _validate_markers(item: pytest.Item, ids: list[str]) -> None:
    for rid in ids:
        try:
            requirements.lookup(rid)
        except KeyError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
    for level in (m.kwargs.get("level") for m in item.iter_markers("req")):
        if level is not None and level not in LEVELS:
            raise pytest.UsageError(f"{item.nodeid}: req(level={level!r}): use one of {', '.join(LEVELS)}")
    for name in needs(item):
        if name not in CAPABILITIES:
            raise pytest.UsageError(f"{item.nodeid}: needs({name!r}): unknown, use one of {', '.join(CAPABILITIES)}")


def _judged_level(item: pytest.Item) -> Level | None:
    """``@pytest.mark.req("EES-TOK-09", level="S")``: the part of the requirement the catalogue grades S."""
    levels = [mark.kwargs["level"] for mark in item.iter_markers("req") if "level" in mark.kwargs]
    return levels[0] if levels else None


def requirement_ids(item: pytest.Item) -> list[str]:
    return [rid for mark in item.iter_markers("req") for rid in mark.args]


def needs(item: pytest.Item) -> list[str]:
    return [name for mark in item.iter_markers("needs") for name in mark.args]


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
def transport(request: pytest.FixtureRequest) -> HttpVersion | None:
    """The HTTP version this case speaks (``every_transport`` cases); ``None``: the target's preferred."""
    value: HttpVersion | None = getattr(request, "param", None)
    return value


@pytest.fixture
def ecs(request: pytest.FixtureRequest, evidence: EvidenceLog, transport: HttpVersion | None) -> Iterator[EcsUnderTest]:
    """The ECS under test (one test instance per declared ECS target)."""
    yield from _bracketed(request, evidence, transport)


@pytest.fixture
def ees(request: pytest.FixtureRequest, evidence: EvidenceLog, transport: HttpVersion | None) -> Iterator[EesUnderTest]:
    """The EES under test (one test instance per declared EES target)."""
    yield from _bracketed(request, evidence, transport)


def _bracketed(request: pytest.FixtureRequest, evidence: EvidenceLog, transport: HttpVersion | None) -> Iterator[Any]:
    """Applicability, then the sanity probe before the case; for a negative case that reached a
    verdict, the positive control after it, over the same transport."""
    run = request.config.stash.get(RUN, None)
    config: TargetConfig | None = getattr(request, "param", None)
    if run is None or config is None:
        raise HarnessError("no target: run with --target FILE or --target reference")
    reason = not_applicable_because(config, needs(request.node))
    if reason is not None:
        raise NotApplicable(reason)
    run.check_deadline()
    target = run.under_test(config, evidence, transport)
    is_control = request.node.get_closest_marker("positive_control") is not None
    probe_reachable = True
    if request.node.get_closest_marker("own_control") is None:
        request.node.stash[PROBED] = (config.name, target.transport)
        judges_certificate = request.node.get_closest_marker("judges_server_certificate") is not None
        probe = run.require_sane(config, target.transport, is_control=is_control, judges_certificate=judges_certificate)
        probe_reachable = probe.reachable
        evidence.add(Note("sanity probe", probe.message))
    else:  # its control speaks another transport (ECS-TLS-07: the declared PSK), judged by the case itself
        is_control = True
        evidence.add(Note("sanity probe", "not run: this case brings its own positive control"))
    yield target
    case = request.node.stash.get(CASE, None)
    try:
        # No control can succeed after a probe whose server certificate was rejected: the case
        # judged that certificate from its own handshakes, which needs no working service.
        if probe_reachable and not is_control and case is not None and case.judged_the_target():
            _control_after(target)
    finally:
        _attach_evidence(request, evidence)


def _control_after(target: TargetUnderTest) -> None:
    exchange = positive_control(target, label="positive control after the case")
    if exchange.status != CONTROL_STATUS[target.config.role]:
        raise Inconclusive(
            f"{CONTROL_AFTER} FAILED over HTTP/{target.transport} ({exchange.summary()}): "
            "the target no longer serves the authorized EEC, so what the case saw may not have been "
            "caused by what it presented"
        )


# progress ---------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
    """A progress line whenever the run moves on to another clause: where it is, how far, what failed."""
    progress = item.config.stash.get(PROGRESS, None)  # none in a worker: its controller prints
    target = _target_of(item)
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    if progress is not None and target is not None and reporter is not None:
        clause = {"ecs": "6.2 (ECS)", "ees": "6.3 (EES)"}[target.role]
        if clause != progress["clause"]:
            progress["clause"] = clause
            done, total = progress["done"], len(item.session.items)
            reporter.write_line("")
            reporter.write_line(f"clause {clause}: case {done + 1} of {total}, {progress['failed']} FAIL so far")
    try:
        return (yield)
    finally:
        if progress is not None:
            progress["done"] += 1
            case = item.stash.get(CASE, None)
            progress["failed"] += int(case is not None and case.verdict == Verdict.FAIL)


# verdicts ---------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report: pytest.TestReport = yield
    if RUN not in item.config.stash or not requirement_ids(item):
        return report
    exc = call.excinfo.value if call.excinfo else None
    if call.when == "call" or exc is not None:
        _judge(item, call, report, exc)
    if parallel.is_worker(item.config) and CASE in item.stash:  # the last one sent wins: teardown's, unless interrupted
        parallel.ship(report, _finished(item), item.stash.get(PROBED, None))
    return report


def _judge(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport, exc: BaseException | None
) -> None:
    """Fold the verdicts of this phase into the case's record, and show its verdict on the report."""
    case = _case(item)
    if isinstance(exc, pytest.skip.Exception):
        exc = NotApplicable(str(getattr(exc, "msg", exc)))
    run = item.config.stash[RUN]
    target = _target_of(item)
    judged = judge(
        exc,
        case.cited,
        role=case.role,
        strict=run.options.strict,
        deviations=target.deviation_reasons() if target else {},
        outcome_level=_judged_level(item),
    )
    for verdict in judged:
        if verdict.verdict in (Verdict.FAIL, Verdict.WARN) and not verdict.deviation:
            verdict.message = _explained(verdict.id, verdict.message, run.options, target, case)
        elif verdict.verdict == Verdict.ERROR and not isinstance(exc, HarnessError):
            verdict.message = f"{verdict.message}\n{report.longreprtext}"  # a harness bug: keep the traceback
    case.fold(call.when, judged)
    case.duration_s += report.duration
    _apply(report, item, case)


def _finished(item: pytest.Item) -> CaseRecord:
    """The case's record with its evidence so far and how to reproduce it."""
    case = item.stash[CASE]
    if EVIDENCE in item.stash:
        run = item.config.stash[RUN]
        case.evidence = item.stash[EVIDENCE].to_list()
        case.reproduce = reproduce_block(_reproduce_command(run.options, _target_of(item), case), case.evidence)
    return case


def _explained(rid: str, message: str, options: Options, target: TargetConfig | None, case: CaseRecord) -> str:
    """What the spec wants, what the target did, how to reproduce."""
    requirement = requirements.lookup(rid)
    reproduce = f"  reproduce: {_reproduce_command(options, target, case)}"
    return f"{rid} ({requirement.level}): {requirement.text}\n{message}\n{reproduce}"


def _reproduce_command(options: Options, target: TargetConfig | None, case: CaseRecord) -> str:
    """The command that runs this case again, alone."""
    reference = target is not None and target.name.startswith("reference-") and "reference" in options.targets
    where = "reference" if reference or target is None else str(target.file)
    faults = "".join(f" --fault {f}" for f in options.faults)
    name = shlex.quote(case.id.rsplit("::", 1)[-1])
    return f"conformance run --target {where}{faults} --req {case.cited[0]} --case {name}"


def _apply(report: pytest.TestReport, item: pytest.Item, case: CaseRecord) -> None:
    verdict = case.verdict
    report.conformance_verdict = verdict.value  # type: ignore[attr-defined]  # a str: it crosses to xdist's controller
    # JUnit writes the teardown report's properties, which pytest copies from the item.
    item.user_properties[:] = [
        *[(k, v) for k, v in item.user_properties if k not in ("requirement", "verdict")],
        ("verdict", verdict.value),
        *[("requirement", f"{r.id} ({r.level}): {r.verdict or 'not judged'}") for r in case.requirements],
    ]
    report.user_properties = list(item.user_properties)
    message = case.message
    if verdict in (Verdict.PASS, Verdict.WARN):
        report.outcome = "passed"
        report.longrepr = None
    elif verdict == Verdict.NA:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"N/A: {message.splitlines()[0]}")
    else:
        report.outcome = "failed"
        report.longrepr = f"{verdict.value}: {message}"
        if verdict != Verdict.FAIL and report.when == "call":
            report.when = "setup"  # JUnit and the terminal then count it as an error, not a target failure


def _case(item: pytest.Item) -> CaseRecord:
    if CASE not in item.stash:
        target = _target_of(item)
        item.stash[CASE] = CaseRecord(
            id=item.nodeid,
            title=case_title(item),
            target=target.name if target else "",
            role=target.role if target else "",
            cited=requirement_ids(item),
            positive_control=item.get_closest_marker("positive_control") is not None,
        )
    return item.stash[CASE]


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    verdict = getattr(report, "conformance_verdict", None)
    return _STATUS[Verdict(verdict)] if verdict is not None else None


# end of run -------------------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    run = config.stash.get(RUN, None)
    if run is not None and parallel.is_worker(config):  # the controller writes the results
        parallel.worker_output(config, run, config.stash.get(CITED, set()))
        return
    record = config.stash.get(RECORD, None)
    if record is None or run is None:
        return
    gathered = config.stash.get(GATHERED, None)
    if gathered is None:
        record.cases = [_finished(item) for item in session.items if CASE in item.stash]
        probes = run.probes()
        record.tls_connections = run.counter.connections
        record.http_requests = run.counter.requests
    else:
        record.cases = gathered.sorted_cases()
        record.cited_by_suites = gathered.cited
        probes = gathered.probes()
        record.tls_connections = run.counter.connections + gathered.connections
        record.http_requests = run.counter.requests + gathered.requests
    record.sanity = [p.to_json() for p in probes]
    record.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    for nodeid in gathered.crashed if gathered is not None else []:
        record.interrupted = True  # results.json: "interrupted", the results cover only the cases that ran
        sys.stderr.write(f"conformance: a worker crashed while running {nodeid}: that case has no verdict\n")
    record.mark_stale_deviations()
    record.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record.duration_s = time.monotonic() - session.config.stash[STARTED]
    failed_to_write = False
    if run.options.out is not None:
        try:
            session.config.stash[WRITTEN] = record.write(run.options.out)
        except (OSError, ValueError) as exc:  # results.json is written first: the verdicts are kept
            failed_to_write = True
            session.config.stash[WRITTEN] = [run.options.out / "results.json"]
            sys.stderr.write(f"conformance: a report was not written: {exc}\n")
    if exitstatus in (0, 1) and not record.interrupted and not failed_to_write:
        session.exitstatus = record.exit_status()
    else:
        session.exitstatus = 2


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    record = config.stash.get(RECORD, None)
    run = config.stash.get(RUN, None)
    if record is None or run is None:
        return
    terminalreporter.section("TS 33.558 conformance verdicts")
    for probe in record.sanity:
        if not probe["reachable"]:
            terminalreporter.write_line(f"!! {probe['message']}", red=True, bold=True)
    if record.interrupted:
        terminalreporter.write_line("!! the run was interrupted: the results cover only the cases that ran", red=True)
    for line in summary_lines(record):
        terminalreporter.write_line(line)
    written: list[Path] = [*config.stash.get(WRITTEN, [])]
    junit = config.option.xmlpath
    if junit:
        written.append(Path(junit))
    for path in written:
        terminalreporter.write_line(f"wrote {path.resolve()}")


def _describe(target: TargetConfig) -> dict[str, Any]:
    return {
        "name": target.name,
        "role": target.role,
        "file": str(target.file),
        "base_url": target.base_url,
        "fqdn": target.fqdn,
        "client_auth": target.client_auth,
        "authorization": target.authorization,
        "http_versions": list(target.http_versions),
        "deviations": [{"requirement": d.requirement, "reason": d.reason, "stale": False} for d in target.deviations],
    }


def _options_json(options: Options) -> dict[str, Any]:
    return {
        "targets": options.targets,
        "faults": options.faults,
        "req": options.requirement_prefixes,
        "strict": options.strict,
        "deadline_s": options.deadline,
    }


def _command(options: Options) -> str:
    words = ["conformance", "run", *(f"--target {t}" for t in options.targets)]
    words += [*(f"--fault {f}" for f in options.faults), *(f"--req {r}" for r in options.requirement_prefixes)]
    return " ".join(words + (["--strict"] if options.strict else []))
