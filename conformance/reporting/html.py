"""The compliance report: one self-contained HTML file drawn from a run record.

Rendered by Jinja2 templates (``templates/``) with autoescaping; the page loads nothing
(its Content-Security-Policy allows only its own inline style and script, by hash), so it
opens from disk, offline, and makes no network request. The chart is inline SVG computed
here from the record. Private keys and credentials are masked before rendering and the
result is refused if ``PRIVATE KEY`` still appears in it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from conformance import __version__
from conformance.reporting import view
from conformance.reporting.masking import refuse_private_key
from conformance.reporting.output import write_text_atomically
from conformance.reporting.schema import VERDICTS
from conformance.requirements import catalogue

PALETTE = {
    "PASS": "#2e7d32",
    "FAIL": "#c62828",
    "WARN": "#e08a00",
    "N/A": "#607d8b",
    "INCONCLUSIVE": "#7b1fa2",
    "ERROR": "#4a148c",
    view.NOT_JUDGED: "#9e9e9e",
    "not-covered": "#d7d7d7",
    "not-selected": "#ececec",
}
"""One colour per verdict / row state: the badges, the chart and the filter all use it."""
LABELS = {
    "PASS": "PASS",
    "FAIL": "FAIL",
    "WARN": "WARN",
    "N/A": "N/A",
    "INCONCLUSIVE": "INCONCLUSIVE",
    "ERROR": "ERROR",
    view.NOT_JUDGED: "not judged",
    "not-covered": "not covered",
    "not-selected": "not selected",
}
EXIT_MEANING = {
    0: ("conformant", "No applicable requirement failed."),
    1: ("not-conformant", "NOT CONFORMANT: at least one requirement FAILed."),
    2: ("incomplete", "INCOMPLETE: no FAIL, but ERROR or INCONCLUSIVE verdicts; the run does not show conformance."),
}

CHART_WIDTH = 760
CHART_LABEL = 190
CHART_BAR = 500
CHART_ROW = 34
CHART_BAR_HEIGHT = 22


def css_class(key: str | None) -> str:
    """``N/A`` -> ``v-na``, ``not-covered`` -> ``v-not-covered``, ``None`` -> ``v-not-judged``."""
    key = key or view.NOT_JUDGED
    return "v-" + "".join(c if c.isalnum() or c == "-" else "" for c in key.lower().replace("/", ""))


@functools.cache
@functools.cache
def _environment() -> jinja2.Environment:
    # Compiling the templates costs ~0.1-0.3 s, a good part of a short run. Jinja2 keeps the
    # compiled code in a per-user folder of the temp dir (mode 0700, checked), keyed by each
    # template's source checksum, so a changed template is compiled afresh.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.reporting", "templates"),
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        css_class=css_class,
        label=lambda key: LABELS.get(key or view.NOT_JUDGED, str(key)),
        as_text=view.as_text,
        pretty_json=view.pretty_json,
        seconds=_seconds,
        milliseconds=_milliseconds,
    )
    return env


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "?"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.1f} s" if value < 600 else f"{value / 60:.1f} min"


def _milliseconds(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return f"{value:.1f} ms"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_html(record: dict[str, Any], *, validated: bool = False) -> str:
    """The compliance report for ``record`` (a results.json, schema_version 1), as one HTML document.

    Raises :class:`~conformance.reporting.schema.RecordError` for a record that breaks the
    schema, and :class:`~conformance.reporting.masking.PrivateKeyInReport` rather than return
    a page containing private-key material.
    """
    env = _environment()
    prepared = view.prepare(record, catalogue(), validated=validated)
    css = env.get_template("report.css.j2").render(palette=PALETTE, css_class=css_class)
    script = env.get_template("report.js.j2").render()
    csp = "; ".join(
        [
            "default-src 'none'",
            f"style-src {_csp_hash(css)}",
            f"script-src {_csp_hash(script)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    html = env.get_template("report.html.j2").render(
        r=prepared,
        css=Markup(css),  # our own stylesheet and script, no record data: inserted verbatim
        script=Markup(script),
        csp=csp,
        clauses=_clauses(prepared),
        chart=_chart(prepared),
        cases_by_clause=_cases_by_clause(prepared),
        filter_keys=_filter_keys(prepared),
        mismatches=view.count_mismatches(prepared),
        exit_meaning=EXIT_MEANING.get(prepared["exit_status"], ("incomplete", "unknown exit status")),
        verdicts=VERDICTS,
        renderer=f"ts33558-conformance {__version__}",
    )
    return refuse_private_key(html, "the HTML report")


def write_html(record: dict[str, Any], path: str | Path, *, validated: bool = False) -> Path:
    """Render ``record`` and write it to ``path`` (atomically: a reader never sees half a report)."""
    return write_text_atomically(render_html(record, validated=validated), path)


def _clauses(prepared: dict[str, Any]) -> list[dict[str, Any]]:
    """The requirement rows grouped by clause, each group with its counts."""
    rows = prepared["_coverage"]
    groups = []
    for clause in view.clause_order({r["clause"] for r in rows}):
        members = sorted((r for r in rows if r["clause"] == clause), key=lambda r: _requirement_order(r["id"]))
        if not members and clause not in view.CLAUSE_TITLES:
            continue
        counts = {k: sum(1 for r in members if r["_key"] == k) for k in view.ROW_KEYS}
        groups.append(
            {
                "clause": clause,
                "title": view.CLAUSE_TITLES.get(clause, f"Clause {clause}"),
                "rows": members,
                "counts": {k: n for k, n in counts.items() if n},
                "total": len(members),
            }
        )
    return groups


def _requirement_order(rid: str) -> tuple[int, str]:
    """Catalogue order for catalogue IDs; anything else after them, alphabetically."""
    order = list(catalogue())
    return (order.index(rid), "") if rid in order else (len(order), rid)


def _cases_by_clause(prepared: dict[str, Any]) -> list[dict[str, Any]]:
    cases = prepared["cases"]
    out = []
    for clause in view.clause_order({c["_clauses"][0] for c in cases}):
        members = [c for c in cases if c["_clauses"][0] == clause]
        if not members:
            continue
        members.sort(key=lambda c: (view.ATTENTION.index(c["verdict"]), c["id"]))
        out.append({"clause": clause, "title": view.CLAUSE_TITLES.get(clause, f"Clause {clause}"), "cases": members})
    return out


def _filter_keys(prepared: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """The filter's checkboxes: every verdict and row state present, every clause present, with counts."""
    keys: dict[str, int] = {}
    for key in view.ROW_KEYS:
        n = sum(1 for c in prepared["cases"] if c["verdict"] == key)
        n_rows = sum(1 for r in prepared["_coverage"] if r["_key"] == key)
        if n or n_rows or key in VERDICTS:
            keys[key] = n
    clauses = {c for case in prepared["cases"] for c in case["_clauses"]} | {r["clause"] for r in prepared["_coverage"]}
    return {
        "verdict": list(keys.items()),
        "clause": [
            (c, sum(1 for case in prepared["cases"] if c in case["_clauses"]))
            for c in view.clause_order(clauses)
            if c in clauses
        ],
    }


def _chart(prepared: dict[str, Any]) -> dict[str, Any]:
    """Geometry of the inline SVG: per clause a bar of requirement verdicts and a bar of case verdicts."""
    bars: list[dict[str, Any]] = []
    for group in _clauses(prepared):
        clause = group["clause"]
        bars.append(_bar(f"{clause} requirements", group["counts"], group["total"], clause))
        counts: dict[str, int] = {}
        for case in prepared["cases"]:
            if case["_clauses"][0] == clause:
                counts[case["verdict"]] = counts.get(case["verdict"], 0) + 1
        bars.append(_bar(f"{clause} cases", counts, sum(counts.values()), clause))
    legend = []
    x = 0
    for key in view.ROW_KEYS:
        if any(s["key"] == key for b in bars for s in b["segments"]):
            legend.append({"key": key, "x": x, "label": LABELS[key]})
            x += 16 + 7 * len(LABELS[key]) + 18
    rows = len(bars)
    legend_y = rows * CHART_ROW + 14
    return {
        "width": CHART_WIDTH,
        "height": legend_y + 26,
        "label_width": CHART_LABEL,
        "bar_width": CHART_BAR,
        "bar_height": CHART_BAR_HEIGHT,
        "bars": bars,
        "legend": legend,
        "legend_y": legend_y,
    }


def _bar(label: str, counts: dict[str, int], total: int, clause: str) -> dict[str, Any]:
    segments = []
    done = 0
    for key in view.ROW_KEYS:
        n = counts.get(key, 0)
        if not n:
            continue
        x0 = round(done / total * CHART_BAR, 2)
        done += n
        x1 = round(done / total * CHART_BAR, 2)
        segments.append({"key": key, "n": n, "x": x0, "width": round(x1 - x0, 2), "label": LABELS[key]})
    return {"label": label, "total": total, "segments": segments, "clause": clause}
