"""Rate limiting: exactly N per window per client (also under concurrent threads), Retry-After in whole
seconds inside the window, several limits at once, and client identities that never expose an API key."""

from __future__ import annotations

import threading

import pytest

from datason.serving.ratelimit import RateLimiter, client_identity, hash_client_key, parse_limits


@pytest.mark.parametrize("strategy", ["moving-window", "fixed-window", "sliding-window-counter"])
def test_n_allowed_then_refused_per_client(strategy: str) -> None:
    limiter = RateLimiter("5/minute", strategy)
    assert [limiter.check("a") for _ in range(5)] == [None] * 5
    retry = limiter.check("a")
    assert retry is not None and 1 <= retry <= 60
    assert limiter.check("b") is None  # another client has its own allowance


def test_exact_under_concurrent_threads() -> None:
    limiter = RateLimiter("25/hour")
    results: list[int | None] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(10):
            outcome = limiter.check("shared")
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80
    assert results.count(None) == 25
    assert all(r is not None and 1 <= r <= 3600 for r in results if r is not None)


def test_several_limits_all_apply_and_a_refusal_consumes_nothing() -> None:
    limiter = RateLimiter("1/minute;5/hour")
    assert limiter.check("c") is None
    assert all(limiter.check("c") is not None for _ in range(3))  # the per-minute limit refuses
    minute, hour = parse_limits("1/minute;5/hour")
    assert (minute.amount, hour.amount) == (1, 5)
    assert limiter._limiter.get_window_stats(hour, "c").remaining == 4  # the refused three took nothing


def test_bad_notation_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="limits notation"):
        RateLimiter("five per fortnight")
    with pytest.raises(ValueError):
        RateLimiter("5/minute", "token-bucket")


def test_client_identity_hashes_the_key_and_falls_back_to_the_peer() -> None:
    key = "sk-live-very-secret"
    who = client_identity({"x-api-key": key}, "x-api-key", "10.0.0.1")
    assert who == hash_client_key(key) and who.startswith("key:") and len(who) == 20
    assert "secret" not in who
    assert client_identity({"x-api-key": "other"}, "x-api-key", "10.0.0.1") != who
    assert client_identity({}, "x-api-key", "10.0.0.1") == "10.0.0.1"
    assert client_identity({"x-api-key": key}, None, "10.0.0.1") == "10.0.0.1"
    assert client_identity({}, "x-api-key", None) == "unknown"
