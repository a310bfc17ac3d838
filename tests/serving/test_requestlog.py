"""Request ids (sane incoming ids kept, others replaced by uuid4 hex), recursive redaction, and one JSON line
per request on the datason.serving logger (nothing built when the logger is off)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import uuid

import pytest

from datason.serving import ModelService, ServingConfig, requestlog
from datason.serving.requestlog import REDACTED, LineHandler, RequestLogger, redact, request_id


@pytest.mark.parametrize("rid", ["abc", "req-1.2_3:4", "A" * 128, "6f1c2a9e-3b1d-4c8e-9f00-1234567890ab"])
def test_sane_incoming_ids_are_kept(rid: str) -> None:
    assert request_id(rid) == rid


@pytest.mark.parametrize("rid", [None, "", "has space", "new\nline", "A" * 129, "ünï", '"quoted"', "a/b"])
def test_other_ids_are_replaced_by_uuid4_hex(rid: str | None) -> None:
    got = request_id(rid)
    assert re.fullmatch(r"[0-9a-f]{32}", got) and uuid.UUID(got).version == 4


def test_redact_walks_nested_values_case_insensitively() -> None:
    value = {
        "Password": "p1",
        "user": {"api_key": "k1", "name": "ann", "tokens": ["t1"]},
        "rows": [{"db_secret": "s1", "x": 1}, ("AUTHORIZATION", {"Authorization": "Bearer z"})],
    }
    out = redact(value, ("password", "api_key", "token", "secret", "authorization"))
    assert out == {
        "Password": REDACTED,
        "user": {"api_key": REDACTED, "name": "ann", "tokens": REDACTED},
        "rows": [{"db_secret": REDACTED, "x": 1}, ["AUTHORIZATION", {"Authorization": REDACTED}]],
    }
    assert value["user"]["api_key"] == "k1"  # the input is not modified


def test_one_json_line_with_the_fields(caplog: pytest.LogCaptureFixture) -> None:
    log = RequestLogger("iris", log_payloads=True, redact_keys=("password",))
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        log.log(logging.INFO, "rid1", "key:abc", "POST", "/predict", 200, 1.23456, payload={"password": "pw", "x": 1})
        log.log(
            logging.ERROR, "rid2", "1.2.3.4", "POST", "/predict", 500, 2.0, error="prediction failed", kind="predict"
        )
    assert [r.name for r in caplog.records] == ["datason.serving", "datason.serving"]
    first, second = (json.loads(r.getMessage()) for r in caplog.records)
    assert first == {
        "request_id": "rid1",
        "client": "key:abc",
        "method": "POST",
        "path": "/predict",
        "status": 200,
        "latency_ms": 1.235,
        "model_id": "iris",
        "protocol": "datason",
        "features": {"password": REDACTED, "x": 1},
    }
    assert second["error_kind"] == "predict" and second["status"] == 500
    assert caplog.records[1].levelno == logging.ERROR
    assert "pw" not in caplog.text


def test_the_line_names_the_version_that_answered(caplog: pytest.LogCaptureFixture) -> None:
    service = ModelService(lambda f: 1, config=ServingConfig(model_id="m", model_version="2.1"))
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        asyncio.run(service.predict_request(b'{"features": {}}', headers={}, client=None))
    line = json.loads(caplog.records[-1].getMessage())
    assert line["model_id"] == "m" and line["model_version"] == "2.1" and line["status"] == 200


def test_payload_only_when_enabled_and_percent_signs_survive(caplog: pytest.LogCaptureFixture) -> None:
    log = RequestLogger("m")
    with caplog.at_level(logging.INFO, logger="datason.serving"):
        log.log(logging.INFO, "r", "c", "GET", "/100%25%s", 404, 0.0, payload={"x": 1})
    line = json.loads(caplog.records[0].getMessage())
    assert "features" not in line and line["path"] == "/100%25%s"


def test_disabled_logger_builds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger("datason.serving")
    built: list[object] = []
    monkeypatch.setattr(requestlog, "_dump", lambda line: built.append(line) or "{}")  # a spy on line building
    service = ModelService(lambda f: 1, config=ServingConfig())
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        assert not service._log.enabled(logging.INFO) and service._log.enabled(logging.ERROR)
        asyncio.run(service.predict_request(b'{"features": {}}', headers={}, client=None))
        asyncio.run(service.predict_request(b"[", headers={}, client=None))
        assert built == []  # a 200 and a 400 are INFO lines: with the logger at WARNING none was even built
        asyncio.run(service.predict_request(b'{"features": {}}', headers={}, client=None))
    finally:
        logger.setLevel(old)
    logger.setLevel(logging.INFO)
    try:
        asyncio.run(service.predict_request(b'{"features": {}}', headers={}, client=None))
    finally:
        logger.setLevel(old)
    assert len(built) == 1  # the spy does see lines once the level lets them through


def test_new_ids_differ_in_a_forked_child() -> None:
    import os

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its generator was reseeded at fork
        os.write(write, request_id(None).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    mine = request_id(None)
    assert re.fullmatch(r"[0-9a-f]{32}", child) and child != mine


class _Counting(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_line_handler_writes_lines_and_flushes_in_batches_at_errors_and_at_close() -> None:
    import time

    stream = _Counting()
    handler = LineHandler(stream, interval=0.05)
    logger = logging.getLogger("datason.serving.test_line_handler")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for i in range(100):
            logger.info('{"n": %d}', i)
        assert stream.flushes == 0  # 100 lines, no flush yet: one system call per line is what this avoids
        deadline = time.monotonic() + 5
        while stream.flushes == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.flushes >= 1  # the flusher thread came by
        before = stream.flushes
        logger.error('{"n": "error"}')
        assert stream.flushes == before + 1  # errors go out at once
        logger.info('{"n": "last"}')
    finally:
        handler.close()
        logger.handlers[:] = []
    lines = stream.getvalue().splitlines()
    assert [json.loads(x)["n"] for x in lines] == [*range(100), "error", "last"]
    assert not handler._thread.is_alive() or handler._stopped.is_set()
