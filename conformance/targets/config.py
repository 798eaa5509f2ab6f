"""Read and write target declarations: the TOML file in which a vendor describes its ECS or EES.

The file is the PICS/PIXIT of a run: what the target implements (role, client authentication,
token-based or local authorization) and how to reach it (URL, trust anchor, EEC identities).
This module is the only place that knows the format; ``fixtures/targets/README.md`` documents it
for vendors, and everything else sees a :class:`~conformance.targets.model.TargetConfig`.

Every problem is a :class:`~conformance.errors.ConfigError` on one line, naming the dotted key::

    acme.toml: target.base_ulr: unknown key 'base_ulr', did you mean 'base_url'?

Relative paths are resolved against the directory of the TOML file, so a vendor keeps the
declaration and its certificates together and moves them as one.
"""

from __future__ import annotations

import difflib
import enum
import ipaddress
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, TypeVar, overload
from urllib.parse import SplitResult, urlsplit

from conformance.errors import ConfigError
from conformance.requirements import catalogue
from conformance.targets.model import (
    Authorization,
    CandidateEes,
    ClientAuth,
    Deviation,
    EecIdentity,
    EecRole,
    Role,
    TargetConfig,
    TokenDelivery,
    TokenKeys,
    TrustedIssuer,
)
from conformance.tokens import ASYMMETRIC_ALGORITHMS

__all__ = ["dump_target", "load_target", "load_targets"]

# Every table and its keys, by schema path: the unknown-key check, the writer's order, a map of the format.
# Keys name the model's fields (``material`` excepted), so the writer can read them off the dataclasses.
_KEYS: Final[dict[str, str | None]] = {
    "": "target harness eec ees ecs deviation extra",
    "target": "name role base_url fqdn trust_anchor client_auth timeout http2 request_template",
    "harness": "client_certs material",
    "eec": "role eec_id gpsi cert key",
    "ees": "authorization service_names token_issuer",
    "ees.token_issuer": "source issuer key kid algorithm lifetime",
    "ecs": "max_token_lifetime token_delivery token_keys candidate_ees",
    "ecs.token_delivery": "binding member token_url client_auth",
    "ecs.token_keys": "jwks_file jwks_url",
    "ecs.candidate_ees": "ees_id fqdn service_names authorization",
    "deviation": "requirement reason",
    "extra": None,  # free-form string settings for adapters: any key
}

_ROLES: Final[tuple[Role, ...]] = ("ecs", "ees")
_CLIENT_AUTHS: Final[tuple[ClientAuth, ...]] = ("mutual-certificate", "server-certificate", "psk")
_AUTHORIZATIONS: Final[tuple[Authorization, ...]] = ("token", "local")
_EEC_ROLES: Final[tuple[EecRole, ...]] = ("authorized", "unauthorized", "second")
_SOURCES: Final[tuple[Literal["harness", "vendor"], ...]] = ("harness", "vendor")
_BINDINGS: Final[tuple[Literal["response", "token-endpoint"], ...]] = ("response", "token-endpoint")
_TOKEN_CLIENT_AUTHS: Final[tuple[Literal["tls_client_auth"], ...]] = ("tls_client_auth",)
_ALGORITHMS: Final = ASYMMETRIC_ALGORITHMS
"""Asymmetric JWS algorithms only: an EES verifies ECS tokens with a public key (RFC 8725 3.1)."""

# What each getter accepts: expected TOML type -> (test, example for the fix). bool is not an int here.
_TYPES: Final[dict[str, tuple[Callable[[Any], bool], str]]] = {
    "a string": (lambda v: type(v) is str, '"..."'),
    "a number": (lambda v: type(v) in (int, float), "5.0"),
    "an integer": (lambda v: type(v) is int, "300"),
    "a boolean": (lambda v: type(v) is bool, "true"),
    "an array of strings": (lambda v: type(v) is list and all(type(s) is str for s in v), '["..."]'),
}
_TOML_TYPES: Final = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    str: "a string",
    list: "an array",
}


def _toml_type(value: object) -> str:
    """What a parsed value was written as, for "expected X, got Y" (tomllib gives dict for tables)."""
    return _TOML_TYPES.get(type(value), "a table" if isinstance(value, dict) else "a date or time")


_L = TypeVar("_L", bound=str)
_D = TypeVar("_D")


class _Missing(enum.Enum):
    REQUIRED = "required"


_REQUIRED: Final = _Missing.REQUIRED


class _Invalid(Exception):
    """A value check failed: what is wrong and how to fix it; the caller adds file and key."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


Check = Callable[[str], None]
"""Raises :class:`_Invalid` when a string (a value, or the text of a referenced file) is wrong."""


def _matching(pattern: str, what: str, fix: str) -> Check:
    compiled = re.compile(pattern)

    def check(value: str) -> None:
        if not compiled.fullmatch(value):
            raise _Invalid(f"{value!r} is not {what}", fix)

    return check


_FQDN = _matching(
    r"(?=.{4,253}\Z)([0-9A-Za-z]([-0-9A-Za-z]{0,61}[0-9A-Za-z])?\.)+[A-Za-z]{2,63}\.?",
    "a fully qualified domain name",
    'write a DNS name such as "ees1.example.test" (TS 29.571 Fqdn)',
)
_GPSI = _matching(
    r"msisdn-[0-9]{5,15}|extid-[^@]+@[^@]+",
    "a GPSI",
    'write "msisdn-" and 5 to 15 digits, or "extid-<id>@<domain>" (TS 29.571 Gpsi)',
)
_SERVICE = _matching(r"[A-Za-z0-9_:-]+", "a service name", 'write one API name per entry: "eees-eecregistration"')
_NAME = _matching(
    r"[A-Za-z0-9][A-Za-z0-9._-]*",
    "a usable target name",
    "use letters, digits, '.', '_' and '-' (the default is the file name)",
)
_MEMBER = _matching(r"[^.\s]+(\.[^.\s]+)*", "a dotted member path", 'join member names with dots: "ext.accessToken"')
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")


def _https(value: str) -> SplitResult:
    fix = 'write "https://host" or "https://host:port"'
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise _Invalid(f"{value!r} is not a valid URL ({exc})", fix) from None
    if parts.scheme != "https":
        raise _Invalid(f"{value!r} is not an https:// URL", f"{fix}: TS 33.558 requires TLS")
    host = parts.hostname or ""
    if parts.username is not None or port == 0 or not (_HOST.fullmatch(host) or _is_ip(host)):
        raise _Invalid(f"{value!r} does not name a usable host and port", fix)
    return parts


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _api_root(value: str) -> None:
    parts = _https(value)
    if parts.path or parts.query or parts.fragment:
        fix = "give only https://host[:port]: the harness appends the API paths"
        raise _Invalid(f"{value!r} has a path, query or fragment", fix)


def _https_url(value: str) -> None:
    if _https(value).fragment:
        raise _Invalid(f"{value!r} has a fragment", "remove the '#...' part")


def _pem(label: str, pattern: str) -> Check:
    """The text holds a PEM block of this label (``pattern`` also admits variants like "EC PRIVATE KEY")."""

    def check(text: str) -> None:
        if not re.search(f"-----BEGIN {pattern}-----", text):
            fix = f"give a PEM file with a '-----BEGIN {label}-----' block"
            raise _Invalid(f"holds no PEM {label.lower()}", fix)

    return check


_CERTIFICATE = _pem("CERTIFICATE", "CERTIFICATE")
_PRIVATE_KEY = _pem("PRIVATE KEY", "(?:[A-Z]+ )?PRIVATE KEY")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _Invalid(f"is not valid JSON ({exc})", "fix the JSON syntax") from None
    if not isinstance(value, dict):
        raise _Invalid("is not a JSON object", "give a JSON object ({...})")
    return value


def _request_template(text: str) -> None:
    _json_object(text)


def _jwks(text: str) -> None:
    if not isinstance(_json_object(text).get("keys"), list):
        raise _Invalid('has no "keys" array', 'give a JWK Set (RFC 7517 5): {"keys": [...]}')


def _signing_key(text: str) -> None:
    if not text.lstrip().startswith("{"):
        _PRIVATE_KEY(text)
    elif "d" not in _json_object(text):
        raise _Invalid('is a public JWK (no "d" member)', "give the private key the issuer signs with")


def _did_you_mean(word: str, options: Iterable[str], listing: str) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f"did you mean '{close[0]}'?" if close else listing


class _Table:
    """One TOML table being read: typed getters that fail naming the dotted key they read."""

    def __init__(self, toml: Path, base: Path, data: dict[str, Any], path: str = "", schema: str = "") -> None:
        self.toml, self.base, self.data, self.path, self.schema = toml, base, data, path, schema
        allowed = _KEYS[schema]
        if allowed is not None:
            self._reject_unknown(allowed.split())

    def _reject_unknown(self, allowed: list[str]) -> None:
        for name in self.data:
            if name not in allowed:
                listing = "allowed keys: " + ", ".join(allowed)
                self.fail(name, f"unknown key {name!r}", _did_you_mean(name, allowed, listing))

    @property
    def header(self) -> str:
        """Where a key goes, for fixes: ``[ees.token_issuer]``, ``[[eec]]``, or the top level."""
        if not self.path:
            return "the top level"
        return f"[[{self.schema}]]" if self.path.endswith("]") else f"[{self.path}]"

    def key(self, name: str = "") -> str:
        return ".".join(part for part in (self.path, name) if part)

    def fail(self, name: str, problem: str, fix: str) -> NoReturn:
        raise ConfigError(self.toml, self.key(name), problem, fix)

    def has(self, name: str) -> bool:
        return name in self.data

    def need(self, name: str, because: str) -> None:
        if name not in self.data:
            table = self._schema_of(name) in _KEYS
            fix = f"add a [{self.key(name)}] table" if table else f'add {name} = "..." under {self.header}'
            self.fail(name, f"missing (required when {because})", fix)

    def forbid(self, name: str, because: str, fix: str) -> None:
        if name in self.data:
            self.fail(name, f"not allowed here ({because})", fix)

    def _get(self, name: str, expected: str, default: object) -> Any:
        accepts, example = _TYPES[expected]
        if type(default) in (str, int, float, bool):
            example = _toml_value(default, self.base)
        if name not in self.data:
            if default is _REQUIRED:
                self.fail(name, "missing required key", f"add {name} = {example} under {self.header}")
            return default
        value = self.data[name]
        if not accepts(value):
            self.fail(name, f"expected {expected}, got {_toml_type(value)}", f"write {name} = {example}")
        return value

    def _check(self, name: str, check: Check, value: str) -> None:
        try:
            check(value)
        except _Invalid as invalid:
            self.fail(name, invalid.problem, invalid.fix)

    @overload
    def text(self, name: str, default: _Missing = ..., check: Check | None = None) -> str: ...
    @overload
    def text(self, name: str, default: _D, check: Check | None = None) -> str | _D: ...
    def text(self, name: str, default: object = _REQUIRED, check: Check | None = None) -> object:
        """A non-blank string, passed through ``check``; ``default`` when absent (none: required)."""
        value = self._get(name, "a string", default)
        if isinstance(value, str):
            if not value.strip():
                self.fail(name, "is empty", "give a value" if default is _REQUIRED else "give a value or remove it")
            if check is not None:
                self._check(name, check, value)
        return value

    def choice(self, name: str, allowed: tuple[_L, ...], default: _L | _Missing = _REQUIRED) -> _L:
        value = self.text(name, default)
        for option in allowed:
            if value == option:
                return option
        listing = "use one of " + ", ".join(f'"{option}"' for option in allowed)
        self.fail(name, f"{value!r} is not allowed", _did_you_mean(value, allowed, listing))

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self._get(name, "a number", default)
        if not low < value <= high:
            self.fail(name, f"{value} is out of range", f"use a number above {low:g} and at most {high:g}")
        return float(value)

    def positive_int(self, name: str, default: int) -> int:
        value: int = self._get(name, "an integer", default)
        if value <= 0:
            self.fail(name, f"{value} is not positive", "use a whole number greater than 0")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value: bool = self._get(name, "a boolean", default)
        return value

    def strings(self, name: str, check: Check) -> tuple[str, ...]:
        value: list[str] = self._get(name, "an array of strings", _REQUIRED)
        if not value:
            self.fail(name, "is empty", "list at least one")
        for item in value:
            self._check(name, check, item)
        return tuple(value)

    @overload
    def file(self, name: str, content: Check, default: _Missing = ...) -> Path: ...
    @overload
    def file(self, name: str, content: Check, default: None) -> Path | None: ...
    def file(self, name: str, content: Check, default: _Missing | None = _REQUIRED) -> Path | None:
        """A file the declaration references, resolved against the TOML file's directory, then sniffed."""
        text = self.text(name, default)
        if text is None:
            return None
        path = (self.base / text).resolve()
        if not path.is_file():
            self.fail(name, f"{text!r} is not a file ({path})", f"give a path relative to {self.base}, or absolute")
        try:
            content(path.read_text(encoding="utf-8"))
        except _Invalid as invalid:
            self.fail(name, f"{text!r} {invalid.problem}", invalid.fix)
        except UnicodeDecodeError:
            self.fail(name, f"{text!r} is not a text file", "give it as PEM or JSON, not DER or binary")
        except OSError as exc:
            self.fail(name, f"{text!r} cannot be read ({exc.strerror})", "make it readable")
        return path

    def directory(self, name: str) -> Path | None:
        """A directory that may not exist yet (it is created on first use): only resolved."""
        text = self.text(name, None)
        path = None if text is None else (self.base / text).resolve()
        if path is not None and path.exists() and not path.is_dir():
            self.fail(name, f"{text!r} is not a directory ({path})", "give a directory, or one to be created")
        return path

    def table(self, name: str, *, required: bool = True) -> _Table:
        """A sub-table; an absent optional one reads as empty, so its getters give their defaults."""
        value = self.data.get(name, None if required else {})
        if value is None:
            self.fail(name, "missing required table", f"add a [{self.key(name)}] table")
        if not isinstance(value, dict):
            self.fail(name, f"expected a table, got {_toml_type(value)}", f"write it as a [{self.key(name)}] table")
        return _Table(self.toml, self.base, value, self.key(name), self._schema_of(name))

    def tables(self, name: str, *, required: bool = True) -> list[_Table]:
        """An array of tables (``[[name]]``), at least one entry when required."""
        value = self.data.get(name, [])
        fix = f"add one [[{self.key(name)}]] table per entry"
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.fail(name, f"expected an array of tables, got {_toml_type(value)}", fix)
        if required and not value:
            self.fail(name, "missing required table", fix)
        schema = self._schema_of(name)
        return [_Table(self.toml, self.base, item, f"{self.key(name)}[{i}]", schema) for i, item in enumerate(value)]

    def _schema_of(self, name: str) -> str:
        return f"{self.schema}.{name}" if self.schema else name


def _unique(tables: list[_Table], name: str, values: list[str], fix: str) -> None:
    for i, value in enumerate(values):
        if value in values[:i]:
            first = tables[values.index(value)]
            tables[i].fail(name, f"{value!r} is already used by {first.key(name)}", fix)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, "(file)", "does not exist", "check the path of the target file") from None
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot be read ({exc.strerror})", "give a readable file") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "(file)", "is not UTF-8 text", "save it as UTF-8, as TOML requires") from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11 gives the position only inside the message: "Invalid value (at line 3, column 9)".
        match = re.fullmatch(r"(.*) \(at (.*)\)", str(exc))
        problem, where = match.groups() if match else (str(exc), "(file)")
        raise ConfigError(path, where, f"not valid TOML: {problem}", "fix the syntax (toml.io/en/v1.0.0)") from None


def load_target(path: Path) -> TargetConfig:
    """Parse and validate one target declaration; any problem raises :class:`ConfigError`.

    Tables are read top-down, so the first message is about the first problem. Paths in the
    result are absolute; ``file`` is the resolved path of the declaration itself.
    """
    file = path.resolve()
    doc = _Table(path, file.parent, _read(path))
    target, harness = doc.table("target"), doc.table("harness", required=False)
    role = target.choice("role", _ROLES)
    other: Role = "ecs" if role == "ees" else "ees"
    doc.need(role, f'role = "{role}"')
    doc.forbid(other, f'[{other}] is for role = "{other}"', "remove it, or correct target.role")
    client_certs = harness.choice("client_certs", _SOURCES, "harness")
    config = TargetConfig(
        file=file,
        name=target.text("name", file.stem, _NAME),
        role=role,
        base_url=target.text("base_url", check=_api_root),
        fqdn=target.text("fqdn", check=_FQDN),
        trust_anchor=target.file("trust_anchor", _CERTIFICATE),
        client_auth=target.choice("client_auth", _CLIENT_AUTHS),
        timeout=target.number("timeout", 5.0, low=0, high=120),
        http2=target.boolean("http2", True),
        request_template=target.file("request_template", _request_template, None),
        client_certs=client_certs,
        harness_material=harness.directory("material"),
        eecs=_eecs(doc, vendor_certs=client_certs == "vendor"),
        deviations=_deviations(doc, role),
        extra=_extra(doc.table("extra", required=False)),
    )
    return _with_ees(config, doc.table("ees")) if role == "ees" else _with_ecs(config, doc.table("ecs"))


def load_targets(paths: Iterable[Path]) -> list[TargetConfig]:
    """Load several declarations; their names must differ, since results are keyed by name."""
    configs: list[TargetConfig] = []
    for path in paths:
        config = load_target(path)
        first = next((c for c in configs if c.name == config.name), None)
        if first is not None:
            problem = f"name {config.name!r} is already used by {first.file}"
            raise ConfigError(path, "target.name", problem, "set a distinct name (it defaults to the file name)")
        configs.append(config)
    return configs


def _extra(t: _Table) -> dict[str, str]:
    return {name: t.text(name) for name in t.data}


def _eecs(doc: _Table, *, vendor_certs: bool) -> tuple[EecIdentity, ...]:
    tables = doc.tables("eec")
    eecs = [_eec(t, vendor_certs=vendor_certs) for t in tables]
    _unique(tables, "role", [e.role for e in eecs], "declare each role once")
    _unique(tables, "eec_id", [e.eec_id for e in eecs], "each EEC needs its own EEC ID")
    _unique(tables, "gpsi", [e.gpsi for e in eecs], "each EEC needs its own GPSI: the GPSI cases swap them")
    if not any(e.role == "authorized" for e in eecs):
        fix = 'add an [[eec]] with role = "authorized": every negative case needs its positive control'
        doc.fail("eec", 'no EEC has role = "authorized"', fix)
    return tuple(eecs)


def _eec(t: _Table, *, vendor_certs: bool) -> EecIdentity:
    for name in ("cert", "key"):
        if vendor_certs:
            t.need(name, 'harness.client_certs = "vendor"')
        else:
            t.forbid(
                name,
                "the harness issues EEC certificates",
                'remove it, or set harness.client_certs = "vendor"',
            )
    return EecIdentity(
        role=t.choice("role", _EEC_ROLES),
        eec_id=t.text("eec_id"),
        gpsi=t.text("gpsi", check=_GPSI),
        cert=t.file("cert", _CERTIFICATE, None),
        key=t.file("key", _PRIVATE_KEY, None),
    )


def _deviations(doc: _Table, role: Role) -> tuple[Deviation, ...]:
    tables = doc.tables("deviation", required=False)
    known = _requirement_of(role)
    deviations = [Deviation(t.text("requirement", check=known), t.text("reason")) for t in tables]
    _unique(tables, "requirement", [d.requirement for d in deviations], "declare each deviation once")
    return tuple(deviations)


def _requirement_of(role: Role) -> Check:
    """Only IDs of the catalogue, for this role: a mistyped ID would silently excuse nothing."""
    ids = [rid for rid, requirement in catalogue().items() if requirement.role == role]

    def check(value: str) -> None:
        if value not in ids:
            listing = "use an ID from conformance/data/requirements.toml"
            raise _Invalid(f"{value!r} is not an {role.upper()} requirement ID", _did_you_mean(value, ids, listing))

    return check


def _with_ees(config: TargetConfig, ees: _Table) -> TargetConfig:
    authorization = ees.choice("authorization", _AUTHORIZATIONS)
    if authorization == "token":
        ees.need("token_issuer", 'authorization = "token"')
    issuer = _trusted_issuer(ees.table("token_issuer")) if ees.has("token_issuer") else None
    service_names = ees.strings("service_names", _SERVICE)
    return replace(config, authorization=authorization, service_names=service_names, trusted_issuer=issuer)


def _trusted_issuer(t: _Table) -> TrustedIssuer:
    source = t.choice("source", _SOURCES)
    algorithm = t.choice("algorithm", _ALGORITHMS, "ES256")
    if source == "vendor":
        t.need("key", 'source = "vendor"')
    else:
        t.forbid("key", 'source = "harness" signs with the harness material', 'remove it, or set source = "vendor"')
        if algorithm != "ES256":  # the issuer key in the harness material is a P-256 key
            t.fail("algorithm", f'{algorithm!r} does not fit source = "harness"', 'use "ES256", or your own key')
    return TrustedIssuer(
        source=source,
        issuer=t.text("issuer", check=_FQDN),
        key=t.file("key", _signing_key, None),
        kid=t.text("kid", None),
        algorithm=algorithm,
        lifetime=t.positive_int("lifetime", 300),
    )


def _with_ecs(config: TargetConfig, ecs: _Table) -> TargetConfig:
    tables = ecs.tables("candidate_ees")
    candidates = [
        CandidateEes(
            ees_id=t.text("ees_id"),
            fqdn=t.text("fqdn", check=_FQDN),
            service_names=t.strings("service_names", _SERVICE),
            authorization=t.choice("authorization", _AUTHORIZATIONS),
        )
        for t in tables
    ]
    _unique(tables, "ees_id", [c.ees_id for c in candidates], "give each candidate EES its own EES ID")
    return replace(
        config,
        max_token_lifetime=ecs.positive_int("max_token_lifetime", 3600),
        token_delivery=_token_delivery(ecs.table("token_delivery")),
        token_keys=_token_keys(ecs.table("token_keys")),
        candidate_ees=tuple(candidates),
    )


def _token_delivery(t: _Table) -> TokenDelivery:
    binding = t.choice("binding", _BINDINGS)
    endpoint_only, response_only = ("token_url", "client_auth"), ("member",)
    if binding == "token-endpoint":
        t.need("token_url", 'binding = "token-endpoint"')
    for name in response_only if binding == "token-endpoint" else endpoint_only:
        t.forbid(name, f'binding = "{binding}" does not use it', "remove it, or correct the binding")
    return TokenDelivery(
        binding=binding,
        member=t.text("member", "accessToken", _MEMBER),
        token_url=t.text("token_url", None, _https_url),
        client_auth=t.choice("client_auth", _TOKEN_CLIENT_AUTHS, "tls_client_auth"),
    )


def _token_keys(t: _Table) -> TokenKeys:
    if t.has("jwks_file") == t.has("jwks_url"):
        t.fail(
            "",
            "needs exactly one of jwks_file and jwks_url",
            'set jwks_file = "..." or jwks_url = "https://..."',
        )
    return TokenKeys(jwks_file=t.file("jwks_file", _jwks, None), jwks_url=t.text("jwks_url", None, _https_url))


# Writing: the same tables, read off the model ----------------------------------------------------

_ARRAYS: Final = ("eec", "deviation", "ecs.candidate_ees")
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _quote(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped (TOML 1.0, "String")."""
    escaped = (_ESCAPES.get(c) or (f"\\u{ord(c):04X}" if c < " " or c == "\x7f" else c) for c in text)
    return '"' + "".join(escaped) + '"'


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _quote(name)


def _toml_value(value: object, base: Path) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # Python's int and float literals are TOML ones too (1e-05, inf, nan)
    if isinstance(value, Path):  # base is resolved: a relative path in the model is taken from the cwd
        path = value.resolve()
        return _quote(path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path))
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(item, base) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _block(header: str, values: dict[str, object], base: Path) -> str:
    lines = [header] + [f"{_toml_key(k)} = {_toml_value(v, base)}" for k, v in values.items() if v is not None]
    return "\n".join(lines)


def _fields(source: object, schema: str, skip: Iterable[str] = ()) -> tuple[str, dict[str, object]]:
    """The header and the values of one table, read off the model object it maps to."""
    names = [n for n in (_KEYS[schema] or "").split() if f"{schema}.{n}" not in _KEYS and n not in skip]
    header = f"[[{schema}]]" if schema in _ARRAYS else f"[{schema}]"
    return header, {n: getattr(source, "harness_material" if n == "material" else n) for n in names}


def dump_target(config: TargetConfig) -> str:
    """The TOML declaration of ``config``, as :func:`load_target` reads it back.

    Meant to be saved as ``config.file``: paths inside its directory are written relative to it,
    others absolute, so loading the saved text gives back an equal config. Only the sections of
    ``config.role`` are written (the loader refuses the other role's).
    """
    blocks = [_fields(config, "target"), _fields(config, "harness")]
    blocks += [_fields(eec, "eec") for eec in config.eecs]
    if config.role == "ees":
        blocks.append(_fields(config, "ees"))
        if config.trusted_issuer is not None:
            blocks.append(_fields(config.trusted_issuer, "ees.token_issuer"))
    else:
        blocks.append(_fields(config, "ecs"))
        if (delivery := config.token_delivery) is not None:
            unused = ("member",) if delivery.binding == "token-endpoint" else ("token_url", "client_auth")
            blocks.append(_fields(delivery, "ecs.token_delivery", skip=unused))
        if config.token_keys is not None:
            blocks.append(_fields(config.token_keys, "ecs.token_keys"))
        blocks += [_fields(candidate, "ecs.candidate_ees") for candidate in config.candidate_ees]
    blocks += [_fields(deviation, "deviation") for deviation in config.deviations]
    if config.extra:
        blocks.append(("[extra]", dict(config.extra)))
    base = config.file.parent.resolve()
    return "\n\n".join(_block(header, values, base) for header, values in blocks) + "\n"
