"""The one rate limiter (accounts/ratelimit.py): fixed windows in the cache."""

from __future__ import annotations

import time

from accounts.ratelimit import Window, exhausted, hit


def test_window_retry_after() -> None:
    window = Window(limit=3, seconds=60)
    assert window.retry_after(120.0) == 60  # at a window's start: the whole window
    assert window.retry_after(179.2) == 1
    assert window.retry_after(150.0) == 30
    assert window.slot("b", 179.9) == window.slot("b", 120.0) != window.slot("b", 180.0)


def test_hit_counts_up_to_the_limit_and_exhausted_only_looks() -> None:
    window = Window(limit=3, seconds=60)
    assert [hit(bucket="t", window=window) for _ in range(2)] == [None, None]
    assert [exhausted(bucket="t", window=window) for _ in range(5)] == [None] * 5  # no count
    assert hit(bucket="t", window=window) is None  # the third of three
    wait = exhausted(bucket="t", window=window)
    assert wait is not None and 1 <= wait <= 60
    over = hit(bucket="t", window=window)
    assert over is not None and 1 <= over <= 60
    assert exhausted(bucket="other", window=window) is None  # buckets are separate
    assert hit(bucket="t", window=Window(limit=3, seconds=120)) is None  # so are windows


def test_a_new_window_starts_afresh() -> None:
    window = Window(limit=1, seconds=1)
    time.sleep(1 - time.time() % 1 + 0.01)  # at the start of a window
    assert hit(bucket="w", window=window) is None
    assert hit(bucket="w", window=window) == 1
    time.sleep(1 - time.time() % 1 + 0.01)
    assert exhausted(bucket="w", window=window) is None
    assert hit(bucket="w", window=window) is None
