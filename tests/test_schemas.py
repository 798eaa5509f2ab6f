"""Schema validation of EDGE-4 / EDGE-1 bodies against the bundled 3GPP OpenAPI files."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.checks import schema
from conformance.checks.schema import (
    EXAMPLE_EEC_REGISTRATION,
    EXAMPLE_SERV_PROV_REQ,
    EXAMPLE_SERV_PROV_RESP,
    SCHEMAS,
    gpsi_is_well_formed,
    validate,
)

ROOT_FILES = ("TS24558_Eecs_ServiceProvisioning.yaml", "TS24558_Eees_EECRegistration.yaml")


def serv_prov_resp() -> dict[str, Any]:
    """A realistic ECS answer: one EDN, one EES reachable by URI, with a vendor member."""
    return {
        "ednCnfgInfo": [
            {
                "ednConInfo": {"dnn": "edge.dnn", "snssai": {"sst": 1, "sd": "000001"}},
                "eess": [
                    {
                        "eesId": "ees-0001",
                        "eecRegConf": True,
                        "endPt": {"uri": "https://ees.example.com/eees-eecregistration/v1"},
                        "eesAuthMethods": ["TLS_CLIENT_SERVER_CERTIFICATE"],
                        "accessToken": "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
                    }
                ],
                "lifeTime": "2030-01-01T00:00:00Z",
            }
        ]
    }


def eec_registration() -> dict[str, Any]:
    return {
        "eecId": "eec-0001",
        "ueId": "msisdn-491701234567",
        "acProfs": [{"acId": "ac-video", "eass": [{"easId": "eas-video"}]}],
        "expTime": "2030-01-01T00:00:00+01:00",
        "endPt": {"fqdn": "eec.example.com"},
        "ueType": "NORMAL_UE",
    }


# -- the shared minimal examples ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "alias"),
    [
        (EXAMPLE_SERV_PROV_REQ, "ECSServProvReq"),
        (EXAMPLE_SERV_PROV_RESP, "ECSServProvResp"),
        (EXAMPLE_EEC_REGISTRATION, "EECRegistration"),
    ],
)
def test_minimal_examples_are_valid(body: dict[str, Any], alias: str) -> None:
    assert validate(body, alias) == []


# -- ECSServProvResp ----------------------------------------------------------------------------


def test_realistic_serv_prov_resp_with_vendor_member_is_valid() -> None:
    assert validate(serv_prov_resp(), "ECSServProvResp") == []


def test_alias_and_full_reference_agree() -> None:
    body = serv_prov_resp()
    body["ednCnfgInfo"] = []
    assert validate(body, "ECSServProvResp") == validate(body, SCHEMAS["ECSServProvResp"])


def test_empty_edn_config_list_is_reported_with_its_path() -> None:
    assert validate({"ednCnfgInfo": []}, "ECSServProvResp") == ["$.ednCnfgInfo: [] should be non-empty"]


def test_missing_ees_id_names_the_ees_entry() -> None:
    body = serv_prov_resp()
    del body["ednCnfgInfo"][0]["eess"][0]["eesId"]
    assert validate(body, "ECSServProvResp") == ["$.ednCnfgInfo[0].eess[0]: 'eesId' is a required property"]


def test_eec_reg_conf_as_string_names_the_member() -> None:
    body = serv_prov_resp()
    body["ednCnfgInfo"][0]["eess"][0]["eecRegConf"] = "true"
    assert validate(body, "ECSServProvResp") == ["$.ednCnfgInfo[0].eess[0].eecRegConf: 'true' is not of type 'boolean'"]


@pytest.mark.parametrize(
    "end_point",
    [{}, {"uri": "https://ees.example.com", "fqdn": "ees.example.com"}],
    ids=["no-address", "two-addresses"],
)
def test_end_point_needs_exactly_one_address_form(end_point: dict[str, Any]) -> None:
    body = serv_prov_resp()
    body["ednCnfgInfo"][0]["eess"][0]["endPt"] = end_point
    (error,) = validate(body, "ECSServProvResp")
    assert error.startswith("$.ednCnfgInfo[0].eess[0].endPt: ")


# -- ECSServProvReq, EECRegistration, ProblemDetails ------------------------------------------


def test_serv_prov_req_needs_eec_id() -> None:
    assert validate({"ueId": "msisdn-491701234567"}, "ECSServProvReq") == ["$: 'eecId' is a required property"]


def test_realistic_eec_registration_is_valid() -> None:
    assert validate(eec_registration(), "EECRegistration") == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"eecId": None}, ["$.eecId: None for not nullable"]),
        ({"expTime": "2030-01-01 00:00"}, ["$.expTime: '2030-01-01 00:00' is not a 'date-time'"]),
        ({"acProfs": [{"acType": "video"}]}, ["$.acProfs[0]: 'acId' is a required property"]),
    ],
    ids=["null-eec-id", "bad-date-time", "profile-without-ac-id"],
)
def test_invalid_eec_registration(change: dict[str, Any], expected: list[str]) -> None:
    # <= rather than ==: for null, openapi-schema-validator also adds "None is not of type".
    assert set(expected) <= set(validate(eec_registration() | change, "EECRegistration"))


def test_eec_registration_without_eec_id() -> None:
    body = eec_registration()
    del body["eecId"]
    assert validate(body, "EECRegistration") == ["$: 'eecId' is a required property"]


def test_problem_details() -> None:
    problem = {
        "type": "https://example.com/problems/unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": "The access token is missing.",
        "cause": "INVALID_TOKEN",
        "invalidParams": [{"param": "/eecId", "reason": "unknown EEC"}],
    }
    assert validate(problem, "ProblemDetails") == []
    assert validate(problem | {"status": "401"}, "ProblemDetails") == ["$.status: '401' is not of type 'integer'"]


# -- OpenAPI 3.0 semantics ------------------------------------------------------------------------


def test_nullable_is_honoured() -> None:
    route = "TS29571_CommonData.yaml#/components/schemas/RouteToLocation"
    assert validate({"dnai": "dnai-1", "routeProfId": None}, route) == []
    assert validate({"dnai": None, "routeProfId": "p1"}, route) != []


# -- the API around the validator ------------------------------------------------------------------


def test_unknown_alias_lists_the_aliases() -> None:
    with pytest.raises(KeyError) as info:
        validate({}, "ECSServProvResponse")
    assert all(alias in str(info.value) for alias in SCHEMAS)


def test_unresolvable_reference_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="does not resolve"):
        validate({}, "TS24558_Eecs_ServiceProvisioning.yaml#/components/schemas/Nope")


def test_errors_are_capped() -> None:
    members = "eecId ueId acProfs expTime eecSvcContSupp eecCntxId srcEesId endPt ueMobilityReq"
    twelve_wrong_types = dict.fromkeys([*members.split(), "easSelReqInd", "discoveredEas", "ueType"], 1)
    assert len(validate(twelve_wrong_types, "EECRegistration")) == schema.MAX_ERRORS + 1
    errors = validate(twelve_wrong_types, "EECRegistration", max_errors=3)
    assert len(errors) == 4
    assert errors[-1].startswith("... further errors not shown")


def test_every_reference_reachable_from_the_two_apis_resolves() -> None:
    resolver = schema._registry().resolver()
    todo, seen = [(name, "") for name in ROOT_FILES], set()
    while todo:
        file, pointer = todo.pop()
        if (file, pointer) in seen:
            continue
        seen.add((file, pointer))
        for ref in _refs(resolver.lookup(f"{file}#{pointer}").contents):
            ref_file, _, ref_pointer = ref.partition("#")
            todo.append((ref_file or file, ref_pointer))
    assert len({file for file, _ in seen}) == 11


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


# -- GPSI ---------------------------------------------------------------------------------------


def test_schema_cannot_reject_a_malformed_gpsi() -> None:
    assert validate({"eecId": "eec-1", "ueId": "not a gpsi"}, "ECSServProvReq") == []
    assert not gpsi_is_well_formed("not a gpsi")


@pytest.mark.parametrize(
    ("value", "well_formed"),
    [
        ("msisdn-12345", True),
        ("msisdn-491701234567", True),
        ("msisdn-123456789012345", True),
        ("extid-user@example.com", True),
        ("extid-a@b", True),
        ("msisdn-1234", False),
        ("msisdn-1234567890123456", False),
        ("msisdn-+491701234567", False),
        ("msisdn-12345a", False),
        ("MSISDN-12345", False),
        ("msisdn-12345\n", False),
        ("extid-user", False),
        ("extid-@example.com", False),
        ("extid-user@", False),
        ("extid-a@b@c", False),
        ("imsi-001010123456789", False),
        ("491701234567", False),
        ("", False),
        (491701234567, False),
        (None, False),
    ],
)
def test_gpsi_strictness(value: object, well_formed: bool) -> None:
    assert gpsi_is_well_formed(value) is well_formed
