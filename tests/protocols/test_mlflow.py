"""MLflow scoring codec: the four input layouts, params, DataFrames with their index, responses, errors, limits."""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.extra import pandas as hpd

from datason import DatasonError, DeserializationError, SecurityError, SerializationError
from datason.config import get_api_config
from datason.protocols import mlflow

from ..conftest import strict_json

SECRET = "s3cr3t-value-\u00e9"


def assert_array(got: Any, want: np.ndarray) -> None:
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def assert_frame(got: Any, want: pd.DataFrame) -> None:
    assert type(got) is pd.DataFrame
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_index_type=True, check_column_type=True)
    assert got.dtypes.to_dict() == want.dtypes.to_dict()


# --- dataframe_split --------------------------------------------------------------------------------------


def test_split_with_index_round_trips() -> None:
    df = pd.DataFrame(
        {"n": [1, -(2**63)], "f": [0.5, np.nan], "s": ["caf\u00e9", "\U0001f600"], "b": [True, False]},
        index=pd.Index(["r1", "r2"]),
    )
    body = mlflow.encode_request(df, params={"temperature": 0.2, "tags": ["a"]})
    assert json.loads(body) == {
        "dataframe_split": {
            "columns": ["n", "f", "s", "b"],
            "index": ["r1", "r2"],
            "data": [[1, 0.5, "caf\u00e9", True], [-(2**63), None, "\U0001f600", False]],
        },
        "params": {"temperature": 0.2, "tags": ["a"]},
    }
    strict_json(body.decode())
    req = mlflow.decode_request(body)
    assert (req.form, req.params) == ("dataframe_split", {"temperature": 0.2, "tags": ["a"]})
    assert_frame(req.value, df)


@pytest.mark.parametrize(
    "index",
    [
        pd.RangeIndex(3),
        pd.Index([10, 5, -1]),
        pd.Index([0.5, 1.5, 2.5]),
        pd.Index(["\u00e9", "b", "c"]),
        pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)]),
    ],
)
def test_split_index_kinds(index: pd.Index) -> None:
    df = pd.DataFrame({"x": [1.5, 2.5, 3.5]}, index=index)
    assert_frame(mlflow.decode_request(mlflow.encode_request(df)).value, df)


def test_split_multiindex_and_int_columns() -> None:
    df = pd.DataFrame([[1, 2], [3, 4]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")]))
    assert_frame(mlflow.decode_request(mlflow.encode_request(df)).value, df)
    df = pd.DataFrame([[1, 2]])  # RangeIndex columns
    assert_frame(mlflow.decode_request(mlflow.encode_request(df)).value, df)


@settings(max_examples=100, deadline=None)
@given(
    hpd.data_frames(
        [
            hpd.column("i", dtype=np.int64),
            hpd.column("f", elements=st.floats(allow_nan=False, allow_infinity=False)),
            hpd.column("s", dtype=str, elements=st.text(min_size=1)),
            hpd.column("b", dtype=bool),
        ],
        index=hpd.range_indexes(min_size=1, max_size=6),
    )
)
def test_split_round_trip_property(df: pd.DataFrame) -> None:
    df = df.astype({"s": "str"})
    assert_frame(mlflow.decode_request(mlflow.encode_request(df)).value, df)


def test_split_as_mlflow_writes_it_without_index() -> None:
    body = {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, None]]}}
    req = mlflow.decode_request(json.dumps(body))
    assert_frame(req.value, pd.DataFrame({"a": [1, 3], "b": [2.5, np.nan]}))
    assert req.params is None


def test_split_without_rows_keeps_its_columns() -> None:
    value = mlflow.decode_request({"dataframe_split": {"columns": ["a", "b"], "data": []}}).value
    assert list(value.columns) == ["a", "b"] and len(value) == 0


def test_dates_travel_as_iso_strings() -> None:
    tz = zoneinfo.ZoneInfo("Asia/Tokyo")
    df = pd.DataFrame({"t": [dt.datetime(2024, 3, 1, 9, tzinfo=tz)], "u": [uuid.UUID(int=3)]})
    split = json.loads(mlflow.encode_request(df))["dataframe_split"]
    assert split["data"] == [["2024-03-01T09:00:00+09:00", "00000000-0000-0000-0000-000000000003"]]
    value = mlflow.decode_request(json.dumps({"dataframe_split": split})).value
    assert value["t"].iloc[0] == "2024-03-01T09:00:00+09:00"  # JSON carries no dtype: the text, not a Timestamp


@pytest.mark.parametrize(
    ("split", "path"),
    [
        ([SECRET], "$.dataframe_split"),
        ({"data": [[1]]}, "$.dataframe_split"),
        ({"columns": ["a"]}, "$.dataframe_split"),
        ({"columns": SECRET, "data": []}, "$.dataframe_split.columns"),
        ({"columns": ["a"], "data": {"x": SECRET}}, "$.dataframe_split.data"),
        ({"columns": ["a"], "data": [[1], [2], [3], [4, SECRET]]}, "$.dataframe_split.data[3]"),
        ({"columns": ["a"], "data": [[1], SECRET]}, "$.dataframe_split.data[1]"),
        ({"columns": ["a"], "data": [[1]], "index": [1, 2]}, "$.dataframe_split.index"),
        ({"columns": ["a"], "data": [[1]], "index": SECRET}, "$.dataframe_split.index"),
        ({"columns": ["a"], "data": [[1]], "dtypes": {"a": "int"}}, "$.dataframe_split.dtypes"),
        ({"columns": [{"x": SECRET}], "data": [[1]]}, "$.dataframe_split.columns[0]"),
        ({"columns": ["a", ["b"]], "data": [[1, 2]]}, "$.dataframe_split.columns[0]"),
        ({"columns": [["a", 1], ["b"]], "data": [[1, 2]]}, "$.dataframe_split.columns[1]"),
        ({"columns": [["a", [SECRET]]], "data": [[1]]}, "$.dataframe_split.columns[0]"),
        ({"columns": ["a"], "data": [[1]], "index": [[]]}, "$.dataframe_split.index[0]"),
    ],
)
def test_malformed_split(split: Any, path: str) -> None:
    with pytest.raises(DeserializationError) as info:
        mlflow.decode_request(json.dumps({"dataframe_split": split}))
    assert info.value.path == path
    assert SECRET not in str(info.value)


# --- dataframe_records, instances, inputs -------------------------------------------------------------------


def test_records() -> None:
    body = {"dataframe_records": [{"b": 1, "a": "x"}, {"a": "y", "c": 0.5}]}
    req = mlflow.decode_request(json.dumps(body))
    assert req.form == "dataframe_records"
    want = pd.DataFrame({"b": [1.0, np.nan], "a": ["x", "y"], "c": [np.nan, 0.5]})
    assert_frame(req.value, want)
    assert_frame(mlflow.decode_request({"dataframe_records": []}).value, pd.DataFrame())


def test_records_cells_are_counted_before_the_frame_is_built() -> None:
    # 4 records, 4 distinct keys: 16 cells although the body holds 4 values
    body = {"dataframe_records": [{"a": 1}, {"b": 1}, {"c": 1}, {"d": 1}]}
    with pytest.raises(SecurityError) as info:
        mlflow.decode_request(body, config=get_api_config().replace(max_size=15))
    assert info.value.path == "$.dataframe_records"
    assert mlflow.decode_request(body, config=get_api_config().replace(max_size=16)).value.shape == (4, 4)


@pytest.mark.parametrize(
    ("records", "path"), [({"a": [1]}, "$.dataframe_records"), ([{"a": 1}, [SECRET]], "$.dataframe_records[1]")]
)
def test_malformed_records(records: Any, path: str) -> None:
    with pytest.raises(DeserializationError) as info:
        mlflow.decode_request({"dataframe_records": records})
    assert info.value.path == path
    assert SECRET not in str(info.value)


def test_instances_and_inputs() -> None:
    req = mlflow.decode_request(b'{"instances": [[1, 2], [3, 4]], "params": {"k": 1}}')
    assert (req.form, req.params) == ("instances", {"k": 1})
    assert_array(req.value, np.array([[1, 2], [3, 4]]))
    req = mlflow.decode_request(b'{"instances": [{"a": 1}, {"a": 2}]}')
    assert req.value == [{"a": 1}, {"a": 2}]
    req = mlflow.decode_request(b'{"inputs": {"a": [1.5, null], "b": ["x"], "c": 3}}')
    assert req.form == "inputs"
    assert req.value["a"].dtype == np.float64 and np.isnan(req.value["a"][1]) and req.value["a"][0] == 1.5
    assert req.value["b"] == ["x"] and req.value["c"] == 3
    assert mlflow.decode_request(b'{"inputs": "a prompt"}').value == "a prompt"
    assert_array(mlflow.decode_request(b'{"inputs": [[true], [false]]}').value, np.array([[True], [False]]))


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(["bool", "int64", "float64"]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
        elements={"allow_nan": False, "allow_infinity": False},
    )
)
def test_array_round_trips(a: np.ndarray) -> None:
    req = mlflow.decode_request(mlflow.encode_request(a))
    assert req.form == "inputs"
    assert_array(req.value, a)
    assert_array(mlflow.decode_request(mlflow.encode_request(a, form="instances")).value, a)
    assert_array(mlflow.decode_response(mlflow.encode_response(a)), a)


def test_dict_of_arrays_round_trips() -> None:
    value = {"ids": np.array([[1, 2]], dtype=np.int64), "w": np.array([0.25]), "text": ["caf\u00e9"]}
    req = mlflow.decode_request(mlflow.encode_request(value, params={"p": None}))
    assert req.form == "inputs" and req.params == {"p": None}
    assert_array(req.value["ids"], value["ids"])
    assert_array(req.value["w"], value["w"])
    assert req.value["text"] == ["caf\u00e9"]


def test_dataframe_as_other_forms() -> None:
    df = pd.DataFrame({"b": [1, 2], "a": [0.5, np.nan]}, index=[7, 8])
    assert json.loads(mlflow.encode_request(df, form="dataframe_records")) == {
        "dataframe_records": [{"b": 1, "a": 0.5}, {"b": 2, "a": None}]
    }
    assert json.loads(mlflow.encode_request(df, form="instances")) == {
        "instances": [{"b": 1, "a": 0.5}, {"b": 2, "a": None}]
    }
    assert json.loads(mlflow.encode_request(df, form="inputs")) == {"inputs": {"b": [1, 2], "a": [0.5, None]}}
    back = mlflow.decode_request(mlflow.encode_request(df, form="dataframe_records")).value
    assert_frame(back, df.reset_index(drop=True))  # records carry no index
    assert json.loads(mlflow.encode_request([{"a": 1}], form="dataframe_records")) == {"dataframe_records": [{"a": 1}]}


@pytest.mark.parametrize(
    ("value", "form"),
    [
        (np.array([1]), "dataframe_split"),
        ([1, 2], "dataframe_records"),
        ({"a": 1}, "instances"),
        (3, "instances"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "inputs"),
    ],
)
def test_encode_request_refuses_a_form_that_cannot_carry_the_value(value: Any, form: str) -> None:
    with pytest.raises(SerializationError):
        mlflow.encode_request(value, form=form)


def test_encode_request_checks_its_options() -> None:
    with pytest.raises(ValueError, match="form"):
        mlflow.encode_request([1], form="messages")
    with pytest.raises(SerializationError) as info:
        mlflow.encode_request([1], params=[1])  # type: ignore[arg-type]
    assert info.value.path == "$.params"


# --- request errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "type_name"),
    [
        ([SECRET], "$", "array"),
        ({}, "$", None),
        ({"messages": [SECRET]}, "$", None),
        ({"instances": [1], "inputs": [1]}, "$", None),
        ({"dataframe_split": {"columns": [], "data": []}, "dataframe_records": []}, "$", None),
        ({"instances": {"a": SECRET}}, "$.instances", "object"),
        ({"inputs": [1], "params": [SECRET]}, "$.params", "array"),
        ({"inputs": [1], "params": SECRET}, "$.params", "string"),
    ],
)
def test_malformed_requests(body: Any, path: str, type_name: str | None) -> None:
    with pytest.raises(DeserializationError) as info:
        mlflow.decode_request(json.dumps(body))
    assert info.value.path == path
    assert info.value.type_name == type_name
    assert SECRET not in str(info.value)


def test_null_params_are_none_as_mlflow_reads_them() -> None:
    assert mlflow.decode_request(b'{"inputs": [1], "params": null}').params is None


def test_arrays_hold_at_most_max_size_elements() -> None:
    cfg = get_api_config().replace(max_size=3)
    with pytest.raises(SecurityError) as info:
        mlflow.decode_request(b'{"inputs": {"a": [[1, 2], [3, 4]]}}', config=cfg)
    assert info.value.path == "$.inputs.a"


def test_request_limits_hold() -> None:
    cfg = get_api_config().replace(max_size=3)
    with pytest.raises(SecurityError):
        mlflow.decode_request(b'{"inputs": [1, 2, 3, 4]}', config=cfg)
    with pytest.raises(SecurityError):
        mlflow.decode_request({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}, config=cfg)


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.text()
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["columns", "data", "index", "a"]), inner)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "params"]),
        json_values,
        max_size=3,
    )
)
def test_any_json_object_decodes_or_raises_a_datason_error(doc: dict[str, Any]) -> None:
    try:
        mlflow.decode_request(json.dumps(doc))
    except DatasonError:
        pass


# --- responses --------------------------------------------------------------------------------------------------


def test_dataframe_response_is_records_in_column_order() -> None:
    tz = zoneinfo.ZoneInfo("America/New_York")
    df = pd.DataFrame(
        {
            "z": [1, 2],
            "a": [np.nan, 0.5],
            "when": [pd.Timestamp("2024-01-15 08:00", tz=tz), pd.NaT],
            "s": ["\u00e9", None],
        }
    )
    body = mlflow.encode_response(df)
    assert body == (
        b'{"predictions":[{"z":1,"a":null,"when":"2024-01-15T08:00:00-05:00","s":"\xc3\xa9"},'
        b'{"z":2,"a":0.5,"when":null,"s":null}]}'
    )
    assert mlflow.decode_response(body) == [
        {"z": 1, "a": None, "when": "2024-01-15T08:00:00-05:00", "s": "\u00e9"},
        {"z": 2, "a": 0.5, "when": None, "s": None},
    ]


def test_other_responses() -> None:
    assert mlflow.encode_response(pd.Series([1.5, np.nan], name="p")) == b'{"predictions":[1.5,null]}'
    assert mlflow.encode_response(np.array([np.nan, np.inf, 1.0])) == b'{"predictions":[null,null,1.0]}'
    assert mlflow.encode_response({"label": "cat", "scores": np.array([0.1, 0.9], dtype=np.float32)}) == (
        b'{"predictions":{"label":"cat","scores":[0.1,0.9]}}'
    )
    value = mlflow.decode_response(b'{"predictions": {"label": "cat", "scores": [0.1, 0.9]}}')
    assert value["label"] == "cat"
    assert_array(value["scores"], np.array([0.1, 0.9]))
    assert mlflow.decode_response(b'{"predictions": "text", "extra": 1}') == "text"


def test_decode_response_errors() -> None:
    with pytest.raises(DeserializationError) as info:
        mlflow.decode_response(mlflow.error_body(SECRET))
    assert SECRET not in str(info.value)
    with pytest.raises(DeserializationError):
        mlflow.decode_response(b'{"outputs": [1]}')


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "BAD_REQUEST"),
        (404, "ENDPOINT_NOT_FOUND"),
        (413, "BAD_REQUEST"),
        (429, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL_ERROR"),
        (503, "TEMPORARILY_UNAVAILABLE"),
        (502, "INTERNAL_ERROR"),
    ],
)
def test_error_body(status: int, code: str) -> None:
    assert json.loads(mlflow.error_body("went wrong \u00e9", status=status)) == {
        "error_code": code,
        "message": "went wrong \u00e9",
    }
    assert list(json.loads(mlflow.error_body("x", status=status))) == ["error_code", "message"]


def test_bare_nan_tokens_mlflow_writes_are_read_within_the_limits() -> None:
    body = b'{"dataframe_split": {"columns": ["f"], "data": [[0.5], [NaN], [Infinity], [-Infinity]]}}'
    frame = mlflow.decode_request(body).value
    assert frame["f"].dtype == np.float64 and frame["f"][0] == 0.5 and np.isnan(frame["f"][1])
    assert frame["f"][2] == np.inf and frame["f"][3] == -np.inf
    back = mlflow.decode_response('{"predictions": [1.0, NaN]}')
    assert back.dtype == np.float64 and np.isnan(back[1])
    small = get_api_config().replace(max_size=3, max_depth=4)
    with pytest.raises(SecurityError):
        mlflow.decode_request(b'{"inputs": [NaN, 1, 2, 3, 4]}', config=small)
    with pytest.raises(SecurityError):
        mlflow.decode_request(b'{"inputs": [[[[[NaN]]]]]}', config=small)
    with pytest.raises(SecurityError):
        mlflow.decode_request(b'{"inputs": ' + b"[" * 5000 + b"NaN" + b"]" * 5000 + b"}")
    with pytest.raises(DeserializationError) as info:
        mlflow.decode_request(b'{"inputs": [NaN, "secret-value" oops]}')
    assert "secret" not in str(info.value)
