"""What a report must never show: private keys and vendor credentials.

Evidence is redacted when it is captured (tokens, token members); these guards run again
on the whole record before any report is written, because a report leaves the lab:

* any string containing ``PRIVATE KEY`` (a PEM private key, whole or in part) is replaced;
* values of members named like a credential (``password``, ``secret``, ``client_secret``,
  ``passphrase``, ...) are replaced, in JSON members, in ``key=value`` text and in command lines;
* ``Authorization: Basic`` credentials are replaced (bearer tokens are redacted at capture);
* the private members of a JWK (``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``, ``k``) are replaced.

Renderers call :func:`mask_record` first and :func:`refuse_private_key` on what they wrote.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "[masked]"
PRIVATE_KEY_MASK = "[masked: this text held private-key material, which a report never shows]"
PRIVATE_KEY_MARKER = "PRIVATE KEY"

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_CREDENTIAL_SUFFIXES = ("password", "passwd", "secret", "passphrase")
_JWK_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})

_NAME = r"[A-Za-z0-9_.-]*(?:password|passwd|secret|passphrase)"
# "client_secret": "abc"   (a JSON member inside a body or a message)
_JSON_MEMBER = re.compile(rf'("{_NAME}"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
# client_secret=abc   (a query string, a form body, a log line)
_KEY_VALUE = re.compile(rf"(\b{_NAME}\s*[=:]\s*)(?!\[masked)([^\s&\"',;]+)", re.IGNORECASE)
# Authorization: Basic dXNlcjpwYXNz  (in a header line, a curl -H, a JSON member)
_BASIC = re.compile(
    r"(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?Basic\s+)(?!\[masked)[A-Za-z0-9+/=._~-]+", re.IGNORECASE
)
_BASIC_VALUE = re.compile(r"^(\s*Basic\s+)(?!\[masked)\S+", re.IGNORECASE)
_AUTHORIZATION_HEADERS = frozenset({"authorization", "proxy-authorization"})
# openssl -pass pass:x / -passin pass:x / -passout env:X ; curl --pass x ; curl -u user:x / --user user:x
_OPENSSL_PASS = re.compile(r"((?:^|(?<=\s))-pass(?:in|out)?\s+)(?!\[masked)(\S+)")
_CURL_PASS = re.compile(r"((?:^|(?<=\s))--pass\s+)(?!\[masked)(\S+)")
_CURL_USER = re.compile(r"((?:^|(?<=\s))(?:-u|--user)\s+['\"]?[^:\s'\"]+:)(?!\[masked)([^\s'\"]+)")
# https://user:password@host
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?!\[masked)([^@\s/]+)(@)", re.IGNORECASE)
# What every pattern above needs somewhere in the text: most strings of a record (hundreds of
# thousands in a full run) have none of it, and one search spares them the eight substitutions.
_MIGHT_HOLD_CREDENTIAL = re.compile(r"pass|secret|authorization|-u\s|--user", re.IGNORECASE)


def _might_hold_credential(text: str) -> bool:
    return _MIGHT_HOLD_CREDENTIAL.search(text) is not None or ("://" in text and "@" in text)


@functools.lru_cache(maxsize=4096)
def is_credential_name(name: str) -> bool:
    """``password``, ``client_secret``, ``Client-Secret``, ``key_passphrase``, ``db_passwd``: yes."""
    squashed = re.sub(r"[^a-z0-9]", "", name.lower())
    return squashed.endswith(_CREDENTIAL_SUFFIXES)


def mask_text(text: str) -> str:
    """``text`` with private keys and credentials replaced; text without either is returned unchanged.

    Lone surrogates (a JSON ``\\ud800`` escape) become U+FFFD, so every report encodes as UTF-8.
    """
    if not text.isascii():
        text = _LONE_SURROGATE.sub("\ufffd", text)
    if PRIVATE_KEY_MARKER in text:
        return PRIVATE_KEY_MASK
    if not _might_hold_credential(text):
        return text
    text = _JSON_MEMBER.sub(lambda m: f'{m.group(1)}"{MASK}"', text)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + MASK, text)
    text = _BASIC.sub(lambda m: m.group(1) + MASK, text)
    text = _OPENSSL_PASS.sub(lambda m: m.group(1) + MASK, text)
    text = _CURL_PASS.sub(lambda m: m.group(1) + MASK, text)
    text = _CURL_USER.sub(lambda m: m.group(1) + MASK, text)
    return _URL_USERINFO.sub(lambda m: m.group(1) + MASK + m.group(3), text)


_mask_name = functools.lru_cache(maxsize=4096)(mask_text)
"""mask_text for member names: a record repeats a few hundred of them tens of thousands of times."""


def mask_value(value: Any) -> Any:
    """A deep copy of a JSON value with every string masked and credential members replaced."""
    if isinstance(value, dict):
        jwk = "kty" in value
        masked: dict[str, Any] = {}
        for key, member in value.items():
            safe_key = _mask_name(str(key))
            if (
                member is not None
                and member != ""
                and (is_credential_name(str(key)) or (jwk and str(key) in _JWK_PRIVATE_MEMBERS))
            ):
                masked[safe_key] = MASK
            elif str(key).lower() in _AUTHORIZATION_HEADERS and isinstance(member, str):
                masked[safe_key] = _BASIC_VALUE.sub(lambda m: m.group(1) + MASK, mask_text(member))
            else:
                masked[safe_key] = mask_value(member)
        return masked
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """The record as every report shows it: a masked deep copy (the input is not modified)."""
    masked: dict[str, Any] = mask_value(record)
    return masked


class PrivateKeyInReport(RuntimeError):
    """A rendered report still held private-key material; it is not written."""


def refuse_private_key(rendered: str, what: str) -> str:
    """``rendered`` unchanged, or :class:`PrivateKeyInReport` if it contains ``PRIVATE KEY``."""
    if PRIVATE_KEY_MARKER in rendered:
        raise PrivateKeyInReport(f"refusing to write {what}: it contains private-key material ({PRIVATE_KEY_MARKER})")
    return rendered
