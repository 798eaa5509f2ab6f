"""The ``conformance`` command: a thin layer over ``pytest.main`` and the plugin.

conformance run --target FILE|reference [--fault NAME]... [--req ID_PREFIX]... [--case NAME]... [--out DIR] [--strict]
                [-n N|auto [--dist MODE]]
conformance list [--json]
conformance reference serve [--fault NAME]... [--targets-dir DIR]
conformance reference faults
conformance pki export DIR [--target FILE]
conformance pki serve DIR [--port N] [--issuer NAME]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, NoReturn

import pytest

from conformance import __version__
from conformance.errors import ConfigError
from conformance.run_folders import (
    empty_folder,
    exclusive,
    fresh_folder,
    remove_if_unused,
    run_name,
    writable_folder,
)

EXIT_SETUP = 2

# `import httpx` also imports httpx's own command-line client (rich, click, pygments: about 80 ms,
# a tenth of a one-case run) whenever those are installed, and schemathesis needs them
# (encode/httpx#3547). This process never runs that client; the `httpx` command is unaffected.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# pytest-timeout's thread method dumps the stack of every thread when it fires (hundreds of lines,
# and an INTERNALERROR when that is during setup): a case limit must leave room for a handshake.
CASE_TIMEOUT_SECONDS = (1.0, 3600.0)
DEADLINE_SECONDS = (0.0, 7 * 24 * 3600.0)
DIST_MODES = ("load", "loadscope", "loadfile", "loadgroup", "worksteal")
"""pytest-xdist's modes that run each case once (``each`` would run every case in every worker)."""


def suites_dir() -> Path:
    """Where the suites are: the checkout's ``suites/``, or the installed ``conformance_suites``."""
    import importlib.util

    spec = importlib.util.find_spec("conformance_suites")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "suites"


def run_folder(args: argparse.Namespace) -> Path:
    """Where this run writes: ``--out`` if new or empty, else a new ``reports/<name>/<UTC stamp>-<suffix>``."""
    if args.out is not None:
        return empty_folder(args.out)
    return fresh_folder(Path("reports") / run_name(args.target))


def pytest_args(args: argparse.Namespace, out: Path) -> list[str]:
    """The pytest command line a ``conformance run`` writing into ``out`` stands for."""
    argv = [
        str(suites_dir()),
        "-p",
        "no:cacheprovider",
        # The suites raise, they never assert: rewriting every module of the plugin's distribution
        # costs ~3 s per run. Hypothesis' plugin imports hypothesis at the summary; schemathesis' plugin
        # (it draws the ROB-01 bodies in a child process) would import all of schemathesis at start.
        "--assert=plain",
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:schemathesis",
        "-q",
        "-rN",
        "--tb=no",
        # the CLI imported the package before pytest loaded its entry-point plugin: nothing to rewrite
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        f"--junitxml={out / 'junit.xml'}",
        f"--out={out}",
        "-o",
        "junit_family=xunit2",
        "-o",
        "junit_suite_name=ts33558-conformance",
        f"--deadline={args.deadline}",
        f"--timeout={args.case_timeout}",
    ]
    argv += [f"--target={t}" for t in args.target]
    argv += [f"--fault={f}" for f in args.fault]
    argv += [f"--req={r}" for r in args.req]
    argv += [f"--case={c}" for c in args.case]
    if args.strict:
        argv.append("--conformance-strict")
    # Plugins a run does not use are not loaded: each costs tens of milliseconds of imports.
    if args.alluredir is not None:
        argv.append(f"--alluredir={args.alluredir}")
    else:
        argv += ["-p", "no:allure_pytest"]
    if args.workers is not None:
        argv.append(f"--numprocesses={args.workers}")
    else:
        argv += ["-p", "no:xdist", "-p", "no:xdist.looponfail"]
    if args.dist is not None:
        argv.append(f"--dist={args.dist}")
    return argv


def cmd_run(args: argparse.Namespace) -> int:
    out = run_folder(args)
    try:
        with exclusive(out):
            code = pytest.main(pytest_args(args, out))
    finally:
        if args.out is None:
            remove_if_unused(out)
    return int(code) if int(code) in (0, 1) else EXIT_SETUP


class _Lister:
    """A pytest plugin that only records what was collected."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext}")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from conformance import requirements
        from conformance.plugin import case_title, requirement_ids

        for item in items:
            ids = requirement_ids(item)
            if not ids:
                continue
            base = item.nodeid.split("[")[0]
            self.rows.setdefault(
                base,
                {
                    "id": base,
                    "requirements": ids,
                    "role": requirements.lookup(ids[0]).role,
                    "level": requirements.lookup(ids[0]).level,
                    "needs": [n for mark in item.iter_markers("needs") for n in mark.args],
                    "title": case_title(item),
                    "variants": [],
                },
            )["variants"].append(item.nodeid[len(base) :] or "")


def cmd_list(args: argparse.Namespace) -> int:
    lister = _Lister()
    code = pytest.main(
        [str(suites_dir()), "--collect-only", "--assert=plain", "-p", "no:cacheprovider", "-p", "no:terminal"],
        plugins=[lister],
    )
    if lister.errors or int(code) not in (0, 5):
        print("\n".join(lister.errors) or f"collection failed (pytest exit {int(code)})", file=sys.stderr)
        return EXIT_SETUP
    rows = sorted(lister.rows.values(), key=lambda r: (r["requirements"], r["id"]))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(f"{','.join(row['requirements']):<24}{row['role']:<5}{row['level']:<3}{row['id']}")
        print(f"{'':<32}{row['title']}")
    print(f"\n{len(rows)} tests ({sum(len(r['variants']) for r in rows)} cases) for each target of their role")
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    from conformance.reference.faults import FAULTS

    for fault in FAULTS.values():
        breaks = ", ".join(fault.violates) or "the bracket: no negative case may PASS"
        print(f"{fault.name:<36}{fault.summary}  [{breaks}]")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from conformance.reference.deployment import ReferenceDeployment

    deployment = ReferenceDeployment.start(writable_folder(args.targets_dir, "--targets-dir"), faults=args.fault)
    try:
        print("reference ECS and EESes running; target files:")
        for path in deployment.target_files:
            print(f"  {path}")
        print(f"run: conformance run {' '.join('--target ' + str(p) for p in deployment.target_files)}")
        print("Ctrl-C to stop.", flush=True)
        deployment.wait()
    except KeyboardInterrupt:
        pass
    finally:
        deployment.stop()
    return 0


def cmd_pki_export(args: argparse.Namespace) -> int:
    from conformance.peers.material import HarnessMaterial
    from conformance.targets.config import load_target

    eec_ids = ["eec-0001", "eec-0002", "eec-0003"]
    if args.target is not None:  # this export may be what creates the material the target names
        eec_ids = [e.eec_id for e in load_target(args.target, material_must_exist=False).eecs]
    writable_folder(args.directory, "DIR")
    material = HarnessMaterial.load_or_create(args.directory)
    added = material.add_missing_issuer_keys()  # a folder from before the RSA and Ed25519 issuer keys
    material.save(args.directory)
    if added:
        print(f"added {', '.join(added)}: provision the new issuer.jwks.json on your EES")
    for eec_id in eec_ids:
        material.export_client_identity(args.directory, common_name=eec_id, filename_stem=f"eec-{_safe(eec_id)}")
        stem, name = f"oauth-{_safe(eec_id)}", f"{eec_id} OAuth client"
        cert, created = material.export_oauth_client(args.directory, common_name=name, filename_stem=stem)
        if created:
            print(f"wrote {cert.name}: register it (or {stem}.jwk.json) at the ECS token endpoint for {eec_id}")
    print(f"harness material written to {args.directory} (see README.txt there for what to provision)")
    return 0


def cmd_pki_serve(args: argparse.Namespace) -> int:
    """Serve the material's issuer JWKS and RFC 8414 metadata on 127.0.0.1 until Ctrl-C."""
    from conformance.peers.issuer_server import IssuerServer
    from conformance.peers.material import HarnessMaterial

    material = HarnessMaterial.load(args.directory)
    server = IssuerServer(material.public_jwks(), issuer=args.issuer, ca=material.ca, port=args.port)
    with server:
        print(f"issuer key set: {server.jwks_url} (also https://127.0.0.1:{server.port}/jwks.json)")
        print(f"RFC 8414 metadata: {server.base_url}/.well-known/oauth-authorization-server")
        print(f"TLS: certificate for {server.host}, localhost, 127.0.0.1 from {args.directory / 'ca.pem'}")
        print("Ctrl-C to stop.", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


class OneLineParser(argparse.ArgumentParser):
    """A bad option ends in one line and exit status 2, as a bad declaration does."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_SETUP, f"{self.prog}: {message} (see {self.prog} --help)\n")


def seconds(low: float, high: float, *, low_allowed: bool) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds in the range, else a message that says the range."""
    allowed = f"from {low:g} to {high:g}" if low_allowed else f"above {low:g} and at most {high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number, give a number of seconds {allowed}") from None
        above_low = value >= low if low_allowed else value > low
        if not (math.isfinite(value) and above_low and value <= high):
            raise argparse.ArgumentTypeError(f"{text!r} is out of range, give a number of seconds {allowed}")
        return value

    return parse


def workers(text: str) -> str:
    """An argparse type for ``-n``: ``auto`` (one worker per CPU) or a number of workers (0: no workers)."""
    if text == "auto" or (text.isdigit() and int(text) <= 256):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is neither 'auto' nor a number of workers from 0 to 256")


def _add_report_parser(sub: Any) -> None:
    """``conformance report html|junit|diff|allure``: reports drawn from a results.json (conformance/reporting/)."""
    from conformance.reporting import commands

    report = sub.add_parser("report", help="reports drawn from a results.json: html, junit, diff, allure")
    kinds = report.add_subparsers(dest="report_command", required=True, metavar="{html,junit,diff,allure}")
    html = kinds.add_parser("html", help="the compliance report: one self-contained HTML file")
    html.add_argument("results", type=Path, metavar="RESULTS.json")
    html.add_argument("-o", "--output", default=None, metavar="FILE", help="default: report.html beside RESULTS.json")
    html.set_defaults(func=commands.cmd_report_html)
    junit = kinds.add_parser("junit", help="JUnit XML, one testcase per case")
    junit.add_argument("results", type=Path, metavar="RESULTS.json")
    junit.add_argument("-o", "--output", default=None, metavar="FILE", help="default: standard output")
    junit.set_defaults(func=commands.cmd_report_junit)
    diff = kinds.add_parser("diff", help="what changed between two runs of a target; exit 1 when something regressed")
    diff.add_argument("old", type=Path, metavar="OLD")
    diff.add_argument("new", type=Path, metavar="NEW")
    diff.add_argument("--json", action="store_true", help="the changes as JSON")
    diff.set_defaults(func=commands.cmd_report_diff)
    allure = kinds.add_parser("allure", help="allure-results, and a single-file Allure report when its CLI is there")
    allure.add_argument("results", type=Path, metavar="RESULTS.json")
    allure.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="the allure-results directory")
    allure.add_argument("--html", type=Path, default=None, metavar="FILE", help="default: DIR/../allure-report.html")
    allure.add_argument("--no-html", action="store_true", help="write the allure-results only")
    allure.set_defaults(func=commands.cmd_report_allure)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="conformance", description="TS 33.558 6.2/6.3 conformance harness")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,list,report,reference,pki}")

    run = sub.add_parser("run", help="run the conformance suites against one or more targets")
    run.add_argument("--target", action="append", required=True, metavar="FILE|reference")
    run.add_argument("--fault", action="append", default=[], metavar="NAME")
    run.add_argument("--req", action="append", default=[], metavar="ID_PREFIX")
    run.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="NAME",
        help="only the cases whose name contains NAME (what a failure's reproduce command gives)",
    )
    run.add_argument("--out", type=Path, default=None, metavar="DIR")
    run.add_argument("--alluredir", type=Path, default=None, metavar="DIR", help="also write allure-results into DIR")
    run.add_argument("--strict", action="store_true")
    run.add_argument(
        "--deadline", type=seconds(*DEADLINE_SECONDS, low_allowed=False), default=1800.0, metavar="SECONDS"
    )
    run.add_argument(
        "--case-timeout", type=seconds(*CASE_TIMEOUT_SECONDS, low_allowed=True), default=120.0, metavar="SECONDS"
    )
    run.add_argument(
        "-n",
        "--workers",
        type=workers,
        default=None,
        metavar="N|auto",
        help="run the cases in N processes (pytest-xdist; auto: one per CPU), against one reference deployment",
    )
    run.add_argument(
        "--dist",
        choices=DIST_MODES,
        default=None,
        help="how pytest-xdist hands out the cases (with -n; default load)",
    )
    run.set_defaults(func=cmd_run)

    lst = sub.add_parser("list", help="list every test without running anything")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)

    ref = sub.add_parser("reference", help="the embedded reference ECS and EESes").add_subparsers(
        dest="reference_command", required=True
    )
    serve = ref.add_parser("serve", help="serve them on loopback and write target files")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME")
    serve.add_argument("--targets-dir", type=Path, default=Path("reports/reference-targets"), metavar="DIR")
    serve.set_defaults(func=cmd_serve)
    ref.add_parser("faults", help="list the named faults").set_defaults(func=cmd_faults)

    pki = sub.add_parser("pki", help="harness PKI material").add_subparsers(dest="pki_command", required=True)
    export = pki.add_parser("export", help="write what a vendor provisions to trust the harness")
    export.add_argument("directory", type=Path)
    export.add_argument("--target", type=Path, default=None)
    export.set_defaults(func=cmd_pki_export)
    pki_serve = pki.add_parser("serve", help="serve the issuer's JWKS and metadata over HTTPS on 127.0.0.1")
    pki_serve.add_argument("directory", type=Path)
    pki_serve.add_argument("--port", type=int, default=8443, metavar="N")
    pki_serve.add_argument("--issuer", default="ecs.harness.test", metavar="NAME", help="FQDN or https URL")
    pki_serve.set_defaults(func=cmd_pki_serve)
    _add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `conformance list | head`: the reader left, nothing is wrong
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        return 0
    except (ConfigError, ValueError) as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main())
