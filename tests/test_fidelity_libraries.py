"""The fidelity matrix, continued for the optional libraries: one row per tag family, both walkers.

Each row builds a value, round-trips it through ``dumps``/``loads`` and through
``serialize``/``json``/``deserialize``, checks the text is strict JSON, and compares with the
library's own exact equality (dtype, index, bits). The handlers' own test files go deeper.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import polars.testing
import pyarrow as pa
import pydantic
import pytest
import scipy.sparse as sp
import torch
from PIL import Image
from sklearn.linear_model import LinearRegression

import datason
from datason.config import SerializationConfig

from .conftest import strict_json


class Point(pydantic.BaseModel):
    x: float
    label: str


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "f": np.array([1.5, np.nan], dtype=np.float32),
            "c": pd.Categorical(["a", "b"], ordered=True),
            "t": pd.to_datetime(["2024-01-01", None]).tz_localize("Asia/Tokyo"),
            "n": pd.array([1, None], dtype="Int64"),
        },
        index=pd.MultiIndex.from_tuples([(1, "x"), (2, "y")], names=["i", "k"]),
    )


def _image() -> Image.Image:
    img = Image.new("RGBA", (3, 2), (10, 20, 30, 40))
    img.putpixel((1, 1), (255, 0, 0, 128))
    return img


def _same_tensor(a: Any, b: Any) -> None:
    assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
    assert torch.equal(a.detach().view(torch.uint8), b.detach().view(torch.uint8))


def _same_sparse(a: Any, b: Any) -> None:
    assert type(a) is type(b) and a.format == b.format and a.shape == b.shape and a.dtype == b.dtype
    assert a.toarray().tobytes() == b.toarray().tobytes()


def _same_image(a: Any, b: Any) -> None:
    assert (a.mode, a.size, a.tobytes()) == (b.mode, b.size, b.tobytes())


def _same_estimator(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    x = np.arange(6, dtype=float).reshape(3, 2)
    assert a.predict(x).tobytes() == b.predict(x).tobytes()


# (name, build, compare(got, want), config)
ROWS: list[tuple[str, Callable[[], Any], Callable[[Any, Any], None], SerializationConfig | None]] = [
    (
        "numpy-f32",
        lambda: np.array([[0.1, -0.0], [np.nan, np.inf]], dtype=np.float32),
        lambda a, b: (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()) or pytest.fail(),
        None,
    ),
    (
        "numpy-datetime64",
        lambda: np.array(["2024-01-01T00:00:00.123456789", "NaT"], dtype="M8[ns]"),
        lambda a, b: (a.dtype == b.dtype and a.tobytes() == b.tobytes()) or pytest.fail(),
        None,
    ),
    ("numpy-scalar", lambda: np.int16(-7), lambda a, b: (type(a) is type(b) and a == b) or pytest.fail(), None),
    ("pandas-frame", _frame, lambda a, b: pd.testing.assert_frame_equal(a, b, check_exact=True), None),
    (
        "pandas-series",
        lambda: pd.Series([1, 2], index=pd.period_range("2024-01", periods=2, freq="M"), name="s"),
        lambda a, b: pd.testing.assert_series_equal(a, b, check_exact=True),
        None,
    ),
    ("torch-bf16", lambda: torch.tensor([[1.5, -2.0]], dtype=torch.bfloat16, requires_grad=True), _same_tensor, None),
    ("torch-int8", lambda: torch.arange(6, dtype=torch.int8).reshape(2, 3).t(), _same_tensor, None),
    ("scipy-csr", lambda: sp.csr_matrix(np.array([[0, 2.5], [3, 0]])), _same_sparse, None),
    ("scipy-dok-array", lambda: sp.dok_array(np.eye(3, dtype=np.int32)), _same_sparse, None),
    (
        "arrow-table",
        lambda: pa.table({"a": [1, None], "b": ["x", "y"]}, metadata={"k": "v"}),
        lambda a, b: (a.equals(b, check_metadata=True) and a.schema == b.schema) or pytest.fail(),
        None,
    ),
    (
        "polars-frame",
        lambda: pl.DataFrame({"a": [1, None], "e": pl.Series(["x", "y"], dtype=pl.Enum(["y", "x"]))}),
        lambda a, b: pl.testing.assert_frame_equal(a, b, categorical_as_str=False),
        None,
    ),
    ("pil-image", _image, _same_image, None),
    (
        "sklearn",
        lambda: LinearRegression().fit(np.arange(6.0).reshape(3, 2), [1.0, 2.0, 4.0]),
        _same_estimator,
        SerializationConfig(trusted_types=("sklearn.linear_model._base.LinearRegression",)),
    ),
]


@pytest.mark.parametrize(("name", "build", "same", "config"), ROWS, ids=[r[0] for r in ROWS])
def test_library_values_round_trip_exactly(
    name: str, build: Callable[[], Any], same: Callable[[Any, Any], None], config: Any, walker: str
) -> None:
    value = build()
    text = datason.dumps(value, config)
    strict_json(text)
    same(datason.loads(text, config), value)
    same(datason.loads(io.BytesIO(text.encode()).read(), config), value)
    tree = json.loads(json.dumps(datason.serialize(value, config), allow_nan=False))
    same(datason.deserialize(tree, config), value)


@pytest.mark.parametrize(("name", "build", "same", "config"), ROWS, ids=[r[0] for r in ROWS])
def test_library_values_plain_mode_is_strict_json(
    name: str, build: Callable[[], Any], same: Callable[[Any, Any], None], config: Any, walker: str
) -> None:
    text = datason.dumps(build(), datason.config.get_api_config())
    assert "__datason_type__" not in text
    strict_json(text)


def test_pydantic_models_plain_and_typed() -> None:
    text = datason.dumps([Point(x=1.5, label="a")], datason.config.get_api_config())
    assert json.loads(text) == [{"label": "a", "x": 1.5}]
    assert datason.loads(text, type=list[Point]) == [Point(x=1.5, label="a")]
    with pytest.raises(datason.DeserializationError) as info:
        datason.loads('[{"x": "not a number", "label": "a"}]', type=list[Point])
    assert info.value.path == "$[0].x"
