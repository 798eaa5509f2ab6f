"""Schema-invalid requests generated from the TS 24.558 OpenAPI: one mutation per top-level member.

For EES-ROB-01 / ECS-ROB-01 ("malformed or schema-invalid requests get 4xx, never 5xx"). Each
:class:`Mutation` replaces one member of a valid request with a value of a JSON type the schema
does not allow for it (or removes a required member). The choice of the wrong type is seeded,
so the same seed always yields the same cases (the case IDs name them), and the set is bounded
by the schema's member count. Every mutation is confirmed schema-invalid by
:func:`conformance.checks.schema.validate` before a test sends it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from conformance.checks.schema import openapi_document

__all__ = ["DEFAULT_SEED", "Mutation", "mutations"]

DEFAULT_SEED = 33558
_SAMPLES: dict[str, Any] = {
    "string": "not-of-this-type",
    "integer": 33558,
    "number": 3.5,
    "boolean": True,
    "array": ["x"],
    "object": {"unexpected": 1},
    "null": None,
}
_REMOVED: Any = object()


@dataclass(frozen=True)
class Mutation:
    """One member of the request replaced by ``value`` (a JSON type its schema does not allow)."""

    name: str
    member: str
    value: Any
    allowed: tuple[str, ...]

    @property
    def members(self) -> dict[str, Any]:
        """As request members: the replaced value, or ``None`` for a removed member."""
        return {self.member: None if self.value is _REMOVED else self.value}

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        changed = dict(body)
        if self.value is _REMOVED:
            changed.pop(self.member, None)
        else:
            changed[self.member] = self.value
        return changed

    def describe(self) -> str:
        if self.value is _REMOVED:
            return f"required member {self.member} removed"
        return f"{self.member} = {self.value!r} (the schema allows {' or '.join(self.allowed)})"


def _resolve(schema: dict[str, Any], file: str) -> tuple[dict[str, Any], str]:
    while "$ref" in schema:
        target, _, pointer = str(schema["$ref"]).partition("#")
        file = target or file
        node: Any = openapi_document(file)
        for part in pointer.strip("/").split("/"):
            node = node[part]
        schema = node
    return schema, file


def _types(schema: dict[str, Any], file: str) -> set[str]:
    """The JSON types a (sub)schema admits at its top level."""
    schema, file = _resolve(schema, file)
    if "type" in schema:
        kinds = {str(schema["type"])}
        return kinds | ({"integer"} if "number" in kinds else set())
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    if branches:
        return set().union(*(_types(branch, file) for branch in branches))
    return set(_SAMPLES)  # unconstrained: every type admitted


def mutations(
    schema: str = "EECRegistration", file: str = "TS24558_Eees_EECRegistration.yaml", *, seed: int = DEFAULT_SEED
) -> list[Mutation]:
    """A bounded, seeded list of schema-invalid variants of ``schema``'s members."""
    root, root_file = _resolve({"$ref": f"{file}#/components/schemas/{schema}"}, file)
    rng = random.Random(seed)
    found: list[Mutation] = []
    for member, sub in root.get("properties", {}).items():
        allowed = _types(sub, root_file)
        wrong = sorted(set(_SAMPLES) - allowed - {"null"})
        if not wrong:
            continue
        kind = rng.choice(wrong)
        found.append(Mutation(f"{member}-as-{kind}", member, _SAMPLES[kind], tuple(sorted(allowed))))
    for member in root.get("required", []):
        found.append(Mutation(f"{member}-missing", member, _REMOVED, ()))
    return found
