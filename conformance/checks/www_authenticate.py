"""Parse a ``WWW-Authenticate`` field value into its challenges (RFC 9110 sections 11.2, 11.6.1).

A refusal is judged by the structure of its challenge, never by substring matching: ``Bearer
error=invalid_token``, ``bearer error = "invalid_token"`` and ``Basic realm="x", Bearer
error="invalid_token"`` all say the same thing.

Why our own parser: no well-kept PyPI library parses a whole challenge list strictly.
werkzeug's ``WWWAuthenticate.from_header`` reads one challenge only (it splits at the first
space and hands the rest to a dict parser); ``www-authenticate`` (last release 2015) keys its
result by scheme, so two challenges of one scheme collide, and it has no error positions;
``requests`` and ``httpx`` have no challenge parser; ``authchallenge`` is a single fresh
release whose default mode skips malformed parts and whose strict mode adds scheme rules of its
own (it refuses a bare ``Bearer``, which RFC 6750 section 3 allows). A conformance verdict needs
the plain RFC 9110 grammar with a precise reason when a value breaks it, which fits here::

    WWW-Authenticate = [ challenge ] *( OWS "," OWS [ challenge ] )    ; list rule, 5.6.1
    challenge    = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-scheme  = token
    auth-param   = token BWS "=" BWS ( token / quoted-string )
    token68      = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE

One comma separates both the auth-params of a challenge and the challenges themselves. An
element of the form ``name BWS "="`` is an auth-param of the current challenge; anything else
after a comma starts a new challenge. A challenge's auth-params start after its scheme and SP:
``Bearer , a=b`` (an empty first element) is one challenge, ``Bearer, a=b`` is refused. Right
after the scheme, a token68 fills the rest of its list element (``abc==``), so ``realm=x``
there is an auth-param and ``realm=`` a token68; a token68 challenge has no auth-params.

Characters: tokens and token68 are ASCII. A quoted-string holds SP, HTAB, visible ASCII and
obs-text, read here as any character from U+0080 (a value decoded as Latin-1 gives U+0080 to
U+00FF, one decoded as UTF-8 more). Any other control character (NUL, CR, LF, DEL...) is refused
wherever it stands, so is obsolete line folding. HTAB is OWS everywhere but between a scheme and
its token68 or first auth-param, where the grammar asks for SP.

>>> parse_challenges('Basic realm="x", bEaReR error = invalid_token')  # doctest: +NORMALIZE_WHITESPACE
[Challenge(scheme='Basic', params=(('realm', 'x'),), token68=None),
 Challenge(scheme='bEaReR', params=(('error', 'invalid_token'),), token68=None)]
>>> find(parse_challenges('Negotiate abc123==, Bearer'), 'bearer')
Challenge(scheme='Bearer', params=(), token68=None)
>>> parse_challenges('Bearer Error_Description="a \\\\"b\\\\""')[0].param('error_description')
'a "b"'
>>> parse_challenges('Bearer error="x", ERROR=y')
Traceback (most recent call last):
...
conformance.checks.www_authenticate.ChallengeSyntaxError: auth-param 'error' occurs twice in one challenge (RFC 9110 \
section 11.2) at offset 18: 'Bearer error="x", ' ^ 'ERROR=y'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True)
class Challenge:
    """One challenge: the scheme as sent, then either auth-params or a token68 (or neither).

    ``params`` keeps the order sent; names are lower-cased (they are case-insensitive), values
    are unquoted (a quoted-pair ``\\x`` stands for ``x``). ``params`` is empty when ``token68``
    is set.
    """

    scheme: str
    params: tuple[tuple[str, str], ...] = ()
    token68: str | None = None

    def is_scheme(self, name: str) -> bool:
        """Whether this challenge is of scheme ``name``, compared case-insensitively."""
        return name.isascii() and self.scheme.lower() == name.lower()

    def param(self, name: str) -> str | None:
        """The value of auth-param ``name`` (case-insensitive), or ``None`` when absent."""
        key = name.lower() if name.isascii() else name
        return next((value for k, value in self.params if k == key), None)


class ChallengeSyntaxError(ValueError):
    """The field value breaks the grammar; ``offset`` is where, ``reason`` says what was wrong."""

    def __init__(self, value: str, offset: int, reason: str) -> None:
        self.value, self.offset, self.reason = value, offset, reason
        before, after = value[max(0, offset - 30) : offset], value[offset : offset + 30]
        super().__init__(f"{reason} at offset {offset}: {before!r} ^ {after!r}")


def find(challenges: Iterable[Challenge], scheme: str) -> Challenge | None:
    """The first challenge of ``scheme`` (case-insensitive), or ``None``."""
    return next((c for c in challenges if c.is_scheme(scheme)), None)


def parse_challenges(value: str) -> list[Challenge]:
    """Every challenge in one ``WWW-Authenticate`` (or ``Proxy-Authenticate``) field value, in order.

    A response may carry the field on several lines; join them with ``", "`` first (RFC 9110
    section 5.3) and pass the combined value. Empty list elements (``", ,"``) are skipped, so an
    empty value gives ``[]`` (whether a 401 must challenge is the caller's judgement). Raises
    ``ChallengeSyntaxError`` for anything the grammar forbids: a control character, an
    unterminated quoted-string, an auth-param without a value, a name twice in one challenge...
    """
    return _Parser(value).challenges()


def _shown(char: str) -> str:
    return f"control character U+{ord(char):04X}" if char.isascii() and not char.isprintable() else repr(char)


def _qdtext(char: str) -> bool:
    """HTAB / SP / VCHAR except DQUOTE and backslash / obs-text (any character from U+0080)."""
    return char in "\t " or ("!" <= char <= "~" and char not in '"\\') or char >= "\x80"


class _Parser:
    def __init__(self, value: str) -> None:
        self.value, self.pos = value, 0

    def fail(self, reason: str, offset: int | None = None) -> ChallengeSyntaxError:
        return ChallengeSyntaxError(self.value, self.pos if offset is None else offset, reason)

    def peek(self) -> str:
        return self.value[self.pos] if self.pos < len(self.value) else ""

    def found(self) -> str:
        return _shown(self.peek()) if self.peek() else "the end"

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def skip_empty_elements(self) -> None:
        """Past ``OWS *( "," OWS )``: the commas of the list rule with nothing between them."""
        self.skip_ows()
        while self.peek() == ",":
            self.pos += 1
            self.skip_ows()

    def element_ends(self) -> bool:
        """Whether, past OWS, the current list element ends here (at a comma or the end)."""
        self.skip_ows()
        return self.peek() in ("", ",")

    def challenges(self) -> list[Challenge]:
        result: list[Challenge] = []
        self.skip_empty_elements()
        while self.pos < len(self.value):
            result.append(self.challenge())
            if not self.element_ends():
                raise self.fail(f"expected ',' or the end of the field value, found {self.found()}")
            self.skip_empty_elements()
        return result

    def challenge(self) -> Challenge:
        scheme = _TOKEN.match(self.value, self.pos)
        if scheme is None:
            raise self.fail(f"expected an auth-scheme (a token), found {self.found()}")
        self.pos = scheme.end()
        self.skip_ows()
        gap = self.value[scheme.end() : self.pos]
        if self.peek() == "=":
            raise self.fail(f"auth-param {scheme.group()!r} belongs to no challenge", scheme.start())
        params: dict[str, str] = {}
        if self.peek() in ("", ","):
            # A bare scheme; or, after 1*SP, a #auth-param list whose first elements are empty.
            bare = self.pos
            if gap.startswith(" "):
                self.skip_empty_elements()
            if not gap.startswith(" ") or not self.auth_param(params):
                self.pos = bare
                return Challenge(scheme.group())
        else:
            if not gap:
                raise self.fail(
                    f"expected SP, ',' or the end after auth-scheme {scheme.group()!r}, found {self.found()}"
                )
            if "\t" in gap:
                where = scheme.end() + gap.index("\t")
                raise self.fail(
                    f"HTAB after auth-scheme {scheme.group()!r}: only SP may separate its parameters", where
                )
            token68 = _TOKEN68.match(self.value, self.pos)
            if token68 is not None:
                self.pos = token68.end()
                if self.element_ends():
                    return Challenge(scheme.group(), token68=token68.group())
                self.pos = token68.start()
            if not self.auth_param(params):
                raise self.fail(f"expected a token68 or an auth-param, found {self.found()}")
        while True:
            after_param = self.pos
            if not self.element_ends():
                break  # the caller reports what follows
            self.skip_empty_elements()
            if not self.auth_param(params):
                self.pos = after_param  # the next element is a new challenge (or the end)
                break
        return Challenge(scheme.group(), tuple(params.items()))

    def auth_param(self, params: dict[str, str]) -> bool:
        """Read ``token BWS "=" BWS ( token / quoted-string )`` into ``params``.

        False, moving nothing, when no ``token BWS "="`` is here: the element is not an auth-param.
        """
        name = _TOKEN.match(self.value, self.pos)
        if name is None:
            return False
        self.pos = name.end()
        self.skip_ows()
        if self.peek() != "=":
            self.pos = name.start()
            return False
        self.pos += 1
        self.skip_ows()
        key = name.group().lower()
        if key in params:
            raise self.fail(f"auth-param {key!r} occurs twice in one challenge (RFC 9110 section 11.2)", name.start())
        if self.peek() == '"':
            params[key] = self.quoted_string()
            return True
        token = _TOKEN.match(self.value, self.pos)
        if token is None:
            raise self.fail(f"auth-param {key!r} has no value (a token or a quoted-string), found {self.found()}")
        self.pos = token.end()
        params[key] = token.group()
        return True

    def quoted_string(self) -> str:
        opening, self.pos = self.pos, self.pos + 1
        chars: list[str] = []
        while (char := self.peek()) != '"':
            if not char:
                raise self.fail("unterminated quoted-string", opening)
            if char == "\\":
                self.pos += 1
                char = self.peek()
                if not char:
                    raise self.fail("unterminated quoted-string (it ends in a lone backslash)", opening)
                if not (_qdtext(char) or char in '"\\'):
                    raise self.fail(f"{_shown(char)} cannot be escaped by a quoted-pair")
            elif not _qdtext(char):
                raise self.fail(f"{_shown(char)} inside a quoted-string")
            chars.append(char)
            self.pos += 1
        self.pos += 1
        return "".join(chars)
