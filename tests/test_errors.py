"""Errors: ``ValueError`` subclasses that name the type and the path, never the value; and decoding a tag
never imports or calls what the tag names."""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import json
import os
import pathlib
import subprocess
import sys
import traceback
from typing import Any

import pytest

import datason
from datason import DatasonError, DeserializationError, SecurityError, SerializationError
from datason.config import SerializationConfig, get_api_config, get_strict_config

SECRET = "s3cr3t-token-value"
TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"


def env(tag: Any, payload: Any) -> dict[str, Any]:
    return {TYPE_KEY: tag, VALUE_KEY: payload}


class Opaque:
    """An unsupported type whose repr is a secret: error messages must never show it."""

    def __repr__(self) -> str:
        return SECRET

    __str__ = __repr__


@dataclasses.dataclass
class Holder:
    field: Any


# --- the exception classes ---------------------------------------------------------------------------


def test_exception_hierarchy() -> None:
    for cls in (SerializationError, DeserializationError, SecurityError):
        assert issubclass(cls, DatasonError)
        assert issubclass(cls, ValueError)
    assert issubclass(DatasonError, ValueError)
    assert len({SerializationError, DeserializationError, SecurityError}) == 3
    assert not issubclass(SerializationError, DeserializationError)
    assert not issubclass(DeserializationError, SerializationError)
    assert datason.errors.DatasonError is DatasonError


def test_error_attributes_and_pickling() -> None:
    import pickle

    exc = DeserializationError("bad payload", path="$.a[1]", type_name="uuid.UUID")
    assert exc.path == "$.a[1]"
    assert exc.type_name == "uuid.UUID"
    assert str(exc) == "bad payload (uuid.UUID) at $.a[1]"
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is DeserializationError
    assert (back.path, back.type_name, str(back)) == (exc.path, exc.type_name, str(exc))


def test_readme_example(walker: str) -> None:
    with pytest.raises(SerializationError) as info:
        datason.dumps({"features": [1, 2, {"ts": object()}]})
    exc = info.value
    assert isinstance(exc, ValueError)
    assert exc.path == "$.features[2].ts"
    assert exc.type_name == "object"
    assert "object" in str(exc)
    assert "$.features[2].ts" in str(exc)


# --- unsupported values: type and path named, value never shown ---------------------------------------

UNSUPPORTED: list[tuple[str, Any, str]] = [
    ("root", Opaque(), "$"),
    ("list", [1, Opaque()], "$[1]"),
    ("nested-lists", [[[[Opaque()]]]], "$[0][0][0][0]"),
    ("dict-value", {"a": {"b": [0, Opaque()]}}, "$.a.b[1]"),
    ("key-with-space", {"key with space": Opaque()}, '$["key with space"]'),
    ("key-empty", {"": Opaque()}, '$[""]'),
    ("key-digit-first", {"9lives": [Opaque()]}, '$["9lives"][0]'),
    ("key-with-quote", {'say "hi"': Opaque()}, '$["say \\"hi\\""]'),
    ("key-unicode-identifier", {"café": Opaque()}, "$.café"),
    ("tuple-payload", {"t": (1, 2, Opaque())}, "$.t[2]"),
    ("tuple-in-list", [0, (0, (0, Opaque()))], "$[1][1][1]"),
    ("set-item", {"s": {Opaque()}}, "$.s[0]"),
    ("frozenset-item", {"f": frozenset([Opaque()])}, "$.f[0]"),
    ("dict-key", {"d": {Opaque(): 1}}, "$.d[<Opaque>]"),
    ("dict-tuple-key", {"d": {(1, Opaque()): 1}}, "$.d[<tuple>][1]"),
    ("int-key-value", {"d": {7: Opaque()}}, "$.d[7]"),
    ("mixed", {"a": [{"b": {"c": (0, [Opaque()])}}]}, "$.a[0].b.c[1][0]"),
    ("dataclass-field", {"h": Holder(Opaque())}, "$.h.field"),
]


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize(("name", "value", "path"), UNSUPPORTED, ids=[c[0] for c in UNSUPPORTED])
def test_unsupported_type_names_type_and_path(name: str, value: Any, path: str, mode: str, walker: str) -> None:
    config = None if mode == "typed" else get_api_config()
    for call in (datason.dumps, datason.serialize, datason.dumpb):
        with pytest.raises(SerializationError) as info:
            call(value, config)
        exc = info.value
        assert exc.path == path, call.__name__
        assert exc.type_name is not None and exc.type_name.endswith("Opaque")
        assert "Opaque" in str(exc)
        assert path in str(exc)
        assert SECRET not in str(exc)
        assert SECRET not in repr(exc)


def test_object_instance_is_named_object(walker: str) -> None:
    with pytest.raises(SerializationError) as info:
        datason.serialize({"x": [object()]})
    assert info.value.path == "$.x[0]"
    assert "(object)" in str(info.value)


# --- strict config: unregistered classes -----------------------------------------------------------------


@dataclasses.dataclass
class Unregistered:
    x: int


class MyStr(str):
    pass


class MyInt(int):
    pass


class MyDict(dict):  # type: ignore[type-arg]
    pass


STRICT_REFUSED = [
    ("dataclass", Unregistered(1), "Unregistered"),
    ("dict-subclass", MyDict(a=1), "MyDict"),
    ("str-subclass", MyStr("x"), "MyStr"),
    ("int-subclass", MyInt(3), "MyInt"),
    ("class-instance", Opaque(), "Opaque"),
]


@pytest.mark.parametrize(("name", "value", "type_part"), STRICT_REFUSED, ids=[c[0] for c in STRICT_REFUSED])
def test_strict_config_refuses_unregistered_classes(name: str, value: Any, type_part: str, walker: str) -> None:
    with pytest.raises(SerializationError) as info:
        datason.dumps({"items": [0, {"v": value}]}, get_strict_config())
    assert info.value.path == "$.items[1].v"
    assert type_part in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("value", "natural"),
    [(Unregistered(1), {"x": 1}), (MyDict(a=1), {"a": 1}), (MyStr("x"), "x"), (MyInt(3), 3)],
    ids=["dataclass", "dict-subclass", "str-subclass", "int-subclass"],
)
def test_default_config_writes_natural_form_of_unregistered(value: Any, natural: Any, walker: str) -> None:
    # What strict mode refuses, the default config writes in its natural JSON form.
    assert json.loads(datason.dumps({"v": value})) == {"v": natural}


# --- non-finite floats with nan_handling="error" -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ([float("nan")], "$[0]"),
        ({"a": [1.0, float("inf")]}, "$.a[1]"),
        ({"a": {"b c": float("-inf")}}, '$.a["b c"]'),
        ({"c": complex(float("nan"), 0.0)}, "$.c.real"),
        ({"t": (1.0, float("nan"))}, "$.t[1]"),
    ],
)
def test_nan_with_nan_handling_error(value: Any, path: str, walker: str) -> None:
    config = get_api_config().replace(nan_handling="error")
    with pytest.raises(SerializationError) as info:
        datason.dumps(value, config)
    assert info.value.path == path
    assert "float" in str(info.value)


# --- circular references ----------------------------------------------------------------------------------


def _self_list() -> Any:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


def _dict_through_list() -> Any:
    d: dict[str, Any] = {"a": 1}
    d["items"] = [0, d]
    return d


def _list_through_tuple() -> Any:
    loop: list[Any] = []
    loop.append((loop,))
    return loop


def _dataclass_through_list() -> Any:
    holder = Holder(None)
    holder.field = [holder]
    return holder


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("build", [_self_list, _dict_through_list], ids=["list-in-itself", "dict-through-list"])
def test_circular_reference(build: Any, mode: str, walker: str) -> None:
    config = None if mode == "typed" else get_api_config()
    value = build()
    for call in (datason.dumps, datason.serialize):
        with pytest.raises(SerializationError) as info:
            call(value, config)
        assert "circular" in str(info.value).lower()
        assert info.value.path.startswith("$")


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize(
    "build", [_list_through_tuple, _dataclass_through_list], ids=["list-through-tuple", "dataclass-through-list"]
)
def test_circular_reference_through_other_containers(
    build: Any, mode: str, walker: str, request: pytest.FixtureRequest
) -> None:
    config = None if mode == "typed" else get_api_config()
    with pytest.raises(SerializationError) as info:
        datason.dumps(build(), config)
    assert "circular" in str(info.value).lower()


def test_shared_references_are_not_circular(walker: str) -> None:
    shared = [1, {"k": (2, 3)}]
    value = {"a": shared, "b": [shared, shared], "c": (shared,)}
    assert datason.loads(datason.dumps(value)) == value
    assert json.loads(datason.dumps(value, get_api_config()))["b"] == [[1, {"k": [2, 3]}]] * 2


def test_deep_but_acyclic_is_a_limit_not_circular(walker: str) -> None:
    value: Any = 0
    for _ in range(10):
        value = [value]
    with pytest.raises(SecurityError) as info:
        datason.dumps(value, SerializationConfig(max_depth=5))
    assert "circular" not in str(info.value).lower()


# --- strings that are not valid Unicode ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["typed", "plain"])
@pytest.mark.parametrize("options", [{}, {"indent": 2}, {"sort_keys": True}], ids=["compact", "indent", "sorted"])
@pytest.mark.parametrize("value", ["\ud800", {"a": ["x", "\udc00"]}, {"\ud800": 1}, {1: "\ud800"}, {"k": ("\ud800",)}])
def test_lone_surrogates_are_refused_on_dumps(value: Any, options: dict[str, Any], mode: str, walker: str) -> None:
    config = None if mode == "typed" else get_api_config()
    with pytest.raises(SerializationError) as info:
        datason.dumps(value, config, **options)
    assert "surrogate" in str(info.value)


def test_lone_surrogate_error_names_the_path(walker: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(SerializationError) as info:
        datason.dumps({"a": ["x", "\udc00"]})
    assert info.value.path == "$.a[1]"


@pytest.mark.parametrize("mode", ["typed", "plain"])
def test_ensure_ascii_does_not_write_lone_surrogate_escapes(
    mode: str, walker: str, request: pytest.FixtureRequest
) -> None:
    config = SerializationConfig(include_type_hints=mode == "typed", ensure_ascii=True)
    try:
        text = datason.dumps({"a": "\ud800"}, config)
    except SerializationError:
        return
    datason.loads(text, config)


# --- invalid JSON -------------------------------------------------------------------------------------------

INVALID_JSON: list[str | bytes] = [
    "",
    "   ",
    "[1,2",
    '{"a":',
    "NaN",
    "[NaN]",
    "Infinity",
    "[-Infinity]",
    '{"a": NaN}',
    "[1,]",
    '{"a":1,}',
    "[,1]",
    '{"a" 1}',
    "{1: 2}",
    "'single'",
    "[1] x",
    "[1]]",
    "01",
    "1.",
    ".5",
    "+1",
    "0x10",
    '"tab\tinside"',
    '"\\x41"',
    '"\\u12G4"',
    '"unterminated',
    "tru",
    "nul",
    "\ufeff[1]",
    "[1e400]",
    "-1e400",
    b"\xff\xfe[1]",
    b"[1, \x00]",
]


@pytest.mark.parametrize("doc", INVALID_JSON, ids=[repr(d)[:30] for d in INVALID_JSON])
def test_invalid_json_raises_deserialization_error(doc: str | bytes, walker: str) -> None:
    for config in (None, get_api_config(), get_strict_config()):
        with pytest.raises(DeserializationError) as info:
            datason.loads(doc, config)
        assert info.value.path.startswith("$")
    if isinstance(doc, str):
        with pytest.raises(DeserializationError):
            datason.loads(doc.encode("utf-8"))


INVALID_UTF8 = [b'"\xff"', b'["\xc3\x28"]', b'{"\xff": 1}', b'"a\x80"', b'"\xed\xa0\x80"', b'"\xc3"']


@pytest.mark.parametrize("doc", INVALID_UTF8, ids=[repr(d) for d in INVALID_UTF8])
def test_invalid_utf8_bytes(doc: bytes, walker: str) -> None:
    for data in (doc, bytearray(doc), memoryview(doc)):
        with pytest.raises(DeserializationError):
            datason.loads(data)


@pytest.mark.parametrize("doc", ['"\\ud800"', '["\\udc00"]', '"\\ud800\\u0041"', '{"\\ud800": 1}', '"\ud800"'])
def test_lone_surrogates_are_refused(doc: str, walker: str) -> None:
    with pytest.raises(DeserializationError):
        datason.loads(doc)


def test_valid_surrogate_pair_escape_is_accepted(walker: str) -> None:
    assert datason.loads('"\\ud83d\\ude00"') == "\U0001f600"


# --- malformed payloads of every builtin tag -----------------------------------------------------------------

S = SECRET
MALFORMED: list[tuple[str, Any]] = [
    ("uuid.UUID", 5),
    ("uuid.UUID", S),
    ("uuid.UUID", [S]),
    ("uuid.UUID", {"hex": S}),
    ("bytes", S + "!"),
    ("bytes", "abc"),
    ("bytes", "é" + S),
    ("bytes", 5),
    ("bytearray", S + "!"),
    ("bytearray", [1, 2]),
    ("datetime", S),
    ("datetime", "2024-13-01T00:00:00"),
    ("datetime", 5),
    ("datetime", {"iso": S}),
    ("datetime", {}),
    ("datetime", {"iso": "2024-01-01T00:00:00", "tz": S}),
    ("datetime", {"iso": "2024-01-01T00:00:00", "tz": 5}),
    ("datetime", {"iso": "2024-01-01T00:00:00", "tzname": S}),
    ("datetime", {"iso": "2024-01-01T00:00:00+01:00", "tzname": 5}),
    ("datetime", {"iso": "2024-01-01T00:00:00", "fold": S}),
    ("datetime", {"iso": "2024-01-01T00:00:00", "fold": 2}),
    ("date", S),
    ("date", "2024-02-30"),
    ("date", 20240101),
    ("time", S),
    ("time", "25:00"),
    ("time", 5),
    ("time", {"iso": S}),
    ("time", {"iso": "01:02:03", "tz": S}),
    ("timedelta", {"days": S}),
    ("timedelta", {"days": "1"}),
    ("timedelta", {"days": 1.5}),
    ("timedelta", {"days": 10**12}),
    ("timedelta", [1, 2, 3]),
    ("timedelta", S),
    ("datetime.timezone", {"seconds": S}),
    ("datetime.timezone", {"seconds": 10**6}),
    ("datetime.timezone", {"seconds": 0, "name": 5}),
    ("datetime.timezone", S),
    ("zoneinfo.ZoneInfo", S),
    ("zoneinfo.ZoneInfo", "Mars/Olympus_Mons"),
    ("zoneinfo.ZoneInfo", "../../../etc/passwd"),
    ("zoneinfo.ZoneInfo", "/etc/localtime"),
    ("zoneinfo.ZoneInfo", ""),
    ("zoneinfo.ZoneInfo", 5),
    ("decimal.Decimal", S),
    ("decimal.Decimal", "1.5.5"),
    ("decimal.Decimal", 1.5),
    ("decimal.Decimal", ["1"]),
    ("fractions.Fraction", "a/b"),
    ("fractions.Fraction", S),
    ("fractions.Fraction", "1.5/2"),
    ("fractions.Fraction", 5),
    ("fractions.Fraction", [1, 2]),
    ("range", {"start": "1", "stop": 2, "step": 1}),
    ("range", {"start": S, "stop": 2, "step": 1}),
    ("range", {"start": 1.0, "stop": 2, "step": 1}),
    ("range", {"start": True, "stop": 2, "step": 1}),
    ("range", {"start": 0, "stop": 2}),
    ("range", {"start": 0, "stop": 2, "step": 0}),
    ("range", [0, 2, 1]),
    ("complex", {"real": S, "imag": 1.0}),
    ("complex", {"real": 1.0}),
    ("complex", [1.0, 2.0]),
    ("complex", S),
    ("float", "1.5"),
    ("float", "NaN"),
    ("float", S),
    ("float", 1.5),
    ("int", "12a"),
    ("int", " 12"),
    ("int", "1_000"),
    ("int", "\u0661\u0662"),
    ("int", S),
    ("int", 12),
    ("int", "9" * 5000),
    ("dict", [[1]]),
    ("dict", [[1, 2, 3]]),
    ("dict", [5]),
    ("dict", [[S]]),
    ("dict", [[[S], 1]]),
    ("dict", [[{"k": S}, 1]]),
    ("dict", {"a": S}),
    ("dict", S),
    ("tuple", S),
    ("tuple", {"a": S}),
    ("set", S),
    ("set", [[S]]),
    ("set", [{"a": S}]),
    ("frozenset", [[S]]),
    ("frozenset", 5),
    ("pathlib.Path", 5),
    ("pathlib.Path", [S]),
    ("pathlib.PurePosixPath", {"p": S}),
    ("pathlib.PureWindowsPath", [S]),
]


def _malformed_id(case: tuple[str, Any]) -> str:
    return f"{case[0]}-{json.dumps(case[1])[:24]}"


@pytest.mark.parametrize(("tag", "payload"), MALFORMED, ids=[_malformed_id(c) for c in MALFORMED])
def test_malformed_payload(tag: str, payload: Any, walker: str) -> None:
    doc = json.dumps({"outer": [1, env(tag, payload)]})
    for config in (None, get_strict_config()):
        with pytest.raises(DeserializationError) as info:
            datason.loads(doc, config)
        exc = info.value
        assert exc.path == "$.outer[1]"
        assert exc.type_name == tag
        assert tag in str(exc)
        assert SECRET not in str(exc)
        assert SECRET not in repr(exc.args)
        # safe to log: the formatted traceback (chained exceptions included) does not quote it either
        assert SECRET not in "".join(traceback.format_exception(exc))
    # deserialize() of the parsed tree reports the same.
    with pytest.raises(DeserializationError) as info:
        datason.deserialize(json.loads(doc))
    assert info.value.path == "$.outer[1]"
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("payload", ["1/0", "-7/0", "0/0"])
def test_fraction_with_zero_denominator(payload: str, walker: str, request: pytest.FixtureRequest) -> None:
    with pytest.raises(DeserializationError) as info:
        datason.loads(json.dumps([env("fractions.Fraction", payload)]))
    assert info.value.path == "$[0]"


def test_malformed_payload_inside_payload_has_inner_path(walker: str) -> None:
    doc = json.dumps({"a": env("tuple", [1, env("uuid.UUID", 5)])})
    with pytest.raises(DeserializationError) as info:
        datason.loads(doc)
    assert info.value.path == "$.a[1]"
    assert info.value.type_name == "uuid.UUID"


def test_dict_tag_with_list_key(walker: str) -> None:
    doc = json.dumps(env("dict", [["ok", 1], [[1, 2], S]]))
    with pytest.raises(DeserializationError) as info:
        datason.loads(doc)
    assert info.value.path == "$"
    assert "list" in str(info.value)
    assert SECRET not in str(info.value)


# --- unknown tags ---------------------------------------------------------------------------------------------------


def test_unknown_tag_default_keeps_raw_dict_with_decoded_inner_values(walker: str) -> None:
    inner = {
        "id": env("uuid.UUID", "12345678-1234-5678-1234-567812345678"),
        "shape": [env("tuple", [2, 3])],
    }
    doc = json.dumps({"thing": env("myapp.Thing", inner)})
    import uuid

    expected = {
        "thing": {
            TYPE_KEY: "myapp.Thing",
            VALUE_KEY: {"id": uuid.UUID("12345678-1234-5678-1234-567812345678"), "shape": [(2, 3)]},
        }
    }
    got = datason.loads(doc)
    assert got == expected
    assert type(got["thing"][VALUE_KEY]["shape"][0]) is tuple
    assert datason.deserialize(json.loads(doc)) == expected
    # and the raw dict writes back to the same document
    assert datason.loads(datason.dumps(got)) == expected


@pytest.mark.parametrize("tag", ["myapp.Thing", "", "x" * 500, 5, None, ["uuid.UUID"], {"a": 1}, True])
def test_unknown_tag_strict_raises(tag: Any, walker: str) -> None:
    doc = json.dumps({"a": [env(tag, {"k": SECRET})]})
    with pytest.raises(DeserializationError) as info:
        datason.loads(doc, get_strict_config())
    assert info.value.path == "$.a[0]"
    assert SECRET not in str(info.value)
    assert len(str(info.value)) < 400  # a long tag is not echoed in full
    # default config: a raw dict, payload kept
    assert datason.loads(doc) == {"a": [env(tag, {"k": SECRET})]}


def test_marker_keys_with_extra_keys_are_a_plain_dict(walker: str) -> None:
    doc = {TYPE_KEY: "uuid.UUID", VALUE_KEY: "12345678-1234-5678-1234-567812345678", "extra": 1}
    for config in (None, get_strict_config()):
        assert datason.loads(json.dumps(doc), config) == doc
    assert datason.loads(json.dumps({TYPE_KEY: "uuid.UUID"})) == {TYPE_KEY: "uuid.UUID"}


# --- tags naming callables: nothing is imported or called ------------------------------------------------------------


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Replace dangerous callables with recorders; imports are recorded too (datason's own handlers allowed)."""
    calls: list[tuple[str, Any]] = []

    def recorder(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            calls.append((name, args))
            raise AssertionError(f"{name} was called")

        return record

    monkeypatch.setattr(os, "system", recorder("os.system"))
    monkeypatch.setattr(os, "popen", recorder("os.popen"))
    monkeypatch.setattr(os, "remove", recorder("os.remove"))
    monkeypatch.setattr(subprocess, "Popen", recorder("subprocess.Popen"))
    monkeypatch.setattr(subprocess, "run", recorder("subprocess.run"))
    monkeypatch.setattr(subprocess, "check_output", recorder("subprocess.check_output"))
    monkeypatch.setattr(builtins, "eval", recorder("builtins.eval"))
    monkeypatch.setattr(builtins, "exec", recorder("builtins.exec"))
    real_import_module = importlib.import_module

    def import_module(name: str, package: str | None = None) -> Any:
        if not name.startswith("datason."):
            calls.append(("importlib.import_module", (name,)))
        return real_import_module(name, package)

    monkeypatch.setattr(importlib, "import_module", import_module)
    return calls


CALLABLE_TAGS = [
    "os.system",
    "os.popen",
    "os.remove",
    "posix.system",
    "subprocess.Popen",
    "subprocess.run",
    "subprocess.check_output",
    "builtins.eval",
    "builtins.exec",
    "builtins.__import__",
    "builtins.open",
    "io.open",
    "importlib.import_module",
    "pickle.loads",
    "shutil.rmtree",
    "pathlib.Path.touch",
    "pathlib.Path.write_text",
    "uuid.UUID.__init__",
    "datetime.datetime.fromtimestamp",
    "evil_datason_probe.Boom",
    "evil_datason_probe",
]


@pytest.fixture
def evil_module(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """An importable module that leaves a file behind when imported or called."""
    sentinel = tmp_path / "imported.flag"
    (tmp_path / "evil_datason_probe.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(sentinel)!r}).write_text('imported')\n"
        "class Boom:\n"
        "    def __init__(self, *a, **k):\n"
        f"        pathlib.Path({str(sentinel)!r}).write_text('called')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "evil_datason_probe", raising=False)
    return sentinel


def _payloads(target: pathlib.Path) -> list[Any]:
    cmd = f"touch {target}"
    return [
        cmd,
        ["touch", str(target)],
        {"args": ["touch", str(target)], "shell": False},
        {"args": [cmd], "kwargs": {"shell": True}},
        f"__import__('os').system({cmd!r})",
        f"open({str(target)!r}, 'w').write('x')",
        str(target),
    ]


@pytest.mark.parametrize("tag", CALLABLE_TAGS)
def test_callable_tags_are_never_called(
    tag: str,
    walker: str,
    tmp_path: pathlib.Path,
    spies: list[tuple[str, Any]],
    evil_module: pathlib.Path,
) -> None:
    target = tmp_path / "pwned"
    for payload in _payloads(target):
        doc = json.dumps({"job": env(tag, payload)})
        assert datason.loads(doc) == {"job": env(tag, payload)}  # unknown: a raw dict, payload untouched
        assert datason.deserialize(json.loads(doc)) == {"job": env(tag, payload)}
        assert datason.auto_deserialize(json.loads(doc)) == {"job": env(tag, payload)}
        with pytest.raises(DeserializationError):
            datason.loads(doc, get_strict_config())
    assert not target.exists()
    assert not evil_module.exists()
    assert "evil_datason_probe" not in sys.modules
    assert spies == []


LIBRARY_FUNCTION_TAGS = [
    "numpy.fromfile",
    "numpy.load",
    "numpy.save",
    "numpy.loadtxt",
    "numpy.core.multiarray._reconstruct",
    "numpy.ctypeslib.load_library",
    "pandas.read_pickle",
    "pandas.read_csv",
    "pandas.eval",
]
LIBRARY_TYPE_TAGS = ["numpy.ndarray", "numpy.int32", "numpy.float32", "pandas.DataFrame", "pandas.Series"]
SPIED = (
    ("numpy", ("fromfile", "load", "save", "loadtxt")),
    ("numpy.ctypeslib", ("load_library",)),
    ("pandas", ("read_pickle", "read_csv", "eval")),
)


@pytest.mark.parametrize("tag", LIBRARY_FUNCTION_TAGS + LIBRARY_TYPE_TAGS)
def test_library_tags_never_call_the_named_function(
    tag: str, walker: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy./pandas. tags belong to datason's own handlers. Whatever those do, a tag naming a library function
    never calls it (an error or a raw dict); a tag naming a library type gives a value or a datason error."""
    calls: list[str] = []
    for module_name, names in SPIED:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for attr in names:
            monkeypatch.setattr(module, attr, lambda *a, _n=f"{module_name}.{attr}", **k: calls.append(_n))
    secret_file = tmp_path / "secret.bin"
    secret_file.write_bytes(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    target = tmp_path / "written.npy"
    payloads = [str(secret_file), [str(target), [1, 2, 3]], {"file": str(secret_file)}, [1, 2, 3], "os.system('x')"]
    for payload in payloads:
        doc = json.dumps({"x": env(tag, payload)})
        for config in (None, get_strict_config()):
            try:
                result = datason.loads(doc, config)
            except DatasonError:
                continue
            if tag in LIBRARY_FUNCTION_TAGS:
                assert result == {"x": env(tag, payload)}
    assert calls == []
    assert not target.exists()


def test_registered_path_tag_touches_no_file(walker: str, tmp_path: pathlib.Path) -> None:
    target = tmp_path / "never-created.txt"
    value = datason.loads(json.dumps(env("pathlib.Path", str(target))))
    assert value == target
    assert not target.exists()
