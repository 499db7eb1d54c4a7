"""What the per-site rate limit costs an event (docs/limits.md), and how often it asks Redis.

    .venv/bin/python bench/rate_limit.py [events] [redis-url]

Prints ns per `SiteRateLimit.allows`, events sent as fast as one thread can (so over the
lower limits), for: the in-memory buckets (embedded mode); the
Redis-shared buckets (services mode) under the limit at several rates (events leased in
chunks of 100 ms of the rate: Redis calls per 1,000 events); a flood over the limit (the
empty bucket is asked again once it could have refilled a chunk); and a Redis that is
down (failing open). The Redis URL defaults to redis://127.0.0.1:6379/1.
"""

from __future__ import annotations

import socket
import sys
import time
import uuid

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from events.limits.ratelimit import (  # noqa: E402
    LocalBuckets,
    SharedBuckets,
    SiteRateLimit,
    redis_client,
)

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
URL = sys.argv[2] if len(sys.argv) > 2 else "redis://127.0.0.1:6379/1"


def timed(
    label: str, limit: SiteRateLimit, rate: float, burst: float, calls: object = None
) -> None:
    started = time.perf_counter()
    allowed = 0
    for _ in range(N):
        allowed += limit.allows(1, rate, burst)
    elapsed = time.perf_counter() - started
    asked = getattr(calls, "calls", None)
    per_1000 = f"{asked * 1000 / N:8.2f} Redis calls/1,000 events" if asked is not None else ""
    print(
        f"{label:<44} {elapsed * 1e9 / N:7.0f} ns/event  "
        f"{allowed * 100 / N:6.1f}% allowed  {per_1000}"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


print(f"{N:,} events, one site, one thread")
timed("no limit (rate 0)", SiteRateLimit(LocalBuckets()), 0, 0)
timed("in memory, under the limit", SiteRateLimit(LocalBuckets()), 1e9, 1e9)
for rate in (1_000_000, 100_000):
    buckets = SharedBuckets(redis_client(URL), prefix=f"bench:{uuid.uuid4().hex}:")
    timed(f"Redis-shared, limit {rate:,}/s", SiteRateLimit(buckets), rate, rate, buckets)
buckets = SharedBuckets(redis_client(URL), prefix=f"bench:{uuid.uuid4().hex}:")
timed("Redis-shared, limit 10,000/s (a flood)", SiteRateLimit(buckets), 10_000, 10_000, buckets)
buckets = SharedBuckets(redis_client(f"redis://127.0.0.1:{free_port()}/0"))
timed("Redis down (fail open, retry every 5 s)", SiteRateLimit(buckets), 1_000, 1_000, buckets)
