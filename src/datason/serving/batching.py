"""Micro-batching: concurrent requests' features are gathered into one call of a batch predict.

A batch is sent when it holds ``max_size`` items or ``max_wait`` seconds after its first item came,
whichever is first. The batch function gets a list and must return a sequence (or array) of the same
length; a failure or a wrong length fails every request of that batch with a ``PredictionError``.
Each event loop gathers its own batches, so a service driven from several loops stays correct.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .errors import PredictionError, ServingError, prediction_failed

__all__ = ["MicroBatcher"]


class _Pending:
    """The batch being gathered on one event loop."""

    __slots__ = ("futures", "items", "loop", "timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: list[Any] = []
        self.futures: list[asyncio.Future[Any]] = []
        self.timer: asyncio.TimerHandle | None = None


class MicroBatcher:
    """``await submit(item)`` -> that item's result from a batched call of ``run_batch``."""

    __slots__ = ("_max_size", "_max_wait", "_on_batch", "_on_error", "_pending", "_run", "_tasks")

    def __init__(
        self,
        run_batch: Callable[[list[Any]], Awaitable[Any]],
        *,
        max_size: int,
        max_wait: float,
        on_batch: Callable[[int], None] | None = None,
        on_error: Callable[[Exception], ServingError] = prediction_failed,
    ) -> None:
        """``on_batch`` sees each batch's size; ``on_error`` turns a predict exception into the client error."""
        if max_size < 1 or max_wait < 0:
            raise ValueError("batch max_size must be >= 1 and max_wait >= 0")
        self._run = run_batch
        self._max_size = max_size
        self._max_wait = max_wait
        self._on_batch = on_batch
        self._on_error = on_error
        # One gathering batch per event loop (a service may be driven from several loops, e.g. in threads).
        self._pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pending] = weakref.WeakKeyDictionary()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = _Pending(loop)
        future: asyncio.Future[Any] = loop.create_future()
        pending.items.append(item)
        pending.futures.append(future)
        if len(pending.items) >= self._max_size:
            self._flush(pending)
        elif pending.timer is None:
            pending.timer = loop.call_later(self._max_wait, self._flush, pending)
        return await future

    def _flush(self, pending: _Pending) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None
        items, futures = pending.items, pending.futures
        pending.items, pending.futures = [], []
        if items:
            task = pending.loop.create_task(self._call(items, futures))
            self._tasks.add(task)  # keep a reference until done
            task.add_done_callback(self._tasks.discard)

    async def _call(self, items: list[Any], futures: list[asyncio.Future[Any]]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(items))
        try:
            results = _as_list(await self._run(items), len(items))
        except ServingError as exc:
            for f in futures:
                if not f.done():
                    f.set_exception(type(exc)(exc.reason, path=exc.path, type_name=exc.type_name))
            return
        except Exception as exc:
            error = self._on_error(exc)
            for f in futures:
                if not f.done():
                    f.set_exception(type(error)(error.reason, path=error.path, type_name=error.type_name))
            return
        for f, result in zip(futures, results, strict=True):
            if not f.done():
                f.set_result(result)


def _as_list(results: Any, n: int) -> Sequence[Any]:
    """``results`` as an indexable sequence of exactly ``n`` items, or a ``PredictionError``."""
    if isinstance(results, str | bytes | bytearray | dict) or not hasattr(results, "__len__"):
        raise PredictionError(f"batch predict must return a sequence of {n} results", type_name=type(results).__name__)
    if len(results) != n:
        raise PredictionError(
            f"batch predict returned {len(results)} results for {n} inputs", type_name=type(results).__name__
        )
    return results if isinstance(results, list | tuple) else list(results)
