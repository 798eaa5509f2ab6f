"""Validate JSON bodies against the 3GPP OpenAPI schemas of EDGE-4 and EDGE-1.

A schema is named by its alias or by a reference into one of the bundled YAML files::

    >>> validate({"eecId": "eec-1"}, "ECSServProvReq")
    []
    >>> validate({"ednCnfgInfo": []}, "ECSServProvResp")
    ['$.ednCnfgInfo: [] should be non-empty']
    >>> validate({}, "TS24558_Eees_EECRegistration.yaml#/components/schemas/EECRegistration")
    ["$: 'eecId' is a required property"]

Each error names the JSON path of the offending value. An empty list means valid.

What is checked, with OpenAPI 3.0 semantics (``openapi_schema_validator.OAS30Validator``):

- types with ``nullable``, ``required``, ``enum``, ``pattern``, lengths, ``minItems``,
  ``oneOf``/``anyOf``/``allOf``/``not`` and ``discriminator`` inside ``oneOf``/``anyOf``;
- formats ``date-time`` and ``date`` (RFC 3339; via ``rfc3339-validator``, a dependency of
  ``openapi-schema-validator``), ``uuid``, ``int32``, ``int64``, ``float``, ``double``, ``byte``.
  ``uri`` is not checked: the 3GPP ``Uri`` and ``Link`` types are plain strings without a
  ``format``, and jsonschema's ``uri`` check would need the extra package ``rfc3987``;
- ``readOnly``/``writeOnly`` are direction-agnostic: such a member is never required and never
  rejected (no member reached from the four aliased schemas carries either keyword).

Members the schema does not list are allowed (3GPP schemas do not set
``additionalProperties: false``), so a vendor extension such as ``accessToken`` passes.

What is not checked: the shape of a GPSI. The 3GPP ``Gpsi`` pattern ends in ``|.+``, so any
non-empty string is schema-valid; use :func:`gpsi_is_well_formed` for the strict form.

The documents are read on first use and cached for the process (:mod:`conformance.openapi_files`).
Only the files reachable from the two APIs are bundled: a reference into another part of them (for
example ``TS29571_CommonData.yaml#/components/schemas/ProblemDetails``) may reach a file that is not
there and then fails with a ``referencing`` error.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from conformance import gpsi, openapi_files

if TYPE_CHECKING:
    from jsonschema import FormatChecker
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

__all__ = [
    "EXAMPLE_EEC_REGISTRATION",
    "EXAMPLE_SERV_PROV_REQ",
    "EXAMPLE_SERV_PROV_RESP",
    "MAX_ERRORS",
    "SCHEMAS",
    "gpsi_is_well_formed",
    "openapi_document",
    "validate",
]

SCHEMAS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "ECSServProvReq": "TS24558_Eecs_ServiceProvisioning.yaml#/components/schemas/ECSServProvReq",
        "ECSServProvResp": "TS24558_Eecs_ServiceProvisioning.yaml#/components/schemas/ECSServProvResp",
        "EECRegistration": "TS24558_Eees_EECRegistration.yaml#/components/schemas/EECRegistration",
        # The EDGE APIs answer errors with the TS 29.122 ProblemDetails, not the TS 29.571 one.
        "ProblemDetails": "TS29122_CommonData.yaml#/components/schemas/ProblemDetails",
    }
)
"""Short aliases accepted by :func:`validate`, mapped to their full references."""

MAX_ERRORS: Final = 10
"""Default cap on the number of errors :func:`validate` reports."""

EXAMPLE_SERV_PROV_REQ: Final[dict[str, Any]] = {"eecId": "eec-0001"}
"""Minimal valid ECSServProvReq (EDGE-4 ``POST .../request``): ``eecId`` is its only required member.

The ``EXAMPLE_*`` constants are shared: ``copy.deepcopy`` one before changing it.
"""

EXAMPLE_SERV_PROV_RESP: Final[dict[str, Any]] = {
    "ednCnfgInfo": [
        {
            "ednConInfo": {"dnn": "edge.dnn"},
            "eess": [
                {
                    "eesId": "ees-0001",
                    "eecRegConf": True,
                    "endPt": {"uri": "https://ees.example.com"},
                }
            ],
        }
    ]
}
"""Minimal valid ECSServProvResp, plus what an EEC needs to reach the EES.

Required: ``ednCnfgInfo`` (at least one), each with ``ednConInfo`` (an object whose members are
all optional) and ``eess`` (at least one), each with ``eesId`` and ``eecRegConf``. ``dnn`` and
``endPt`` are optional; an ``endPt`` holds exactly one of ``uri``, ``fqdn``, ``ipv4Addrs``,
``ipv6Addrs``.
"""

EXAMPLE_EEC_REGISTRATION: Final[dict[str, Any]] = {"eecId": "eec-0001"}
"""Minimal valid EECRegistration, the body of both the EDGE-1 registration request and its
201 response: ``eecId`` is its only required member."""

_MAX_MESSAGE: Final = 200
_EXTRA_FORMATS: Final = ("date-time", "date", "uuid")


def validate(instance: object, schema: str, *, max_errors: int = MAX_ERRORS) -> list[str]:
    """Check ``instance`` (parsed JSON) against ``schema``; return readable errors, ``[]`` if valid.

    ``schema`` is an alias from :data:`SCHEMAS` or a reference ``FILE.yaml#/JSON/pointer`` into a
    bundled file. At most ``max_errors`` errors are reported; when more exist, one more line says
    so. Raises :class:`KeyError` for an unknown alias or a reference that does not resolve.
    """
    errors = _validator(_reference(schema)).iter_errors(instance)
    reported = [_describe(error) for error in itertools.islice(errors, max_errors)]
    if next(errors, None) is not None:
        reported.append(f"... further errors not shown (at most {max_errors} are reported)")
    return reported


def gpsi_is_well_formed(value: object) -> bool:
    """Whether ``value`` is a GPSI in the strict form ``msisdn-<5 to 15 digits>`` or
    ``extid-<local>@<domain>`` (TS 29.571 ``Gpsi`` description, TS 23.003 clause 19.7.2).

    The schema pattern cannot reject anything but ``""`` because of its trailing ``|.+``.
    """
    return gpsi.is_well_formed(value)


def openapi_document(name: str) -> dict[str, Any]:
    """One bundled OpenAPI document (``TS24558_Eees_EECRegistration.yaml``), parsed once per
    process (:func:`conformance.openapi_files.document`). Shared, so never modify what it returns."""
    return openapi_files.document(name)


def _reference(schema: str) -> str:
    if "#" in schema:
        return schema
    try:
        return SCHEMAS[schema]
    except KeyError:
        raise KeyError(
            f"unknown schema {schema!r}: use one of {', '.join(SCHEMAS)} "
            "or a reference 'FILE.yaml#/components/schemas/NAME'"
        ) from None


@functools.cache
def _validator(reference: str) -> Any:
    # The validation libraries are imported on first use (~0.1 s; with openapi-schema-validator 0.7
    # or later, which imports pydantic-settings, ~0.25 s): a process that never validates is spared.
    from openapi_schema_validator import OAS30Validator
    from referencing.exceptions import Unresolvable

    registry = _registry()
    try:
        registry.resolver().lookup(reference)
    except Unresolvable:
        raise KeyError(f"schema reference {reference!r} does not resolve in the bundled files") from None
    return OAS30Validator({"$ref": reference}, registry=registry, format_checker=_format_checker())


@functools.cache
def _registry() -> Registry[Any]:
    """Every bundled YAML file as a resource keyed by its file name, so that the files'
    relative references (``TS29571_CommonData.yaml#/...``) resolve against each other."""
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    names = openapi_files.names()
    return Registry().with_resources((name, DRAFT4.create_resource(openapi_document(name))) for name in names)


@functools.cache
def _format_checker() -> FormatChecker:
    from jsonschema import FormatChecker
    from openapi_schema_validator import oas30_format_checker

    # OpenAPI's own checker knows only the OpenAPI formats (int32, byte, ...); the
    # RFC 3339 and uuid checks come from jsonschema, which needs no extra package for them.
    checker = FormatChecker(formats=_EXTRA_FORMATS)
    for name, (check, raises) in oas30_format_checker.checkers.items():
        checker.checks(name, raises)(check)
    return checker


def _describe(error: ValidationError) -> str:
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{error.json_path}: {message}"
