"""The JSON text layer: strict RFC 8259 in, exact numbers and strings out, under both walkers."""

from __future__ import annotations

import json
import math
import os
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import datason
from datason._native import speedups

VALID = [
    "null",
    "true",
    " false ",
    "0",
    "-0",
    "-0.0",
    "1e308",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551616",
    "0.1",
    "2.2250738585072014e-308",
    "5e-324",
    "1.7976931348623157e308",
    "9007199254740993",
    "0.30000000000000004",
    "1e22",
    "1e23",
    "123.456e-7",
    '"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/\\b\\f\\r"',
    '"plain ascii"',
    '"h\u00e9llo \u2603 \U0001f600"',
    "[]",
    "{}",
    '[1, [2, [3, {"a": [true, null]}]]]',
    '{"a": 1, "a": 2}',
    '{"__datason_type__": 5}',
    '{"__datason_value__": [1, 2], "x": 1}',
    '{"x": 1, "__datason_type__": "tuple", "__datason_value__": [1]}',
    "\n\t\r [1 , 2 ]\n",
]

INVALID = [
    "",
    " ",
    "NaN",
    "Infinity",
    "-Infinity",
    "[1,]",
    '{"a":1,}',
    "[1 2]",
    "01",
    "1.",
    ".5",
    "-",
    "1e",
    "+1",
    "0x10",
    "tru",
    "nul",
    '"unterminated',
    '"bad \\x escape"',
    '"bad \\u12 escape"',
    '"lone \\ud800 surrogate"',
    '"lone \\udc00 low"',
    '"control \x01 char"',
    "{1: 2}",
    "{'a': 1}",
    '{"a" 1}',
    "[1] [2]",
    "1e400",
    "-1e400",
    "[",
    '{"a":',
]


@pytest.mark.parametrize("text", VALID)
def test_valid_documents_parse_like_json(text: str, walker: str) -> None:
    expected = json.loads(text)
    got = datason.loads(text, datason.config.SerializationConfig(include_type_hints=False))
    if isinstance(expected, dict) and set(expected) == {"__datason_type__", "__datason_value__"}:
        return  # an envelope: decoded, not compared
    if text.strip().startswith('{"x": 1, "__datason_type__"'):
        assert got == {"x": 1, "__datason_type__": "tuple", "__datason_value__": [1]}
        return
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, float):
        assert struct.pack("<d", got) == struct.pack("<d", expected)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_documents_are_refused(text: str, walker: str) -> None:
    with pytest.raises(datason.DeserializationError):
        datason.loads(text)
    with pytest.raises(datason.DeserializationError):
        datason.loads(text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("data", [b"\xff", b'"\xc3"', b'"\xed\xa0\x80"', b"\xef\xbb\xbf{}", b'["\x80"]'])
def test_invalid_utf8_is_refused(data: bytes, walker: str) -> None:
    with pytest.raises(datason.DeserializationError):
        datason.loads(data)


def test_lone_surrogate_in_str_input(walker: str) -> None:
    with pytest.raises(datason.DeserializationError):
        datason.loads('"\ud800"')


def test_floats_are_bit_exact(walker: str) -> None:
    rng = random.Random(7)
    values = [rng.random() for _ in range(3000)]
    values += [rng.uniform(-1e300, 1e300) for _ in range(500)]
    values += [math.ldexp(rng.random(), rng.randrange(-1074, 1000)) for _ in range(500)]
    values += [1e-7, 123456.789, 1e21, 1e22, 1e23, 9007199254740992.0, 9007199254740994.0, 5e-324, -0.0]
    for text in (json.dumps(values), repr(values).replace("inf", "1")):
        got = datason.loads(text)
        assert [struct.pack("<d", g) for g in got] == [struct.pack("<d", v) for v in values]


def test_ints_are_exact(walker: str) -> None:
    rng = random.Random(3)
    values = [rng.randrange(-(10**40), 10**40) for _ in range(2000)] + [0, 2**63 - 1, -(2**63), 2**64 - 1, 10**18]
    assert datason.loads(json.dumps(values)) == values


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
        max_leaves=30,
    )
)
def test_any_json_text_parses_like_the_json_module(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert datason.loads(text) == json.loads(text)


@pytest.mark.skipif(os.environ.get("DATASON_NO_SPEEDUPS") not in (None, "", "0"), reason="pure-Python run")
def test_accelerator_is_built() -> None:
    """The C accelerator compiles on this project's supported platforms; a silent fallback is a bug."""
    assert speedups is not None


@pytest.mark.skipif(speedups is None, reason="needs the C accelerator")
@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_written_floats_read_back_to_the_same_bits(value: float) -> None:
    text = speedups.format_float(value)
    assert "." in text or "e" in text  # never mistaken for an int
    assert struct.pack("<d", float(text)) == struct.pack("<d", value)
    assert struct.pack("<d", datason.loads(datason.dumps([value]))[0]) == struct.pack("<d", value)
