"""Errors never leak secrets: a value planted in the offending field and its neighbours is never in the error.

Every reachable error path of encode and decode is driven with a distinctive secret inside the offending value
and in the fields around it: unsupported types, strict-mode refusals, non-finite floats, every limit, lone
surrogates, circular references, failing hooks, malformed JSON around a secret string, a malformed payload for
every registered tag, typed decode (``type=``) into msgspec types, dataclasses and pydantic models, and
``datason.json``. The secret must not appear in ``str(exc)``, ``repr(exc)``, ``exc.args``, the messages of the
exceptions chained to it as Python shows them (``__cause__``, and ``__context__`` unless suppressed by
``raise ... from None``), nor in ``traceback.format_exception(exc)``.

The secret is built at run time and never written in this file, so a traceback's source lines cannot contain it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import io
import json
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import numpy as np
import pandas as pd
import pydantic
import pydantic_core
import pytest
import torch

import datason
import datason.json as djson
from datason import DatasonError, DeserializationError, SecurityError, SerializationError
from datason.config import SerializationConfig, get_api_config, get_strict_config
from datason.registry import REGISTRY

SECRET = "-".join(("sk", "live", "SECRET", "91c2"))
SECRET_B64 = base64.b64encode(SECRET.encode()).decode()
# Any of these in an error means the secret (or a recognisable part of it, or its base64) got out.
FRAGMENTS = (SECRET, SECRET[:11], SECRET[-11:], SECRET_B64[:16])
TYPE_KEY = "__datason_type__"
VALUE_KEY = "__datason_value__"
HANDLER_MODULES = ("numpy", "pandas", "torch", "scipy", "polars", "arrow", "images", "sklearn", "pydantic", "stdlib")


def env(tag: Any, payload: Any) -> dict[str, Any]:
    return {TYPE_KEY: tag, VALUE_KEY: payload}


def shown_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions Python prints with it: ``__cause__``, and ``__context__`` unless suppressed."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.append(e.__cause__)
        if not e.__suppress_context__:
            todo.append(e.__context__)


def leaks(exc: BaseException) -> list[str]:
    """Where a fragment of the secret shows: message, repr, args, chained messages or the formatted traceback."""
    found = []
    for e in shown_chain(exc):
        for where, text in (("str", str(e)), ("repr", repr(e)), ("args", repr(e.args))):
            if any(f in text for f in FRAGMENTS):
                found.append(f"{type(e).__name__} {where}: {text[:300]}")
    formatted = "".join(traceback.format_exception(exc))
    if any(f in formatted for f in FRAGMENTS):
        found += ["format_exception: " + line for line in formatted.splitlines() if any(f in line for f in FRAGMENTS)]
    return found


def raised(call: Callable[[], Any]) -> BaseException | None:
    """The exception ``call`` raises, or None."""
    try:
        call()
    except Exception as exc:
        return exc
    return None


def assert_fails_cleanly(call: Callable[[], Any], kind: type[BaseException] = DatasonError) -> BaseException:
    """``call`` raises ``kind``, and the error shows nothing of the secret."""
    exc = raised(call)
    assert exc is not None, "expected an error"
    assert isinstance(exc, kind), f"{type(exc).__name__}: {exc}"
    assert not leaks(exc), leaks(exc)
    return exc


# --- values that carry the secret -------------------------------------------------------------------------------


class Opaque:
    """An unsupported type whose repr, str and attributes are the secret."""

    def __init__(self) -> None:
        self.token = SECRET

    def __repr__(self) -> str:
        return SECRET

    __str__ = __repr__


@dataclasses.dataclass
class Credentials:
    user: str
    token: str


class SecretStr(str):
    pass


class SecretDict(dict):
    pass


class Level(enum.Enum):
    TOP = SECRET


class Account(pydantic.BaseModel):
    name: str
    api_key: str


class Vault:
    """A registered class whose hooks fail on a secret payload, quoting it in their own messages."""

    def __init__(self, code: str) -> None:
        self.code = code


datason.register_type(
    Vault,
    tag="tests.secrets.Vault",
    encode=lambda v: int(v.code),  # ValueError: invalid literal for int() with base 10: '<the secret>'
    decode=lambda p: Vault(str(int(p))),
    plain=lambda v: int(v.code),
)


class Serialized(pydantic.BaseModel):
    token: str

    @pydantic.field_serializer("token")
    def _fail(self, value: str) -> str:
        raise ValueError(f"cannot write {value}")


def around(value: Any) -> dict[str, Any]:
    """``value`` among neighbours that hold the secret too."""
    return {"user": {"name": "ann", "token": SECRET}, "items": [SECRET, {"note": SECRET}, value], "after": SECRET}


# --- encode ---------------------------------------------------------------------------------------------------------

TYPED, PLAIN, STRICT = SerializationConfig(), get_api_config(), get_strict_config()
NAN_ERROR = get_api_config().replace(nan_handling="error")


def _cycle() -> Any:
    loop: list[Any] = [SECRET]
    loop.append({"token": SECRET, "again": loop})
    return loop


ENCODE_ERRORS: list[tuple[str, Callable[[], Any], SerializationConfig]] = [
    ("unsupported-typed", lambda: around(Opaque()), TYPED),
    ("unsupported-plain", lambda: around(Opaque()), PLAIN),
    ("unsupported-as-key", lambda: around({Opaque(): SECRET}), TYPED),
    ("unsupported-in-tuple-key", lambda: around({(SECRET, Opaque()): SECRET}), TYPED),
    ("unsupported-in-set", lambda: around({SECRET, Opaque()}), TYPED),
    ("unsupported-in-numpy-object-array", lambda: around(np.array([SECRET, Opaque()], dtype=object)), TYPED),
    ("unsupported-in-pandas-column", lambda: around(pd.DataFrame({"token": [SECRET, Opaque()]})), TYPED),
    ("unsupported-in-pandas-column-plain", lambda: around(pd.DataFrame({"token": [SECRET, Opaque()]})), PLAIN),
    ("unsupported-in-dataclass", lambda: around(Credentials(SECRET, Opaque())), TYPED),
    ("strict-dataclass", lambda: around(Credentials("ann", SECRET)), STRICT),
    ("strict-str-subclass", lambda: around(SecretStr(SECRET)), STRICT),
    ("strict-dict-subclass", lambda: around(SecretDict(token=SECRET)), STRICT),
    ("strict-enum", lambda: around(Level.TOP), STRICT),
    ("strict-pydantic", lambda: around(Account(name="ann", api_key=SECRET)), STRICT),
    ("nan-error", lambda: around(float("nan")), NAN_ERROR),
    ("nan-error-numpy", lambda: around(np.array([1.0, np.inf])), NAN_ERROR),
    ("nan-error-pandas", lambda: around(pd.Series([1.0, np.nan], name=SECRET)), NAN_ERROR),
    ("nan-error-torch", lambda: around(torch.tensor([float("nan")])), NAN_ERROR),
    ("string-too-long", lambda: around(SECRET * 3), SerializationConfig(max_string_length=40)),
    ("bytes-too-long", lambda: around(SECRET.encode() * 3), SerializationConfig(max_string_length=40)),
    ("container-too-large", lambda: around([SECRET] * 20), SerializationConfig(max_size=10)),
    ("too-deep", lambda: around([[[[[[SECRET]]]]]]), SerializationConfig(max_depth=6)),
    ("document-too-large", lambda: around([SECRET] * 50), SerializationConfig(max_bytes=500)),
    ("document-too-large-plain", lambda: around([SECRET] * 50), PLAIN.replace(max_bytes=500)),
    ("lone-surrogate-value", lambda: around(SECRET + "\ud800"), TYPED),
    ("lone-surrogate-value-plain", lambda: around(SECRET + "\ud800"), PLAIN),
    ("circular", _cycle, TYPED),
    ("circular-plain", _cycle, PLAIN),
    ("plain-key-collision", lambda: around({1: SECRET, "1": SECRET}), PLAIN),
    ("plain-key-without-string-form", lambda: around({(SECRET, 1): SECRET}), PLAIN),
    ("int-beyond-digit-limit", lambda: around(10**5000), TYPED),
    ("encode-hook-raises", lambda: around(Vault(SECRET)), TYPED),
    ("encode-hook-raises-at-root", lambda: Vault(SECRET), TYPED),
    ("plain-hook-raises", lambda: around(Vault(SECRET)), PLAIN),
    ("pydantic-serializer-raises", lambda: around(Serialized(token=SECRET)), TYPED),
]


@pytest.mark.parametrize(("name", "build", "config"), ENCODE_ERRORS, ids=[c[0] for c in ENCODE_ERRORS])
def test_encode_errors_do_not_show_the_secret(
    name: str, build: Callable[[], Any], config: SerializationConfig, walker: str
) -> None:
    value = build()
    for call in (datason.dumps, datason.dumpb, datason.serialize):
        exc = raised(lambda call=call: call(value, config))
        if call is datason.serialize and name.startswith("document-too-large"):
            assert exc is None  # serialize writes no document
            continue
        assert isinstance(exc, DatasonError), (call.__name__, exc)
        assert not leaks(exc), (call.__name__, leaks(exc))
    # indent and ensure_ascii take the tree-then-writer route
    assert_fails_cleanly(lambda: datason.dumps(value, config.replace(ensure_ascii=True), indent=2))


@pytest.mark.parametrize("config", [TYPED, PLAIN], ids=["typed", "plain"])
def test_offending_key_is_not_quoted_when_too_long(config: SerializationConfig, walker: str) -> None:
    """The key itself breaks the limit: the path must not spell it out (keys elsewhere on a path may show)."""
    value = {"user": {SECRET: 1}}
    assert_fails_cleanly(lambda: datason.dumps(value, config.replace(max_string_length=12)), SecurityError)


@pytest.mark.parametrize("config", [TYPED, PLAIN], ids=["typed", "plain"])
def test_offending_key_is_not_quoted_when_not_unicode(config: SerializationConfig, walker: str) -> None:
    value = {"user": {SECRET + "\ud800": 1}}
    assert_fails_cleanly(lambda: datason.dumps(value, config), SerializationError)


def test_keys_off_the_error_path_never_show(walker: str) -> None:
    value = {SECRET: 1, "list": [{SECRET: SECRET}, Opaque()], "z": {SECRET: [SECRET]}}
    for config in (TYPED, PLAIN):
        exc = assert_fails_cleanly(lambda config=config: datason.dumps(value, config), SerializationError)
        assert exc.path == "$.list[1]"


def test_datason_json_dumps_errors_do_not_show_the_secret() -> None:
    assert_fails_cleanly(lambda: djson.dumps(around(Opaque())), TypeError)
    assert_fails_cleanly(lambda: djson.dumps(around(float("nan")), allow_nan=False), ValueError)
    assert_fails_cleanly(lambda: djson.dumps(around({(SECRET, 1): SECRET})), TypeError)
    assert_fails_cleanly(lambda: djson.dumps(around(Vault(SECRET))), TypeError)
    assert_fails_cleanly(lambda: djson.dumps(_cycle()), ValueError)
    assert_fails_cleanly(lambda: djson.dump(around(Opaque()), io.StringIO()), TypeError)


# --- malformed JSON around a secret -----------------------------------------------------------------------------------

S = SECRET
MALFORMED_JSON: list[tuple[str, str | bytes]] = [
    ("unterminated-string", '{"token": "' + S),
    ("unterminated-after", '{"token": "' + S + '", "x": "' + S),
    ("control-character", '{"token": "' + S + '\x01"}'),
    ("invalid-escape", '{"token": "' + S + '\\q"}'),
    ("bad-unicode-escape", '{"token": "' + S + '\\u12G4"}'),
    ("lone-surrogate-escape", '{"token": "' + S + '\\ud800"}'),
    ("bare-word", '{"token": ' + S + "}"),
    ("bare-word-in-list", "[1, " + S + "]"),
    ("missing-comma", '{"token": "' + S + '" "x": 1}'),
    ("missing-colon", '{"' + S + '" 1}'),
    ("single-quotes", "{'token': '" + S + "'}"),
    ("nan-token", '{"token": "' + S + '", "x": NaN}'),
    ("number-out-of-range", '{"token": "' + S + '", "x": 1e999}'),
    ("leading-zero", '{"token": "' + S + '", "x": 0123}'),
    ("trailing-comma", '{"token": "' + S + '",}'),
    ("trailing-data", '{"token": 1} "' + S + '"'),
    ("trailing-bare", '{"token": 1} ' + S),
    ("key-not-string", '{"token": "' + S + '", 5: 1}'),
    ("unclosed", '[{"token": "' + S + '"}'),
    ("invalid-utf8", b'{"token": "' + S.encode() + b'\xff"}'),
    ("invalid-utf8-key", b'{"' + S.encode() + b'\xc3": 1}'),
    ("nul-byte", b'{"token": "' + S.encode() + b'"}\x00'),
    ("bom", "\ufeff" + '{"token": "' + S + '"}'),
]


@pytest.mark.parametrize(("name", "doc"), MALFORMED_JSON, ids=[c[0] for c in MALFORMED_JSON])
def test_malformed_json_around_a_secret(name: str, doc: str | bytes, walker: str) -> None:
    data = doc.encode() if isinstance(doc, str) else doc
    for config in (None, PLAIN, STRICT):
        assert_fails_cleanly(lambda config=config: datason.loads(doc, config), DeserializationError)
        assert_fails_cleanly(lambda config=config: datason.loads(data, config), DeserializationError)
    assert_fails_cleanly(lambda: datason.loads(bytearray(data)), DeserializationError)
    assert_fails_cleanly(lambda: datason.load(io.BytesIO(data)), DeserializationError)
    assert_fails_cleanly(lambda: datason.loads(data, type=dict[str, str]), DeserializationError)


# the json module reads NaN, 1e999 (as inf) and lone surrogate escapes
JSON_MODULE_ACCEPTS = {"nan-token", "number-out-of-range", "lone-surrogate-escape"}


@pytest.mark.parametrize(("name", "doc"), MALFORMED_JSON, ids=[c[0] for c in MALFORMED_JSON])
def test_datason_json_loads_errors_do_not_show_the_secret(name: str, doc: str | bytes) -> None:
    # datason.json.loads *is* json.loads: JSONDecodeError messages give the position only (the exception keeps
    # the document in its ``doc`` attribute, never in its message or args). Bytes that are not UTF-8 raise the
    # UnicodeDecodeError of ``bytes.decode``, whose args hold the whole document.
    exc = raised(lambda: djson.loads(doc))
    if name in JSON_MODULE_ACCEPTS:
        assert exc is None
        return
    assert isinstance(exc, ValueError)
    assert not leaks(exc), leaks(exc)


# --- limits on decode ---------------------------------------------------------------------------------------------

LIMITS: list[tuple[str, Any, SerializationConfig]] = [
    ("string-too-long", {"a": [SECRET * 3]}, SerializationConfig(max_string_length=40)),
    ("string-too-long-in-payload", {"a": env("bytes", SECRET_B64 * 3)}, SerializationConfig(max_string_length=40)),
    ("container-too-large", {"a": [SECRET] * 20}, SerializationConfig(max_size=10)),
    ("object-too-large", {"a": {f"k{i}": SECRET for i in range(20)}}, SerializationConfig(max_size=10)),
    ("too-deep", {"a": [[[[[[SECRET]]]]]]}, SerializationConfig(max_depth=6)),
    ("envelope-too-deep", {"a": [[[[env("tuple", [SECRET])]]]]}, SerializationConfig(max_depth=5)),
    ("document-too-large", {"a": [SECRET] * 50}, SerializationConfig(max_bytes=500)),
    (
        "numpy-too-large",
        {"a": env("numpy.ndarray", {"dtype": "<f8", "shape": [99], "base64": SECRET_B64})},
        SerializationConfig(max_size=10),
    ),
]


@pytest.mark.parametrize(("name", "tree", "config"), LIMITS, ids=[c[0] for c in LIMITS])
def test_decode_limits_do_not_show_the_secret(name: str, tree: Any, config: SerializationConfig, walker: str) -> None:
    doc = {"user": {"token": SECRET}, **tree, "after": SECRET}
    text = json.dumps(doc)
    for cfg in (config, config.replace(include_type_hints=False), config.replace(strict=True)):
        assert_fails_cleanly(lambda cfg=cfg: datason.loads(text, cfg), SecurityError)
        if name != "document-too-large":  # a parsed tree has no byte size
            assert_fails_cleanly(lambda cfg=cfg: datason.deserialize(json.loads(text), cfg), SecurityError)
            assert_fails_cleanly(lambda cfg=cfg: datason.auto_deserialize(json.loads(text), cfg), SecurityError)


def test_offending_key_is_not_quoted_on_decode(walker: str) -> None:
    """A key longer than max_string_length: the error must not spell the key out."""
    text = json.dumps({"user": {SECRET: 1}})
    config = SerializationConfig(max_string_length=12)
    assert_fails_cleanly(lambda: datason.loads(text, config), SecurityError)
    assert_fails_cleanly(lambda: datason.deserialize(json.loads(text), config), SecurityError)


# --- a malformed payload for every registered tag -------------------------------------------------------------------


def _payloads() -> list[Any]:
    """Wrong and nearly right payloads, each holding the secret where a handler might quote it."""
    index = {"kind": "range", "start": 0, "stop": 2, "step": 1, "name": SECRET}
    i8 = {"dtype": "<i8", "shape": [2], "data": [1, 2]}
    return [
        SECRET,
        SECRET_B64,
        [SECRET, SECRET],
        [[SECRET, 1], [SECRET]],
        {"k": SECRET},
        {"iso": SECRET, "tz": SECRET, "tzname": SECRET, "fold": SECRET},
        {"iso": "2024-01-01T00:00:00", "tz": SECRET},
        {"real": SECRET, "imag": SECRET},
        {"items": SECRET, "maxlen": SECRET},
        {"start": SECRET, "stop": 1, "step": 1},
        {"days": SECRET, "seconds": 0, "microseconds": 0},
        {"seconds": SECRET, "microseconds": 0, "name": SECRET},
        {"dtype": SECRET, "shape": [1], "data": [SECRET]},
        {"dtype": "<f8", "shape": [2], "data": [SECRET, 1.0]},
        {"dtype": "<U19", "shape": [2], "data": [SECRET]},
        {"dtype": "|S19", "shape": [1], "data": [SECRET]},
        {"dtype": "<M8[ms]", "shape": [1], "data": [SECRET]},
        {"dtype": "<f8", "shape": [1], "base64": SECRET_B64},
        {"dtype": {"names": [SECRET], "formats": [SECRET], "offsets": [0], "itemsize": 8}, "shape": [1], "data": [1]},
        {"value": SECRET, "unit": SECRET, "tz": SECRET, "tzlib": SECRET},
        {"value": 0, "unit": "ns", "tz": SECRET},
        {"value": 0, "unit": "ns", "tz": "UTC", "tzlib": SECRET},
        {"ordinal": SECRET, "freq": SECRET},
        {"ordinal": 1, "freq": SECRET},
        {"left": SECRET, "right": 1, "closed": SECRET},
        {"kind": "index", "name": SECRET, "data": {"dtype": SECRET, "data": [SECRET]}},
        {"kind": "index", "name": SECRET, "data": {"dtype": "datetime64", "unit": "ns", "tz": SECRET, "data": i8}},
        {"kind": "index", "name": None, "data": {"dtype": "int64", "data": i8}, "freq": SECRET},
        {"kind": SECRET, "start": 0, "stop": 1, "step": 1, "name": SECRET},
        {"dtype": "category", "ordered": SECRET, "categories": SECRET, "codes": SECRET},
        {"dtype": "object", "data": [SECRET, {TYPE_KEY: "uuid.UUID", VALUE_KEY: SECRET}]},
        {"dtype": "str", "storage": SECRET, "data": [SECRET]},
        {"dtype": "Int64", "data": i8, "mask": {"dtype": "|b1", "shape": [2], "data": [True, SECRET]}},
        {
            "index": index,
            "columns": {"kind": "index", "name": None, "data": {"dtype": "str", "storage": "python", "data": [SECRET]}},
            "data": [{"dtype": "str", "storage": "python", "data": [SECRET, SECRET, SECRET]}],
        },
        {"name": SECRET, "index": index, "data": {"dtype": "str", "storage": "python", "data": [SECRET]}},
        {"name": SECRET, "index": SECRET, "data": SECRET},
        {"dtype": SECRET, "array": {"dtype": "<f4", "shape": [1], "data": [SECRET]}, "requires_grad": SECRET},
        {"dtype": "float32", "array": {"dtype": "<f4", "shape": [1], "data": [SECRET]}, "requires_grad": False},
        {"layout": SECRET, "dtype": "float32", "size": [2], "indices": SECRET, "values": SECRET},
        {"shape": [2, 2], "data": SECRET, "indices": SECRET, "indptr": SECRET, "format": SECRET},
        {"format": "coo", "shape": [2, 2], "data": [SECRET], "row": [0], "col": [SECRET]},
        {"format": "arrow-stream", "data": SECRET},
        {"format": "arrow-stream", "data": SECRET_B64},
        {"mode": SECRET, "size": [1, 1], "format": "raw", "data": SECRET_B64},
        {"mode": "RGB", "size": [2, 2], "format": "png", "data": SECRET_B64},
        {"format": "skops", "class": SECRET, "data": SECRET_B64},
        {"format": SECRET, "class": SECRET, "data": SECRET},
        12345,
        None,
    ]


def _registered_tags() -> list[str]:
    for name in HANDLER_MODULES:
        importlib.import_module(f"datason.handlers.{name}")
    return sorted(t for t in REGISTRY._by_tag if not t.startswith("tests."))


TAGS = _registered_tags()


@pytest.mark.parametrize("tag", TAGS)
def test_malformed_payloads_of_every_tag_do_not_show_the_secret(tag: str) -> None:
    """Handlers are the same Python code under both walkers: this sweep runs once (the C parser reads the text,
    ``deserialize`` takes the Python tree); warnings raised meanwhile must not quote the secret either."""
    failures = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for payload in _payloads():
            text = json.dumps(around(env(tag, payload)))
            calls: list[Callable[[str], Any]] = [datason.loads, lambda t: datason.deserialize(json.loads(t), STRICT)]
            for call in calls:
                exc = raised(lambda call=call, text=text: call(text))
                if exc is None:
                    continue
                failures += 1
                assert isinstance(exc, DatasonError), (payload, exc)
                assert not leaks(exc), (payload, leaks(exc))
                assert exc.path.startswith("$.items[2]"), exc.path
    assert failures > 0  # the tag's decoder was reached and refused something
    assert not [str(w.message) for w in caught if any(f in str(w.message) for f in FRAGMENTS)]


def test_registered_decode_hook_failure_does_not_show_the_secret(walker: str) -> None:
    text = json.dumps(around(env("tests.secrets.Vault", SECRET)))
    exc = assert_fails_cleanly(lambda: datason.loads(text), DeserializationError)
    assert exc.path == "$.items[2]"


def test_unknown_tag_in_strict_mode_does_not_show_the_payload(walker: str) -> None:
    text = json.dumps(around(env("myapp.Token", {"value": SECRET, "copy": [SECRET]})))
    assert_fails_cleanly(lambda: datason.loads(text, STRICT), DeserializationError)
    assert_fails_cleanly(lambda: datason.deserialize(json.loads(text), STRICT), DeserializationError)


# --- typed decode (type=) ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Login:
    user: str
    attempts: int
    when: dt.datetime


class Color(enum.Enum):
    RED = "red"


class Shape(TypedDict):
    token: uuid.UUID
    price: decimal.Decimal


class Checked(pydantic.BaseModel):
    word: str

    @pydantic.field_validator("word")
    @classmethod
    def _no_secrets(cls, v: str) -> str:
        raise ValueError(f"refusing {v}")


class CustomError(pydantic.BaseModel):
    word: str

    @pydantic.field_validator("word")
    @classmethod
    def _custom(cls, v: str) -> str:
        raise pydantic_core.PydanticCustomError("my_error", "bad word {word}", {"word": v})


class Asserted(pydantic.BaseModel):
    word: str

    @pydantic.model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        assert False, f"refusing {data}"  # noqa: B011


class Scores(pydantic.BaseModel):
    scores: dict[str, int]


class Nested(pydantic.BaseModel):
    login: Login
    account: Account
    tags: list[Literal["a", "b"]]
    site: pydantic.HttpUrl


class Cat(pydantic.BaseModel):
    meow: int


class Dog(pydantic.BaseModel):
    bark: int


@dataclasses.dataclass
class Holder:
    account: Account
    code: Annotated[str, msgspec.Meta(max_length=5)]


TYPED_DECODE: list[tuple[str, Any, Any]] = [
    ("int", {"user": SECRET, "attempts": SECRET, "when": "2024-01-01T00:00:00"}, Login),
    ("datetime", {"user": "ann", "attempts": 1, "when": SECRET}, Login),
    ("missing-field", {"user": SECRET}, Login),
    ("list-item", [{"user": SECRET, "attempts": SECRET, "when": SECRET}], list[Login]),
    ("enum", SECRET, Color),
    ("enum-in-list", ["red", SECRET], list[Color]),
    ("literal", SECRET, Literal["a", "b"]),
    ("uuid-and-decimal", {"token": SECRET, "price": SECRET}, Shape),
    ("bytes", {"k": SECRET + "!"}, dict[str, bytes]),
    ("dict-value", {SECRET: SECRET}, dict[str, int]),
    ("dict-key", {SECRET: 1}, dict[int, int]),
    ("tuple", [SECRET, SECRET, SECRET], tuple[int, int]),
    ("max-length", {"account": {"name": "a", "api_key": "k"}, "code": SECRET}, Holder),
    ("pydantic-type", {"name": SECRET, "api_key": 5}, Account),
    ("pydantic-missing", {"name": SECRET}, Account),
    ("pydantic-validator", {"word": SECRET}, Checked),
    ("pydantic-custom-error", {"word": SECRET}, CustomError),
    ("pydantic-assert", {"word": SECRET}, Asserted),
    (
        "pydantic-literal-and-url",
        {
            "login": {"user": SECRET, "attempts": 1, "when": "2024-01-01T00:00:00"},
            "account": {"name": SECRET, "api_key": SECRET},
            "tags": [SECRET],
            "site": SECRET,
        },
        Nested,
    ),
    ("pydantic-in-dataclass", {"account": {"name": SECRET}, "code": "ok"}, Holder),
    ("pydantic-in-list", [{"word": SECRET}], list[Checked]),
    ("pydantic-union", {"meow": SECRET, "bark": SECRET}, Cat | Dog),
    ("pydantic-dict-value", {"scores": {"ann": SECRET}}, Scores),
]


@pytest.mark.parametrize(("name", "data", "target"), TYPED_DECODE, ids=[c[0] for c in TYPED_DECODE])
def test_typed_decode_errors_do_not_show_the_secret(name: str, data: Any, target: Any, walker: str) -> None:
    text = json.dumps(data)
    for config in (None, PLAIN, STRICT):
        assert_fails_cleanly(lambda config=config: datason.loads(text, config, type=target), DeserializationError)
    assert_fails_cleanly(lambda: datason.deserialize(json.loads(text), type=target), DeserializationError)
    assert_fails_cleanly(lambda: datason.auto_deserialize(json.loads(text), type=target), DeserializationError)


def test_typed_decode_does_not_quote_dict_keys_of_pydantic_fields(walker: str) -> None:
    """msgspec shows keys of ``dict[...]`` types as ``[...]`` (docs/wire-format.md, 12.2); pydantic paths must too."""
    text = json.dumps({"scores": {SECRET: "not a number"}})
    exc = assert_fails_cleanly(lambda: datason.loads(text, type=Scores), DeserializationError)
    assert exc.path.startswith("$.scores")
