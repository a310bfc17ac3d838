"""A predict that says which process answered and how many times predict ran there (shared-state tests)."""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any

import numpy as np

_lock = threading.Lock()
_calls = itertools.count(1)


def predict(features: Any) -> dict[str, Any]:
    """``pid`` of the answering process, ``calls`` there, ``scores`` twice the features (as float32).

    It takes 5 ms, so concurrent requests spread over a server's workers."""
    time.sleep(0.005)
    with _lock:
        calls = next(_calls)
    return {"pid": os.getpid(), "calls": calls, "scores": np.asarray(features, dtype=np.float32) * 2}
