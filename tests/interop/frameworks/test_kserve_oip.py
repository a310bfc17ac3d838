"""Open Inference Protocol v2 against KServe 0.21's own types, both ways, JSON and binary:

- what KServe writes (``InferRequest.to_rest``, ``InferResponse.to_rest``, ``InferInput``/``InferOutput``
  ``.set_data_from_numpy(arr, binary_data=...)``) ``datason.protocols.oip`` decodes exactly;
- what datason writes KServe reads the way its server does (``InferRequest.from_bytes`` for binary bodies,
  the pydantic ``InferenceRequest`` + ``InferRequest.from_inference_request`` for JSON ones,
  ``InferResponse.from_bytes`` / ``from_rest``; ``as_numpy()``, ``as_dataframe()``, ``get_predict_input``);
- what `datason serve` answers on the v2 health/metadata routes validates against KServe's response models.

KServe's own losses are pinned where they show: ``from_bytes`` turns binary BYTES into ``str`` (and so fails
on bytes that are not UTF-8); ``as_dataframe`` widens int32/float32 columns and drops the index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from kserve import InferInput, InferOutput, InferRequest, InferResponse
from kserve.protocol.infer_type import RequestedOutput
from kserve.protocol.rest.v2_datamodels import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ServerLiveResponse,
    ServerMetadataResponse,
    ServerReadyResponse,
)
from kserve.utils.numpy_codec import from_np_dtype
from kserve.utils.utils import get_predict_input, get_predict_response

from datason.protocols import oip
from tests.interop.helpers import Server, assert_array_exact, get, post, strict_json

MODEL = "m"

ARRAYS: dict[str, np.ndarray] = {
    "fp32-2d": np.array([[1.5, -0.0, 0.1], [3.4028235e38, 1e-45, -7.25]], dtype=np.float32),
    "fp64-1d": np.array([0.1, -0.0, 1e308, 5e-324]),
    "int64-extremes": np.array([2**63 - 1, -(2**63), 2**53 + 1], dtype=np.int64),
    "int32-3d": np.arange(-12, 12, dtype=np.int32).reshape(2, 3, 4),
    "uint8-2d": np.array([[0, 255], [128, 7]], dtype=np.uint8),
    "int16-1d": np.array([-(2**15), 2**15 - 1], dtype=np.int16),
    "bool-2d": np.array([[True, False, True], [False, True, False]]),
}
BYTES_UTF8 = np.array([b"abc", "\u00fcn\u00ef\u2603".encode(), b"{}"], dtype=np.object_)
FP16 = np.array([[0.1, -0.0], [65504.0, 6e-8]], dtype=np.float16)
NONFINITE = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32)


def _kserve_input(name: str, arr: np.ndarray, binary: bool) -> InferInput:
    inp = InferInput(name=name, shape=list(arr.shape), datatype=from_np_dtype(arr.dtype))
    inp.set_data_from_numpy(arr, binary_data=binary)
    return inp


def _kserve_request_body(request: InferRequest) -> tuple[bytes, int | None]:
    body, json_length = request.to_rest()
    if json_length is None:
        return orjson.dumps(body), None
    return body, json_length


def _kserve_reads_request(body: bytes, header_length: int | None) -> InferRequest:
    """As KServe's server does: binary bodies through ``from_bytes``, JSON ones through its pydantic model."""
    if header_length is not None:
        return InferRequest.from_bytes(body, header_length, MODEL)
    return InferRequest.from_inference_request(InferenceRequest.model_validate_json(body), MODEL)


def _kserve_response_body(response: InferResponse) -> tuple[bytes, int | None]:
    body, json_length = response.to_rest()
    if json_length is None:
        return orjson.dumps(body), None
    return body, json_length


def _str_elements(arr: np.ndarray) -> np.ndarray:
    return np.array([b.decode() for b in arr.ravel()], dtype=np.object_).reshape(arr.shape)


# --- KServe writes, datason reads -------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_kserve_request_datason_decodes_exactly(case: str, binary: bool) -> None:
    arr = ARRAYS[case]
    request = InferRequest(model_name=MODEL, infer_inputs=[_kserve_input("x", arr, binary)], request_id="r-1")
    body, header_length = _kserve_request_body(request)
    assert (header_length is not None) is binary
    decoded = oip.decode_request(body, header_length=header_length)
    assert decoded.id == "r-1"
    assert [t.name for t in decoded.inputs] == ["x"]
    assert decoded.inputs[0].datatype == from_np_dtype(arr.dtype)
    assert_array_exact(decoded.value, arr)


def test_kserve_binary_fp16_and_nonfinite_datason_decodes_bits() -> None:
    inputs = [_kserve_input("h", FP16, True), _kserve_input("f", NONFINITE, True)]
    body, header_length = _kserve_request_body(InferRequest(model_name=MODEL, infer_inputs=inputs))
    decoded = oip.decode_request(body, header_length=header_length)
    assert set(decoded.value) == {"h", "f"}
    assert_array_exact(decoded.value["h"], FP16)
    assert_array_exact(decoded.value["f"], NONFINITE)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_kserve_bytes_request_datason_decodes(binary: bool) -> None:
    body, header_length = _kserve_request_body(
        InferRequest(model_name=MODEL, infer_inputs=[_kserve_input("s", BYTES_UTF8, binary)])
    )
    decoded = oip.decode_request(body, header_length=header_length)
    assert decoded.inputs[0].datatype == "BYTES"
    assert_array_exact(decoded.value, BYTES_UTF8)


def test_kserve_several_inputs_parameters_and_requested_outputs() -> None:
    a, b = ARRAYS["fp32-2d"], ARRAYS["int64-extremes"]
    request = InferRequest(
        model_name=MODEL,
        infer_inputs=[_kserve_input("a", a, True), _kserve_input("b", b, False)],
        request_id="r-2",
        parameters={"binary_data_output": True, "custom": "yes"},
        request_outputs=[RequestedOutput("y", parameters={"binary_data": False})],
    )
    body, header_length = _kserve_request_body(request)
    decoded = oip.decode_request(body, header_length=header_length)
    assert list(decoded.value) == ["a", "b"]
    assert_array_exact(decoded.value["a"], a)
    assert_array_exact(decoded.value["b"], b)
    assert decoded.parameters is not None and decoded.parameters["custom"] == "yes"
    assert decoded.binary_output is True
    assert decoded.outputs is not None and [o.name if hasattr(o, "name") else o["name"] for o in decoded.outputs] == [
        "y"
    ]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("case", ["fp32-2d", "int64-extremes", "bool-2d", "uint8-2d"])
def test_kserve_response_datason_decodes_exactly(case: str, binary: bool) -> None:
    arr = ARRAYS[case]
    output = InferOutput(name="y", shape=list(arr.shape), datatype=from_np_dtype(arr.dtype))
    output.set_data_from_numpy(arr, binary_data=binary)
    response = InferResponse(
        response_id="r-3", model_name=MODEL, infer_outputs=[output], model_version="7", use_binary_outputs=binary
    )
    body, header_length = _kserve_response_body(response)
    decoded = oip.decode_response(body, header_length=header_length)
    assert (decoded.model_name, decoded.model_version, decoded.id) == (MODEL, "7", "r-3")
    assert [t.name for t in decoded.outputs] == ["y"]
    assert_array_exact(decoded.value, arr)


def test_kserve_server_response_to_datason_request_decodes() -> None:
    """KServe's server-side helper answering a request datason wrote (binary outputs asked for)."""
    arr = ARRAYS["int32-3d"]
    encoded = oip.encode_request(arr, binary=True, binary_output=True)
    kreq = _kserve_reads_request(encoded.body, encoded.header_length)
    assert kreq.use_binary_outputs is True
    result = get_predict_input(kreq) * 2
    kresp = get_predict_response(kreq, result, MODEL)
    kresp.id = "r-4"
    body, header_length = _kserve_response_body(kresp)
    assert header_length is not None
    decoded = oip.decode_response(body, header_length=header_length)
    assert_array_exact(decoded.value, arr * 2)


# --- datason writes, KServe reads -------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_datason_request_kserve_reads_exactly(case: str, binary: bool) -> None:
    arr = ARRAYS[case]
    encoded = oip.encode_request({"x": arr}, id="d-1", binary=binary)
    assert (encoded.header_length is not None) is binary
    kreq = _kserve_reads_request(encoded.body, encoded.header_length)
    assert kreq.id == "d-1"
    assert [i.name for i in kreq.inputs] == ["x"]
    assert kreq.inputs[0].datatype == from_np_dtype(arr.dtype)
    assert_array_exact(kreq.inputs[0].as_numpy(), arr)
    assert_array_exact(get_predict_input(kreq), arr)


def test_datason_binary_fp16_and_nonfinite_kserve_reads_bits() -> None:
    encoded = oip.encode_request({"h": FP16, "f": NONFINITE}, binary=True)
    kreq = _kserve_reads_request(encoded.body, encoded.header_length)
    assert_array_exact(kreq.inputs[0].as_numpy(), FP16)
    assert_array_exact(kreq.inputs[1].as_numpy(), NONFINITE)


def test_datason_fp16_json_request_kserve_refuses() -> None:
    """KServe refuses FP16 as JSON (as Triton does): datason can write it, binary is the interoperable form."""
    encoded = oip.encode_request({"h": FP16}, binary=False)
    assert encoded.header_length is None
    with pytest.raises(Exception, match="FP16"):
        _kserve_reads_request(encoded.body, None)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_datason_bytes_request_kserve_reads_as_str(binary: bool) -> None:
    """KServe hands BYTES to a model as ``str`` elements either way (from_bytes re-encodes binary as JSON)."""
    encoded = oip.encode_request({"s": BYTES_UTF8}, binary=binary)
    kreq = _kserve_reads_request(encoded.body, encoded.header_length)
    assert kreq.inputs[0].datatype == "BYTES"
    assert_array_exact(kreq.inputs[0].as_numpy(), _str_elements(BYTES_UTF8))


def test_datason_binary_bytes_not_utf8_kserve_fails_datason_reads() -> None:
    raw = np.array([b"\x00\xff\xfe", b"\x80"], dtype=np.object_)
    encoded = oip.encode_request({"s": raw}, binary=True)
    with pytest.raises(Exception, match=r"UTF-8|utf-8|decode"):
        _kserve_reads_request(encoded.body, encoded.header_length)
    assert_array_exact(oip.decode_request(encoded.body, header_length=encoded.header_length).value, raw)


def test_datason_dataframe_request_kserve_as_dataframe() -> None:
    """content_type "pd": one input per column. KServe's ``as_dataframe`` builds the frame from the JSON
    lists: int32/float32 columns come back int64/float64 and the index is a RangeIndex."""
    df = pd.DataFrame(
        {
            "i": np.array([1, -2, 3], dtype=np.int64),
            "f": np.array([0.5, -0.0, 2.25], dtype=np.float64),
            "b": [True, False, True],
            "i32": np.array([7, 8, 9], dtype=np.int32),
        },
        index=[10, 20, 30],
    )
    encoded = oip.encode_request(df)
    kreq = _kserve_reads_request(encoded.body, encoded.header_length)
    assert (kreq.parameters or {}).get("content_type") == "pd"
    got = get_predict_input(kreq)
    assert isinstance(got, pd.DataFrame)
    assert got.columns.tolist() == ["i", "f", "b", "i32"]
    assert got.index.tolist() == [0, 1, 2]  # KServe drops the index
    assert got["i32"].dtype == np.int64  # and widens int32
    for column in ("i", "f", "b"):
        assert_array_exact(got[column].to_numpy(), df[column].to_numpy())
    # datason's own decoder gives the frame back with its dtypes.
    back = oip.decode_request(encoded.body, header_length=encoded.header_length).value
    assert isinstance(back, pd.DataFrame)
    assert back.dtypes.to_dict() == df.dtypes.to_dict()
    for column in df.columns:
        assert_array_exact(back[column].to_numpy(), df[column].to_numpy())


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_datason_response_kserve_reads_exactly(case: str, binary: bool) -> None:
    arr = ARRAYS[case]
    request = oip.decode_request(oip.encode_request({"x": arr}, binary_output=binary).body)
    encoded = oip.encode_response({"y": arr}, model_name=MODEL, model_version="3", id="d-2", request=request)
    assert (encoded.header_length is not None) is binary
    if binary:
        kresp = InferResponse.from_bytes(encoded.body, encoded.header_length)
    else:
        kresp = InferResponse.from_rest(orjson.loads(encoded.body))
        InferenceResponse.model_validate_json(encoded.body)  # KServe's REST schema accepts it
    assert (kresp.model_name, kresp.id) == (MODEL, "d-2")
    assert [o.name for o in kresp.outputs] == ["y"]
    assert kresp.outputs[0].datatype == from_np_dtype(arr.dtype)
    assert_array_exact(kresp.outputs[0].as_numpy(), arr)


def test_datason_binary_response_fp16_kserve_reads_bits() -> None:
    asked = oip.encode_request({"x": FP16}, binary=True, binary_output=True)
    request = oip.decode_request(asked.body, header_length=asked.header_length)
    encoded = oip.encode_response({"h": FP16, "f": NONFINITE}, model_name=MODEL, id="d-3", request=request)
    assert encoded.header_length is not None
    kresp = InferResponse.from_bytes(encoded.body, encoded.header_length)
    assert_array_exact(kresp.outputs[0].as_numpy(), FP16)
    assert_array_exact(kresp.outputs[1].as_numpy(), NONFINITE)


# --- `datason serve` answers KServe's schemas ---------------------------------------------------------------


def test_service_health_and_metadata_match_kserve_models(echo_server: Server) -> None:
    base = echo_server.url
    checks: list[tuple[str, Any]] = [
        ("/v2/health/live", ServerLiveResponse),
        ("/v2/health/ready", ServerReadyResponse),
        ("/v2", ServerMetadataResponse),
        ("/v2/models/echo", ModelMetadataResponse),
        ("/v2/models/echo/ready", ModelReadyResponse),
    ]
    for path, model in checks:
        status, body = get(base + path)
        assert status == 200, (path, body)
        strict_json(body)
        parsed = model.model_validate_json(body)
        if hasattr(parsed, "live"):
            assert parsed.live is True
        if model is ServerReadyResponse:
            assert parsed.ready is True
    assert ModelMetadataResponse.model_validate_json(get(base + "/v2/models/echo")[1]).name == "echo"
    ready = ModelReadyResponse.model_validate_json(get(base + "/v2/models/echo/ready")[1])
    assert (ready.name, ready.ready) == ("echo", True)


def test_service_answers_kserve_written_requests(echo_server: Server) -> None:
    """KServe's own request writer (JSON and binary) against `datason serve`; KServe reads the answers."""
    a, b = ARRAYS["fp32-2d"], ARRAYS["int64-extremes"]
    for binary in (False, True):
        request = InferRequest(
            model_name="echo",
            infer_inputs=[_kserve_input("a", a, binary), _kserve_input("b", b, binary)],
            request_id="k-1",
            parameters={"binary_data_output": binary},
        )
        body, header_length = _kserve_request_body(request)
        headers = {} if header_length is None else {"Inference-Header-Content-Length": str(header_length)}
        status, response_headers, raw = post(f"{echo_server.url}/v2/models/echo/infer", body, headers)
        assert status == 200, raw
        length = response_headers.get("inference-header-content-length")
        assert (length is not None) is binary
        kresp = (
            InferResponse.from_bytes(raw, int(length))
            if length is not None
            else InferResponse.from_rest(orjson.loads(raw))
        )
        assert kresp.id == "k-1"
        outputs = {o.name: o.as_numpy() for o in kresp.outputs}
        assert_array_exact(outputs["a"], a)
        assert_array_exact(outputs["b"], b)
