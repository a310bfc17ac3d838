"""datason.integrations.gradio's helpers against Gradio's real components (no server).

``json_value`` for ``gr.JSON`` (arrays of several dtypes, frames, scalars; typed round trips),
``dataframe_value``/``dataframe`` for ``gr.DataFrame`` (NaN, NaT, ``<NA>``, tz-aware and category columns,
the index), ``read_upload`` (typed files come back typed, bad files give datason's errors naming the file).
Each value is also passed through the component's own ``postprocess``, the step Gradio runs before sending it
to the page, to check that Gradio keeps it as datason wrote it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import pathlib
import uuid
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

import datason
from datason.errors import DeserializationError, SecurityError, SerializationError
from datason.integrations.gradio import dataframe, dataframe_value, json_value, read_upload

gr = pytest.importorskip("gradio")  # the `dev` extra installs it; never skipped in `make unit`

PARIS = "Europe/Paris"


def frame() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "score": np.array([0.5, np.nan, np.inf], dtype=np.float32),
            "at": pd.to_datetime(["2024-01-01 09:00", None, "2024-07-01 09:00"]).tz_localize(PARIS),
            "naive": pd.to_datetime(["2024-01-01 09:00", "2024-01-02 10:30", None]),
            "label": pd.Categorical(["cat", None, "dog"], categories=["dog", "cat"], ordered=True),
            "count": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.Index([10, 20, 30], name="id"),
    )
    df["note"] = pd.Series(["a", None, float("nan")], index=df.index, dtype=object)  # None and NaN told apart
    return df


def through_gradio_json(value: Any) -> Any:
    """What gr.JSON sends to the page for ``value``."""
    return gr.JSON().postprocess(value).model_dump()


# --- json_value -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "dtype", "data"),
    [
        (np.array([[0.1, np.nan], [np.inf, -2.5]], dtype=np.float32), "float32", [[0.1, None], [None, -2.5]]),
        (np.arange(6, dtype=np.int16).reshape(2, 3), "int16", [[0, 1, 2], [3, 4, 5]]),
        (np.array([1, 2], dtype=">i4"), ">i4", [1, 2]),
        (np.array([True, False]), "bool", [True, False]),
        (np.array([2**64 - 1], dtype=np.uint64), "uint64", [2**64 - 1]),
        (np.array(["2024-01-01T09:00", "NaT"], dtype="datetime64[s]"), "datetime64[s]", ["2024-01-01T09:00:00", None]),
        (np.array([0.1, 1.0], dtype=np.float16), "float16", [0.1, 1.0]),
        (np.array(["a", "bc"]), "<U2", ["a", "bc"]),
        (np.zeros((0, 3)), "float64", []),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_json_value_arrays_keep_dtype_and_shape(array: np.ndarray, dtype: str, data: Any) -> None:
    view = json_value({"x": array})
    assert view == {"x": {"dtype": dtype, "shape": list(array.shape), "data": data}}
    assert through_gradio_json(view) == view  # Gradio sends it unchanged


def test_json_value_scalars_as_they_are() -> None:
    ident = uuid.UUID("6f1c2a9e-3b1d-4c8e-9f00-1234567890ab")
    paris = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    value = {
        "aware": paris,
        "naive": dt.datetime(2024, 1, 2, 3, 4, 5),
        "stamp": pd.Timestamp("2024-07-01 09:00", tz=PARIS),
        "day": dt.date(2024, 1, 2),
        "wait": dt.timedelta(hours=1, seconds=2),
        "price": decimal.Decimal("19.90"),
        "id": ident,
        "nan": float("nan"),
        "nat": pd.NaT,
        "na": pd.NA,
        "f32": np.float32(0.1),
        "i64": np.int64(-3),
        "pair": (1, 2),
    }
    view = json_value(value)
    assert view == {
        "aware": "2024-01-02T03:04:05+01:00",
        "naive": "2024-01-02T03:04:05",
        "stamp": "2024-07-01T09:00:00+02:00",
        "day": "2024-01-02",
        "wait": "PT1H2S",
        "price": "19.90",
        "id": str(ident),
        "nan": None,
        "nat": None,
        "na": None,
        "f32": 0.1,  # float32's own shortest digits, not 0.10000000149011612
        "i64": -3,
        "pair": [1, 2],
    }
    assert through_gradio_json(view) == view
    # what Gradio does on its own: str() of the datetime (a space, not ISO 8601), a Timestamp too
    raw = through_gradio_json({"aware": paris, "stamp": value["stamp"]})
    assert raw == {"aware": "2024-01-02 03:04:05+01:00", "stamp": "2024-07-01 09:00:00+02:00"}


def test_json_value_frames_series_and_categoricals_with_dtypes() -> None:
    df = frame()
    view = json_value({"frame": df, "series": df["at"], "labels": df["label"].array, "idx": df.index})
    shown = view["frame"]
    assert shown["dtypes"] == {c: str(d) for c, d in df.dtypes.items()}
    assert shown["dtypes"]["at"].endswith(", Europe/Paris]") and shown["dtypes"]["count"] == "Int64"
    assert shown["shape"] == [3, 6] and shown["index"] == [10, 20, 30]
    assert shown["data"][0] == {
        "score": 0.5,
        "at": "2024-01-01T09:00:00+01:00",
        "naive": "2024-01-01T09:00:00",
        "label": "cat",
        "count": 1,
        "note": "a",
    }
    assert shown["data"][1] == {
        "score": None,
        "at": None,
        "naive": "2024-01-02T10:30:00",
        "label": None,
        "count": None,
        "note": None,
    }
    assert shown["data"][2]["score"] is None and shown["data"][2]["at"] == "2024-07-01T09:00:00+02:00"
    assert view["series"] == {
        "dtype": str(df["at"].dtype),
        "name": "at",
        "index": [10, 20, 30],
        "data": ["2024-01-01T09:00:00+01:00", None, "2024-07-01T09:00:00+02:00"],
    }
    assert view["labels"] == {
        "dtype": "category",
        "categories": ["dog", "cat"],
        "ordered": True,
        "data": ["cat", None, "dog"],
    }
    assert view["idx"] == {"dtype": "int64", "name": "id", "data": [10, 20, 30]}
    assert through_gradio_json(view) == view
    # a default index is left out; dtypes=False gives datason's plain JSON as is
    assert "index" not in json_value(df.reset_index())
    assert json_value(df, dtypes=False) == datason.serialize(df, datason.config.get_api_config())
    # Gradio alone writes the frame's printed repr
    assert isinstance(through_gradio_json({"frame": df})["frame"], str)


def test_json_value_typed_round_trips_exactly() -> None:
    df = frame()
    value = {
        "frame": df,
        "weights": np.arange(12, dtype=">i4").reshape(3, 4),
        "probs": np.array([0.25, 0.75], dtype=np.float32),
        "at": pd.Timestamp("2024-07-01 09:00", tz=PARIS),
        "keys": {1: "a", (2, 3): "b"},
    }
    typed = json_value(value, typed=True)
    assert typed["probs"]["__datason_type__"] == "numpy.ndarray"
    text = orjson.dumps(through_gradio_json(typed))  # what the copy button copies
    back = datason.loads(text)
    pd.testing.assert_frame_equal(back["frame"], df, check_exact=True)
    for name in ("weights", "probs"):
        assert back[name].dtype == value[name].dtype and back[name].shape == value[name].shape
        assert (back[name] == value[name]).all()
    assert back["at"] == value["at"] and str(back["at"].tz) == PARIS
    assert back["keys"] == {1: "a", (2, 3): "b"}


def test_json_value_errors_are_datasons() -> None:
    with pytest.raises(SerializationError, match=r"cannot serialize this type.*\(object\) at \$\.x\[0\]"):
        json_value({"x": [object()]})
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(SecurityError, match="max_depth=256"):
        json_value(deep)


# --- dataframe_value / dataframe -------------------------------------------------------------------------------


def test_dataframe_value_shows_missing_values_zones_and_dtypes() -> None:
    df = frame()
    table = dataframe_value(df)
    assert table["headers"] == [
        "id (int64)",
        "score (float32)",
        f"at ({df['at'].dtype})",
        f"naive ({df['naive'].dtype})",
        "label (category)",
        "count (Int64)",
        "note (object)",
    ]
    assert table["data"] == [
        [10, 0.5, "2024-01-01T09:00:00+01:00", "2024-01-01T09:00:00", "cat", 1, "a"],
        [20, None, None, "2024-01-02T10:30:00", None, None, None],
        [30, None, "2024-07-01T09:00:00+02:00", None, "dog", 3, None],
    ]
    shown = table["metadata"]["display_value"]
    assert shown == [
        ["10", "0.5", "2024-01-01T09:00:00+01:00", "2024-01-01T09:00:00", "cat", "1", "a"],
        ["20", "NaN", "NaT", "2024-01-02T10:30:00", "NaN", "<NA>", "None"],
        ["30", "inf", "2024-07-01T09:00:00+02:00", "NaT", "dog", "3", "NaN"],
    ]
    # the same texts pandas prints for the missing cells
    printed = df.to_string()
    for text in ("NaN", "NaT", "<NA>", "None", "inf"):
        assert text in printed
    # gr.DataFrame keeps values and texts as they are on the way to the page
    sent = orjson.loads(orjson.dumps(gr.DataFrame().postprocess(table).model_dump()))
    assert sent["headers"] == table["headers"] and sent["data"] == table["data"]
    assert sent["metadata"]["display_value"] == shown


def test_dataframe_value_without_index_or_dtypes_and_other_inputs() -> None:
    df = frame()
    plain = dataframe_value(df, index=False, dtypes=False)
    assert plain["headers"] == ["score", "at", "naive", "label", "count", "note"]
    assert dataframe_value(df.reset_index())["headers"][0] == "id (int64)"  # a column now, no index column
    assert dataframe_value(df.reset_index(drop=True))["headers"][0] == "score (float32)"
    series = dataframe_value(pd.Series([1.5, None], name="x", dtype="Float64"))
    assert series["headers"] == ["x (Float64)"] and series["metadata"]["display_value"] == [["1.5"], ["<NA>"]]
    array = dataframe_value(np.array([[1, 2], [3, 4]], dtype=np.uint8))
    assert array["headers"] == ["0 (uint8)", "1 (uint8)"] and array["data"] == [[1, 2], [3, 4]]
    column = dataframe_value(np.array([0.5, np.nan], dtype=np.float32))
    assert column["data"] == [[0.5], [None]] and column["metadata"]["display_value"] == [["0.5"], ["NaN"]]
    records = dataframe_value([{"a": 1, "b": "x"}, {"a": 2, "b": None}])
    assert records["headers"] == ["a (int64)", f"b ({pd.Series(['x', None]).dtype})"]
    assert records["data"] == [[1, "x"], [2, None]]
    multi = dataframe_value(pd.DataFrame({"v": [1.0]}, index=pd.MultiIndex.from_tuples([("a", 1)], names=["k", None])))
    assert multi["headers"] == [f"k ({pd.Index(['a']).dtype})", "level_1 (int64)", "v (float64)"]
    assert multi["data"] == [["a", 1, 1.0]]


def test_dataframe_value_refuses_what_is_not_a_table() -> None:
    with pytest.raises(SerializationError, match=r"a table needs a 1-D or 2-D array, got 3-D \(numpy.ndarray\)"):
        dataframe_value(np.zeros((2, 2, 2)))
    with pytest.raises(SerializationError, match=r"a table needs a DataFrame.*\(int\)"):
        dataframe_value(3)
    assert issubclass(SerializationError, ValueError)


def test_dataframe_component_types_columns_for_sorting() -> None:
    df = frame()
    component = dataframe(df, label="scores")
    assert isinstance(component, gr.DataFrame) and component.label == "scores"
    assert component.datatype == ["number", "number", "str", "str", "str", "number", "str"]
    assert component.interactive is False
    value = component.value  # what the page gets at load
    assert value["headers"][1] == "score (float32)"
    assert value["metadata"]["display_value"][1][1] == "NaN"
    assert dataframe(df, index=False, interactive=True).interactive is True


# --- read_upload --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Flower:
    petal_length: float
    petal_width: float


def test_read_upload_typed_round_trip(tmp_path: pathlib.Path) -> None:
    df = frame()
    payload = {
        "frame": df,
        "x": np.arange(6, dtype=np.float32).reshape(2, 3),
        "at": dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        "id": uuid.UUID(int=7),
        "shape": (2, 3),
    }
    path = tmp_path / "payload.json"
    path.write_text(datason.dumps(payload))
    gradio_file = gr.File().preprocess(gr.FileData(path=str(path), orig_name="payload.json"))  # what a handler gets
    for source in (gradio_file, str(path), path, path.read_bytes(), gr.FileData(path=str(path)), {"path": str(path)}):
        back = read_upload(source)
        pd.testing.assert_frame_equal(back["frame"], df, check_exact=True)
        assert back["x"].dtype == np.float32 and back["x"].shape == (2, 3) and (back["x"] == payload["x"]).all()
        assert back["at"] == payload["at"] and back["at"].utcoffset() == dt.timedelta(hours=-5)
        assert back["id"] == payload["id"] and back["shape"] == (2, 3)
    flowers = tmp_path / "flowers.json"
    flowers.write_text('[{"petal_length": 1.4, "petal_width": 0.2}]')
    assert read_upload(str(flowers), type=list[Flower]) == [Flower(1.4, 0.2)]


def test_read_upload_bad_files_name_the_file_not_the_content(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"secret": "hunter2", "w": [1, 2,')
    with pytest.raises(DeserializationError) as caught:
        read_upload(str(broken))
    message = str(caught.value)
    assert message.startswith("broken.json: invalid JSON:") and message.endswith("at $.w[2]")
    assert "hunter2" not in message and str(tmp_path) not in message
    with pytest.raises(DeserializationError, match=r"^no file was uploaded"):
        read_upload(None)
    with pytest.raises(DeserializationError, match=r"^gone\.json: cannot be read \(No such file or directory\)"):
        read_upload(str(tmp_path / "gone.json"))
    big = tmp_path / "big.json"
    big.write_text("[" + "1," * 100 + "1]")
    with pytest.raises(SecurityError, match=r"^big\.json: file of 203 bytes is larger than max_bytes=100"):
        read_upload(str(big), config=datason.config.get_default_config().replace(max_bytes=100))
    wrong = tmp_path / "wrong.json"
    wrong.write_text('[{"petal_length": "long", "petal_width": 0.2}]')
    with pytest.raises(DeserializationError, match=r"^wrong\.json: ") as caught:
        read_upload(str(wrong), type=list[Flower])
    assert "$[0].petal_length" in str(caught.value)
    with pytest.raises(DeserializationError, match=r"not an uploaded file \(int\)"):
        read_upload(3)
    # every one of them is a ValueError: gr.Error(str(exc)) shows it on the page
    assert issubclass(DeserializationError, ValueError) and issubclass(SecurityError, ValueError)
