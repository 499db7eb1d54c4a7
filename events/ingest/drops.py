"""Counters of dropped events per site and reason, for the installation box.

Nothing per event is kept: a count per (site, reason) per 5-minute bucket and, for
`hostname_not_allowed`, a count per refused host name (at most `HOST_CAP` names per site and
bucket, so hostile input cannot grow memory or the cache). Never an IP or a user agent.

The ingest path only increments a dict under a lock (no PostgreSQL, Redis or Celery call):
the first count after a publication schedules the next one on a timer thread,
`PUBLISH_EVERY` seconds later, which adds the pending counts to the shared Django cache
(Redis in services mode, local memory in embedded mode) with atomic increments, so the
counts of every process add up. Keys expire a little after an hour; `recent_drops()` sums
the last 12 buckets (55 to 60 minutes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.cache import cache

from events.ingest.sites import SiteDirectory, directory
from events.ingest.steps import Drop, DropReason, Incoming, make_resolve_site

logger = logging.getLogger(__name__)

BUCKET_SECONDS = 300
BUCKETS = 12  # the last hour
KEY_TTL = BUCKET_SECONDS * (BUCKETS + 1)
PUBLISH_EVERY = 5.0  # seconds
HOST_CAP = 20  # refused host names kept per site and bucket
MAX_HOST = 253  # a longer "host name" is counted under its reason only

Pending = dict[tuple[int, int, DropReason], int]
PendingHosts = dict[tuple[int, int], dict[str, int]]


def _key(site_id: int, bucket: int, name: str) -> str:
    return f"drops:{site_id}:{bucket}:{name}"


def _host_slot(site_id: int, bucket: int, slot: int) -> str:
    return _key(site_id, bucket, f"host{slot}")


def _add(key: str, count: int) -> None:
    """Add to a shared counter, creating it with the window's expiry."""
    cache.add(key, 0, timeout=KEY_TTL)
    try:
        cache.incr(key, count)
    except ValueError:  # expired between the two calls
        cache.add(key, count, timeout=KEY_TTL)


def _claim_slot(site_id: int, bucket: int, host: str, claimed: dict[str, str]) -> str | None:
    """The key of `host`'s slot in this bucket, claiming a free one; None past the cap."""
    for slot in range(HOST_CAP):
        key = _host_slot(site_id, bucket, slot)
        owner = claimed.get(key)
        if owner is None:
            # `add` is atomic: of two processes claiming one slot, one wins
            owner = host if cache.add(key, host, timeout=KEY_TTL) else cache.get(key)
            if owner is not None:
                claimed[key] = owner
        if owner == host:
            return key
    return None


def _publish_hosts(site_id: int, bucket: int, hosts: dict[str, int]) -> None:
    slots = [_host_slot(site_id, bucket, slot) for slot in range(HOST_CAP)]
    claimed: dict[str, str] = cache.get_many(slots)
    for host, count in hosts.items():
        key = _claim_slot(site_id, bucket, host, claimed)
        if key is not None:
            _add(f"{key}:n", count)


class DropCounter:
    """This process's pending counts, published to the cache every `interval` seconds."""

    def __init__(
        self,
        *,
        sites: SiteDirectory = directory,
        clock: Callable[[], float] = time.time,
        interval: float = PUBLISH_EVERY,
    ) -> None:
        self._resolve = make_resolve_site(sites)
        self._clock = clock
        self._interval = interval
        self._counts: Pending = {}
        self._hosts: PendingHosts = {}
        self._timer: threading.Timer | None = None
        self._guard = threading.Lock()  # the pending counts
        self._publishing = threading.Lock()  # one publication at a time

    def record(self, incoming: Incoming, reason: DropReason) -> None:
        """Count one dropped event (called by the collector, for drops only)."""
        site = incoming.site
        if site is None:  # dropped before the site was resolved (a bot, referrer spam)
            if reason is DropReason.UNKNOWN_SITE:
                return
            resolved = self._resolve(incoming)
            if isinstance(resolved, Drop):
                return
            site = resolved.site
            assert site is not None  # noqa: S101 (resolve_site sets it)
        host = ""
        if reason is DropReason.HOSTNAME_NOT_ALLOWED:
            host = urlsplit(incoming.event.url).hostname or ""
        bucket = int(self._clock() // BUCKET_SECONDS)
        timer = None
        with self._guard:
            key = (site.id, bucket, reason)
            self._counts[key] = self._counts.get(key, 0) + 1
            if host and len(host) <= MAX_HOST:
                hosts = self._hosts.setdefault((site.id, bucket), {})
                if host in hosts or len(hosts) < HOST_CAP:
                    hosts[host] = hosts.get(host, 0) + 1
            if self._timer is None:
                timer = self._timer = threading.Timer(self._interval, self._publish_quietly)
                timer.daemon = True
        if timer is not None:
            timer.start()

    def publish(self) -> None:
        """Add the pending counts to the shared cache now (once this returns, what was
        counted before the call is readable, even if a timer was publishing meanwhile)."""
        with self._publishing:
            with self._guard:
                counts, self._counts = self._counts, {}
                hosts, self._hosts = self._hosts, {}
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
            for (site_id, bucket, reason), count in counts.items():
                _add(_key(site_id, bucket, reason.value), count)
            for (site_id, bucket), by_host in hosts.items():
                _publish_hosts(site_id, bucket, by_host)

    def _publish_quietly(self) -> None:
        try:
            self.publish()
        except Exception:  # the cache is down: these counts are lost, ingest goes on
            logger.warning("dropped-event counters not published", exc_info=True)


counter = DropCounter()


@dataclass(frozen=True)
class RecentDrops:
    """A site's dropped events of the last hour: by reason, and refused host names."""

    by_reason: dict[DropReason, int]
    refused_hosts: list[tuple[str, int]]  # the HOST_CAP most refused, most refused first

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())


def recent_drops(*, site_id: int, now: float | None = None) -> RecentDrops:
    """The sums of every process's counts over the last hour (this process's pending
    counts are published first)."""
    counter.publish()
    current = int((time.time() if now is None else now) // BUCKET_SECONDS)
    buckets = range(current - BUCKETS + 1, current + 1)
    keys = {
        _key(site_id, bucket, reason.value): reason for bucket in buckets for reason in DropReason
    }
    by_reason: dict[DropReason, int] = {}
    for key, count in cache.get_many(list(keys)).items():
        by_reason[keys[key]] = by_reason.get(keys[key], 0) + int(count)
    hosts: dict[str, int] = {}
    if by_reason.get(DropReason.HOSTNAME_NOT_ALLOWED):
        slots = [_host_slot(site_id, b, slot) for b in buckets for slot in range(HOST_CAP)]
        found = cache.get_many([*slots, *(f"{slot}:n" for slot in slots)])
        for slot in slots:
            if slot in found:
                host = found[slot]
                hosts[host] = hosts.get(host, 0) + int(found.get(f"{slot}:n", 0))
    ranked = sorted(hosts.items(), key=lambda item: (-item[1], item[0]))[:HOST_CAP]
    return RecentDrops(by_reason=by_reason, refused_hosts=[(h, n) for h, n in ranked if n])
