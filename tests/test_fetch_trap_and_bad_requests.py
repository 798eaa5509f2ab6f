"""The fetch trap (EES-TOK-03's jku/x5u cases) and the schema-invalid request variants (ROB)."""

from __future__ import annotations

import socket
import ssl
import time

import httpx
import pytest

from conformance.peers.bad_requests import Mutation, mutations
from conformance.peers.fetch_trap import FetchTrap


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


def test_mutations_are_seeded_bounded_and_schema_invalid() -> None:
    first, again = mutations(), mutations()
    assert first == again
    assert 0 < len(first) <= 40
    names = {m.name for m in first}
    assert "eecId-missing" in names
    body = {"eecId": "eec-1", "ueId": "msisdn-491700000001"}
    removed = next(m for m in first if m.name == "eecId-missing")
    assert removed.apply(body) == {"ueId": "msisdn-491700000001"}
    assert "removed" in removed.describe()
    for mutation in first:
        if mutation.allowed:
            assert mutation.member in mutation.apply(body)
            assert "the schema allows" in mutation.describe()


def test_a_mutation_replacing_a_string_member_with_a_number_is_not_the_original() -> None:
    mutation = Mutation("ueId-as-number", "ueId", 7, ("string",))
    body = {"eecId": "eec-1", "ueId": "msisdn-491700000001"}
    assert mutation.apply(body)["ueId"] == 7
    assert body["ueId"] == "msisdn-491700000001"
    assert mutation.members == {"ueId": 7}
