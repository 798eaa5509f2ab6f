"""conformance report html|junit|allure as a user runs them; a bad results.json is one line and exit 2."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_records import RECORDS, record, write
from run_cli import conformance

from conformance.reporting.html import render_html


def test_html_is_written_beside_the_results_by_default(tmp_path: Path) -> None:
    results = write(tmp_path, record())
    done = conformance("report", "html", results)
    assert done.status == 0, done.output
    assert done.output.strip() == f"compliance report (16 cases) written to {tmp_path / 'report.html'}"
    assert (tmp_path / "report.html").read_text("utf-8") == render_html(record())


def test_html_to_a_named_file_and_to_stdout(tmp_path: Path) -> None:
    done = conformance("report", "html", RECORDS / "interrupted.json", "-o", tmp_path / "out" / "x.html")
    assert done.status == 0, done.output
    assert "RUN INTERRUPTED" in (tmp_path / "out" / "x.html").read_text("utf-8")
    done = conformance("report", "html", RECORDS / "interrupted.json", "-o", "-")
    assert done.status == 0
    assert done.output.startswith("<!DOCTYPE html>")


def test_junit_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    done = conformance("report", "junit", RECORDS / "every-verdict.json")
    assert done.status == 0
    assert len(list(ET.fromstring(done.output).iter("testcase"))) == 16
    done = conformance("report", "junit", RECORDS / "every-verdict.json", "-o", tmp_path / "junit.xml")
    assert done.status == 0
    assert "JUnit XML (16 testcases) written to" in done.output
    ET.parse(tmp_path / "junit.xml")


@pytest.mark.parametrize("kind", ["html", "junit"])
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{not json", "not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ('{"schema_version": 2}', "schema_version 2 is not supported (this harness reads 1)"),
        ('{"schema_version": 1, "cases": []}', "not a valid results.json: $: 'harness' is a required property"),
    ],
)
def test_a_bad_results_file_is_one_line_and_exit_2(
    tmp_path: Path, kind: str, content: str | None, problem: str
) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content, "utf-8")
    done = conformance("report", kind, path, "-o", tmp_path / "out")
    assert done.status == 2
    assert len(done.output.strip().splitlines()) == 1, done.output
    assert done.output.startswith(f"conformance report: {path}: {problem}")
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_is_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", "utf-8")
    done = conformance("report", "html", RECORDS / "every-verdict.json", "-o", blocker / "report.html")
    assert done.status == 2
    assert len(done.output.strip().splitlines()) == 1
    assert done.output.startswith("conformance report: ")
    assert "cannot write" in done.output


def test_report_needs_a_kind() -> None:
    done = conformance("report")
    assert done.status == 2
    assert "html" in done.output
    assert "diff" in done.output


def test_allure_without_the_allure_cli_says_what_to_install(tmp_path: Path) -> None:
    import os
    import sys

    env_path = os.path.dirname(sys.executable)  # python only: no node, no allure
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "conformance", "report", "allure", str(RECORDS / "every-verdict.json"), "-o",
         str(tmp_path / "allure-results")],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "PATH": env_path},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written, advice = done.stderr.splitlines()
    assert written.startswith(f"allure-results written to {tmp_path / 'allure-results'} (")
    assert advice == "single-file Allure report not built: needs Node.js and the Allure 3 CLI (npm install -g allure)"
    assert len(list((tmp_path / "allure-results").glob("*-result.json"))) == 16
