"""The parsed JSON copies of the bundled OpenAPI files are exactly the YAML files parsed."""

from __future__ import annotations

import json
from pathlib import Path

from conformance import openapi_files


def test_every_yaml_file_has_a_json_copy_and_nothing_else_is_there() -> None:
    copies = sorted(entry.name for entry in (openapi_files.FOLDER / "json").iterdir())
    assert copies == [name.removesuffix(".yaml") + ".json" for name in openapi_files.names()]


def test_each_json_copy_equals_its_yaml_file_parsed() -> None:
    """Fails after a YAML file changed: run ``python -m conformance.openapi_files`` and commit."""
    for name in openapi_files.names():
        assert openapi_files.document(name) == openapi_files.parse_yaml(name), f"{name}: JSON copy is stale"


def test_write_json_writes_what_document_reads(tmp_path: Path) -> None:
    written = openapi_files.write_json(tmp_path)
    assert [path.name for path in written] == sorted(p.name for p in tmp_path.iterdir())
    for name in openapi_files.names():
        assert json.loads((tmp_path / (name.removesuffix(".yaml") + ".json")).read_text("utf-8")) == (
            openapi_files.document(name)
        )
