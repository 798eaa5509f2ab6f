"""The bundled 3GPP OpenAPI documents (``conformance/data/openapi/``), read fast.

The ``*.yaml`` files there are byte-identical copies of 3GPP's (``SOURCES.md``) and stay the
source. Parsing them costs about 0.2 s even with libyaml's C loader, a fifth of what a whole
one-case run may cost, so each is also shipped parsed, as JSON (``json/<stem>.json``, all of them
read in some milliseconds), and that is what :func:`document` reads. After a YAML file changes,
``python -m conformance.openapi_files`` writes the JSON again; ``tests/test_openapi_files.py``
fails until it has::

    >>> document("TS24558_Eees_EECRegistration.yaml")["info"]["title"]
    'Eees_EECRegistration'

The checker (:mod:`conformance.checks.schema`) and the reference servers each build their own
validator from these documents; only the reading is shared.
"""

from __future__ import annotations

import functools
import json
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

__all__ = ["FOLDER", "document", "names", "parse_yaml", "write_json"]

FOLDER: Final[Traversable] = resources.files("conformance") / "data" / "openapi"
"""The bundled YAML files; their parsed JSON copies are in its ``json`` subfolder."""


def names() -> list[str]:
    """The bundled YAML files' names (``TS29571_CommonData.yaml``, ...), sorted: the names their
    ``$ref`` pointers use for each other."""
    return sorted(entry.name for entry in FOLDER.iterdir() if entry.name.endswith(".yaml"))


@functools.cache
def document(name: str) -> dict[str, Any]:
    """The parsed document of the bundled YAML file ``name``, read from its JSON copy once per
    process. Shared by every reader in the process: never modify what it returns."""
    parsed: dict[str, Any] = json.loads((FOLDER / "json" / _json_name(name)).read_bytes())
    return parsed


def parse_yaml(name: str) -> dict[str, Any]:
    """The bundled YAML file ``name`` parsed from its YAML (slow; for :func:`write_json` and tests)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parsed: dict[str, Any] = yaml.load((FOLDER / name).read_bytes(), Loader=loader)
    return parsed


def write_json(folder: Path) -> list[Path]:
    """Write every bundled YAML file's JSON copy into ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names():
        path = folder / _json_name(name)
        path.write_text(json.dumps(parse_yaml(name), indent=1, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    return written


def _json_name(name: str) -> str:
    return name.removesuffix(".yaml") + ".json"


if __name__ == "__main__":
    target = Path(str(FOLDER)) / "json"
    for written in write_json(target):
        print(written, file=sys.stderr)
