"""Retention of raw events per site (docs/retention.md): ClickHouse drops a site's events
and visits older than its retention; the rollups stay.

Python only decides which statements to send. Two kinds, both executed by ClickHouse:

- **Partition drops** for the instance maximum (`TRAIL_RETENTION_MAX_DAYS`): `events` and
  `sessions` are partitioned by month with every site mixed, so a month that ended before
  the maximum's cutoff holds nobody's kept rows and goes whole (a metadata change).
- **Lightweight `DELETE`s** for the rest (a site's own retention, and the months the
  maximum only partly covers): one statement per table for the sites sharing a cutoff,
  `DELETE FROM events WHERE site_id IN (…) AND timestamp < cutoff`. The sort key starts
  with `(site_id, toDate(timestamp))`, so it marks only those sites' old granules as gone;
  merges remove them later.

A TTL could not do it: ClickHouse refuses `dictGet` in a TTL expression ("TTL expression
cannot contain non-deterministic functions", chDB 4.4 / ClickHouse 26.9), and the rows'
own `retention_days` column (migration 0001) is stamped when an event is written, so a
retention changed later would never reach the events already stored.

Cutoffs fall on UTC midnights: a site keeping 30 days keeps every event from the UTC
midnight 30 days before today's. The site's row records the latest cutoff applied
(`Site.retention_cutoff`), because a retention lengthened later does not bring dropped
events back; reports warn about days before it (`reports.retention`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils.timezone import now as current_time

from events.clickhouse import ClickHouse, get_client
from events.clickhouse.internal import delete_before, drop_partition
from events.jobs import periodic
from sites.models import Site

logger = logging.getLogger(__name__)

RETENTION_JOB = "events.apply_retention"
SITES_PER_DELETE = 1000  # site ids in one statement
# Each raw table and the column its rows age by (the one its partition key is built on).
TABLES = {"events": "timestamp", "sessions": "start"}


def kept_days(site: Site) -> int | None:
    """Days the site keeps raw events: its own retention, capped by the instance maximum;
    a site without one keeps them for the maximum; None: forever."""
    limit = settings.TRAIL.retention_max_days
    days = [d for d in (site.retention_days, limit) if d]
    return min(days) if days else None


def cutoff_for(days: int, *, now: dt.datetime) -> dt.datetime:
    """The UTC midnight `days` days before today's: raw events before it are dropped."""
    today = now.astimezone(dt.UTC).date()
    return dt.datetime.combine(today - dt.timedelta(days=days), dt.time(), tzinfo=dt.UTC)


def raw_events_since(site: Site, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """The instant before which the site's raw events are (or are about to be) gone: the
    later of its current retention's cutoff and the latest cutoff applied; None if it has
    never dropped any and keeps them forever."""
    days = kept_days(site)
    found = [site.retention_cutoff] if site.retention_cutoff else []
    if days:
        found.append(cutoff_for(days, now=now or current_time()))
    return max(found, default=None)


@dataclass(frozen=True)
class RetentionReport:
    partitions: int  # monthly partitions dropped (both tables)
    sites: int  # sites whose rows older than their cutoff were deleted
    rows: int  # events and visit rows removed (visit rows count each state)


def apply_retention(now: dt.datetime | None = None) -> RetentionReport:
    """Drop every site's raw events older than its retention (hourly: a cutoff moves once
    a day, and a retention just shortened takes effect within the hour)."""
    now = now or current_time()
    client = get_client()
    partitions, rows = 0, 0
    limit = settings.TRAIL.retention_max_days
    if limit:
        partitions, rows = _drop_old_months(client, cutoff_for(limit, now=now))
    sites = Site.objects.filter(deleted_at__isnull=True)
    if not limit:  # without a maximum, only sites with their own retention
        sites = sites.filter(retention_days__isnull=False)
    # Sites keeping the same number of days share a cutoff, and one DELETE per table.
    by_cutoff: dict[dt.datetime, list[Site]] = defaultdict(list)
    for site in sites.only("id", "retention_days", "retention_cutoff").order_by("id"):
        days = kept_days(site)
        if days is not None:
            by_cutoff[cutoff_for(days, now=now)].append(site)
    trimmed: set[int] = set()
    for cutoff, group in by_cutoff.items():
        for start in range(0, len(group), SITES_PER_DELETE):
            chunk = group[start : start + SITES_PER_DELETE]
            removed = delete_before(client, TABLES, [site.id for site in chunk], cutoff)
            trimmed.update(removed)
            rows += sum(removed.values())
        moved = [s.id for s in group if s.retention_cutoff is None or cutoff > s.retention_cutoff]
        Site.objects.filter(pk__in=moved).update(retention_cutoff=cutoff)
    # Their first day of data may have gone: what reports.context.forget_first_day does
    # for one site (events cannot import reports); a dropped month may be anyone's.
    forget = Site.objects.all() if partitions else Site.objects.filter(pk__in=trimmed)
    forget.exclude(stats_start_date=None).update(stats_start_date=None)
    if trimmed or partitions:
        logger.info(
            "retention: %d partitions dropped, %d sites trimmed, %d rows removed",
            partitions,
            len(trimmed),
            rows,
        )
    return RetentionReport(partitions=partitions, sites=len(trimmed), rows=rows)


# Registered apart from the definition so that callers keep its return type.
periodic(every=3600, name=RETENTION_JOB)(apply_retention)


def _drop_old_months(
    client: ClickHouse, cutoff: dt.datetime, tables: Iterable[str] = tuple(TABLES)
) -> tuple[int, int]:
    """Drop the monthly partitions of the raw tables that ended before `cutoff` (the
    instance maximum's, which applies to every site); partitions and rows dropped."""
    first_kept = cutoff.year * 100 + cutoff.month
    dropped, rows = 0, 0
    for table in tables:
        found = client.query(
            "SELECT partition, sum(rows) AS n FROM system.parts WHERE active"
            " AND database = currentDatabase() AND table = {table:String}"
            " GROUP BY partition",
            {"table": table},
        )
        for part in found:
            month = int(part["partition"])
            if month < first_kept:
                drop_partition(client, table, (month,))
                dropped += 1
                rows += int(part["n"])
    return dropped, rows
