"""Synthetic evidence for the checks' unit tests: one passing and one failing object each."""

from __future__ import annotations

import json
from typing import Any

from conformance.evidence import ConnectionOutcome, HttpExchange, TlsFacts, TokenFacts


def exchange(
    status: int | None = 200,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    outcome: ConnectionOutcome = ConnectionOutcome.ESTABLISHED,
    alert: str | None = None,
) -> HttpExchange:
    tls = TlsFacts(outcome=outcome, server_name="ecs.example.test", version="TLSv1.3", alert=alert, detail=alert or "")
    return HttpExchange(
        label="test",
        method="POST",
        url="https://127.0.0.1:1/x",
        request_headers={},
        request_body="",
        tls=tls,
        status=status,
        response_headers=headers or {},
        response_body=json.dumps(body) if body is not None else "",
        response_json=body,
    )


def token(claims: dict[str, Any]) -> TokenFacts:
    return TokenFacts(label="token for ees-1", header={"alg": "ES256"}, claims=claims, redacted="eyJ…")
