"""Traffic at run time over real HTTP (`datason serve` subprocesses on loopback ports): shadow copies that never
reach the client (a shadow that answers differently, raises or is slow), their comparison counted and logged;
weights changed by `PUT /admin/models/{name}/traffic` with the admin scope (401/403 without, 403 with
authentication off unless --admin-without-auth); a models file (TOML) re-read on SIGHUP."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from datason.serving.auth import KeyStore
from tests.serving.test_versions_http import five_sigma
from tests.test_serving_http import Server, metric_values

APPS = "tests.serving.apps.versions"
SHADOWS = ("same", "other", "boom", "slow")
OIP = {"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [3]}]}


def shadow_counts(c: httpx.Client) -> dict[tuple[str, str], float]:
    """(model, outcome) -> ml_shadow_comparisons_total."""
    out: dict[tuple[str, str], float] = {}
    for (name, labels), value in metric_values(c.get("/metrics").text).items():
        if name == "ml_shadow_comparisons_total":
            d = dict(labels)
            out[d["model_id"], d["outcome"]] = out.get((d["model_id"], d["outcome"]), 0) + value
    return out


def wait_for(check: object, what: str) -> None:
    """Poll ``check()`` until true (the background shadow copies finish on their own time)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def shadowed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Four models, each version 1 = v1 answering every request and a shadow version "s" of another kind."""
    options: list[str] = []
    for name in SHADOWS:
        options += ["--model", f"{name}:1={APPS}:v1", "--model", f"{name}:s={APPS}:{name}", "--shadow", f"{name}=s"]
    options += ["--model", f"half:1={APPS}:v1", "--model", f"half:s={APPS}:same", "--shadow", "half=s@0.5"]
    srv = Server(tmp_path_factory.mktemp("shadow"), "--model=" + options[1], *options[2:]).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_shadow_answers_never_reach_the_client(shadowed: Server) -> None:
    n = 40
    with httpx.Client(base_url=shadowed.url, timeout=30) as c:
        for name in SHADOWS:
            for i in range(n):
                r = c.post("/predict", json={"features": {"i": i}}, headers={"X-Model-Name": name})
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["prediction"] == {"version": "v1", "echo": {"i": i}}
                assert body["model_version"] == r.headers["x-model-version"] == "1"
            r = c.post(f"/v2/models/{name}/infer", json=OIP)
            assert r.status_code == 200 and r.json()["model_version"] == "1"
        total = n + 1
        expected = {"same": "match", "other": "differ", "boom": "error", "slow": "differ"}
        wait_for(lambda: all(shadow_counts(c).get((m, o), 0) == total for m, o in expected.items()), "shadows")
        counts = shadow_counts(c)
        for name, outcome in expected.items():
            assert counts[name, outcome] == total, counts
            assert sum(v for (m, _), v in counts.items() if m == name) == total  # no other outcome
        health = {(e["model_id"], e["model_version"]): e for e in c.get("/health").json()["models"]}
    # the failing shadow shows in its own entry, not in the service's status
    assert health["boom", "s"]["error_count"] == total and health["boom", "s"]["shadow"] is True
    assert health["boom", "s"]["weight"] == 0.0
    lines = [line for line in shadowed.log_lines() if line.get("event") == "shadow"]
    assert {(line["model_id"], line["outcome"]) for line in lines} >= {(m, o) for m, o in expected.items()}
    line = next(line for line in lines if line["model_id"] == "boom")
    assert line["primary_version"] == "1" and line["shadow_version"] == "s" and line["shadow_status"] == 500
    assert "shadow failure" not in shadowed.log()  # the shadow's exception text never leaks either


def test_a_slow_shadow_runs_after_the_answer(shadowed: Server) -> None:
    """The client's answer is sent before the shadow copy runs: just after it, the copy is still pending."""
    with httpx.Client(base_url=shadowed.url, timeout=30) as c:
        before = shadow_counts(c).get(("slow", "differ"), 0)
        r = c.post("/predict", json={"features": {"i": 1}}, headers={"X-Model-Name": "slow"})
        assert r.status_code == 200 and r.json()["prediction"]["version"] == "v1"
        # the shadow sleeps half a second before answering: had the response waited for it, it would be counted
        assert shadow_counts(c).get(("slow", "differ"), 0) == before
        wait_for(lambda: shadow_counts(c).get(("slow", "differ"), 0) == before + 1, "the slow shadow")


def test_shadow_fraction_copies_about_that_share(shadowed: Server) -> None:
    n = 400
    with httpx.Client(base_url=shadowed.url, timeout=30) as c:
        for i in range(n):
            r = c.post("/predict", json={"features": {"i": i}}, headers={"X-Model-Name": "half"})
            assert r.status_code == 200 and r.json()["model_version"] == "1"
        time.sleep(0.5)  # let the last copies finish (their count is what is checked, not the time)
        copies = shadow_counts(c).get(("half", "match"), 0)
    assert abs(copies - n / 2) <= five_sigma(n, 0.5), copies


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, str]]:
    store = KeyStore()
    made = {"predict": store.create("alice"), "admin": store.create("root", scopes=("admin",))}
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    store.save(path)
    return path, made


def test_admin_route_changes_weights_at_run_time_with_the_admin_scope(
    tmp_path: pathlib.Path, keys: tuple[pathlib.Path, dict[str, str]]
) -> None:
    path, made = keys
    srv = Server(tmp_path, f"--model=m:1={APPS}:v1", "--model", f"m:2={APPS}:v2", "--api-keys", str(path)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            user, admin = {"X-API-Key": made["predict"]}, {"X-API-Key": made["admin"]}
            for _ in range(50):  # the first version added takes all traffic until told otherwise
                assert c.post("/predict", json={"features": {}}, headers=user).json()["model_version"] == "1"
            change = {"weights": {"1": 0, "2": 1}}
            assert c.put("/admin/models/m/traffic", json=change).status_code == 401
            assert c.put("/admin/models/m/traffic", json=change, headers=user).status_code == 403
            assert c.get("/admin/models/m/traffic", headers=user).status_code == 403
            r = c.put("/admin/models/m/traffic", json=change, headers=admin)
            assert r.status_code == 200
            assert r.json() == {"model": "m", "weights": {"1": 0.0, "2": 1.0}, "shadow": None, "shadow_fraction": 1.0}
            for _ in range(50):
                r = c.post("/predict", json={"features": {}}, headers=user)
                assert r.json()["model_version"] == r.headers["x-model-version"] == "2"
            # an even split, then checked within five sigma
            even = {"weights": {"1": 1, "2": 1}}
            assert c.put("/admin/models/m/traffic", json=even, headers=admin).status_code == 200
            n = 1000
            twos = sum(
                c.post("/predict", json={"features": {}}, headers=user).json()["model_version"] == "2" for _ in range(n)
            )
            assert abs(twos - n / 2) <= five_sigma(n, 0.5), twos
            got = c.get("/admin/models/m/traffic", headers=admin).json()
            assert got["weights"] == {"1": 1.0, "2": 1.0}
            # invalid policies are 400 and change nothing; unknown model 404
            bads = ({"weights": {"3": 1}}, {"weights": {"1": 0}}, {"weights": {"1": -1}}, {"weights": {"1": 1}, "x": 1})
            for bad in bads:
                r = c.put("/admin/models/m/traffic", json=bad, headers=admin)
                assert r.status_code == 400 and r.json()["status"] == "error", bad
            r = c.put("/admin/models/m/traffic", content=b"{", headers={**admin, "content-type": "application/json"})
            assert r.status_code == 400
            assert c.put("/admin/models/zz/traffic", json=change, headers=admin).status_code == 404
            assert c.get("/admin/models/m/traffic", headers=admin).json()["weights"] == {"1": 1.0, "2": 1.0}
            assert c.delete("/admin/models/m/traffic", headers=admin).status_code == 405
    finally:
        srv.stop()
    events = [line for line in srv.log_lines() if line.get("event") == "traffic"]
    assert events and events[-1]["model_id"] == "m"


def test_admin_route_is_refused_without_authentication_unless_allowed(tmp_path: pathlib.Path) -> None:
    models = [f"--model=m:1={APPS}:v1", "--model", f"m:2={APPS}:v2"]
    srv = Server(tmp_path, *models).start()
    try:
        r = httpx.put(srv.url + "/admin/models/m/traffic", json={"weights": {"2": 1}})
        assert r.status_code == 403 and "admin_without_auth" in r.json()["error"]
        assert httpx.get(srv.url + "/admin/models/m/traffic").status_code == 403
    finally:
        srv.stop()
    srv = Server(tmp_path, *models, "--admin-without-auth").start()
    try:
        r = httpx.put(srv.url + "/admin/models/m/traffic", json={"weights": {"2": 1}})
        assert r.status_code == 200
        assert httpx.post(srv.url + "/predict", json={"features": {}}).json()["model_version"] == "2"
    finally:
        srv.stop()


MODELS_TOML = """
default = "iris"

[models.iris]
shadow = "{shadow}"

[models.iris.versions."1"]
target = "tests.serving.apps.versions:v1"
weight = {w1}

[models.iris.versions."2"]
target = "tests.serving.apps.versions:v2"
weight = {w2}

[models.wine.versions]
"1.0" = "tests.serving.apps.versions:v2"
"""


def test_models_file_and_sighup_reload(tmp_path: pathlib.Path) -> None:
    file = tmp_path / "models.toml"
    file.write_text(MODELS_TOML.format(w1=1, w2=0, shadow="2"))
    srv = Server(tmp_path, f"--models-file={file}").start()
    assert srv.proc is not None
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            for _ in range(30):
                assert c.post("/predict", json={"features": {}}).json()["model_version"] == "1"
            r = c.post("/predict", json={"features": {}}, headers={"X-Model-Name": "wine"})
            assert r.json()["model_version"] == "1.0"
            wait_for(lambda: shadow_counts(c).get(("iris", "differ"), 0) == 30, "shadow copies to version 2")
            # the file changes: all traffic to 2, no shadow... applied on SIGHUP, not before
            file.write_text(MODELS_TOML.format(w1=0, w2=1, shadow="1").replace('shadow = "1"', ""))
            assert c.post("/predict", json={"features": {}}).json()["model_version"] == "1"
            os.kill(srv.proc.pid, signal.SIGHUP)
            wait_for(lambda: c.post("/predict", json={"features": {}}).json()["model_version"] == "2", "the reload")
            for _ in range(30):
                assert c.post("/predict", json={"features": {}}).json()["model_version"] == "2"
            assert c.get("/admin/models/iris/traffic").status_code == 403  # auth off: the admin route stays shut
            # a file naming another version is refused whole: the weights in force stay
            file.write_text(MODELS_TOML.format(w1=1, w2=0, shadow="3"))
            os.kill(srv.proc.pid, signal.SIGHUP)
            wait_for(lambda: any(line.get("event") == "reload_failed" for line in srv.log_lines()), "the refusal")
            for _ in range(30):
                assert c.post("/predict", json={"features": {}}).json()["model_version"] == "2"
            health = c.get("/health").json()
            assert {(e["model_id"], e["model_version"], e["weight"]) for e in health["models"]} == {
                ("iris", "1", 0.0),
                ("iris", "2", 1.0),
                ("wine", "1.0", 1.0),
            }
    finally:
        srv.stop()
    reloaded = [line for line in srv.log_lines() if line.get("event") == "reloaded"]
    assert len(reloaded) == 1 and reloaded[0]["file"] == str(file)


def test_models_file_in_json(tmp_path: pathlib.Path) -> None:
    doc = {"models": {"m": {"versions": {"a": {"target": f"{APPS}:v1", "weight": 0}, "b": f"{APPS}:v2"}}}}
    doc["models"]["m"]["versions"]["b"] = {"target": f"{APPS}:v2", "weight": 3}
    file = tmp_path / "models.json"
    file.write_text(json.dumps(doc))
    srv = Server(tmp_path, f"--models-file={file}", "--model-version", "ignored").start()
    try:
        r = httpx.post(srv.url + "/v2/models/m/infer", json=OIP)
        assert r.status_code == 200 and r.json()["model_version"] == "b"
        r = httpx.post(srv.url + "/predict", json={"features": {}}, headers={"X-Model-Version": "a"})
        assert r.json()["prediction"]["version"] == "v1"
    finally:
        srv.stop()
