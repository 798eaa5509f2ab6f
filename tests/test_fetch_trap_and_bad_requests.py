"""The fetch trap (EES-TOK-03's jku/x5u cases) and the schema-invalid requests drawn for ROB-01."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.checks import schema
from conformance.peers import bad_requests
from conformance.peers.fetch_trap import FetchTrap
from conformance.targets.model import FUZZ_EXAMPLES, FUZZ_SEED


def test_the_trap_answers_a_fetch_and_records_it() -> None:
    with FetchTrap(b'{"keys": []}') as trap:
        answer = httpx.get(trap.url("/jwks.json"), verify=False, timeout=5)
        visits = trap.wait_quiet(0.1)
    assert answer.status_code == 200
    assert answer.json() == {"keys": []}
    assert len(visits) == 1
    assert visits[0].request_line.startswith("GET /jwks.json")


def test_a_connection_that_fails_tls_still_counts_and_a_quiet_trap_records_nothing() -> None:
    started = time.monotonic()
    with FetchTrap() as quiet:
        assert quiet.wait_quiet(0.1) == []
    with FetchTrap() as trap:
        with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", trap.port), timeout=5) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")  # does not trust the trap
        visits = trap.wait_quiet(0.2)
    assert len(visits) == 1
    assert visits[0].request_line == ""
    assert time.monotonic() - started < 10


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache of drawn bodies, so the next draw really draws (in a child process)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    bad_requests._remembered.cache_clear()
    yield tmp_path / "ts33558-conformance" / "bad-requests"
    bad_requests._remembered.cache_clear()


def test_draws_are_bounded_reproducible_kept_and_schema_invalid(fresh_cache: Path, tmp_path: Path) -> None:
    first = bad_requests.draw("EECRegistration", seed=7, count=3)
    assert len(first) == 3
    assert [f.suffix for f in fresh_cache.iterdir()] == [".json"]  # kept, no partial file left behind
    bad_requests._remembered.cache_clear()
    (next(fresh_cache.iterdir())).unlink()
    assert bad_requests.draw("EECRegistration", seed=7, count=3) == first  # drawn again: the same bodies
    for body in first:
        assert schema.validate(body.value, "EECRegistration"), body.describe()
        assert json.loads(body.content()) == body.value
        assert body.violation
        assert body.violation in body.describe()


def test_another_seed_draws_other_bodies_and_prefetch_finishes_in_the_background(fresh_cache: Path) -> None:
    bad_requests.prefetch("ECSServProvReq", seed=1, count=2)
    bad_requests.prefetch("ECSServProvReq", seed=1, count=2)  # once is enough
    assert len(bad_requests._CHILDREN) == 1
    one = bad_requests.draw("ECSServProvReq", seed=1, count=2)
    assert not bad_requests._CHILDREN
    assert bad_requests.draw("ECSServProvReq", seed=2, count=2) != one


def test_stop_prefetching_ends_the_children(fresh_cache: Path) -> None:
    bad_requests.prefetch("ECSServProvReq", seed=3, count=5)
    child = next(iter(bad_requests._CHILDREN.values()))
    bad_requests.stop_prefetching()
    assert child.process.poll() is not None
    assert not child.output.exists()


def test_draw_refuses_an_unknown_schema_or_count() -> None:
    with pytest.raises(KeyError, match="ECSServProvReq"):
        bad_requests.draw("ProblemDetails", seed=1, count=1)
    with pytest.raises(ValueError, match="at least 1"):
        bad_requests.draw("ECSServProvReq", seed=1, count=0)


def test_a_body_becomes_the_authorized_eecs() -> None:
    wrong_member = bad_requests.BadBody({"eecId": "x", "ueId": "y", "acProfs": 5}, "acProfs is not an array")
    mine = bad_requests.for_eec(wrong_member, eec_id="eec-1", gpsi="msisdn-491700000001")
    assert mine == bad_requests.BadBody({"eecId": "eec-1", "ueId": "msisdn-491700000001", "acProfs": 5}, mine.violation)
    assert wrong_member.value["eecId"] == "x"  # the drawn body is left as drawn
    no_gpsi = bad_requests.for_eec(bad_requests.BadBody({"eecId": 7, "ueId": "y"}, "v"), eec_id="eec-1", gpsi=None)
    assert no_gpsi.value == {"eecId": 7, "ueId": "y"}  # not strings, or nothing to put in: unchanged
    not_an_object = bad_requests.BadBody([1], "not an object")
    assert bad_requests.for_eec(not_an_object, eec_id="eec-1", gpsi=None) == not_an_object


def test_explicit_bodies_break_what_they_say() -> None:
    valid = {"eecId": "eec-1", "ueId": "msisdn-491700000001"}
    bodies = {name: bad_requests.explicit(name, valid) for name in bad_requests.EXPLICIT}
    assert json.loads(bodies["missing-eecId"][1]) == {"ueId": "msisdn-491700000001"}
    assert json.loads(bodies["eecId-number"][1])["eecId"] == 1234
    for name in ("not-json", "truncated-json"):
        with pytest.raises(json.JSONDecodeError):
            json.loads(bodies[name][1])
    assert all(what for what, _ in bodies.values())


def test_the_draws_for_the_default_seed_are_shipped_for_the_versions_in_use() -> None:
    """After a schemathesis or Hypothesis bump, or a change to an OpenAPI file or draw_bad_bodies.py,
    run ``python -m conformance.peers.bad_requests 33558 12`` and commit what it writes."""
    for schema_name in bad_requests.OPERATIONS:
        key = bad_requests._cache_key(schema_name, FUZZ_SEED, FUZZ_EXAMPLES)
        assert (bad_requests._SHIPPED / f"{key}.json.gz").is_file(), f"{key}: not shipped; regenerate (docstring)"


def test_the_shipped_draw_is_what_a_fresh_draw_gives(fresh_cache: Path, tmp_path: Path) -> None:
    shipped = bad_requests._kept("ECSServProvReq", FUZZ_SEED, FUZZ_EXAMPLES)
    [written] = [f for f in bad_requests.ship(FUZZ_SEED, FUZZ_EXAMPLES, tmp_path / "ship") if "ECS" in f.name]
    assert bad_requests._parse(gzip.decompress(written.read_bytes())) == shipped
    assert len(shipped or ()) == FUZZ_EXAMPLES
