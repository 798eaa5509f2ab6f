"""The reference servers under concurrent EECs: one token on many connections, registration races.

A real EES sees many EECs at once, and one EEC retrying in parallel. Against the embedded
reference deployment, :data:`CONNECTIONS` fresh mutual-TLS connections at once (bounded in
count and time): the same valid token is accepted on every one, and concurrent registrations
of the same EEC are each answered 201 or a 4xx, never a 5xx and never a dropped connection.
Under the named faults ``ees.refuses-a-token-in-use`` and ``ees.fails-registration-race`` the
same bursts meet 401 and 500: what the suite's concurrency cases
(``suites/ees_6_3/test_6_3_concurrency.py``, through :meth:`TargetUnderTest.at_once`) catch.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import pytest_asyncio

from conformance.errors import NotApplicable, PeerError
from conformance.evidence import EvidenceLog, HttpExchange
from conformance.run import ConformanceRun, Options
from conformance.targets import edge_apis
from conformance.targets.model import TargetConfig
from conformance.under_test import EcsUnderTest, EesUnderTest

CONNECTIONS = 50
LIMIT = 30.0


def _started(tmp_path_factory: pytest.TempPathFactory, *faults: str) -> Iterator[ConformanceRun]:
    options = Options(targets=["reference"], faults=list(faults), out=tmp_path_factory.mktemp("concurrency"))
    started = ConformanceRun.start(options)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformanceRun]:
    yield from _started(tmp_path_factory)


@pytest.fixture(scope="module")
def token_in_use_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformanceRun]:
    yield from _started(tmp_path_factory, "ees.refuses-a-token-in-use")


@pytest.fixture(scope="module")
def race_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformanceRun]:
    yield from _started(tmp_path_factory, "ees.fails-registration-race")


def _target(run: ConformanceRun, name: str) -> TargetConfig:
    return next(t for t in run.targets if t.name == name)


def _context(run: ConformanceRun, config: TargetConfig) -> ssl.SSLContext:
    """The authorized EEC's mutual-TLS client context for ``config``."""
    peers = run.peers_for(config)
    context = ssl.create_default_context(cafile=str(config.trust_anchor))
    authorized = next(e for e in config.eecs if e.role == "authorized")
    credential = peers.credentials.for_eec(authorized)
    assert credential is not None
    credential.configure_cert(context)
    return context


async def _one(config: TargetConfig, context: ssl.SSLContext, method: str, path: str, **options: Any) -> int:
    """One request on its own fresh TLS connection; its status."""
    async with httpx.AsyncClient(verify=context, timeout=10.0, trust_env=False) as client:
        url = f"{config.base_url}{path}"
        response = await client.request(method, url, extensions={"sni_hostname": config.fqdn}, **options)
        return response.status_code


async def _all(calls: list[Any]) -> list[int]:
    async with asyncio.timeout(LIMIT):
        return list(await asyncio.gather(*calls))


@pytest_asyncio.fixture
async def no_leftover_tasks() -> AsyncIterator[None]:
    yield
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()] == []


async def _registrations(run: ConformanceRun, name: str) -> tuple[list[int], int]:
    """:data:`CONNECTIONS` registrations of the authorized EEC at ``name`` at once (at a token EES
    all with one valid token), then one more alone: their statuses."""
    config = _target(run, name)
    target = run.under_test(config, EvidenceLog())
    assert isinstance(target, EesUnderTest)
    body = edge_apis.request_body(config, next(e for e in config.eecs if e.role == "authorized"))
    headers = {"Authorization": f"Bearer {target.token()}"} if config.authorization == "token" else {}
    context, path = _context(run, config), edge_apis.EEC_REGISTRATION_PATH
    burst = await _all([_one(config, context, "POST", path, json=body, headers=headers) for _ in range(CONNECTIONS)])
    return burst, await _one(config, context, "POST", path, json=body, headers=headers)


@pytest.mark.asyncio
async def test_same_token_on_many_connections_at_once_is_accepted_every_time(
    run: ConformanceRun, no_leftover_tasks: None
) -> None:
    burst, alone = await _registrations(run, "reference-ees-token")
    assert burst == [201] * CONNECTIONS, burst
    assert alone == 201


@pytest.mark.asyncio
async def test_registration_race_of_one_eec_never_yields_a_5xx(run: ConformanceRun, no_leftover_tasks: None) -> None:
    burst, _ = await _registrations(run, "reference-ees-local")
    assert all(s == 201 or 400 <= s < 500 for s in burst), burst
    assert 201 in burst


@pytest.mark.asyncio
async def test_provisioning_race_of_one_eec_never_yields_a_5xx(run: ConformanceRun, no_leftover_tasks: None) -> None:
    config = _target(run, "reference-ecs")
    target = run.under_test(config, EvidenceLog())
    assert isinstance(target, EcsUnderTest)
    body = edge_apis.request_body(config, next(e for e in config.eecs if e.role == "authorized"))
    context = _context(run, config)
    path = edge_apis.SERVICE_PROVISIONING_PATH
    statuses = await _all([_one(config, context, "POST", path, json=body) for _ in range(CONNECTIONS)])
    assert statuses == [200] * CONNECTIONS, statuses


@pytest.mark.asyncio
async def test_under_ees_refuses_a_token_in_use_the_same_burst_meets_401(
    token_in_use_run: ConformanceRun, no_leftover_tasks: None
) -> None:
    burst, alone = await _registrations(token_in_use_run, "reference-ees-token")
    assert 401 in burst
    assert alone == 201  # the token alone: accepted


@pytest.mark.asyncio
async def test_under_ees_fails_registration_race_the_same_burst_meets_500(
    race_run: ConformanceRun, no_leftover_tasks: None
) -> None:
    burst, alone = await _registrations(race_run, "reference-ees-local")
    assert 500 in burst
    assert alone == 201  # one registration alone: registered


def _register(target: EesUnderTest) -> Any:
    return lambda eec, label: target.register(eec, label=label)


def test_at_once_sends_as_many_connections_as_the_target_declares(run: ConformanceRun) -> None:
    config = _target(run, "reference-ees-local")
    target = run.under_test(config, EvidenceLog())
    assert isinstance(target, EesUnderTest)
    exchanges = target.at_once(_register(target))
    assert config.concurrent_connections == len(exchanges) > 1
    assert [x.status for x in exchanges] == [201] * len(exchanges)
    assert exchanges[0].label.endswith(f"connection 1 of {len(exchanges)}")


def test_at_once_is_not_applicable_without_the_declaration(run: ConformanceRun) -> None:
    config = replace(_target(run, "reference-ees-local"), concurrent_connections=None)
    target = run.under_test(config, EvidenceLog())
    assert isinstance(target, EesUnderTest)
    with pytest.raises(NotApplicable, match="concurrent_connections"):
        target.at_once(_register(target))


def test_at_once_raises_a_harness_error_from_any_connection(run: ConformanceRun) -> None:
    target = run.under_test(replace(_target(run, "reference-ees-local"), concurrent_connections=3), EvidenceLog())

    def send(eec: Any, label: str) -> HttpExchange:
        if label.startswith("connection 2"):
            raise PeerError("a broken peer")
        return target.request_as(eec, label=label)

    with pytest.raises(PeerError, match="a broken peer"):
        target.at_once(send)
