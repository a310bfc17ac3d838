"""Micro-batching: batches close at max size or max wait, results go back in order, and a failure or a wrong
result length fails every request of that batch."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from datason.serving.batching import MicroBatcher
from datason.serving.errors import PredictionError


class Recorder:
    def __init__(self, result: Any = None) -> None:
        self.batches: list[list[Any]] = []
        self.result = result

    async def __call__(self, items: list[Any]) -> Any:
        self.batches.append(list(items))
        return [x * 10 for x in items] if self.result is None else self.result(items)


def test_full_batches_go_at_once_and_results_keep_their_order() -> None:
    rec = Recorder()
    batcher = MicroBatcher(rec, max_size=4, max_wait=30.0)  # the wait would fail the test: size must trigger

    async def run() -> list[Any]:
        return list(await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(8))), 10))

    assert asyncio.run(run()) == [i * 10 for i in range(8)]
    assert rec.batches == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_a_partial_batch_goes_after_max_wait() -> None:
    rec = Recorder()
    sizes: list[int] = []
    batcher = MicroBatcher(rec, max_size=10, max_wait=0.01, on_batch=sizes.append)

    async def run() -> list[Any]:
        return list(await asyncio.gather(batcher.submit(1), batcher.submit(2), batcher.submit(3)))

    assert asyncio.run(run()) == [10, 20, 30]
    assert rec.batches == [[1, 2, 3]] and sizes == [3]
    assert asyncio.run(run()) == [10, 20, 30]  # a second event loop starts afresh


def test_wrong_length_fails_every_request_of_the_batch() -> None:
    rec = Recorder(result=lambda items: items[:-1])
    batcher = MicroBatcher(rec, max_size=3, max_wait=30.0)

    async def run() -> list[Any]:
        return list(await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True))

    results = asyncio.run(run())
    assert all(isinstance(r, PredictionError) for r in results)
    assert "2 results for 3 inputs" in str(results[0])
    assert len({id(r) for r in results}) == 3  # one exception object per request


@pytest.mark.parametrize("bad", ["abc", {"a": 1}, 5])
def test_non_sequences_are_refused(bad: Any) -> None:
    batcher = MicroBatcher(Recorder(result=lambda items: bad), max_size=1, max_wait=1.0)
    with pytest.raises(PredictionError):
        asyncio.run(batcher.submit(1))


def test_an_exception_becomes_a_sanitized_error_for_all() -> None:
    def boom(items: list[Any]) -> Any:
        raise RuntimeError("internal detail /srv/secret")

    batcher = MicroBatcher(Recorder(result=boom), max_size=2, max_wait=30.0)

    async def run() -> list[Any]:
        return list(await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True))

    results = asyncio.run(run())
    assert [str(r) for r in results] == ["prediction failed (RuntimeError)"] * 2


def test_arrays_are_split_into_rows() -> None:
    batcher = MicroBatcher(Recorder(result=lambda items: np.array([[x, -x] for x in items])), max_size=2, max_wait=9)

    async def run() -> list[Any]:
        return list(await asyncio.gather(batcher.submit(1), batcher.submit(2)))

    first, second = asyncio.run(run())
    assert first.tolist() == [1, -1] and second.tolist() == [2, -2]


def test_two_event_loops_in_threads_batch_separately() -> None:
    import threading

    rec = Recorder()
    batcher = MicroBatcher(rec, max_size=3, max_wait=30.0)
    results: dict[str, list[Any]] = {}

    def worker(name: str, base: int) -> None:
        async def run() -> list[Any]:
            return list(await asyncio.gather(*(batcher.submit(base + i) for i in range(3))))

        results[name] = asyncio.run(run())

    threads = [threading.Thread(target=worker, args=(n, b)) for n, b in (("a", 0), ("b", 100))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {"a": [0, 10, 20], "b": [1000, 1010, 1020]}
    assert sorted(map(sorted, rec.batches)) == [[0, 1, 2], [100, 101, 102]]  # no batch mixes the two loops
