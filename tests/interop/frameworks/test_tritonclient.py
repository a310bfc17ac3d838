"""NVIDIA's tritonclient (HTTP) against a real `datason serve` process: the Open Inference Protocol v2 routes,
JSON and binary tensors both ways, health and metadata, and errors as tritonclient reports them.

tritonclient's defaults matter here: ``InferInput.set_data_from_numpy(a, binary_data=True)`` (binary is the
default), and ``infer(..., outputs=None)`` asks for *binary* outputs (``parameters.binary_data_output``); a
JSON-only request has no ``Inference-Header-Content-Length`` header, a request with any binary input has one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from tests.interop.helpers import Server, assert_array_exact, post, strict_json

F32 = np.float32


def _arrays() -> dict[str, np.ndarray]:
    return {
        "fp32-1d": np.array([1.5, -0.0, 0.1, 3.4028235e38, 1e-45, -7.25], dtype=F32),
        "fp32-2d": (np.arange(6, dtype=F32).reshape(2, 3) / F32(7)),
        "fp32-3d": (np.arange(12, dtype=F32).reshape(2, 2, 3) - F32(5.5)) / F32(3),
        "fp64-2d": np.array([[0.1, -0.0], [1e308, 5e-324]], dtype=np.float64),
        "int64-1d": np.array([2**63 - 1, -(2**63), 2**53 + 1, 0], dtype=np.int64),
        "int64-3d": np.arange(-12, 12, dtype=np.int64).reshape(2, 3, 4) * (2**40 + 3),
        "int32-2d": np.array([[2**31 - 1, -(2**31)], [7, -7]], dtype=np.int32),
        "int8-1d": np.array([-128, 127, 0], dtype=np.int8),
        "uint8-2d": np.array([[0, 255, 7], [128, 1, 254]], dtype=np.uint8),
        "uint64-1d": np.array([2**64 - 1, 2**53 + 1, 0], dtype=np.uint64),
        "bool-2d": np.array([[True, False, True], [False, False, True]]),
        "bytes-1d": np.array([b"abc", "\u00fcn\u00ef\u2603".encode(), b""], dtype=np.object_),
        "bytes-2d": np.array([[b"a", b"bb"], [b"ccc", b"{}"]], dtype=np.object_),
    }


ARRAYS = _arrays()
# FP16 and non-finite floats travel only as binary (tritonclient and Triton refuse FP16 in JSON; strict JSON
# has no NaN); bytes that are not UTF-8 cannot be JSON strings.
BINARY_ONLY = {
    "fp16-2d": np.array([[0.1, -0.0], [65504.0, 6e-8]], dtype=np.float16),
    "fp32-nonfinite": np.array([np.nan, np.inf, -np.inf, -0.0], dtype=F32),
    "fp64-nan-payload": np.array([0.0, 0.0], dtype=np.float64),
    "bytes-not-utf8": np.array([b"\x00\xff\xfe", b"\x80"], dtype=np.object_),
}
BINARY_ONLY["fp64-nan-payload"].view(np.uint64)[0] = 0x7FF8_0000_DEAD_BEEF  # a NaN with a payload: bits kept


def _as_json_bytes(want: np.ndarray) -> np.ndarray:
    """What tritonclient's ``as_numpy`` gives for a BYTES output that came back as JSON: ``str`` elements."""
    if want.dtype != np.object_:
        return want
    return np.array([b.decode() for b in want.ravel()], dtype=np.object_).reshape(want.shape)


@pytest.fixture(scope="module")
def client(echo_server: Server) -> Iterator[httpclient.InferenceServerClient]:
    c = httpclient.InferenceServerClient(f"127.0.0.1:{echo_server.port}", connection_timeout=30, network_timeout=30)
    yield c
    c.close()


def _input(name: str, arr: np.ndarray, binary: bool) -> httpclient.InferInput:
    inp = httpclient.InferInput(name, list(arr.shape), np_to_triton_dtype(arr.dtype))
    inp.set_data_from_numpy(arr, binary_data=binary)
    return inp


def _outputs(mode: str, *names: str) -> list[httpclient.InferRequestedOutput] | None:
    if mode == "default":  # outputs=None: tritonclient sets parameters.binary_data_output = true
        return None
    return [httpclient.InferRequestedOutput(n, binary_data=(mode == "binary")) for n in names]


def test_what_tritonclient_sends() -> None:
    """The request shapes the tests below rely on: a JSON-only request is one JSON body with no header length
    but ``binary_data_output`` set (no outputs named); one binary input adds the header length."""
    from tritonclient.http._utils import _get_inference_request

    def build(binary: bool) -> tuple[bytes, int | None]:
        inputs = [_input("INPUT0", ARRAYS["fp32-2d"], binary)]
        return _get_inference_request(inputs, "", None, 0, False, False, 0, None, None)

    body, header_length = build(False)
    assert header_length is None
    assert json.loads(body)["parameters"] == {"binary_data_output": True}
    body, header_length = build(True)
    assert header_length is not None and len(body) == header_length + ARRAYS["fp32-2d"].nbytes
    assert json.loads(body[:header_length])["inputs"][0]["parameters"] == {"binary_data_size": 24}


def _check_output(result: Any, name: str, sent: np.ndarray, mode: str) -> None:
    output = result.get_output(name)
    assert output is not None, result.get_response()
    binary = mode in ("default", "binary")
    if binary:
        assert "data" not in output and output["parameters"]["binary_data_size"] > 0, output
        assert_array_exact(result.as_numpy(name), sent)
    else:
        assert "data" in output and "binary_data_size" not in (output.get("parameters") or {}), output
        assert_array_exact(result.as_numpy(name), _as_json_bytes(sent))
    assert output["datatype"] == np_to_triton_dtype(sent.dtype)
    assert output["shape"] == list(sent.shape)


@pytest.mark.parametrize("out_mode", ["json", "default", "binary"])
@pytest.mark.parametrize("binary_in", [False, True], ids=["json-in", "binary-in"])
@pytest.mark.parametrize("case", sorted(ARRAYS))
def test_infer_roundtrip_exact(
    client: httpclient.InferenceServerClient, case: str, binary_in: bool, out_mode: str
) -> None:
    arr = ARRAYS[case]
    result = client.infer("echo", [_input("INPUT0", arr, binary_in)], outputs=_outputs(out_mode, "OUTPUT0"))
    _check_output(result, "OUTPUT0", arr, out_mode)
    assert result.get_response()["model_name"] == "echo"


@pytest.mark.parametrize("out_mode", ["default", "binary"])
@pytest.mark.parametrize("case", sorted(BINARY_ONLY))
def test_infer_binary_only_dtypes_and_bits(client: httpclient.InferenceServerClient, case: str, out_mode: str) -> None:
    arr = BINARY_ONLY[case]
    result = client.infer("echo", [_input("INPUT0", arr, True)], outputs=_outputs(out_mode, "OUTPUT0"))
    _check_output(result, "OUTPUT0", arr, out_mode)


def test_bytes_not_utf8_as_json_output_are_base64_text(client: httpclient.InferenceServerClient) -> None:
    """JSON cannot carry bytes that are not UTF-8: datason answers base64 text marked ``content_type: base64``
    (MLServer's convention); tritonclient hands the text over as is, so a client asks for binary instead."""
    raw = BINARY_ONLY["bytes-not-utf8"]
    outputs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=False)]
    result = client.infer("echo", [_input("INPUT0", raw, True)], outputs=outputs)
    output = result.get_output("OUTPUT0")
    assert output["parameters"]["content_type"] == "base64"
    texts = result.as_numpy("OUTPUT0")
    assert [base64.b64decode(t) for t in texts.tolist()] == raw.tolist()


def test_empty_and_0d_tensors(client: httpclient.InferenceServerClient) -> None:
    for arr in (np.zeros((0, 3), dtype=F32), np.array(3.5)):
        for binary in (False, True):
            result = client.infer("echo", [_input("INPUT0", arr, binary)])
            assert_array_exact(result.as_numpy("OUTPUT0"), arr)


def test_several_inputs_mixed_binary_and_json_outputs(client: httpclient.InferenceServerClient) -> None:
    a = ARRAYS["fp32-2d"]
    b = ARRAYS["int64-1d"]
    c = ARRAYS["bytes-1d"]
    inputs = [_input("A", a, True), _input("B", b, False), _input("C", c, True)]
    outputs = [
        httpclient.InferRequestedOutput("A", binary_data=True),
        httpclient.InferRequestedOutput("B", binary_data=False),
        httpclient.InferRequestedOutput("C", binary_data=False),
    ]
    result = client.infer("echo", inputs, outputs=outputs, request_id="req-42")
    _check_output(result, "A", a, "binary")
    _check_output(result, "B", b, "json")
    _check_output(result, "C", c, "json")
    assert result.get_response()["id"] == "req-42"
    assert [o["name"] for o in result.get_response()["outputs"]] == ["A", "B", "C"]


def test_requested_outputs_subset_only(client: httpclient.InferenceServerClient) -> None:
    a, b = ARRAYS["uint8-2d"], ARRAYS["bool-2d"]
    outputs = [httpclient.InferRequestedOutput("B", binary_data=True)]
    result = client.infer("echo", [_input("A", a, False), _input("B", b, False)], outputs=outputs)
    assert [o["name"] for o in result.get_response()["outputs"]] == ["B"]
    assert_array_exact(result.as_numpy("B"), b)


def test_versioned_route_and_request_id(client: httpclient.InferenceServerClient) -> None:
    arr = ARRAYS["int32-2d"]
    result = client.infer("echo", [_input("INPUT0", arr, True)], model_version="1", request_id="v-1")
    response = result.get_response()
    assert (response["model_name"], response["model_version"], response["id"]) == ("echo", "1", "v-1")
    assert_array_exact(result.as_numpy("OUTPUT0"), arr)


def test_single_array_result_is_one_output(identity_server: Server) -> None:
    """A predict function that returns one bare array: one output, whatever its name, same bits."""
    c = httpclient.InferenceServerClient(f"127.0.0.1:{identity_server.port}")
    try:
        arr = ARRAYS["fp32-3d"]
        result = c.infer("identity", [_input("x", arr, False)])
        outputs = result.get_response()["outputs"]
        assert len(outputs) == 1
        assert_array_exact(result.as_numpy(outputs[0]["name"]), arr)
    finally:
        c.close()


def test_health_and_readiness(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live() is True
    assert client.is_server_ready() is True
    assert client.is_model_ready("echo") is True
    assert client.is_model_ready("echo", model_version="1") is True
    assert client.is_model_ready("no-such-model") is False


def test_server_metadata(client: httpclient.InferenceServerClient) -> None:
    meta = client.get_server_metadata()
    assert isinstance(meta["name"], str) and meta["name"]
    assert isinstance(meta["version"], str) and meta["version"]
    assert isinstance(meta["extensions"], list)
    assert all(isinstance(e, str) for e in meta["extensions"])


def test_model_metadata(client: httpclient.InferenceServerClient) -> None:
    meta = client.get_model_metadata("echo")
    assert meta["name"] == "echo"
    assert "1" in meta.get("versions", ["1"])
    assert isinstance(meta["platform"], str)
    assert isinstance(meta["inputs"], list) and isinstance(meta["outputs"], list)
    for tensor in [*meta["inputs"], *meta["outputs"]]:
        assert {"name", "datatype", "shape"} <= set(tensor)


def test_unknown_model_is_an_error(client: httpclient.InferenceServerClient) -> None:
    arr = ARRAYS["fp32-1d"]
    with pytest.raises(InferenceServerException) as info:
        client.infer("no-such-model", [_input("INPUT0", arr, False)])
    assert info.value.status() in ("400", "404"), (info.value.status(), info.value.message())
    assert info.value.message(), "the error body's 'error' text reaches tritonclient"
    with pytest.raises(InferenceServerException) as info:
        client.get_model_metadata("no-such-model")
    assert info.value.status() in ("400", "404")


def test_unknown_version_is_404(client: httpclient.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.infer("echo", [_input("INPUT0", ARRAYS["fp32-1d"], False)], model_version="9")
    assert info.value.status() == "404", (info.value.status(), info.value.message())


def test_unknown_requested_output_is_400_naming_the_field(client: httpclient.InferenceServerClient) -> None:
    """Triton answers 400 for an output the model does not have: a client error, not a failed prediction."""
    outputs = [httpclient.InferRequestedOutput("NO_SUCH_OUTPUT", binary_data=False)]
    with pytest.raises(InferenceServerException) as info:
        client.infer("echo", [_input("INPUT0", ARRAYS["fp32-1d"], False)], outputs=outputs)
    assert info.value.status() == "400", (info.value.status(), info.value.message())
    assert "outputs[0]" in info.value.message(), info.value.message()


def test_shape_data_mismatch_is_400_naming_the_field(client: httpclient.InferenceServerClient) -> None:
    inp = _input("INPUT0", ARRAYS["fp32-2d"], False)
    inp.set_shape([4, 3])  # 6 values sent, 12 declared
    with pytest.raises(InferenceServerException) as info:
        client.infer("echo", [inp])
    assert info.value.status() == "400"
    assert "inputs[0]" in info.value.message(), info.value.message()


def test_binary_size_mismatch_is_400_naming_the_field(client: httpclient.InferenceServerClient) -> None:
    inp = _input("INPUT0", ARRAYS["fp32-2d"], True)
    inp.set_shape([3, 3])  # 24 bytes sent, 36 declared
    with pytest.raises(InferenceServerException) as info:
        client.infer("echo", [inp])
    assert info.value.status() == "400"
    assert "inputs[0]" in info.value.message(), info.value.message()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP99", "data": [1, 2]}]}, "inputs[0].datatype"),
        ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32"}]}, "inputs[0]"),
        ({"inputs": [{"name": "x", "shape": "2", "datatype": "FP32", "data": [1, 2]}]}, "inputs[0].shape"),
        ({"inputs": [{"shape": [2], "datatype": "FP32", "data": [1, 2]}]}, "inputs[0]"),
        ({"inputs": "x"}, "inputs"),
        ({}, "inputs"),
    ],
    ids=["bad-datatype", "no-data", "shape-not-list", "no-name", "inputs-not-list", "no-inputs"],
)
def test_malformed_json_request_is_400_naming_the_field(echo_server: Server, body: Any, field: str) -> None:
    status, headers, raw = post(f"{echo_server.url}/v2/models/echo/infer", json.dumps(body).encode())
    assert status == 400, raw
    assert headers["content-type"].startswith("application/json")
    error = strict_json(raw)
    assert set(error) == {"error"}, error
    assert field in error["error"], error


def test_not_json_is_400(echo_server: Server) -> None:
    status, _, raw = post(f"{echo_server.url}/v2/models/echo/infer", b"{not json")
    assert status == 400
    assert isinstance(strict_json(raw)["error"], str)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
@pytest.mark.parametrize("binary_in", [False, True], ids=["json-in", "binary-in"])
def test_compressed_requests_and_responses(
    client: httpclient.InferenceServerClient, algorithm: str, binary_in: bool
) -> None:
    """tritonclient's ``request_compression_algorithm`` (Content-Encoding) is inflated by the service."""
    arr = ARRAYS["fp32-3d"]
    result = client.infer(
        "echo",
        [_input("INPUT0", arr, binary_in)],
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,
    )
    assert_array_exact(result.as_numpy("OUTPUT0"), arr)
