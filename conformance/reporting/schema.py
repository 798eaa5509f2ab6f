"""The record contract: ``results.json`` (schema_version 1) and its JSON Schema.

Every renderer reads a record through :func:`load_record`, so a missing, unparsable or
invalid file is one line (``FILE: what is wrong``) and never a traceback.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
VERDICTS = ("PASS", "FAIL", "WARN", "N/A", "INCONCLUSIVE", "ERROR")
"""Every verdict, in the order reports list them."""
SEVERITY = ("ERROR", "INCONCLUSIVE", "FAIL", "WARN", "N/A", "PASS")
"""Which verdict wins when several meet (the harness's own order)."""
COVERAGE_STATES = ("tested", "not-applicable", "not-selected", "not-covered")


class RecordError(ValueError):
    """A results.json that cannot be used; ``str()`` is the one line to print."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the record, shipped beside this module."""
    text = resources.files("conformance.reporting").joinpath("results.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _validator() -> Any:
    import jsonschema  # on first use: ~80 ms, and a run that writes its own record never validates it

    cls = jsonschema.validators.validator_for(schema())
    cls.check_schema(schema())
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


def problems(record: Any) -> list[str]:
    """Every schema violation of ``record``, each as ``$.path.to.member: message``; empty when valid."""
    return [f"{_json_path(e.absolute_path)}: {_short(e.message)}" for e in _sorted_errors(record)]


def validate(record: Any, source: str = "record") -> dict[str, Any]:
    """``record`` itself when it satisfies the schema; else :class:`RecordError` naming the first problem."""
    if isinstance(record, dict) and "schema_version" in record and record["schema_version"] != SCHEMA_VERSION:
        raise RecordError(
            source,
            f"schema_version {record['schema_version']!r} is not supported (this harness reads {SCHEMA_VERSION})",
        )
    found = problems(record)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise RecordError(source, f"not a valid results.json: {found[0]}{more}")
    assert isinstance(record, dict)
    return record


def load_record(path: str | Path) -> dict[str, Any]:
    """Read, parse and validate a results.json; every failure is one :class:`RecordError`."""
    source = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise RecordError(source, "no such file") from None
    except IsADirectoryError:
        raise RecordError(source, "is a directory, not a results.json") from None
    except UnicodeDecodeError as exc:
        raise RecordError(source, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise RecordError(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(source, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise RecordError(source, "not JSON this harness can read: nested too deeply") from None
    return validate(record, source)


def _sorted_errors(record: Any) -> list[Any]:
    errors = list(_validator().iter_errors(record))
    # the most specific first: deepest path, then document order
    return sorted(errors, key=lambda e: (-len(e.absolute_path), [str(p) for p in e.absolute_path]))


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _short(message: str, limit: int = 160) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"
