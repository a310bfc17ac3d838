"""Open Inference Protocol codecs of MLServer 1.7.1 or kserve 0.21, timed in their own virtualenv.

Run by benchmarks/protocols.py, one process per library (``--lib mlserver`` in ``.venv-mlserver``,
``--lib kserve`` in ``.venv-frameworks``), speaking timing.serve's protocol: a JSON head line (versions,
labels, what each decode gave back, body sizes), then one round of every call per line read on stdin.
protocols.py imports this module too, for the cases, the data and the exactness checks (stdlib only at
import time; NumPy, pandas and the library are imported inside functions), so "exact" is the same test
in every process.

Cases: a 1e6-element FP32 tensor (1000 x 1000, seeded, workloads.build_array as float32) as JSON and
with the binary tensor extension, and workload C (workloads.build_frame, the 1000 x 20 mixed frame) as
JSON; the tensor also as a binary response (``binary_data_output``: the server encodes, the client
decodes). Each library's decode reads the body its own encode wrote (bytes, as HTTP hands it over).

- MLServer: ``NumpyRequestCodec`` / ``PandasCodec`` ``.encode_request(x).model_dump_json()``, decoded by
  ``<Codec>.decode_request(InferenceRequest.model_validate_json(body))``. Its REST API has no binary tensor
  extension (only gRPC's ``raw_input_contents``), so its binary row is not applicable.
- kserve: ``InferInput.set_data_from_numpy(a, binary_data=False/True)`` in an ``InferRequest``, then
  ``to_rest()`` (a dict, which ``InferenceRESTClient`` writes with ``orjson.dumps``, or the binary body and
  its JSON length), decoded by ``InferRequest.from_bytes(body, json_length, model_name)`` then
  ``inputs[0].as_numpy()`` / ``as_dataframe()``. A frame is encoded one input per column from
  ``df[c].to_numpy()`` with ``from_np_dtype`` and ``parameters={"content_type": "pd"}``, the way kserve's
  ``get_predict_response`` writes a DataFrame.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import timing
import workloads

TENSOR_SHAPE = (1000, 1000)
CASES = {
    "tensor.json": "1e6-element FP32 tensor, JSON",
    "tensor.binary": "1e6-element FP32 tensor, binary extension",
    "tensor.binary.response": "same, as a binary response (server encodes, client decodes)",
    "frame": "1000x20 mixed frame (workload C), JSON",
}
MODEL = "bench"
NO_BINARY = "not applicable: MLServer's REST API has no binary tensor extension (only gRPC `raw_input_contents`)"

# A worker's row: encode call, and a decode call reading the body one untimed encode wrote.
Encode = Callable[[], Any]  # -> bytes, or (bytes, JSON length) for a binary body
Decode = Callable[[Any], Any]  # that output -> ndarray / DataFrame


def build_tensor() -> Any:
    """The 1e6-element FP32 tensor: workloads.build_array (seeded standard normal) as float32, 1000 x 1000."""
    import numpy as np

    return workloads.build_array().astype(np.float32).reshape(TENSOR_SHAPE)


def build_special() -> Any:
    """A small FP32 tensor of the values JSON cannot spell or easily gets wrong: NaN, +-inf, -0.0, a
    subnormal, the largest finite float32, 0.1 (float32-rounded), 1.0."""
    import numpy as np

    values = [np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4028235e38, 0.1, 1.0]
    return np.array(values, dtype=np.float32).reshape(2, 4)


def build(case: str) -> Any:
    """The value a case sends."""
    return workloads.build("C") if case == "frame" else build_tensor()


def describe_tensor(got: Any, want: Any) -> dict[str, Any]:
    """{"exact": an ndarray of the same dtype and shape with the same bits, "lost": what differs}.

    When the bits differ, says whether NaN positions still match and how many elements differ.
    """
    import numpy as np

    if not isinstance(got, np.ndarray):
        return {"exact": False, "lost": f"gives a {workloads.kind_of(got)}, not an ndarray"}
    lost = []
    if got.dtype != want.dtype:
        lost.append(f"dtype {want.dtype} -> {got.dtype}")
    if got.shape != want.shape:
        lost.append(f"shape {want.shape} -> {got.shape}")
    if got.size == want.size:
        g = got.reshape(want.shape)
        if g.dtype == want.dtype and g.tobytes() == want.tobytes():
            pass
        elif g.dtype.kind == "f" and not lost:
            nan_g, nan_w = np.isnan(g), np.isnan(want)
            bits = f"u{want.dtype.itemsize}"
            same = np.ascontiguousarray(g).view(bits) == np.ascontiguousarray(want).view(bits)
            if not (nan_g == nan_w).all():
                lost.append(f"NaN positions differ ({int(nan_g.sum())} NaN back, {int(nan_w.sum())} sent)")
            n_bad = int((~same & ~(nan_g & nan_w)).sum())
            if n_bad:
                lost.append(f"bits differ at {n_bad} of {want.size} elements")
        else:
            try:
                equal = bool(np.array_equal(g.astype(want.dtype), want, equal_nan=True))
            except (TypeError, ValueError):
                equal = False
            if not equal:
                lost.append("values differ")
    return {"exact": not lost, "lost": "; ".join(lost)}


def describe(case: str, got: Any, want: Any) -> dict[str, Any]:
    """What a decode gave back for ``case``: describe_tensor or workloads.describe_frame (dtypes, index,
    values with NaN/NaT/NA by position)."""
    return workloads.describe_frame(got, want) if case == "frame" else describe_tensor(got, want)


def body_size(out: Any) -> int:
    """Bytes on the wire of an encode's output (bytes, str, or (bytes, JSON length))."""
    body = out[0] if isinstance(out, tuple) else out  # an (body, JSON length) pair, or datason's Encoded
    return len(body.encode() if isinstance(body, str) else body)


def error_text(exc: BaseException) -> str:
    """``Type: message``, the message cut to 200 characters."""
    text = str(exc).replace("\n", " ")
    return f"{type(exc).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def check_row(
    name: str, case: str, value: Any, encode: Encode, decode: Decode, labels: tuple[str, str]
) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """Run ``encode`` and ``decode`` once, untimed; return (the calls to time, what was found).

    calls: ``{name}.encode`` and ``{name}.decode`` when each worked. info: labels, ``size`` (body bytes),
    ``fidelity`` (describe's result) or ``error`` (what encode or decode raised: the row's result).
    """
    info: dict[str, Any] = {"case": case, "encode_label": labels[0], "decode_label": labels[1]}
    calls: dict[str, Callable[[], object]] = {}
    try:
        wire = encode()
    except Exception as exc:
        info["error"] = f"encode raises {error_text(exc)}"
        return calls, info
    calls[f"{name}.encode"] = encode
    info["size"] = body_size(wire)
    try:
        got = decode(wire)
    except Exception as exc:
        info["error"] = f"decode raises {error_text(exc)}"
        return calls, info
    calls[f"{name}.decode"] = lambda: decode(wire)
    info["fidelity"] = describe(case, got, value)
    return calls, info


def special_check(encode: Callable[[Any], Any], decode: Decode) -> dict[str, Any]:
    """Untimed: build_special() through ``encode`` (value -> wire) and ``decode``: describe_tensor's verdict,
    what came back, or what was raised."""
    want = build_special()
    try:
        wire = encode(want)
    except Exception as exc:
        return {"error": f"encode raises {error_text(exc)}"}
    try:
        got = decode(wire)
    except Exception as exc:
        return {"error": f"decode raises {error_text(exc)}"}
    out = describe_tensor(got, want)
    out["got"] = repr(got.ravel().tolist()) if hasattr(got, "ravel") else repr(got)[:200]
    return out


# ---------------------------------------------------------------- MLServer 1.7.1


def mlserver_rows() -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """MLServer's codecs on every case (its binary row: not applicable)."""
    codecs: Any = importlib.import_module("mlserver.codecs")
    types: Any = importlib.import_module("mlserver.types")
    parse = types.InferenceRequest.model_validate_json

    def enc(codec: Any, value: Any) -> Encode:
        return lambda: codec.encode_request(value).model_dump_json().encode()

    def dec(codec: Any) -> Decode:
        return lambda body: codec.decode_request(parse(body))

    calls: dict[str, Callable[[], object]] = {}
    rows: dict[str, Any] = {}
    tensor, frame = build_tensor(), workloads.build("C")
    specs = {
        "tensor.json": (codecs.NumpyRequestCodec, tensor),
        "frame": (codecs.PandasCodec, frame),
    }
    for case, (codec, value) in specs.items():
        name = f"mlserver.{case}"
        labels = (
            f"`{codec.__name__}.encode_request(x).model_dump_json()`",
            f"`{codec.__name__}.decode_request(InferenceRequest.model_validate_json(body))`",
        )
        got_calls, rows[name] = check_row(name, case, value, enc(codec, value), dec(codec), labels)
        calls |= got_calls
    for case in ("tensor.binary", "tensor.binary.response"):
        rows[f"mlserver.{case}"] = {"case": case, "na": NO_BINARY}
    notes = []
    import mlserver_worker  # its per-column probe of PandasCodec (same venv, same MLServer)

    failing: dict[str, list[str]] = {}
    for column, why in mlserver_worker.column_errors(frame).items():
        if why:
            failing.setdefault(f"{frame[column].dtype} ({why})", []).append(column)
    if failing:
        n = sum(map(len, failing.values()))
        notes.append(
            f"MLServer `PandasCodec` cannot encode {n} of {frame.shape[1]} columns even alone: "
            + "; ".join(f"{kind}: {', '.join(cols)}" for kind, cols in failing.items())
            + " (benchmarks/run.py times it on the columns it can encode)."
        )
    specials = {
        "JSON": special_check(
            lambda a: codecs.NumpyRequestCodec.encode_request(a).model_dump_json(), dec(codecs.NumpyRequestCodec)
        )
    }
    return calls, {"rows": rows, "notes": notes, "special": specials}


# ---------------------------------------------------------------- kserve 0.21


def kserve_rows() -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """kserve's InferRequest on every case."""
    kserve: Any = importlib.import_module("kserve")
    codec: Any = importlib.import_module("kserve.utils.numpy_codec")
    orjson: Any = importlib.import_module("orjson")
    InferInput, InferRequest = kserve.InferInput, kserve.InferRequest
    InferOutput, InferResponse = kserve.InferOutput, kserve.InferResponse

    def tensor_request(a: Any, binary: bool) -> Any:
        inp = InferInput("input-0", list(a.shape), codec.from_np_dtype(a.dtype))
        inp.set_data_from_numpy(a, binary_data=binary)
        return InferRequest(MODEL, [inp])

    def binary_response(a: Any) -> Any:
        out = InferOutput("output-0", list(a.shape), codec.from_np_dtype(a.dtype))
        out.set_data_from_numpy(a, binary_data=True)
        return InferResponse("bench-id", MODEL, [out], use_binary_outputs=True)

    def frame_request(df: Any) -> Any:
        inputs = []
        for column in df.columns:
            values = df[column].to_numpy()
            inp = InferInput(str(column), [len(values)], codec.from_np_dtype(values.dtype))
            inp.set_data_from_numpy(values, binary_data=False)
            inputs.append(inp)
        return InferRequest(MODEL, inputs, parameters={"content_type": "pd"})

    def json_body(request: Any) -> bytes:
        body, json_length = request.to_rest()
        assert json_length is None, "expected a JSON-only body"
        return bytes(orjson.dumps(body))  # what InferenceRESTClient sends

    def from_json(body: bytes) -> Any:
        return InferRequest.from_bytes(body, len(body), MODEL)

    tensor, frame = build_tensor(), workloads.build("C")
    specs: dict[str, tuple[Any, Encode, Decode, tuple[str, str]]] = {
        "tensor.json": (
            tensor,
            lambda: json_body(tensor_request(tensor, False)),
            lambda body: from_json(body).inputs[0].as_numpy(),
            (
                "`InferInput.set_data_from_numpy(a, binary_data=False)`, `InferRequest.to_rest()`, `orjson.dumps`",
                "`InferRequest.from_bytes(body, len(body), name).inputs[0].as_numpy()`",
            ),
        ),
        "tensor.binary": (
            tensor,
            lambda: tensor_request(tensor, True).to_rest(),
            lambda out: InferRequest.from_bytes(out[0], out[1], MODEL).inputs[0].as_numpy(),
            (
                "`InferInput.set_data_from_numpy(a, binary_data=True)`, `InferRequest.to_rest()`",
                "`InferRequest.from_bytes(body, json_length, name).inputs[0].as_numpy()`",
            ),
        ),
        "tensor.binary.response": (
            tensor,
            lambda: binary_response(tensor).to_rest(),
            lambda out: InferResponse.from_bytes(out[0], out[1]).outputs[0].as_numpy(),
            (
                "`InferOutput.set_data_from_numpy(a, binary_data=True)`, "
                "`InferResponse(..., use_binary_outputs=True).to_rest()`",
                "`InferResponse.from_bytes(body, json_length).outputs[0].as_numpy()`",
            ),
        ),
        "frame": (
            frame,
            lambda: json_body(frame_request(frame)),
            lambda body: from_json(body).as_dataframe(),
            (
                'one `InferInput` per column (`df[c].to_numpy()`), `content_type: "pd"`, `to_rest()`, `orjson.dumps`',
                "`InferRequest.from_bytes(body, len(body), name).as_dataframe()`",
            ),
        ),
    }
    calls: dict[str, Callable[[], object]] = {}
    rows: dict[str, Any] = {}
    for case, (value, encode, decode, labels) in specs.items():
        name = f"kserve.{case}"
        got_calls, rows[name] = check_row(name, case, value, encode, decode, labels)
        calls |= got_calls
    notes = [
        "kserve `InferRequest.from_bytes` (and `InferResponse.from_bytes`) turns every binary tensor into a "
        "Python list (`set_data_from_numpy(as_numpy(), binary_data=False)`: one `.item()` per element), and "
        "`as_numpy()` builds the array back from that list; its server parses JSON bodies with FastAPI and pydantic "
        "(`InferenceRequest`, then `InferRequest.from_inference_request`), slower than the `from_bytes` "
        "(orjson) timed here.",
    ]
    specials = {
        "JSON": special_check(
            lambda a: json_body(tensor_request(a, False)), lambda body: from_json(body).inputs[0].as_numpy()
        ),
        "binary": special_check(
            lambda a: tensor_request(a, True).to_rest(),
            lambda out: InferRequest.from_bytes(out[0], out[1], MODEL).inputs[0].as_numpy(),
        ),
    }
    return calls, {"rows": rows, "notes": notes, "special": specials}


LIBS: dict[str, tuple[str, Callable[[], tuple[dict[str, Callable[[], object]], dict[str, Any]]], tuple[str, ...]]] = {
    "mlserver": ("MLServer 1.7.1", mlserver_rows, ("mlserver", "numpy", "pandas", "pydantic")),
    "kserve": ("kserve 0.21", kserve_rows, ("kserve", "numpy", "pandas", "orjson")),
}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def head_for(lib: str) -> tuple[dict[str, Callable[[], object]], dict[str, Any]]:
    """Build ``lib``'s calls (checked once) and the head line describing them."""
    title, rows, dists = LIBS[lib]
    calls, checks = timing.build_checked(["all"], lambda _: rows())
    info = checks["all"]
    head = {
        "lib": lib,
        "title": title,
        "versions": {d: _version(d) for d in dists},
        "python": sys.version.split()[0],
        "prefix": sys.prefix,
        **info,
    }
    return calls["all"], head


def main() -> None:
    """``--lib L --serve``: head line, then one round per stdin line; ``--lib L``: print the head and
    medians of ``--rounds`` rounds (for a look by hand)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", choices=sorted(LIBS), required=True)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    calls, head = head_for(args.lib)
    if args.serve:
        timing.serve({"round": calls}, head)
        return
    stats = timing.interleave(calls, args.rounds, 1)
    head["stats"] = {name: {"median": s.median, "min": s.min} for name, s in stats.items()}
    print(json.dumps(head, indent=1))


if __name__ == "__main__":
    main()
