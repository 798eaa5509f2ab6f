"""Benchmark: what a conformance run costs, against the cost of the TLS handshakes it needs.

On demand, never in CI: ``python benchmarks/run_costs.py [--handshakes N] [--eecs N] [--tests-speedup]``.
One invocation measures, on this machine, and prints a table:

(a) floor: a minimal :mod:`ssl` client doing N fresh mutual-TLS handshakes plus one HTTP/1.1
    EEC registration each against the reference local-policy EES on loopback;
(b) the harness's marginal cost per TLS connection: (full ``conformance run --target reference``
    minus the fixed cost) / ``counts.tls_connections`` of its results.json, as a ratio to (a);
(c) fixed cost: a run selecting one case (``--req EES-POL-01``): interpreter, PKI, reference start;
    (b) and (c) also give the CPU time (user + sys) of the run processes, steadier than wall time
    on a machine other jobs share;
(d) with ``--tests-speedup``: the project's tests with ``-n 2`` against serial (takes minutes);
(e) the reference servers with 200 concurrent EECs, each provisioning at the ECS and then
    registering at the token EES with the token it got: throughput, p50/p99 latency, errors (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from conformance.peers.credentials import CredentialFactory
from conformance.peers.material import HarnessMaterial
from conformance.reference.deployment import ReferenceDeployment
from conformance.targets import edge_apis
from conformance.targets.config import load_targets
from conformance.targets.model import TargetConfig

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10.0


def _targets(deployment: ReferenceDeployment) -> dict[str, TargetConfig]:
    return {t.name: t for t in load_targets(deployment.target_files)}


def _client_context(config: TargetConfig, *, alpn: list[str] | None = None) -> ssl.SSLContext:
    material = HarnessMaterial.load(config.harness_material or "")
    authorized = next(e for e in config.eecs if e.role == "authorized")
    credential = CredentialFactory(material, vendor_certs=False).for_eec(authorized)
    context = ssl.create_default_context(cafile=str(config.trust_anchor))
    assert credential is not None
    credential.configure_cert(context)
    if alpn:
        context.set_alpn_protocols(alpn)
    return context


def floor(config: TargetConfig, count: int) -> tuple[float, float]:
    """(a) Wall and CPU seconds per fresh mutual-TLS handshake + one HTTP/1.1 registration, plain
    ssl. CPU is this process's, which includes the reference servers' threads, as a run's does."""
    context = _client_context(config, alpn=["http/1.1"])
    url = httpx.URL(config.base_url)
    authorized = next(e for e in config.eecs if e.role == "authorized")
    body = json.dumps(edge_apis.request_body(config, authorized)).encode()
    request = (
        f"POST {edge_apis.EEC_REGISTRATION_PATH} HTTP/1.1\r\nHost: {config.fqdn}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(count):
        with (
            socket.create_connection((url.host, url.port or 443), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=config.fqdn) as tls,
        ):
            tls.sendall(request)
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
            if not reply.startswith(b"HTTP/1.1 201"):
                raise SystemExit(f"floor: the reference EES answered {reply[:60]!r}")
    return (time.perf_counter() - started) / count, (time.process_time() - cpu_started) / count


def conformance_run(*extra: str) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds of one ``conformance run --target reference``, its results.json counts."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--target", "reference", *extra, "--out", str(out)],
            check=False,
            capture_output=True,
            timeout=900,
            cwd=ROOT,
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        counts: dict[str, Any] = json.loads((out / "results.json").read_text("utf-8"))["counts"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, counts


def tests_speedup() -> tuple[float, float]:
    """(d) Wall seconds of the project's tests, serial and with ``-n 2`` as tox runs them (worksteal)."""
    times = []
    for extra in ([], ["-n", "2", "--dist", "worksteal"]):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", *extra],
            check=False,
            capture_output=True,
            timeout=3600,
            cwd=ROOT,
        )
        times.append(time.perf_counter() - started)
    return times[0], times[1]


async def _eec(ecs: TargetConfig, ees: TargetConfig, contexts: dict[str, ssl.SSLContext]) -> list[float]:
    """One EEC: provision at the ECS, then register at the token EES with its token; latencies."""
    latencies: list[float] = []
    token = ""
    authorized = next(e for e in ecs.eecs if e.role == "authorized")
    for config, path in ((ecs, edge_apis.SERVICE_PROVISIONING_PATH), (ees, edge_apis.EEC_REGISTRATION_PATH)):
        headers = {}
        if config is ees:
            headers["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(verify=contexts[config.name], timeout=TIMEOUT, trust_env=False) as client:
            started = time.perf_counter()
            response = await client.post(
                f"{config.base_url}{path}",
                json=edge_apis.request_body(config, authorized),
                headers=headers,
                extensions={"sni_hostname": config.fqdn},
            )
            latencies.append(time.perf_counter() - started)
        if response.status_code != (200 if config is ecs else 201):
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        if config is ecs:
            token = edge_apis.tokens_in_response(ecs, response.json())["ees-token"]
    return latencies


async def _load(ecs: TargetConfig, ees: TargetConfig, eecs: int) -> tuple[float, list[float], int]:
    contexts = {c.name: _client_context(c) for c in (ecs, ees)}
    started = time.perf_counter()
    async with asyncio.timeout(300):
        results = await asyncio.gather(*(_eec(ecs, ees, contexts) for _ in range(eecs)), return_exceptions=True)
    seconds = time.perf_counter() - started
    latencies = [x for r in results if isinstance(r, list) for x in r]
    errors = sum(isinstance(r, BaseException) for r in results)
    return seconds, latencies, errors


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handshakes", type=int, default=200, help="(a) fresh connections for the floor")
    parser.add_argument("--eecs", type=int, default=200, help="(e) concurrent EECs")
    parser.add_argument("--tests-speedup", action="store_true", help="(d) also time the tests, -n 2 vs serial")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory() as scratch:
        deployment = ReferenceDeployment.start(Path(scratch))
        try:
            targets = _targets(deployment)
            floor(targets["reference-ees-local"], 5)  # warm up
            per_handshake, per_handshake_cpu = floor(targets["reference-ees-local"], args.handshakes)
            seconds, latencies, errors = asyncio.run(
                _load(targets["reference-ecs"], targets["reference-ees-token"], args.eecs)
            )
        finally:
            deployment.stop()
    rows.append(
        (
            "(a) floor: mutual-TLS handshake + 1 request",
            f"{per_handshake * 1000:.2f} ms/conn",
            f"plain ssl; CPU {per_handshake_cpu * 1000:.2f} ms/conn",
        )
    )

    fixed_s, fixed_cpu, fixed_counts = conformance_run("--req", "EES-POL-01")
    full_s, full_cpu, full_counts = conformance_run()
    connections = int(full_counts["tls_connections"]) - int(fixed_counts["tls_connections"])
    marginal = (full_s - fixed_s) / max(connections, 1)
    marginal_cpu = (full_cpu - fixed_cpu) / max(connections, 1)
    rows.append(
        (
            "(b) harness marginal cost per TLS connection",
            f"{marginal * 1000:.2f} ms/conn",
            f"{marginal / per_handshake:.2f}x floor (target <= 1.5x); full run {full_s:.2f} s, "
            f"{full_counts['tls_connections']} conns, {full_counts['cases']['total']} cases; "
            f"CPU {marginal_cpu * 1000:.2f} ms/conn = {marginal_cpu / per_handshake_cpu:.2f}x the floor's CPU",
        )
    )
    rows.append(
        (
            "(c) fixed cost (one case: --req EES-POL-01)",
            f"{fixed_s:.2f} s",
            f"target < 1 s; {fixed_counts['tls_connections']} conns; CPU {fixed_cpu:.2f} s",
        )
    )
    if args.tests_speedup:
        serial, parallel = tests_speedup()
        rows.append(
            (
                "(d) tests -n 2 vs serial",
                f"{serial / parallel:.2f}x",
                f"serial {serial:.1f} s, -n 2 {parallel:.1f} s; {os.cpu_count()} CPUs (target >= 1.6x)",
            )
        )
    else:
        rows.append(("(d) tests -n 2 vs serial", "skipped", "give --tests-speedup (takes minutes)"))
    requests = len(latencies)
    rows.append(
        (
            f"(e) reference: {args.eecs} concurrent EECs provision+register",
            f"{requests / seconds:.0f} req/s",
            f"p50 {_percentile(latencies, 0.5) * 1000:.0f} ms, p99 {_percentile(latencies, 0.99) * 1000:.0f} ms, "
            f"{errors} errors (must be 0), {seconds:.2f} s",
        )
    )
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
