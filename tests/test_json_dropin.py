"""``datason.json`` is a drop-in for the standard ``json`` module: same output and exceptions for what ``json``
accepts, datason's plain form for what it refuses, no tag interpretation on load."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import fractions
import io
import itertools
import json
import math
import pathlib
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import datason
import datason.json as djson
from datason.config import SerializationConfig

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    finite_floats,
    st.just(-0.0),
    st.text(),
    st.text(st.characters(codec="ascii"), max_size=8),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
        | st.lists(children, max_size=3).map(tuple)
    ),
    max_leaves=25,
)
nan_leaves = st.sampled_from([float("nan"), float("inf"), float("-inf")])
values_with_nan = st.recursive(
    st.one_of(json_leaves, nan_leaves),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=15,
)

KWARG_GRID = [
    dict(indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii, separators=separators)
    for indent, sort_keys, ensure_ascii, separators in itertools.product(
        [None, 2, "\t"], [False, True], [True, False], [None, (",", ":"), (", ", ": ")]
    )
]


def _kw_id(kw: dict[str, Any]) -> str:
    return "-".join(f"{k}={v!r}" for k, v in kw.items())


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def same_json(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --- dumps / dump -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", KWARG_GRID, ids=[_kw_id(k) for k in KWARG_GRID])
@SETTINGS
@given(value=json_values)
def test_dumps_matches_json(value: Any, kwargs: dict[str, Any], walker: str) -> None:
    assert djson.dumps(value, **kwargs) == json.dumps(value, **kwargs)


@SETTINGS
@given(value=values_with_nan, sort_keys=st.booleans(), indent=st.sampled_from([None, 2]))
def test_dumps_matches_json_with_nan(value: Any, sort_keys: bool, indent: Any, walker: str) -> None:
    assert djson.dumps(value, sort_keys=sort_keys, indent=indent) == json.dumps(
        value, sort_keys=sort_keys, indent=indent
    )
    assert djson.dumps(value, allow_nan=True) == json.dumps(value, allow_nan=True)
    if _has_non_finite(value):
        with pytest.raises(ValueError) as mine:
            djson.dumps(value, allow_nan=False)
        with pytest.raises(ValueError) as theirs:
            json.dumps(value, allow_nan=False)
        assert type(mine.value) is type(theirs.value)
        assert str(mine.value) == str(theirs.value)
    else:
        assert djson.dumps(value, allow_nan=False) == json.dumps(value, allow_nan=False)


@SETTINGS
@given(value=json_values)
def test_dump_matches_json(value: Any, walker: str) -> None:
    mine, theirs = io.StringIO(), io.StringIO()
    djson.dump(value, mine, indent=2, sort_keys=True)
    json.dump(value, theirs, indent=2, sort_keys=True)
    assert mine.getvalue() == theirs.getvalue()


def test_other_json_arguments_pass_through(walker: str) -> None:
    value = {"a": 1, (1, 2): "tuple key", "b": [1.5, None]}
    assert djson.dumps(value, skipkeys=True) == json.dumps(value, skipkeys=True)
    value2 = {1: "int key", 2.5: "float key", None: "none", False: "bool"}
    assert djson.dumps(value2) == json.dumps(value2)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError) as mine:
        djson.dumps(loop)
    with pytest.raises(ValueError) as theirs:
        json.dumps(loop)
    assert str(mine.value) == str(theirs.value)
    assert djson.dumps("é\u2603", ensure_ascii=False) == json.dumps("é\u2603", ensure_ascii=False)


# --- loads / load -----------------------------------------------------------------------------------------------------


@SETTINGS
@given(value=json_values, indent=st.sampled_from([None, 2]))
def test_loads_matches_json(value: Any, indent: Any) -> None:
    text = json.dumps(value, indent=indent)
    assert same_json(djson.loads(text), json.loads(text))
    assert same_json(djson.loads(text.encode()), json.loads(text.encode()))
    assert same_json(djson.load(io.StringIO(text)), json.load(io.StringIO(text)))
    assert djson.loads(text, parse_float=decimal.Decimal) == json.loads(text, parse_float=decimal.Decimal)

    def hook(d: dict[str, Any]) -> Any:
        return ("obj", sorted(d))

    assert same_json(djson.loads(text, object_hook=hook), json.loads(text, object_hook=hook))
    assert djson.loads(text, object_pairs_hook=list) == json.loads(text, object_pairs_hook=list)
    assert djson.loads(text, parse_int=str) == json.loads(text, parse_int=str)


def test_loads_nan_tokens_like_json() -> None:
    text = "[NaN, Infinity, -Infinity, 1.5]"
    mine, theirs = djson.loads(text), json.loads(text)
    assert [repr(x) for x in mine] == [repr(x) for x in theirs]
    assert math.isnan(mine[0])
    assert djson.loads(text, parse_constant=str) == json.loads(text, parse_constant=str)


@pytest.mark.parametrize("doc", ["", "[1,", "{'a': 1}", "[1,]", "nul", '{"a" 1}', "[1] 2", '"\\x"'])
def test_invalid_input_raises_json_decode_error(doc: str) -> None:
    with pytest.raises(json.JSONDecodeError) as mine:
        djson.loads(doc)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(doc)
    assert (mine.value.msg, mine.value.pos) == (theirs.value.msg, theirs.value.pos)
    assert djson.JSONDecodeError is json.JSONDecodeError
    assert isinstance(mine.value, ValueError)


TAGGED_DOCS = [
    '{"__datason_type__": "uuid.UUID", "__datason_value__": "12345678-1234-5678-1234-567812345678"}',
    '[{"__datason_type__": "tuple", "__datason_value__": [1, 2]}]',
    '{"__datason_type__": "os.system", "__datason_value__": "echo hi"}',
    '{"x": {"__datason_type__": "datetime", "__datason_value__": "2024-01-02T03:04:05"}}',
]


@pytest.mark.parametrize("doc", TAGGED_DOCS)
def test_loads_does_not_interpret_tags(doc: str) -> None:
    assert djson.loads(doc) == json.loads(doc)
    assert djson.load(io.StringIO(doc)) == json.load(io.StringIO(doc))
    assert "__datason_type__" in json.dumps(djson.loads(doc))


def test_module_has_the_json_api() -> None:
    for name in ("dumps", "dump", "loads", "load", "JSONDecodeError", "JSONDecoder", "JSONEncoder"):
        assert hasattr(djson, name), name
    assert djson.JSONEncoder is json.JSONEncoder
    assert djson.JSONDecoder is json.JSONDecoder
    assert sorted(djson.__all__) == sorted(json.__all__)
    assert djson.detect_encoding is json.detect_encoding


def test_submodules_hold_jsons_objects() -> None:
    import json.tool

    import datason.json.tool
    from datason.json.decoder import JSONDecodeError, py_scanstring  # undocumented names too

    assert JSONDecodeError is json.decoder.JSONDecodeError is djson.JSONDecodeError
    assert py_scanstring is json.decoder.py_scanstring
    assert djson.decoder.JSONDecoder is json.decoder.JSONDecoder
    assert djson.decoder.scanstring is json.decoder.scanstring
    assert djson.encoder.JSONEncoder is json.encoder.JSONEncoder
    assert djson.encoder.encode_basestring_ascii is json.encoder.encode_basestring_ascii
    assert djson.encoder.c_make_encoder is json.encoder.c_make_encoder
    assert djson.scanner.make_scanner is json.scanner.make_scanner
    assert datason.json.tool.main is json.tool.main
    assert "WHITESPACE" in dir(djson.decoder)
    with pytest.raises(AttributeError, match=r"datason\.json\.decoder"):
        _ = djson.decoder.no_such_name
    scan_once = djson.scanner.make_scanner(djson.decoder.JSONDecoder())
    assert scan_once('{"a": [1, 2.5]}', 0) == ({"a": [1, 2.5]}, 15)


def test_json_encoder_subclass_from_the_submodule() -> None:
    class Encoder(djson.encoder.JSONEncoder):
        def default(self, o: Any) -> Any:
            return sorted(o) if isinstance(o, set) else super().default(o)

    assert djson.dumps({"s": {2, 1}}, cls=Encoder) == json.dumps({"s": {2, 1}}, cls=Encoder) == '{"s": [1, 2]}'
    with pytest.raises(TypeError):
        djson.dumps(dt.date(2024, 1, 1), cls=Encoder)  # json's answer: the caller's encoder decides


UTF_ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
UTF_DOCS = ['{"a": ["a\u00b5\u20ac\U0001d120", 1.5, null]}', '"\u2600"', "5", "57", "[]", '["\\ud800"]']


@pytest.mark.parametrize("doc", UTF_DOCS)
@pytest.mark.parametrize("encoding", UTF_ENCODINGS)
def test_loads_detects_utf_8_16_32_like_json(encoding: str, doc: str) -> None:
    data = doc.encode(encoding)  # "utf-8-sig", "utf-16" and "utf-32" write a BOM
    assert djson.detect_encoding(data) == json.detect_encoding(data)
    assert same_json(djson.loads(data), json.loads(data))
    assert same_json(djson.loads(bytearray(data)), json.loads(bytearray(data)))
    assert same_json(djson.load(io.BytesIO(data)), json.load(io.BytesIO(data)))
    assert same_json(djson.loads(data), json.loads(doc))


UNDECODABLE = [
    ("utf-8", b'["\x80"]'),
    ("utf-8-bom", b'\xef\xbb\xbf["\xff"]'),
    ("utf-16-truncated", '["a"]'.encode("utf-16-le")[:-1]),
    ("utf-32-out-of-range", b"\x00\x00\x00[\x00\x11\x00\x00\x00\x00\x00]"),
]


@pytest.mark.parametrize("data", [d for _, d in UNDECODABLE], ids=[n for n, _ in UNDECODABLE])
def test_undecodable_bytes_raise_json_decode_error(data: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        json.loads(data)
    with pytest.raises(djson.JSONDecodeError) as mine:
        djson.loads(data)
    assert not isinstance(mine.value, UnicodeDecodeError)
    assert mine.value.doc == ""  # the document is never kept or quoted
    assert mine.value.msg.startswith("invalid UTF-")


# --- what json refuses ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: float
    y: float


PLAIN_FORMS: list[tuple[str, Any, Any]] = [
    ("datetime-utc", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2024-01-02T03:04:05+00:00"),
    ("datetime-naive", dt.datetime(2024, 1, 2, 3, 4, 5, 6), "2024-01-02T03:04:05.000006"),
    ("date", dt.date(2024, 1, 2), "2024-01-02"),
    ("time", dt.time(3, 4, 5), "03:04:05"),
    ("timedelta", dt.timedelta(days=1, hours=2), "P1DT2H"),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
    ("decimal", decimal.Decimal("1.10"), "1.10"),
    ("fraction", fractions.Fraction(1, 3), "1/3"),
    ("set", {3, 1, 2}, [1, 2, 3]),
    ("frozenset", frozenset({"b", "a"}), ["a", "b"]),
    ("bytes", b"\x00\x01", "AAE="),
    ("complex", complex(1, -2), {"real": 1.0, "imag": -2.0}),
    ("path", pathlib.PurePosixPath("/a/b"), "/a/b"),
    ("range", range(0, 6, 2), {"start": 0, "stop": 6, "step": 2}),
    ("dataclass", Point(1.0, 2.0), {"x": 1.0, "y": 2.0}),
    ("nested", {"when": [dt.date(2024, 1, 1)], "ids": {uuid.UUID(int=1)}}, None),
]


@pytest.mark.parametrize(("name", "value", "expected"), PLAIN_FORMS, ids=[c[0] for c in PLAIN_FORMS])
def test_values_json_refuses_get_the_plain_form(name: str, value: Any, expected: Any, walker: str) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    text = djson.dumps({"v": value})
    plain = datason.serialize(value, SerializationConfig(include_type_hints=False, uuid_format="string"))
    assert json.loads(text) == {"v": plain}
    if expected is not None:
        assert json.loads(text) == {"v": expected}
    assert "__datason_type__" not in text
    # the json keyword arguments still apply
    assert djson.dumps({"v": value, "a": 1}, sort_keys=True, indent=2) == json.dumps(
        {"v": plain, "a": 1}, sort_keys=True, indent=2
    )
    out = io.StringIO()
    djson.dump([value], out, separators=(",", ":"))
    assert out.getvalue() == json.dumps([plain], separators=(",", ":"))


def test_readme_example(walker: str) -> None:
    assert djson.dumps({"at": dt.date(2024, 1, 2)}, indent=2) == '{\n  "at": "2024-01-02"\n}'


class Unknown:
    pass


@pytest.mark.parametrize("value", [object(), Unknown(), {"k": [Unknown()]}, {1, Unknown()}])
def test_unknown_objects_raise_type_error_like_json(value: Any, walker: str) -> None:
    with pytest.raises(TypeError) as mine:
        djson.dumps(value)
    with pytest.raises(TypeError) as theirs:
        json.dumps(value)
    assert str(mine.value) == str(theirs.value)
    assert not isinstance(mine.value, datason.DatasonError)


def test_non_string_keys_json_refuses_still_raise(walker: str) -> None:
    for value in ({dt.date(2024, 1, 1): 1}, {(1, 2): 1}):
        with pytest.raises(TypeError):
            json.dumps(value)
        with pytest.raises(TypeError):
            djson.dumps(value)


def test_callers_default_is_respected(walker: str) -> None:
    value = {"at": dt.datetime(2024, 1, 2, 3, 4, 5), "id": uuid.UUID(int=1)}
    assert djson.dumps(value, default=str) == json.dumps(value, default=str)
    assert json.loads(djson.dumps(value, default=str))["at"] == "2024-01-02 03:04:05"  # str(), not isoformat

    def refuse(obj: Any) -> Any:
        raise TypeError(f"refused {type(obj).__name__}")

    with pytest.raises(TypeError, match="refused datetime"):
        djson.dumps(value, default=refuse)


def test_callers_cls_is_respected(walker: str) -> None:
    class Encoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            if isinstance(o, dt.datetime):
                return "custom"
            return super().default(o)

    value = {"at": dt.datetime(2024, 1, 2), "n": 1}
    assert djson.dumps(value, cls=Encoder) == json.dumps(value, cls=Encoder) == '{"at": "custom", "n": 1}'
    with pytest.raises(TypeError):
        djson.dumps({"id": uuid.UUID(int=1)}, cls=Encoder)  # the caller's encoder decides, not datason
    out = io.StringIO()
    djson.dump(value, out, cls=Encoder)
    assert out.getvalue() == '{"at": "custom", "n": 1}'
