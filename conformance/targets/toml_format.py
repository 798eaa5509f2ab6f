"""The TOML format of a target declaration: its tables and keys, and how to write one.

:mod:`conformance.targets.config` reads the format; :func:`dump_target` writes a
:class:`~conformance.targets.model.TargetConfig` back (the harness writes the target files of
its embedded reference with it), so that loading the saved text gives back an equal config.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from conformance.targets.model import TargetConfig

__all__ = ["TABLES", "dump_target", "toml_value"]

# Every table and its keys, by schema path: the unknown-key check, the writer's order, a map of the format.
# Keys name the model's fields (``material`` excepted), so the writer can read them off the dataclasses.
TABLES: Final[dict[str, str | None]] = {
    "": "target harness eec ees ecs deviation extra",
    "target": (
        "name role base_url fqdn trust_anchor client_auth timeout http_versions request_template"
        " concurrent_connections psk"
    ),
    "target.psk": "identity key_env key_file hash port tls_version",
    "harness": "client_certs material fuzz_seed fuzz_examples",
    "eec": "role eec_id gpsi cert key key_passphrase_env oauth_key oauth_cert",
    "ees": "authorization service_names token_issuer",
    "ees.token_issuer": "source issuer key key_passphrase_env kid algorithm lifetime jwks_port",
    "ecs": "max_token_lifetime token_delivery token_keys candidate_ees",
    "ecs.token_delivery": (
        "binding member token_url client_auth other_client_auths assertion_alg client_id client_secret_env"
        " select server_name trust_anchor"
    ),
    "ecs.token_keys": "jwks_file jwks_url",
    "ecs.candidate_ees": "ees_id fqdn service_names authorization token_pointer",
    "deviation": "requirement reason",
    "extra": None,  # free-form string settings for adapters: any key
}

_ENDPOINT_ONLY: Final = (
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
"""``ecs.token_delivery`` keys of the token-endpoint binding only."""
_ARRAYS: Final = ("eec", "deviation", "ecs.candidate_ees")
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _quote(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped (TOML 1.0, "String")."""
    escaped = (_ESCAPES.get(c) or (f"\\u{ord(c):04X}" if c < " " or c == "\x7f" else c) for c in text)
    return '"' + "".join(escaped) + '"'


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _quote(name)


def toml_value(value: object, base: Path) -> str:
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
        return "[" + ", ".join(toml_value(item, base) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _block(header: str, values: dict[str, object], base: Path) -> str:
    lines = [header] + [f"{_toml_key(k)} = {toml_value(v, base)}" for k, v in values.items() if v not in (None, ())]
    return "\n".join(lines)


def _fields(source: object, schema: str, skip: Iterable[str] = ()) -> tuple[str, dict[str, object]]:
    """The header and the values of one table, read off the model object it maps to."""
    names = [n for n in (TABLES[schema] or "").split() if f"{schema}.{n}" not in TABLES and n not in skip]
    header = f"[[{schema}]]" if schema in _ARRAYS else f"[{schema}]"
    return header, {n: getattr(source, "harness_material" if n == "material" else n) for n in names}


def dump_target(config: TargetConfig) -> str:
    """The TOML declaration of ``config``, as :func:`load_target` reads it back.

    Meant to be saved as ``config.file``: paths inside its directory are written relative to it,
    others absolute, so loading the saved text gives back an equal config. Only the sections of
    ``config.role`` are written (the loader refuses the other role's).
    """
    blocks = [_fields(config, "target")]
    if config.psk is not None:
        blocks.append(_fields(config.psk, "target.psk"))
    blocks.append(_fields(config, "harness"))
    blocks += [_fields(eec, "eec") for eec in config.eecs]
    if config.role == "ees":
        blocks.append(_fields(config, "ees"))
        if config.trusted_issuer is not None:
            blocks.append(_fields(config.trusted_issuer, "ees.token_issuer"))
    else:
        blocks.append(_fields(config, "ecs"))
        if (delivery := config.token_delivery) is not None:
            unused = ("member",) if delivery.binding == "token-endpoint" else _ENDPOINT_ONLY
            blocks.append(_fields(delivery, "ecs.token_delivery", skip=unused))
        if config.token_keys is not None:
            blocks.append(_fields(config.token_keys, "ecs.token_keys"))
        blocks += [_fields(candidate, "ecs.candidate_ees") for candidate in config.candidate_ees]
    blocks += [_fields(deviation, "deviation") for deviation in config.deviations]
    if config.extra:
        blocks.append(("[extra]", dict(config.extra)))
    base = config.file.parent.resolve()
    return "\n\n".join(_block(header, values, base) for header, values in blocks) + "\n"
