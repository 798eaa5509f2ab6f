"""Property-based fuzzing of the reference ECS and EES with schemathesis (issue 9).

schemathesis reads the TS 24.558 OpenAPI and draws request bodies for the ECS service
provisioning and the EES EEC registration: schema-valid ones (positive mode) and schema-invalid
ones (negative mode, random non-JSON bytes included). Each goes to the reference app in-process,
as the authorized EEC: its client certificate reaches the app through the same ASGI ``tls``
extension the reference's TLS server fills in, and where a body has a string ``eecId``/``ueId``
the EEC's own goes in, so the request gets past the identity checks to the members.

The properties: never a 5xx; a schema-invalid body is refused with 4xx and a valid ProblemDetails
(``application/problem+json``), never served (no EDN configuration or token from the ECS, no
201 or ``Location`` from the EES); a schema-valid one is served. Hypothesis is derandomized and
keeps no example database, with a bounded number of examples, so CI sees the same few seconds each
time. The last tests prove the properties can fail: under ``*.crashes-on-bad-request`` they find
the 5xx.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import trustme
from hypothesis import HealthCheck, Phase, strategies
from schemathesis import GenerationMode
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import ASGIApp

from conformance.checks import schema
from conformance.reference.ecs import EcsSettings, KnownEes, build_ecs_app, new_signing_key
from conformance.reference.ees import EesSettings, build_ees_app
from conformance.reference.faults import ecs_behaviour, ees_behaviour
from conformance.reference.policy import EecRegistry, KnownEec
from conformance.reference.tls import tls_extension_from_cert, with_tls_extension
from conformance.targets.edge_apis import EEC_REGISTRATION_PATH, SERVICE_PROVISIONING_PATH

with warnings.catch_warnings():
    # starlette 1.x warns when its TestClient is backed by httpx rather than httpx2.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

EEC_ID, GPSI = "eec-1", "msisdn-491700000001"
ECS_FQDN, EES_FQDN = "ecs.reference.test", "ees-a.reference.test"
REGISTRY = EecRegistry([KnownEec(EEC_ID, GPSI), KnownEec("eec-2", "msisdn-491700000002")])
EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 15}
"""Examples per property: a few seconds each (the 3GPP schemas nest deep, and draws are slow)."""
FUZZ = hypothesis.settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the first counterexample is reported as drawn
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


class Api:
    """One reference app and the OpenAPI operation it serves, reached in-process as the authorized EEC."""

    def __init__(self, app: ASGIApp, openapi_file: str, operation: str, path: str, schema_name: str) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert(common_name=EEC_ID).cert_chain_pems[0].bytes()
        tls_app = with_tls_extension(app, tls_extension_from_cert(cert))
        # A 500 is what the faulty servers are caught at: answered, not raised into the test.
        self.client = TestClient(tls_app, base_url="https://reference", raise_server_exceptions=False)
        with resources.as_file(resources.files("conformance") / "data" / "openapi" / openapi_file) as location:
            loaded = schemathesis.openapi.from_path(location, config=schemathesis.Config())
        self.operation = loaded[operation]["POST"]
        self.path, self.schema_name = path, schema_name

    def bodies(self, mode: GenerationMode) -> strategies.SearchStrategy[Any]:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not valid syntax for a Python regular expression.*")
            return self.operation.as_strategy(generation_mode=mode).map(lambda case: case.body)

    def post(self, body: Any) -> tuple[Any, httpx.Response]:
        """``body`` made the authorized EEC's and sent; the body as sent (bytes stay bytes)."""
        if isinstance(body, dict):
            body = dict(body)
            if isinstance(body.get("eecId"), str):
                body["eecId"] = EEC_ID
            if isinstance(body.get("ueId"), str):
                body["ueId"] = GPSI
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.client.post(self.path, content=content, headers={"Content-Type": "application/json"})
        return body, response

    def is_valid(self, body: Any) -> bool:
        return not isinstance(body, bytes) and not schema.validate(body, self.schema_name, max_errors=1)


def ecs_app(*faults: str) -> ASGIApp:
    settings = EcsSettings(
        fqdn=ECS_FQDN,
        registry=REGISTRY,
        candidates=(KnownEes("ees-a", EES_FQDN, "https://127.0.0.1:9001"),),
        signing_key_pem=new_signing_key(),
        kid="ecs-key-1",
        token_lifetime=600,
    )
    return build_ecs_app(settings, ecs_behaviour(faults))


def ees_app(*faults: str) -> ASGIApp:
    return build_ees_app(EesSettings(fqdn=EES_FQDN, registry=REGISTRY, authorization="local"), ees_behaviour(faults))


def ecs_api(*faults: str) -> Api:
    return Api(ecs_app(*faults), "TS24558_Eecs_ServiceProvisioning.yaml", "/request", SERVICE_PROVISIONING_PATH,
               "ECSServProvReq")  # fmt: skip


def ees_api(*faults: str) -> Api:
    return Api(ees_app(*faults), "TS24558_Eees_EECRegistration.yaml", "/registrations", EEC_REGISTRATION_PATH,
               "EECRegistration")  # fmt: skip


@pytest.fixture(scope="module", params=["ecs", "ees"])
def api(request: pytest.FixtureRequest) -> Iterator[Api]:
    built = ecs_api() if request.param == "ecs" else ees_api()
    with built.client:
        yield built


def assert_refused_with_problem_details(body: Any, response: httpx.Response) -> None:
    """4xx, a valid ProblemDetails with the same status, and nothing served."""
    shown = repr(body)[:300]
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300], shown)
    assert response.headers["content-type"].split(";")[0] == "application/problem+json", shown
    problem = response.json()
    assert schema.validate(problem, "ProblemDetails") == [], (problem, shown)
    assert problem["status"] == response.status_code
    assert "ednCnfgInfo" not in problem  # no EDN configuration, so no token
    assert "location" not in response.headers  # no registration created


def assert_served(body: Any, response: httpx.Response, api: Api) -> None:
    assert response.status_code in (200, 201), (response.status_code, response.text[:300], repr(body)[:300])
    answer = response.json()
    if api.schema_name == "ECSServProvReq":
        assert schema.validate(answer, "ECSServProvResp") == []
    else:
        assert answer == body  # the registration echoes what was registered
        assert response.headers["location"].startswith(f"https://reference{EEC_REGISTRATION_PATH}/")


def fuzz(api: Api, mode: GenerationMode, check: Callable[[Any, httpx.Response], None]) -> None:
    """Draw ``EXAMPLES[mode]`` bodies, send each, and hold ``check`` on every (body, response)."""

    @hypothesis.settings(FUZZ, max_examples=EXAMPLES[mode])
    @hypothesis.given(api.bodies(mode))
    def property_holds(drawn: Any) -> None:
        body, response = api.post(drawn)
        assert response.status_code < 500, (response.status_code, repr(body)[:300])
        check(body, response)

    property_holds()


def test_schema_invalid_bodies_are_refused_with_problem_details(api: Api) -> None:
    def check(body: Any, response: httpx.Response) -> None:
        hypothesis.assume(not api.is_valid(body))  # the EEC's own eecId/ueId may have mended it
        assert_refused_with_problem_details(body, response)

    fuzz(api, GenerationMode.NEGATIVE, check)


def test_schema_valid_bodies_are_served(api: Api) -> None:
    def check(body: Any, response: httpx.Response) -> None:
        assert api.is_valid(body), repr(body)[:300]  # positive mode drew a valid body: the harness agrees
        assert_served(body, response, api)

    fuzz(api, GenerationMode.POSITIVE, check)


@pytest.mark.parametrize(("build", "fault"), [(ecs_api, "ecs.crashes-on-bad-request"),
                                              (ees_api, "ees.crashes-on-bad-request")])  # fmt: skip
def test_the_fuzzing_finds_the_crash_of_a_server_that_does_not_validate(build: Callable[..., Api], fault: str) -> None:
    faulty = build(fault)
    with faulty.client, pytest.raises(AssertionError, match=r"^\(500, "):
        fuzz(faulty, GenerationMode.NEGATIVE, lambda body, response: None)
