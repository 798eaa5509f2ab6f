"""The reference servers' own validation of request bodies against the TS 24.558 schemas.

A correct ECS or EES refuses a schema-invalid ECSServProvReq or EECRegistration with 400
(ECS-ROB-01, EES-ROB-01), naming the offending member. The reference builds its own validator from the
bundled OpenAPI documents (:mod:`conformance.openapi_files`), with OpenAPI 3.0 semantics
(``openapi_schema_validator.OAS30Validator``) and the same formats the harness checks (RFC 3339
``date-time`` and ``date``, ``uuid``, the OpenAPI number formats), but with none of the checker's
code (``tests/test_architecture.py``): a bug in one must not hide the same bug in the other.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from conformance import openapi_files

__all__ = ["REQUEST_SCHEMAS", "first_violation"]

REQUEST_SCHEMAS: Final = {
    "ECSServProvReq": "TS24558_Eecs_ServiceProvisioning.yaml",
    "EECRegistration": "TS24558_Eees_EECRegistration.yaml",
}
"""The request body schemas the reference validates, by the file that defines them."""


def first_violation(body: object, schema_name: str) -> tuple[str, str] | None:
    """Where ``body`` first violates ``schema_name``, as (JSON pointer, message); ``None`` if valid."""
    error = next(_validator(schema_name).iter_errors(body), None)
    if error is None:
        return None
    pointer = "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return pointer, message


@functools.cache
def _validator(schema_name: str) -> Any:
    from jsonschema import FormatChecker
    from openapi_schema_validator import OAS30Validator, oas30_format_checker

    formats = FormatChecker(formats=("date-time", "date", "uuid"))
    for name, (check, raises) in oas30_format_checker.checkers.items():
        formats.checks(name, raises)(check)
    reference = f"{REQUEST_SCHEMAS[schema_name]}#/components/schemas/{schema_name}"
    return OAS30Validator({"$ref": reference}, registry=_registry(), format_checker=formats)


@functools.cache
def _registry() -> Any:
    """Every bundled OpenAPI file, by file name, so their relative references resolve."""
    from referencing import Registry
    from referencing.jsonschema import DRAFT4

    return Registry().with_resources(
        (name, DRAFT4.create_resource(openapi_files.document(name))) for name in openapi_files.names()
    )
