"""Benchmark: how long a full conformance run against the embedded reference takes.

Run on demand, never in CI: ``python benchmarks/reference_run.py [--runs N]``. Prints, per run,
the wall time of the whole command (interpreter start, reference start, every case), the
number of cases and TLS connections from results.json, and the median over the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(out: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--target", "reference", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    counts = json.loads((out / "results.json").read_text("utf-8"))["counts"]
    return seconds, int(counts["total"]), int(counts["tls_connections"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for n in range(args.runs):
            seconds, cases, connections = one_run(Path(scratch) / str(n))
            times.append(seconds)
            print(f"run {n + 1}: {seconds:.2f} s, {cases} cases, {connections} TLS connections")
    print(f"median {statistics.median(times):.2f} s over {args.runs} runs")


if __name__ == "__main__":
    main()
