"""Hypothesis strategies that draw run records from ``results.schema.json`` itself.

hypothesis-jsonschema would be the obvious tool, but it reads drafts 4-7 only and does not
work with current Hypothesis; the schema uses a small set of keywords, so this module reads
them directly: ``$ref``, ``type`` (also lists), ``const``, ``enum``, ``anyOf``, ``allOf``,
``if``/``then`` on a discriminating ``const`` (the evidence ``kind``), ``properties``,
``required``, ``additionalProperties``, ``items``, ``minimum``/``maximum``, ``minLength``
and ``format: date-time``. Anything else fails loudly, so the generator cannot silently
drift from the schema. Sizes are kept small and strings include hostile ones (markup,
PEM private keys, credentials, control characters, lone surrogates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from conformance.reporting.schema import schema

SUPPORTED = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "type", "const", "enum", "anyOf", "allOf", "if",
    "then", "properties", "required", "additionalProperties", "items", "minimum", "maximum", "minLength", "format",
}  # fmt: skip

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</details></main><b>",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
    '{"client_secret": "s3cr3t", "password": "hunter2"}',
    "https://user:pa55@example.test/?passphrase=xyz",
    "{{ 7*7 }} {% raw %}",
    "\x00\x07\x1b[31m",
    "\ud800",
    "a\u202eb",
    "]]>",
    "",
]
TEXT = st.one_of(st.text(max_size=24), st.sampled_from(HOSTILE))
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
DATE_TIMES = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
).map(lambda d: d.isoformat(timespec="seconds"))


class _Builder:
    def __init__(self, root: dict[str, Any], max_items: int) -> None:
        self.root = root
        self.max_items = max_items

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/$defs/"), ref
            node = self.root["$defs"][ref.removeprefix("#/$defs/")]
        return node

    def strategy(self, node: dict[str, Any]) -> st.SearchStrategy[Any]:
        unknown = set(node) - SUPPORTED
        assert not unknown, f"the record strategy does not read {sorted(unknown)}: teach it"
        node = self.resolve(node)
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if "anyOf" in node:
            return st.one_of([self.strategy(n) for n in node["anyOf"]])
        types = node.get("type")
        if types is None and ("properties" in node or "allOf" in node or "required" in node):
            types = "object"
        if isinstance(types, list):
            return st.one_of([self.strategy({**node, "type": t}) for t in types])
        return self.typed(node, types)

    def typed(self, node: dict[str, Any], kind: str | None) -> st.SearchStrategy[Any]:
        if kind == "object":
            return self.object(node)
        if kind == "array":
            return st.lists(self.strategy(node.get("items", {})), max_size=self.max_items)
        if kind == "string":
            if node.get("format") == "date-time":
                return DATE_TIMES
            return TEXT.filter(lambda s: len(s) >= node.get("minLength", 0))
        if kind == "integer":
            return st.integers(node.get("minimum", -(2**31)), node.get("maximum", 2**31))
        if kind == "number":
            low, high = node.get("minimum", -1e9), node.get("maximum", 1e9)
            return st.one_of(
                st.integers(int(low), int(high)), st.floats(low, high, allow_nan=False, allow_infinity=False)
            )
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        assert kind is None, kind
        return JSON_VALUES

    def merged(self, node: dict[str, Any]) -> tuple[dict[str, Any], set[str], list[dict[str, Any]]]:
        """properties, required and if/then rules of an object schema with its allOf folded in."""
        node = self.resolve(node)
        properties = dict(node.get("properties", {}))
        required = set(node.get("required", []))
        rules: list[dict[str, Any]] = []
        for part in node.get("allOf", []):
            if "if" in part:
                rules.append(part)
                continue
            props, req, more = self.merged(part)
            for name, sub in props.items():
                properties.setdefault(name, sub)
            required |= req
            rules += more
        return properties, required, rules

    def object(self, node: dict[str, Any]) -> st.SearchStrategy[Any]:
        properties, required, rules = self.merged(node)
        extra = node.get("additionalProperties")
        if not rules:
            return self.members(properties, required, extra)
        # if/then on a discriminator (evidence "kind"): one branch per const, plus "none of them"
        branches = []
        consts: dict[str, list[Any]] = {}
        for rule in rules:
            (name, cond), *rest = rule["if"]["properties"].items()
            assert not rest, rule["if"]
            assert set(cond) == {"const"}, rule["if"]
            consts.setdefault(name, []).append(cond["const"])
            then_props, then_required, _ = self.merged(rule["then"])
            props = {**properties, **then_props, name: {"const": cond["const"]}}
            branches.append(self.members(props, required | then_required | {name}, extra))
        for name, values in consts.items():
            props = {**properties, name: {"type": "string", "minLength": 1}}
            other = self.members(props, required | {name}, extra).filter(_member_not_in(name, values))
            branches.append(other)
        return st.one_of(branches)

    def members(self, properties: dict[str, Any], required: set[str], extra: Any) -> st.SearchStrategy[Any]:
        strategies = {name: self.strategy(sub) for name, sub in properties.items()}
        base = st.fixed_dictionaries(
            {n: s for n, s in strategies.items() if n in required},
            optional={n: s for n, s in strategies.items() if n not in required},
        )
        if isinstance(extra, dict):
            values = self.strategy(extra)
            return st.tuples(base, st.dictionaries(TEXT, values, max_size=3)).map(lambda t: {**t[1], **t[0]})
        if extra is False:
            return base
        # members the schema does not name are allowed: now and then add one
        unnamed = st.dictionaries(st.sampled_from(["x-vendor", "later_addition"]), JSON_VALUES, max_size=1)
        return st.tuples(base, unnamed).map(lambda t: {**t[1], **t[0]})


def records(max_items: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    """Any record the schema accepts (small: at most ``max_items`` per array)."""
    root = schema()
    strategy: st.SearchStrategy[dict[str, Any]] = _Builder(root, max_items).strategy(root)
    return strategy


def _member_not_in(name: str, values: list[Any]) -> Callable[[Any], bool]:
    """A filter: the object's ``name`` member is none of ``values``."""
    return lambda obj: obj[name] not in values
