"""The WWW-Authenticate parser: legal spellings, malformed values, and generated round trips."""

from __future__ import annotations

import contextlib
import doctest
import string
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.checks import www_authenticate
from conformance.checks.www_authenticate import Challenge, ChallengeSyntaxError, find, parse_challenges

TCHAR = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters
DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bearer(*params: tuple[str, str]) -> Challenge:
    return Challenge("Bearer", params)


LEGAL = {
    'Bearer error="invalid_token"': [bearer(("error", "invalid_token"))],
    "Bearer error=invalid_token": [bearer(("error", "invalid_token"))],
    'Bearer error = "invalid_token"': [bearer(("error", "invalid_token"))],
    "Bearer error\t=\tinvalid_token": [bearer(("error", "invalid_token"))],
    'Basic realm="x", Bearer error="invalid_token"': [
        Challenge("Basic", (("realm", "x"),)),
        bearer(("error", "invalid_token")),
    ],
    "bEaReR": [Challenge("bEaReR")],
    "Bearer": [bearer()],
    'Bearer ERROR="x"': [bearer(("error", "x"))],
    r'Bearer error_description="a \"b\""': [bearer(("error_description", 'a "b"'))],
    r'Bearer error_description="back\\slash \x"': [bearer(("error_description", "back\\slash x"))],
    'Bearer realm=""': [bearer(("realm", ""))],
    'Bearer realm="a, b=c"': [bearer(("realm", "a, b=c"))],
    'Bearer realm="caf\xe9\t \x80"': [bearer(("realm", "caf\xe9\t \x80"))],
    "Negotiate abc123==": [Challenge("Negotiate", token68="abc123==")],
    "Negotiate a/b+c-d.e_f~g": [Challenge("Negotiate", token68="a/b+c-d.e_f~g")],
    "Bearer realm=": [Challenge("Bearer", token68="realm=")],  # by the grammar a token68, not a param
    "Bear er": [Challenge("Bear", token68="er")],
    "Negotiate abc==, Bearer": [Challenge("Negotiate", token68="abc=="), bearer()],
    "": [],
    " \t": [],
    ", ,": [],
    ' , Bearer  a=b ,, c="d" , , Basic ,Negotiate x== ,': [
        bearer(("a", "b"), ("c", "d")),
        Challenge("Basic"),
        Challenge("Negotiate", token68="x=="),
    ],
    "Bearer , , a=b": [bearer(("a", "b"))],
    "Bearer ,\tBasic": [bearer(), Challenge("Basic")],
    'Basic realm="simple", Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"': [
        Challenge("Basic", (("realm", "simple"),)),
        Challenge("Newauth", (("realm", "apps"), ("type", "1"), ("title", 'Login to "apps"'))),
        Challenge("Basic", (("realm", "simple"),)),
    ],
    "Bearer, Bearer": [bearer(), bearer()],
}


@pytest.mark.parametrize("value", list(LEGAL))
def test_legal_spellings_parse_to_their_structure(value: str) -> None:
    assert parse_challenges(value) == LEGAL[value]


MALFORMED: dict[str, tuple[int, str]] = {
    'Bearer error="invalid_token': (13, "unterminated quoted-string"),
    'Bearer error="x\\': (13, "lone backslash"),
    "Bearer error =": (14, "has no value"),
    "Bearer a=1, error=": (18, "has no value"),
    'Bearer a=1, error=, b="c"': (18, "has no value"),
    "Bearer a=1,a=2": (11, "occurs twice"),
    "Bearer Error=1, eRRor=2": (16, "occurs twice"),
    "Bearer\terror=x": (6, "HTAB after auth-scheme 'Bearer'"),
    "Bearer \terror=x": (7, "HTAB after auth-scheme 'Bearer'"),
    'Bearer"x"': (6, "expected SP, ',' or the end after auth-scheme 'Bearer', found '\"'"),
    "Bearer, error=x": (8, "belongs to no challenge"),
    "Negotiate abc==, realm=x": (17, "belongs to no challenge"),
    "Negotiate abc==, x==": (17, "belongs to no challenge"),
    "Negotiate abc def": (10, "expected a token68 or an auth-param"),
    'Bearer "x"': (7, "expected a token68 or an auth-param"),
    "Bearer a=b c": (11, "expected ','"),
    "Bearer a=b;c=d": (10, "expected ','"),
    "Bearer a==b": (9, "has no value"),
    "=x": (0, "expected an auth-scheme"),
    "Bearer\x00": (6, "control character U+0000"),
    "Bearer a=\x7f": (9, "control character U+007F"),
    'Bearer a="\x01"': (10, "control character U+0001 inside a quoted-string"),
    'Bearer a="x\r\n y"': (11, "control character U+000D inside a quoted-string"),
    'Bearer a="\\\x00"': (11, "cannot be escaped"),
    "Bearer a=b\r\n": (10, "expected ','"),
    "Bearer a=\xe9": (9, "has no value"),
    "B\xe9arer": (1, "found '\xe9'"),
    "\u212aerberos": (0, "expected an auth-scheme"),
}


@pytest.mark.parametrize("value", list(MALFORMED))
def test_malformed_values_are_refused_with_offset_and_reason(value: str) -> None:
    offset, reason = MALFORMED[value]
    with pytest.raises(ChallengeSyntaxError) as refused:
        parse_challenges(value)
    assert (refused.value.offset, refused.value.value) == (offset, value)
    assert reason in refused.value.reason
    assert f"at offset {offset}" in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_several_field_lines_combine_with_a_comma() -> None:
    lines = ['Basic realm="x"', "Bearer error=invalid_token", "Negotiate abc=="]
    combined = parse_challenges(", ".join(lines))
    assert combined == [c for line in lines for c in parse_challenges(line)]


def test_find_is_param_and_is_scheme_ignore_case() -> None:
    challenges = parse_challenges('Basic realm="x", bearer Error="invalid_token", BEARER error=other')
    found = find(challenges, "Bearer")
    assert found is challenges[1]
    assert found.is_scheme("BEARER")
    assert not found.is_scheme("Basic")
    assert (found.param("ERROR"), found.param("error"), found.param("realm")) == (
        "invalid_token",
        "invalid_token",
        None,
    )
    assert find(challenges, "Digest") is None
    assert find([], "Bearer") is None
    assert not Challenge("k").is_scheme("\u212a")  # KELVIN SIGN lower-cases to "k" but is no token character
    assert Challenge("k", (("k", "v"),)).param("\u212a") is None


def test_the_module_docstring_examples_hold() -> None:
    result = doctest.testmod(www_authenticate, raise_on_error=False, verbose=False)
    assert result.attempted >= 4
    assert result.failed == 0


# ---- generated round trips -------------------------------------------------------------------

tokens = st.text(alphabet=TCHAR, min_size=1, max_size=8)
token68s = st.from_regex(r"[A-Za-z0-9\-._~+/]{1,12}={0,3}", fullmatch=True)
value_chars = st.one_of(
    st.sampled_from(TCHAR),
    st.sampled_from('\t "\\(),/:;<=>?@[]{}'),  # separators, HTAB and SP: legal in a quoted-string
    st.characters(min_codepoint=0x80, max_codepoint=0xD7FF),  # obs-text (and what a UTF-8 decoding gives)
)
values = st.text(alphabet=value_chars, max_size=10)
ows = st.text(alphabet=" \t", max_size=2)


@st.composite
def serialised_challenge_lists(draw: st.DrawFn) -> tuple[str, list[Challenge]]:
    """A random challenge list and one legal spelling of it, varied in whitespace, quoting and case."""

    def recased(text: str) -> str:
        return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in text)

    def separator() -> str:  # OWS "," OWS, with empty list elements now and then
        return draw(ows) + "," + draw(ows) + "".join("," + draw(ows) for _ in range(draw(st.integers(0, 2))))

    def quoted(value: str) -> str:
        return '"' + "".join("\\" + c if c in '"\\' or draw(st.booleans()) else c for c in value) + '"'

    expected: list[Challenge] = []
    spelt: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        scheme = recased(draw(tokens))
        kind = draw(st.sampled_from(["bare", "token68", "params"]))
        gap = " " * draw(st.integers(1, 3))
        if kind == "bare":
            expected.append(Challenge(scheme))
            spelt.append(scheme + draw(st.sampled_from(["", " ", "\t"])))
        elif kind == "token68":
            token68 = draw(token68s)
            expected.append(Challenge(scheme, token68=token68))
            spelt.append(scheme + gap + token68 + draw(ows))
        else:
            names = draw(st.lists(tokens, min_size=1, max_size=4, unique_by=str.lower))
            params = tuple((name.lower(), draw(values)) for name in names)
            expected.append(Challenge(scheme, params))
            written = [
                recased(name)
                + draw(ows)
                + "="
                + draw(ows)
                + (value if value and set(value) <= set(TCHAR) and draw(st.booleans()) else quoted(value))
                for name, value in params
            ]
            leading = separator() if draw(st.integers(0, 4)) == 0 else ""  # "Bearer , a=b"
            spelt.append(scheme + gap + leading + "".join(p + separator() for p in written[:-1]) + written[-1])
    head = draw(ows) + (separator() if draw(st.booleans()) else "")
    tail = (separator() if draw(st.booleans()) else "") + draw(ows)
    return head + "".join(s + separator() for s in spelt[:-1]) + (spelt[-1] if spelt else "") + tail, expected


def canonical(challenges: list[Challenge]) -> str:
    """One plain spelling: every value quoted, one SP after each scheme, ", " between elements."""

    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def one(c: Challenge) -> str:
        rest = c.token68 or ", ".join(f"{name}={quote(value)}" for name, value in c.params)
        return f"{c.scheme} {rest}" if rest else c.scheme

    return ", ".join(one(c) for c in challenges)


@settings(DETERMINISTIC, max_examples=300)
@given(serialised_challenge_lists())
def test_any_legal_spelling_parses_back_to_its_structure(case: tuple[str, list[Challenge]]) -> None:
    text, expected = case
    assert parse_challenges(text) == expected


header_like = st.text(alphabet=st.sampled_from(list('Bearer Negotiate a=b"\\,,  \t==/+~\x00\x7f\xe9\r\n')), max_size=40)


@settings(DETERMINISTIC, max_examples=1000)
@given(st.one_of(st.text(max_size=40), header_like))
def test_arbitrary_text_parses_or_raises_challenge_syntax_error(text: str) -> None:
    try:
        parsed = parse_challenges(text)
    except ChallengeSyntaxError as refused:
        assert 0 <= refused.offset <= len(text)  # noqa: PT017 (parsing or refusing are both legal)
        assert refused.value == text  # noqa: PT017
    else:
        assert parse_challenges(canonical(parsed)) == parsed


@pytest.mark.parametrize(
    "value",
    [
        "Bearer " + "a=b, " * 20_000,
        "Bearer " + ", ".join(f"p{i}=v" for i in range(20_000)),
        "Bearer, " * 20_000,
        "," * 100_000,
        " " * 100_000 + "x=",
        '"' * 100_000,
        'Bearer a="' + '\\"' * 50_000,
        "Negotiate " + "a" * 100_000 + "=" * 100_000 + " x",
        "Bearer " + "a" * 100_000,
        "Bearer " + "a" * 100_000 + " " * 100_000 + "=",
    ],
    ids=lambda value: f"{value[:12]!r}...{len(value)}",
)
def test_long_values_take_linear_time(value: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(ChallengeSyntaxError):
        parse_challenges(value)
    assert time.perf_counter() - started < 2.0
