"""``conformance report ...``: reports drawn from a results.json.

conformance report html RESULTS.json [-o FILE]     the compliance report (default: report.html beside RESULTS.json)
conformance report junit RESULTS.json [-o FILE]    JUnit XML (default: stdout)
conformance report diff OLD NEW [--json]           what changed; exit 1 when something regressed
conformance report allure RESULTS.json -o DIR      allure-results, and a single-file report when the allure CLI is there

Exit status: 0 written (diff: nothing regressed), 1 diff: something regressed, 2 bad input,
with one line ``conformance report: FILE: what is wrong``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_BAD_INPUT = 2


def _fail(message: str) -> int:
    print(f"conformance report: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _guarded(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Bad input, an unwritable output or a refused report: one line on stderr and exit 2."""

    def run(args: argparse.Namespace) -> int:
        from conformance.reporting.masking import PrivateKeyInReport
        from conformance.reporting.schema import RecordError

        try:
            return command(args)
        except RecordError as exc:
            return _fail(str(exc))
        except PrivateKeyInReport as exc:
            return _fail(str(exc))
        except OSError as exc:
            where = exc.filename if exc.filename is not None else "output"
            return _fail(f"{where}: cannot write: {exc.strerror or exc}")

    run.__doc__ = command.__doc__
    return run


def _write(text: str, output: str | None, what: str) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from conformance.reporting.output import write_text_atomically

    path = write_text_atomically(text, Path(output))
    print(f"{what} written to {path}", file=sys.stderr)


@_guarded
def cmd_report_html(args: argparse.Namespace) -> int:
    """The compliance report (self-contained HTML) for a results.json."""
    from conformance.reporting.html import render_html
    from conformance.reporting.schema import load_record

    record = load_record(args.results)
    output = args.output if args.output is not None else str(Path(args.results).with_name("report.html"))
    _write(render_html(record), output, f"compliance report ({len(record['cases'])} cases)")
    return 0


@_guarded
def cmd_report_junit(args: argparse.Namespace) -> int:
    """JUnit XML for a results.json: one testcase per case."""
    from conformance.reporting.junit import render_junit
    from conformance.reporting.schema import load_record

    record = load_record(args.results)
    _write(render_junit(record), args.output, f"JUnit XML ({len(record['cases'])} testcases)")
    return 0


@_guarded
def cmd_report_diff(args: argparse.Namespace) -> int:
    """What changed between two runs of the same target; exit 1 when something regressed."""
    from conformance.reporting.diff import diff_records
    from conformance.reporting.masking import mask_value
    from conformance.reporting.schema import load_record

    old, new = load_record(args.old), load_record(args.new)
    result = diff_records(old, new, str(args.old), str(args.new))
    if args.json:
        print(json.dumps(mask_value(result.to_json()), indent=1, ensure_ascii=False))
    else:
        print("\n".join(mask_value(result.lines())))
    return result.exit_status()


@_guarded
def cmd_report_allure(args: argparse.Namespace) -> int:
    """allure-results for a results.json, and a single-file Allure report when the allure CLI is installed."""
    from conformance.reporting import allure
    from conformance.reporting.schema import load_record

    record = load_record(args.results)
    results_dir = Path(args.output)
    written = allure.write_results(record, results_dir)
    print(f"allure-results written to {results_dir} ({len(written)} files)", file=sys.stderr)
    if args.no_html:
        return 0
    outcome = allure.build_single_file(results_dir, Path(args.html) if args.html else None)
    print(outcome.message, file=sys.stderr)
    return 0 if outcome.ok or outcome.missing else EXIT_BAD_INPUT
