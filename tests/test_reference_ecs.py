"""The reference ECS (TS 33.558 6.2): admission, provisioning response, tokens, token endpoint, faults."""

from __future__ import annotations

import dataclasses
import ssl
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import Route

from conformance.reference.ecs import EcsSettings, KnownEes, build_ecs_app, new_signing_key
from conformance.reference.faults import ecs_behaviour
from conformance.reference.policy import EecRegistry, KnownEec, is_well_formed_gpsi
from conformance.reference.problems import EXCEPTION_HANDLERS
from conformance.reference.server import ReferenceServer, ServerTls
from conformance.reference.tls import tls_extension_from_cert, with_tls_extension

with warnings.catch_warnings():
    # starlette 1.x warns when its TestClient is backed by httpx rather than httpx2.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PROVISIONING = "/eecs-serviceprovisioning/v1/request"
TOKEN = "/oauth2/token"
ECS_FQDN = "ecs.reference.test"
GPSI_1, GPSI_2, GPSI_3 = "msisdn-491700000001", "msisdn-491700000002", "extid-eec3@reference.test"
SERVICES_A = ("eees-eecregistration", "eees-easdiscovery")
EES_A = KnownEes("ees-a", "ees-a.reference.test", "https://127.0.0.1:9001", SERVICES_A, "token")
EES_B = KnownEes("ees-b", "ees-b.reference.test", "https://127.0.0.1:9002", ("eees-eecregistration",), "token")
EES_C = KnownEes("ees-c", "ees-c.reference.test", "https://127.0.0.1:9003", ("eees-eecregistration",), "local")
TOKEN_CLAIMS = {"iss", "client_id", "sub", "scope", "aud", "exp", "iat", "jti"}


@pytest.fixture(scope="module")
def client_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def settings() -> EcsSettings:
    registry = EecRegistry(
        [KnownEec("eec-1", GPSI_1), KnownEec("eec-2", GPSI_2), KnownEec("eec-3", GPSI_3, authorized=False)]
    )
    return EcsSettings(
        fqdn=ECS_FQDN,
        registry=registry,
        candidates=(EES_A, EES_B, EES_C),
        signing_key_pem=new_signing_key(),
        kid="ecs-key-1",
        token_lifetime=600,
    )


class Ecs:
    """Builds in-process clients of the ECS app as a given EEC (certificate CN) would reach it."""

    def __init__(self, settings: EcsSettings, ca: trustme.CA, faults: tuple[str, ...] = ()) -> None:
        self.app, self.ca = build_ecs_app(settings, ecs_behaviour(faults)), ca

    def client(self, common_name: str | None = "eec-1") -> TestClient:
        cert = self.ca.issue_cert(common_name=common_name).cert_chain_pems[0].bytes() if common_name else None
        app = with_tls_extension(self.app, tls_extension_from_cert(cert))
        return TestClient(app, base_url=f"https://{ECS_FQDN}")

    def provision(self, body: dict[str, Any], common_name: str | None = "eec-1") -> httpx.Response:
        response: httpx.Response = self.client(common_name).post(PROVISIONING, json=body)
        return response

    def grant(self, form: dict[str, str], common_name: str | None = "eec-1") -> httpx.Response:
        response: httpx.Response = self.client(common_name).post(TOKEN, data=form)
        return response

    def jwks(self) -> KeySet:
        return KeySet.import_key_set(self.client().get("/.well-known/jwks.json").json())


@pytest.fixture(scope="module")
def ecs(settings: EcsSettings, client_ca: trustme.CA) -> Ecs:
    return Ecs(settings, client_ca)


def with_faults(settings: EcsSettings, ca: trustme.CA, *names: str) -> Ecs:
    return Ecs(settings, ca, names)


def eess(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {info["eesId"]: info for info in response.json()["ednCnfgInfo"][0]["eess"]}


def decode(token: str, keys: KeySet) -> jwt.Token:
    return jwt.decode(token, keys, algorithms=["ES256"])


def assert_problem(response: httpx.Response, status: int, cause: str | None = None) -> dict[str, Any]:
    """A TS 29.122 ProblemDetails refusal with ``status`` in both places, and no token anywhere."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body.get("cause") == cause
    assert "eyJ" not in response.text
    assert "Traceback" not in response.text
    return body


# --- provisioning: the positive path -------------------------------------------------------


def test_authorized_eec_gets_edn_configuration(ecs: Ecs) -> None:
    """ECS-AUTHZ-02: an authenticated, authorized EEC gets a 200 ECSServProvResp."""
    response = ecs.provision({"eecId": "eec-1", "ueId": GPSI_1})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    config = response.json()["ednCnfgInfo"]
    assert len(config) == 1
    assert config[0]["ednConInfo"] == {"dnn": "edge.reference.test"}
    for ees, info in zip((EES_A, EES_B, EES_C), config[0]["eess"], strict=True):
        assert info["eesId"] == ees.ees_id
        assert info["eecRegConf"] is True
        assert info["endPt"] == {"uri": ees.base_url}
        assert info["eesAuthMethods"] == ["TLS_CLIENT_SERVER_CERTIFICATE"]


def test_one_distinct_token_per_token_based_ees_none_for_local(ecs: Ecs) -> None:
    """ECS-TOK-01/02, ECS-CFG-01: separate tokens for token-based EESes only."""
    infos = eess(ecs.provision({"eecId": "eec-1"}))
    assert "accessToken" not in infos["ees-c"]
    token_a, token_b = infos["ees-a"]["accessToken"], infos["ees-b"]["accessToken"]
    assert token_a != token_b
    keys = ecs.jwks()
    assert decode(token_a, keys).claims["aud"] == EES_A.fqdn
    assert decode(token_b, keys).claims["aud"] == EES_B.fqdn


def test_token_verifies_with_published_jwks_and_carries_exactly_the_claims(ecs: Ecs) -> None:
    """ECS-TOK-03..09, 11: ES256 JWS, typ at+jwt, kid; iss/client_id/sub/scope/aud/exp/iat/jti."""
    before = int(time.time())
    token = eess(ecs.provision({"eecId": "eec-1", "ueId": GPSI_1}))["ees-a"]["accessToken"]
    decoded = decode(token, ecs.jwks())
    assert decoded.header == {"alg": "ES256", "typ": "at+jwt", "kid": "ecs-key-1"}
    claims = decoded.claims
    assert set(claims) == TOKEN_CLAIMS
    assert claims["iss"] == ECS_FQDN
    assert claims["client_id"] == "eec-1"
    assert claims["sub"] == GPSI_1
    assert claims["scope"] == "eees-eecregistration eees-easdiscovery"
    assert claims["aud"] == EES_A.fqdn
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == 600
    other = eess(ecs.provision({"eecId": "eec-1"}))["ees-a"]["accessToken"]
    assert decode(other, ecs.jwks()).claims["jti"] != claims["jti"]


def test_sub_is_the_registered_gpsi_when_no_ueid_is_sent(ecs: Ecs) -> None:
    token = eess(ecs.provision({"eecId": "eec-2"}, "eec-2"))["ees-b"]["accessToken"]
    claims = decode(token, ecs.jwks()).claims
    assert (claims["sub"], claims["client_id"]) == (GPSI_2, "eec-2")


def test_jwks_publishes_only_public_members(ecs: Ecs) -> None:
    """ECS-TOK-11: no private key material in the published key set."""
    (key,) = ecs.client().get("/.well-known/jwks.json").json()["keys"]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["kid"] == "ecs-key-1"
    assert "d" not in key


# --- provisioning: every refusal ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type", "status", "param"),
    [
        (b"{not json", "application/json", 400, None),
        (b"[]", "application/json", 400, None),
        (b"NaN", "application/json", 400, None),
        (b"[" * 100_00 + b"]" * 100_00, "application/json", 400, None),
        (b"{}", "application/json", 400, "/eecId"),
        (b'{"eecId": 7}', "application/json", 400, "/eecId"),
        (b'{"eecId": ""}', "application/json", 400, "/eecId"),
        (b'{"eecId": "eec-1"}', "text/plain", 415, None),
        (b'{"eecId": "eec-1", "pad": "' + b"x" * 70_000 + b'"}', "application/json", 413, None),
    ],
)
def test_malformed_requests_get_4xx_problem_details(
    ecs: Ecs, content: bytes, content_type: str, status: int, param: str | None
) -> None:
    """ECS-ROB-01, ECS-RESP-01: malformed bodies get 4xx ProblemDetails, never 5xx or tokens."""
    response = ecs.client().post(PROVISIONING, content=content, headers={"content-type": content_type})
    body = assert_problem(response, status, body_cause(status))
    if param:
        assert body["invalidParams"][0]["param"] == param


def body_cause(status: int) -> str:
    return {400: "INVALID_REQUEST", 413: "REQUEST_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}[status]


@pytest.mark.parametrize(
    ("common_name", "body", "cause"),
    [
        (None, {"eecId": "eec-1"}, "NO_CLIENT_CERTIFICATE"),
        ("stranger", {"eecId": "stranger"}, "UNKNOWN_EEC"),
        ("eec-1", {"eecId": "eec-2"}, "EEC_ID_MISMATCH"),
        ("eec-1", {"eecId": "eec-1", "ueId": GPSI_2}, "GPSI_MISMATCH"),
        ("eec-3", {"eecId": "eec-3"}, "NOT_AUTHORIZED"),
    ],
)
def test_identity_gpsi_and_policy_refusals_are_403(
    ecs: Ecs, common_name: str | None, body: dict[str, Any], cause: str
) -> None:
    """ECS-GPSI-01, ECS-AUTHZ-01: refused with 403 and no EDN configuration or token."""
    assert_problem(ecs.provision(body, common_name), 403, cause)


@pytest.mark.parametrize(
    "gpsi", ["491700000001", "msisdn-1234", "msisdn-1234567890123456", "msisdn-12345\n", "extid-a@b@c", 42]
)
def test_malformed_gpsi_is_400(ecs: Ecs, gpsi: object) -> None:
    """ECS-GPSI-02: a ueId that is not msisdn-<5..15 digits> or extid-<id>@<domain>."""
    body = assert_problem(ecs.provision({"eecId": "eec-1", "ueId": gpsi}), 400, "INVALID_REQUEST")
    assert body["invalidParams"][0]["param"] == "/ueId"


def test_gpsi_format() -> None:
    assert is_well_formed_gpsi("msisdn-12345")
    assert is_well_formed_gpsi("extid-device7@iot.example")
    assert not is_well_formed_gpsi("msisdn-12a45")
    assert not is_well_formed_gpsi("imsi-001010000000001")


def test_routing_errors_are_problem_details(ecs: Ecs) -> None:
    assert_problem(ecs.client().get("/nowhere"), 404)
    response = ecs.client().get(PROVISIONING)
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


# --- the token endpoint binding ------------------------------------------------------------


def test_client_credentials_grant_issues_a_bearer_token(ecs: Ecs) -> None:
    """ECS-TOK-10: token_type Bearer, not cacheable, token for the named EES."""
    response = ecs.grant(
        {"grant_type": "client_credentials", "client_id": "eec-1", "resource": "https://ees-b.reference.test"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "eees-eecregistration"
    claims = decode(body["access_token"], ecs.jwks()).claims
    assert (claims["aud"], claims["client_id"], claims["sub"], claims["iss"]) == (
        EES_B.fqdn,
        "eec-1",
        GPSI_1,
        ECS_FQDN,
    )


def test_grant_narrows_scope_and_accepts_base_url_resource(ecs: Ecs) -> None:
    form = {"grant_type": "client_credentials", "client_id": "eec-1", "resource": EES_A.base_url + "/"}
    body = ecs.grant({**form, "scope": "eees-easdiscovery"}).json()
    assert body["scope"] == "eees-easdiscovery"
    assert decode(body["access_token"], ecs.jwks()).claims["aud"] == EES_A.fqdn


GOOD_FORM = {
    "grant_type": "client_credentials",
    "client_id": "eec-1",
    "resource": "https://ees-a.reference.test",
}


@pytest.mark.parametrize(
    ("change", "common_name", "error"),
    [
        ({"grant_type": None}, "eec-1", "invalid_request"),
        ({"grant_type": "password"}, "eec-1", "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, "eec-1", "unsupported_grant_type"),
        ({"client_id": None}, "eec-1", "invalid_request"),
        ({"client_id": "eec-2"}, "eec-1", "invalid_client"),
        ({}, None, "invalid_client"),
        ({"client_id": "stranger"}, "stranger", "invalid_client"),
        ({"client_id": "eec-3"}, "eec-3", "unauthorized_client"),
        ({"resource": None}, "eec-1", "invalid_target"),
        ({"resource": "https://ees-c.reference.test"}, "eec-1", "invalid_target"),
        ({"resource": "https://elsewhere.test"}, "eec-1", "invalid_target"),
        ({"scope": "eees-appctxtreloc"}, "eec-1", "invalid_scope"),
    ],
)
def test_token_endpoint_errors(ecs: Ecs, change: dict[str, str | None], common_name: str | None, error: str) -> None:
    """RFC 6749 5.2 errors: 400 JSON {error, error_description}, not cacheable, no token."""
    form = {key: value for key, value in {**GOOD_FORM, **change}.items() if value is not None}
    response = ecs.grant(form, common_name)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"
    assert "access_token" not in response.text


def test_token_endpoint_wants_a_form_with_single_parameters(ecs: Ecs) -> None:
    as_json = ecs.client().post(TOKEN, json=GOOD_FORM)
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"
    twice = ecs.client().post(
        TOKEN,
        content="grant_type=client_credentials&client_id=eec-1&client_id=eec-1&resource=https://ees-a.reference.test",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 400
    assert twice.json()["error"] == "invalid_request"


# --- faults --------------------------------------------------------------------------------


def test_fault_skips_gpsi_check(settings: EcsSettings, client_ca: trustme.CA) -> None:
    faulty = with_faults(settings, client_ca, "ecs.skips-gpsi-check")
    response = faulty.provision({"eecId": "eec-1", "ueId": GPSI_2})
    assert response.status_code == 200
    assert decode(eess(response)["ees-a"]["accessToken"], faulty.jwks()).claims["sub"] == GPSI_2
    assert_problem(faulty.provision({"eecId": "eec-1", "ueId": "msisdn-1"}), 400, "INVALID_REQUEST")


def test_fault_skips_local_policy(settings: EcsSettings, client_ca: trustme.CA) -> None:
    faulty = with_faults(settings, client_ca, "ecs.skips-local-policy")
    assert "accessToken" in eess(faulty.provision({"eecId": "eec-3"}, "eec-3"))["ees-a"]
    granted = faulty.grant({**GOOD_FORM, "client_id": "eec-3"}, "eec-3")
    assert granted.status_code == 200
    assert_problem(faulty.provision({"eecId": "stranger"}, "stranger"), 403, "UNKNOWN_EEC")


def test_fault_invalid_provisioning_response(settings: EcsSettings, client_ca: trustme.CA) -> None:
    response = with_faults(settings, client_ca, "ecs.invalid-provisioning-response").provision({"eecId": "eec-1"})
    assert response.status_code == 200
    assert response.json() == {"ednCnfgInfo": []}


def test_fault_token_without_sub(settings: EcsSettings, client_ca: trustme.CA) -> None:
    faulty = with_faults(settings, client_ca, "ecs.token-without-sub")
    token = eess(faulty.provision({"eecId": "eec-1", "ueId": GPSI_1}))["ees-a"]["accessToken"]
    assert set(decode(token, faulty.jwks()).claims) == TOKEN_CLAIMS - {"sub"}


def test_fault_plain_error_bodies(settings: EcsSettings, client_ca: trustme.CA) -> None:
    assert_problem(with_faults(settings, client_ca).provision({"eecId": "eec-3"}, "eec-3"), 403, "NOT_AUTHORIZED")
    response = with_faults(settings, client_ca, "ecs.plain-error-bodies").provision({"eecId": "eec-3"}, "eec-3")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")


# --- end to end over mutual TLS ------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_ecs(settings: EcsSettings, client_ca: trustme.CA) -> Iterator[tuple[ReferenceServer, ssl.SSLContext]]:
    server_ca = trustme.CA()
    server_cert = server_ca.issue_cert(ECS_FQDN, "127.0.0.1")
    tls = ServerTls(
        server_cert.private_key_and_cert_chain_pem.bytes(),
        server_cert.private_key_pem.bytes(),
        [client_ca.cert_pem.bytes()],
    )
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    client_ca.issue_cert(common_name="eec-1").configure_cert(context)
    with ReferenceServer(build_ecs_app(settings), tls) as server:
        yield server, context


def test_end_to_end_provisioning_and_token_endpoint_over_mtls_h2(
    tls_ecs: tuple[ReferenceServer, ssl.SSLContext],
) -> None:
    """Real mTLS, HTTP/2: the certificate CN authenticates eec-1 for provisioning and the grant."""
    server, context = tls_ecs
    with httpx.Client(verify=context, http2=True, timeout=5.0, base_url=server.base_url) as client:
        provisioned = client.post(PROVISIONING, json={"eecId": "eec-1", "ueId": GPSI_1})
        granted = client.post(TOKEN, data=GOOD_FORM)
        keys = KeySet.import_key_set(client.get("/.well-known/jwks.json").json())
    assert provisioned.http_version == "HTTP/2"
    assert provisioned.status_code == 200
    assert decode(eess(provisioned)["ees-a"]["accessToken"], keys).claims["client_id"] == "eec-1"
    assert granted.status_code == 200
    assert decode(granted.json()["access_token"], keys).claims["sub"] == GPSI_1


def test_end_to_end_client_cert_optional_fault_answers_403(settings: EcsSettings, client_ca: trustme.CA) -> None:
    """ecs.client-cert-optional: the handshake lets a certificate-less EEC in; the app refuses it."""
    server_ca = trustme.CA()
    server_cert = server_ca.issue_cert("127.0.0.1")
    behaviour = ecs_behaviour(["ecs.client-cert-optional"])
    tls = ServerTls(
        server_cert.private_key_and_cert_chain_pem.bytes(),
        server_cert.private_key_pem.bytes(),
        [client_ca.cert_pem.bytes()],
        client_auth=behaviour.tls.client_auth,
        check_time=behaviour.tls.check_time,
    )
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    with ReferenceServer(build_ecs_app(settings, behaviour), tls) as server:
        response = httpx.post(f"{server.base_url}{PROVISIONING}", json={"eecId": "eec-1"}, verify=context, timeout=5.0)
    assert_problem(response, 403, "NO_CLIENT_CERTIFICATE")


def test_app_state_exposes_configuration(settings: EcsSettings) -> None:
    app = build_ecs_app(settings, ecs_behaviour(["ecs.token-without-sub"]))
    assert isinstance(app, Starlette)
    assert app.state.settings is settings
    assert app.state.behaviour.token_with_sub is False


def test_a_disrupted_ecs_locks_out_after_the_first_request(settings: EcsSettings, client_ca: trustme.CA) -> None:
    locked = with_faults(settings, client_ca, "ecs.locks-out-after-first-request")
    assert locked.provision({"eecId": "eec-1"}).status_code == 200
    assert_problem(locked.provision({"eecId": "eec-1"}), 403)
    assert locked.provision({"eecId": "eec-2"}, "eec-2").status_code == 200  # each EEC once
    refusing = with_faults(settings, client_ca, "ecs.refuses-everything")
    assert_problem(refusing.provision({"eecId": "eec-1"}), 403)
    limited = with_faults(settings, client_ca, "ecs.rate-limited")
    assert limited.provision({"eecId": "eec-1"}).status_code == 200
    busy = limited.provision({"eecId": "eec-1"})
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "30"


P384_KEY = ec.generate_private_key(ec.SECP384R1()).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"candidates": ()}, "at least one candidate"),
        ({"candidates": (EES_A, EES_A)}, "unique"),
        ({"token_lifetime": 0}, "token_lifetime"),
        ({"signing_key_pem": P384_KEY}, "P-256"),
    ],
)
def test_misconfigured_ecs_is_refused_at_settings_time(
    settings: EcsSettings, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(settings, **changes)


def test_candidate_ees_needs_a_known_authorization_method() -> None:
    with pytest.raises(ValueError, match="token' or 'local"):
        KnownEes("ees-x", "ees-x.reference.test", "https://127.0.0.1:1", ("eees-eecregistration",), "oauth")  # type: ignore[arg-type]


def test_a_bug_in_the_reference_is_a_500_problem_without_internals() -> None:
    async def broken(request: Any) -> Any:
        raise KeyError("signing_key_pem=-----BEGIN PRIVATE KEY-----")

    app = Starlette(routes=[Route("/broken", broken)], exception_handlers=EXCEPTION_HANDLERS)
    response = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert_problem(response, 500, "SYSTEM_FAILURE")
    assert "PRIVATE KEY" not in response.text
    assert "KeyError" not in response.text
