"""Call the iris model of examples/mlserver_iris (``mlserver start examples/mlserver_iris``) three ways.

1. datason's OIP codec over plain HTTP: a DataFrame with its index goes in, the model's frame comes back
   exactly (category column, float32, zone-aware timestamps, the index).
2. MLServer's own types and codecs (what an MLServer client already has): ``PandasCodec`` builds the request
   and reads the response; datason's extra parameters are ignored by it and the plain tensors still read.
3. ``DatasonCodec`` on MLServer's types: the same exact frame, for code that holds ``InferenceRequest`` /
   ``InferenceResponse`` objects (MLServer's gRPC converters take them too).

``MLSERVER_URL`` (default http://127.0.0.1:8080) says where the server is.
"""

from __future__ import annotations

import os
import urllib.request

import numpy as np
import pandas as pd
from mlserver.codecs import PandasCodec
from mlserver.types import InferenceResponse

from datason.integrations.mlserver import DatasonCodec
from datason.protocols import oip

URL = os.environ.get("MLSERVER_URL", "http://127.0.0.1:8080") + "/v2/models/iris/infer"

flowers = pd.DataFrame(
    {
        "sepal_length": np.array([5.1, 6.7, 5.9], dtype=np.float32),
        "sepal_width": np.array([3.5, 3.0, 3.0], dtype=np.float32),
        "petal_length": np.array([1.4, 5.2, 4.2], dtype=np.float32),
        "petal_width": np.array([0.2, 2.3, 1.5], dtype=np.float32),
    },
    index=pd.Index(["f-001", "f-002", "f-003"], name="flower_id"),
)


def post(body: bytes) -> bytes:
    request = urllib.request.Request(URL, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


# 1. datason's codec: the frame and its index travel; the answer comes back with its dtypes.
answer = oip.decode_response(post(oip.encode_request(flowers).body)).value
assert answer.index.equals(flowers.index)
assert answer["species"].tolist() == ["setosa", "virginica", "versicolor"]
assert answer["species"].dtype == "category" and answer["confidence"].dtype == np.float32
assert str(answer["scored_at"].dt.tz) == "UTC"
print(answer)

# 2. MLServer's own codecs: the request MLServer's PandasCodec writes is read by datason's runtime too.
request = PandasCodec.encode_request(flowers.reset_index(drop=True), use_bytes=False)
theirs = PandasCodec.decode_response(InferenceResponse.model_validate_json(post(request.model_dump_json().encode())))
assert theirs["species"].tolist() == ["setosa", "virginica", "versicolor"]  # labels; the index is MLServer's 0..n-1
assert theirs["confidence"].dtype == np.float32

# 3. DatasonCodec on MLServer's types: exact again.
typed = DatasonCodec.encode_request(flowers, use_bytes=False)
frame = DatasonCodec.decode_response(InferenceResponse.model_validate_json(post(typed.model_dump_json().encode())))
pd.testing.assert_frame_equal(frame.drop(columns="scored_at"), answer.drop(columns="scored_at"), check_exact=True)
