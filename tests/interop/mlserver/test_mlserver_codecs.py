"""Open Inference Protocol v2 against MLServer 1.7.1's codecs and pydantic types, both ways (REST JSON: MLServer
has no binary extension on REST).

- MLServer encodes (``NumpyCodec``, ``NumpyRequestCodec``, ``StringCodec``/``StringRequestCodec``,
  ``Base64Codec``, ``DatetimeCodec``, ``PandasCodec.encode_request``/``encode_response``), ``model_dump_json()``
  is the body, ``datason.protocols.oip`` decodes it: the same values and dtypes as MLServer's own decoders
  (where MLServer itself is exact).
- datason encodes, ``InferenceRequest``/``InferenceResponse.model_validate_json`` accept the body, and MLServer's
  decoders (the codecs, and ``decode_inference_request``: what ``MLModel.decode_request`` runs, choosing codecs
  by content type) give the same values.
- What MLServer loses (datetime64 / pandas ``string`` / ``category`` columns it cannot encode, 1-D arrays
  turned into ``(N, 1)``, the index, complex): datason keeps it between datason peers, and MLServer still reads
  datason's plain tensors (or the test pins exactly how it fails).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlserver.codecs import (
    Base64Codec,
    DatetimeCodec,
    NumpyCodec,
    NumpyRequestCodec,
    PandasCodec,
    StringCodec,
    StringRequestCodec,
)
from mlserver.codecs.utils import decode_inference_request, decode_request_input
from mlserver.types import InferenceRequest, InferenceResponse

from datason.errors import DeserializationError
from datason.protocols import oip
from tests.interop.helpers import assert_array_exact, assert_frame_exact

ARRAYS: dict[str, np.ndarray] = {
    "fp32-2d": np.array([[1.5, -0.0, 0.1], [3.4028235e38, 1e-45, -7.25]], dtype=np.float32),
    "fp64-2d": np.array([[0.1, -0.0], [1e308, 5e-324]]),
    "fp16-2d": np.array([[0.1, -0.0], [65504.0, 6e-8]], dtype=np.float16),
    "int64-2d": np.array([[2**63 - 1, -(2**63)], [2**53 + 1, 0]], dtype=np.int64),
    "int32-3d": np.arange(-12, 12, dtype=np.int32).reshape(2, 3, 4),
    "uint8-2d": np.array([[0, 255], [128, 7]], dtype=np.uint8),
    "uint64-2d": np.array([[2**64 - 1], [2**53 + 1]], dtype=np.uint64),
    "bool-2d": np.array([[True, False, True], [False, True, False]]),
}


def _request_json(*inputs: Any, **kw: Any) -> bytes:
    return InferenceRequest(inputs=list(inputs), **kw).model_dump_json().encode()


def _mlserver_request(body: bytes) -> InferenceRequest:
    return InferenceRequest.model_validate_json(body)


# --- MLServer encodes, datason decodes ----------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_numpy_codec_datason_decodes_what_mlserver_decodes(case: str) -> None:
    arr = ARRAYS[case]
    body = _request_json(NumpyCodec.encode_input("x", arr))
    mine = oip.decode_request(body)
    assert mine.inputs[0].parameters.get("content_type") == "np"
    assert_array_exact(mine.value, arr)
    assert_array_exact(NumpyCodec.decode_input(_mlserver_request(body).inputs[0]), arr)  # MLServer exact too


def test_numpy_codec_nan_as_null_both_read_nan() -> None:
    arr = np.array([[1.5, np.nan], [np.nan, -0.0]], dtype=np.float32)
    body = _request_json(NumpyCodec.encode_input("x", arr))
    assert b"null" in body
    assert_array_exact(oip.decode_request(body).value, arr)
    assert_array_exact(NumpyCodec.decode_input(_mlserver_request(body).inputs[0]), arr)


def test_numpy_codec_1d_becomes_n_by_1_mlserver_loss() -> None:
    """MLServer's loss: ``inject_batch_dimension`` writes shape (N,) as [N, 1]; both sides then read (N, 1)."""
    arr = np.array([1, 2, 3], dtype=np.int64)
    body = _request_json(NumpyCodec.encode_input("x", arr))
    assert _mlserver_request(body).inputs[0].shape == [3, 1]
    assert_array_exact(oip.decode_request(body).value, arr.reshape(3, 1))
    assert_array_exact(NumpyCodec.decode_input(_mlserver_request(body).inputs[0]), arr.reshape(3, 1))


def test_numpy_request_codec_datason_decodes() -> None:
    arr = ARRAYS["int32-3d"]
    body = NumpyRequestCodec.encode_request(arr).model_dump_json().encode()
    decoded = oip.decode_request(body)
    assert decoded.parameters["content_type"] == "np"
    assert_array_exact(decoded.value, arr)
    assert_array_exact(NumpyRequestCodec.decode_request(_mlserver_request(body)), arr)


def test_numpy_codec_fixed_width_bytes_blob_datason_refuses() -> None:
    """MLServer packs an ``S`` array into one ``tobytes()`` blob under shape [N, 1] and unpacks it by the last
    dimension; by the protocol's rules (one element per item) that is a shape mismatch, which datason names."""
    arr = np.array([b"a", b"bc"])
    body = _request_json(NumpyCodec.encode_input("b", arr))
    assert _mlserver_request(body).inputs[0].shape == [2, 1]
    with pytest.raises(DeserializationError, match=r"inputs\[0\]\.data"):
        oip.decode_request(body)


@pytest.mark.parametrize("use_bytes", [True, False])
def test_string_codecs_datason_decodes_str(use_bytes: bool) -> None:
    words = ["h\u00e9", "x", "", "\u2603 snow"]
    want = np.array(words, dtype=np.object_).reshape(4, 1)
    body = StringRequestCodec.encode_request(words, use_bytes=use_bytes).model_dump_json().encode()
    assert_array_exact(oip.decode_request(body).value, want)
    assert StringRequestCodec.decode_request(_mlserver_request(body)) == words
    body = _request_json(StringCodec.encode_input("s", words, use_bytes=use_bytes))
    assert_array_exact(oip.decode_request(body).value, want)


def test_base64_codec_datason_decodes_bytes() -> None:
    blobs = [b"\x00\xff\xfe", b"hi", b""]
    body = _request_json(Base64Codec.encode_input("b", blobs))
    assert_array_exact(oip.decode_request(body).value, np.array(blobs, dtype=np.object_).reshape(3, 1))
    assert Base64Codec.decode_input(_mlserver_request(body).inputs[0]) == blobs


def test_datetime_codec_datason_decodes_datetimes() -> None:
    when = [
        dt.datetime(2024, 1, 2, 3, 4, 5, 6),
        dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    ]
    body = _request_json(DatetimeCodec.encode_input("d", when))
    got = oip.decode_request(body).value
    assert got.shape == (3, 1) and got.dtype == np.object_
    for g, w in zip(got.ravel().tolist(), when, strict=True):
        assert g == w and g.utcoffset() == w.utcoffset()
    assert DatetimeCodec.decode_input(_mlserver_request(body).inputs[0]) == when


def _plain_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i32": np.array([1, -2, 3], dtype=np.int32),
            "i64": np.array([2**62, 0, -1], dtype=np.int64),
            "f": [1.5, np.nan, -0.0],
            "b": [True, False, True],
            "s": pd.Series(["a", "\u00e9", ""], dtype=object),
        }
    )


@pytest.mark.parametrize("use_bytes", [True, False])
def test_pandas_codec_request_datason_decodes_what_mlserver_decodes(use_bytes: bool) -> None:
    df = _plain_frame()
    body = PandasCodec.encode_request(df, use_bytes=use_bytes).model_dump_json().encode()
    mine = oip.decode_request(body).value
    theirs = PandasCodec.decode_request(_mlserver_request(body))
    assert_frame_exact(mine, theirs)
    for column in ("i32", "i64", "f", "b"):  # exact where MLServer is
        assert_array_exact(mine[column].to_numpy(), df[column].to_numpy())
    assert mine["s"].tolist() == df["s"].tolist()


def test_pandas_codec_response_datason_decodes() -> None:
    df = _plain_frame().drop(columns="s")
    body = PandasCodec.encode_response("m", df, model_version="2").model_dump_json().encode()
    decoded = oip.decode_response(body)
    assert (decoded.model_name, decoded.model_version) == ("m", "2")
    assert_frame_exact(decoded.value, df)


def test_numpy_response_datason_decodes() -> None:
    arr = ARRAYS["fp32-2d"]
    body = NumpyRequestCodec.encode_response("m", arr).model_dump_json().encode()
    assert_array_exact(oip.decode_response(body).value, arr)


# --- datason encodes, MLServer decodes ----------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_datason_request_mlserver_numpy_codec_exact(case: str) -> None:
    arr = ARRAYS[case]
    body = oip.encode_request({"x": arr}).body
    request = _mlserver_request(body)
    assert request.inputs[0].shape == list(arr.shape)
    assert_array_exact(NumpyCodec.decode_input(request.inputs[0]), arr)


def test_datason_1d_request_mlserver_keeps_1d() -> None:
    arr = np.array([0.5, -1.5, 2.0])
    request = _mlserver_request(oip.encode_request({"x": arr}).body)
    assert_array_exact(NumpyCodec.decode_input(request.inputs[0]), arr)  # datason writes [3]; MLServer reads (3,)


@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_datason_response_mlserver_decodes_exact(case: str) -> None:
    arr = ARRAYS[case]
    body = oip.encode_response({"y": arr}, model_name="m", model_version="1", id="r").body
    response = InferenceResponse.model_validate_json(body)
    assert (response.model_name, response.model_version, response.id) == ("m", "1", "r")
    assert_array_exact(NumpyCodec.decode_output(response.outputs[0]), arr)


def test_datason_frame_request_mlserver_pandas_codec() -> None:
    df = _plain_frame()
    body = oip.encode_request(df).body
    request = _mlserver_request(body)
    assert request.parameters is not None and request.parameters.content_type == "pd"
    theirs = PandasCodec.decode_request(request)
    for column in ("i32", "i64", "f", "b"):
        assert_array_exact(theirs[column].to_numpy(), df[column].to_numpy())
    assert theirs["s"].tolist() == df["s"].tolist()
    # MLModel.decode_request's path (content types first, then the request codec) gives the same frame.
    assert_frame_exact(decode_inference_request(_mlserver_request(body)), theirs)
    # And datason's own decoder gives the original frame back, object dtype included.
    assert_frame_exact(oip.decode_request(body).value, df)


def test_datason_frame_response_mlserver_pandas_codec() -> None:
    df = _plain_frame().drop(columns="s")
    body = oip.encode_response(df, model_name="m", id="r").body
    response = InferenceResponse.model_validate_json(body)
    assert_frame_exact(PandasCodec.decode_response(response), df)


def test_datason_str_bytes_datetime_inputs_mlserver_content_type_codecs() -> None:
    words = np.array(["h\u00e9", "x"], dtype=np.object_)
    blobs = np.array([b"\x00\xff", b"\x80"], dtype=np.object_)  # not UTF-8: base64
    when = np.array(["2024-01-02T03:04:05.123456", "1970-01-01T00:00:00"], dtype="datetime64[us]")
    body = oip.encode_request({"w": words, "b": blobs, "t": when}).body
    request = _mlserver_request(body)
    cts = [i.parameters.content_type if i.parameters else None for i in request.inputs]
    assert cts == ["str", "base64", "datetime"]
    assert decode_request_input(request.inputs[0]) == ["h\u00e9", "x"]
    assert decode_request_input(request.inputs[1]) == [b"\x00\xff", b"\x80"]
    assert decode_request_input(request.inputs[2]) == [
        dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        dt.datetime(1970, 1, 1),
    ]


def test_datason_utf8_bytes_are_text_mlserver_reads_str() -> None:
    """UTF-8 ``bytes`` go as their text with no content type; MLServer's NumpyCodec reads a ``str`` array."""
    blobs = np.array([b"abc", b"d"], dtype=np.object_)
    request = _mlserver_request(oip.encode_request({"b": blobs}).body)
    assert request.inputs[0].parameters is None or request.inputs[0].parameters.content_type is None
    assert_array_exact(NumpyCodec.decode_input(request.inputs[0]), np.array(["abc", "d"]))


# --- MLServer's losses; datason keeps them between datason peers ----------------------------------------------


def test_datetime64_column_mlserver_cannot_encode_datason_keeps() -> None:
    df = pd.DataFrame({"t": pd.to_datetime(["2024-01-01T00:00:00", "2024-06-30T12:34:56.789"], format="ISO8601")})
    with pytest.raises(KeyError, match="M"):
        PandasCodec.encode_request(df)
    body = oip.encode_request(df).body
    assert_frame_exact(oip.decode_request(body).value, df)
    # MLServer reads datason's column through its DatetimeCodec (content type "datetime").
    theirs = decode_inference_request(_mlserver_request(body))
    assert [pd.Timestamp(v) for v in theirs["t"]] == df["t"].tolist()


@pytest.mark.parametrize(
    "column",
    [pd.array(["x", None, "z"], dtype="string"), pd.Series(["x", None, "z"])],
    ids=["string-dtype-with-NA", "pandas3-default-str"],
)
def test_pandas_string_column_mlserver_cannot_encode_datason_keeps(column: Any) -> None:
    """pandas ``string`` columns and pandas 3's default ``str`` columns (python storage here: no pyarrow in
    this venv): MLServer's PandasCodec raises KeyError (SeldonIO/MLServer#1313); datason keeps the dtype."""
    df = pd.DataFrame({"s": column})
    assert isinstance(df["s"].dtype, pd.StringDtype)
    with pytest.raises(KeyError):
        PandasCodec.encode_request(df)
    body = oip.encode_request(df).body
    assert_frame_exact(oip.decode_request(body).value, df)
    theirs = PandasCodec.decode_request(_mlserver_request(body))
    assert theirs["s"].tolist()[0] == "x" and theirs["s"].tolist()[2] == "z" and pd.isna(theirs["s"].tolist()[1])


def test_category_column_mlserver_cannot_encode_datason_keeps() -> None:
    df = pd.DataFrame({"c": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "mid", "hi"], ordered=True)})
    with pytest.raises(KeyError):
        PandasCodec.encode_request(df)
    body = oip.encode_request(df).body
    back = oip.decode_request(body).value
    assert_frame_exact(back, df)
    assert back["c"].cat.categories.tolist() == ["lo", "mid", "hi"] and back["c"].cat.ordered
    theirs = PandasCodec.decode_request(_mlserver_request(body))
    assert theirs["c"].tolist() == ["lo", "hi", "lo"]  # MLServer sees the labels


def test_index_mlserver_drops_datason_keeps() -> None:
    df = pd.DataFrame({"v": [1.5, 2.5]}, index=pd.Index(["a", "b"], name="key"))
    body = oip.encode_request(df).body
    assert_frame_exact(oip.decode_request(body).value, df)
    theirs = PandasCodec.decode_request(_mlserver_request(body))
    assert theirs.index.tolist() == [0, 1]
    assert_array_exact(theirs["v"].to_numpy(), df["v"].to_numpy())


def test_1d_array_mlserver_reshapes_datason_keeps() -> None:
    arr = np.array([1.5, 2.5], dtype=np.float32)
    assert NumpyCodec.encode_input("x", arr).shape == [2, 1]
    assert_array_exact(oip.decode_request(oip.encode_request({"x": arr}).body).value, arr)


def test_complex_mlserver_cannot_encode_datason_pairs() -> None:
    arr = np.array([complex(1, 2), complex(-0.5, -0.0)], dtype=np.complex128)
    with pytest.raises(KeyError):
        NumpyCodec.encode_input("c", arr)
    body = oip.encode_request({"c": arr}).body
    assert_array_exact(oip.decode_request(body).value, arr)
    theirs = NumpyCodec.decode_input(_mlserver_request(body).inputs[0])
    assert_array_exact(theirs, np.array([[1.0, 2.0], [-0.5, -0.0]]))  # MLServer sees (real, imag) pairs


def test_mlserver_own_pandas_roundtrip_loses_what_datason_keeps() -> None:
    """Side by side on one frame MLServer can encode: MLServer's round trip drops the index and int32 stays;
    datason's keeps everything."""
    df = _plain_frame().set_axis(pd.Index([7, 8, 9]), axis=0)
    theirs = PandasCodec.decode_request(_mlserver_request(PandasCodec.encode_request(df).model_dump_json().encode()))
    assert theirs.index.tolist() == [0, 1, 2]
    assert_frame_exact(oip.decode_request(oip.encode_request(df).body).value, df)
