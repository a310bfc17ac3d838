"""seldon-core's own client (``seldon_core.seldon_client.SeldonClient``, REST, gateway prefix "") against a real
`datason serve` process: the payloads Seldon's client builds (from its protobuf SeldonMessage, so numbers are
doubles) and the answers parsed back into a ``SeldonMessage`` by the client (``client_return_type="proto"``:
a response the protobuf parser refuses comes back as None).

The server is `.venv-frameworks/bin/datason` (seldon-core pins ``jsonschema<4``; ``datason[serving]`` needs
4.20+, so the serving extra cannot live in this virtualenv): `make interop-seldon` builds both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from seldon_core.seldon_client import SeldonClient
from seldon_core.utils import get_data_from_proto, get_meta_from_proto, seldon_message_to_json

from tests.interop.helpers import ROOT, Server, assert_array_exact


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    script = ROOT / ".venv-frameworks" / "bin" / "datason"
    srv = Server(
        "tests.interop.apps.identity:predict", "identity", log_dir=tmp_path_factory.mktemp("seldon"), script=script
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> SeldonClient:
    return SeldonClient(
        gateway="istio", transport="rest", gateway_endpoint=f"127.0.0.1:{server.port}", client_return_type="proto"
    )


@pytest.mark.parametrize("payload_type", ["ndarray", "tensor"])
def test_data_payloads_round_trip(client: SeldonClient, payload_type: str) -> None:
    arr = np.array([[1.5, -2.0, 0.25], [4.0, 5.5, -0.0]])
    result = client.predict(data=arr, payload_type=payload_type, gateway_prefix="")
    assert result.success, result.msg
    assert result.response is not None, "seldon-core's protobuf parser refused the answer"
    assert result.response.data.WhichOneof("data_oneof") == payload_type
    assert_array_exact(get_data_from_proto(result.response), arr)


def test_names_come_back_with_the_data(client: SeldonClient) -> None:
    arr = np.array([[1.0, 2.0], [3.0, 4.0]])
    result = client.predict(data=arr, payload_type="ndarray", names=["a", "b"], gateway_prefix="")
    assert result.success and result.response is not None, result.msg
    assert list(result.response.data.names) == ["a", "b"]
    assert_array_exact(get_data_from_proto(result.response), arr)


def test_meta_tags_are_echoed(client: SeldonClient) -> None:
    result = client.predict(data=np.array([[1.0]]), meta={"model": "m1", "n": 2}, gateway_prefix="")
    assert result.success and result.response is not None, result.msg
    assert get_meta_from_proto(result.response)["tags"] == {"model": "m1", "n": 2.0}


def test_str_bin_and_json_payloads(client: SeldonClient) -> None:
    result = client.predict(str_data="caf\u00e9 \u2603", gateway_prefix="")
    assert result.success and result.response.strData == "caf\u00e9 \u2603"
    raw = bytes(range(256))
    result = client.predict(bin_data=raw, gateway_prefix="")
    assert result.success and result.response.binData == raw
    result = client.predict(json_data={"a": [1, 2], "b": {"c": "d"}}, gateway_prefix="")
    assert result.success and result.response is not None
    assert seldon_message_to_json(result.response)["jsonData"] == {"a": [1.0, 2.0], "b": {"c": "d"}}


def test_bad_request_is_a_failure_with_seldon_status(client: SeldonClient) -> None:
    result = client.predict(raw_data={"data": {"tensor": {"shape": [3], "values": [1.0]}}}, gateway_prefix="")
    assert not result.success and result.msg.startswith("400")
    assert result.response is not None, "the error body parses as a SeldonMessage"
    status = json.loads(json.dumps(seldon_message_to_json(result.response)))["status"]
    assert status["code"] == 400 and status["status"] == "FAILURE" and "$.data.tensor.shape" in status["info"]
