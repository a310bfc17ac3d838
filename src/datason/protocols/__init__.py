"""datason.protocols: the inference protocols model servers speak, encoded and decoded exactly (no HTTP).

One module per protocol, each with ``decode_request`` / ``encode_response`` (the server's side) and
``encode_request`` / ``decode_response`` (the client's side):

- ``oip``: Open Inference Protocol v2 (KServe v2, Triton, MLServer, Seldon Core 2), JSON and the binary
  tensor extension, MLServer's content types;
- ``kserve_v1``: ``{"instances": ...}`` / ``{"predictions": ...}``;
- ``seldon``: Seldon Core v1 SeldonMessages;
- ``mlflow``: the MLflow scoring server's input formats and ``{"predictions": ...}``.

Malformed messages raise ``datason.DeserializationError`` naming the field (``$.inputs[1].shape``); values
a protocol cannot carry raise ``datason.SerializationError``. Decoding never imports or calls anything a
message names. Import the module you need (``from datason.protocols import oip``): NumPy and pandas are
loaded by the modules that use them.
"""

from __future__ import annotations

__all__: list[str] = []
