"""MLflow 3 with datason: typed run artifacts, and a pyfunc flavor whose answers are exact and strict JSON.

Artifacts: ``log_result(result, "eval.json")`` writes any value datason can serialize (arrays with dtype and
shape, DataFrames with index and dtypes, datetimes with their zone, UUID, Decimal, nested dicts of them) as a
JSON artifact of a run (``mlflow.log_text``); ``load_result("runs:/<id>/eval.json")`` reads it back as the
same types (``datason.loads``, which never imports or calls what a document names). ``mlflow.log_dict``
writes an ndarray as the string ``"[0 1 2]"``.

The pyfunc flavor: ``log_model(model, name=...)`` logs ``model`` (a ``mlflow.pyfunc.PythonModel`` with either
``predict(self, context, model_input, params=None)`` or today's ``predict(self, model_input, params=None)``,
or a plain function) wrapped in ``DatasonModel``, a ``PythonModel`` (``wrap(model)`` makes one without logging
it). What each MLflow hook does here:

- ``mlflow.pyfunc.log_model(name=..., python_model=DatasonModel, ...)``: the signature is inferred by MLflow
  from the *typed* input example (a float32 array or column stays ``float32``, not the float64 its JSON copy
  reads as), and its params schema gets ``datason_output`` (``OUTPUT_PARAM``: ``"split"``, ``"records"`` or
  ``"typed"``, default the ``output`` given to ``log_model``); the datason config is logged beside the model
  as the artifact ``datason_config`` (``artifacts/datason.json``: every ``SerializationConfig`` field, the
  default output). ``registered_model_name`` registers it (``models:/NAME/<version|latest>``).
- ``PythonModel.load_context``: reads ``datason.json`` back (a ``SerializationConfig``, validated) and runs the
  wrapped model's own ``load_context``.
- ``PythonModel.predict(context, model_input, params)``: ``model_input`` is what MLflow parsed under the
  signature (``dataframe_split`` with its index, ``dataframe_records``, ``instances``, ``inputs``), except that
  an object array MLflow left holding numbers and nulls (no signature) is read as datason's MLflow codec reads
  it (``float64`` with NaN); ``datason_output`` is removed from ``params`` before the wrapped model sees them.
  Under MLflow's scoring server (``mlflow models serve``, ``mlflow models predict``: MLflow sets
  ``_MLFLOW_IS_IN_SERVING_ENVIRONMENT``) the result is returned already encoded by datason as plain JSON
  values, which MLflow's own writer (``json.dump``, the only writer it has) then copies unchanged: strict JSON
  (NaN, Infinity, NaT and ``pd.NA`` as ``null``: MLflow writes a bare ``NaN``), float32 with its own shortest
  digits, NumPy scalars as numbers, datetimes as ISO 8601 with their offset, UUID and Decimal as strings
  (MLflow's encoder fails on both). Outside a server (``mlflow.pyfunc.load_model(uri).predict``, batch
  scoring) predict returns the wrapped model's result untouched.

What a result becomes on the wire, by ``datason_output``:

- ``"split"`` (the default): a DataFrame as ``{"columns", "index", "data"}`` (pandas' split layout, the
  layout of ``dataframe_split`` requests: the index is kept), a Series as ``{"name", "index", "data"}``;
- ``"records"``: MLflow's own layout, a DataFrame as a list of records (index dropped), a Series as a list;
  the same JSON as datason's MLflow codec writes (``datason.protocols.mlflow.encode_response``);
- ``"typed"``: datason's typed form (``{"__datason_type__", "__datason_value__"}`` envelopes, still strict
  JSON): ``datason.loads(body)["predictions"]`` gives back dtypes, shapes, index, zones, categories, UUID
  and Decimal exactly.

ndarrays are nested lists and dicts, lists and scalars plain JSON in all three. Errors under the server:
a failing predict answers MLflow's ``{"error_code": "INTERNAL_ERROR", "message": "... prediction failed
(ExceptionClass)"}`` with status 500 and no traceback (MLflow's own handler answers 400 with the traceback in
the body's ``stack_trace``; here it goes to the server's log); a result datason cannot encode answers 500 with
datason's message (type and path); an unknown ``datason_output`` 400.

MLflow is imported inside the functions that need it: ``pip install mlflow`` (3.x).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..api import dumps, loads, serialize
from ..config import SerializationConfig, get_api_config, get_ml_config
from ..errors import DatasonError
from ..protocols import mlflow as scoring

__all__ = ["OUTPUTS", "OUTPUT_PARAM", "load_result", "log_model", "log_result", "wrap"]

#: The request parameter (in the model's params schema) that picks how the result is written.
OUTPUT_PARAM = "datason_output"
#: Its values: pandas' split layout (index kept), MLflow's records layout, datason's typed form.
OUTPUTS = ("split", "records", "typed")
#: The name of the datason config among the model's artifacts, and its file.
CONFIG_ARTIFACT = "datason_config"
CONFIG_FILE = "datason.json"
_FORMAT = "datason.integrations.mlflow/1"
_SERVING_ENV = "_MLFLOW_IS_IN_SERVING_ENVIRONMENT"  # set by mlflow.pyfunc.scoring_server.init
_API_IN_ORDER = get_api_config().replace(sort_keys=False)  # the toolkit's default: a model's key order is kept

_log = logging.getLogger(__name__)
_model_class: type | None = None


# -- artifacts ------------------------------------------------------------------------------------------------


def log_result(
    result: Any, artifact_file: str, *, run_id: str | None = None, config: SerializationConfig | None = None
) -> str:
    """Log ``result`` as the JSON artifact ``artifact_file`` of the active run (or ``run_id``); returns its URI.

    Written by ``datason.dumps`` under ``config`` (default ``get_ml_config()``: typed, large arrays as base64),
    so ``load_result`` gives back the same types. Without an active run or ``run_id``, MLflow starts a run.
    """
    mlflow = _mlflow()
    text = dumps(result, config or get_ml_config())
    if run_id is None:
        mlflow.log_text(text, artifact_file)
        run_id = mlflow.active_run().info.run_id
    else:
        mlflow.MlflowClient().log_text(run_id, text, artifact_file)
    return f"runs:/{run_id}/{artifact_file}"


def load_result(artifact_uri: str, *, config: SerializationConfig | None = None) -> Any:
    """The value ``log_result`` logged at ``artifact_uri`` (``runs:/<run_id>/<file>``, or any artifact URI)."""
    mlflow = _mlflow()
    return loads(mlflow.artifacts.load_text(artifact_uri), config or get_ml_config())


# -- the pyfunc flavor ----------------------------------------------------------------------------------------


def wrap(model: Any, *, config: SerializationConfig | None = None, output: str = "split") -> Any:
    """``model`` (a ``PythonModel``, either predict form, or a function) as a ``DatasonModel`` instance.

    ``config`` is the datason config of the answers (default: ``get_api_config()`` keeping key order, the
    serving toolkit's); ``output`` the layout used when a request does not name one (``OUTPUTS``).
    """
    return _class()(model, config=config, output=output)


def log_model(
    model: Any,
    *,
    name: str,
    input_example: Any = None,
    signature: Any = None,
    config: SerializationConfig | None = None,
    output: str | None = None,
    registered_model_name: str | None = None,
    **kwargs: Any,
) -> Any:
    """Log ``model`` wrapped by datason with ``mlflow.pyfunc.log_model(name=...)``; returns MLflow's ``ModelInfo``.

    ``input_example`` is a typed value (a DataFrame, an ndarray, a dict of arrays; or MLflow's
    ``(data, params)`` pair): MLflow infers the signature from it, so float32 stays float32. An explicit
    ``signature`` (``mlflow.models.ModelSignature``) is used as given. Either way the params schema gets
    ``OUTPUT_PARAM``. The datason config goes beside the model (the ``datason_config`` artifact).
    ``registered_model_name`` registers the model; ``kwargs`` go to ``mlflow.pyfunc.log_model``
    (``artifacts``, ``code_paths``, ``pip_requirements``, ``metadata``...).
    """
    mlflow = _mlflow()
    wrapped: Any
    if isinstance(model, _class()):
        if config is not None or output is not None:
            raise TypeError("model is already a DatasonModel: give config and output to wrap(), not log_model()")
        wrapped = model
    else:
        wrapped = wrap(model, config=config, output=output or "split")
    artifacts = dict(kwargs.pop("artifacts", None) or {})
    if CONFIG_ARTIFACT in artifacts:
        raise ValueError(f"the artifact name {CONFIG_ARTIFACT!r} is datason's: rename that artifact")
    if input_example is not None:
        data, params = input_example if _is_pair(input_example) else (input_example, None)
        input_example = (data, {**(params or {}), OUTPUT_PARAM: wrapped.output})
    if signature is not None:
        signature = _with_output_param(signature, wrapped.output)
    with tempfile.TemporaryDirectory(prefix="datason-mlflow-") as tmp:
        path = Path(tmp) / CONFIG_FILE
        path.write_text(json.dumps(_config_document(wrapped.config, wrapped.output), indent=2) + "\n")
        artifacts[CONFIG_ARTIFACT] = str(path)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=wrapped,
            artifacts=artifacts,
            input_example=input_example,
            signature=signature,
            registered_model_name=registered_model_name,
            **kwargs,
        )


def _class() -> type:
    """``DatasonModel``: ``_Methods`` on ``mlflow.pyfunc.PythonModel``, made once MLflow is imported."""
    global _model_class
    if _model_class is None:
        base = _mlflow().pyfunc.PythonModel
        namespace = {"__module__": __name__, "__qualname__": "DatasonModel", "__doc__": _Methods.__doc__}
        _model_class = type("DatasonModel", (_Methods, base), namespace)  # pickled by reference, by that name
    return _model_class


def __getattr__(name: str) -> Any:
    if name == "DatasonModel":
        return _class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Methods:
    """A ``mlflow.pyfunc.PythonModel`` around another one (or a function): MLflow parses the request, datason
    writes the answer (strict JSON; the ``datason_output`` param picks split, records or typed).

    Made by ``wrap`` and ``log_model``. ``model`` is the wrapped model, ``config`` the datason config of the
    answers, ``output`` the default layout.
    """

    def __init__(self, model: Any, *, config: SerializationConfig | None = None, output: str = "split") -> None:
        if config is not None and not isinstance(config, SerializationConfig):
            raise TypeError("config must be a datason SerializationConfig")
        if isinstance(model, _Methods):
            raise TypeError("model is already a DatasonModel")
        self.model = model
        self.config = config or _API_IN_ORDER
        self.output = _check_output(output)
        self._call = _caller(model)
        self._written: dict[str, SerializationConfig] = {}

    def load_context(self, context: Any) -> None:
        """Read the datason config logged beside the model, then run the wrapped model's ``load_context``."""
        path = (getattr(context, "artifacts", None) or {}).get(CONFIG_ARTIFACT)
        if path is not None:
            self.config, self.output = _read_config(Path(path))
            self._written = {}
        inner = getattr(self.model, "load_context", None)
        if callable(inner) and not inspect.isfunction(self.model):
            inner(context)

    def predict(self, context: Any, model_input, params: dict[str, Any] | None = None) -> Any:  # type: ignore[no-untyped-def]
        """The wrapped model's result; under MLflow's scoring server, encoded by datason for MLflow's writer.

        ``model_input`` has no type hint on purpose: MLflow turns one into a type-hint signature, and its server
        then takes ``{"inputs": ...}`` alone and skips its parser. The signature comes from the input example.
        """
        rest = dict(params or {})
        output = rest.pop(OUTPUT_PARAM, None) or self.output
        if not _serving():
            _check_output(output)
            return self._call(self.model, context, _decode(model_input), rest or None)
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE

        if output not in OUTPUTS:
            raise MlflowException(f"{OUTPUT_PARAM} must be one of {', '.join(OUTPUTS)}", INVALID_PARAMETER_VALUE)
        try:
            result = self._call(self.model, context, _decode(model_input), rest or None)
        except MlflowException:
            raise  # MLflow's own (the wrapped model's type-hint validation...): its status and message
        except Exception as exc:
            _log.exception("prediction failed")  # the traceback goes to the server's log, not to the client
            raise MlflowException(f"prediction failed ({type(exc).__name__})", INTERNAL_ERROR) from None
        try:
            return serialize(result, self._written_config(output))
        except DatasonError as exc:
            raise MlflowException(f"cannot write the prediction: {exc}", INTERNAL_ERROR) from None

    def _written_config(self, output: str) -> SerializationConfig:
        cfg = self._written.get(output)
        if cfg is None:
            if output == "typed":
                cfg = self.config.replace(include_type_hints=True, uuid_format="object")
            else:
                cfg = self.config.replace(include_type_hints=False, dataframe_orient=output)
            self._written[output] = cfg
        return cfg

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "config": self.config, "output": self.output}

    def __setstate__(self, state: dict[str, Any]) -> None:
        _Methods.__init__(self, state["model"], config=state["config"], output=state["output"])


def _caller(model: Any) -> Callable[[Any, Any, Any, Any], Any]:
    """How to call ``model``: (model, context, model_input, params) -> result, for its predict's form."""
    predict = getattr(model, "predict", None)
    if callable(predict) and not inspect.isfunction(model):
        names = inspect.signature(predict).parameters
    elif callable(model):
        predict = None
        names = inspect.signature(model).parameters
    else:
        raise TypeError("model must be a mlflow.pyfunc.PythonModel (or anything with predict) or a predict function")
    with_context = "context" in names
    with_params = "params" in names

    def call(model: Any, context: Any, model_input: Any, params: Any) -> Any:
        fn = model.predict if predict is not None else model
        args = (context, model_input) if with_context else (model_input,)
        return fn(*args, params=params) if with_params else fn(*args)

    return call


def _decode(model_input: Any) -> Any:
    """MLflow's parse, except object arrays of numbers and nulls (no signature): read as datason's codec does."""

    if _is_objects(model_input):
        return _numeric(model_input)
    if isinstance(model_input, dict) and any(_is_objects(v) for v in model_input.values()):
        return {k: _numeric(v) if _is_objects(v) else v for k, v in model_input.items()}
    return model_input


def _is_objects(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.ndarray) and value.dtype == object


def _numeric(array: Any) -> Any:
    import numpy as np

    try:
        value = scoring.decode_request({"inputs": array.tolist()}).value
    except DatasonError:
        return array
    return value if isinstance(value, np.ndarray) and value.dtype != object else array


def _serving() -> bool:
    return os.environ.get(_SERVING_ENV, "").strip().lower() in ("true", "1")


def _check_output(output: Any) -> str:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    return str(output)


def _is_pair(example: Any) -> bool:
    return isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], dict | type(None))


def _with_output_param(signature: Any, output: str) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    if not isinstance(signature, ModelSignature):
        raise TypeError("signature must be a mlflow.models.ModelSignature")
    specs = list(signature.params.params) if signature.params is not None else []
    if any(spec.name == OUTPUT_PARAM for spec in specs):
        return signature
    specs.append(ParamSpec(OUTPUT_PARAM, "string", output))
    return ModelSignature(inputs=signature.inputs, outputs=signature.outputs, params=ParamSchema(specs))


def _config_document(config: SerializationConfig, output: str) -> dict[str, Any]:
    fields = config._asdict()
    fields["trusted_types"] = list(fields["trusted_types"])
    return {"format": _FORMAT, "output": output, "config": fields}


def _read_config(path: Path) -> tuple[SerializationConfig, str]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("config"), dict):
        raise ValueError(f"{path} is not a datason config written by datason.integrations.mlflow")
    fields = dict(doc["config"])
    fields["trusted_types"] = tuple(fields.get("trusted_types") or ())
    return SerializationConfig(**fields), _check_output(doc.get("output"))


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - the frameworks virtualenv has it
        raise ImportError("datason.integrations.mlflow needs MLflow 3: pip install mlflow") from exc
    if not hasattr(mlflow, "models") or not str(mlflow.__version__).startswith("3."):
        found = getattr(mlflow, "__version__", "?")
        raise ImportError(f"datason.integrations.mlflow needs MLflow 3 (found {found}): pip install -U mlflow")
    return mlflow
