"""Benchmark: what a conformance run costs, against the cost of the TLS handshakes it needs.

On demand, never in CI: ``python benchmarks/run_costs.py [--handshakes N] [--eecs N] [--tests-speedup]``.
One invocation measures, on this machine, and prints a table:

(a) floor: a minimal :mod:`ssl` client doing N fresh mutual-TLS handshakes plus one EEC
    registration each against the reference local-policy EES on loopback, once over HTTP/1.1 (a
    hand-written request) and once over HTTP/2 (hand-built frames, RFC 9113, the protocol TS 33.558
    6.1 mandates and most of a run's connections negotiate); the run's floor weighs the two by the
    ALPN its connections negotiated;
(b) the harness's marginal cost per TLS connection: (full ``conformance run --target reference``
    minus the fixed cost) / ``counts.tls_connections`` of its results.json, as a ratio to (a);
    (a) to (c) are measured in ``--rounds`` interleaved rounds (wall times on a shared machine drift
    by a third within minutes), each ratio within its round, and the medians are shown;
(c) fixed cost: a run selecting one case (``--req EES-POL-01``): interpreter, PKI, reference start,
    after one such run as a warm-up (the runs may write bytecode caches, :data:`RUN_ENVIRONMENT`);
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
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hpack
import httpx

from conformance.peers.credentials import CredentialFactory
from conformance.peers.material import HarnessMaterial
from conformance.reference.deployment import ReferenceDeployment
from conformance.targets import edge_apis
from conformance.targets.config import load_targets
from conformance.targets.model import TargetConfig

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10.0
RUN_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The runs measured may cache bytecode, as an installed harness has it: with caching off every run
would compile the harness's own modules again (about 0.2 s). A warm-up run writes the cache."""


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


def _timed(
    config: TargetConfig, count: int, alpn: str, exchange: Callable[[ssl.SSLSocket], None]
) -> tuple[float, float]:
    """Wall and CPU seconds per fresh mutual-TLS connection (offering ``alpn``) carrying ``exchange``.
    CPU is this process's, which includes the reference servers' threads, as a run's does."""
    context = _client_context(config, alpn=[alpn])
    url = httpx.URL(config.base_url)
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(count):
        with (
            socket.create_connection((url.host, url.port or 443), timeout=TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=config.fqdn) as tls,
        ):
            exchange(tls)
    return (time.perf_counter() - started) / count, (time.process_time() - cpu_started) / count


def _registration(config: TargetConfig) -> bytes:
    authorized = next(e for e in config.eecs if e.role == "authorized")
    return json.dumps(edge_apis.request_body(config, authorized)).encode()


def floor(config: TargetConfig, count: int) -> tuple[float, float]:
    """(a) Wall and CPU seconds per fresh mutual-TLS handshake + one HTTP/1.1 registration, plain ssl."""
    body = _registration(config)
    request = (
        f"POST {edge_apis.EEC_REGISTRATION_PATH} HTTP/1.1\r\nHost: {config.fqdn}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body

    def exchange(tls: ssl.SSLSocket) -> None:
        tls.sendall(request)
        reply = b""
        while chunk := tls.recv(65536):
            reply += chunk
        if not reply.startswith(b"HTTP/1.1 201"):
            raise SystemExit(f"floor: the reference EES answered {reply[:60]!r}")

    return _timed(config, count, "http/1.1", exchange)


def _h2_frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload


def _hpack_literal(name: str, value: str) -> bytes:
    """A literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2); short strings."""
    raw_name, raw_value = name.encode(), value.encode()
    assert len(raw_name) < 127 and len(raw_value) < 127
    return b"\x00" + bytes((len(raw_name),)) + raw_name + bytes((len(raw_value),)) + raw_value


def _h2_request(config: TargetConfig, body: bytes) -> bytes:
    """Preface, empty SETTINGS, one HEADERS and one DATA frame ending stream 1."""
    fields = (
        (":method", "POST"),
        (":scheme", "https"),
        (":authority", config.fqdn),
        (":path", edge_apis.EEC_REGISTRATION_PATH),
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
    )
    block = b"".join(_hpack_literal(name, value) for name, value in fields)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _h2_frame(0x4, 0, 0, b"")
    return preface + _h2_frame(0x1, 0x4, 1, block) + _h2_frame(0x0, 0x1, 1, body)


def _h2_exchange(tls: ssl.SSLSocket, request: bytes) -> int:
    """Send ``request``, acknowledge the server's SETTINGS, read to the end of stream 1: its status."""
    tls.sendall(request)
    buffer, status, decoder = b"", 0, hpack.Decoder()
    while True:
        while len(buffer) < 9 or len(buffer) < 9 + int.from_bytes(buffer[:3], "big"):
            chunk = tls.recv(65536)
            if not chunk:
                raise SystemExit("floor: the reference EES closed the HTTP/2 connection")
            buffer += chunk
        length, kind, flags = int.from_bytes(buffer[:3], "big"), buffer[3], buffer[4]
        stream = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
        payload, buffer = buffer[9 : 9 + length], buffer[9 + length :]
        if kind == 0x4 and not flags & 0x1:
            tls.sendall(_h2_frame(0x4, 0x1, 0, b""))
        elif kind == 0x1 and stream == 1:
            status = int(dict(decoder.decode(payload, raw=True))[b":status"])
        if stream == 1 and kind in (0x0, 0x1) and flags & 0x1:
            return status


def floor_h2(config: TargetConfig, count: int) -> tuple[float, float]:
    """(a) As :func:`floor`, over HTTP/2: ALPN h2, the request as frames."""
    request = _h2_request(config, _registration(config))

    def exchange(tls: ssl.SSLSocket) -> None:
        if tls.selected_alpn_protocol() != "h2" or _h2_exchange(tls, request) != 201:
            raise SystemExit(f"floor: no 201 over HTTP/2 from the reference EES ({tls.selected_alpn_protocol()})")

    return _timed(config, count, "h2", exchange)


def h2_share(record: dict[str, Any]) -> float:
    """Of the exchanges a run recorded that completed a handshake, the share that negotiated h2."""
    alpns: list[object] = [
        exchange["tls"].get("alpn")
        for case in record["cases"]
        for exchange in case["evidence"]
        if isinstance(exchange.get("tls"), dict) and exchange["tls"].get("version")
    ]
    return float(sum(alpn == "h2" for alpn in alpns)) / max(len(alpns), 1)


def conformance_run(*extra: str) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU seconds of one ``conformance run --target reference``, its results.json counts
    (with ``h2_share``, :func:`h2_share`)."""
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
            env=RUN_ENVIRONMENT,
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        record = json.loads((out / "results.json").read_text("utf-8"))
        counts: dict[str, Any] = {**record["counts"], "h2_share": h2_share(record)}
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


@dataclass
class Round:
    """One round of (a) to (c), measured back to back so that its ratios share the machine's state."""

    h1: tuple[float, float]
    h2: tuple[float, float]
    fixed: tuple[float, float, dict[str, Any]]
    full: tuple[float, float, dict[str, Any]]

    def floor(self, index: int) -> float:
        """The run's floor (0: wall, 1: CPU), the two floors weighed by the run's ALPN mix."""
        share = float(self.full[2]["h2_share"])
        return share * self.h2[index] + (1 - share) * self.h1[index]

    def marginal(self, index: int) -> float:
        """The run's marginal cost per TLS connection (0: wall, 1: CPU)."""
        connections = int(self.full[2]["tls_connections"]) - int(self.fixed[2]["tls_connections"])
        full, fixed = (self.full[0], self.fixed[0]) if index == 0 else (self.full[1], self.fixed[1])
        return (full - fixed) / max(connections, 1)

    def ratio(self, index: int = 0) -> float:
        return self.marginal(index) / self.floor(index)


def measure_round(local: TargetConfig, handshakes: int) -> Round:
    return Round(
        floor(local, handshakes), floor_h2(local, handshakes), conformance_run("--req", "EES-POL-01"), conformance_run()
    )


def _ms(values: list[float]) -> str:
    """The median in ms, with the range over the rounds."""
    return f"{statistics.median(values) * 1000:.2f} ms ({min(values) * 1000:.2f}-{max(values) * 1000:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handshakes", type=int, default=200, help="(a) fresh connections for the floor")
    parser.add_argument("--rounds", type=int, default=3, help="(a) to (c) measured this many times; medians")
    parser.add_argument("--eecs", type=int, default=200, help="(e) concurrent EECs")
    parser.add_argument("--tests-speedup", action="store_true", help="(d) also time the tests, -n 2 vs serial")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory() as scratch:
        deployment = ReferenceDeployment.start(Path(scratch))
        try:
            targets = _targets(deployment)
            local = targets["reference-ees-local"]
            floor(local, 5), floor_h2(local, 5)  # warm up
            conformance_run("--req", "EES-POL-01")  # warm-up: bytecode cache, page cache
            rounds = [measure_round(local, args.handshakes) for _ in range(max(args.rounds, 1))]
            seconds, latencies, errors = asyncio.run(
                _load(targets["reference-ecs"], targets["reference-ees-token"], args.eecs)
            )
        finally:
            deployment.stop()
    share = statistics.median(float(r.full[2]["h2_share"]) for r in rounds)
    for version, name in (("HTTP/1.1", "h1"), ("HTTP/2", "h2")):
        walls, cpus = [getattr(r, name)[0] for r in rounds], [getattr(r, name)[1] for r in rounds]
        rows.append((f"(a) floor over {version}", _ms(walls), f"plain ssl, per connection; CPU {_ms(cpus)}"))
    rows.append(
        (
            "(a) the run's floor, by its ALPN mix",
            _ms([r.floor(0) for r in rounds]),
            f"{share:.0%} of the run's connections negotiated h2; CPU {_ms([r.floor(1) for r in rounds])}",
        )
    )
    last = rounds[-1].full
    ratios, cpu_ratios = [r.ratio(0) for r in rounds], [r.ratio(1) for r in rounds]
    rows.append(
        (
            "(b) harness marginal cost per TLS connection",
            _ms([r.marginal(0) for r in rounds]),
            f"{statistics.median(ratios):.2f}x the run's floor ({min(ratios):.2f}-{max(ratios):.2f}; target <= 1.5x); "
            f"CPU {statistics.median(cpu_ratios):.2f}x; full run {statistics.median(r.full[0] for r in rounds):.2f} s, "
            f"{last[2]['tls_connections']} conns, {last[2]['cases']['total']} cases",
        )
    )
    fixed_walls = [r.fixed[0] for r in rounds]
    rows.append(
        (
            "(c) fixed cost (one case: --req EES-POL-01)",
            f"{statistics.median(fixed_walls):.2f} s",
            f"target < 1 s; range {min(fixed_walls):.2f}-{max(fixed_walls):.2f} s; "
            f"CPU {statistics.median(r.fixed[1] for r in rounds):.2f} s",
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
