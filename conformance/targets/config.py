"""Read target declarations: the TOML file in which a vendor describes its ECS or EES.

The file is the PICS/PIXIT of a run: what the target implements (role, client authentication,
token-based or local authorization) and how to reach it (URL, trust anchor, EEC identities).
The format's tables live in :mod:`~conformance.targets.toml_format` (which also writes it) and the
checks of single values in :mod:`~conformance.targets.values`; ``fixtures/targets/README.md``
documents it for vendors, and everything else sees a :class:`~conformance.targets.model.TargetConfig`.

Every problem is a :class:`~conformance.errors.ConfigError` on one line, naming the dotted key::

    acme.toml: target.base_ulr: unknown key 'base_ulr', did you mean 'base_url'?

Relative paths are resolved against the directory of the TOML file, so a vendor keeps the
declaration and its certificates together and moves them as one. Every file is read with a size
cap and only if it is a regular file, and vendor keys are decrypted and matched against their
certificate or algorithm here, so that no problem surfaces in the middle of a run.
"""

from __future__ import annotations

import enum
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, TypeVar, overload

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry

from conformance import files
from conformance.errors import ConfigError, PeerError
from conformance.issued_tokens import ASYMMETRIC_ALGORITHMS
from conformance.peers.fake_ecs_issuer import (
    SigningKey,
    algorithm_misfit,
    as_signing_key,
    default_algorithm,
    describe_key,
)
from conformance.peers.material import ISSUER_KEY_FILES, issuer_family, missing_sources
from conformance.peers.material import SOURCES as MATERIAL_FILES
from conformance.requirements import catalogue
from conformance.targets import values
from conformance.targets.model import (
    FUZZ_EXAMPLES,
    FUZZ_SEED,
    HTTP_VERSIONS,
    MAX_CONCURRENT_CONNECTIONS,
    MAX_FUZZ_EXAMPLES,
    TOKEN_CLIENT_AUTHS,
    Authorization,
    CandidateEes,
    ClientAuth,
    Deviation,
    EecIdentity,
    EecRole,
    HttpVersion,
    PskConfig,
    PskHash,
    PskTlsVersion,
    Role,
    TargetConfig,
    TokenClientAuth,
    TokenDelivery,
    TokenKeys,
    TrustedIssuer,
)
from conformance.targets.toml_format import TABLES, toml_value

__all__ = ["load_target", "load_targets"]

_ROLES: Final[tuple[Role, ...]] = ("ecs", "ees")
_CLIENT_AUTHS: Final[tuple[ClientAuth, ...]] = ("mutual-certificate", "server-certificate", "psk")
_AUTHORIZATIONS: Final[tuple[Authorization, ...]] = ("token", "local")
_EEC_ROLES: Final[tuple[EecRole, ...]] = ("authorized", "unauthorized", "second")
_SOURCES: Final[tuple[Literal["harness", "vendor"], ...]] = ("harness", "vendor")
_BINDINGS: Final[tuple[Literal["response", "token-endpoint"], ...]] = ("response", "token-endpoint")
_TOKEN_CLIENT_AUTHS: Final[tuple[TokenClientAuth, ...]] = TOKEN_CLIENT_AUTHS
_TOKEN_SELECT: Final[tuple[Literal["resource", "scope", "audience"], ...]] = ("resource", "scope", "audience")
_PSK_HASHES: Final[tuple[PskHash, ...]] = ("sha256", "sha384")
_PSK_TLS_VERSIONS: Final[tuple[PskTlsVersion, ...]] = ("1.3", "1.2")
PSK_KEY_FILE_BYTES: Final = 4096
"""The most read from a ``key_file``: a PSK in hex is 64 or 96 characters."""
PSK_KEY_BYTES: Final = (16, 256)
"""Shortest and longest PSK accepted: 128 bits at least (RFC 9257 6); K_AF and Ks_NAF are 256 bits."""
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


class _Table:
    """One TOML table being read: typed getters that fail naming the dotted key they read."""

    def __init__(self, toml: Path, base: Path, data: dict[str, Any], path: str = "", schema: str = "") -> None:
        self.toml, self.base, self.data, self.path, self.schema = toml, base, data, path, schema
        allowed = TABLES[schema]
        if allowed is not None:
            self._reject_unknown(allowed.split())

    def _reject_unknown(self, allowed: list[str]) -> None:
        for name in self.data:
            if name not in allowed:
                listing = "allowed keys: " + ", ".join(allowed)
                self.fail(name, f"unknown key {name!r}", values.did_you_mean(name, allowed, listing))

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
            table = self._schema_of(name) in TABLES
            fix = f"add a [{self.key(name)}] table" if table else f'add {name} = "..." under {self.header}'
            self.fail(name, f"missing (required when {because})", fix)

    def forbid(self, name: str, because: str, fix: str) -> None:
        if name in self.data:
            self.fail(name, f"not allowed here ({because})", fix)

    def _get(self, name: str, expected: str, default: object) -> Any:
        accepts, example = _TYPES[expected]
        if type(default) in (str, int, float, bool):
            example = toml_value(default, self.base)
        if name not in self.data:
            if default is _REQUIRED:
                self.fail(name, "missing required key", f"add {name} = {example} under {self.header}")
            return default
        value = self.data[name]
        if not accepts(value):
            self.fail(name, f"expected {expected}, got {_toml_type(value)}", f"write {name} = {example}")
        return value

    def _check(self, name: str, check: values.Check, value: str) -> None:
        try:
            check(value)
        except files.Invalid as invalid:
            self.fail(name, invalid.problem, invalid.fix)

    @overload
    def text(self, name: str, default: _Missing = ..., check: values.Check | None = None) -> str: ...
    @overload
    def text(self, name: str, default: _D, check: values.Check | None = None) -> str | _D: ...
    def text(self, name: str, default: object = _REQUIRED, check: values.Check | None = None) -> object:
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
        self.fail(name, f"{value!r} is not allowed", values.did_you_mean(value, allowed, listing))

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

    def strings(self, name: str, check: values.Check) -> tuple[str, ...]:
        value: list[str] = self._get(name, "an array of strings", _REQUIRED)
        if not value:
            self.fail(name, "is empty", "list at least one")
        for item in value:
            self._check(name, check, item)
        return tuple(value)

    @overload
    def file(self, name: str, content: values.Check, default: _Missing = ...) -> Path: ...
    @overload
    def file(self, name: str, content: values.Check, default: None) -> Path | None: ...
    def file(self, name: str, content: values.Check, default: _Missing | None = _REQUIRED) -> Path | None:
        """A file the declaration references, resolved against the TOML file's directory, then sniffed."""
        text = self.text(name, default)
        if text is None:
            return None
        path = (self.base / text).resolve()
        try:
            content(self.read(name, path).decode("utf-8"))
        except files.Invalid as invalid:
            self.fail(name, f"{text!r} {invalid.problem}", invalid.fix)
        except UnicodeDecodeError:
            self.fail(name, f"{text!r} is not a text file", "give it as PEM or JSON, not DER or binary")
        return path

    def read(self, name: str, path: Path) -> bytes:
        """The bytes of the file ``name`` gives (resolved to ``path``): regular files only, size-capped."""
        try:
            return files.read_regular_file(path)
        except files.Missing:
            fix = f"give a path relative to {self.base}, or absolute"
            self.fail(name, f"{self.data[name]!r} does not exist ({path})", fix)
        except files.Invalid as invalid:
            self.fail(name, f"{self.data[name]!r} {invalid.problem} ({path})", invalid.fix)

    def material(self, name: str, *, must_exist: bool) -> Path | None:
        """The harness material directory; ``must_exist``: it holds the material already.

        The target was provisioned with the CA and issuer key in there: a fresh set in its place
        would only make every case INCONCLUSIVE, so it is never created behind the user's back.
        """
        text = self.text(name, None)
        if text is None:
            return None
        path = (self.base / text).resolve()
        if path.exists() and not path.is_dir():
            fix = "give the directory `conformance pki export` wrote"
            self.fail(name, f"{text!r} is not a directory ({path})", fix)
        if must_exist:
            self._require_material(name, text, path)
        return path

    def _require_material(self, name: str, text: str, path: Path) -> None:
        export = (
            f"run `conformance pki export {path}` and provision its ca.pem "
            "(and, for an EES, issuer.jwks.json) on the target"
        )
        missing = missing_sources(path) if path.is_dir() else list(MATERIAL_FILES)
        if not path.exists():
            self.fail(name, f"{text!r} does not exist ({path})", export)
        if len(missing) == len(MATERIAL_FILES):
            self.fail(name, f"{text!r} holds no harness material ({path})", export)
        if missing:
            problem = f"{text!r} lacks {', '.join(missing)} ({path})"
            self.fail(name, problem, f"restore them, or move the folder away, {export} again")

    def passphrase(self, name: str) -> tuple[str | None, bytes | None]:
        """The environment variable ``name`` gives, and its value, read now."""
        variable = self.text(name, None, values.ENV_NAME)
        if variable is None:
            return None, None
        value = os.environ.get(variable)
        if value is None:
            fix = "export it with the key's passphrase before the run, or decrypt the key"
            self.fail(name, f"environment variable {variable!r} is not set", fix)
        if not value:
            self.fail(name, f"environment variable {variable!r} is empty", "set it to the key's passphrase")
        return variable, os.fsencode(value)

    def private_key(self, name: str, path: Path, passphrase: bytes | None, passphrase_name: str) -> PrivateKeyTypes:
        """The PEM private key file ``name`` gives, decrypted with the passphrase ``passphrase_name`` gives."""
        try:
            return values.private_key(self.read(name, path), passphrase, self.data[name], self.key(passphrase_name))
        except files.BadPassphrase as bad:
            self.fail(passphrase_name, bad.problem, bad.fix)
        except files.Invalid as invalid:
            self.fail(name, invalid.problem, invalid.fix)

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
        data = files.read_regular_file(path)
    except files.Missing:
        raise ConfigError(path, "(file)", "does not exist", "check the path of the target file") from None
    except files.Invalid as invalid:
        raise ConfigError(path, "(file)", invalid.problem, invalid.fix) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "(file)", "is not UTF-8 text", "save it as UTF-8, as TOML requires") from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11 gives the position only inside the message: "Invalid value (at line 3, column 9)".
        match = re.fullmatch(r"(.*) \(at (.*)\)", str(exc))
        problem, where = match.groups() if match else (str(exc), "(file)")
        raise ConfigError(path, where, f"not valid TOML: {problem}", "fix the syntax (toml.io/en/v1.0.0)") from None


def load_target(path: Path, *, material_must_exist: bool = True) -> TargetConfig:
    """Parse and validate one target declaration; any problem raises :class:`ConfigError`.

    Tables are read top-down, so the first message is about the first problem. Paths in the
    result are absolute; ``file`` is the resolved path of the declaration itself.
    ``material_must_exist=False`` is for ``conformance pki export``, which is about to write it.
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
        name=target.text("name", file.stem, values.NAME),
        role=role,
        base_url=target.text("base_url", check=values.api_root),
        fqdn=target.text("fqdn", check=values.FQDN),
        trust_anchor=target.file("trust_anchor", values.CERTIFICATE),
        client_auth=target.choice("client_auth", _CLIENT_AUTHS),
        timeout=target.number("timeout", 5.0, low=0, high=120),
        http_versions=_http_versions(target),
        request_template=target.file("request_template", values.request_template, None),
        psk=_psk(target, role),
        concurrent_connections=_concurrent_connections(target),
        client_certs=client_certs,
        harness_material=harness.material("material", must_exist=material_must_exist),
        fuzz_seed=harness.positive_int("fuzz_seed", FUZZ_SEED),
        fuzz_examples=_fuzz_examples(harness),
        eecs=_eecs(doc, vendor_certs=client_certs == "vendor"),
        deviations=_deviations(doc, role),
        extra=_extra(doc.table("extra", required=False)),
    )
    config = _with_ees(config, doc.table("ees")) if role == "ees" else _with_ecs(config, doc.table("ecs"))
    _check_oauth_credentials(doc, config)
    return config


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


def _http_versions(t: _Table) -> tuple[HttpVersion, ...]:
    if not t.has("http_versions"):
        return HTTP_VERSIONS
    chosen = t.strings("http_versions", values.one_of(HTTP_VERSIONS, "HTTP version"))
    if len(set(chosen)) != len(chosen):
        t.fail("http_versions", "lists a version twice", 'write each once, preferred first: ["2", "1.1"]')
    return tuple(v for c in chosen for v in HTTP_VERSIONS if v == c)


def _concurrent_connections(t: _Table) -> int | None:
    if not t.has("concurrent_connections"):
        return None
    count = t.positive_int("concurrent_connections", 0)
    if not 2 <= count <= MAX_CONCURRENT_CONNECTIONS:
        t.fail(
            "concurrent_connections",
            f"{count} is out of range",
            f"give 2 to {MAX_CONCURRENT_CONNECTIONS}: how many connections your server accepts at the same moment",
        )
    return count


def _fuzz_examples(t: _Table) -> int:
    count = t.positive_int("fuzz_examples", FUZZ_EXAMPLES)
    if count > MAX_FUZZ_EXAMPLES:
        t.fail("fuzz_examples", f"{count} is too many", f"use at most {MAX_FUZZ_EXAMPLES} (each is one request)")
    return count


def _psk(target: _Table, role: Role) -> PskConfig | None:
    """``[target.psk]``: the external PSK (identity and key) the ECS accepts, or None."""
    if not target.has("psk"):
        return None
    if role != "ecs":
        because = "the catalogue has a PSK requirement for the ECS only, ECS-TLS-07"
        target.fail("psk", f"not allowed for role = {role!r} ({because})", "remove the [target.psk] table")
    t = target.table("psk")
    if t.has("key_env") == t.has("key_file"):
        t.fail("", "needs exactly one of key_env and key_file", 'set key_env = "ENV_VAR" (hex) or key_file = "psk.hex"')
    identity = t.text("identity", check=_psk_identity)
    key_env, key_file = t.text("key_env", None, values.ENV_NAME), t.text("key_file", None)
    port = t.positive_int("port", 1) if t.has("port") else None
    if port is not None and port > 65535:
        t.fail("port", f"{port} is not a TCP port", "use the port of the PSK listener, 1 to 65535")
    key = _psk_key_from_env(t, key_env) if key_env is not None else _psk_key_from_file(t)
    return PskConfig(
        identity=identity,
        key_env=key_env,
        key_file=None if key_file is None else (t.base / key_file).resolve(),
        hash=t.choice("hash", _PSK_HASHES, "sha256"),
        port=port,
        tls_version=t.choice("tls_version", _PSK_TLS_VERSIONS, "1.3"),
        key=key,
    )


def _psk_identity(value: str) -> None:
    """A TLS 1.3 PskIdentity.identity is 1 to 65535 bytes (RFC 8446 4.2.11), sent in clear."""
    if len(value.encode("utf-8")) > 65535:
        raise files.Invalid("is longer than 65535 bytes (RFC 8446 4.2.11)", "give the A-KID or B-TID the ECS expects")


def _psk_key_from_env(t: _Table, variable: str) -> bytes:
    value = os.environ.get(variable)
    if value is None:
        t.fail(
            "key_env", f"environment variable {variable!r} is not set", "export it with the PSK as hex before the run"
        )
    return _psk_key(t, "key_env", value, f"environment variable {variable!r}")


def _psk_key_from_file(t: _Table) -> bytes:
    written = t.data["key_file"]
    path = (t.base / t.text("key_file")).resolve()
    try:
        data = files.read_regular_file(path, limit=PSK_KEY_FILE_BYTES)
    except files.Missing:
        t.fail("key_file", f"{written!r} does not exist ({path})", f"give a path relative to {t.base}, or absolute")
    except files.Invalid as invalid:
        t.fail("key_file", f"{written!r} {invalid.problem} ({path})", invalid.fix)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        t.fail("key_file", f"{written!r} is not hex text", "write the key as hex digits (openssl rand -hex 32 > FILE)")
    return _psk_key(t, "key_file", text, repr(written))


def _psk_key(t: _Table, name: str, text: str, where: str) -> bytes:
    """The key written as hex in ``text``; the value itself never appears in a message."""
    digits = "".join(text.split())
    if not digits:
        t.fail(name, f"{where} is empty", "give the PSK as hex digits (openssl rand -hex 32)")
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        t.fail(name, f"{where} does not hold hex digits", "write the key as hex digits (openssl rand -hex 32)")
    low, high = PSK_KEY_BYTES
    if not low <= len(key) <= high:
        problem = f"{where} holds a {len(key)}-byte key"
        t.fail(name, problem, f"give {low} to {high} bytes (K_AF and Ks_NAF are 32 bytes: 64 hex digits)")
    return key


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
    for name in ("cert", "key", "key_passphrase_env"):
        if not vendor_certs:
            t.forbid(name, "the harness issues EEC certificates", 'remove it, or set harness.client_certs = "vendor"')
    role, eec_id, gpsi = t.choice("role", _EEC_ROLES), t.text("eec_id"), t.text("gpsi", check=values.GPSI)
    cert, key = t.file("cert", values.CERTIFICATE, None), t.file("key", values.PRIVATE_KEY, None)
    variable, passphrase = t.passphrase("key_passphrase_env")
    if cert is not None and key is not None:
        _check_key_pair(t, cert, key, passphrase)
    oauth_key, oauth_cert = _oauth_credential(t)
    return EecIdentity(
        role,
        eec_id,
        gpsi,
        cert,
        key,
        key_passphrase_env=variable,
        key_passphrase=passphrase,
        oauth_key=oauth_key,
        oauth_cert=oauth_cert,
    )


def _oauth_credential(t: _Table) -> tuple[Path | None, Path | None]:
    """The EEC's OAuth client key and its registered self-signed certificate, checked to belong together."""
    if t.has("oauth_cert"):
        t.need("oauth_key", "oauth_cert is given: the harness needs its private key to present it")
    key, cert = t.file("oauth_key", values.PRIVATE_KEY, None), t.file("oauth_cert", values.CERTIFICATE, None)
    if key is not None:
        _oauth_private_key(t, key)
    if cert is None or key is None:
        return key, cert
    try:
        leaf = values.leaf_certificate(t.read("oauth_cert", cert))
    except files.Invalid as invalid:
        t.fail("oauth_cert", f"{t.data['oauth_cert']!r} {invalid.problem}", invalid.fix)
    if not values.is_self_signed(leaf):
        problem = f"{t.data['oauth_cert']!r} is not self-signed (issuer {leaf.issuer.rfc4514_string()})"
        t.fail("oauth_cert", problem, "give the self-signed certificate the ECS registered for this EEC (RFC 8705 2.2)")
    if not values.same_public_key(_oauth_private_key(t, key), leaf):
        problem = f"{t.data['oauth_key']!r} does not match the public key of {t.data['oauth_cert']!r}"
        t.fail("oauth_key", problem, "give the private key of that certificate")
    return key, cert


def _oauth_private_key(t: _Table, path: Path) -> PrivateKeyTypes:
    try:
        return values.private_key(t.read("oauth_key", path), None, t.data["oauth_key"], t.key("oauth_key"))
    except files.Invalid as invalid:
        t.fail("oauth_key", invalid.problem, "give an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1)")


def _check_key_pair(t: _Table, cert: Path, key: Path, passphrase: bytes | None) -> None:
    """The vendor's EEC key must be the one of its certificate, or every TLS case fails for nothing."""
    private = t.private_key("key", key, passphrase, "key_passphrase_env")
    try:
        leaf = values.leaf_certificate(t.read("cert", cert))
    except files.Invalid as invalid:
        t.fail("cert", f"{t.data['cert']!r} {invalid.problem}", invalid.fix)
    if not values.same_public_key(private, leaf):
        problem = f"{t.data['key']!r} does not match the public key of {t.data['cert']!r}"
        t.fail("key", problem, "give the private key of that certificate (the first one in the chain)")


def _deviations(doc: _Table, role: Role) -> tuple[Deviation, ...]:
    tables = doc.tables("deviation", required=False)
    known = _requirement_of(role)
    deviations = [Deviation(t.text("requirement", check=known), t.text("reason")) for t in tables]
    _unique(tables, "requirement", [d.requirement for d in deviations], "declare each deviation once")
    return tuple(deviations)


def _requirement_of(role: Role) -> values.Check:
    """Only IDs of the catalogue, for this role: a mistyped ID would silently excuse nothing."""
    ids = [rid for rid, requirement in catalogue().items() if requirement.role == role]

    def check(value: str) -> None:
        if value not in ids:
            listing = "use an ID from conformance/data/requirements.toml"
            raise files.Invalid(
                f"{value!r} is not an {role.upper()} requirement ID", values.did_you_mean(value, ids, listing)
            )

    return check


def _with_ees(config: TargetConfig, ees: _Table) -> TargetConfig:
    authorization = ees.choice("authorization", _AUTHORIZATIONS)
    if authorization == "token":
        ees.need("token_issuer", 'authorization = "token"')
    issuer = _trusted_issuer(ees.table("token_issuer"), config.harness_material) if ees.has("token_issuer") else None
    service_names = ees.strings("service_names", values.SERVICE)
    return replace(config, authorization=authorization, service_names=service_names, trusted_issuer=issuer)


def _trusted_issuer(t: _Table, material: Path | None = None) -> TrustedIssuer:
    source = t.choice("source", _SOURCES)
    algorithm = t.choice("algorithm", _ALGORITHMS, "ES256")
    if source == "vendor":
        t.need("key", 'source = "vendor"')
    else:
        for name in ("key", "key_passphrase_env"):
            t.forbid(name, 'source = "harness" signs with the harness material', 'remove it, or set source = "vendor"')
        _check_harness_has_key(t, algorithm, material)
    issuer, key = t.text("issuer", check=_issuer_name), t.file("key", values.signing_key, None)
    variable, passphrase = t.passphrase("key_passphrase_env")
    kid, lifetime = t.text("kid", None), t.positive_int("lifetime", 300)
    jwks_port = t.positive_int("jwks_port", 1) if t.has("jwks_port") else None
    if jwks_port is not None and jwks_port > 65535:
        t.fail("jwks_port", f"{jwks_port} is not a TCP port", "use a free port from 1024 to 65535")
    if key is not None:
        _check_algorithm_fits(t, _issuer_key(t, key, passphrase), algorithm)
    return TrustedIssuer(
        source,
        issuer,
        key,
        kid,
        algorithm,
        lifetime,
        key_passphrase_env=variable,
        key_passphrase=passphrase,
        jwks_port=jwks_port,
    )


def _issuer_name(value: str) -> None:
    """The ``iss`` the EES expects: the ECS FQDN (TS 33.558 6.2), or the https URL that standard
    OAuth 2.0 servers use as their issuer identifier (RFC 8414 2), declared with a deviation."""
    if value.startswith("https://"):
        values.https_url(value)
        return
    try:
        values.FQDN(value)
    except files.Invalid as invalid:
        fix = 'write the ECS FQDN ("ecs.example.test"), or an https URL ("https://ecs.example.test")'
        raise files.Invalid(f"{value!r} is neither an FQDN nor an https URL", fix) from invalid


def _check_harness_has_key(t: _Table, algorithm: str, material: Path | None) -> None:
    """The harness material holds EC P-256 (ES256), RSA (RS*, PS*) and Ed25519 (EdDSA) issuer keys;
    a declared folder exported before the RSA and Ed25519 keys existed lacks those two."""
    family = issuer_family(algorithm)
    if family is None:
        fix = 'use ES256, RS256..RS512, PS256..PS512 or EdDSA, or set source = "vendor" with your own key'
        problem = f'{algorithm!r} does not fit source = "harness": the harness material has no key for it'
        t.fail("algorithm", problem, fix)
    if material is None or not material.is_dir() or missing_sources(material):
        return  # a throwaway set has every key; a missing folder is reported by harness.material
    if not (material / ISSUER_KEY_FILES[family]).is_file():
        problem = f"{algorithm!r} needs {ISSUER_KEY_FILES[family]}, which {material} lacks (exported before it existed)"
        t.fail("algorithm", problem, f"run `conformance pki export {material}` and provision the new issuer.jwks.json")


def _issuer_key(t: _Table, path: Path, passphrase: bytes | None) -> SigningKey:
    """The vendor's issuer key, as the harness will sign with it: a PEM (maybe encrypted) or a private JWK."""
    data, written = t.read("key", path), t.data["key"]
    if not data.lstrip().startswith(b"{"):
        try:
            return as_signing_key(t.private_key("key", path, passphrase, "key_passphrase_env"))
        except PeerError as exc:
            t.fail("key", f"{written!r} cannot sign tokens ({exc})", "give an EC, RSA or Ed25519 private key")
    if passphrase is not None:
        t.fail("key_passphrase_env", f"is set but {written!r} is a JWK, which is never encrypted", "remove it")
    try:
        key = JWKRegistry.import_key(json.loads(data))
    except (ValueError, TypeError, JoseError) as exc:
        t.fail("key", f"{written!r} is not a usable JWK ({exc})", "give the private JWK of an EC, RSA or OKP key")
    if not isinstance(key, SigningKey):
        t.fail("key", f"{written!r} is a {key.key_type} JWK", "give the private JWK of an EC, RSA or OKP key")
    return key


def _check_algorithm_fits(t: _Table, key: SigningKey, algorithm: str) -> None:
    misfit = algorithm_misfit(key, algorithm)
    if misfit is None:
        return
    try:
        fix = f'set algorithm = "{default_algorithm(key)}", or give a key for {algorithm}'
    except PeerError:
        fix = f"give a key for {algorithm}"
    t.fail("algorithm", f"{algorithm!r} does not fit {t.data['key']!r}, {describe_key(key)} ({misfit})", fix)


def _with_ecs(config: TargetConfig, ecs: _Table) -> TargetConfig:
    tables = ecs.tables("candidate_ees")
    candidates = [
        CandidateEes(
            ees_id=t.text("ees_id"),
            fqdn=t.text("fqdn", check=values.FQDN),
            service_names=t.strings("service_names", values.SERVICE),
            authorization=t.choice("authorization", _AUTHORIZATIONS),
            token_pointer=t.text("token_pointer", None, values.JSON_POINTER),
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
    endpoint_only = (
        "token_url",
        "client_auth",
        "other_client_auths",
        "assertion_alg",
        "client_id",
        "client_secret_env",
        "select",
        "server_name",
        "trust_anchor",
    )
    response_only = ("member",)
    if binding == "token-endpoint":
        t.need("token_url", 'binding = "token-endpoint"')
    for name in response_only if binding == "token-endpoint" else endpoint_only:
        t.forbid(name, f'binding = "{binding}" does not use it', "remove it, or correct the binding")
    client_auth = t.choice("client_auth", _TOKEN_CLIENT_AUTHS, "tls_client_auth")
    others = _other_client_auths(t, client_auth)
    secret = next((m for m in (client_auth, *others) if m.startswith("client_secret_")), None)
    if secret is not None:
        t.need("client_secret_env", f'client_auth = "{secret}"' if secret == client_auth else f'"{secret}" is declared')
    else:
        t.forbid("client_secret_env", f'client_auth = "{client_auth}" sends no secret', "remove it")
    if "private_key_jwt" not in (client_auth, *others):
        t.forbid("assertion_alg", "only private_key_jwt signs a client assertion", "remove it")
    return TokenDelivery(
        binding=binding,
        member=t.text("member", "accessToken", values.MEMBER),
        token_url=t.text("token_url", None, values.https_url),
        client_auth=client_auth,
        other_client_auths=others,
        assertion_alg=t.choice("assertion_alg", _ALGORITHMS) if t.has("assertion_alg") else None,
        client_id=t.text("client_id", None),
        client_secret_env=t.text("client_secret_env", None, values.ENV_NAME),
        select=t.choice("select", _TOKEN_SELECT, "resource"),
        server_name=t.text("server_name", None, values.FQDN),
        trust_anchor=t.file("trust_anchor", values.CERTIFICATE, None),
    )


def _other_client_auths(t: _Table, client_auth: TokenClientAuth) -> tuple[TokenClientAuth, ...]:
    if not t.has("other_client_auths"):
        return ()
    listing = "use " + ", ".join(f'"{m}"' for m in _TOKEN_CLIENT_AUTHS)
    chosen = t.strings("other_client_auths", values.one_of(_TOKEN_CLIENT_AUTHS, "client authentication method"))
    if client_auth in chosen or len(set(chosen)) != len(chosen):
        t.fail("other_client_auths", "repeats a method", f"list each method once, client_auth not again ({listing})")
    return tuple(m for c in chosen for m in _TOKEN_CLIENT_AUTHS if m == c)


_OAUTH_CREDENTIAL_USERS: Final[dict[str, tuple[TokenClientAuth, ...]]] = {
    "oauth_key": ("private_key_jwt", "self_signed_tls_client_auth"),
    "oauth_cert": ("self_signed_tls_client_auth",),
}
"""Which ``[[eec]]`` OAuth credential each token-endpoint client authentication method uses."""


def _check_oauth_credentials(doc: _Table, config: TargetConfig) -> None:
    """Each declared method's credential on the [[eec]] tables: present where the suite needs it
    (the authorized EEC), usable, and declared only when a method uses it."""
    delivery = config.token_delivery
    methods = delivery.client_auths if delivery is not None and delivery.binding == "token-endpoint" else ()
    delivery_table = doc.table("ecs").table("token_delivery") if methods else None
    for t, eec in zip(doc.tables("eec"), config.eecs, strict=True):
        if "self_signed_tls_client_auth" in methods and eec.role == "authorized":
            t.need("oauth_cert", 'ecs.token_delivery declares "self_signed_tls_client_auth"')
        if "private_key_jwt" in methods:
            _check_assertion_key(t, eec, config, delivery_table)
        for name, users in _OAUTH_CREDENTIAL_USERS.items():
            if not any(m in methods for m in users):
                because = f"no ecs.token_delivery client authentication uses it ({' or '.join(users)})"
                t.forbid(name, because, "remove it, or declare that method in ecs.token_delivery")


def _check_assertion_key(t: _Table, eec: EecIdentity, config: TargetConfig, delivery: _Table | None) -> None:
    """``private_key_jwt``: the EEC's key (``oauth_key``, else its vendor TLS key) signs the declared algorithm."""
    if eec.oauth_key is None and eec.key is None:
        if eec.role == "authorized":
            because = 'ecs.token_delivery declares "private_key_jwt" and the harness issues the TLS certificates'
            t.need("oauth_key", because)
        return
    name, passphrase = ("oauth_key", None) if eec.oauth_key is not None else ("key", eec.key_passphrase)
    path = eec.oauth_key or eec.key
    assert path is not None
    try:
        key = as_signing_key(values.private_key(t.read(name, path), passphrase, t.data[name], t.key(name)))
    except (PeerError, files.Invalid) as exc:
        t.fail(name, f"{t.data[name]!r} cannot sign a client assertion ({exc})", "give an EC, RSA or Ed25519 key")
    algorithm = config.token_delivery.assertion_alg if config.token_delivery else None
    if algorithm is None:
        try:
            default_algorithm(key)
        except PeerError as exc:
            t.fail(name, f"{t.data[name]!r}: {exc}", "give an EC P-256/P-384/P-521, RSA or Ed25519 key")
        return
    misfit = algorithm_misfit(key, algorithm)
    if misfit is not None and delivery is not None:
        problem = f"{algorithm!r} does not fit {t.key(name)} {t.data[name]!r}, {describe_key(key)} ({misfit})"
        delivery.fail("assertion_alg", problem, f'set assertion_alg = "{default_algorithm(key)}", or remove it')


def _token_keys(t: _Table) -> TokenKeys:
    if t.has("jwks_file") == t.has("jwks_url"):
        t.fail(
            "",
            "needs exactly one of jwks_file and jwks_url",
            'set jwks_file = "..." or jwks_url = "https://..."',
        )
    return TokenKeys(
        jwks_file=t.file("jwks_file", values.jwks, None), jwks_url=t.text("jwks_url", None, values.https_url)
    )
