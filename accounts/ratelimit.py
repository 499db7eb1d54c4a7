"""Trail's one rate limiter: fixed windows counted in the cache.

The cache is Redis in services mode (every process counts together) and the process's
memory in embedded mode (there is one process). An API key's request rate
(`accounts.api.ApiKeyRateLimit`) and the guessing limits (`accounts.guessing`) count here.
(The login's limits are django-allauth's own, keyed by the same client address.)

When the cache cannot be reached (Redis down), a limit fails open: the use is allowed, a
warning is logged at most once a minute, and the cache is not asked again for
`RETRY_AFTER_FAILURE` seconds (a down Redis costs no request its connect timeout). A
Redis outage must not stop ingest nor the API (docs/limits.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.core.cache import cache

from common.outages import Outage

logger = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = 5.0  # seconds the cache is left alone after it failed
WARN_EVERY = 60.0  # seconds between two warnings of a cache that keeps failing


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` counts per `seconds`, in windows aligned on the epoch."""

    limit: int
    seconds: int

    def retry_after(self, now: float) -> int:
        """Whole seconds until the current window ends (at least 1)."""
        return max(1, math.ceil(self.seconds - now % self.seconds))

    def slot(self, bucket: str, now: float) -> str:
        return f"trail:ratelimit:{bucket}:{self.seconds}:{int(now // self.seconds)}"


T = TypeVar("T")

_outage = Outage(
    logger,
    "rate limits fail open: the cache is unreachable (%s); asking it again in %.0f s",
    rest=RETRY_AFTER_FAILURE,
    warn_every=WARN_EVERY,
)


def _ask(question: Callable[[], T], unanswered: T) -> T:
    """The cache's answer, or `unanswered` while it is resting after a failure."""
    if _outage.resting():
        return unanswered
    try:
        return question()
    except Exception as error:  # Redis down, a timeout, a refused connection, ...
        _outage.failed(error)
        return unanswered


def _count(counter: str, seconds: int) -> int:
    cache.add(counter, 0, timeout=2 * seconds)
    try:
        return int(cache.incr(counter))
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, timeout=2 * seconds)
        return 1


def hit(*, bucket: str, window: Window) -> int | None:
    """Count one use of `bucket`; the seconds to wait when that use is over the limit,
    else None (also when the cache cannot be reached: fail open)."""
    now = time.time()
    counter = window.slot(bucket, now)
    used = _ask(lambda: _count(counter, window.seconds), 0)
    return window.retry_after(now) if used > window.limit else None


def exhausted(*, bucket: str, window: Window) -> int | None:
    """Without counting: the seconds to wait when `bucket` has used its whole limit, else
    None (also when the cache cannot be reached: fail open)."""
    now = time.time()
    used = _ask(lambda: int(cache.get(window.slot(bucket, now), 0)), 0)
    return window.retry_after(now) if used >= window.limit else None
