"""The reference servers under concurrent EECs: one token on many connections, registration races.

A real EES sees many EECs at once, and one EEC retrying in parallel. Against the embedded
reference deployment, :data:`CONNECTIONS` fresh mutual-TLS connections at once (bounded in
count and time): the same valid token is accepted on every one, and concurrent registrations
of the same EEC are each answered 201 or a 4xx, never a 5xx and never a dropped connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from conformance.evidence import EvidenceLog
from conformance.run import ConformanceRun, Options
from conformance.targets import edge_apis
from conformance.targets.model import TargetConfig
from conformance.under_test import EcsUnderTest, EesUnderTest

CONNECTIONS = 50
LIMIT = 30.0
pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformanceRun]:
    started = ConformanceRun.start(Options(targets=["reference"], out=tmp_path_factory.mktemp("concurrency")))
    try:
        yield started
    finally:
        started.close()


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


async def test_same_token_on_many_connections_at_once_is_accepted_every_time(
    run: ConformanceRun, no_leftover_tasks: None
) -> None:
    config = _target(run, "reference-ees-token")
    target = run.under_test(config, EvidenceLog())
    assert isinstance(target, EesUnderTest)
    token = target.token()
    body = edge_apis.request_body(config, next(e for e in config.eecs if e.role == "authorized"))
    headers = {"Authorization": f"Bearer {token}"}
    context = _context(run, config)
    path = edge_apis.EEC_REGISTRATION_PATH
    statuses = await _all([_one(config, context, "POST", path, json=body, headers=headers) for _ in range(CONNECTIONS)])
    assert statuses == [201] * CONNECTIONS, statuses


async def test_registration_race_of_one_eec_never_yields_a_5xx(run: ConformanceRun, no_leftover_tasks: None) -> None:
    config = _target(run, "reference-ees-local")
    body = edge_apis.request_body(config, next(e for e in config.eecs if e.role == "authorized"))
    context = _context(run, config)
    path = edge_apis.EEC_REGISTRATION_PATH
    statuses = await _all([_one(config, context, "POST", path, json=body) for _ in range(CONNECTIONS)])
    assert all(s == 201 or 400 <= s < 500 for s in statuses), statuses
    assert 201 in statuses


async def test_provisioning_race_of_one_eec_never_yields_a_5xx(run: ConformanceRun, no_leftover_tasks: None) -> None:
    config = _target(run, "reference-ecs")
    target = run.under_test(config, EvidenceLog())
    assert isinstance(target, EcsUnderTest)
    body = edge_apis.request_body(config, next(e for e in config.eecs if e.role == "authorized"))
    context = _context(run, config)
    path = edge_apis.SERVICE_PROVISIONING_PATH
    statuses = await _all([_one(config, context, "POST", path, json=body) for _ in range(CONNECTIONS)])
    assert statuses == [200] * CONNECTIONS, statuses
