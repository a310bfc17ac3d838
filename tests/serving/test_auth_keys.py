"""The key store and its checks, in process: salted hashes only, every check through hmac.compare_digest on
fixed-length digests (no early exit on a closer key), scopes and tiers, JWKS, `datason keys`, and the pipeline
(`ModelService.handle`, what MLServer, Seldon and KServe's dataplane call) refusing without a key."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import pathlib
import subprocess
import sys
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from datason import cli
from datason.serving import ModelService, ServingConfig
from datason.serving import auth as auth_module
from datason.serving.auth import Authenticator, KeyStore, Principal
from datason.serving.errors import ForbiddenError, RateLimitedError, UnauthorizedError


def store_with(*names: str, **scopes: tuple[str, ...]) -> tuple[KeyStore, dict[str, str]]:
    store = KeyStore()
    keys = {name: store.create(name, scopes=scopes.get(name, ("predict",))) for name in names}
    return store, keys


def authenticator(store: KeyStore, **config: Any) -> Authenticator:
    cfg = ServingConfig(api_keys=json.dumps(store.document()), **config)
    return Authenticator(cfg, None)


def test_the_store_keeps_salted_hashes_never_keys(tmp_path: pathlib.Path) -> None:
    store, keys = store_with("a", "b")
    path = tmp_path / "keys.json"
    store.save(path)
    text = path.read_text()
    for key in keys.values():
        assert key not in text and key.split("_", 2)[2] not in text
    doc = json.loads(text)
    salts = {k["salt"] for k in doc["keys"]}
    assert len(salts) == 2 and all(len(k["hash"]) == 44 for k in doc["keys"])  # 32-byte PBKDF2, base64
    assert path.stat().st_mode & 0o077 == 0  # owner only
    assert [e["name"] for e in KeyStore.load(str(path)).listing()] == ["a", "b"]


def test_every_check_ends_in_compare_digest_on_fixed_length_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    store, keys = store_with("alice")
    auth = authenticator(store)
    key = keys["alice"]
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", counting)
    candidates = {
        "valid (first use: the salted hash)": key,
        "valid (then: the per-process HMAC)": key,
        "wrong last character": key[:-1] + ("A" if key[-1] != "A" else "B"),
        "wrong first secret character": key[:13] + ("A" if key[13] != "A" else "B") + key[14:],
        "unknown id": "dsk_ffffffff_" + key.split("_", 2)[2],
        "no prefix": "x" * len(key),
        "empty": "",
        "one character": "d",
        "longer": key + "extra",
    }
    outcomes = {}
    for what, candidate in candidates.items():
        before = len(calls)
        outcomes[what] = auth.verify_key(candidate)
        made = calls[before:]
        assert made, f"{what}: no constant-time comparison"
        assert all(a == b == 32 for a, b in made), f"{what}: compared {made}"  # digests, never the raw strings
    assert outcomes["valid (first use: the salted hash)"] == Principal("alice", frozenset({"predict"}))
    assert outcomes["valid (then: the per-process HMAC)"] == outcomes["valid (first use: the salted hash)"]
    assert all(v is None for k, v in outcomes.items() if not k.startswith("valid"))


def test_scopes_and_the_one_unauthorized_message() -> None:
    store, keys = store_with("p", "m", "root", m=("metrics",), root=("admin",))
    auth = authenticator(store)
    assert auth.admit({"x-api-key": keys["p"]}, "peer", "predict").name == "p"
    assert auth.admit({"authorization": "Bearer " + keys["m"]}, "peer", "metrics").name == "m"
    assert auth.admit({"authorization": "bearer  " + keys["root"]}, "peer", "metrics").name == "root"
    with pytest.raises(ForbiddenError) as denied:
        auth.admit({"x-api-key": keys["m"]}, "peer", "predict")
    assert denied.value.client == "m"
    messages = set()
    for headers in ({}, {"x-api-key": "nope"}, {"authorization": "Token " + keys["p"]}, {"authorization": "Bearer"}):
        with pytest.raises(UnauthorizedError) as refused:
            auth.admit(headers, "peer", "predict")
        messages.add(str(refused.value))
    assert messages == {"authentication required"}


def test_failures_are_limited_per_client_and_checked_first() -> None:
    store, keys = store_with("p")
    auth = authenticator(store, auth_failure_limit="2/minute")
    for _ in range(2):
        with pytest.raises(UnauthorizedError):
            auth.admit({"x-api-key": "wrong"}, "10.0.0.9", "predict")
    with pytest.raises(RateLimitedError) as limited:
        auth.admit({"x-api-key": keys["p"]}, "10.0.0.9", "predict")
    assert limited.value.from_auth_failures and limited.value.retry_after >= 1
    assert auth.admit({"x-api-key": keys["p"]}, "10.0.0.10", "predict").name == "p"  # another client


def test_tiers_are_checked_and_limit_by_name() -> None:
    store = KeyStore()
    store.set_tier("gold", "5/second")
    with pytest.raises(ValueError, match="unknown tier"):
        store.create("x", tier="silver")
    key = store.create("g", tier="gold")
    with pytest.raises(ValueError, match="in use"):
        store.set_tier("gold", None)
    with pytest.raises(ValueError, match="limits notation"):
        store.set_tier("bad", "lots")
    auth = authenticator(store)
    principal = auth.admit({"x-api-key": key}, "peer", "predict")
    limiter = auth.limiter(principal)
    assert principal.tier == "gold" and limiter is not None and limiter.spec == "5/second"


def test_bad_stores_are_refused_at_construction() -> None:
    for doc, message in (
        ("{", "not valid JSON"),
        ('{"version": 2}', "version"),
        ('{"version": 1, "keys": [{"name": "a"}]}', "name and an id"),
        ('{"version": 1, "keys": [{"name": "a", "id": "1", "salt": "!", "hash": "x"}]}', "base64"),
    ):
        with pytest.raises(ValueError, match=message):
            ModelService(lambda f: f, config=ServingConfig(api_keys=doc))
    with pytest.raises(ValueError, match="jwt_audience"):
        ServingConfig(jwt_key_file="x.pem")
    with pytest.raises(ValueError, match="metrics_auth"):
        ServingConfig(metrics_auth=True)


def test_jwks_selects_the_key_by_kid(tmp_path: pathlib.Path) -> None:
    signing = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(signing.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}))
    cfg = ServingConfig(jwt_key_file=str(tmp_path / "jwks.json"), jwt_audience="svc")
    auth = Authenticator(cfg, None)
    exp = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    claims = {"sub": "job", "aud": "svc", "exp": exp, "scp": ["predict", "metrics"]}
    token = jwt.encode(claims, signing, algorithm="ES256", headers={"kid": "k1"})
    principal = auth.admit({"authorization": f"Bearer {token}"}, "peer", "metrics")
    assert principal == Principal("job", frozenset({"predict", "metrics"}))
    other = jwt.encode(claims, signing, algorithm="ES256", headers={"kid": "k2"})
    with pytest.raises(UnauthorizedError):
        auth.admit({"authorization": f"Bearer {other}"}, "peer", "predict")
    no_sub = jwt.encode({"aud": "svc", "exp": exp}, signing, algorithm="ES256", headers={"kid": "k1"})
    with pytest.raises(UnauthorizedError):
        auth.admit({"authorization": f"Bearer {no_sub}"}, "peer", "predict")


def test_the_pipeline_refuses_without_a_key_for_integrations_calling_handle() -> None:
    store, keys = store_with("p")
    service = ModelService(lambda f: f, config=ServingConfig(api_keys=json.dumps(store.document())))
    body = b'{"features": [1, 2]}'
    refused = asyncio.run(service.handle(body, {}, "10.0.0.1", "datason"))
    assert refused.status == 401 and dict(refused.headers)["www-authenticate"] == 'Bearer realm="datason"'
    ok = asyncio.run(service.handle(body, {"x-api-key": keys["p"]}, "10.0.0.1", "datason"))
    assert ok.status == 200
    kserve = asyncio.run(service.handle(b'{"instances": [1]}', {}, None, "kserve_v1"))
    assert kserve.status == 401 and json.loads(kserve.body) == {"error": "authentication required"}
    open_service = ModelService(lambda f: f, config=ServingConfig())
    assert open_service.auth is None
    assert asyncio.run(open_service.handle(body, {}, None, "datason")).status == 200
    with pytest.raises(ValueError, match="authentication is off"):
        open_service.admit({}, None, "predict")


def test_keys_command(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATASON_SERVING_API_KEYS", raising=False)
    path = str(tmp_path / "keys.json")
    assert cli.main(["keys", "--file", path, "tier", "free", "10/minute"]) == 0
    assert cli.main(["keys", "--file", path, "create", "alice", "--scopes", "predict,metrics", "--tier", "free"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("dsk_") and "shown once" not in out.out and "keeps only its hash" in out.err
    assert key not in pathlib.Path(path).read_text()
    assert cli.main(["keys", "--file", path, "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (
        listed[0]["name"] == "alice" and listed[0]["scopes"] == ["predict", "metrics"] and listed[0]["tier"] == "free"
    )
    assert key not in json.dumps(listed) and "hash" not in listed[0] and "salt" not in listed[0]
    assert Authenticator(ServingConfig(api_keys=path), None).verify_key(key) is not None
    assert cli.main(["keys", "--file", path, "create", "alice"]) == 2  # names are unique
    assert "exists" in capsys.readouterr().err
    assert cli.main(["keys", "--file", path, "create", "bob", "--scopes", "root"]) == 2
    assert cli.main(["keys", "--file", path, "revoke", "alice"]) == 0
    assert Authenticator(ServingConfig(api_keys=path), None).verify_key(key) is None
    assert cli.main(["keys", "--file", path, "revoke", "alice"]) == 2
    capsys.readouterr()
    assert cli.main(["keys", "list"]) == 2  # no --file and no variable: an error, not a traceback
    assert "DATASON_SERVING_API_KEYS" in capsys.readouterr().err


def test_tls_options_need_a_certificate(tmp_path: pathlib.Path) -> None:
    args = cli.build_parser().parse_args(["serve", "m:f", "--ssl-keyfile", "k.pem"])
    with pytest.raises(ValueError, match="need --ssl-certfile"):
        cli._tls_options(args)
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    args = cli.build_parser().parse_args(["serve", "m:f", "--ssl-certfile", str(cert), "--ssl-client-cert", "required"])
    with pytest.raises(ValueError, match="needs --ssl-ca-certs"):
        cli._tls_options(args)
    args = cli.build_parser().parse_args(["serve", "m:f", "--ssl-certfile", str(cert), "--ssl-ca-certs", str(cert)])
    options = cli._tls_options(args)
    import ssl

    assert options["ssl_cert_reqs"] == ssl.CERT_REQUIRED and options["ssl_certfile"] == str(cert)


def test_authentication_off_needs_no_limits_package() -> None:
    """Seldon's virtualenv has no ``limits``: a service without rate limits or keys must not import it."""
    code = (
        "import sys; sys.modules['limits'] = None\n"
        "from datason.serving import ModelService, ServingConfig\n"
        "service = ModelService(lambda f: f, config=ServingConfig())\n"
        "assert service.auth is None and 'limits' not in {m for m in sys.modules if sys.modules[m] is not None}\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
