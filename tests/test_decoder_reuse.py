"""``loads`` keeps one decoder per config and thread (building one cost more than parsing a small body): results
and limits are those of a fresh decoder after failures, inside nested calls (a hook that calls ``loads``), across
threads, and after the C accelerator is switched off and on."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import datason
from datason import DeserializationError, SecurityError
from datason import decoder as decoder_module
from datason.config import SerializationConfig

CFG = SerializationConfig(max_depth=6)


class Box:
    def __init__(self, inner: Any) -> None:
        self.inner = inner


def test_a_failed_parse_leaves_nothing_behind() -> None:
    with pytest.raises(SecurityError):
        datason.loads("[[[[[[[[1]]]]]]]]", CFG)  # deeper than max_depth: fails midway
    with pytest.raises(DeserializationError):
        datason.loads('{"a": [1, 2', CFG)
    assert datason.loads('{"a": [[[[1]]]]}', CFG) == {"a": [[[[1]]]]}
    with pytest.raises(SecurityError):  # the depth is counted from the top again, not from where it failed
        datason.loads("[[[[[[[1]]]]]]]", CFG)
    assert datason.loads("[[[[[1]]]]]", CFG) == [[[[[1]]]]]


def test_a_hook_that_calls_loads_gets_its_own_decoder() -> None:
    def decode(payload: Any) -> Box:
        return Box(datason.loads(payload, CFG))  # nested, same config and thread

    datason.register_type(Box, tag="tests.reuse.Box", encode=lambda b: datason.dumps(b.inner, CFG), decode=decode)
    try:
        text = datason.dumps([Box({"x": [1, 2]}), Box([3])], CFG)
        first, second = datason.loads(text, CFG)
        assert (first.inner, second.inner) == ({"x": [1, 2]}, [3])
        with pytest.raises(SecurityError):  # the outer parse still counts its own depth after the nested ones
            datason.loads('[{"__datason_type__": "tests.reuse.Box", "__datason_value__": "[1]"}, [[[[[[1]]]]]]]', CFG)
    finally:
        datason.unregister_type(Box)


def test_threads_each_use_their_own() -> None:
    docs = [f'{{"n": {i}, "v": [{i}, {i + 1}]}}' for i in range(300)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(offset: int) -> None:
        start.wait()
        try:
            for i in range(300):
                j = (i + offset) % 300
                assert datason.loads(docs[j], CFG) == {"n": j, "v": [j, j + 1]}
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 37,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_switching_the_accelerator_rebuilds_the_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    if decoder_module._speedups is None:
        pytest.skip("the C accelerator is not built here")
    with pytest.raises(DeserializationError) as c_error:
        datason.loads("[1] 2", CFG)
    monkeypatch.setattr(decoder_module, "_speedups", None)
    with pytest.raises(DeserializationError) as py_error:
        datason.loads("[1] 2", CFG)
    assert str(c_error.value) != str(py_error.value)  # each path words it its own way: both really ran
    monkeypatch.undo()
    with pytest.raises(DeserializationError) as again:
        datason.loads("[1] 2", CFG)
    assert str(again.value) == str(c_error.value)
