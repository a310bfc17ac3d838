"""datason.integrations.streamlit: ML objects in st.json / st.dataframe as they are, uploads read typed.

The pure parts (``display_json``, ``display_frame``, ``read_upload``) are checked value by value; the drawing
parts run in real Streamlit scripts under ``streamlit.testing.v1.AppTest`` and are compared with what plain
``st.json`` / ``st.dataframe`` make of the same objects (the losses this module exists for). The docs page's
python blocks run here too (Streamlit scripts through AppTest, the rest as they are).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import pathlib
import re
import sys
import types
import uuid
import zoneinfo
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import datason
from datason.integrations.streamlit import display_frame, display_json, read_upload

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "integrations" / "streamlit.md"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def frame_with_gaps() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "at": pd.DatetimeIndex(["2024-03-31 01:30", None, "2024-03-31 03:30"]).tz_localize(PARIS),
            "naive": pd.to_datetime(["2024-01-02", None, "2024-01-04"]),
            "score": np.array([0.1, np.nan, 2.5], dtype=np.float32),
            "x": [1.5, np.nan, np.inf],
            "count": pd.array([1, None, 3], dtype="Int64"),
            "label": pd.Categorical(["cat", None, "dog"]),
            "wait": pd.to_timedelta(["1h", None, "90s"]),
            "big": np.array([2**60 + 1, 0, -(2**60) - 1], dtype=np.int64),
            "n": np.array([1, 2, 3], dtype=np.int32),
            "ok": [True, False, True],
            "name": ["a", "b", "c"],
            "y": [0.25, 0.5, 1.0],
        },
        index=pd.Index([10, 20, 30], name="id"),
    )


# --- display_json ------------------------------------------------------------------------------------------------
def test_display_json_shows_values_plain_json_hides() -> None:
    obj = {
        "zeta": 1,
        "probs": np.array([0.25, np.nan, np.inf], dtype=np.float32),
        "stamps": np.array(["2024-01-02T03:04:05", "NaT"], dtype="datetime64[s]"),
        "missing": pd.NaT,
        "na": pd.NA,
        "at": pd.Timestamp("2024-06-01 12:00", tz="Europe/Paris"),
        "offset": dt.datetime(2024, 1, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
        "big": np.int64(2**60 + 1),
        "ids": [uuid.UUID(int=7)],
        "price": decimal.Decimal("19.90"),
        "alpha": float("-inf"),
    }
    text = display_json(obj)
    data = json.loads(text)  # strict JSON: no bare NaN tokens
    assert list(data) == list(obj)  # the dict's own key order, not sorted
    assert data["probs"] == [0.25, "NaN", "Infinity"]
    assert data["stamps"] == ["2024-01-02T03:04:05", "NaT"]
    assert data["missing"] == "NaT" and data["na"] == "NA"
    assert data["at"] == "2024-06-01T12:00:00+02:00"  # the zone's offset kept, not converted to UTC
    assert data["offset"] == "2024-01-01T09:30:00+05:30"
    assert data["big"] == str(2**60 + 1)  # exact, where a JavaScript number would round it
    assert data["ids"] == ["00000000-0000-0000-0000-000000000007"]
    assert data["price"] == "19.90" and data["alpha"] == "-Infinity"
    assert "array(" not in text and "Timestamp(" not in text


def test_display_json_frames_keep_nat_nan_and_zones() -> None:
    records = json.loads(display_json(frame_with_gaps()))
    assert records[0]["at"] == "2024-03-31T01:30:00+01:00" and records[2]["at"] == "2024-03-31T03:30:00+02:00"
    assert records[1]["at"] == "NaT" and records[1]["naive"] == "NaT"
    assert records[1]["x"] == "NaN" and records[2]["x"] == "Infinity" and records[1]["count"] == "NA"
    assert records[0]["big"] == str(2**60 + 1) and records[2]["big"] == str(-(2**60) - 1)
    assert records[0]["score"] == 0.1  # float32 with its own shortest digits, not 0.10000000149011612


def test_display_json_typed_is_the_exact_document() -> None:
    obj = {"probs": np.array([0.25, np.nan], dtype=np.float32), "frame": frame_with_gaps()}
    text = display_json(obj, typed=True)
    assert '"dtype":"<f4"' in text and "Europe/Paris" in text
    back = datason.loads(text)
    assert back["probs"].dtype == np.float32 and np.isnan(back["probs"][1])
    pd.testing.assert_frame_equal(back["frame"], obj["frame"], check_exact=True)


# --- display_frame -----------------------------------------------------------------------------------------------
def test_display_frame_cells_are_what_they_are() -> None:
    shown, dtypes = display_frame(frame_with_gaps())
    assert list(shown.index) == [10, 20, 30] and shown.index.name == "id"
    assert dtypes["at"] == "datetime64[us, Europe/Paris]" or dtypes["at"].endswith(", Europe/Paris]")
    assert dtypes["score"] == "float32" and dtypes["count"] == "Int64" and dtypes["label"] == "category"
    assert list(shown["at"]) == ["2024-03-31T01:30:00+01:00", "NaT", "2024-03-31T03:30:00+02:00"]
    assert list(shown["naive"]) == ["2024-01-02T00:00:00", "NaT", "2024-01-04T00:00:00"]
    assert list(shown["score"]) == ["0.1", "NaN", "2.5"]
    assert list(shown["x"]) == ["1.5", "NaN", "inf"]
    assert list(shown["count"]) == ["1", "<NA>", "3"]
    assert list(shown["label"]) == ["cat", "NaN", "dog"]
    assert list(shown["wait"]) == ["0 days 01:00:00", "NaT", "0 days 00:01:30"]
    assert list(shown["big"]) == [str(2**60 + 1), "0", str(-(2**60) - 1)]
    # what Arrow and the grid show exactly stays as it is, dtype and all
    assert shown["n"].dtype == np.int32 and shown["ok"].dtype == bool and shown["y"].dtype == np.float64
    assert list(shown["name"]) == ["a", "b", "c"]


def test_display_frame_takes_series_arrays_records_and_polars() -> None:
    import polars as pl

    series = pd.Series(pd.date_range("2024-01-01", periods=2, tz="UTC"), name="t")
    shown, dtypes = display_frame(series)
    assert list(shown["t"]) == ["2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00"]
    assert dtypes == {"t": str(series.dtype)}
    shown, _ = display_frame(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert shown.shape == (2, 3) and list(shown) == ["0", "1", "2"] and shown["0"].dtype == np.int16
    shown, dtypes = display_frame(np.array([(1, 2.5)], dtype=[("a", "<i8"), ("b", "<f4")]))
    assert dtypes == {"a": "int64", "b": "float32"} and list(shown["b"]) == ["2.5"]
    shown, _ = display_frame([{"id": uuid.UUID(int=1), "v": {"nested": [1, 2]}}])
    assert list(shown["id"]) == ["00000000-0000-0000-0000-000000000001"]
    assert list(shown["v"]) == ['{"nested":[1,2]}']  # datason's plain JSON, not a repr
    shown, dtypes = display_frame(pl.DataFrame({"x": [1.0, None]}))
    assert list(shown["x"]) == ["1.0", "NaN"] and dtypes == {"x": "float64"}
    with pytest.raises(datason.SerializationError, match=r"1-D or 2-D arrays, got 3-D"):
        display_frame(np.zeros((2, 2, 2)))
    with pytest.raises(datason.SerializationError, match="takes a DataFrame"):
        display_frame(object())


# --- read_upload -------------------------------------------------------------------------------------------------
class Upload(io.BytesIO):
    """A file object with a name, as st.file_uploader hands one over."""

    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(data)
        self.name = name


def test_read_upload_brings_typed_documents_back_typed() -> None:
    value = {"weights": np.arange(4, dtype=np.float32), "frame": frame_with_gaps(), "id": uuid.UUID(int=9)}
    back = read_upload(Upload("model.json", datason.dumps(value).encode()))
    assert back["weights"].dtype == np.float32 and back["weights"].tolist() == [0.0, 1.0, 2.0, 3.0]
    pd.testing.assert_frame_equal(back["frame"], value["frame"], check_exact=True)
    assert back["id"] == uuid.UUID(int=9)
    assert read_upload(b'{"a": [1, 2]}') == {"a": [1, 2]}


def test_read_upload_into_a_declared_type() -> None:
    import pydantic

    class Flower(pydantic.BaseModel):
        petal_length: float = pydantic.Field(gt=0)

    assert read_upload(Upload("f.json", b'{"petal_length": 1.5}'), type=Flower) == Flower(petal_length=1.5)
    with pytest.raises(ValueError, match=r"f\.json") as info:
        read_upload(Upload("f.json", b'{"petal_length": -1}'), type=Flower)
    assert isinstance(info.value, datason.DeserializationError)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", datason.DeserializationError, r"^bad\.json is empty: expected a JSON document at \$$"),
        (b'{"a": [1, 2', datason.DeserializationError, r"^bad\.json is not a document datason can read: .* at \$"),
        (b"\xff\xfe\x00garbage", datason.DeserializationError, r"^bad\.json is not a document datason can read"),
        (b"[" * 10_000, datason.SecurityError, r"^bad\.json is not a document datason can read: .*"),
    ],
)
def test_read_upload_bad_files_are_clear_errors(data: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        read_upload(Upload("bad.json", data))
    assert "Traceback" not in str(info.value) and "\n" not in str(info.value)


# --- in Streamlit (AppTest) --------------------------------------------------------------------------------------
def helpers_app() -> None:
    import numpy as np
    import pandas as pd
    import streamlit as st

    from datason.integrations.streamlit import show_dataframe, show_json

    frame = pd.DataFrame(
        {
            "at": pd.DatetimeIndex(["2024-06-01 12:00", None]).tz_localize("Europe/Paris"),
            "score": np.array([0.5, np.nan], dtype=np.float32),
        }
    )
    st.json({"probs": np.array([0.5, 0.25], dtype=np.float32)})  # Streamlit's own: the repr
    show_json({"probs": np.array([0.5, 0.25], dtype=np.float32), "at": frame["at"][0], "gap": pd.NaT})
    show_json(np.array([1, 2], dtype=np.int8), typed=True)
    st.dataframe(frame)  # Streamlit's own
    show_dataframe(frame, key="mine")


def test_show_json_and_show_dataframe_in_a_streamlit_script() -> None:
    at = AppTest.from_function(helpers_app, default_timeout=60).run()
    assert not at.exception, at.exception
    plain, mine, typed = (element.value for element in at.json)
    assert "array(" in plain  # what st.json alone makes of an ndarray
    assert json.loads(mine) == {"probs": [0.5, 0.25], "at": "2024-06-01T12:00:00+02:00", "gap": "NaT"}
    assert datason.loads(typed).dtype == np.int8
    own, shown = at.dataframe
    assert own.value["score"].isna().tolist() == [False, True]  # Arrow makes the NaN a null: shown "None"
    assert shown.value["at"].tolist() == ["2024-06-01T12:00:00+02:00", "NaT"]
    assert shown.value["score"].tolist() == ["0.5", "NaN"]
    labels = {c["label"] for c in json.loads(shown.proto.columns).values() if "label" in c}
    assert labels == {"at (datetime64[us, Europe/Paris])", "score (float32)"} or labels == {
        "at (datetime64[ns, Europe/Paris])",
        "score (float32)",
    }


def upload_app() -> None:
    import streamlit as st

    from datason.integrations.streamlit import show_json, upload_json

    value = upload_json("Features", key="features")
    if value is not None:
        st.write(type(value["x"]).__module__ + "." + type(value["x"]).__name__, str(value["x"].dtype))
        show_json(value, typed=True)


def test_upload_json_typed_file_and_bad_file_on_the_page() -> None:
    at = AppTest.from_function(upload_app, default_timeout=60).run()
    assert not at.exception and not at.error and not at.json
    typed = datason.dumps({"x": np.array([1.5, 2.5], dtype=np.float32)}).encode()
    at.file_uploader(key="features").upload("features.json", typed, "application/json").run()
    assert not at.exception and not at.error
    assert [m.value for m in at.markdown] == ["numpy.ndarray float32"]
    assert datason.loads(at.json[0].value)["x"].dtype == np.float32
    at.file_uploader(key="features").upload("broken.json", b'{"x": [1.5,', "application/json").run()
    assert not at.exception and not at.json
    (error,) = at.error
    assert re.match(r"broken\.json is not a document datason can read: invalid JSON", error.value)


# --- the docs page -----------------------------------------------------------------------------------------------
def _doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), re.S | re.M)


def test_docs_python_blocks_run(monkeypatch: pytest.MonkeyPatch, reference_service: Any) -> None:
    """Streamlit scripts run under AppTest (no exception, no error on the page); other blocks as they are."""
    blocks = _doc_blocks()
    assert len(blocks) >= 3
    monkeypatch.setenv("SERVICE_URL", reference_service.url)
    for i, code in enumerate(blocks):
        if "import streamlit as st" in code:
            at = AppTest.from_string(code, default_timeout=60).run()
            assert not at.exception, (i, at.exception)
            assert not at.error, (i, [e.value for e in at.error])
            continue
        module = types.ModuleType(f"docs_streamlit_{i}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(code, f"{DOCS.name}#{i}", "exec"), module.__dict__)
