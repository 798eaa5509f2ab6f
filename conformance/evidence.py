"""Evidence: what the harness saw, captured by peers and judged by checks.

Peers (the fake EEC, the token issuer) record facts here and never judge; checks read them
and never do I/O. One :class:`EvidenceLog` per test is the single source of every report.
Everything here serialises to plain JSON through :func:`to_jsonable`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_CHARS = 4096
"""Bodies are truncated to this many characters in evidence; memory stays bounded."""
MAX_PARSED_BODY_BYTES = 64 * 1024
"""Longer bodies are shown as their first :data:`MAX_BODY_CHARS` characters of text, not parsed."""

_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_FORM_SECRET = re.compile(r"(?i)(?<![^&?\s])(access_token|client_secret|password|refresh_token)=([^&\s]+)")
"""A secret in an ``application/x-www-form-urlencoded`` body or a query string."""
_SECRET_KEYS = frozenset({"access_token", "accesstoken", "client_secret", "password", "refresh_token"})


class ConnectionOutcome(enum.StrEnum):
    """How a connection attempt ended, as seen from the client side."""

    ESTABLISHED = "established"
    """TLS came up and an HTTP response arrived."""
    REFUSED_WITH_ALERT = "refused-with-alert"
    """The server sent a fatal TLS alert (in the handshake, or at the first read in TLS 1.3)."""
    CLOSED_WITHOUT_ALERT = "closed-without-alert"
    """The server closed the connection before any HTTP response, without an alert."""
    SERVER_CERT_REJECTED = "server-cert-rejected"
    """Our side rejected the server certificate (untrusted, wrong name, expired)."""
    CONNECTION_REFUSED = "connection-refused"
    """Nothing listens at the address (TCP RST)."""
    TIMEOUT = "timeout"
    """The peer did not answer in time (connect, handshake or read)."""
    PROTOCOL_ERROR = "protocol-error"
    """The peer answered with something that is not valid TLS or HTTP."""


@dataclass
class CertSummary:
    """The facts of one X.509 certificate that matter to a verdict."""

    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sans: list[str] = field(default_factory=list)
    extended_key_usage: list[str] = field(default_factory=list)
    sha256: str = ""


@dataclass
class TlsFacts:
    """One TLS connection attempt: what was negotiated, presented and how it ended."""

    outcome: ConnectionOutcome
    server_name: str = ""
    address: str = ""
    version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    alert: str | None = None
    """The OpenSSL reason naming the alert the server sent, e.g. ``TLSV1_ALERT_UNKNOWN_CA``."""
    phase: str | None = None
    """``handshake`` or ``first-read`` (TLS 1.3 reports client-certificate refusal after the handshake)."""
    detail: str = ""
    client_certificate: CertSummary | None = None
    server_chain: list[CertSummary] = field(default_factory=list)

    @property
    def alert_name(self) -> str | None:
        """The alert as RFC 8446 names it (``unknown_ca``), from OpenSSL's reason (``TLSV1_ALERT_UNKNOWN_CA``)."""
        if not self.alert or "_ALERT_" not in self.alert:
            return None
        return self.alert.split("_ALERT_", 1)[1].lower()

    @property
    def refused(self) -> bool:
        """The server refused the connection: an alert or a close before any HTTP response."""
        return self.outcome in (ConnectionOutcome.REFUSED_WITH_ALERT, ConnectionOutcome.CLOSED_WITHOUT_ALERT)


@dataclass
class HttpExchange:
    """One request and its response (or the lack of one), secrets redacted."""

    label: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    tls: TlsFacts
    status: int | None = None
    http_version: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: float | None = None
    response_json: Any = None
    """The parsed JSON body (unredacted, for checks); not written to reports."""

    @property
    def answered(self) -> bool:
        return self.status is not None

    def header(self, name: str) -> str | None:
        """A response header, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.response_headers.items() if k.lower() == lowered), None)

    def summary(self) -> str:
        """One line for failure messages: ``POST https://... -> 403 (application/problem+json)``."""
        if self.status is None:
            return f"{self.method} {self.url} -> no HTTP response ({self.tls.outcome}: {self.tls.detail})"
        return f"{self.method} {self.url} -> {self.status} ({self.header('content-type') or 'no content-type'})"


@dataclass
class TokenFacts:
    """A JWT seen or minted by the harness: decoded header and claims, the compact form redacted."""

    label: str
    header: dict[str, Any]
    claims: dict[str, Any]
    redacted: str
    verified: bool | None = None
    """Whether the signature verified under the declared keys; ``None`` if not checked."""
    problem: str = ""
    sha256: str = ""
    """SHA-256 of the compact form: tells tokens apart without keeping them."""


@dataclass
class Note:
    """Free-form evidence: a measured value, a declaration the verdict relied on."""

    label: str
    text: str


@dataclass
class Measurement:
    """A measured fact of an implementation-defined (I-level) behaviour: reported, never judged."""

    label: str
    name: str
    value: Any
    unit: str = ""


Record = HttpExchange | TokenFacts | Note | Measurement


class EvidenceLog:
    """The evidence of one test, in the order it was captured."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def add(self, record: Record) -> Record:
        self.records.append(record)
        return record

    def note(self, label: str, text: str) -> None:
        self.add(Note(label, text))

    def measure(self, label: str, name: str, value: Any, unit: str = "") -> None:
        self.add(Measurement(label, name, value, unit))

    def measurements(self) -> list[Measurement]:
        return [r for r in self.records if isinstance(r, Measurement)]

    def exchanges(self) -> list[HttpExchange]:
        return [r for r in self.records if isinstance(r, HttpExchange)]

    def to_list(self) -> list[dict[str, Any]]:
        return [{"kind": type(r).__name__, **to_jsonable(r)} for r in self.records]


def redact_token(token: str) -> str:
    """Keep a token recognisable in evidence without making it replayable."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:12]
    return f"{token[:12]}…[redacted {len(token)} chars, sha256:{digest}]"


def redact_text(text: str) -> str:
    """Redact every JWT-looking string in a header value or body."""
    text = _FORM_SECRET.sub(_redact_form_secret, text)
    return _JWT_LIKE.sub(lambda m: redact_token(m.group(0)), text)


def _redact_form_secret(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if name.lower() in ("client_secret", "password"):  # nothing of a password is worth showing
        return f"{name}=…[redacted {len(value)} chars]"
    return f"{name}={redact_token(value)}"


def redact_json(value: Any) -> Any:
    """Redact secrets in a parsed JSON document: token members and JWT-looking strings."""
    if isinstance(value, dict):
        return {
            k: (redact_token(str(v)) if k.lower() in _SECRET_KEYS and v else redact_json(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def render_body(raw: bytes) -> str:
    """A body for evidence: pretty JSON if it parses, text otherwise; redacted and truncated."""
    if not raw:
        return ""
    if len(raw) > MAX_PARSED_BODY_BYTES:  # megabytes parsed and pretty-printed to keep 4 KiB: wasted
        head = redact_text(raw[:MAX_BODY_CHARS].decode("utf-8", errors="replace"))
        return f"{head}…[truncated, {len(raw)} bytes in all]"
    try:
        text = json.dumps(redact_json(json.loads(raw)), indent=1, ensure_ascii=False)
    except (ValueError, RecursionError):  # RecursionError: a deeply nested document, e.g. a robustness probe
        text = redact_text(raw.decode("utf-8", errors="replace"))
    if len(text) > MAX_BODY_CHARS:
        text = f"{text[:MAX_BODY_CHARS]}…[truncated, {len(raw)} bytes in all]"
    return text


def to_jsonable(obj: Any) -> Any:
    """Dataclasses and enums to plain JSON values; ``response_json`` is left out (unredacted)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "response_json"}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj
