"""User classes: pydantic models, dataclasses, attrs, NamedTuple, TypedDict, Enum; natural JSON out, typed decode in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import subprocess
import sys
import uuid
from typing import Any, NamedTuple, Optional, TypedDict, Union

import attrs
import numpy as np
import pydantic
import pytest

import datason
from datason.config import get_api_config, get_strict_config
from datason.errors import DeserializationError, SerializationError
from tests.conftest import strict_json


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Prediction(pydantic.BaseModel):
    label: str
    score: float = pydantic.Field(ge=0, le=1)
    at: Optional[dt.datetime] = None  # noqa: UP045 - the spelling under test


class Aliased(pydantic.BaseModel):
    user_id: int = pydantic.Field(alias="userId")
    tags: list[str] = []


class Checked(pydantic.BaseModel):
    secret_word: str

    @pydantic.field_validator("secret_word")
    @classmethod
    def no_swordfish(cls, v: str) -> str:
        if v == "swordfish":
            raise ValueError(f"bad word {v}")
        return v


@dataclasses.dataclass
class Batch:
    name: str
    items: list[Prediction]


@attrs.define
class Run:
    id: int
    color: Color
    best: Prediction | None = None


class Point(NamedTuple):
    x: int
    y: int


class Row(TypedDict):
    point: Point
    color: Color


@dataclasses.dataclass
class Plain:
    a: int
    when: dt.date


AT = dt.datetime(2024, 5, 6, 7, 8, 9)
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")

# value, plain JSON expected
PLAIN_CASES: list[tuple[str, Any, Any]] = [
    ("pydantic", Prediction(label="cat", score=0.5, at=AT), {"label": "cat", "score": 0.5, "at": AT.isoformat()}),
    ("alias", Aliased(userId=3, tags=["a"]), {"userId": 3, "tags": ["a"]}),
    (
        "dataclass-with-model",
        Batch("b", [Prediction(label="x", score=1.0)]),
        {"name": "b", "items": [{"label": "x", "score": 1.0, "at": None}]},
    ),
    ("attrs", Run(1, Color.GREEN), {"id": 1, "color": "green", "best": None}),
    ("namedtuple", Point(1, 2), [1, 2]),
    ("typeddict", Row(point=Point(0, 1), color=Color.RED), {"point": [0, 1], "color": "red"}),
    ("enum", Color.RED, "red"),
    ("dataclass", Plain(1, dt.date(2024, 1, 2)), {"a": 1, "when": "2024-01-02"}),
]


@pytest.mark.parametrize(("value", "want"), [c[1:] for c in PLAIN_CASES], ids=[c[0] for c in PLAIN_CASES])
def test_plain_output_is_natural_json(value: Any, want: Any, walker: str) -> None:
    assert strict_json(datason.dumps(value, get_api_config())) == want
    assert datason.serialize(value, get_api_config()) == want


def test_pydantic_nested_values_follow_datason(walker: str) -> None:
    class Rich(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        id: uuid.UUID
        at: dt.datetime
        weights: np.ndarray
        url: pydantic.AnyUrl
        password: pydantic.SecretStr

    rich = Rich(id=UID, at=AT, weights=np.array([0.5, 1.5]), url="https://x.org/a", password="hunter2")
    plain = strict_json(datason.dumps(rich, get_api_config()))
    assert plain == {
        "id": str(UID),
        "at": AT.isoformat(),
        "weights": [0.5, 1.5],
        "url": "https://x.org/a",
        "password": "**********",
    }
    typed = datason.loads(datason.dumps(rich))  # typed mode: no tag for the model, tags inside
    assert typed["id"] == UID and typed["at"] == AT and typed["weights"].tolist() == [0.5, 1.5]
    assert "hunter2" not in datason.dumps(rich)
    back = datason.loads(datason.dumps(rich), type=Rich)
    assert back.id == UID and back.at == AT and back.weights.tolist() == [0.5, 1.5]


# type, JSON text, expected value
TYPED_CASES: list[tuple[str, Any, str, Any]] = [
    (
        "list-of-models",
        list[Prediction],
        '[{"label": "a", "score": 0.1}, {"label": "b", "score": 1, "at": "2024-05-06T07:08:09"}]',
        [Prediction(label="a", score=0.1), Prediction(label="b", score=1.0, at=AT)],
    ),
    ("optional-model", Optional[Prediction], "null", None),  # noqa: UP045
    (
        "dict-of-models",
        dict[str, Prediction],
        '{"k": {"label": "a", "score": 0}}',
        {"k": Prediction(label="a", score=0)},
    ),
    ("alias", Aliased, '{"userId": 5}', Aliased(userId=5)),
    (
        "dataclass-with-model-field",
        Batch,
        '{"name": "n", "items": [{"label": "a", "score": 0.5}]}',
        Batch("n", [Prediction(label="a", score=0.5)]),
    ),
    (
        "attrs-with-model",
        Run,
        '{"id": 1, "color": "red", "best": {"label": "z", "score": 0.2}}',
        Run(1, Color.RED, Prediction(label="z", score=0.2)),
    ),
    ("namedtuple", list[Point], "[[1, 2], [3, 4]]", [Point(1, 2), Point(3, 4)]),
    ("typeddict", Row, '{"point": [1, 2], "color": "green"}', {"point": Point(1, 2), "color": Color.GREEN}),
    ("enum", list[Color], '["red", "green"]', [Color.RED, Color.GREEN]),
    (
        "union-of-models",
        list[Union[Prediction, Aliased]],  # noqa: UP007
        '[{"userId": 1}, {"label": "a", "score": 0.5}]',
        [Aliased(userId=1), Prediction(label="a", score=0.5)],
    ),
    ("dataclass", Plain, '{"a": 1, "when": "2024-01-02"}', Plain(1, dt.date(2024, 1, 2))),
]


@pytest.mark.parametrize(("target", "text", "want"), [c[1:] for c in TYPED_CASES], ids=[c[0] for c in TYPED_CASES])
def test_typed_decode(target: Any, text: str, want: Any, walker: str) -> None:
    assert datason.loads(text, type=target) == want
    assert datason.deserialize(json.loads(text), type=target) == want


@pytest.mark.parametrize(("value", "target"), [(c[3], c[1]) for c in TYPED_CASES], ids=[c[0] for c in TYPED_CASES])
def test_round_trip_through_both_modes(value: Any, target: Any, walker: str) -> None:
    assert datason.loads(datason.dumps(value, get_api_config()), type=target) == value
    assert datason.loads(datason.dumps(value), type=target) == value


# type, JSON text, expected path, a value that must not appear in the message
ERROR_CASES: list[tuple[str, Any, str, str, str]] = [
    (
        "score-range",
        list[Prediction],
        '[{"label": "a", "score": 0.5}, {"label": "b", "score": 7.25}]',
        "$[1].score",
        "7.25",
    ),
    ("missing", list[Prediction], '[{"label": "a", "score": 0.5}, {"label": "b"}]', "$[1].score", "xx"),
    (
        "wrong-type",
        dict[str, Prediction],
        '{"k": {"label": "a", "score": "high"}}',
        "$[...].score",
        "high",
    ),  # msgspec: no key
    ("validator", Checked, '{"secret_word": "swordfish"}', "$.secret_word", "swordfish"),
    (
        "nested-in-dataclass",
        Batch,
        '{"name": "n", "items": [{"label": "a", "score": "nope"}]}',
        "$.items[0].score",
        "nope",
    ),
    ("attrs-field", Run, '{"id": "one", "color": "red"}', "$.id", "one"),
    ("enum-value", list[Color], '["red", "purple"]', "$[1]", "purple"),
    ("namedtuple", Point, '[1, "two"]', "$[1]", "two"),
]


@pytest.mark.parametrize(
    ("target", "text", "path", "secret"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_validation_errors_name_the_path_not_the_value(
    target: Any, text: str, path: str, secret: str, walker: str
) -> None:
    with pytest.raises(DeserializationError) as info:
        datason.loads(text, type=target)
    assert info.value.path == path
    assert secret not in str(info.value)
    assert "does not match the requested type" in str(info.value)


def test_unsupported_type_is_a_deserialization_error() -> None:
    class Opaque:
        pass

    @attrs.define
    class Holder:
        p: Prediction

    with pytest.raises(DeserializationError):
        datason.loads('{"p": 1}', type=dict[str, Opaque | Prediction])
    assert datason.loads('{"p": {"label": "a", "score": 0}}', type=Holder) == Holder(Prediction(label="a", score=0))


def test_strict_mode_refuses_models() -> None:
    with pytest.raises(SerializationError):
        datason.dumps(Prediction(label="a", score=0.5), get_strict_config())


def test_reserved_model_tag_is_never_decoded(walker: str) -> None:
    datason.dumps(Prediction(label="a", score=0.5))  # handler loaded
    doc = {"__datason_type__": "pydantic.BaseModel", "__datason_value__": {"label": "a"}}
    assert datason.loads(json.dumps(doc)) == doc
    with pytest.raises(DeserializationError):
        datason.loads(json.dumps(doc), get_strict_config())


def test_registered_dataclass_and_enum_keep_their_tags(walker: str) -> None:
    @dataclasses.dataclass
    class Tagged:
        color: Color
        at: dt.datetime

    datason.register_type(Tagged, tag="tests.user.Tagged")
    datason.register_type(Color, tag="tests.user.Color")
    try:
        value = [Tagged(Color.GREEN, AT)]
        text = datason.dumps(value)
        assert "tests.user.Tagged" in text and "tests.user.Color" in text
        assert datason.loads(text) == value
        assert datason.loads(text, type=list[Tagged]) == value
    finally:
        datason.unregister_type(Tagged)
        datason.unregister_type(Color)


def test_import_datason_does_not_import_pydantic() -> None:
    code = (
        "import sys, datason\n"
        "assert 'pydantic' not in sys.modules\n"
        "assert 'datason.handlers.pydantic' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
