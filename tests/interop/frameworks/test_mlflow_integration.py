"""datason.integrations.mlflow against MLflow 3.17: a SQLite tracking and registry store in a temporary folder,
models served by ``mlflow models serve --env-manager local``, as users start it.

Once for the module: the store (``sqlite:///<tmp>/mlflow.db``, artifacts beside it), two versions of
``tests.interop.apps.mlflow_models:Showcase`` logged with ``log_model`` and registered as ``showcase`` (v1:
the default ``split`` answers; v2: ``typed`` answers and a config of its own), ``examples/mlflow_basic.py`` run
as users run it (it registers ``iris``), then two MLflow scoring servers, each in its own process group on a
free 127.0.0.1 port: ``models:/showcase/1`` (by version) and ``models:/iris/latest``. Checked: typed run
artifacts round-trip through the store (where ``mlflow.log_dict`` writes ``"[0 1 2]"``); the signature keeps
float32 and lists ``datason_output``; the datason config is read back from beside each version; loading by
``latest`` and by version; over HTTP, every MLflow input format reaches predict with float32 kept and the
``dataframe_split`` index kept, answers are strict JSON in the three layouts (typed ones exact), errors
carry no traceback. The examples and the docs page's python blocks run here too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.deployments import PredictionsResponse
from mlflow.models.utils import convert_input_example_to_serving_input

import datason
from datason.config import get_api_config
from datason.integrations import mlflow as dm
from datason.protocols import mlflow as scoring
from tests.interop.apps.mlflow_models import FRAME, VALUES, Showcase
from tests.interop.helpers import (
    ROOT,
    assert_array_exact,
    assert_frame_exact,
    free_port,
    get,
    post,
    stop_group,
    strict_json,
)

DOCS = ROOT / "docs" / "integrations" / "mlflow.md"
BIN = pathlib.Path(sys.executable).parent
V2_CONFIG = get_api_config().replace(sort_keys=False, max_size=50_000, date_format="iso")


class Store:
    """The module's MLflow store: SQLite tracking and registry in a temporary folder, artifacts beside it."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.uri = f"sqlite:///{root / 'mlflow.db'}"
        self.experiment_id = ""


class MlflowServer:
    """`mlflow models serve -m URI --env-manager local` in a process group of its own on a free loopback port."""

    def __init__(self, name: str, model_uri: str, store: Store) -> None:
        self.name = name
        self.model_uri = model_uri
        self.store = store
        self.log_path = store.root / f"serve-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATASON_SERVING_")}
        env.update(MLFLOW_TRACKING_URI=self.store.uri, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
        env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # no usage reports (the machine has no network anyway)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        cmd = [str(BIN / "mlflow"), "models", "serve", "-m", self.model_uri, "--env-manager", "local"]
        cmd += ["-h", "127.0.0.1", "-p", str(port)]
        with self.log_path.open("ab") as log:  # cwd: the repository, whose tests package the pickle names
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def poll_ready(self) -> bool | None:
        """True once /ping answers 200, False while starting, None if the process died."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return None
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            with urllib.request.urlopen(self.url + "/ping", timeout=2) as r:
                return r.status == 200
        return False

    def stop(self) -> None:
        stop_group(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    found = Store(tmp_path_factory.mktemp("mlflow"))
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(found.uri)  # also sets MLFLOW_TRACKING_URI, for the processes started here
    found.experiment_id = mlflow.create_experiment("datason", artifact_location=(found.root / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=found.experiment_id)
    try:
        yield found
    finally:
        mlflow.set_tracking_uri(saved)  # None unsets it


@pytest.fixture(scope="module")
def registered(store: Store) -> dict[str, Any]:
    """showcase v1 and v2 logged with log_model and registered; examples/mlflow_basic.py run (it registers iris)."""
    infos = {}
    with mlflow.start_run(experiment_id=store.experiment_id):
        example = (FRAME, {"case": "echo"})
        infos[1] = dm.log_model(Showcase(), name="showcase", input_example=example, registered_model_name="showcase")
        infos[2] = dm.log_model(
            Showcase(),
            name="showcase",
            input_example=example,
            registered_model_name="showcase",
            config=V2_CONFIG,
            output="typed",
        )
    basic = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mlflow_basic.py")],
        cwd=store.root,
        env={**os.environ, "MLFLOW_TRACKING_URI": store.uri, "MLFLOW_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert basic.returncode == 0, basic.stdout[-2000:] + basic.stderr[-4000:]
    return {"showcase": infos, "basic": basic.stdout}


@pytest.fixture(scope="module")
def servers(store: Store, registered: dict[str, Any]) -> Iterator[dict[str, MlflowServer]]:
    started = {
        "showcase": MlflowServer("showcase", "models:/showcase/1", store),
        "iris": MlflowServer("iris", "models:/iris/latest", store),
    }
    try:
        for server in started.values():
            server.spawn()
        waiting = dict(started)
        deadline = time.monotonic() + 150
        while waiting and time.monotonic() < deadline:
            for name, server in list(waiting.items()):
                state = server.poll_ready()
                if state is None and "address already in use" in server.log().lower():
                    server.spawn()  # a probed free port was taken before uvicorn bound it: another one
                elif state is None:
                    raise AssertionError(f"mlflow models serve {server.model_uri} exited:\n{server.log()[-3000:]}")
                elif state:
                    del waiting[name]
            time.sleep(0.2)
        assert not waiting, "not ready: " + "; ".join(f"{s.model_uri}:\n{s.log()[-2000:]}" for s in waiting.values())
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(scope="module")
def showcase(servers: dict[str, MlflowServer]) -> MlflowServer:
    return servers["showcase"]


def invoke(server: MlflowServer, body: bytes | str) -> tuple[int, bytes]:
    status, _, answer = post(server.url + "/invocations", body.encode() if isinstance(body, str) else body)
    return status, answer


def request(value: Any = FRAME, *, form: str | None = None, **params: str) -> bytes:
    return scoring.encode_request(value, form=form, params=params or None)


def assert_same(got: Any, want: Any) -> None:
    """Exact equality: types, dtypes, shapes, bits, index, zones; NaN equals NaN."""
    if isinstance(want, np.ndarray):
        assert_array_exact(got, want)
    elif isinstance(want, pd.DataFrame):
        assert_frame_exact(got, want)
        assert got.index.name == want.index.name
    elif isinstance(want, pd.Series):
        pd.testing.assert_series_equal(got, want, check_exact=True)
    elif isinstance(want, dict):
        assert type(got) is dict and list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, float) and math.isnan(want):
        assert type(got) is float and math.isnan(got)
    else:
        assert type(got) is type(want) and got == want, (got, want)
        if isinstance(want, dt.datetime):
            assert got.tzinfo == want.tzinfo and got.utcoffset() == want.utcoffset()
        if isinstance(want, Decimal):
            assert str(got) == str(want)  # exponent and sign kept


# --- run artifacts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VALUES))
def test_results_round_trip_through_the_store(store: Store, name: str) -> None:
    with mlflow.start_run(experiment_id=store.experiment_id) as run:
        uri = dm.log_result(VALUES[name], f"results/{name}.json")  # the active run
    assert uri == f"runs:/{run.info.run_id}/results/{name}.json"
    assert "results" in {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    text = mlflow.artifacts.load_text(uri)
    strict_json(text)  # a JSON artifact any reader opens (MLflow's UI previews it)
    assert_same(dm.load_result(uri), VALUES[name])


def test_log_result_to_a_finished_run_and_what_log_dict_loses(store: Store) -> None:
    with mlflow.start_run(experiment_id=store.experiment_id) as run:
        mlflow.log_dict({"labels": np.arange(3), "when": dt.datetime(2024, 1, 2, tzinfo=dt.UTC)}, "log_dict.json")
    run_id = run.info.run_id
    assert mlflow.get_run(run_id).info.status == "FINISHED"
    lost = mlflow.artifacts.load_dict(f"runs:/{run_id}/log_dict.json")
    assert lost == {"labels": "[0 1 2]", "when": "2024-01-02 00:00:00+00:00"}  # MLflow's str() fallback

    value = {"labels": np.arange(3), "when": dt.datetime(2024, 1, 2, tzinfo=dt.UTC), "scores": VALUES["frame"]}
    uri = dm.log_result(value, "eval/kept.json", run_id=run_id)  # MlflowClient.log_text: no run is started
    assert mlflow.active_run() is None
    assert_same(dm.load_result(uri), value)
    big = np.random.default_rng(3).standard_normal(1000).astype(np.float32)
    uri = dm.log_result(big, "eval/big.json", run_id=run_id)  # the ML config: large arrays as base64, exact
    assert '"base64"' in mlflow.artifacts.load_text(uri)
    assert_array_exact(dm.load_result(uri), big)
    readable = dm.log_result(big, "eval/readable.json", run_id=run_id, config=get_api_config())
    plain = strict_json(mlflow.artifacts.load_text(readable))  # plain JSON, as asked: float32's shortest digits
    assert_array_exact(np.array(plain, dtype=np.float32), big)


# --- logging, the signature, the config beside the model, the registry ---------------------------------------


def test_signature_keeps_float32_and_lists_the_output_param(registered: dict[str, Any]) -> None:
    info = mlflow.models.get_model_info("models:/showcase/1")
    inputs = {spec.name: spec.type.name for spec in info.signature.inputs.inputs}
    assert inputs == {"x": "float", "n": "long", "s": "string", "b": "boolean"}  # "float" is float32
    params = {p.name: (p.dtype.name, p.default) for p in info.signature.params.params}
    assert params == {"case": ("string", "echo"), "datason_output": ("string", "split")}
    assert mlflow.models.get_model_info("models:/showcase/2").signature.params.params[-1].default == "typed"

    local = pathlib.Path(mlflow.artifacts.download_artifacts("models:/showcase/1"))
    example = mlflow.models.Model.load(str(local)).load_input_example(str(local))
    assert example["x"].dtype == np.float32
    assert_array_exact(example["x"].to_numpy(), FRAME["x"].to_numpy())
    serving = json.loads((local / "serving_input_example.json").read_text())
    assert serving["params"] == {"case": "echo", "datason_output": "split"}


def test_config_is_logged_beside_each_version(registered: dict[str, Any]) -> None:
    for version, output, config in ((1, "split", get_api_config().replace(sort_keys=False)), (2, "typed", V2_CONFIG)):
        local = pathlib.Path(mlflow.artifacts.download_artifacts(f"models:/showcase/{version}"))
        doc = json.loads((local / "artifacts" / "datason.json").read_text())
        assert doc["format"] == "datason.integrations.mlflow/1" and doc["output"] == output
        assert doc["config"]["max_size"] == config.max_size and doc["config"]["include_type_hints"] is False
        wrapped = mlflow.pyfunc.load_model(f"models:/showcase/{version}").unwrap_python_model()
        assert type(wrapped).__name__ == "DatasonModel" and isinstance(wrapped, dm.DatasonModel)
        assert wrapped.config == config and wrapped.output == output  # read back by load_context
        assert isinstance(wrapped.model, Showcase)


def test_registry_latest_and_versions_predict_the_models_own_result(registered: dict[str, Any]) -> None:
    client = mlflow.MlflowClient()
    versions = sorted(int(v.version) for v in client.search_model_versions("name='showcase'"))
    assert versions == [1, 2]
    latest = mlflow.pyfunc.load_model("models:/showcase/latest")
    assert latest.metadata.model_id == registered["showcase"][2].model_id
    first = mlflow.pyfunc.load_model("models:/showcase/1")
    assert first.metadata.model_id == registered["showcase"][1].model_id != latest.metadata.model_id
    for model in (latest, first):  # outside a server: the wrapped model's result, untouched
        assert_frame_exact(model.predict(FRAME), FRAME)
        assert_same(model.predict(FRAME, params={"case": "frame"}), VALUES["frame"])
        assert_same(model.predict(FRAME, params={"case": "uuid"}), VALUES["uuid"])
        with pytest.raises(ZeroDivisionError):
            model.predict(FRAME, params={"case": "fail"})
    with pytest.raises(mlflow.exceptions.MlflowException, match="Can not safely convert float64 to float32"):
        first.predict(FRAME.astype({"x": np.float64}))  # MLflow's own check: the signature says float32


def test_function_model_through_mlflows_writer(store: Store, tmp_path: pathlib.Path) -> None:
    """A plain function as the model; `mlflow models predict` (MLflow's serving code, in process) writes its answer."""

    def scale(model_input: pd.DataFrame) -> pd.DataFrame:
        return (model_input * 2).astype(np.float32).set_axis(["twice"], axis=1)

    with mlflow.start_run(experiment_id=store.experiment_id):
        example = pd.DataFrame({"v": np.array([0.5, np.nan], dtype=np.float32)})
        info = dm.log_model(scale, name="scale", input_example=example)
    source = tmp_path / "in.json"
    source.write_bytes(request(pd.DataFrame({"v": [0.1, None]}, index=[7, 8])))
    out = tmp_path / "out.json"
    mlflow.models.predict(info.model_uri, input_path=str(source), output_path=str(out), env_manager="local")
    doc = strict_json(out.read_bytes())  # MLflow's writer, datason's values: null where MLflow writes NaN
    assert doc == {"predictions": {"columns": ["twice"], "index": [7, 8], "data": [[0.2], [None]]}}


# --- over HTTP: inputs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_every_input_format_reaches_predict(showcase: MlflowServer, form: str) -> None:
    """What predict received, sent back in datason's typed form: float32 kept, the split index kept."""
    status, body = invoke(showcase, request(FRAME, form=form, datason_output="typed"))
    assert status == 200, body
    got = datason.loads(body)["predictions"]
    want = FRAME if form == "dataframe_split" else FRAME.reset_index(drop=True)
    assert_frame_exact(got, want)


def test_mlflows_own_request_writer(showcase: MlflowServer) -> None:
    """What MLflow's client writes (float32 with float64 digits, no index) still reaches predict as float32."""
    body = convert_input_example_to_serving_input(FRAME)
    assert "0.10000000149011612" in body
    doc = json.loads(body)
    doc["params"] = {"datason_output": "typed"}
    status, answer = invoke(showcase, json.dumps(doc))
    assert status == 200
    assert_frame_exact(datason.loads(answer)["predictions"], FRAME.reset_index(drop=True))


def test_nulls_from_json(showcase: MlflowServer) -> None:
    """A null in the float32 column is NaN there; MLflow refuses one in the int64 column (its schema rule)."""
    frame = FRAME.copy()
    frame.loc[20, "x"] = np.nan
    status, body = invoke(showcase, request(frame, datason_output="typed"))
    assert status == 200
    assert_frame_exact(datason.loads(body)["predictions"], frame)
    bad = json.loads(request(frame))
    bad["dataframe_split"]["data"][0][1] = None
    status, body = invoke(showcase, json.dumps(bad))
    assert status == 400 and strict_json(body)["error_code"] == "BAD_REQUEST"


# --- over HTTP: answers --------------------------------------------------------------------------------------


def test_default_answer_is_split_with_the_index(showcase: MlflowServer) -> None:
    status, body = invoke(showcase, request(FRAME))
    assert status == 200
    assert strict_json(body) == {
        "predictions": {
            "columns": ["x", "n", "s", "b"],
            "index": [10, 20, 30],
            "data": [[0.1, 2**53 + 1, "a", True], [-2.5, -1, "\u00e9", False], [3.4028235e38, 0, "c", True]],
        }
    }
    assert b"0.1," in body and b"0.10000000149011612" not in body  # float32 with its own digits
    status, body = invoke(showcase, request(FRAME, case="frame"))
    assert strict_json(body)["predictions"] == {
        "columns": ["ts", "size", "x", "n"],
        "index": ["r1", "r2", "r3"],
        "data": [
            ["2024-03-30T23:00:00+01:00", "S", 0.1, 2**62],
            ["2024-03-31T00:00:00+01:00", "L", None, -1],
            ["2024-03-31T01:00:00+01:00", "S", 2.5, 0],  # the DST change keeps each offset
        ],
    }
    status, body = invoke(showcase, request(FRAME, case="series"))
    assert strict_json(body)["predictions"] == {
        "name": "s",
        "index": ["2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00"],
        "data": [1.5, -0.0],
    }


@pytest.mark.parametrize("name", list(VALUES))
def test_typed_answers_are_exact(showcase: MlflowServer, name: str) -> None:
    status, body = invoke(showcase, request(FRAME, case=name, datason_output="typed"))
    assert status == 200, body
    strict_json(body)
    assert_same(datason.loads(body)["predictions"], VALUES[name])


@pytest.mark.parametrize("name", list(VALUES))
def test_records_answers_are_datasons_mlflow_codec(showcase: MlflowServer, name: str) -> None:
    status, body = invoke(showcase, request(FRAME, case=name, datason_output="records"))
    assert status == 200, body
    assert b"NaN" not in body and b"Infinity" not in body
    assert strict_json(body) == strict_json(scoring.encode_response(VALUES[name]))


def test_mlflow_client_reads_the_records_answer(showcase: MlflowServer) -> None:
    status, body = invoke(showcase, request(FRAME, case="frame", datason_output="records"))
    assert status == 200
    got = PredictionsResponse.from_json(body.decode()).get_predictions()
    want = VALUES["frame"].reset_index(drop=True)
    assert got["x"].tolist()[0] == pytest.approx(0.1) and math.isnan(got["x"][1])
    assert got["size"].tolist() == want["size"].astype(str).tolist() and got["n"].tolist() == want["n"].tolist()
    assert got["ts"].tolist() == [t.isoformat() for t in want["ts"]]


def test_errors_carry_no_traceback(showcase: MlflowServer) -> None:
    status, body = invoke(showcase, request(FRAME, case="fail"))
    doc = strict_json(body)
    assert status == 500 and doc["error_code"] == "INTERNAL_ERROR"
    assert doc["message"].endswith("Error: prediction failed (ZeroDivisionError)")
    assert "stack_trace" not in doc and "Traceback" not in doc["message"] and "division by zero" not in body.decode()
    assert "ZeroDivisionError: division by zero" in showcase.log()  # the traceback is in the server's log

    status, body = invoke(showcase, request(FRAME, case="unwritable"))
    doc = strict_json(body)
    assert status == 500 and doc["error_code"] == "INTERNAL_ERROR"
    assert doc["message"].endswith(
        "cannot write the prediction: cannot serialize this type; register it with datason.register_type "
        "(tests.interop.apps.mlflow_models.Unwritable) at $.thing"
    )

    status, body = invoke(showcase, request(FRAME, datason_output="xml"))
    doc = strict_json(body)
    assert status == 400 and doc["error_code"] == "INVALID_PARAMETER_VALUE"
    assert doc["message"].endswith("datason_output must be one of split, records, typed")

    for malformed, code in (  # MLflow's own parser and schema check answer these, as MLflow does
        (b'{"dataframe_split": {"columns": ["x"', "BAD_REQUEST"),
        (b'{"dataframe_split": {"columns": ["nope"], "data": [[1]]}}', "INVALID_PARAMETER_VALUE"),
    ):
        status, body = invoke(showcase, malformed)
        assert status == 400 and strict_json(body)["error_code"] == code


def test_ping_and_version(showcase: MlflowServer) -> None:
    assert get(showcase.url + "/ping")[0] == 200
    assert get(showcase.url + "/version") == (200, mlflow.__version__.encode())


# --- the examples and the docs -------------------------------------------------------------------------------


def test_basic_example(store: Store, registered: dict[str, Any]) -> None:
    out = registered["basic"]
    assert re.search(r"accuracy 0\.9\d\d, evaluation at runs:/[0-9a-f]{32}/evaluation\.json", out)
    assert "models:/iris/latest: ['setosa', 'versicolor', 'virginica']" in out
    assert "models:/iris/1: ['setosa', 'versicolor', 'virginica']" in out
    info = mlflow.models.get_model_info("models:/iris/1")
    assert {spec.type.name for spec in info.signature.inputs.inputs} == {"float"}
    evaluation = dm.load_result(re.search(r"(runs:/\S+)", out).group(1))  # type: ignore[union-attr]
    assert evaluation["confusion"].dtype == np.int64 and int(evaluation["confusion"].sum()) == 150
    assert evaluation["per_class"].index.tolist() == ["setosa", "versicolor", "virginica"]


def test_scoring_example_against_the_served_iris(servers: dict[str, MlflowServer]) -> None:
    from examples import mlflow_scoring

    answers = mlflow_scoring.main(servers["iris"].url)
    flowers = mlflow_scoring.FLOWERS
    local = mlflow.pyfunc.load_model("models:/iris/latest").predict(flowers)  # the same model, in process
    assert local["species"].tolist() == ["setosa", "versicolor", "virginica"]
    assert_frame_exact(answers["typed"], local)  # float32 probabilities, the client's index, bit for bit
    assert answers["dataframe_split"].index.tolist() == ["f-17", "f-18", "f-19"]
    for form in ("dataframe_records", "instances", "inputs"):
        assert answers[form].index.tolist() == [0, 1, 2]  # those layouts carry no index
    for form in ("dataframe_split", "dataframe_records", "instances", "inputs"):
        got = answers[form]
        assert got["species"].tolist() == local["species"].tolist()
        assert_array_exact(got["p_setosa"].to_numpy().astype(np.float32), local["p_setosa"].to_numpy())
    assert answers["records"][0]["species"] == "setosa" and set(answers["records"][0]) == set(local.columns)


def _doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOCS.read_text(), re.S | re.M)


def test_docs_python_blocks_run(
    store: Store, servers: dict[str, MlflowServer], tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's blocks, in a folder of their own with MLflow's default store there (./mlflow.db, ./mlruns)."""
    blocks = _doc_blocks()
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    monkeypatch.setenv("MLFLOW_SERVER_URL", servers["iris"].url)  # the page's client talks to the iris model
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    try:
        for i, code in enumerate(blocks):
            module = types.ModuleType(f"docs_mlflow_{i}")
            monkeypatch.setitem(sys.modules, module.__name__, module)
            exec(compile(code, f"{DOCS.name}#{i}", "exec"), module.__dict__)
        assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlruns").is_dir()
    finally:
        if mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(store.uri)
        mlflow.set_experiment(experiment_id=store.experiment_id)


# --- the API's own checks ------------------------------------------------------------------------------------


def test_refuses_what_it_cannot_wrap(store: Store) -> None:
    with pytest.raises(TypeError, match=r"must be a mlflow\.pyfunc\.PythonModel .* or a predict function"):
        dm.wrap(42)
    with pytest.raises(ValueError, match=r"output must be one of \('split', 'records', 'typed'\), got 'xml'"):
        dm.wrap(Showcase(), output="xml")
    with pytest.raises(TypeError, match="config must be a datason SerializationConfig"):
        dm.wrap(Showcase(), config={"nan_handling": "null"})  # type: ignore[arg-type]
    wrapped = dm.wrap(Showcase(), output="records")
    with pytest.raises(TypeError, match="already a DatasonModel"):
        dm.wrap(wrapped)
    with pytest.raises(TypeError, match="already a DatasonModel: give config and output to wrap"):
        dm.log_model(wrapped, name="m", output="typed")
    with pytest.raises(ValueError, match="'datason_config' is datason's"):
        dm.log_model(Showcase(), name="m", artifacts={"datason_config": "x.json"})
    with pytest.raises(TypeError, match=r"signature must be a mlflow\.models\.ModelSignature"):
        dm.log_model(Showcase(), name="m", signature={"inputs": []})
    with pytest.raises(ValueError, match="output must be one of"):
        wrapped.predict(None, FRAME, params={"datason_output": "xml"})
    assert_frame_exact(wrapped.predict(None, FRAME, params={"datason_output": "typed"}), FRAME)  # local: untouched


def test_explicit_signature_gets_the_param_and_objects_are_read_as_datason_reads_them(
    store: Store, tmp_path: pathlib.Path
) -> None:
    from mlflow.models import ModelSignature
    from mlflow.pyfunc.scoring_server import infer_and_parse_data
    from mlflow.types import ParamSchema, ParamSpec, Schema, TensorSpec

    def total(model_input: Any) -> Any:
        return {"type": type(model_input).__name__, "dtype": str(model_input.dtype), "sum": np.nansum(model_input)}

    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, 2))]), params=ParamSchema([ParamSpec("k", "long", 1)])
    )
    with mlflow.start_run(experiment_id=store.experiment_id):
        tensor = dm.log_model(total, name="total", signature=signature, output="records")
        loose = dm.log_model(total, name="loose")  # no example, no signature: MLflow parses without a schema
    assert [(p.name, p.default) for p in tensor.signature.params.params] == [("k", 1), ("datason_output", "records")]
    assert loose.signature is None

    body = b'{"inputs": [1.5, null, 2]}'
    assert infer_and_parse_data(json.loads(body)).dtype == object  # MLflow's reading without a schema: [1.5, None, 2]
    (tmp_path / "in.json").write_bytes(body)
    for info, want in ((loose, {"type": "ndarray", "dtype": "float64", "sum": 3.5}), (tensor, None)):
        out = tmp_path / "out.json"
        source = tmp_path / "in.json"
        if want is None:  # the float32 tensor signature: MLflow casts, predict gets float32
            source.write_bytes(b'{"inputs": [[0.1, 0.2]]}')
            total32 = np.float32(0.1) + np.float32(0.2)  # a float32 scalar, written with float32's digits
            want = {"type": "ndarray", "dtype": "float32", "sum": float(str(total32))}
        mlflow.models.predict(info.model_uri, input_path=str(source), output_path=str(out), env_manager="local")
        assert strict_json(out.read_bytes()) == {"predictions": want}


def test_import_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match="pip install mlflow"):
        dm.log_result([1], "x.json")


def test_answer_values_are_plain_json(showcase: MlflowServer) -> None:
    """UUID, Decimal, aware datetimes, NumPy scalars: MLflow's encoder fails on the first two."""
    status, body = invoke(showcase, request(FRAME, case="mixed"))
    assert status == 200 and b"__datason_type__" not in body
    assert strict_json(body)["predictions"] == {
        "when": "2024-06-30T12:00:00+00:00",
        "id": str(uuid.UUID(int=2**127 + 5)),
        "price": "0.000",
        "scores": [0.25, 0.33333334],
        "count": 2**53 + 1,
        "missing": None,
    }
