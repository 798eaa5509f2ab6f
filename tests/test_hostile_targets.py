"""The real CLI against hostile targets: it never hangs, never crashes, never lets a PASS slip through.

Every run declares ``timeout = 1`` and must end within :data:`LIMIT` seconds; the CLI is a
subprocess that must have exited, and every server thread must have stopped (``LoopbackServer``
asserts that on close). A target that is down, stalls, refuses everything or talks garbage
never earns a PASS on a negative case; one that accepts everything FAILs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import hostile
import pytest
from hostile import HostileSite, Keys
from loopback import Behaviour
from run_cli import Finished, conformance

LIMIT = 30.0
HARNESS_BUG = ("Traceback", "INTERNALERROR")


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys.create()


@pytest.fixture(autouse=True)
def no_threads_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left behind: {left}"


def _run(tmp_path: Path, keys: Keys, behaviour: Behaviour, *req: str, role: str = "ees", **site: bool) -> Finished:
    with HostileSite.open(tmp_path / "site", keys, behaviour, role=role, **site) as target:
        selection = [arg for prefix in req for arg in ("--req", prefix)]
        run = conformance("run", "--target", target.target_file, *selection, out=tmp_path / "out", limit=LIMIT + 30)
    assert run.seconds < LIMIT, f"the run took {run.seconds:.1f} s\n{run.output}"
    assert not any(marker in run.output for marker in HARNESS_BUG), run.output
    return run


def _negative(run: Finished) -> list[dict[str, object]]:
    return [c for c in run.cases() if not c.get("positive_control")]


def _never_pass_on_a_negative_case(run: Finished) -> None:
    passed = [c["id"] for c in _negative(run) if c["verdict"] in ("PASS", "WARN")]
    assert not passed, f"negative cases passed against a hostile target: {passed}\n{run.output}"
    errors = [c["id"] for c in run.cases() if c["verdict"] == "ERROR"]
    assert not errors, f"harness ERRORs: {errors}\n{run.output}"


UNREACHABLE = {
    "silent": (hostile.silent, "timeout"),
    "stall-mid-handshake": (hostile.stall_mid_handshake, "timeout"),
    "plain-http": (hostile.plain_http, "unreachable"),
    "garbage": (hostile.garbage, "unreachable"),
}


@pytest.mark.parametrize("name", list(UNREACHABLE))
def test_no_tls_is_inconclusive_with_one_message(tmp_path: Path, keys: Keys, name: str) -> None:
    behaviour, says = UNREACHABLE[name]
    run = _run(tmp_path, keys, behaviour, tls=False)
    assert run.status == 2, run.output
    assert set(run.verdicts().values()) <= {"INCONCLUSIVE", "N/A"}, run.verdicts()
    assert says in run.output
    assert "VALID client certificate" not in run.output  # nothing was refused: there was no TLS


SLOW_OR_BROKEN = {
    "byte-by-byte": hostile.byte_by_byte,
    "endless-body": hostile.endless_body,
    "huge-body": hostile.huge_body,
    "invalid-json": hostile.invalid_json,
    "server-error": hostile.server_error,
    "refuse-everything": hostile.refuse_everything,
}


@pytest.mark.parametrize("name", list(SLOW_OR_BROKEN))
def test_slow_or_broken_answers_earn_no_pass(tmp_path: Path, keys: Keys, name: str) -> None:
    run = _run(tmp_path, keys, SLOW_OR_BROKEN[name])
    assert run.status in (1, 2), run.output
    _never_pass_on_a_negative_case(run)
    assert {c["verdict"] for c in _negative(run)} <= {"INCONCLUSIVE", "N/A"}, run.verdicts()
    assert run.results()["counts"]["tls_connections"] <= 10, "a failed sanity probe must spare the target"


def test_huge_body_is_cut_and_the_evidence_says_so(tmp_path: Path, keys: Keys) -> None:
    run = _run(tmp_path, keys, hostile.huge_body)
    sanity = run.results()["sanity_probes"]
    bodies = [e.get("response_body", "") for probe in sanity for e in probe["evidence"]]
    assert any("cut at max_body_bytes" in b for b in bodies), sanity
    assert all(len(b) < 2 * hostile.MIB for b in bodies)
    assert "body is not JSON" in sanity[0]["message"], sanity[0]["message"]


def test_invalid_json_fails_the_sanity_probe_naming_the_body(tmp_path: Path, keys: Keys) -> None:
    run = _run(tmp_path, keys, hostile.invalid_json)
    message = run.results()["sanity_probes"][0]["message"]
    assert "FAILED" in message, message
    assert 'body is not JSON: \'{"eecRegId"' in message, message
    assert {c["verdict"] for c in _negative(run)} <= {"INCONCLUSIVE", "N/A"}, run.verdicts()


def test_accept_everything_fails_every_negative_case(tmp_path: Path, keys: Keys) -> None:
    # The client-certificate cases and the token cases: what this server's application accepts. (Its TLS
    # library still refuses TLS 1.0 and certificates not for client authentication: TLS-04/05 hold.)
    selection = ("EES-TLS-01", "EES-TLS-02", "EES-TLS-03", "EES-TOK-0")
    run = _run(tmp_path, keys, hostile.accept_everything("ees"), *selection, accept_any_client=True)
    assert run.status == 1, run.output
    negative = _negative(run)
    judged = [c for c in negative if c["verdict"] != "N/A"]
    assert judged, run.output
    # FAIL, or WARN where the case judges only a best-practice (S) part: served is never PASS
    assert all(c["verdict"] in ("FAIL", "WARN") for c in judged), {c["id"]: c["verdict"] for c in judged}
    assert sum(c["verdict"] == "FAIL" for c in judged) >= len(judged) - 5


def test_random_closes_never_crash_the_harness(tmp_path: Path, keys: Keys) -> None:
    run = _run(tmp_path, keys, hostile.random_close(seed=33558), "EES-TLS", "EES-TOK-01", "EES-TOK-02")
    assert run.status in (1, 2), run.output
    assert not [c["id"] for c in run.cases() if c["verdict"] == "ERROR"], run.output


@pytest.mark.parametrize("behaviour", [hostile.huge_token, hostile.garbage_token], ids=["1MiB", "not-a-jws"])
def test_ecs_handing_out_bad_tokens(tmp_path: Path, keys: Keys, behaviour: Behaviour) -> None:
    run = _run(tmp_path, keys, behaviour, "ECS-TOK", role="ecs")
    assert run.status in (1, 2), run.output
    assert not [c["id"] for c in run.cases() if c["verdict"] == "ERROR"], run.output
    assert not [c["id"] for c in run.cases() if c["verdict"] == "PASS" and "TOK" in c["id"]], run.verdicts()
