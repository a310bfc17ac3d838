"""KServe v1 codec: requests, responses, the JSON-list-to-ndarray rule, strict output, errors and limits."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
import zoneinfo
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import datason
from datason import DatasonError, DeserializationError, SecurityError, SerializationError
from datason.config import get_api_config
from datason.protocols import kserve_v1

from ..conftest import assert_same, strict_json

SECRET = "s3cr3t-value-\u00e9"


def assert_array(got: Any, want: np.ndarray) -> None:
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()


# --- what predict receives ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instances", "dtype", "shape"),
    [
        ([[1, 2, 3, 4]], np.int64, (1, 4)),
        ([1.5, 2.5], np.float64, (2,)),
        ([[1, 2.5], [3, 4]], np.float64, (2, 2)),  # mixed ints and floats: float64
        ([True, False], np.bool_, (2,)),
        ([[[1], [2]], [[3], [4]]], np.int64, (2, 2, 1)),
        ([], np.float64, (0,)),
        ([[], []], np.float64, (2, 0)),
        ([-(2**63), 2**63 - 1], np.int64, (2,)),
    ],
)
def test_numeric_instances_become_arrays(instances: list[Any], dtype: Any, shape: tuple[int, ...]) -> None:
    req = kserve_v1.decode_request(json.dumps({"instances": instances}).encode())
    assert req.key == "instances"
    assert req.parameters is None
    assert_array(req.value, np.array(instances, dtype=dtype).reshape(shape))


def test_null_among_numbers_is_nan() -> None:
    req = kserve_v1.decode_request(b'{"instances": [[1, null], [2.5, 3]]}')
    assert req.value.dtype == np.float64
    assert np.isnan(req.value[0, 1])
    assert req.value[~np.isnan(req.value)].tolist() == [1.0, 2.5, 3.0]


@pytest.mark.parametrize(
    "instances",
    [
        [[1, 2], [3]],  # ragged
        [[1, 2], 3],  # leaves at two depths
        ["a", "b"],
        [{"x": 1}, {"x": 2}],
        [1, "a"],
        [True, 1],  # bools are not mixed into numbers
        [None, None],
        [2**63],  # beyond int64: kept exactly
        [1, 2**70],
        ["caf\u00e9", "\u65e5\u672c"],
    ],
)
def test_other_instances_stay_lists(instances: list[Any]) -> None:
    req = kserve_v1.decode_request(json.dumps({"instances": instances}))
    assert type(req.value) is list
    assert req.value == instances


def test_null_parameters_are_none() -> None:
    assert kserve_v1.decode_request(b'{"instances": [], "parameters": null}').parameters is None


def test_arrays_hold_at_most_max_size_elements() -> None:
    cfg = get_api_config().replace(max_size=5)  # every list holds 3 items, the array would hold 9
    with pytest.raises(SecurityError) as info:
        kserve_v1.decode_request(b'{"instances": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}', config=cfg)
    assert info.value.path == "$.instances"
    with pytest.raises(SecurityError) as info:
        kserve_v1.decode_request({"inputs": {"a b": [[1, 2, 3]] * 3}}, config=cfg)
    assert info.value.path == '$.inputs["a b"]'
    strings = kserve_v1.decode_request(b'{"instances": [["a", "b", "c"], ["d", "e", "f"]]}', config=cfg)
    assert strings.value == [["a", "b", "c"], ["d", "e", "f"]]  # not an array: nothing more is allocated
    assert kserve_v1.decode_request(b'{"instances": [[1, 2], [3, 4]]}', config=cfg).value.shape == (2, 2)


def test_inputs_object_is_a_dict_of_arrays() -> None:
    body = {"inputs": {"a": [[1, 2]], "b": ["x", "y"], "c": 3.5, "d": [0.5, None]}, "parameters": {"k": [1]}}
    req = kserve_v1.decode_request(json.dumps(body))
    assert req.key == "inputs"
    assert req.parameters == {"k": [1]}
    assert_array(req.value["a"], np.array([[1, 2]], dtype=np.int64))
    assert req.value["b"] == ["x", "y"]
    assert req.value["c"] == 3.5
    assert req.value["d"].dtype == np.float64 and np.isnan(req.value["d"][1])


@pytest.mark.parametrize("inputs", [5, "text", None, {"nested": {"a": [1]}}])
def test_inputs_scalars_and_objects_pass_through(inputs: Any) -> None:
    req = kserve_v1.decode_request({"inputs": inputs})
    assert req.value == inputs
    assert type(req.value) is type(inputs)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, str, "dict"])
def test_body_kinds(kind: Any) -> None:
    text = '{"instances": [[0.25, 1e300]]}'
    body: Any = json.loads(text) if kind == "dict" else (text if kind is str else kind(text.encode()))
    assert_array(kserve_v1.decode_request(body).value, np.array([[0.25, 1e300]]))


def test_request_is_frozen() -> None:
    req = kserve_v1.decode_request(b'{"instances": [1]}')
    with pytest.raises(AttributeError):
        req.key = "inputs"  # type: ignore[misc]


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.text()
)
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=5))
def test_any_list_is_an_equal_array_or_itself(instances: list[Any]) -> None:
    value = kserve_v1.decode_request({"instances": instances}).value
    if type(value) is list:
        assert value is instances
        return
    assert value.dtype in (np.bool_, np.int64, np.float64)
    if value.dtype == np.float64:
        expected = np.array(instances, dtype=object)
        same_nan = np.isnan(value) == np.vectorize(lambda x: x is None, otypes=[bool])(expected)
        assert same_nan.all()
        assert (value[~np.isnan(value)] == np.array(expected[~np.isnan(value)], dtype=np.float64)).all()
    else:
        assert value.tolist() == instances


# --- responses -------------------------------------------------------------------------------------------


def plain(result: Any) -> bytes:
    return datason.dumpb({"predictions": result}, get_api_config().replace(include_type_hints=False), sort_keys=False)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(["bool", "int8", "int32", "int64", "uint16", "uint64", "float64", ">f8", ">i4"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    ),
    st.booleans(),
)
def test_array_responses_match_the_plain_encoder(a: np.ndarray, transpose: bool) -> None:
    a = a.T if transpose else a  # non-contiguous arrays take the encoder
    body = kserve_v1.encode_response(a)
    assert body == plain(a)
    strict_json(body.decode())


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(["bool", "int64", "float64"]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
        elements={"allow_nan": False, "allow_infinity": False},
    )
)
def test_array_round_trip_is_exact(a: np.ndarray) -> None:
    got = kserve_v1.decode_request(kserve_v1.encode_request(a)).value
    assert_array(got, a)
    back = kserve_v1.decode_response(kserve_v1.encode_response(a))
    assert_array(back, a)


small_arrays = hnp.arrays(
    dtype=st.sampled_from(["bool", "int64", "uint8", "float64", "float32", "<i4", ">i8"]),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
)
documents = st.recursive(
    json_leaves | small_arrays | st.floats() | st.integers(-(2**80), 2**80),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.just("__datason_type__"), inner, max_size=3)
    ),
    max_leaves=20,
)


def written(result: Any, write: Any) -> Any:
    """The parsed JSON ``write`` makes of ``result`` (floats may be spelled differently), or its error kind."""
    try:
        return strict_json(write(result).decode())
    except DatasonError as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_any_result_is_written_as_the_plain_encoder_writes_it(result: Any) -> None:
    assert_same(written(result, kserve_v1.encode_response), written(result, plain))


@pytest.mark.parametrize(
    "result",
    [
        "lone \ud800 surrogate",
        {"__datason_type__": "x", "__datason_value__": 1},
        {"k\udfff": 1},
        [1, 2**64],
        np.ones(4)[::2],
    ],
)
def test_results_off_the_fast_path_match_the_encoder(result: Any) -> None:
    assert_same(written(result, kserve_v1.encode_response), written(result, plain))


@pytest.mark.parametrize(
    ("config", "result"),
    [
        (get_api_config().replace(max_depth=2), {"a": [[1]]}),
        (get_api_config().replace(max_size=2), {"a": [1, 2, 3]}),
        (get_api_config().replace(max_size=2), (1, 2, 3)),
        (get_api_config().replace(max_string_length=3), ["abcd"]),
        (get_api_config().replace(max_string_length=3), {"abcd": 1}),
        (get_api_config().replace(max_bytes=10), "0123456789"),
    ],
)
def test_fast_path_limits(config: Any, result: Any) -> None:
    with pytest.raises(SecurityError):
        kserve_v1.encode_response(result, config=config)


def test_float32_and_float16_come_back_as_float64_of_their_shortest_digits() -> None:
    a = np.array([0.1, 1 / 3, 7.038531e-26], dtype=np.float32)
    body = kserve_v1.encode_response(a)
    assert body == plain(a)
    back = kserve_v1.decode_response(body)
    assert back.dtype == np.float64
    assert np.array_equal(back.astype(np.float32), a)  # the digits bring the float32 values back
    assert json.loads(body)["predictions"][0] == 0.1
    assert json.loads(kserve_v1.encode_response(np.float16(0.1)))["predictions"] == 0.1


def test_nan_and_infinity_are_null() -> None:
    a = np.array([[1.0, np.nan], [np.inf, -np.inf]])
    body = kserve_v1.encode_response(a)
    assert strict_json(body.decode()) == {"predictions": [[1.0, None], [None, None]]}
    back = kserve_v1.decode_response(body)
    assert back.dtype == np.float64
    assert np.isnan(back).tolist() == [[False, True], [True, True]]  # infinities do not survive JSON


def test_mixed_results_are_plain_json() -> None:
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    result = {
        "when": dt.datetime(2024, 7, 1, 12, 30, tzinfo=paris),
        "kolkata": dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata")),
        "utc": pd.Timestamp("2024-01-02T03:04:05", tz="UTC"),
        "day": dt.date(2024, 2, 29),
        "id": uuid.UUID(int=7),
        "price": decimal.Decimal("1.10"),
        "missing": [pd.NaT, float("nan"), np.float32("nan"), pd.NA],
        "scalars": [np.int8(-3), np.uint64(2**64 - 1), np.float32(0.1), np.bool_(True)],
        "series": pd.Series([1.5, None], name="s"),
        "text": "caf\u00e9 \u65e5\u672c \U0001f600",
        "tuple": (1, 2),
    }
    body = kserve_v1.encode_response(result)
    got = strict_json(body.decode())["predictions"]
    assert got == {
        "when": "2024-07-01T12:30:00+02:00",
        "kolkata": "2024-01-02T03:04:05.123456+05:30",
        "utc": "2024-01-02T03:04:05+00:00",
        "day": "2024-02-29",
        "id": "00000000-0000-0000-0000-000000000007",
        "price": "1.10",
        "missing": [None, None, None, None],
        "scalars": [-3, 2**64 - 1, 0.1, True],
        "series": [1.5, None],
        "text": "caf\u00e9 \u65e5\u672c \U0001f600",
        "tuple": [1, 2],
    }
    assert list(json.loads(body)["predictions"]) == list(result)  # keys in insertion order


def test_dataframe_results_are_records_in_column_order() -> None:
    df = pd.DataFrame({"z": [1, 2], "a": [0.5, np.nan], "t": pd.to_datetime(["2024-01-01", None]).tz_localize("UTC")})
    body = kserve_v1.encode_response(df, key="explanations")
    assert body == (b'{"explanations":[{"z":1,"a":0.5,"t":"2024-01-01T00:00:00+00:00"},{"z":2,"a":null,"t":null}]}')
    assert kserve_v1.decode_response(body) == [
        {"z": 1, "a": 0.5, "t": "2024-01-01T00:00:00+00:00"},
        {"z": 2, "a": None, "t": None},
    ]


def test_response_key_is_checked() -> None:
    with pytest.raises(ValueError, match="predictions"):
        kserve_v1.encode_response([1], key="outputs")


def test_results_json_cannot_carry_raise_serialization_errors() -> None:
    with pytest.raises(SerializationError) as info:
        kserve_v1.encode_response({"ok": [1, object()]})
    assert info.value.path == "$.predictions.ok[1]"


def test_response_limits_hold() -> None:
    cfg = get_api_config().replace(max_size=10)
    with pytest.raises(SecurityError):
        kserve_v1.encode_response(np.zeros(11), config=cfg)
    with pytest.raises(SecurityError):
        kserve_v1.encode_response(list(range(11)), config=cfg)
    assert (
        kserve_v1.encode_response(np.zeros(10, dtype=np.int64), config=cfg) == b'{"predictions":[0,0,0,0,0,0,0,0,0,0]}'
    )
    with pytest.raises(SecurityError):
        kserve_v1.encode_response(np.zeros(100, dtype=np.int64), config=get_api_config().replace(max_bytes=50))


def test_ensure_ascii_config_is_kept() -> None:
    cfg = get_api_config().replace(ensure_ascii=True)
    assert kserve_v1.encode_response(["caf\u00e9"], config=cfg) == b'{"predictions":["caf\\u00e9"]}'
    assert kserve_v1.encode_response(["caf\u00e9"]) == '{"predictions":["caf\u00e9"]}'.encode()


def test_typed_config_is_made_plain() -> None:
    body = kserve_v1.encode_response(
        {"id": uuid.UUID(int=1), "a": np.array([1.5])}, config=datason.config.SerializationConfig()
    )
    assert body == b'{"predictions":{"id":"00000000-0000-0000-0000-000000000001","a":[1.5]}}'


# --- client side -----------------------------------------------------------------------------------------


def test_encode_request() -> None:
    assert kserve_v1.encode_request(np.array([[1, 2]])) == b'{"instances":[[1,2]]}'
    assert kserve_v1.encode_request((1, 2), parameters={"t": 0.5}) == b'{"instances":[1,2],"parameters":{"t":0.5}}'
    assert kserve_v1.encode_request({"a": np.array([1.5])}, key="inputs") == b'{"inputs":{"a":[1.5]}}'
    assert kserve_v1.encode_request(pd.DataFrame({"b": [1], "a": [2]})) == b'{"instances":[{"b":1,"a":2}]}'
    req = kserve_v1.decode_request(kserve_v1.encode_request(7, key="inputs", parameters={}))
    assert (req.value, req.key, req.parameters) == (7, "inputs", {})


@pytest.mark.parametrize("value", [{"a": 1}, 5, "text", np.float64(1.0), np.array(1.0)])
def test_instances_must_be_a_batch(value: Any) -> None:
    with pytest.raises(SerializationError) as info:
        kserve_v1.encode_request(value)
    assert info.value.path == "$.instances"


def test_encode_request_checks_its_options() -> None:
    with pytest.raises(ValueError, match="instances"):
        kserve_v1.encode_request([1], key="rows")
    with pytest.raises(SerializationError) as info:
        kserve_v1.encode_request([1], parameters=[("a", 1)])  # type: ignore[arg-type]
    assert info.value.path == "$.parameters"


def test_decode_response_of_an_error_raises() -> None:
    with pytest.raises(DeserializationError) as info:
        kserve_v1.decode_response(kserve_v1.error_body(SECRET))
    assert info.value.path == "$.error"
    assert SECRET not in str(info.value)


# --- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "type_name"),
    [
        ([1, 2], "$", "array"),
        (f'"{SECRET}"', "$", "string"),
        ({"instances": [1], "inputs": [1]}, "$", None),
        ({"other": [1]}, "$", None),
        ({"instances": {"x": SECRET}}, "$.instances", "object"),
        ({"instances": SECRET}, "$.instances", "string"),
        ({"instances": [1], "parameters": [SECRET]}, "$.parameters", "array"),
        ({"inputs": [1], "parameters": 3}, "$.parameters", "number"),
    ],
)
def test_malformed_requests(body: Any, path: str, type_name: str | None) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(DeserializationError) as info:
        kserve_v1.decode_request(raw)
    assert info.value.path == path
    assert info.value.type_name == type_name
    assert SECRET not in str(info.value)


def test_invalid_json_is_a_deserialization_error() -> None:
    with pytest.raises(DeserializationError):
        kserve_v1.decode_request(b'{"instances": [1,')
    with pytest.raises(DeserializationError):
        kserve_v1.decode_request(b'{"instances": [NaN]}')


def test_body_type_is_checked() -> None:
    with pytest.raises(TypeError):
        kserve_v1.decode_request(12)


def test_request_limits_hold() -> None:
    with pytest.raises(SecurityError):
        kserve_v1.decode_request(b'{"instances": [1, 2, 3]}', config=get_api_config().replace(max_size=2))
    with pytest.raises(SecurityError):
        kserve_v1.decode_request(b'{"instances": [[[1]]]}', config=get_api_config().replace(max_depth=3))
    with pytest.raises(SecurityError):
        kserve_v1.decode_request(b'{"instances": ["abcdef"]}', config=get_api_config().replace(max_string_length=5))
    with pytest.raises(SecurityError):
        kserve_v1.decode_request(b'{"instances": [1]}', config=get_api_config().replace(max_bytes=10))


def test_self_referencing_list_in_a_dict_does_not_hang() -> None:
    loop: list[Any] = []
    loop.append(loop)
    req = kserve_v1.decode_request({"instances": [loop]})
    assert req.value[0] is loop


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["instances", "inputs", "parameters", "x"]), json_values, max_size=3))
def test_any_json_object_decodes_or_raises_a_datason_error(doc: dict[str, Any]) -> None:
    try:
        kserve_v1.decode_request(json.dumps(doc))
    except DatasonError:
        pass


def test_error_body() -> None:
    assert kserve_v1.error_body("model failed") == b'{"error":"model failed"}'
    assert json.loads(kserve_v1.error_body("caf\u00e9 \ud800", status=500)) == {"error": "caf\u00e9 \\ud800"}
    long = kserve_v1.error_body("x" * 100_000)
    assert len(json.loads(long)["error"]) == 65536
    assert json.loads(kserve_v1.error_body(ValueError("bad"))) == {"error": "bad"}


def test_nan_in_results_never_writes_bare_nan() -> None:
    for result in (math.nan, [math.inf], {"a": np.float64("nan")}, np.array([np.nan], dtype=np.float32)):
        text = kserve_v1.encode_response(result).decode()
        strict_json(text)
        assert "NaN" not in text and "Infinity" not in text
