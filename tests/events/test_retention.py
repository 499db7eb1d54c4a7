"""Retention of raw events (events/retention.py) on the real embedded ClickHouse: a site's
events and visits older than its retention go, nobody else's do (docs/retention.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from events import jobs
from events.clickhouse import ClickHouse
from events.retention import (
    RETENTION_JOB,
    RetentionReport,
    _drop_old_months,
    apply_retention,
    cutoff_for,
    kept_days,
    raw_events_since,
)
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit

NOW = dt.datetime.now(dt.UTC)
AGES = (dt.timedelta(days=20), dt.timedelta(days=10), dt.timedelta(days=2), dt.timedelta(hours=1))


def _max_days(days: int | None) -> Any:
    return override_settings(TRAIL=dataclasses.replace(settings.TRAIL, retention_max_days=days))


def _counts(clickhouse: ClickHouse, site_id: int) -> tuple[int, int, str | None]:
    """Events, visits (collapsed) and the first event's time of the site."""
    [events] = clickhouse.query(
        "SELECT count() AS n, toString(min(timestamp)) AS first FROM events"
        " WHERE site_id = {s:UInt64}",
        {"s": site_id},
    )
    [visits] = clickhouse.query(
        "SELECT sum(sign) AS n FROM sessions WHERE site_id = {s:UInt64}", {"s": site_id}
    )
    return int(events["n"]), int(visits["n"]), events["first"] if events["n"] else None


@pytest.mark.django_db(transaction=True)
def test_job_drops_only_the_old_events_of_sites_with_a_retention(
    clickhouse: ClickHouse, fresh_site_ids: int, seed: Callable[[Site, list[Any]], None]
) -> None:
    org = factories.organization()
    short, kept, longer = factories.site(org), factories.site(org), factories.site(org)
    for site in (short, kept, longer):
        # One visitor per age (a visit each), through the real collector.
        seed(site, [hit(site, NOW - age, ip=f"192.0.2.{i}") for i, age in enumerate(AGES)])
    assert _counts(clickhouse, short.id)[:2] == (4, 4)
    Site.objects.filter(pk=short.pk).update(
        retention_days=5, stats_start_date=(NOW - AGES[0]).date()
    )
    Site.objects.filter(pk=longer.pk).update(retention_days=15)

    report = jobs.run(RETENTION_JOB)  # registered for the job thread and Celery beat

    assert isinstance(report, RetentionReport)
    assert report.sites == 2 and report.partitions == 0
    assert report.rows == 6  # three events and their three visits
    assert _counts(clickhouse, short.id)[:2] == (2, 2)
    assert _counts(clickhouse, longer.id)[:2] == (3, 3)
    assert _counts(clickhouse, kept.id)[:2] == (4, 4)
    short.refresh_from_db()
    cutoff = cutoff_for(5, now=dt.datetime.now(dt.UTC))
    assert short.retention_cutoff == cutoff
    assert short.stats_start_date is None  # "all" looks its first day up again
    [left] = clickhouse.query(
        "SELECT min(timestamp) AS first FROM events WHERE site_id = {s:UInt64}", {"s": short.id}
    )
    assert left["first"] >= cutoff
    # Nothing older is left: the next run deletes nothing (and sends no DELETE).
    assert apply_retention().rows == 0
    # Lengthened later, the dropped days stay dropped: reports still see the old cutoff.
    Site.objects.filter(pk=short.pk).update(retention_days=None)
    short.refresh_from_db()
    assert raw_events_since(short) == cutoff


@pytest.mark.django_db(transaction=True)
def test_deleted_sites_are_left_to_the_purge(
    clickhouse: ClickHouse, fresh_site_ids: int, seed: Callable[[Site, list[Any]], None]
) -> None:
    site = factories.site(factories.organization())
    seed(site, [hit(site, NOW - dt.timedelta(days=20))])
    Site.objects.filter(pk=site.pk).update(retention_days=1, deleted_at=NOW)
    assert apply_retention().rows == 0
    assert _counts(clickhouse, site.id)[0] == 1


def test_kept_days_and_the_instance_maximum() -> None:
    site = Site(domain="example.com", retention_days=None)
    assert kept_days(site) is None
    with _max_days(90):
        assert kept_days(site) == 90  # "forever" is the maximum
        site.retention_days = 30
        assert kept_days(site) == 30
        site.retention_days = 400  # set before the maximum was lowered
        assert kept_days(site) == 90


def test_cutoff_is_a_utc_midnight() -> None:
    late = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert cutoff_for(30, now=late) == dt.datetime(2026, 2, 9, tzinfo=dt.UTC)  # 11 March UTC


def test_months_before_the_maximum_go_whole(clickhouse: ClickHouse) -> None:
    """The instance maximum drops whole monthly partitions (on a scratch copy of `events`:
    a partition holds every site's rows)."""
    table = f"retention_scratch_{uuid.uuid4().hex[:8]}"
    clickhouse.command(f"CREATE TABLE {table} AS events")
    try:
        times = [
            dt.datetime(2026, 1, 31, 23, tzinfo=dt.UTC),
            dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
            dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
        ]
        clickhouse.insert(
            table,
            {
                "site_id": [1, 2, 3],
                "event_id": [str(uuid.uuid4()) for _ in times],
                "timestamp": times,
                "name": ["pageview"] * 3,
            },
        )
        # Cutoff 10 Feb: January ended before it and goes; February is only partly older.
        cutoff = dt.datetime(2026, 2, 10, tzinfo=dt.UTC)
        assert _drop_old_months(clickhouse, cutoff, tables=(table,)) == (1, 1)
        left = clickhouse.query(f"SELECT site_id FROM {table} ORDER BY site_id")  # noqa: S608
        assert [row["site_id"] for row in left] == [2, 3]
        assert _drop_old_months(clickhouse, cutoff, tables=(table,)) == (0, 0)
    finally:
        clickhouse.command(f"DROP TABLE IF EXISTS {table}")
