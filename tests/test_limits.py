"""Limits: max_depth, max_size, max_string_length and max_bytes raise SecurityError in both directions, in typed
and plain mode (fast path included); exactly-at-limit passes; hostile nesting never becomes a RecursionError."""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import datason
from datason import DatasonError, DeserializationError, SecurityError, SerializationError, decoder, encoder, fastpath
from datason._native import speedups
from datason.config import SerializationConfig, get_api_config

from .conftest import assert_same, strict_json

TYPED = SerializationConfig()
PLAIN = get_api_config()
MODES = {"typed": TYPED, "plain": PLAIN}
HUGE = 100_000
U = uuid.UUID("6f1c2a9e-3b1d-4c8e-9f00-1234567890ab")
UTC_AT = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def nest_list(n: int, leaf: Any = 0) -> Any:
    """A list nested ``n`` deep (``n`` JSON containers)."""
    value = leaf
    for _ in range(n):
        value = [value]
    return value


def nest_dict(n: int, leaf: Any = 0) -> Any:
    value = leaf
    for _ in range(n):
        value = {"k": value}
    return value


def _all_fail(config: SerializationConfig, value: Any, tree: Any) -> list[SecurityError]:
    """Every entry point refuses: dumps/dumpb/serialize on ``value``, loads/deserialize on the JSON ``tree``."""
    errors = []
    text = json.dumps(tree)
    for call in (
        lambda: datason.dumps(value, config),
        lambda: datason.dumpb(value, config),
        lambda: datason.serialize(value, config),
        lambda: datason.loads(text, config),
        lambda: datason.loads(text.encode(), config),
        lambda: datason.deserialize(json.loads(text), config),
        lambda: datason.auto_deserialize(json.loads(text), config),
    ):
        with pytest.raises(SecurityError) as info:
            call()
        errors.append(info.value)
    return errors


def _all_pass(config: SerializationConfig, value: Any, tree: Any) -> None:
    text = datason.dumps(value, config)
    strict_json(text)
    assert json.loads(text) == json.loads(json.dumps(tree))
    datason.serialize(value, config)
    jtext = json.dumps(tree)
    assert datason.loads(jtext, config) == json.loads(jtext)
    assert datason.deserialize(json.loads(jtext), config) == json.loads(jtext)
    datason.auto_deserialize(json.loads(jtext), config)


# --- max_depth --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("limit", [1, 2, 5, 30])
def test_max_depth_lists(mode: str, limit: int, walker: str) -> None:
    config = MODES[mode].replace(max_depth=limit)
    _all_pass(config, nest_list(limit), nest_list(limit))
    for exc in _all_fail(config, nest_list(limit + 1), nest_list(limit + 1)):
        assert exc.path == "$" + "[0]" * limit
        assert f"max_depth={limit}" in str(exc)


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("limit", [1, 4, 30])
def test_max_depth_dicts(mode: str, limit: int, walker: str) -> None:
    config = MODES[mode].replace(max_depth=limit)
    _all_pass(config, nest_dict(limit), nest_dict(limit))
    for exc in _all_fail(config, nest_dict(limit + 1), nest_dict(limit + 1)):
        assert exc.path == "$" + ".k" * limit


def test_max_depth_zero_allows_scalars_only(walker: str) -> None:
    config = TYPED.replace(max_depth=0)
    assert datason.loads(datason.dumps("x", config), config) == "x"
    assert datason.loads(datason.dumps(1.5, config), config) == 1.5
    _all_fail(config, [], [])
    _all_fail(config, {}, {})


@pytest.mark.parametrize("limit", [2, 6])
def test_max_depth_typed_envelope_counts_one_level(limit: int, walker: str) -> None:
    config = TYPED.replace(max_depth=limit)
    # a tuple is an envelope (one level) holding a list (one more level)
    ok = nest_list(limit - 2, (1, 2))
    assert datason.loads(datason.dumps(ok, config), config) == ok
    too_deep = nest_list(limit - 1, (1, 2))
    with pytest.raises(SecurityError):
        datason.dumps(too_deep, config)
    with pytest.raises(SecurityError):
        datason.loads(datason.dumps(too_deep), config)
    # a UUID is an envelope with a string payload: one level
    ok_uuid = nest_list(limit - 1, U)
    assert datason.loads(datason.dumps(ok_uuid, config), config) == ok_uuid
    with pytest.raises(SecurityError):
        datason.dumps(nest_list(limit, U), config)
    with pytest.raises(SecurityError):
        datason.loads(datason.dumps(nest_list(limit, U)), config)


# --- max_size ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("limit", [0, 1, 5])
def test_max_size_list_and_dict(mode: str, limit: int, walker: str) -> None:
    config = MODES[mode].replace(max_size=limit)
    items = list(range(limit))
    _all_pass(config, {"v": items} if limit else items, {"v": items} if limit else items)
    over = list(range(limit + 1))
    for exc in _all_fail(config, [over] if limit else over, [over] if limit else over):
        assert f"max_size={limit}" in str(exc)
    mapping = {f"k{i}": i for i in range(limit)}
    _all_pass(config, mapping, mapping)
    bigger = {f"k{i}": i for i in range(limit + 1)}
    _all_fail(config, bigger, bigger)


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("kind", [tuple, set, frozenset, "int-keys"])
def test_max_size_other_containers(mode: str, kind: Any, walker: str) -> None:
    limit = 4
    config = MODES[mode].replace(max_size=limit)

    def make(n: int) -> Any:
        return {i: str(i) for i in range(n)} if kind == "int-keys" else kind(range(n))

    text = datason.dumps(make(limit), config)
    if mode == "typed":
        assert_same(datason.loads(text, config), make(limit))
    with pytest.raises(SecurityError):
        datason.dumps(make(limit + 1), config)
    with pytest.raises(SecurityError):
        datason.serialize([make(limit + 1)], config)
    with pytest.raises(SecurityError):
        datason.loads(datason.dumps(make(limit + 1), MODES[mode]), config)


# --- max_string_length --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("char", ["a", "é", "\u2603", "\U0001f600"])
def test_max_string_length_values(mode: str, char: str, walker: str) -> None:
    limit = 40
    config = MODES[mode].replace(max_string_length=limit)
    ok = char * limit
    _all_pass(config, {"s": [ok]}, {"s": [ok]})
    over = char * (limit + 1)
    for exc in _all_fail(config, {"s": [over]}, {"s": [over]}):
        assert exc.path == "$.s[0]"
        assert f"max_string_length={limit}" in str(exc)
    # escaped in the JSON text: the decoded length counts
    escaped = '["' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in ok) + '"]'
    assert datason.loads(escaped, config) == [ok]
    with pytest.raises(SecurityError):
        datason.loads(escaped.replace('"]', char + '"]'), config)


@pytest.mark.parametrize("mode", ["typed", "plain"])
def test_max_string_length_keys(mode: str, walker: str) -> None:
    limit = 40
    config = MODES[mode].replace(max_string_length=limit)
    ok = {"é" * limit: 1}
    _all_pass(config, ok, ok)
    over = {"é" * (limit + 1): 1}
    _all_fail(config, over, over)


def test_max_string_length_typed_payloads(walker: str) -> None:
    config = TYPED.replace(max_string_length=40)
    fits = [b"x" * 30, (("y" * 40),), {"z" * 40}]  # base64 of 30 bytes is 40 characters
    assert_same(datason.loads(datason.dumps(fits, config), config), fits)
    for value in (b"x" * 31, ("y" * 41,), {"z" * 41}):
        with pytest.raises(SecurityError):
            datason.dumps(value, config)
        with pytest.raises(SecurityError):
            datason.loads(datason.dumps(value), config)


# --- max_bytes -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("value", [{"k": "é" * 10, "n": [1, 2.5, None]}, ["\U0001f600" * 3, (1, 2)]], ids=["d", "l"])
def test_max_bytes_exact(mode: str, value: Any, walker: str) -> None:
    base = MODES[mode]
    data = datason.dumpb(value, base)
    size = len(data)
    at = base.replace(max_bytes=size)
    under = base.replace(max_bytes=size - 1)
    assert datason.dumpb(value, at) == data
    assert datason.dumps(value, at) == data.decode()
    for doc in (data, data.decode(), bytearray(data), memoryview(data)):
        datason.loads(doc, at)
    for call in (lambda: datason.dumps(value, under), lambda: datason.dumpb(value, under)):
        with pytest.raises(SecurityError) as info:
            call()
        assert f"max_bytes={size - 1}" in str(info.value)
    for doc in (data, data.decode(), bytearray(data), memoryview(data)):
        with pytest.raises(SecurityError):
            datason.loads(doc, under)


def test_max_bytes_is_checked_before_parsing(walker: str) -> None:
    config = TYPED.replace(max_bytes=100)
    with pytest.raises(SecurityError):
        datason.loads("{" * 101, config)  # invalid JSON, but too large first
    with pytest.raises(DeserializationError):
        datason.loads("{" * 100, config)


def test_max_bytes_with_indent(walker: str) -> None:
    value = {"a": [1, 2, 3]}
    size = len(datason.dumpb(value, indent=2))
    assert datason.dumps(value, TYPED.replace(max_bytes=size), indent=2) == datason.dumps(value, indent=2)
    with pytest.raises(SecurityError):
        datason.dumps(value, TYPED.replace(max_bytes=size - 1), indent=2)


# --- the plain fast path ----------------------------------------------------------------------------------------------


def _fast_record(text: str = "abc", items: int = 3, depth: int = 1) -> dict[str, Any]:
    return {
        "id": U,
        "at": UTC_AT,
        "naive": dt.datetime(2024, 1, 2, 3, 4, 5),
        "n": 1,
        "x": 1.5,
        "flag": True,
        "none": None,
        "text": text,
        "items": list(range(items)),
        "deep": nest_list(depth, "leaf"),
    }


def _expected_plain(record: dict[str, Any]) -> Any:
    return json.loads(json.dumps(record, default=lambda o: o.isoformat() if hasattr(o, "isoformat") else str(o)))


@pytest.mark.parametrize(
    ("field", "limit_name", "ok", "over"),
    [
        ("text", "max_string_length", {"text": "t" * 50}, {"text": "t" * 51}),
        ("items", "max_size", {"items": 50}, {"items": 51}),
        ("deep", "max_depth", {"depth": 9}, {"depth": 10}),
    ],
)
def test_plain_fast_path_limits(field: str, limit_name: str, ok: Any, over: Any, walker: str) -> None:
    limits = {"max_string_length": 50, "max_size": 50, "max_depth": 10}
    config = PLAIN.replace(**limits)
    good = _fast_record(**ok)
    assert fastpath.plain_native(good, config)  # this really is the fast path
    text = datason.dumps(good, config)
    assert json.loads(text) == _expected_plain(good)
    assert datason.loads(text, config) == json.loads(text)
    bad = _fast_record(**over)
    with pytest.raises(SecurityError) as info:
        datason.dumps(bad, config)
    assert info.value.path.startswith(f"$.{field}")
    assert f"{limit_name}={limits[limit_name]}" in str(info.value)
    with pytest.raises(SecurityError):
        datason.dumpb(bad, config)
    with pytest.raises(SecurityError):
        datason.loads(json.dumps(_expected_plain(bad)), config)


# --- hostile nesting: never a RecursionError --------------------------------------------------------------------------

DEEP_CONFIGS = {
    "default": TYPED,
    "plain": PLAIN,
    "typed-no-depth-limit": TYPED.replace(max_depth=10**7),
    "plain-no-depth-limit": PLAIN.replace(max_depth=10**7),
}


DEEP_DOCS = {
    "lists": "[" * HUGE + "]" * HUGE,
    "dicts": '{"a":' * HUGE + "1" + "}" * HUGE,
    "tuple-tags": '{"__datason_type__":"tuple","__datason_value__":' * HUGE + "[]" + "}" * HUGE,
    "unknown-tags": '{"__datason_type__":"x","__datason_value__":' * HUGE + "[]" + "}" * HUGE,
    "dict-tags": '{"__datason_type__":"dict","__datason_value__":[[1,' * HUGE + "2" + "]]}" * HUGE,
}


@pytest.mark.parametrize("doc_name", list(DEEP_DOCS))
@pytest.mark.parametrize("name", list(DEEP_CONFIGS))
def test_deep_json_input(name: str, doc_name: str, walker: str) -> None:
    config = DEEP_CONFIGS[name]
    doc = DEEP_DOCS[doc_name]
    for data in (doc, doc.encode()):
        with pytest.raises(SecurityError):
            datason.loads(data, config)
    # unterminated as well: a datason error either way
    with pytest.raises(DatasonError):
        datason.loads(doc[: len(doc) // 2], config)


@pytest.mark.parametrize("name", list(DEEP_CONFIGS))
def test_deep_python_values(name: str, walker: str) -> None:
    config = DEEP_CONFIGS[name]
    values = [nest_list(HUGE), nest_dict(HUGE), nest_list(HUGE, (1,))]
    tup: Any = ()
    for _ in range(HUGE):
        tup = (tup,)
    values.append(tup)
    int_keyed: Any = {}
    for _ in range(HUGE):
        int_keyed = {1: int_keyed}
    values.append(int_keyed)
    for value in values:
        for call in (datason.dumps, datason.dumpb, datason.serialize):
            with pytest.raises(SecurityError):
                call(value, config)
        with pytest.raises(SecurityError):
            datason.dumps(value, config, indent=2)
    for tree in (nest_list(HUGE), nest_dict(HUGE)):
        with pytest.raises(SecurityError):
            datason.deserialize(tree, config)
        with pytest.raises(SecurityError):
            datason.auto_deserialize(tree, config)
    tagged: Any = []
    for _ in range(HUGE):
        tagged = {"__datason_type__": "tuple", "__datason_value__": tagged}
    with pytest.raises(SecurityError):
        datason.deserialize(tagged, config)


# --- huge numbers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        "1" * HUGE,
        "-" + "9" * HUGE,
        "[" + "1" * HUGE + "]",
        '{"n": ' + "7" * HUGE + "}",
        "1e" + "9" * HUGE,
        '{"__datason_type__":"int","__datason_value__":"' + "1" * HUGE + '"}',
    ],
    ids=["int", "negative-int", "int-in-list", "int-in-dict", "exponent", "int-tag"],
)
def test_numbers_with_100000_digits_raise_datason_errors(doc: str, walker: str) -> None:
    for config in (TYPED, PLAIN):
        with pytest.raises((DeserializationError, SecurityError)):
            datason.loads(doc, config)


@pytest.mark.parametrize("doc", ["0." + "1" * HUGE, "1" + "." + "0" * HUGE + "1", "1e-" + "9" * HUGE])
def test_long_floats_parse_or_raise_cleanly(doc: str, walker: str) -> None:
    try:
        value = datason.loads(doc)
    except DatasonError:
        return
    assert type(value) is float
    assert value == float(doc)


@pytest.mark.parametrize("mode", ["typed", "plain"])
def test_int_with_5000_digits_is_refused(mode: str, walker: str) -> None:
    value = 10**4999
    for call in (datason.dumps, datason.serialize):
        with pytest.raises(SerializationError) as info:
            call({"n": [value]}, MODES[mode])
        assert info.value.path == "$.n[0]"
        assert "int" in str(info.value)
    with pytest.raises(SerializationError):
        datason.dumps(-value, MODES[mode])


@pytest.mark.parametrize("digits", [4280, 4300])
def test_ints_within_the_interpreter_limit_round_trip(digits: int, walker: str) -> None:
    value = int("9" * digits)
    assert datason.loads(str(value)) == value  # loads accepts it ...
    assert datason.loads(datason.dumps(value)) == value  # ... so dumps should write it


# --- what dumps writes under a config, loads reads under the same config ----------------------------------------------

# (name, config, value): each once a case where dumps wrote what loads then refused
ASYMMETRIC: list[tuple[str, SerializationConfig, Any]] = [
    ("json-native", TYPED.replace(max_depth=3, max_size=3, max_string_length=5), [{"a": "xxxxx"}, [1, 2, 3]]),
    ("tuple-set", TYPED.replace(max_depth=3, max_size=3, max_string_length=20), [(1, 2), {3}]),
    ("range-size", TYPED.replace(max_size=2), range(3)),
    ("timedelta-depth", TYPED.replace(max_depth=2), [dt.timedelta(1)]),
    ("zoned-datetime-depth", TYPED.replace(max_depth=1), dt.datetime(2024, 7, 1, tzinfo=PARIS)),
    ("tuple-envelope-size", TYPED.replace(max_size=1), [(1,)]),
    ("uuid-typed-str", TYPED.replace(max_string_length=20), [U]),
    ("datetime-typed-str", TYPED.replace(max_string_length=20), [UTC_AT]),
    ("uuid-plain-str", PLAIN.replace(max_string_length=20), [U]),
    ("datetime-plain-str", PLAIN.replace(max_string_length=20), [UTC_AT]),
    ("uuid-plain-str-slow-path", PLAIN.replace(max_string_length=20, nan_handling="string"), [U]),
    ("int-key-plain", PLAIN.replace(max_string_length=20), {10**30: 1}),
    ("mixed-keys-plain", PLAIN.replace(max_string_length=20), {1: 1, "k" * 30: 2}),
    ("big-int-typed", TYPED.replace(max_string_length=20), [10**30]),
    ("date-typed-marker-keys", TYPED.replace(max_string_length=16), [dt.date(2024, 1, 2)]),
]


@pytest.mark.parametrize(("name", "config", "value"), ASYMMETRIC, ids=[c[0] for c in ASYMMETRIC])
def test_what_dumps_writes_loads_reads_under_the_same_config(
    name: str, config: SerializationConfig, value: Any, walker: str
) -> None:
    try:
        text = datason.dumps(value, config)
    except SecurityError:
        return  # refusing to write is fine
    back = datason.loads(text, config)
    if config.include_type_hints:
        assert_same(back, value)


# --- the C and Python walkers enforce limits identically -------------------------------------------------------------


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("ok", call())
    except DatasonError as exc:
        return (type(exc).__name__, exc.path)


def _both(call: Callable[[], Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
    c = _outcome(call)
    with pytest.MonkeyPatch.context() as mp:
        for module in (encoder, decoder, fastpath):
            mp.setattr(module, "_speedups", None)
        py = _outcome(call)
    return c, py


TUPLE_TOO_DEEP = json.dumps({"__datason_type__": "tuple", "__datason_value__": [[[1]]]})
AGREEMENT: list[tuple[str, Callable[[], Any]]] = [
    ("dumps-list-depth", lambda: datason.dumps(nest_list(4), TYPED.replace(max_depth=3))),
    ("dumps-dict-size", lambda: datason.dumps({"a": list(range(4))}, TYPED.replace(max_size=3))),
    ("dumps-str", lambda: datason.dumps({"a": ["x" * 5]}, PLAIN.replace(max_string_length=4))),
    ("loads-list-depth", lambda: datason.loads(json.dumps(nest_list(4)), TYPED.replace(max_depth=3))),
    ("loads-dict-size", lambda: datason.loads('{"a":[1,2,3,4]}', TYPED.replace(max_size=3))),
    ("loads-str", lambda: datason.loads('{"a":["xxxxx"]}', TYPED.replace(max_string_length=4))),
    (
        "loads-key",
        lambda: datason.loads('{"a":{"xxxxx":1}}', TYPED.replace(max_string_length=4)),
    ),
    ("dumps-uuid-typed-str", lambda: datason.dumps([U], TYPED.replace(max_string_length=20))),
    (
        "dumps-datetime-typed-str",
        lambda: datason.dumps({"at": UTC_AT}, TYPED.replace(max_string_length=20)),
    ),
    (
        "dumps-uuid-plain-slow-str",
        lambda: datason.dumps([U], PLAIN.replace(max_string_length=20, nan_handling="string")),
    ),
    (
        "loads-typed-under-short-strings",
        lambda: datason.loads(datason.dumps([dt.date(2024, 1, 2)]), TYPED.replace(max_string_length=16)),
    ),
    (
        "loads-error-path-inside-payload",
        lambda: datason.loads(TUPLE_TOO_DEEP, TYPED.replace(max_depth=3)),
    ),
]


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
@pytest.mark.parametrize(("name", "call"), AGREEMENT, ids=[c[0] for c in AGREEMENT])
def test_c_and_python_agree_on_limits(name: str, call: Callable[[], Any]) -> None:
    c, py = _both(call)
    assert c == py


# --- property: documents written under a config are readable under it -------------------------------------------------

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)
limit_configs = st.builds(
    lambda typed, depth, size, length: (TYPED if typed else PLAIN).replace(
        max_depth=depth, max_size=size, max_string_length=length
    ),
    st.booleans(),
    st.integers(0, 6),
    st.integers(0, 6),
    st.integers(0, 12),
)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(value=json_values, config=limit_configs)
def test_property_json_values_written_are_readable(value: Any, config: SerializationConfig, walker: str) -> None:
    try:
        text = datason.dumps(value, config)
    except SecurityError:
        return
    back = datason.loads(text, config)
    if config.include_type_hints:
        assert_same(back, value)
    else:
        assert back == json.loads(text)


rich_leaves = st.one_of(
    json_leaves,
    st.integers(),
    st.uuids(),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC, PARIS, dt.timezone(dt.timedelta(hours=-3))])),
    st.dates(),
    st.timedeltas(),
    st.binary(max_size=12),
    st.builds(range, st.integers(-5, 5), st.integers(-5, 5), st.integers(1, 3)),
)
rich_values = st.recursive(
    rich_leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
        | st.dictionaries(st.integers(-(10**40), 10**40), children, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=8), max_size=5)
    ),
    max_leaves=20,
)
rich_configs = st.builds(
    lambda typed, depth, size, length: (TYPED if typed else PLAIN).replace(
        max_depth=depth, max_size=size, max_string_length=length
    ),
    st.booleans(),
    st.integers(1, 6),
    st.integers(2, 6),
    st.integers(17, 40),
)


@PROPERTY_SETTINGS
@given(value=rich_values, config=rich_configs)
@example(value=range(3), config=TYPED.replace(max_size=2, max_string_length=20))
@example(value=[U], config=PLAIN.replace(max_string_length=20))
def test_property_any_value_written_is_readable(value: Any, config: SerializationConfig, walker: str) -> None:
    try:
        text = datason.dumps(value, config)
    except (SecurityError, SerializationError):
        return
    back = datason.loads(text, config)
    if config.include_type_hints:
        assert_same(back, value)


@pytest.mark.parametrize("depth", [254, 255, 256, 257])
def test_plain_depth_limit_is_exact_at_256(depth: int, walker: str) -> None:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    config = get_api_config().replace(max_depth=256)
    if depth <= 256:
        assert datason.loads(datason.dumps(value, config), config) == value
    else:
        with pytest.raises(SecurityError):
            datason.dumps(value, config)
