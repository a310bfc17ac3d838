"""Access control over real HTTP: `datason serve --api-keys FILE` (and JWTs) in its own process group on a
loopback port. Every protocol route answers 401 (with WWW-Authenticate, one message whatever was wrong), 403
(valid key, missing scope), 415 and 200 in its own protocol's error envelope; metadata routes need a key,
probes stay open, /metrics needs the metrics scope; per-key tiers limit by key name; JWT expiry, audience,
issuer and signature are checked; failed attempts are themselves rate-limited; keys rotate without a
restart (file change and SIGHUP); no key or token ever appears in logs, metrics or responses."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pathlib
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from datason.protocols import oip
from datason.serving import ModelService, ServingConfig
from datason.serving.auth import KeyStore
from datason.serving.errors import UnauthorizedError
from tests.test_serving_http import Server

TARGET = "tests.serving.apps.secure:echo"
AUDIENCE, ISSUER = "datason-test", "https://issuer.test"
OIP_BODY = oip.encode_request({"x": np.array([1.0, 2.0])}).body
# (protocol, path, body) of every prediction route
PREDICT_ROUTES = (
    ("datason", "/predict", b'{"features": {"x": 1}}'),
    ("oip", "/v2/models/m/infer", OIP_BODY),
    ("oip", "/v2/models/m/versions/1/infer", OIP_BODY),
    ("kserve_v1", "/v1/models/m:predict", b'{"instances": [[1.0]]}'),
    ("seldon", "/api/v1.0/predictions", b'{"data": {"ndarray": [[1.0]]}}'),
    ("mlflow", "/invocations", b'{"inputs": [[1.0]]}'),
)
METADATA_ROUTES = ("/openapi.json", "/v2", "/v2/models/m", "/v2/models/m/versions/1", "/v1/models")
PROBES = ("/health", "/ready", "/v2/health/live", "/v2/health/ready", "/v2/models/m/ready", "/v1/models/m", "/ping")
JSON = {"Content-Type": "application/json"}


def expected_error(protocol: str) -> dict[str, Any]:
    """The error body the protocol's adapter writes for a 401 (the shape every route must answer in)."""
    service = ModelService(lambda f: f, config=ServingConfig(model_id="m", model_version="1"))
    return json.loads(service.adapters[protocol].error("rid", UnauthorizedError("authentication required")))


def shape(doc: Any) -> Any:
    """Keys (recursively) of a JSON body: ids and timestamps differ, the envelope does not."""
    return {k: shape(v) for k, v in doc.items()} if isinstance(doc, dict) else type(doc).__name__


class Keys:
    """A key store file with a key per role, and an RSA key pair signing JWTs."""

    def __init__(self, tmp: pathlib.Path) -> None:
        self.path = tmp / "keys.json"
        store = KeyStore()
        store.set_tier("tiny", "3/minute")
        self.predict = store.create("alice")
        self.metrics = store.create("prometheus", scopes=("metrics",))
        self.admin = store.create("root", scopes=("admin",))
        self.limited = store.create("limited", tier="tiny")
        self.per_route = {path: store.create(f"tiny-{i}", tier="tiny") for i, (_, path, _) in enumerate(PREDICT_ROUTES)}
        self.revoked = store.create("gone")
        store.revoke("gone")
        store.save(self.path)
        self.signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = tmp / "jwt.pem"
        public = self.signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.pem.write_bytes(public)
        self.tokens: list[str] = []

    def all_secrets(self) -> list[str]:
        keys = [self.predict, self.metrics, self.admin, self.limited, self.revoked, *self.per_route.values()]
        return keys + [k.split("_", 2)[2] for k in keys] + self.tokens

    def token(self, *, sub: str = "svc-1", scope: str = "predict", signer: Any = None, **claims: Any) -> str:
        now = dt.datetime.now(dt.UTC)
        payload = {"sub": sub, "aud": AUDIENCE, "iss": ISSUER, "iat": now, "exp": now + dt.timedelta(minutes=5)}
        payload.update({"scope": scope, **claims})
        token = jwt.encode(payload, signer or self.signing, algorithm="RS256")
        self.tokens.append(token)
        return token


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@contextlib.contextmanager
def running(tmp_path_factory: pytest.TempPathFactory, name: str, *options: str) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp(name), TARGET, "--model-id", "m", "--model-version", "1", *options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[Server]:
    with running(
        tmp_path_factory,
        "secured",
        "--api-keys",
        str(keys.path),
        "--metrics-auth",
        "--client-id-header",
        "X-Client",  # failures are counted per X-Client here, so tests do not share an allowance
        "--auth-failure-limit",
        "200/minute",
        "--jwt-key-file",
        str(keys.pem),
        "--jwt-audience",
        AUDIENCE,
        "--jwt-issuer",
        ISSUER,
        "--max-body-bytes",
        "2048",
    ) as server:
        yield server


def call(server: Server, path: str, body: bytes | None = None, **headers: str) -> httpx.Response:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    sent.setdefault("X-Client", uuid.uuid4().hex)
    if body is None:
        return httpx.get(server.url + path, headers=sent, timeout=30)
    return httpx.post(server.url + path, content=body, headers={**JSON, **sent}, timeout=30)


@pytest.mark.parametrize(("protocol", "path", "body"), PREDICT_ROUTES, ids=[r[1] for r in PREDICT_ROUTES])
def test_every_prediction_route_401_403_415_429_200(
    secured: Server, keys: Keys, protocol: str, path: str, body: bytes
) -> None:
    envelope = shape(expected_error(protocol))
    unknown = "dsk_00000000_" + keys.predict.split("_", 2)[2]  # a real secret under an id that does not exist
    wrong_secret = keys.predict[:-4] + ("AAAA" if not keys.predict.endswith("AAAA") else "BBBB")
    refused = [
        {},
        {"X-API-Key": unknown},
        {"X-API-Key": wrong_secret},
        {"X-API-Key": keys.revoked},
        {"X-API-Key": "not-a-key"},
        {"Authorization": f"Bearer {wrong_secret}"},
        {"Authorization": f"Basic {keys.predict}"},
        {"Authorization": "Bearer " + keys.token(exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))},
    ]
    messages = set()
    for headers in refused:
        r = call(secured, path, body, **headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == 'Bearer realm="datason"'
        assert shape(r.json()) == envelope
        messages.add(r.text.replace(r.headers["x-request-id"], "").split('"timestamp"')[0])
    assert len(messages) == 1  # the same answer whatever was wrong: no hint

    r = call(secured, path, body, X_API_Key=keys.metrics)  # a valid key without the predict scope
    assert r.status_code == 403 and "www-authenticate" not in r.headers
    assert shape(r.json()) == envelope and "not allowed" in r.text

    r = call(secured, path, body, X_API_Key=keys.predict, Content_Type="text/plain")
    assert r.status_code == 415 and shape(r.json()) == envelope

    for headers in ({"X-API-Key": keys.predict}, {"Authorization": f"Bearer {keys.predict}"}):
        r = call(secured, path, body, **headers)
        assert r.status_code == 200, r.text
    r = call(secured, path, body, X_API_Key=keys.admin)  # admin holds every scope
    assert r.status_code == 200
    r = call(secured, path, body, Authorization="Bearer " + keys.token())
    assert r.status_code == 200

    tiny = keys.per_route[path]  # a key of the 3/minute tier: the fourth request is a 429 in the protocol's form
    assert [call(secured, path, body, X_API_Key=tiny).status_code for _ in range(3)] == [200, 200, 200]
    r = call(secured, path, body, X_API_Key=tiny)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and shape(r.json()) == envelope


def test_metadata_needs_a_key_and_probes_stay_open(secured: Server, keys: Keys) -> None:
    for path in METADATA_ROUTES:
        r = call(secured, path)
        assert r.status_code == 401 and r.headers["www-authenticate"], path
        assert call(secured, path, X_API_Key=keys.metrics).status_code == 403, path
        assert call(secured, path, X_API_Key=keys.predict).status_code == 200, path
    for path in PROBES:
        assert call(secured, path).status_code == 200, path
    doc = call(secured, "/openapi.json", X_API_Key=keys.predict).json()
    assert set(doc["components"]["securitySchemes"]) == {"apiKey", "bearer"}
    assert doc["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert doc["paths"]["/predict"]["post"]["security"] == [{"apiKey": []}, {"bearer": []}]
    assert {"401", "403", "415"} <= set(doc["paths"]["/predict"]["post"]["responses"])
    assert "security" not in doc["paths"]["/health"]["get"]
    assert "403" in doc["paths"]["/metrics"]["get"]["responses"]  # metrics_auth: the metrics scope
    # an unknown model is not revealed to a caller without a key
    assert call(secured, "/v2/models/other").status_code == 401
    assert call(secured, "/v2/models/other", X_API_Key=keys.predict).status_code == 404


def test_metrics_needs_the_metrics_scope(secured: Server, keys: Keys) -> None:
    assert call(secured, "/metrics").status_code == 401
    assert call(secured, "/metrics", X_API_Key=keys.predict).status_code == 403
    assert call(secured, "/metrics", X_API_Key=keys.metrics).status_code == 200
    assert call(secured, "/metrics", X_API_Key=keys.admin).status_code == 200
    r = call(secured, "/metrics", Authorization="Bearer " + keys.token(scope="metrics"))
    assert r.status_code == 200 and b"ml_security_events_total" in r.content


def test_per_key_tier_limits_by_key_name(secured: Server, keys: Keys) -> None:
    body = b'{"features": {"tier": 1}}'
    statuses = [call(secured, "/predict", body, X_API_Key=keys.limited).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    r = call(secured, "/predict", body, X_API_Key=keys.limited)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert call(secured, "/predict", body, X_API_Key=keys.predict).status_code == 200  # other keys: their own
    lines = [line for line in secured.log_lines() if line.get("client") == "limited" and "event" not in line]
    assert [line["status"] for line in lines][-4:] == [200, 200, 200, 429]
    events = [line for line in secured.log_lines() if line.get("event") == "rate_limited"]
    assert events and events[-1]["key_name"] == "limited" and events[-1]["path"] == "/predict"


def test_jwt_claims_are_checked(secured: Server, keys: Keys) -> None:
    body = b'{"features": {"jwt": 1}}'
    good = keys.token(sub="batch-job")
    r = call(secured, "/predict", body, Authorization=f"Bearer {good}")
    assert r.status_code == 200
    assert any(line.get("client") == "batch-job" for line in secured.log_lines())
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    for token in (
        keys.token(exp=past),  # expired
        keys.token(aud="another-service"),  # wrong audience
        keys.token(iss="https://elsewhere.test"),  # wrong issuer
        keys.token(signer=keys.other),  # signed by another key
        jwt.encode({"sub": "x", "aud": AUDIENCE, "iss": ISSUER, "exp": 2**40}, None, algorithm="none"),
        good[:-6] + "AAAAAA",  # tampered signature
    ):
        r = call(secured, "/predict", body, Authorization=f"Bearer {token}")
        assert r.status_code == 401 and r.json()["error"] == "authentication required"
    r = call(secured, "/predict", body, Authorization="Bearer " + keys.token(scope="metrics"))
    assert r.status_code == 403


def test_security_events_are_logged_and_counted(secured: Server, keys: Keys) -> None:
    rid = "events-" + uuid.uuid4().hex[:8]
    call(secured, "/predict", b'{"features": 1}', X_Request_ID=rid + "-401")
    call(secured, "/predict", b'{"features": 1}', X_API_Key=keys.metrics, X_Request_ID=rid + "-403")
    call(secured, "/predict", b"{", X_API_Key=keys.predict, X_Request_ID=rid + "-400")
    call(secured, "/predict", b"x" * 5000, X_API_Key=keys.predict, X_Request_ID=rid + "-413")
    r = call(secured, "/predict", b"{}", X_API_Key=keys.predict, X_Request_ID=rid + "-415", Content_Type="text/plain")
    assert r.status_code == 415
    time.sleep(0.5)  # the request log is flushed every 0.2 s
    events = {line["request_id"]: line for line in secured.log_lines() if line.get("event")}
    expected = {
        "-401": ("auth_failed", None),
        "-403": ("scope_denied", "prometheus"),
        "-400": ("invalid_request", "alice"),
        "-413": ("too_large", "alice"),
        "-415": ("invalid_request", "alice"),
    }
    for suffix, (kind, key_name) in expected.items():
        line = events[rid + suffix]
        assert line["event"] == kind and line["key_name"] == key_name and line["path"] == "/predict"
        assert line["client"] and line["status"] == int(suffix[1:])
    text = call(secured, "/metrics", X_API_Key=keys.metrics).text
    for kind in ("auth_failed", "scope_denied", "invalid_request", "too_large"):
        sample = next(s for s in text.splitlines() if s.startswith(f'ml_security_events_total{{kind="{kind}"'))
        assert float(sample.rsplit(" ", 1)[1]) >= 1


def test_keys_never_appear_in_logs_metrics_or_responses(secured: Server, keys: Keys) -> None:
    seen: list[str] = []
    for headers in (
        {"X-API-Key": keys.predict},
        {"X-API-Key": keys.predict + "x"},
        {"X-API-Key": keys.revoked},
        {"Authorization": f"Bearer {keys.admin}"},
        {"Authorization": "Bearer " + keys.token()},
        {"X-API-Key": keys.metrics},
    ):
        for _, path, body in PREDICT_ROUTES:
            r = call(secured, path, body, **headers)
            seen += [r.text, json.dumps(dict(r.headers))]
        r = call(secured, "/openapi.json", **headers)
        seen += [r.text, json.dumps(dict(r.headers))]
    seen.append(call(secured, "/metrics", X_API_Key=keys.metrics).text)
    time.sleep(0.5)
    seen.append(secured.log())
    text = "\n".join(seen)
    for secret in keys.all_secrets():
        assert secret not in text
    assert '"client":"alice"' in secured.log()  # the key's name is what logs carry


def test_repeated_failures_are_rate_limited(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> None:
    with running(
        tmp_path_factory, "failures", "--api-keys", str(keys.path), "--auth-failure-limit", "3/minute"
    ) as server:
        body = b'{"features": 1}'
        statuses = [call(server, "/predict", body, X_API_Key="dsk_00000000_guess").status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        r = call(server, "/predict", body, X_API_Key="dsk_00000000_guess")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # the address is blocked before any credential is looked at, a right one included
        assert call(server, "/predict", body, X_API_Key=keys.predict).status_code == 429
        assert call(server, "/health").status_code == 200
        time.sleep(0.5)
        assert any(line.get("event") == "auth_rate_limited" for line in server.log_lines())


def test_rotation_without_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("rotation")
    path = tmp / "keys.json"
    store = KeyStore()
    first = store.create("v1")
    store.save(path)
    with running(tmp_path_factory, "rotating", "--api-keys", str(path)) as server:
        assert server.proc is not None
        pid = server.proc.pid
        body = b'{"features": 1}'
        assert call(server, "/predict", body, X_API_Key=first).status_code == 200
        store = KeyStore.load(str(path))
        second = store.create("v2")
        store.save(path)  # two valid keys at once: clients move over at their pace
        assert wait_for(lambda: call(server, "/predict", body, X_API_Key=second).status_code == 200)
        assert call(server, "/predict", body, X_API_Key=first).status_code == 200
        store.revoke("v1")
        store.save(path)
        assert wait_for(lambda: call(server, "/predict", body, X_API_Key=first).status_code == 401)
        assert call(server, "/predict", body, X_API_Key=second).status_code == 200
        # SIGHUP: re-read at once, whatever the file's timestamps say
        store.revoke("v2")
        third = store.create("v3")
        store.save(path)
        os.kill(pid, signal.SIGHUP)
        assert wait_for(lambda: call(server, "/predict", body, X_API_Key=third).status_code == 200)
        assert call(server, "/predict", body, X_API_Key=second).status_code == 401
        assert server.proc.poll() is None and server.proc.pid == pid  # the same process throughout
        # a broken store file leaves the keys in force
        path.write_text("{not json")
        os.kill(pid, signal.SIGHUP)
        time.sleep(1.5)
        assert call(server, "/predict", body, X_API_Key=third).status_code == 200
        events = [line.get("event") for line in server.log_lines()]
        assert "keys_not_reloaded" in events and events.count("keys_reloaded") >= 3


def wait_for(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False
