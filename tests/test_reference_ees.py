"""The reference EES (TS 33.558 6.3): token-based and local authorization, RFC 6750, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import ssl
import time
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from conformance.reference.ecs import EcsSettings, KnownEes, build_ecs_app, new_signing_key, public_jwks
from conformance.reference.ees import EesSettings, build_ees_app
from conformance.reference.faults import ees_behaviour
from conformance.reference.policy import EecRegistry, KnownEec
from conformance.reference.server import ReferenceServer, ServerTls
from conformance.reference.tls import tls_extension_from_cert, with_tls_extension

with warnings.catch_warnings():
    # starlette 1.x warns when its TestClient is backed by httpx rather than httpx2.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

REGISTRATIONS = "/eees-eecregistration/v1/registrations"
EES_FQDN, ECS_FQDN = "ees-a.reference.test", "ecs.reference.test"
GPSI_1, GPSI_2 = "msisdn-491700000001", "msisdn-491700000002"
REGISTRY = EecRegistry(
    [KnownEec("eec-1", GPSI_1), KnownEec("eec-2", GPSI_2), KnownEec("eec-3", "msisdn-491700000003", False)]
)
EC_KEY = ECKey.generate_key("P-256", parameters={"kid": "ecs-ec"})
RSA_KEY = RSAKey.generate_key(2048, parameters={"kid": "ecs-rsa"})
ROGUE_KEY = ECKey.generate_key("P-256", parameters={"kid": "ecs-ec"})
"""Same kid as the trusted key, but nobody trusts it."""
TRUSTED_JWKS = KeySet([EC_KEY, RSA_KEY]).as_dict(private=False)
CHALLENGE = f'Bearer realm="{EES_FQDN}"'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: Any, signature: bytes = b"") -> str:
    """A hand-built JWS compact serialization: for tokens no library would mint."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for eec-1 at this EES; ``name=None`` removes a claim."""
    now = int(time.time())
    base = {
        "iss": ECS_FQDN,
        "client_id": "eec-1",
        "sub": GPSI_1,
        "scope": "eees-eecregistration",
        "aud": EES_FQDN,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def token(key: Any = EC_KEY, alg: str = "ES256", header: dict[str, Any] | None = None, **changes: Any) -> str:
    protected = {"alg": alg, "typ": "at+jwt", "kid": key.kid, **(header or {})}
    return jwt.encode({k: v for k, v in protected.items() if v is not None}, claims(**changes), key, algorithms=[alg])


def settings(authorization: str = "token", **changes: Any) -> EesSettings:
    values: dict[str, Any] = {
        "fqdn": EES_FQDN,
        "registry": REGISTRY,
        "authorization": authorization,
        "trusted_issuer": ECS_FQDN,
        "trusted_jwks": TRUSTED_JWKS,
    }
    return EesSettings(**{**values, **changes})


class Ees:
    """In-process clients of one EES app, as the EEC whose certificate CN is given reaches it."""

    def __init__(self, ca: trustme.CA, authorization: str = "token", *faults: str) -> None:
        self.app, self.ca = build_ees_app(settings(authorization), ees_behaviour(faults)), ca

    def register(
        self,
        bearer: str | None = None,
        body: dict[str, Any] | None = None,
        common_name: str | None = "eec-1",
        **request: Any,
    ) -> httpx.Response:
        cert = self.ca.issue_cert(common_name=common_name).cert_chain_pems[0].bytes() if common_name else None
        client = TestClient(with_tls_extension(self.app, tls_extension_from_cert(cert)), base_url=f"https://{EES_FQDN}")
        headers = httpx.Headers(request.pop("headers", None))
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        json_body = body or {"eecId": common_name or "eec-1"}
        response: httpx.Response = client.post(REGISTRATIONS, json=json_body, headers=headers, **request)
        return response


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ees(ca: trustme.CA) -> Ees:
    return Ees(ca)


def assert_registered(response: httpx.Response, body: dict[str, Any] | None = None) -> None:
    assert response.status_code == 201, response.text
    assert response.json() == (body or {"eecId": "eec-1"})
    assert re.fullmatch(rf"https://[^/]+{REGISTRATIONS}/[0-9a-f-]{{36}}", response.headers["location"])


def assert_refused(response: httpx.Response, status: int, cause: str, challenge: str | None = None) -> None:
    """A ProblemDetails refusal; ``challenge``: the exact WWW-Authenticate, or a prefix ending in '*'."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert response.json()["cause"] == cause
    header = response.headers.get("www-authenticate")
    if challenge is None:
        assert header is None
    elif challenge.endswith("*"):
        assert header is not None, header
        assert header.startswith(challenge[:-1]), header
    else:
        assert header == challenge


def invalid_token(response: httpx.Response) -> None:
    assert_refused(response, 401, "INVALID_TOKEN", f'{CHALLENGE}, error="invalid_token", error_description="*')


# --- token mode: accepted ------------------------------------------------------------------


def test_valid_token_is_accepted_and_request_processed(ees: Ees) -> None:
    """EES-TOK-01, EES-RESP-01: 201 EECRegistration echoing the request, with a Location."""
    body = {"eecId": "eec-1", "ueId": GPSI_1, "ueMobilityReq": False}
    response = ees.register(token(), body)
    assert_registered(response, body)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "make",
    [
        lambda: token(RSA_KEY, "RS256"),
        lambda: token(RSA_KEY, "PS256"),
        lambda: token(header={"kid": None}),
        lambda: token(aud=["other.reference.test", EES_FQDN]),
        lambda: token(scope="eees-easdiscovery eees-eecregistration"),
        lambda: token(exp=int(time.time()) - 10),
        lambda: token(nbf=int(time.time()) + 10),
    ],
    ids=[
        "RS256-second-key",
        "PS256",
        "no-kid",
        "aud-list",
        "wider-scope",
        "expired-within-leeway",
        "nbf-within-leeway",
    ],
)
def test_other_valid_tokens_are_accepted(ees: Ees, make: Any) -> None:
    assert_registered(ees.register(make()))


# --- token mode: refused -------------------------------------------------------------------


def test_no_credentials_is_401_without_error_code(ees: Ees) -> None:
    """EES-TOK-02: RFC 6750 3.1, no error attribute when the request carried no credentials."""
    assert_refused(ees.register(), 401, "TOKEN_REQUIRED", CHALLENGE)
    assert_refused(ees.register(headers={"Authorization": "Basic ZWVjLTE6eA=="}), 401, "TOKEN_REQUIRED", CHALLENGE)


def test_token_in_query_is_not_used(ees: Ees) -> None:
    """EES-TOK-12: a query-string token counts as no token; one sent two ways is a 400."""
    assert_refused(ees.register(params={"access_token": token()}), 401, "TOKEN_REQUIRED", CHALLENGE)
    both = ees.register(token(), params={"access_token": token()})
    assert_refused(both, 400, "INVALID_REQUEST", f'{CHALLENGE}, error="invalid_request", *')


def test_two_authorization_headers_are_invalid_request(ees: Ees) -> None:
    headers = [("Authorization", f"Bearer {token()}"), ("Authorization", f"Bearer {token()}")]
    response = ees.register(headers=httpx.Headers(headers))
    assert_refused(response, 400, "INVALID_REQUEST", f'{CHALLENGE}, error="invalid_request", *')


def hs256_with_public_key() -> str:
    """Algorithm confusion: HMAC keyed with the trusted key's public PEM."""
    signing_input = compact({"alg": "HS256", "kid": "ecs-ec"}, claims()).rsplit(".", 1)[0]
    secret = EC_KEY.as_pem(private=False)
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def tampered(value: str) -> str:
    head, payload, signature = value.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def swapped_payload() -> str:
    head, _, signature = token().split(".")
    return f"{head}.{b64(json.dumps(claims(client_id='eec-2')).encode())}.{signature}"


ROGUE_JWK = ROGUE_KEY.as_dict(private=False)
ES256_HEADER = b64(b'{"alg":"ES256"}')
INVALID_TOKENS: dict[str, tuple[Any, str]] = {
    # name: (make the token, what error_description must say)
    "expired": (lambda: token(exp=int(time.time()) - 120), "expired"),
    "no-exp": (lambda: token(exp=None), "exp is missing"),
    "exp-not-a-number": (lambda: token(exp="tomorrow"), "exp is not a number"),
    "exp-true": (lambda: token(exp=True), "exp is not a number"),
    "exp-nan": (lambda: token_with_raw_exp("NaN"), "payload is not base64url-encoded JSON"),
    "nbf-future": (lambda: token(nbf=int(time.time()) + 600), "not valid yet"),
    "wrong-aud-sibling": (lambda: token(aud="ees-b.reference.test"), "aud"),
    "no-aud": (lambda: token(aud=None), "aud"),
    "wrong-iss": (lambda: token(iss="rogue-ecs.reference.test"), "iss"),
    "iss-other-case": (lambda: token(iss=ECS_FQDN.upper()), "iss"),
    "no-iss": (lambda: token(iss=None), "iss"),
    "wrong-client-id": (lambda: token(client_id="eec-2"), "client_id"),
    "no-client-id": (lambda: token(client_id=None), "client_id"),
    "wrong-sub": (lambda: token(sub=GPSI_2), "sub"),
    "no-sub": (lambda: token(sub=None), "sub"),
    "alg-none": (lambda: compact({"alg": "none", "typ": "at+jwt"}, claims()), "alg none"),
    "alg-NoNe": (lambda: compact({"alg": "NoNe"}, claims()), "alg NoNe"),
    "alg-NONE-with-signature": (lambda: compact({"alg": "NONE"}, claims(), b"sig"), "alg NONE"),
    "tampered-signature": (lambda: tampered(token()), "signature"),
    "swapped-payload": (swapped_payload, "signature"),
    "stripped-signature": (lambda: token().rsplit(".", 1)[0] + ".", "signature"),
    "untrusted-key-same-kid": (lambda: token(ROGUE_KEY), "signature"),
    "unknown-kid": (lambda: token(header={"kid": "injected"}), "kid does not name"),
    "kid-not-a-string": (lambda: es256({"kid": 7}, json.dumps(claims())), "kid is not a string"),
    "hs256-with-public-key": (hs256_with_public_key, "alg HS256"),
    "jku-elsewhere": (
        lambda: token(ROGUE_KEY, header={"jku": "https://attacker.test/jwks.json"}),
        "signature",
    ),
    "x5u-elsewhere": (lambda: token(ROGUE_KEY, header={"x5u": "https://attacker.test/c.pem"}), "signature"),
    "embedded-jwk": (lambda: token(ROGUE_KEY, header={"jwk": ROGUE_JWK, "kid": None}), "signature"),
    "ecdsa-zero-signature": (
        lambda: compact({"alg": "ES256", "kid": "ecs-ec"}, claims(), bytes(64)),
        "signature",
    ),
    "crit-header": (
        lambda: es256({"kid": "ecs-ec", "crit": ["exp"], "exp": 1}, json.dumps(claims())),
        "critical",
    ),
    "two-segments": (lambda: token().rsplit(".", 1)[0], "compact"),
    "bad-base64": (lambda: "e$J.e$J.sig", "compact"),
    "payload-not-json": (lambda: f"{ES256_HEADER}.{b64(b'not json')}.{b64(b'x')}", "payload"),
    "payload-array": (lambda: compact({"alg": "ES256"}, [1, 2]), "payload is not a JSON object"),
    "header-no-alg": (lambda: compact({"typ": "JWT"}, claims()), "no alg"),
    "oversized": (lambda: token(pad="x" * 9000), "too long"),
    "empty": (lambda: "", "compact"),
}


def es256(header: dict[str, Any], payload: str) -> str:
    """Sign by hand with the trusted key: for headers and payloads joserfc refuses to produce."""
    signing_input = f"{b64(json.dumps({'alg': 'ES256', **header}).encode())}.{b64(payload.encode())}"
    assert EC_KEY.private_key is not None
    r, s = decode_dss_signature(EC_KEY.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_hand_signed_tokens_are_valid_when_nothing_is_wrong(ees: Ees) -> None:
    """Control for the hand-signed invalid tokens: the signing itself is right."""
    assert_registered(ees.register(es256({"kid": "ecs-ec"}, json.dumps(claims()))))


def token_with_raw_exp(raw: str) -> str:
    """A correctly signed token whose exp is a bare NaN (Python's json accepts it, RFC 8259 does not)."""
    return es256({"kid": "ecs-ec"}, json.dumps(claims(exp=None))[:-1] + f', "exp": {raw}}}')


@pytest.mark.parametrize(("make", "reason"), INVALID_TOKENS.values(), ids=INVALID_TOKENS.keys())
def test_invalid_token_is_401_invalid_token(ees: Ees, make: Any, reason: str) -> None:
    """EES-TOK-03..09, 11: every invalid token is 401 error="invalid_token" for its own reason."""
    response = ees.register(make())
    invalid_token(response)
    assert reason in response.headers["www-authenticate"]
    assert reason in response.json()["detail"]


def test_insufficient_scope_is_403(ees: Ees) -> None:
    """EES-TOK-07: RFC 6750 3.1 insufficient_scope names the scope needed."""
    expected = f'{CHALLENGE}, error="insufficient_scope", error_description="*'
    for value in (token(scope="eees-easdiscovery"), token(scope=None), token(scope=["eees-eecregistration"])):
        response = ees.register(value)
        assert_refused(response, 403, "INSUFFICIENT_SCOPE", expected)
        assert response.headers["www-authenticate"].endswith('scope="eees-eecregistration"')


def test_admission_checks_come_before_the_token(ees: Ees) -> None:
    """Body (400) and TLS identity / GPSI (403) are judged before authorization."""
    assert_refused(ees.register(token(), {"ueId": GPSI_1}), 400, "INVALID_REQUEST")
    assert_refused(ees.register(token(), common_name=None), 403, "NO_CLIENT_CERTIFICATE")
    assert_refused(ees.register(token(), {"eecId": "eec-2"}), 403, "EEC_ID_MISMATCH")
    assert_refused(ees.register(token(), {"eecId": "stranger"}, "stranger"), 403, "UNKNOWN_EEC")
    assert_refused(ees.register(token(sub=GPSI_2), {"eecId": "eec-1", "ueId": GPSI_2}), 403, "GPSI_MISMATCH")
    assert_refused(ees.register(token(), {"eecId": "eec-1", "ueId": "msisdn-12"}), 400, "INVALID_REQUEST")


def test_token_is_bound_to_the_request_gpsi(ees: Ees) -> None:
    """EES-TOK-09: sub must be the request's ueId; without ueId, the EEC's registered GPSI."""
    assert_registered(ees.register(token(), {"eecId": "eec-1", "ueId": GPSI_1}), {"eecId": "eec-1", "ueId": GPSI_1})
    other = token(client_id="eec-2", sub=GPSI_2)
    assert_registered(ees.register(other, {"eecId": "eec-2"}, "eec-2"), {"eecId": "eec-2"})
    invalid_token(ees.register(token(client_id="eec-2", sub=GPSI_1), {"eecId": "eec-2"}, "eec-2"))


def test_token_mode_does_not_consult_local_policy(ca: trustme.CA) -> None:
    """6.3: a token-based EES authorizes by the token; eec-3 is locally unauthorized."""
    ees = Ees(ca)
    assert_registered(
        ees.register(token(client_id="eec-3", sub="msisdn-491700000003"), {"eecId": "eec-3"}, "eec-3"),
        {"eecId": "eec-3"},
    )
    assert_refused(ees.register(None, {"eecId": "eec-3"}, "eec-3"), 401, "TOKEN_REQUIRED", CHALLENGE)


# --- local mode ----------------------------------------------------------------------------


def test_local_policy_serves_authorized_and_refuses_others(ca: trustme.CA) -> None:
    """EES-POL-01/02: local policy decides; a token (valid or not) changes nothing."""
    local = Ees(ca, "local")
    assert_registered(local.register())
    assert_registered(local.register("garbage"))
    unauthorized = token(client_id="eec-3", sub="msisdn-491700000003")
    assert_refused(local.register(None, {"eecId": "eec-3"}, "eec-3"), 403, "NOT_AUTHORIZED")
    assert_refused(local.register(unauthorized, {"eecId": "eec-3"}, "eec-3"), 403, "NOT_AUTHORIZED")


def test_local_mode_needs_no_trusted_issuer() -> None:
    app = build_ees_app(EesSettings(fqdn=EES_FQDN, registry=REGISTRY, authorization="local"))
    assert cast(Starlette, app).state.settings.authorization == "local"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"trusted_jwks": None}, "trusted_issuer and trusted_jwks"),
        ({"trusted_issuer": None}, "trusted_issuer and trusted_jwks"),
        ({"allowed_algorithms": ("ES256", "none")}, "none"),
        ({"allowed_algorithms": ("HS256",)}, "HS256"),
        ({"allowed_algorithms": ()}, "nothing"),
        ({"service_names": ("eees-easdiscovery",)}, "eees-eecregistration"),
    ],
)
def test_unsafe_settings_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(**changes)


def test_symmetric_keys_are_never_trusted() -> None:
    jwks = {"keys": [*TRUSTED_JWKS["keys"], {"kty": "oct", "k": b64(bytes(32)), "kid": "hmac"}]}
    with pytest.raises(ValueError, match="oct"):
        build_ees_app(settings(trusted_jwks=jwks))


# --- faults --------------------------------------------------------------------------------


def test_fault_skips_gpsi_check(ca: trustme.CA) -> None:
    """The EES never looks at ueId: a foreign one is registered; the token's sub is still checked."""
    body = {"eecId": "eec-1", "ueId": GPSI_2}
    faulty = Ees(ca, "token", "ees.skips-gpsi-check")
    assert_registered(faulty.register(token(), body), body)
    invalid_token(faulty.register(token(sub=GPSI_2), body))
    assert_registered(Ees(ca, "local", "ees.skips-gpsi-check").register(None, body), body)


def test_fault_accepts_expired_token(ca: trustme.CA) -> None:
    faulty = Ees(ca, "token", "ees.accepts-expired-token")
    assert_registered(faulty.register(token(exp=int(time.time()) - 600)))
    invalid_token(faulty.register(tampered(token())))


def test_fault_ignores_sub(ca: trustme.CA) -> None:
    faulty = Ees(ca, "token", "ees.ignores-sub")
    assert_registered(faulty.register(token(sub=GPSI_2)))
    invalid_token(faulty.register(token(client_id="eec-2")))


def test_fault_rejects_valid_token(ca: trustme.CA) -> None:
    invalid_token(Ees(ca, "token", "ees.rejects-valid-token").register(token()))


def test_fault_ignores_aud(ca: trustme.CA) -> None:
    faulty = Ees(ca, "token", "ees.ignores-aud")
    assert_registered(faulty.register(token(aud="ees-b.reference.test")))
    assert_registered(faulty.register(token(aud=None)))
    invalid_token(faulty.register(token(iss="rogue-ecs.reference.test")))


def test_fault_accepts_alg_none(ca: trustme.CA) -> None:
    faulty = Ees(ca, "token", "ees.accepts-alg-none")
    assert_registered(faulty.register(compact({"alg": "none"}, claims())))
    assert_registered(faulty.register(compact({"alg": "NoNe"}, claims())))
    invalid_token(faulty.register(tampered(token())))
    invalid_token(faulty.register(compact({"alg": "none"}, claims(exp=int(time.time()) - 600))))


def test_fault_falls_back_to_local_policy(ca: trustme.CA) -> None:
    """Fail open: no or invalid token, and local policy decides instead of a 401."""
    faulty = Ees(ca, "token", "ees.falls-back-to-local-policy")
    assert_registered(faulty.register())
    assert_registered(faulty.register(token(exp=int(time.time()) - 600)))
    assert_refused(faulty.register(None, {"eecId": "eec-3"}, "eec-3"), 403, "NOT_AUTHORIZED")
    assert_refused(faulty.register(token(scope="x")), 403, "INSUFFICIENT_SCOPE", f"{CHALLENGE}, *")


def test_fault_refuses_authorized_eec(ca: trustme.CA) -> None:
    assert_refused(Ees(ca, "local", "ees.refuses-authorized-eec").register(), 403, "NOT_AUTHORIZED")


def test_fault_token_bypasses_local_policy(ca: trustme.CA) -> None:
    faulty = Ees(ca, "local", "ees.token-bypasses-local-policy")
    unauthorized = token(client_id="eec-3", sub="msisdn-491700000003")
    assert_registered(faulty.register(unauthorized, {"eecId": "eec-3"}, "eec-3"), {"eecId": "eec-3"})
    assert_refused(faulty.register(None, {"eecId": "eec-3"}, "eec-3"), 403, "NOT_AUTHORIZED")


def test_fault_skips_local_policy(ca: trustme.CA) -> None:
    assert_refused(Ees(ca, "local").register(None, {"eecId": "eec-3"}, "eec-3"), 403, "NOT_AUTHORIZED")
    faulty = Ees(ca, "local", "ees.skips-local-policy")
    assert_registered(faulty.register(None, {"eecId": "eec-3"}, "eec-3"), {"eecId": "eec-3"})


def test_faults_of_the_ecs_do_not_touch_the_ees(ca: trustme.CA) -> None:
    faulty = Ees(ca, "token", "ecs.skips-gpsi-check", "ecs.skips-local-policy")
    assert_refused(faulty.register(token(sub=GPSI_2), {"eecId": "eec-1", "ueId": GPSI_2}), 403, "GPSI_MISMATCH")


# --- end to end: ECS-issued token at the EES over mutual TLS ------------------------------------


class Deployment:
    """A server CA, the EEC CA, its rogue twin, and a client context per EEC certificate."""

    def __init__(self) -> None:
        self.server_ca, self.eec_ca, self.rogue_ca = trustme.CA(), trustme.CA(), trustme.CA()
        self.server_cert = self.server_ca.issue_cert(ECS_FQDN, EES_FQDN, "127.0.0.1")

    def server_tls(self, *faults: str) -> ServerTls:
        tls = ees_behaviour(faults).tls
        cas = [self.eec_ca.cert_pem.bytes()] + ([self.rogue_ca.cert_pem.bytes()] if tls.trust_rogue_ca else [])
        chain, key = (
            self.server_cert.private_key_and_cert_chain_pem.bytes(),
            self.server_cert.private_key_pem.bytes(),
        )
        return ServerTls(chain, key, cas, client_auth=tls.client_auth, check_time=tls.check_time)

    def client(self, cert: trustme.LeafCert, server: ReferenceServer) -> httpx.Client:
        context = ssl.create_default_context()
        self.server_ca.configure_trust(context)
        cert.configure_cert(context)
        return httpx.Client(verify=context, http2=True, timeout=5.0, base_url=server.base_url)


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return Deployment()


@pytest.fixture(scope="module")
def ecs_and_ees(deployment: Deployment) -> Iterator[tuple[ReferenceServer, ReferenceServer]]:
    key = new_signing_key()
    ees_settings = settings(trusted_jwks=public_jwks(key, "ecs-1"))
    with ReferenceServer(build_ees_app(ees_settings), deployment.server_tls()) as ees_server:
        candidate = KnownEes("ees-a", EES_FQDN, ees_server.base_url)
        ecs_settings = EcsSettings(ECS_FQDN, REGISTRY, (candidate,), key, "ecs-1")
        with ReferenceServer(build_ecs_app(ecs_settings), deployment.server_tls()) as ecs_server:
            yield ecs_server, ees_server


def test_end_to_end_ecs_token_is_accepted_by_the_ees_over_mtls_h2(
    deployment: Deployment, ecs_and_ees: tuple[ReferenceServer, ReferenceServer]
) -> None:
    """6.2 + 6.3: provision at the ECS, register at the EES with the token it issued."""
    ecs_server, ees_server = ecs_and_ees
    eec_cert = deployment.eec_ca.issue_cert(common_name="eec-1")
    with deployment.client(eec_cert, ecs_server) as client:
        provisioned = client.post("/eecs-serviceprovisioning/v1/request", json={"eecId": "eec-1"})
    (info,) = provisioned.json()["ednCnfgInfo"][0]["eess"]
    assert info["endPt"] == {"uri": ees_server.base_url}
    with deployment.client(eec_cert, ees_server) as client:
        registered = client.post(
            REGISTRATIONS, json={"eecId": "eec-1"}, headers={"Authorization": f"Bearer {info['accessToken']}"}
        )
        unauthenticated = client.post(REGISTRATIONS, json={"eecId": "eec-1"})
    assert registered.http_version == "HTTP/2"
    assert_registered(registered)
    assert registered.headers["location"].startswith(f"{ees_server.base_url}{REGISTRATIONS}/")
    assert_refused(unauthenticated, 401, "TOKEN_REQUIRED", CHALLENGE)


def test_end_to_end_accepts_any_client_cert_fault(deployment: Deployment) -> None:
    """ees.accepts-any-client-cert: a rogue-CA and an expired certificate both get through TLS."""
    app = build_ees_app(settings("local"), ees_behaviour(["ees.accepts-any-client-cert"]))
    past = datetime.now(UTC) - timedelta(days=30)
    expired = deployment.eec_ca.issue_cert(common_name="eec-1", not_before=past, not_after=past + timedelta(days=1))
    with ReferenceServer(app, deployment.server_tls("ees.accepts-any-client-cert")) as server:
        for cert in (deployment.rogue_ca.issue_cert(common_name="eec-1"), expired):
            with deployment.client(cert, server) as client:
                assert_registered(client.post(REGISTRATIONS, json={"eecId": "eec-1"}))
