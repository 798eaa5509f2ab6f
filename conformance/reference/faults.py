"""Named faults: deliberate, one-at-a-time deviations of the reference ECS and EES.

The reference servers are correct to TS 33.558 clauses 6.2/6.3. The harness proves that each
of its checks *can* fail by switching a fault on and watching the matching check turn red::

    faults = parse_faults(["ees.ignores-aud", "ecs.token-without-sub"])
    app = build_ees_app(settings, faults)          # only the EES ones affect the EES

Each fault changes exactly the one behaviour its name says and nothing else. TLS faults act
on the server's TLS context, which the deployment builds: :func:`tls_knobs` tells it how.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypedDict

from conformance.reference.tls import ClientAuth

Role = Literal["ecs", "ees"]


@dataclass(frozen=True)
class Fault:
    """One deliberate deviation: its name, the server it affects, what it does, what it breaks."""

    name: str
    role: Role
    summary: str
    requirements: tuple[str, ...]


def _fault(name: str, summary: str, *requirements: str) -> Fault:
    role: Role = "ecs" if name.startswith("ecs.") else "ees"
    return Fault(name, role, summary, requirements)


_CATALOGUE = (
    _fault(
        "ecs.client-cert-optional",
        "TLS requests a client certificate but does not require one; the app answers 403 without it.",
        "ECS-TLS-01",
    ),
    _fault(
        "ees.client-cert-optional",
        "TLS requests a client certificate but does not require one; the app answers 403 without it.",
        "EES-TLS-01",
    ),
    _fault(
        "ecs.accepts-any-client-cert",
        "TLS also trusts the rogue and unrelated test CAs and ignores certificate validity times.",
        "ECS-TLS-02",
        "ECS-TLS-03",
    ),
    _fault(
        "ees.accepts-any-client-cert",
        "TLS also trusts the rogue and unrelated test CAs and ignores certificate validity times.",
        "EES-TLS-02",
        "EES-TLS-03",
    ),
    _fault(
        "ecs.skips-gpsi-check",
        "A ueId (GPSI) that does not belong to the authenticated EEC is accepted.",
        "ECS-GPSI-01",
    ),
    _fault(
        "ees.skips-gpsi-check",
        "A ueId (GPSI) that does not belong to the authenticated EEC is accepted; in token mode the "
        "ueId is then judged only by the token's sub.",
        "EES-GPSI-01",
    ),
    _fault(
        "ecs.skips-local-policy",
        "An authenticated EEC that local policy does not authorize is served (and gets tokens).",
        "ECS-AUTHZ-01",
    ),
    _fault(
        "ecs.invalid-provisioning-response",
        "The 200 ECSServProvResp carries 'ednCnfgInfo: []' (violates minItems 1).",
        "ECS-AUTHZ-02",
    ),
    _fault("ecs.token-without-sub", "Issued EES access tokens carry no 'sub' claim.", "ECS-TOK-06"),
    _fault(
        "ecs.plain-error-bodies",
        "Refusals carry the right status but a text/plain body instead of ProblemDetails.",
        "ECS-RESP-01",
    ),
    _fault(
        "ees.rejects-valid-token",
        "A valid token is refused: the EES checks 'aud' against a wrong name.",
        "EES-TOK-01",
        "EES-RESP-01",
    ),
    _fault("ees.ignores-aud", "The EES does not check the token's 'aud' claim at all.", "EES-TOK-05"),
    _fault(
        "ees.accepts-alg-none",
        "Unsigned tokens with alg 'none' (any letter case) are accepted without verification.",
        "EES-TOK-03",
    ),
    _fault(
        "ees.falls-back-to-local-policy",
        "Token-based EES: a missing or invalid token (a 401 case) falls back to local policy (fail open).",
        "EES-TOK-10",
        # failing open also serves what each of these refuses:
        "EES-TOK-02",
        "EES-TOK-03",
        "EES-TOK-05",
    ),
    _fault(
        "ees.refuses-authorized-eec",
        "Local-authorization EES: an EEC that local policy allows is refused.",
        "EES-POL-01",
    ),
    _fault(
        "ees.token-bypasses-local-policy",
        "Local-authorization EES: any request carrying a Bearer token is served, even for an EEC local policy refuses.",
        "EES-POL-02",
    ),
    _fault(
        "ees.skips-local-policy",
        "Local-authorization EES: every authenticated EEC is served, whatever local policy says.",
        "EES-POL-02",
    ),
)

FAULTS: dict[str, Fault] = {fault.name: fault for fault in _CATALOGUE}
"""Every known fault by name."""


def parse_faults(names: Iterable[str]) -> frozenset[str]:
    """Validate fault names (e.g. from the command line); an unknown one is a ``ValueError``."""
    chosen = frozenset(name.strip() for name in names if name.strip())
    unknown = sorted(chosen - FAULTS.keys())
    if unknown:
        known = ", ".join(sorted(FAULTS))
        raise ValueError(f"unknown reference fault(s) {', '.join(unknown)}; known faults: {known}")
    return chosen


def faults_for(role: Role) -> tuple[Fault, ...]:
    """The faults that affect the ECS or the EES, in catalogue order."""
    return tuple(fault for fault in _CATALOGUE if fault.role == role)


def is_on(faults: frozenset[str], name: str) -> bool:
    """Whether fault ``name`` is switched on; a misspelt ``name`` in our own code is a ``KeyError``."""
    if name not in FAULTS:
        raise KeyError(f"no such reference fault: {name}")
    return name in faults


class TlsKnobs(TypedDict):
    """How the deployment must build a server's TLS context for the active faults."""

    client_auth: ClientAuth
    check_time: bool
    trust_rogue_ca: bool


def tls_knobs(faults: frozenset[str], role: Role) -> TlsKnobs:
    """The TLS settings for ``role`` (``"ecs"``/``"ees"``); without faults: strict mutual TLS."""
    any_cert = is_on(faults, f"{role}.accepts-any-client-cert")
    optional = is_on(faults, f"{role}.client-cert-optional")
    return TlsKnobs(
        client_auth="optional" if optional else "required",
        check_time=not any_cert,
        trust_rogue_ca=any_cert,
    )
