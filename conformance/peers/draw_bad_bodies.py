"""Draw schema-invalid request bodies with schemathesis: the child process of :mod:`.bad_requests`.

    python draw_bad_bodies.py OPENAPI_FILE PATH SEED COUNT OUTPUT

writes ``COUNT`` bodies that violate the request body schema of ``POST PATH`` in
``OPENAPI_FILE`` to ``OUTPUT``, as a JSON array of ``{"value": ..., "violation": ...}``.

It runs as a script in a fresh interpreter, and imports nothing of the harness, on purpose:
Hypothesis mixes literals from the source of every *local* module (not the standard library,
not site-packages) a process has imported into what it generates. Here the only local module
would be this file, and :func:`main` hides it, so the bodies depend on nothing but the OpenAPI
files, the seed, the count and the schemathesis and Hypothesis versions
(:func:`.bad_requests._cache_key` names these), whether the harness is installed editable or not.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any


def draw(openapi_file: Path, path: str, seed: int, count: int) -> list[dict[str, Any]]:
    """Hypothesis, seeded, with no example database and generation only (no shrinking, no replay)."""
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, Phase
    from schemathesis import GenerationMode

    # An explicit (empty) configuration: no schemathesis.toml from the working directory applies.
    operation = schemathesis.openapi.from_path(openapi_file, config=schemathesis.Config())[path]["POST"]
    strategy = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    # schemathesis also sends random bytes that are not JSON at all; seeded runs spend most of their
    # budget on them, and the suites send explicit non-JSON bodies of their own.
    json_bodies = strategy.filter(lambda case: _is_json(case.body))
    drawn: list[dict[str, Any]] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=False,  # the seed decides, not this function's source
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(json_bodies)
    def collect(case: Any) -> None:
        drawn.append({"value": case.body, "violation": _violation(case)})

    with warnings.catch_warnings():
        # The 3GPP patterns use ECMA-262 syntax that Python's re does not take; schemathesis warns.
        warnings.filterwarnings("ignore", message=".*not valid syntax for a Python regular expression.*")
        collect()
    return drawn[:count]


def _is_json(value: Any) -> bool:
    """A JSON value as the harness sends it: not bytes, no NaN or infinity."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _violation(case: Any) -> str:
    """What schemathesis says it broke: "violates `required` at ...", "violates `type` at ..."."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    description = getattr(data, "description", None) or "schema-invalid"
    return " ".join(str(description).split())


def main(arguments: list[str]) -> int:
    openapi_file, path, seed, count, output = arguments
    # This file is local to Hypothesis (so its literals would join the draw) in an editable install,
    # and is not in a wheel's site-packages: without a __file__ it is local nowhere, and both
    # installs draw the same bodies.
    sys.modules["__main__"].__file__ = None
    bodies = draw(Path(openapi_file), path, int(seed), int(count))
    Path(output).write_text(json.dumps(bodies), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
