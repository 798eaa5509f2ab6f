"""Schema-invalid request bodies, drawn from the TS 24.558 OpenAPI by schemathesis's negative mode.

For ECS-ROB-01 / EES-ROB-01 ("malformed or schema-invalid requests get 4xx, never 5xx").
schemathesis (https://schemathesis.readthedocs.io) reads the operation's request body schema and,
in negative mode, mutates it (a wrong type, a missing required member, a broken format, pattern
or bound, deep inside the body too) and draws bodies that violate it. The harness collects them
first (:mod:`.draw_bad_bodies`, with Hypothesis), then sends them; so the bodies are:

- **bounded**: ``count`` per operation (``[harness] fuzz_examples``, default 12);
- **reproducible**: Hypothesis is seeded (``[harness] fuzz_seed``, default 33558; the seed is in
  the evidence) and keeps no example database, and the drawing runs in a fresh interpreter that
  imports nothing of the harness, so the same seed, count, OpenAPI files and schemathesis and
  Hypothesis versions draw the same bodies, in a conformance run as in a test;
- **drawn once**: a draw costs seconds of CPU (about 20 s for both schemas), so the draws for the
  default seed and count ship with the harness (``conformance/data/bad_requests/``, made with the
  versions pinned in ``constraints.txt``), and any other draw is kept in memory and on disk, in
  ``$XDG_CACHE_HOME/ts33558-conformance/bad-requests/`` (``~/.cache/...``), under a key naming
  all the inputs above (deleting it only costs time). A run starts the draws it will need in the
  background (:func:`prefetch`), on another core, while its first cases run.

schemathesis's "random bytes that are not JSON" bodies are left out (a seeded run spends most of
its budget on them); :func:`explicit` gives the suites hand-picked malformed bodies instead.

:func:`for_eec` then makes a body the authorized EEC's: where the body has a string ``eecId`` (or
``ueId``), the EEC's own goes in, so the request gets past the identity checks to the members the
server must validate. A body the harness's validator (:func:`conformance.checks.schema.validate`)
then finds valid is not sent (:meth:`conformance.under_test.TargetUnderTest.generated_bad_bodies`):
only a schema-invalid body can demand a refusal.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from conformance.errors import HarnessError

__all__ = [
    "EXPLICIT",
    "OPERATIONS",
    "REQUEST_SCHEMAS",
    "BadBody",
    "draw",
    "explicit",
    "for_eec",
    "generator",
    "prefetch",
    "stop_prefetching",
]

OPERATIONS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        # schema alias (conformance.checks.schema.SCHEMAS): (OpenAPI file, path of the POST operation)
        "ECSServProvReq": ("TS24558_Eecs_ServiceProvisioning.yaml", "/request"),
        "EECRegistration": ("TS24558_Eees_EECRegistration.yaml", "/registrations"),
    }
)
"""The operations whose request bodies are drawn: ECS service provisioning, EES EEC registration."""
REQUEST_SCHEMAS: Final[Mapping[str, str]] = MappingProxyType({"ecs": "ECSServProvReq", "ees": "EECRegistration"})
"""The request schema of each role's main operation."""
_SCRIPT: Final = Path(__file__).with_name("draw_bad_bodies.py")
_SHIPPED: Final = resources.files("conformance") / "data" / "bad_requests"
"""The draws for the default seed and count, made with the pinned versions (``python -m
conformance.peers.bad_requests SEED COUNT`` makes them again; a test keeps them current)."""


def generator() -> str:
    """The generator, by name and version, as evidence names it."""
    schemathesis, hypothesis = metadata.version("schemathesis"), metadata.version("hypothesis")
    return f"schemathesis {schemathesis} in negative mode (on hypothesis {hypothesis})"


@dataclass(frozen=True)
class BadBody:
    """One schema-invalid body: the JSON value and what schemathesis says it broke."""

    value: Any
    violation: str

    def content(self) -> bytes:
        return json.dumps(self.value, allow_nan=False).encode()

    def describe(self, limit: int = 160) -> str:
        """The violation and the start of the body, for evidence and messages."""
        text = json.dumps(self.value, ensure_ascii=True)
        shown = text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
        return f"{self.violation}: {shown}"


def draw(schema_name: str, *, seed: int, count: int) -> tuple[BadBody, ...]:
    """``count`` bodies that violate the request schema ``schema_name`` (a key of :data:`OPERATIONS`)."""
    _check(schema_name, count)
    return _remembered(schema_name, seed, count)


def prefetch(schema_name: str, *, seed: int, count: int) -> None:
    """Start drawing in the background (a child process, so on another core) unless the bodies
    are already kept: a run calls this when it starts, and :func:`draw` later finds them done."""
    _check(schema_name, count)
    key = (schema_name, seed, count)
    with _LOCK:
        if key not in _CHILDREN and _kept(*key) is None:
            _CHILDREN[key] = _spawn(*key)


def stop_prefetching() -> None:
    """End the children :func:`prefetch` started that are still drawing (a run that ends early)."""
    with _LOCK:
        children = list(_CHILDREN.values())
        _CHILDREN.clear()
    for child in children:
        if child.process.poll() is None:
            child.process.kill()
        child.process.communicate(timeout=10)  # reaps it and closes its pipe
        child.output.unlink(missing_ok=True)


def _check(schema_name: str, count: int) -> None:
    if schema_name not in OPERATIONS:
        raise KeyError(f"no operation takes a {schema_name}: one of {', '.join(OPERATIONS)}")
    if count < 1:
        raise ValueError(f"count {count} is out of range: draw at least 1")


@dataclass(frozen=True)
class _Child:
    process: subprocess.Popen[bytes]
    output: Path


_LOCK = threading.Lock()
_CHILDREN: dict[tuple[str, int, int], _Child] = {}
_DRAW_TIMEOUT = 600.0


@functools.cache
def _remembered(schema_name: str, seed: int, count: int) -> tuple[BadBody, ...]:
    """The bodies, drawn once: shipped with the harness for the default seed and count, else kept
    on disk, since a draw costs seconds of CPU that every run (and the fault matrix) would repeat."""
    kept = _kept(schema_name, seed, count)
    if kept is not None:
        return kept
    with _LOCK:
        child = _CHILDREN.pop((schema_name, seed, count), None) or _spawn(schema_name, seed, count)
    bodies = _finish(child, schema_name)
    with contextlib.suppress(OSError):  # a read-only cache only costs time
        child.output.replace(_cache_file(schema_name, seed, count))
    child.output.unlink(missing_ok=True)
    return bodies


def _kept(schema_name: str, seed: int, count: int) -> tuple[BadBody, ...] | None:
    """Bodies drawn before, in the user's cache or shipped in ``conformance/data/bad_requests/``."""
    key = _cache_key(schema_name, seed, count)
    shipped = _SHIPPED / f"{key}.json.gz"
    if shipped.is_file():
        return _parse(gzip.decompress(shipped.read_bytes()))
    return _read(_cache_file(schema_name, seed, count))


def _finish(child: _Child, schema_name: str) -> tuple[BadBody, ...]:
    """What ``child`` drew, once it is done (:class:`HarnessError` if it failed or took too long)."""
    try:
        _, errors = child.process.communicate(timeout=_DRAW_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.process.kill()
        child.process.communicate(timeout=10)
        child.output.unlink(missing_ok=True)
        raise HarnessError(f"drawing {schema_name} bodies took more than {_DRAW_TIMEOUT:.0f} s") from None
    bodies = _read(child.output) if child.process.returncode == 0 else None
    if bodies is None:
        child.output.unlink(missing_ok=True)
        problem = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise HarnessError(f"drawing {schema_name} bodies with schemathesis failed: {problem[0]}")
    return bodies


def _spawn(schema_name: str, seed: int, count: int) -> _Child:
    """Run :mod:`.draw_bad_bodies` in a fresh interpreter (why a fresh one: its docstring)."""
    folder = _cache_file(schema_name, seed, count).parent
    try:  # next to where the bodies will be kept, so keeping them is an atomic rename
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="drawing-", suffix=".tmp", dir=folder)
    except OSError:
        fd, name = tempfile.mkstemp(prefix="bad-requests-", suffix=".json")
    os.close(fd)
    file, path = OPERATIONS[schema_name]
    with resources.as_file(_openapi_folder() / file) as openapi_file:
        arguments = [str(openapi_file), path, str(seed), str(count), name]
    # -P: the script's folder is not put on sys.path (its neighbours are harness modules).
    command = [sys.executable, "-P", str(_SCRIPT), *arguments]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment)
    return _Child(process, Path(name))


def _read(file: Path) -> tuple[BadBody, ...] | None:
    try:
        return _parse(file.read_bytes())
    except (OSError, ValueError, TypeError, KeyError):
        return None  # not drawn yet, or unreadable: draw again


def _parse(data: bytes) -> tuple[BadBody, ...]:
    return tuple(BadBody(item["value"], item["violation"]) for item in json.loads(data))


def _serialized(bodies: tuple[BadBody, ...]) -> bytes:
    return json.dumps([{"value": b.value, "violation": b.violation} for b in bodies]).encode()


def _cache_file(schema_name: str, seed: int, count: int) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ts33558-conformance" / "bad-requests" / f"{_cache_key(schema_name, seed, count)}.json"


def _cache_key(schema_name: str, seed: int, count: int) -> str:
    """Everything the drawn bodies depend on: the OpenAPI files, the drawing script, the versions."""
    digest = hashlib.sha256(f"{_versions()}|{schema_name}|{seed}|{count}".encode())
    digest.update(_SCRIPT.read_bytes())
    for entry in sorted(_openapi_folder().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            digest.update(entry.name.encode() + entry.read_bytes())
    return f"{schema_name}-seed{seed}-n{count}-{digest.hexdigest()[:16]}"


def _openapi_folder() -> Traversable:
    return resources.files("conformance") / "data" / "openapi"


@functools.cache
def _versions() -> str:
    names = ("schemathesis", "hypothesis")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def for_eec(body: BadBody, *, eec_id: str, gpsi: str | None) -> BadBody:
    """``body`` as the authorized EEC sends it: its ``eecId`` and ``ueId`` where the body has strings there.

    That may mend the body (its only fault was the ``eecId``): the caller validates the result and
    sends only what is still invalid, since only a schema-invalid body can demand a refusal."""
    value = body.value
    if isinstance(value, dict):
        value = dict(value)
        if isinstance(value.get("eecId"), str):
            value["eecId"] = eec_id
        if isinstance(value.get("ueId"), str) and gpsi is not None:
            value["ueId"] = gpsi
    return BadBody(value, body.violation)


EXPLICIT: Final = (
    "missing-eecId",
    "eecId-number",
    "eecId-null",
    "acProfs-string",
    "body-array",
    "not-json",
    "truncated-json",
    "json-nan",
    "deeply-nested",
    "oversized",
)
"""The names of :func:`explicit`'s bodies, one case each."""

OVERSIZED_BYTES: Final = 3 * 1024 * 1024
"""The ``oversized`` body: some hundred times a real request, under what common HTTP servers take."""


def explicit(name: str, valid: Mapping[str, Any]) -> tuple[str, bytes]:
    """One of the bad bodies every server must survive, whatever the seed draws, built from
    ``valid``: not JSON, not an object, NaN, deep nesting, an oversized body (none of which
    :func:`draw` sends), a missing or mistyped ``eecId`` (the member every server reads first) and a
    member of the wrong type. ``name`` is one of :data:`EXPLICIT`; -> (what is broken, the body).
    Only the one asked for is built: the oversized body costs some milliseconds to encode."""

    def encoded(value: Any) -> bytes:
        return json.dumps(value).encode()

    bodies: dict[str, Callable[[], tuple[str, bytes]]] = {
        "missing-eecId": lambda: (
            "eecId (required) left out",
            encoded({k: v for k, v in valid.items() if k != "eecId"}),
        ),
        "eecId-number": lambda: ("eecId is a number, not a string", encoded({**valid, "eecId": 1234})),
        "eecId-null": lambda: ("eecId is null", encoded({**valid, "eecId": None})),
        "acProfs-string": lambda: (
            "acProfs is a string, not an array of ACProfile",
            encoded({**valid, "acProfs": "x"}),
        ),
        "body-array": lambda: ("the body is a JSON array, not an object", encoded([dict(valid)])),
        "not-json": lambda: ("the body is not JSON", b"{eecId: eec"),
        "truncated-json": lambda: ("the body is cut off mid-object", encoded(dict(valid))[:-3]),
        "json-nan": lambda: ("the body holds NaN, which JSON does not have (RFC 8259 6)", b'{"eecId": NaN}'),
        # Padding first: the evidence keeps the first 4 KiB of a body, which then stays cheap to re-read.
        "deeply-nested": lambda: (
            "the body nests 20000 arrays deep",
            b'{"eecId": "nested", "pad": "' + b"x" * 5000 + b'", "deep": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        ),
        # The valid request first (the evidence shows it), then a member that makes it oversized.
        "oversized": lambda: (
            f"the body is {OVERSIZED_BYTES // (1024 * 1024)} MiB: the valid request with a padding member",
            encoded({**valid, "padding": "x" * OVERSIZED_BYTES}),
        ),
    }
    return bodies[name]()


def ship(seed: int, count: int, folder: Path) -> list[Path]:
    """Draw every operation's bodies afresh and write them to ``folder`` as the harness ships them."""
    written = []
    folder.mkdir(parents=True, exist_ok=True)
    for schema_name in OPERATIONS:
        for stale in folder.glob(f"{schema_name}-seed{seed}-n{count}-*.json.gz"):
            stale.unlink()
        child = _spawn(schema_name, seed, count)
        bodies = _finish(child, schema_name)
        child.output.unlink(missing_ok=True)
        file = folder / f"{_cache_key(schema_name, seed, count)}.json.gz"
        file.write_bytes(gzip.compress(_serialized(bodies), mtime=0))
        written.append(file)
    return written


if __name__ == "__main__":
    _seed, _count = (int(argument) for argument in sys.argv[1:3])
    for _file in ship(_seed, _count, Path(__file__).parent.parent / "data" / "bad_requests"):
        print(_file)
