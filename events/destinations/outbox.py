"""The flush's one call: after ClickHouse stored a segment, queue its events for the
destinations of their sites (docs/destinations.md, "Where the events come from").

The flush must not slow down for destinations, nor wait for one:

- which sites have destinations is cached in-process (`DestinationDirectory`), reloaded
  in one query when a destination is saved or deleted anywhere (a random stamp in the
  shared cache, read once per call: Redis in services mode, where flushes run in Celery
  workers on several hosts) or after `TTL` seconds; a segment of sites without
  destinations costs one cache read and one set lookup per row;
- the rows of sites with destinations become gzipped NDJSON (the export's columns), one
  `DestinationBatch` per destination and segment, in one `bulk_create`; nothing is sent
  here (the forwarder, a periodic job, sends).

At least once: the flush calls this after the insert and before it deletes the segment,
so a crash in between makes the next flush run the segment again, and this queues it
then. The batch is unique per (destination, segment): a segment queued before the crash
is not queued twice. A row the re-run finds already stored (a client-given event id) is
queued too (`resent`): the first run may have died before queueing it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.signals import post_delete, post_save

from events.destinations import formats
from events.destinations.models import Destination, DestinationBatch
from events.rows import EventRow

logger = logging.getLogger(__name__)

STAMP_KEY = "destinations:directory-stamp"
TTL = 30.0  # seconds: the safety net when the shared stamp is lost
GZIP_LEVEL = 1  # the flush's CPU matters more than the outbox's bytes


class DestinationDirectory:
    """Site id → ids of its destinations (active or paused: a paused one keeps its events
    for when it is resumed), for one process."""

    def __init__(self, ttl: float = TTL) -> None:
        self.ttl = ttl
        self._by_site: dict[int, tuple[int, ...]] = {}
        self._loaded_at = float("-inf")
        self._stamp: object = None
        self._loaded_once = False
        self._guard = threading.Lock()

    def _shared_stamp(self) -> object:
        try:
            return cache.get(STAMP_KEY)
        except Exception:
            logger.warning("cannot read the destinations' stamp; reloading every %s s", self.ttl)
            return self._stamp

    def by_site(self) -> dict[int, tuple[int, ...]]:
        stamp = self._shared_stamp()
        if stamp != self._stamp or time.monotonic() - self._loaded_at >= self.ttl:
            with self._guard:
                found: dict[int, list[int]] = defaultdict(list)
                live = Destination.objects.filter(site__deleted_at__isnull=True)
                try:
                    pairs = list(live.values_list("id", "site_id").order_by("id"))
                except DatabaseError:
                    if not self._loaded_once:
                        raise  # never loaded: the flush retries its segment
                    logger.warning("cannot reload the destinations; keeping the ones known")
                    return self._by_site
                for destination_id, site_id in pairs:
                    found[site_id].append(destination_id)
                self._by_site = {site: tuple(ids) for site, ids in found.items()}
                self._stamp = stamp
                self._loaded_at = time.monotonic()
                self._loaded_once = True
        return self._by_site

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")


directory = DestinationDirectory()


def announce_change() -> None:
    """Destinations changed: every flusher reloads on its next segment."""
    directory.invalidate()
    try:
        cache.set(STAMP_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.warning("cannot write the destinations' stamp; flushers see it within %s s", TTL)


def _on_written(sender: Any, using: str, **_: Any) -> None:
    directory.invalidate()  # this process at once (a flush in the same transaction sees it)
    transaction.on_commit(announce_change, using=using, robust=True)  # and everyone, once true


post_save.connect(_on_written, sender=Destination, dispatch_uid="destinations_on_save")
post_delete.connect(_on_written, sender=Destination, dispatch_uid="destinations_on_delete")


def enqueue(
    segment: str,
    rows: Iterable[tuple[int, EventRow]],
    *,
    rejected: set[int] = frozenset(),  # type: ignore[assignment]
    resent: Iterable[EventRow] = (),
) -> int:
    """Queue a stored segment's rows (`(index, row)`, less the `rejected` indexes) and the
    `resent` ones for the destinations of their sites; how many batches were written.

    A database failure raises: the flush then keeps the segment and runs it again (its
    ClickHouse insert is deduplicated by its token), so no destination misses it."""
    by_site = directory.by_site()
    if not by_site:
        return 0
    lines: dict[int, list[bytes]] = defaultdict(list)
    for index, row in rows:
        if row.site_id in by_site and index not in rejected:
            lines[row.site_id].append(formats.stored_line(row))
    for row in resent:
        if row.site_id in by_site:
            lines[row.site_id].append(formats.stored_line(row))
    if not lines:
        return 0
    payloads = {
        site_id: (len(found), gzip.compress(b"\n".join(found) + b"\n", GZIP_LEVEL))
        for site_id, found in lines.items()
    }
    try:
        return _write(segment, payloads, by_site)
    except IntegrityError:  # a destination deleted since the directory was loaded
        directory.invalidate()
        return _write(segment, payloads, directory.by_site())


def _write(
    segment: str, payloads: dict[int, tuple[int, bytes]], by_site: dict[int, tuple[int, ...]]
) -> int:
    now = dt.datetime.now(dt.UTC)
    batches = [
        DestinationBatch(
            destination_id=destination_id,
            segment=segment,
            events=events,
            payload=payload,
            created_at=now,
        )
        for site_id, (events, payload) in payloads.items()
        for destination_id in by_site.get(site_id, ())
    ]
    with transaction.atomic():
        DestinationBatch.objects.bulk_create(batches, ignore_conflicts=True)
    return len(batches)
