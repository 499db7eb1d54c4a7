"""The one rate limiter (accounts/ratelimit.py): fixed windows in the cache."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from accounts import ratelimit
from accounts.ratelimit import Window, exhausted, hit
from events.clickhouse import ClickHouse
from tests import factories
from tests.conftest import send
from tests.helpers import free_port


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


# --- a cache that cannot be reached: fail open --------------------------------------------

DOWN_CACHE = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:{port}/0",  # nothing listens there
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
    }
}


@contextlib.contextmanager
def unreachable_cache() -> Iterator[None]:
    """Django's cache is a real Redis client pointed at a closed port; the limiter's memory
    of an earlier failure is reset before and after."""
    cache = {"default": dict(DOWN_CACHE["default"])}
    cache["default"]["LOCATION"] = str(cache["default"]["LOCATION"]).format(port=free_port())
    ratelimit._outage.clear()
    try:
        with override_settings(CACHES=cache):
            yield
    finally:
        ratelimit._outage.clear()


@pytest.fixture
def redis_down() -> Iterator[None]:
    with unreachable_cache():
        yield


def test_an_unreachable_cache_fails_open_with_one_warning_and_rests(
    redis_down: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = Window(limit=1, seconds=60)
    with caplog.at_level(logging.WARNING, logger="accounts.ratelimit"):
        assert [hit(bucket="down", window=window) for _ in range(5)] == [None] * 5
        assert exhausted(bucket="down", window=window) is None
    warnings = [r for r in caplog.records if "fail open" in r.getMessage()]
    assert len(warnings) == 1
    assert "in 5 s" in warnings[0].getMessage()

    # Resting: the cache is not asked at all (counted by wrapping the real client call).
    asked: list[str] = []
    real = ratelimit._count

    def counted(counter: str, seconds: int) -> int:
        asked.append(counter)
        return real(counter, seconds)

    monkeypatch.setattr(ratelimit, "_count", counted)
    hit(bucket="down", window=window)
    assert asked == []
    # Once the rest is over it asks again, fails again, still quietly (a minute per warning).
    # (set, not monkeypatched: undoing a patch would restore the rest after the fixture
    # cleared it, and later tests would meet a resting cache)
    ratelimit._outage._resting_until = float("-inf")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="accounts.ratelimit"):
        assert hit(bucket="down", window=window) is None
    assert len(asked) == 1
    assert not [r for r in caplog.records if "fail open" in r.getMessage()]


@pytest.mark.django_db
def test_the_batch_api_accepts_events_while_redis_is_down(
    client: Any, flush: Callable[..., Any], clickhouse: ClickHouse, make_site: Callable[..., Any]
) -> None:
    """An API key's rate limit counts in Redis in services mode: with Redis unreachable
    the batch API still accepts events (it does not answer 500); they wait in the spool
    and are stored once the flush can run (in services mode it takes its lock in Redis)."""
    site = make_site("redis-down.example.org")  # a fresh id: its events stay in ClickHouse
    _, key = factories.api_key(site.organization, scopes=("events:write",))
    events = [
        {
            "domain": site.domain,
            "name": "pageview",
            "url": f"https://{site.domain}/p/{i}",
            "ip": "198.51.100.7",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        }
        for i in range(3)
    ]
    with unreachable_cache():
        send(client, key, events)
    flush()
    [stored] = clickhouse.query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.pk}
    )
    assert stored["n"] == 3
