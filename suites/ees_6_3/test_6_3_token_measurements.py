"""Implementation-defined token facts (EES-TOK-13, I): measured and reported, never failed.

Each case probes around a valid token with a short, bounded ladder of variants (one request
each, stopping at the first refusal where the ladder is monotonic) and records what it found as
``Measurement`` evidence.

The two parts of M requirements that the catalogue grades S ("``nbf`` in the future is
refused", "a token without ``sub``") are judged in ``test_6_3_token_authorization.py`` with
``@pytest.mark.req(..., level="S")``; here they are only measured (the skew accepted on ``nbf``).
"""

import json
import time

import pytest

from conformance.checks import http
from conformance.peers import forged_tokens
from conformance.peers.fake_ecs_issuer import sign

pytestmark = pytest.mark.needs("token-authorization")

_LAGS = (5, 30, 60, 120, 300, 3600)
"""Seconds past ``exp`` / before ``nbf`` / after ``iat``: a ladder, bounded to six requests."""


def _accepted(exchange):
    http.answered(exchange)
    return exchange.status is not None and 200 <= exchange.status < 300


def _ladder(ees, claim_of):
    """The largest lag accepted before the first refusal (0: none), and what each step got."""
    largest, steps = 0, []
    for lag in _LAGS:
        exchange = ees.register(token=ees.token(**claim_of(lag)), label=f"EEC registration, lag {lag} s")
        steps.append(f"{lag} s: {exchange.status}")
        if not _accepted(exchange):
            break
        largest = lag
    return largest, "; ".join(steps)


@pytest.mark.req("EES-TOK-13")
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_measures_clock_skew_accepted(ees, claim):
    """The clock skew the EES accepts on exp (past), nbf (future) and iat (future)."""
    now = int(time.time())
    claim_of = {
        "exp": lambda lag: {"exp": now - lag},
        "nbf": lambda lag: {"nbf": now + lag},
        "iat": lambda lag: {"iat": now + lag, "exp": now + lag + 300},
    }[claim]
    largest, steps = _ladder(ees, claim_of)
    ees.measure(f"largest {claim} skew accepted (of {', '.join(map(str, _LAGS))} s)", largest, "s")
    ees.measure(f"{claim} ladder", steps)
    if claim == "nbf":
        ees.measure("token with nbf 5 min in the future accepted (catalogue: refused, S)", largest >= 300)


def _algorithms_for(issuer):
    key_type = issuer.key.key_type
    if key_type == "RSA":
        return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
    if key_type == "OKP":
        return ["EdDSA", "Ed25519"]
    return [issuer.algorithm]


@pytest.mark.req("EES-TOK-13")
def test_measures_signature_algorithms_accepted(ees):
    """The signature algorithms the EES accepts, of those the declared issuer key can make."""
    accepted = []
    for alg in _algorithms_for(ees.issuer):
        exchange = ees.register(token=ees.issuer.mint(ees.claims(), alg=alg), label=f"EEC registration, alg {alg}")
        if _accepted(exchange):
            accepted.append(alg)
    ees.measure("signature algorithms accepted", accepted)


@pytest.mark.req("EES-TOK-13")
def test_measures_typ_values_accepted(ees):
    """The typ header values the EES accepts: at+jwt, application/at+jwt, JWT, none."""
    issuer, accepted = ees.issuer, []
    for typ in ("at+jwt", "application/at+jwt", "JWT", None):
        header = {"alg": issuer.algorithm, "kid": issuer.kid, **({"typ": typ} if typ else {})}
        token = sign(header, json.dumps(ees.claims()).encode(), issuer.key)
        if _accepted(ees.register(token=token, label=f"EEC registration, typ {typ or '(absent)'}")):
            accepted.append(typ or "(absent)")
    ees.measure("typ values accepted", accepted)


@pytest.mark.req("EES-TOK-13")
def test_measures_largest_token_accepted(ees):
    """The largest validly signed token the EES accepts (2, 4, 6, 8 KiB; stops at the first refusal)."""
    largest = 0
    for size in (2048, 4096, 6144, 8192):
        token = forged_tokens.oversized(ees.issuer, ees.claims(), size=size)
        if not _accepted(ees.register(token=token, label=f"EEC registration, token of {len(token)} chars")):
            break
        largest = len(token)
    ees.measure("largest token accepted (of 2, 4, 6, 8 KiB)", largest, "chars")
