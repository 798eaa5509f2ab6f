"""Server-wide faults that break the bracket around every case: lockout, refuse all, rate limit.

A conformance verdict on a negative case is only earned when the target still serves the valid
EEC around it. These disruptions make a reference server stop doing that part-way through a run
(or from the start), so the project's tests can prove the harness then reports INCONCLUSIVE
(and FAIL on the positive cases), never PASS on a negative one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

from starlette.types import ASGIApp, Receive, Scope, Send

from conformance.reference.faults import Disruption
from conformance.reference.policy import client_identity


def disrupted(app: ASGIApp, disruption: Disruption) -> ASGIApp:
    """``app`` behind ``disruption``; ``app`` itself when there is nothing to disrupt."""
    if disruption == Disruption():
        return app
    return _Disrupted(app, disruption)


class _Disrupted:
    def __init__(self, app: ASGIApp, disruption: Disruption) -> None:
        self.app, self.disruption = app, disruption
        self._lock = threading.Lock()
        self._seen: Counter[str | None] = Counter()
        self._window_started = float("-inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, detail = refusal
        body = json.dumps({"title": "Refused", "status": status, "detail": detail}).encode()
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
        if status == 503:
            headers.append((b"retry-after", str(int(self.disruption.rate_limit_window_s)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        d = self.disruption
        if d.refuse_everything:
            return 403, "this server refuses everything (fault)"
        with self._lock:
            eec = client_identity(scope)
            self._seen[eec] += 1
            if d.lockout_after and self._seen[eec] > d.lockout_after:
                return 403, "this EEC is locked out (fault)"
            if d.rate_limit_window_s:
                now = time.monotonic()
                if now - self._window_started < d.rate_limit_window_s:
                    return 503, "rate limit exceeded (fault)"
                self._window_started = now
        return None
