"""Request decoding: limits map to the right status, schema errors name the field (never the value), pydantic
and other types decode through datason, and the JSON Schema fast path never accepts what jsonschema refuses."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jsonschema
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datason.config import get_api_config
from datason.serving import ServingConfig
from datason.serving.errors import (
    MalformedRequestError,
    ServingError,
    ValidationFailedError,
)
from datason.serving.validation import RequestDecoder, compile_schema, fast_accept

SECRET = "s3cr3t-value"
SCHEMA = {
    "type": "object",
    "properties": {
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "name": {"type": "string", "minLength": 1, "maxLength": 8},
        "kind": {"enum": ["a", "b", None, True]},
        "score": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "free": {},
    },
    "required": ["age"],
    "additionalProperties": False,
}


def decoder(schema: Any = None, **changes: Any) -> RequestDecoder:
    return RequestDecoder(ServingConfig(**changes), schema)


def fails(dec: RequestDecoder, body: bytes | str) -> ServingError:
    with pytest.raises(ServingError) as info:
        dec.decode(body.encode() if isinstance(body, str) else body)
    return info.value


def test_valid_body_gives_the_features() -> None:
    assert decoder(SCHEMA).decode(b'{"features": {"age": 3, "name": "x"}, "extra": 1}') == {"age": 3, "name": "x"}
    assert decoder().decode(b'{"features": [1, 2.5, "a"]}') == [1, 2.5, "a"]


@pytest.mark.parametrize(
    ("body", "error", "path"),
    [
        (b'{"features": ', MalformedRequestError, "$.features"),
        (b"", MalformedRequestError, "$"),
        (b'{"features": {"a": "\xff"}}', MalformedRequestError, "$.features.a"),
        (b"[1, 2]", MalformedRequestError, "$"),
        (b'"features"', MalformedRequestError, "$"),
        (b'{"feature": {}}', ValidationFailedError, "$.features"),
    ],
)
def test_malformed_and_missing(body: bytes, error: type[ServingError], path: str) -> None:
    exc = fails(decoder(), body)
    assert type(exc) is error and exc.path == path
    assert isinstance(exc, ValueError)


def test_missing_features_names_features() -> None:
    exc = fails(decoder(), '{"x": 1}')
    assert exc.status == 422 and "$.features" in str(exc)


def test_body_bytes_limit_is_413_at_exactly_one_over() -> None:
    body = json.dumps({"features": {"a": "x" * 50}}).encode()
    assert decoder(max_body_bytes=len(body)).decode(body) == {"a": "x" * 50}
    assert fails(decoder(max_body_bytes=len(body) - 1), body).status == 413


def test_depth_limit_counts_from_features_and_is_422_with_path() -> None:
    assert decoder(max_depth=3).decode(b'{"features": {"a": {"b": [1]}}}') == {"a": {"b": [1]}}
    exc = fails(decoder(max_depth=3), '{"features": {"a": {"b": [[1]]}}}')
    assert type(exc) is ValidationFailedError and exc.path == "$.features.a.b[0]"
    assert "max_depth=3" in str(exc)  # the limit the service was given (the decoder counts one level more)


def test_feature_count_limit() -> None:
    assert decoder(max_features=2).decode(b'{"features": {"a": 1, "b": 2}}') == {"a": 1, "b": 2}
    exc = fails(decoder(max_features=2), '{"features": {"a": 1, "b": 2, "c": 3}}')
    assert exc.status == 422 and exc.path == "$.features" and "max_features=2" in str(exc)
    assert fails(decoder(max_features=2), '{"features": [1, 2, 3]}').status == 422


def test_datason_size_limits_are_413() -> None:
    small = get_api_config().replace(max_string_length=10, max_size=3)
    dec = decoder(datason_config=small)
    assert fails(dec, json.dumps({"features": {"a": "x" * 11}})).status == 413
    assert fails(dec, '{"features": [1, 2, 3, 4]}').status == 413
    assert dec.decode(b'{"features": [1, 2, 3]}') == [1, 2, 3]


@pytest.mark.parametrize(
    ("features", "path", "words"),
    [
        ({"name": "x"}, "$.features.age", "required property is missing"),
        ({"age": 1, "bogus": SECRET}, "$.features.bogus", "not allowed"),
        ({"age": SECRET}, "$.features.age", 'type="integer"'),
        ({"age": 151}, "$.features.age", "maximum=150"),
        ({"age": 1, "name": SECRET}, "$.features.name", "maxLength=8"),
        ({"age": 1, "kind": SECRET}, "$.features.kind", "enum="),
        ({"age": 1, "score": 0}, "$.features.score", "exclusiveMinimum=0"),
    ],
)
def test_schema_errors_name_the_field_and_rule_never_the_value(features: dict[str, Any], path: str, words: str) -> None:
    exc = fails(decoder(SCHEMA), json.dumps({"features": features}))
    assert type(exc) is ValidationFailedError and exc.status == 422
    assert exc.path == path and path in str(exc) and words in str(exc)
    assert SECRET not in str(exc) and "151" not in str(exc)


def test_format_checking_is_off_unless_asked() -> None:
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date"}}}
    body = b'{"features": {"at": "not-a-date"}}'
    assert decoder(schema).decode(body) == {"at": "not-a-date"}
    exc = fails(decoder(schema, schema_format_check=True), body)
    assert exc.path == "$.features.at" and "format" in str(exc) and "not-a-date" not in str(exc)


def test_invalid_schema_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        decoder({"type": "no-such-type"})
    with pytest.raises(TypeError):
        compile_schema("not a schema")


class Flower(pydantic.BaseModel):
    petal: float = pydantic.Field(gt=0)
    note: str | None = None

    @pydantic.field_validator("note")
    @classmethod
    def no_shouting(cls, value: str | None) -> str | None:
        if value is not None and value.isupper():
            raise ValueError(f"shouting: {value}")
        return value


def test_pydantic_model_gives_an_instance_and_value_free_errors() -> None:
    dec = decoder(Flower)
    got = dec.decode(b'{"features": {"petal": 1.5}}')
    assert got == Flower(petal=1.5)
    exc = fails(dec, '{"features": {"petal": -1}}')
    assert exc.status == 422 and exc.path == "$.features.petal" and "Flower" in str(exc)
    exc = fails(dec, json.dumps({"features": {"petal": 1, "note": "LOUD-" + SECRET.upper()}}))
    assert exc.path == "$.features.note" and SECRET.upper() not in str(exc)


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_other_types_decode_through_datason() -> None:
    assert decoder(Point).decode(b'{"features": {"x": 1, "y": 2}}') == Point(1, 2)
    assert decoder(list[Point]).decode(b'{"features": [{"x": 1, "y": 2}]}') == [Point(1, 2)]
    exc = fails(decoder(list[Point]), json.dumps({"features": [{"x": 1, "y": SECRET}]}))
    assert exc.path == "$.features[0].y" and SECRET not in str(exc)


# --- the JSON Schema fast path -------------------------------------------------------------------------------

VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
ACCEPT = fast_accept(SCHEMA, jsonschema.Draft202012Validator)
CHECK = compile_schema(SCHEMA)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "a", "b", "abcdefgh", "abcdefghi"]),
    st.lists(st.integers(), max_size=2),
)
instances = st.one_of(
    st.dictionaries(st.sampled_from(["age", "name", "kind", "score", "free", "other"]), scalars, max_size=6),
    scalars,
)


@settings(max_examples=300, deadline=None)
@given(instances)
def test_fast_path_only_accepts_what_jsonschema_accepts(instance: Any) -> None:
    assert ACCEPT is not None
    if ACCEPT(instance):
        assert VALIDATOR.is_valid(instance)
    assert CHECK is not None
    try:
        CHECK(instance)
        accepted = True
    except ValidationFailedError:
        accepted = False
    assert accepted == VALIDATOR.is_valid(instance)  # with the fallback, the answer is exactly jsonschema's


def test_fast_path_covers_plain_valid_requests_and_declines_other_schemas() -> None:
    assert ACCEPT is not None
    assert ACCEPT({"age": 30, "name": "ann", "kind": "a", "score": 0.5, "free": [1]})
    assert fast_accept({"type": "object", "properties": {"a": {"type": "array"}}}, jsonschema.Draft7Validator) is None
    assert fast_accept({"type": "object", "patternProperties": {}}, jsonschema.Draft7Validator) is None
    assert fast_accept({"type": "object"}, jsonschema.Draft4Validator) is None  # draft 4 bounds differ
    assert fast_accept({"type": "object", "properties": {"d": {"format": "date"}}}, jsonschema.Draft7Validator) is None
