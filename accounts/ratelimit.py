"""Trail's one rate limiter: fixed windows counted in the cache.

The cache is Redis in services mode (every process counts together) and the process's
memory in embedded mode (there is one process). An API key's request rate
(`accounts.api.ApiKeyRateLimit`) and the guessing limits (`accounts.guessing`) count here.
(The login's limits are django-allauth's own, keyed by the same client address.)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache


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


def hit(*, bucket: str, window: Window) -> int | None:
    """Count one use of `bucket`; the seconds to wait when that use is over the limit,
    else None."""
    now = time.time()
    counter = window.slot(bucket, now)
    cache.add(counter, 0, timeout=2 * window.seconds)
    try:
        used = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, timeout=2 * window.seconds)
        used = 1
    return window.retry_after(now) if used > window.limit else None


def exhausted(*, bucket: str, window: Window) -> int | None:
    """Without counting: the seconds to wait when `bucket` has used its whole limit, else
    None."""
    now = time.time()
    used = cache.get(window.slot(bucket, now), 0)
    return window.retry_after(now) if used >= window.limit else None
