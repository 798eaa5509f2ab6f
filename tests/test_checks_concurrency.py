"""The concurrency checks over a burst of exchanges: each holds on a good burst and fails on a bad one."""

from __future__ import annotations

import pytest
from evidence_factory import exchange

from conformance.checks import concurrency
from conformance.errors import CheckFailed, Inconclusive
from conformance.evidence import ConnectionOutcome


def test_a_token_refused_on_one_connection_fails_ees_tok_01() -> None:
    concurrency.token_accepted_on_every_connection([exchange(201), exchange(201), exchange(409)])
    with pytest.raises(CheckFailed) as caught:
        concurrency.token_accepted_on_every_connection([exchange(201), exchange(401), exchange(403)])
    assert caught.value.requirement == "EES-TOK-01"
    assert caught.value.title.startswith("2 of 3 requests: a valid token was refused")


def test_a_5xx_or_no_answer_fails_the_robustness_requirement_named() -> None:
    concurrency.answered_without_server_error([exchange(201), exchange(429)], requirement="EES-ROB-01")
    silent = exchange(None, outcome=ConnectionOutcome.CLOSED_WITHOUT_ALERT)
    for broken in (exchange(500), silent):
        with pytest.raises(CheckFailed) as caught:
            concurrency.answered_without_server_error([exchange(201), broken], requirement="EES-ROB-01")
        assert caught.value.requirement == "EES-ROB-01"


def test_a_burst_nobody_was_served_in_is_no_verdict() -> None:
    concurrency.served_at_least_once([exchange(503), exchange(201)], status=201)
    with pytest.raises(Inconclusive, match="precondition failed: none of 2 connections"):
        concurrency.served_at_least_once([exchange(503), exchange(429)], status=201)
