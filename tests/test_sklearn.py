"""scikit-learn estimators through skops' secure format: round trips, trust, hostile and malformed payloads."""

from __future__ import annotations

import base64
import io
import json
import pathlib
import subprocess
import sys
import zipfile
from typing import Any

import pytest

pytest.importorskip("sklearn")
skops_io = pytest.importorskip("skops.io")

import numpy as np  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import datason  # noqa: E402
from datason.config import SerializationConfig, get_api_config  # noqa: E402
from datason.errors import DeserializationError, SecurityError  # noqa: E402
from datason.wire import TYPE_KEY, VALUE_KEY  # noqa: E402
from tests.conftest import strict_json  # noqa: E402

X, Y = load_iris(return_X_y=True)
LOGREG = "sklearn.linear_model._logistic.LogisticRegression"
FOREST = "sklearn.ensemble._forest.RandomForestClassifier"
TREE = "sklearn.tree._classes.DecisionTreeClassifier"
TREE_STATE = "sklearn.tree._tree.Tree"
PIPELINE = "sklearn.pipeline.Pipeline"
SCALER = "sklearn.preprocessing._data.StandardScaler"

MODELS: list[tuple[str, Any, tuple[str, ...]]] = [
    ("logreg", lambda: LogisticRegression(max_iter=300).fit(X, Y), (LOGREG,)),
    ("unfitted", lambda: LogisticRegression(C=0.5), (LOGREG,)),
    ("forest", lambda: RandomForestClassifier(n_estimators=3, random_state=0).fit(X, Y), (FOREST, TREE, TREE_STATE)),
    (
        "pipeline",
        lambda: Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=300))]).fit(X, Y),
        (PIPELINE, SCALER, LOGREG),
    ),
]


@pytest.fixture(scope="module", params=MODELS, ids=[m[0] for m in MODELS])
def model(request: pytest.FixtureRequest) -> tuple[Any, tuple[str, ...]]:
    return request.param[1](), request.param[2]


def test_round_trip_with_trusted_types(model: tuple[Any, tuple[str, ...]], walker: str) -> None:
    est, names = model
    text = datason.dumps({"model": est, "version": 3})
    doc = strict_json(text)
    payload = doc["model"][VALUE_KEY]
    assert doc["model"][TYPE_KEY] == "sklearn.estimator"
    assert payload["format"] == "skops"
    assert payload["class"] == f"{type(est).__module__}.{type(est).__qualname__}"
    back = datason.loads(text, SerializationConfig(trusted_types=names))
    assert type(back["model"]) is type(est) and back["version"] == 3
    assert back["model"].get_params(deep=False).keys() == est.get_params(deep=False).keys()
    if hasattr(est, "classes_"):
        want, got = est.predict_proba(X), back["model"].predict_proba(X)
        assert want.dtype == got.dtype and want.tobytes() == got.tobytes()  # bit-identical
    tree = datason.serialize(est)
    again = datason.deserialize(tree, SerializationConfig(trusted_types=names))
    assert type(again) is type(est)


def test_no_trust_lists_every_name(model: tuple[Any, tuple[str, ...]], walker: str) -> None:
    est, names = model
    with pytest.raises(SecurityError) as info:
        datason.loads(datason.dumps([est]))
    assert info.value.path == "$[0]"
    for name in names:
        assert name in str(info.value)


def test_partial_trust_lists_the_rest(model: tuple[Any, tuple[str, ...]]) -> None:
    est, names = model
    if len(names) < 2:
        pytest.skip("one type only")
    with pytest.raises(SecurityError) as info:
        datason.loads(datason.dumps(est), SerializationConfig(trusted_types=names[:1]))
    message = str(info.value)
    assert names[0] not in message.split(": ", 1)[1]
    assert all(name in message for name in names[1:])


def test_plain_form_is_strict_json_and_not_decoded(model: tuple[Any, tuple[str, ...]], walker: str) -> None:
    est, _ = model
    text = datason.dumps(est, get_api_config())
    doc = strict_json(text)
    assert doc["class"] == f"{type(est).__module__}.{type(est).__qualname__}"
    assert set(doc["params"]) == set(est.get_params(deep=False))
    assert datason.loads(text) == doc  # plain JSON stays plain JSON
    if isinstance(est, Pipeline):
        assert doc["params"]["steps"][0] == ["scale", {"class": SCALER, "params": StandardScaler().get_params()}]


# --- hostile payloads ---------------------------------------------------------------------------------------


def _zip(schema: dict[str, Any], extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _rewrite(est: Any, edit: Any) -> bytes:
    data = skops_io.dumps(est)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
        extra = {n: archive.read(n) for n in archive.namelist() if n != "schema.json"}
    edit(schema)
    return _zip(schema, extra)


def _doc(data: bytes, cls: str = LOGREG) -> str:
    payload = {"format": "skops", "class": cls, "data": base64.b64encode(data).decode()}
    return json.dumps({TYPE_KEY: "sklearn.estimator", VALUE_KEY: payload})


def _set_param(name: str, node: dict[str, Any]) -> Any:
    def edit(schema: dict[str, Any]) -> None:
        schema["content"]["content"][name] = node

    return edit


def _top_class(module: str, cls: str) -> Any:
    def edit(schema: dict[str, Any]) -> None:
        schema["__module__"], schema["__class__"] = module, cls

    return edit


def _fn(module: str, name: str) -> dict[str, Any]:
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode", "__id__": 1}


HOSTILE = [
    ("eval-function", _set_param("C", _fn("builtins", "eval")), LOGREG, "builtins.eval"),
    ("os-system-function", _set_param("tol", _fn("os", "system")), LOGREG, "os.system"),
    ("popen-object", _top_class("subprocess", "Popen"), "subprocess.Popen", "subprocess.Popen"),
    ("os-system-object", _top_class("os", "system"), "os.system", "os.system"),
]


@pytest.mark.parametrize(("edit", "cls", "name"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("trust", ["none", "model", "everything-named"])
def test_hostile_types_never_load(edit: Any, cls: str, name: str, trust: str, tmp_path: pathlib.Path) -> None:
    est = LogisticRegression()
    text = _doc(_rewrite(est, edit), cls)
    trusted = {"none": (), "model": (LOGREG,), "everything-named": (LOGREG, cls, name)}[trust]
    with pytest.raises(SecurityError) as info:
        datason.loads(text, SerializationConfig(trusted_types=trusted))
    assert name in str(info.value)


def test_skops_checks_again_after_datason() -> None:
    """Even with datason's checks bypassed, skops' own trust list refuses the type (defence in depth)."""
    data = _rewrite(LogisticRegression(), _set_param("C", _fn("builtins", "eval")))
    assert "builtins.eval" in skops_io.get_untrusted_types(data=data)
    with pytest.raises(Exception, match=r"(?i)untrusted"):
        skops_io.loads(data, trusted=[LOGREG])


def _good_payload() -> dict[str, Any]:
    return json.loads(datason.dumps(LogisticRegression()))[VALUE_KEY]  # type: ignore[no-any-return]


MALFORMED: list[tuple[str, Any]] = [
    ("bad-base64", lambda p: {**p, "data": "not base64!!"}),
    ("not-a-zip", lambda p: {**p, "data": base64.b64encode(b"PK\x03\x04 garbage").decode()}),
    ("zip-without-schema", lambda p: {**p, "data": base64.b64encode(_zip_without_schema()).decode()}),
    ("schema-not-json", lambda p: {**p, "data": base64.b64encode(_zip_raw(b"{nope")).decode()}),
    ("wrong-format", lambda p: {**p, "format": "pickle"}),
    ("class-mismatch", lambda p: {**p, "class": FOREST}),
    ("no-class", lambda p: {k: v for k, v in p.items() if k != "class"}),
    ("not-an-object", lambda p: [p]),
    ("data-not-str", lambda p: {**p, "data": 5}),
]


def _zip_without_schema() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.json", "{}")
    return buffer.getvalue()


def _zip_raw(schema: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("schema.json", schema)
    return buffer.getvalue()


@pytest.mark.parametrize("mutate", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_payloads(mutate: Any, walker: str) -> None:
    text = json.dumps({"m": {TYPE_KEY: "sklearn.estimator", VALUE_KEY: mutate(_good_payload())}})
    with pytest.raises(DeserializationError) as info:
        datason.loads(text, SerializationConfig(trusted_types=(LOGREG,)))
    assert info.value.path == "$.m"
    assert "garbage" not in str(info.value)


def test_zip_bomb_is_refused() -> None:
    data = _zip_raw(b" " * 1_000_000)
    text = _doc(data)
    with pytest.raises(SecurityError, match="max_bytes"):
        datason.loads(text, SerializationConfig(trusted_types=(LOGREG,), max_bytes=len(text) + 100))


def test_legacy_tag_still_never_decoded() -> None:
    payload = {"class": LOGREG, "params": {"C": 1.0}}
    doc = {TYPE_KEY: "sklearn.model", VALUE_KEY: payload}
    assert datason.loads(json.dumps(doc), SerializationConfig(trusted_types=(LOGREG,))) == doc


def test_user_estimator_subclass_uses_the_handler() -> None:
    from sklearn.base import BaseEstimator

    class Custom(BaseEstimator):
        def __init__(self, alpha: float = 1.0) -> None:
            self.alpha = alpha

    plain = strict_json(datason.dumps(Custom(2.0), get_api_config()))
    assert plain == {"class": f"{__name__}.{Custom.__qualname__}", "params": {"alpha": 2.0}}


def test_import_datason_does_not_import_sklearn_or_skops() -> None:
    code = (
        "import sys, datason\n"
        "datason.loads(datason.dumps({'a': [1, 2.5, None]}))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sklearn', 'skops', 'pydantic')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_array_attributes_are_kept() -> None:
    est = StandardScaler().fit(X)
    back = datason.loads(datason.dumps(est), SerializationConfig(trusted_types=(SCALER,)))
    assert isinstance(back.mean_, np.ndarray) and back.mean_.tobytes() == est.mean_.tobytes()
