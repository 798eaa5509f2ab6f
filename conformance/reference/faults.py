"""Named faults: deliberate deviations of the reference ECS and EES, as data.

The reference servers are correct to TS 33.558 clauses 6.2/6.3. The harness proves that each of
its checks *can* fail by switching a fault on and watching exactly the matching verdicts turn::

    faults = parse_faults(["ees.ignores-aud"])
    behaviour = ees_behaviour(faults)        # EesBehaviour(audience_check="none", ...)

Each :class:`Fault` says which requirement IDs it violates (the self-test matrix derives
everything from this), what else it unavoidably breaks and why, and its effect: the fields of
:class:`EcsBehaviour` / :class:`EesBehaviour` it changes. The servers read only the behaviour,
never fault names. Adding a fault is one entry below, plus a behaviour field when it needs a
behaviour the reference does not have yet.

Bracket faults (``kind="bracket"``) break the target part-way through a run or entirely; they
violate no single requirement and prove that the harness's sanity probe and after-case positive
control keep a broken target from earning PASS on a negative case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from conformance.reference.tls import ClientAuth

Role = Literal["ecs", "ees"]
Kind = Literal["requirement", "bracket"]


@dataclass(frozen=True)
class Disruption:
    """Faults of the whole server, not of one rule: they break the bracket around every case."""

    lockout_after: int = 0
    """After this many requests from one EEC, refuse it (403) for the rest of the run; 0: never."""
    refuse_everything: bool = False
    rate_limit_window_s: float = 0.0
    """Serve one request per window, answer 503 to the others; 0: no limit."""


@dataclass(frozen=True)
class TlsBehaviour:
    client_auth: ClientAuth = "required"
    check_time: bool = True
    trust_rogue_ca: bool = False
    checks_key_usage: bool = True
    """False: client certificates are accepted whatever their (extended) key usage."""
    accepts_old_tls: bool = False
    """True: TLS 1.0 and 1.1 are negotiated too."""
    legacy_certificate_for: str | None = None
    """A name: TLS 1.2 clients get an RSA server certificate for that name instead of the FQDN."""
    certificate_for: str | None = None
    """A name: every client gets a server certificate for that name instead of the FQDN."""


@dataclass(frozen=True)
class TokenBehaviour:
    """How the reference ECS mints EES access tokens; the defaults are TS 33.558 6.2 plus RFC 9068/8725."""

    alg: Literal["ES256", "none"] = "ES256"
    """``none``: unsigned tokens with an empty signature segment."""
    claims: tuple[tuple[str, Any], ...] = ()
    """Claims set to these values instead of the right ones (wrong iss, client_id, scope, aud)."""
    omit: tuple[str, ...] = ()
    """Claims left out."""
    lifetime: int | None = None
    """Seconds from iat to exp instead of the configured lifetime."""
    one_for_all: bool = False
    """One token, audience every token-based EES, handed out for each of them."""
    for_local_ees: bool = False
    """Also a token for (and, at the token endpoint, on request for) a local-policy EES."""
    unpublished_key: bool = False
    """Signed with a key that is not in the published key set (same kid)."""
    unique_jti: bool = True
    kid: bool = True
    typ: str = "at+jwt"
    publishes_private_key: bool = False
    """The published key set carries the private member ``d``."""


@dataclass(frozen=True)
class EcsBehaviour:
    """What the reference ECS does; the defaults are TS 33.558 6.2."""

    tls: TlsBehaviour = TlsBehaviour()
    disruption: Disruption = Disruption()
    identifies_eec_by_certificate: bool = True
    checks_gpsi: bool = True
    applies_local_policy: bool = True
    valid_provisioning_response: bool = True
    token_with_sub: bool = True
    problem_details: bool = True
    tokens: TokenBehaviour = TokenBehaviour()
    token_type: str = "Bearer"
    """``token_type`` of the token endpoint's responses (RFC 6750 4)."""
    accepts_any_grant_type: bool = False
    """True: the token endpoint issues a token whatever grant_type says."""
    verifies_client_assertion: bool = True
    """False: a private_key_jwt assertion's signature is not verified (its claims still are)."""
    checks_client_assertion_exp: bool = True
    """False: a private_key_jwt assertion is accepted however long ago it expired."""
    matches_registered_cert: bool = True
    """False: any self-signed certificate the TLS layer let through authenticates any client_id."""
    validates_gpsi_form: bool = True
    """False: a ueId that is not a GPSI is ignored, as if absent (the EEC is served)."""
    validates_request: bool = True
    """False: the body is used unchecked; a missing or mistyped member crashes the handler (500)."""


@dataclass(frozen=True)
class Leniency:
    """Ways a sloppy verifier goes wrong; all off by default. Only the reference's faults set them."""

    skip_signature: bool = False
    """Decode without verifying any signature (ees.ignores-signature)."""
    hmac_with_public_key: bool = False
    """Verify ``HS*`` tokens keyed with a trusted key's public PEM (CVE-2016-10555)."""
    embedded_jwk: bool = False
    """Verify with the key in the ``jwk`` header (CVE-2018-0114)."""
    fetch_jku: bool = False
    """Fetch the ``jku`` URL (an SSRF, RFC 8725 3.10), though without trusting what comes back."""
    ignore_kid: bool = False
    """Try every trusted key whatever the ``kid`` says (an unknown ``kid`` is accepted)."""
    require_exp: bool = True
    check_nbf: bool = True
    issuer_match: Literal["exact", "loose"] = "exact"
    """``loose``: compare ``iss`` case-insensitively, without a scheme or a trailing dot."""
    crash_on_malformed: bool = False
    """A token that is not a JWS compact serialization raises an unhandled error (500)."""


@dataclass(frozen=True)
class EesBehaviour:
    """What the reference EES does; the defaults are TS 33.558 6.3."""

    tls: TlsBehaviour = TlsBehaviour()
    disruption: Disruption = Disruption()
    identifies_eec_by_certificate: bool = True
    looks_at_ueid: bool = True
    audience_check: Literal["own", "wrong", "none"] = "own"
    accepts_alg_none: bool = False
    checks_exp: bool = True
    checks_sub: bool = True
    fails_open_to_local_policy: bool = False
    local_policy: Literal["enforced", "refuses-everyone", "skipped", "bypassed-by-token"] = "enforced"
    token: Leniency = Leniency()
    """How the token verifier goes wrong (the faults of the EES suite's token attack catalogue)."""
    checks_scope: bool = True
    checks_client_id: bool = True
    token_in_query: bool = False
    lenient_gpsi: bool = False
    checks_member_types: bool = True
    validates_gpsi_form: bool = True
    validates_request: bool = True
    concurrency: Literal["correct", "refuses-token-in-use", "fails-registration-race"] = "correct"
    """How a registration overlapping another of the same token or EEC is treated (the faults hold
    each registration ``IN_FLIGHT_HOLD`` seconds, so that concurrent ones overlap)."""


@dataclass(frozen=True)
class Fault:
    """One deliberate deviation: its name, what it does, what it breaks, how the reference does it."""

    name: str
    summary: str
    violates: tuple[str, ...]
    """Requirement IDs whose checks must turn FAIL (or WARN, for S) under this fault."""
    also_breaks: tuple[tuple[str, str], ...] = ()
    """(ID prefix, why): further verdicts that may turn, because the fault cannot avoid it."""
    probe_fails: bool = False
    """The fault refuses the positive control: the sanity probe fails on the targets it affects,
    so their other cases are INCONCLUSIVE (never PASS)."""
    kind: Kind = "requirement"
    effect: dict[str, Any] = field(default_factory=dict)
    """Behaviour fields it changes; ``tls.X``, ``tokens.X`` and ``disruption.X`` reach the nested settings."""

    @property
    def role(self) -> Role:
        return "ecs" if self.name.startswith("ecs.") else "ees"


_TWINS = {"{R}-TLS-SHAPE": {"ecs": "ECS-TLS-08", "ees": "EES-TLS-07"}}
"""IDs whose number differs between the roles."""


def _both(name: str, summary: str, violates: tuple[str, ...], **rest: Any) -> tuple[Fault, Fault]:
    """The same fault at the ECS and at the EES (an ``{R}`` in the IDs becomes ECS or EES)."""
    return tuple(  # type: ignore[return-value]
        Fault(f"{role}.{name}", summary, tuple(_for_role(rid, role) for rid in violates), **rest)
        for role in ("ecs", "ees")
    )


def _for_role(rid: str, role: str) -> str:
    return _TWINS[rid][role] if rid in _TWINS else rid.replace("{R}", role.upper())


_TLS_ANY_CERT = {"tls.check_time": False, "tls.trust_rogue_ca": True}
_FAIL_OPEN_REASON = "failing open serves what every token refusal refuses"

_CATALOGUE: tuple[Fault, ...] = (
    *_both(
        "client-cert-optional",
        "TLS requests a client certificate but does not require one; the app then refuses (403) without it.",
        ("{R}-TLS-SHAPE",),
        effect={"tls.client_auth": "optional"},
    ),
    *_both(
        "no-client-authentication",
        "TLS never asks for a client certificate; the EEC is whoever the body's eecId claims to be.",
        ("{R}-TLS-01", "{R}-TLS-02", "{R}-TLS-03"),
        also_breaks=(
            *(
                (f"{r}-TLS-04", "a server that asks for no certificate checks none of its key usages either")
                for r in ("ECS", "EES")
            ),
            ("ECS-TOK-10", "a token endpoint that asks for no certificate cannot tell a registered self-signed one"),
        ),
        effect={"tls.client_auth": "none", "identifies_eec_by_certificate": False},
    ),
    *_both(
        "accepts-any-client-cert",
        "TLS also trusts the rogue and unrelated test CAs and ignores certificate validity times.",
        ("{R}-TLS-02", "{R}-TLS-03"),
        effect=_TLS_ANY_CERT,
    ),
    Fault(
        "ecs.ignores-client-cert-usage",
        "TLS accepts client certificates whose extended key usage lacks clientAuth or key usage digitalSignature.",
        ("ECS-TLS-04",),
        effect={"tls.checks_key_usage": False},
    ),
    Fault(
        "ecs.accepts-tls-1.0-and-1.1",
        "The ECS negotiates TLS 1.0 and 1.1 (minimum version TLS 1.0, CBC suites at OpenSSL level 0).",
        ("ECS-TLS-05",),
        effect={"tls.accepts_old_tls": True},
    ),
    Fault(
        "ecs.wrong-server-certificate-name",
        "To TLS 1.2 clients the ECS presents a stale RSA certificate for another name (TLS 1.3 gets the right one).",
        ("ECS-TLS-05",),
        effect={"tls.legacy_certificate_for": "old-ecs.reference.test"},
    ),
    Fault(
        "ecs.server-certificate-for-another-name",
        "Every client, on TLS 1.2 and 1.3, gets a server certificate for another name: nothing is served "
        "to an EEC that verifies it (the sanity probe fails; the TLS profile case judges the certificate).",
        ("ECS-TLS-05",),
        probe_fails=True,
        effect={"tls.certificate_for": "other-ecs.reference.test"},
    ),
    Fault(
        "ecs.skips-gpsi-check",
        "A ueId (GPSI) that does not belong to the authenticated EEC is accepted.",
        ("ECS-GPSI-01",),
        effect={"checks_gpsi": False},
    ),
    Fault(
        "ees.ignores-client-cert-usage",
        "TLS accepts client certificates whose EKU lacks clientAuth or whose key usage lacks digitalSignature.",
        ("EES-TLS-04",),
        effect={"tls.checks_key_usage": False},
    ),
    Fault(
        "ees.skips-gpsi-check",
        "The EES never looks at ueId: a GPSI of another EEC is registered (a token's sub is still checked).",
        ("EES-GPSI-01",),
        effect={"looks_at_ueid": False},
    ),
    Fault(
        "ecs.skips-local-policy",
        "An authenticated EEC that local policy does not authorize is served (and gets tokens).",
        ("ECS-AUTHZ-01",),
        effect={"applies_local_policy": False},
    ),
    Fault(
        "ecs.invalid-provisioning-response",
        "The 200 ECSServProvResp carries 'ednCnfgInfo: []' (violates minItems 1).",
        ("ECS-AUTHZ-02",),
        also_breaks=(("ECS-TOK-01", "a response naming no EES carries no token"),),
        effect={"valid_provisioning_response": False},
    ),
    Fault(
        "ecs.token-without-sub",
        "Issued EES access tokens carry no 'sub' claim.",
        ("ECS-TOK-06",),
        effect={"token_with_sub": False},
    ),
    Fault(
        "ecs.unsigned-tokens",
        "EES access tokens are unsigned: alg 'none' and an empty signature segment.",
        ("ECS-TOK-03",),
        effect={"tokens.alg": "none"},
    ),
    Fault(
        "ecs.tokens-signed-with-unpublished-key",
        "EES access tokens are signed with a key that is not in the published key set (same kid).",
        ("ECS-TOK-03",),
        effect={"tokens.unpublished_key": True},
    ),
    Fault(
        "ecs.token-wrong-iss",
        "Token 'iss' is the ECS's URL (https://ecs.reference.test), not its FQDN.",
        ("ECS-TOK-04",),
        effect={"tokens.claims": (("iss", "https://ecs.reference.test"),)},
    ),
    Fault(
        "ecs.token-wrong-client-id",
        "Token 'client_id' names another EEC (eec-0003), not the requesting one.",
        ("ECS-TOK-05",),
        effect={"tokens.claims": (("client_id", "eec-0003"),)},
    ),
    Fault(
        "ecs.token-wrong-scope",
        "Token 'scope' names a service the EES is not configured with (eees-easdiscovery).",
        ("ECS-TOK-07",),
        effect={"tokens.claims": (("scope", "eees-easdiscovery"),)},
    ),
    Fault(
        "ecs.token-wrong-aud",
        "Token 'aud' names no candidate EES (ees.elsewhere.test).",
        ("ECS-TOK-08",),
        effect={"tokens.claims": (("aud", "ees.elsewhere.test"),)},
    ),
    Fault(
        "ecs.token-without-exp",
        "Issued EES access tokens carry no 'exp' claim.",
        ("ECS-TOK-09",),
        effect={"tokens.omit": ("exp",)},
    ),
    Fault(
        "ecs.token-lifetime-too-long",
        "Tokens live 7200 s, beyond the declared max_token_lifetime (600 s in the reference targets).",
        ("ECS-TOK-09",),
        effect={"tokens.lifetime": 7200},
    ),
    Fault(
        "ecs.one-token-for-all-ees",
        "One token (aud: every token-based EES) is handed out for each token-based EES.",
        ("ECS-TOK-01",),
        effect={"tokens.one_for_all": True},
    ),
    Fault(
        "ecs.token-for-local-ees",
        "A token is also issued for the local-policy EES.",
        ("ECS-CFG-01", "ECS-TOK-02"),
        effect={"tokens.for_local_ees": True},
    ),
    Fault(
        "ecs.repeated-jti",
        "Every token carries the same 'jti'.",
        ("ECS-TOK-11",),
        effect={"tokens.unique_jti": False},
    ),
    Fault(
        "ecs.token-without-kid",
        "Token headers carry no 'kid'.",
        ("ECS-TOK-11",),
        effect={"tokens.kid": False},
    ),
    Fault(
        "ecs.token-typ-jwt",
        "Token headers say typ 'JWT', not 'at+jwt' (RFC 9068 2.1).",
        ("ECS-TOK-11",),
        effect={"tokens.typ": "JWT"},
    ),
    Fault(
        "ecs.jwks-with-private-key",
        "The published key set carries the private key member 'd'.",
        ("ECS-TOK-11",),
        effect={"tokens.publishes_private_key": True},
    ),
    Fault(
        "ecs.token-type-not-bearer",
        "The token endpoint answers token_type 'JWT', not 'Bearer'.",
        ("ECS-TOK-10",),
        effect={"token_type": "JWT"},
    ),
    Fault(
        "ecs.accepts-any-grant-type",
        "The token endpoint issues a token for any grant_type (password, authorization_code, ...).",
        ("ECS-TOK-10",),
        effect={"accepts_any_grant_type": True},
    ),
    Fault(
        "ecs.accepts-any-client-assertion",
        "private_key_jwt: the client assertion's signature is not verified, so any key will do.",
        ("ECS-TOK-10",),
        effect={"verifies_client_assertion": False},
    ),
    Fault(
        "ecs.accepts-expired-client-assertion",
        "private_key_jwt: a client assertion is accepted however long ago its exp passed.",
        ("ECS-TOK-10",),
        effect={"checks_client_assertion_exp": False},
    ),
    Fault(
        "ecs.accepts-unregistered-self-signed-cert",
        "self_signed_tls_client_auth: the certificate is not compared with the one registered for client_id.",
        ("ECS-TOK-10",),
        effect={"matches_registered_cert": False},
    ),
    Fault(
        "ecs.ignores-malformed-gpsi",
        "A ueId that is not a well-formed GPSI is ignored as if absent: the EEC is served, with tokens.",
        ("ECS-GPSI-02",),
        effect={"validates_gpsi_form": False},
    ),
    Fault(
        "ecs.crashes-on-bad-request",
        "The provisioning body is used unchecked: a missing or mistyped member answers 500, "
        "an oversized body is taken.",
        ("ECS-ROB-01",),
        effect={"validates_request": False},
    ),
    Fault(
        "ecs.plain-error-bodies",
        "Refusals carry the right status but a text/plain body instead of ProblemDetails.",
        ("ECS-RESP-01",),
        effect={"problem_details": False},
    ),
    Fault(
        "ees.rejects-valid-token",
        "A valid token is refused: the EES checks 'aud' against a wrong name.",
        ("EES-TOK-01", "EES-RESP-01"),
        probe_fails=True,
        effect={"audience_check": "wrong"},
    ),
    Fault(
        "ees.ignores-aud",
        "The EES does not check the token's 'aud' claim at all.",
        ("EES-TOK-05",),
        effect={"audience_check": "none"},
    ),
    Fault(
        "ees.accepts-alg-none",
        "Unsigned tokens with alg 'none' (any letter case) are accepted without verification.",
        ("EES-TOK-03",),
        effect={"accepts_alg_none": True},
    ),
    Fault(
        "ees.accepts-expired-token",
        "The EES does not check the token's 'exp' claim.",
        ("EES-TOK-04",),
        effect={"checks_exp": False},
    ),
    Fault(
        "ees.ignores-sub",
        "The EES does not compare the token's 'sub' with the GPSI of the request.",
        ("EES-TOK-09",),
        effect={"checks_sub": False},
    ),
    Fault(
        "ees.falls-back-to-local-policy",
        "Token-based EES: a missing or invalid token (a 401 case) falls back to local policy (fail open).",
        ("EES-TOK-10", "EES-TOK-02", "EES-TOK-03", "EES-TOK-04", "EES-TOK-05", "EES-TOK-09"),
        also_breaks=(("EES-TOK-", _FAIL_OPEN_REASON),),
        effect={"fails_open_to_local_policy": True},
    ),
    Fault(
        "ees.refuses-authorized-eec",
        "Local-authorization EES: an EEC that local policy allows is refused.",
        ("EES-POL-01", "EES-RESP-01"),
        probe_fails=True,
        effect={"local_policy": "refuses-everyone"},
    ),
    Fault(
        "ees.token-bypasses-local-policy",
        "Local-authorization EES: any request carrying a Bearer token is served, even for an EEC local policy refuses.",
        ("EES-POL-02",),
        effect={"local_policy": "bypassed-by-token"},
    ),
    Fault(
        "ees.skips-local-policy",
        "Local-authorization EES: every authenticated EEC is served, whatever local policy says.",
        ("EES-POL-02",),
        effect={"local_policy": "skipped"},
    ),
    # --- EES token validation, GPSI form, robustness (EES suite, issue 8) ---
    Fault(
        "ees.ignores-signature",
        "The EES decodes tokens without verifying the signature (tampered, stripped, zero or foreign signatures pass).",
        ("EES-TOK-03", "EES-TOK-10"),
        effect={"token.skip_signature": True},
    ),
    Fault(
        "ees.accepts-hs256-with-public-key",
        "HS256 tokens are verified with the trusted ECS public key (PEM) as the HMAC secret (CVE-2016-10555).",
        ("EES-TOK-03",),
        effect={"token.hmac_with_public_key": True},
    ),
    Fault(
        "ees.trusts-embedded-jwk",
        "A token carrying a 'jwk' header is verified with that key (CVE-2018-0114).",
        ("EES-TOK-03",),
        effect={"token.embedded_jwk": True},
    ),
    Fault(
        "ees.fetches-jku",
        "The EES fetches the token's 'jku' URL (then refuses the token): an SSRF, RFC 8725 3.10.",
        ("EES-TOK-03",),
        effect={"token.fetch_jku": True},
    ),
    Fault(
        "ees.accepts-unknown-kid",
        "A 'kid' naming no trusted key is ignored: every trusted key is tried.",
        ("EES-TOK-03",),
        effect={"token.ignore_kid": True},
    ),
    Fault(
        "ees.accepts-no-exp",
        "A token without 'exp' is accepted (an expired one is still refused).",
        ("EES-TOK-04",),
        effect={"token.require_exp": False},
    ),
    Fault(
        "ees.ignores-nbf",
        "A token whose 'nbf' lies in the future is accepted.",
        ("EES-TOK-04",),
        effect={"token.check_nbf": False},
    ),
    Fault(
        "ees.loose-iss-match",
        "'iss' is compared case-insensitively, ignoring a scheme and a trailing dot.",
        ("EES-TOK-06",),
        effect={"token.issuer_match": "loose"},
    ),
    Fault(
        "ees.ignores-scope",
        "The token's 'scope' is not checked against the invoked service.",
        ("EES-TOK-07",),
        effect={"checks_scope": False},
    ),
    Fault(
        "ees.ignores-client-id",
        "The token's 'client_id' is not compared with the authenticated EEC.",
        ("EES-TOK-08",),
        effect={"checks_client_id": False},
    ),
    Fault(
        "ees.accepts-token-in-query",
        "A token in the access_token query parameter is used; sent two ways, the header wins (no 400).",
        ("EES-TOK-12",),
        effect={"token_in_query": True},
    ),
    Fault(
        "ees.500-on-malformed-token",
        "A token that is not a JWS compact serialization crashes the token parser (500).",
        ("EES-TOK-11",),
        effect={"token.crash_on_malformed": True},
    ),
    Fault(
        "ees.ignores-malformed-gpsi",
        "A ueId that is not a well-formed GPSI is ignored as if absent: the EEC is registered.",
        ("EES-GPSI-02",),
        also_breaks=(("EES-ROB-01", "a ueId of another type than string is a malformed GPSI too"),),
        effect={"validates_gpsi_form": False},
    ),
    Fault(
        "ees.crashes-on-bad-request",
        "The registration body is used unchecked: a malformed body or a missing or mistyped eecId "
        "answers 500, an oversized body is taken.",
        ("EES-ROB-01",),
        also_breaks=(("EES-RESP-02", "a 500 is not the form of a refusal"),),
        effect={"validates_request": False},
    ),
    Fault(
        "ees.refuses-a-token-in-use",
        "A token that is being used by another registration at the same moment is refused (401 "
        "invalid_token), as if concurrent use were a replay.",
        ("EES-TOK-01",),
        effect={"concurrency": "refuses-token-in-use"},
    ),
    Fault(
        "ees.fails-registration-race",
        "A registration of an EEC while another registration of that EEC is under way answers 500.",
        ("EES-ROB-01",),
        effect={"concurrency": "fails-registration-race"},
    ),
    Fault(
        "ees.accepts-tls-1.0-and-1.1",
        "The EES negotiates TLS 1.0 and 1.1 (minimum version TLS 1.0, CBC suites at OpenSSL level 0).",
        ("EES-TLS-05",),
        effect={"tls.accepts_old_tls": True},
    ),
    Fault(
        "ees.wrong-server-certificate-name",
        "To TLS 1.2 clients the EES presents a stale RSA certificate for another name (TLS 1.3 gets the right one).",
        ("EES-TLS-05",),
        effect={"tls.legacy_certificate_for": "old-ees.reference.test"},
    ),
    Fault(
        "ees.server-certificate-for-another-name",
        "Every client, on TLS 1.2 and 1.3, gets a server certificate for another name: nothing is served "
        "to an EEC that verifies it (the sanity probe fails; the TLS profile case judges the certificate).",
        ("EES-TLS-05",),
        probe_fails=True,
        effect={"tls.certificate_for": "other-ees.reference.test"},
    ),
    Fault(
        "ees.lenient-gpsi",
        "ueId is not checked for GPSI form; it is trimmed, lower-cased and stripped of '+' before comparison.",
        ("EES-GPSI-02",),
        effect={"lenient_gpsi": True},
    ),
    Fault(
        "ees.500-on-wrong-member-type",
        "Registration members of the wrong JSON type crash the handler (500) instead of a 400.",
        ("EES-ROB-01",),
        also_breaks=(("EES-RESP-02", "a ueId of the wrong type (an EES-GPSI-02 case) gets the 500 instead of a 400"),),
        effect={"checks_member_types": False},
    ),
    *_both(
        "locks-out-after-first-request",
        "Serves each EEC once (the sanity probe), then refuses it (403) for the rest of the run.",
        (),
        kind="bracket",
        effect={"disruption.lockout_after": 1},
    ),
    *_both(
        "refuses-everything",
        "Every request is refused with 403, the valid one too.",
        (),
        kind="bracket",
        probe_fails=True,
        effect={"disruption.refuse_everything": True},
    ),
    *_both(
        "rate-limited",
        "Serves one request per 30 s and answers 503 to the others.",
        (),
        kind="bracket",
        effect={"disruption.rate_limit_window_s": 30.0},
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


def ecs_behaviour(faults: Iterable[str] = ()) -> EcsBehaviour:
    """What the reference ECS does with ``faults`` on (the ECS ones; others are ignored)."""
    behaviour: EcsBehaviour = _apply(EcsBehaviour(), faults, "ecs")
    return behaviour


def ees_behaviour(faults: Iterable[str] = ()) -> EesBehaviour:
    """What the reference EES does with ``faults`` on (the EES ones; others are ignored)."""
    behaviour: EesBehaviour = _apply(EesBehaviour(), faults, "ees")
    return behaviour


def _apply(behaviour: Any, faults: Iterable[str], role: Role) -> Any:
    for name in sorted(parse_faults(faults)):
        fault = FAULTS[name]
        if fault.role != role:
            continue
        for path, value in fault.effect.items():
            behaviour = _set(behaviour, path.split("."), value)
    return behaviour


def _set(obj: Any, path: list[str], value: Any) -> Any:
    head, *rest = path
    return replace(obj, **{head: _set(getattr(obj, head), rest, value) if rest else value})
