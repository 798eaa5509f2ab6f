"""How to reproduce a case by hand: the harness command, and the wire as ``curl`` and ``openssl`` see it.

The commands name the client certificate and key that ``conformance pki export`` writes
(``eec-<EEC ID>.pem``/``.key``); a case that presented a deliberately broken certificate says so
in its evidence, and the harness command reproduces it exactly.
"""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import urlsplit

_SKIP_HEADERS = frozenset({"host", "content-length", "accept-encoding", "user-agent", "connection", "accept"})


def reproduce_block(command: str, evidence: list[dict[str, Any]]) -> dict[str, str]:
    """``command`` plus a ``curl`` and an ``openssl s_client`` line for the case's first exchange."""
    block = {"command": command}
    exchange = next((e for e in evidence if e.get("kind") == "HttpExchange" and _of_the_case(e)), None)
    if exchange is None:
        return block
    block["curl"] = _curl(exchange)
    block["openssl"] = _openssl(exchange)
    return block


def _of_the_case(exchange: dict[str, Any]) -> bool:
    label = str(exchange.get("label", ""))
    return "sanity probe" not in label and "positive control after" not in label


def _curl(exchange: dict[str, Any]) -> str:
    tls = exchange.get("tls") or {}
    url = urlsplit(str(exchange["url"]))
    server_name = tls.get("server_name") or url.hostname or ""
    port = url.port or 443
    words = ["curl", "-sS", "-i", "--cacert", "TRUST_ANCHOR.pem"]
    if tls.get("client_certificate"):
        words += ["--cert", "eec.pem", "--key", "eec.key"]
    words += ["--http2" if exchange.get("http_version") == "HTTP/2" or tls.get("alpn") == "h2" else "--http1.1"]
    if url.hostname and url.hostname != server_name:
        words += ["--connect-to", f"{server_name}:{port}:{url.hostname}:{port}"]
    words += ["-X", str(exchange["method"])]
    for name, value in (exchange.get("request_headers") or {}).items():
        if name.lower() not in _SKIP_HEADERS:
            words += ["-H", f"{name}: {value}"]
    body = exchange.get("request_body") or ""
    if body:
        words += ["--data-binary", _compact(body)]
    words.append(f"https://{server_name}:{port}{url.path}{'?' + url.query if url.query else ''}")
    return shlex.join(words)


def _openssl(exchange: dict[str, Any]) -> str:
    tls = exchange.get("tls") or {}
    url = urlsplit(str(exchange["url"]))
    words = ["openssl", "s_client", "-connect", f"{url.hostname}:{url.port or 443}"]
    words += ["-servername", str(tls.get("server_name") or url.hostname), "-CAfile", "TRUST_ANCHOR.pem"]
    if tls.get("alpn"):
        words += ["-alpn", str(tls["alpn"])]
    if tls.get("client_certificate"):
        words += ["-cert", "eec.pem", "-key", "eec.key"]
    return shlex.join(words)


def _compact(body: str) -> str:
    try:
        return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or absurdly nested: as it was sent
        return body
