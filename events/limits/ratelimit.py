"""The per-site ingest rate limit: a token bucket per site (docs/limits.md).

Embedded mode has one process: the buckets live in its memory (`LocalBuckets`). In
services mode several web processes share each site's bucket in Redis (`SharedBuckets`),
but no event waits for Redis: a process leases tokens from the shared bucket in chunks
(one Lua script call, atomic) and spends them locally, so Redis sees about one call per
chunk per process, and none per event. A process that found the shared bucket empty (or
got less than a chunk) asks again only after the time the bucket needs to refill a chunk,
so a flood over the limit does not reach Redis per event either.

When Redis fails (down, unreachable, timing out), the limit fails open: every event is
let through, one warning is logged per `log_every` seconds (not one per event), and Redis
is asked again after `retry_every` seconds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any, Protocol

from common.outages import Outage

logger = logging.getLogger(__name__)

LEASE_SECONDS = 0.1  # a chunk is 100 ms worth of the site's rate
LEASE_TTL = 1.0  # seconds a process may keep leased tokens before they lapse
MAX_DENY_WAIT = 1.0  # an empty shared bucket is asked again within this many seconds

# KEYS[1] the bucket; ARGV rate (tokens/s), burst (capacity), wanted. Redis's own clock,
# so every process sees the same time. Answers the tokens granted (0..wanted).
_LEASE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1])
local at = tonumber(held[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return granted
"""


class Buckets(Protocol):
    def take(self, site_id: int, rate: float, burst: float) -> bool: ...


class LocalBuckets:
    """A token bucket per site in this process's memory (embedded mode, one process)."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}  # site -> (tokens, at)
        self._guard = threading.Lock()

    def take(self, site_id: int, rate: float, burst: float) -> bool:
        now = time.monotonic()
        with self._guard:
            tokens, at = self._buckets.get(site_id, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            allowed = tokens >= 1
            self._buckets[site_id] = (tokens - 1 if allowed else tokens, now)
        return allowed


class _Lease:
    __slots__ = ("ask_at", "expires", "tokens")

    def __init__(self) -> None:
        self.tokens = 0
        self.expires = 0.0
        self.ask_at = 0.0  # after an empty answer: deny until then


class SharedBuckets:
    """Each site's bucket in Redis, leased in chunks; fails open when Redis does."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "trail:ingest:rate:",
        retry_every: float = 5.0,
        log_every: float = 60.0,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self._script = redis.register_script(_LEASE_SCRIPT)
        self._leases: dict[int, _Lease] = {}
        self._guard = threading.Lock()
        self._outage = Outage(
            logger,
            "ingest rate limits are not enforced: Redis failed (%s); events pass "
            "unlimited, Redis is asked again every %s s",
            rest=retry_every,
            warn_every=log_every,
        )
        self.calls = 0  # Redis round trips made (for tests and the benchmark)

    def take(self, site_id: int, rate: float, burst: float) -> bool:
        now = time.monotonic()
        with self._guard:
            lease = self._leases.get(site_id)
            if lease is None:
                lease = self._leases[site_id] = _Lease()
            if lease.tokens >= 1 and now < lease.expires:
                lease.tokens -= 1
                return True
            if self._outage.resting():
                return True  # failing open
            if now < lease.ask_at:
                return False  # the shared bucket was empty a moment ago
            self.calls += 1
        # Redis is asked without holding the lock: other sites' events (and this site's,
        # while it has tokens) go on meanwhile; two threads that lease at once add up.
        chunk = max(1, min(int(burst), math.ceil(rate * LEASE_SECONDS)))
        try:
            granted = int(self._script(keys=[f"{self.prefix}{site_id}"], args=[rate, burst, chunk]))
        except Exception as error:  # any Redis failure: fail open, say so once in a while
            self._outage.failed(error)
            return True
        with self._guard:
            if granted < chunk:  # the bucket is (nearly) empty: over the limit
                lease.ask_at = now + min(MAX_DENY_WAIT, (chunk - granted) / rate)
            if granted < 1:
                return False
            if now >= lease.expires:
                lease.tokens = 0  # what is left of a lapsed lease goes
            lease.tokens += granted - 1
            lease.expires = now + LEASE_TTL
            return True


class SiteRateLimit:
    """The ingest step's limiter: a site's `rate` events per second with bursts of
    `burst`; a rate of 0 or less is no limit."""

    def __init__(self, buckets: Buckets) -> None:
        self.buckets = buckets

    def allows(self, site_id: int, rate: float, burst: float) -> bool:
        if rate <= 0:
            return True
        return self.buckets.take(site_id, rate, max(1.0, burst))


def redis_client(url: str) -> Any:
    """A client with short timeouts: a hung Redis costs an event at most half a second,
    once per `retry_every`."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def for_settings() -> SiteRateLimit:
    """This process's limiter: shared through Redis when one is configured (services
    mode), in memory otherwise."""
    from django.conf import settings

    url = settings.TRAIL.redis_url
    return SiteRateLimit(SharedBuckets(redis_client(url)) if url else LocalBuckets())
