"""The daily tier of the rollups (docs/rollups.md, "The daily tier"): the closing job
writes a closed day again when rows arrive for it later, trims the hourly rows once their
days are closed, and reports keep equal to raw rows throughout; reads whose counts would
not add up over a day's rows, hour-by-hour reads of days whose hourly rows are gone, and
days cut in another zone's pieces are answered elsewhere."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest

from events import rollups_daily
from events.clickhouse import get_client
from reports.runner import covered_by_rollups, execute
from reports.sql import rollups
from sites.models import Site
from tests.reports.conftest import hit
from tests.reports.test_rollups import (  # noqa: F401 (the `sites` fixture)
    COVERED,
    FIRST,
    LAST,
    TOP,
    _both,
    _query,
    _shown,
)
from tests.reports.test_rollups import sites as sites  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rollups_on")]


def _count(table: str, site: Site, where: str = "1") -> int:
    [row] = get_client().query(
        f"SELECT count() AS n FROM {table} WHERE site_id = {{s:UInt64}} AND {where}",  # noqa: S608
        {"s": site.pk},
    )
    return int(row["n"])


def _equal(site: Site, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        from_rollup, from_raw = _both(site, body)
        assert from_rollup.source == "rollup", body
        assert _shown(from_rollup) == _shown(from_raw), body


def _close(now: dt.datetime | None = None) -> rollups_daily.CloseReport:
    """The closing job, a second after the rows seeded so far: a day that received rows in
    the second its write began is written again (rows' insert times are whole seconds)."""
    time.sleep(1)
    report = rollups_daily.close_days(now=now)
    assert report is not None
    return report


def test_a_row_arriving_for_a_closed_day_gets_the_day_written_again(
    sites: dict[str, Site], seed: Callable[..., None]
) -> None:
    site = sites["Europe/Berlin"]
    first = _close()
    assert first.closed > 0 and first.rewritten == 0
    day = FIRST + dt.timedelta(days=1)
    assert day in rollups_daily.daily_state(site.pk, site.timezone).closed
    late = dt.datetime.combine(day, dt.time(21, 30), tzinfo=dt.UTC)  # 22:30 in Berlin
    seed(
        site,
        [
            hit(site, late, "/late", ip="2001:db8::77"),
            hit(site, late, "/late-2", ip="2001:db8::78"),
        ],
    )
    assert _count("rollup_mixed", site, f"day = '{day}'") >= 1
    # Until the job writes the day again, it is read from its hourly rows (which the views
    # kept up to date), as another process sees within STATE_TTL.
    rollups_daily.forget_states()
    assert day not in rollups_daily.daily_state(site.pk, site.timezone).closed
    pages = {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}
    _equal(site, [pages])
    assert "/late" in {row.dimensions[0] for row in execute(_query(site, pages)).rows}
    again = _close()
    assert again.closed == 0 and again.rewritten >= 1
    assert day in rollups_daily.daily_state(site.pk, site.timezone).closed
    _equal(site, COVERED)
    assert _close().rewritten == 0  # written once


def test_old_hourly_rows_go_once_their_days_are_closed(sites: dict[str, Site]) -> None:
    site = sites["America/New_York"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=rollups_daily.HOURLY_DAYS + 8)
    report = _close(now=later)
    assert report.trimmed
    assert _count("rollup_events", site) == _count("rollup_sessions", site) == 0
    # Every report the daily tier answers is still equal (hour by hour, by goal (the "Blog"
    # page goal cannot be summed) and some filtered ones read hourly rows: gone only for
    # this test's `now` three weeks ahead).
    daily = [
        body
        for body in COVERED
        if not body.get("filters")
        and not {"time:hour", "event:goal"} & set(body.get("dimensions", []))
    ]
    _equal(site, daily)
    again = _close(now=later)
    assert (again.closed, again.rewritten, again.trimmed) == (0, 0, False)


def test_hourly_rows_of_days_not_closed_are_kept(sites: dict[str, Site]) -> None:
    """No trim while a day older than the hourly rows kept is not closed yet."""
    site = sites["UTC"]
    today = dt.datetime.now(dt.UTC).date()
    old = today - dt.timedelta(days=rollups_daily.HOURLY_DAYS + 3)
    get_client().command(
        "INSERT INTO rollup_events (site_id, dimension, timestamp, name, pathname, visitors,"
        " pageviews, events) SELECT {s:UInt64}, '', toDateTime({day:Date}, 'UTC'), '', '',"
        " uniqExactState(toUInt64(1)), 1, 1",
        {"s": site.pk, "day": old},
    )
    assert rollups_daily._trim_hourly(today, today) is False
    assert _count("rollup_events", site, f"toDate(timestamp) = '{old}'") == 1


def test_a_zone_change_reads_raw_rows_for_the_days_cut_in_the_old_zone(
    sites: dict[str, Site],
) -> None:
    site = sites["Europe/Berlin"]
    rollups_daily.close_days()
    Site.objects.filter(pk=site.pk).update(timezone="Asia/Tokyo")
    site.refresh_from_db()
    for body in ({"metrics": TOP}, {"metrics": TOP, "dimensions": ["time:day"]}):
        from_rollup, from_raw = _both(site, body)
        assert from_rollup.source == "events"
        assert _shown(from_rollup) == _shown(from_raw)


def _old(site: Site, body: dict[str, Any]) -> Any:
    """`body` over a week well before the hourly rows kept."""
    first = FIRST - dt.timedelta(days=rollups_daily.HOURLY_DAYS + 30)
    return _query(site, {**body, "date_range": [str(first), str(first + dt.timedelta(days=6))]})


def test_reads_whose_counts_would_not_add_up_come_from_elsewhere(sites: dict[str, Site]) -> None:
    """A visitor in two rows of a day (two sources, two pages) would be counted twice by
    summing: those reads come from the hourly rows while they hold the range, else raw."""
    site = sites["Australia/Sydney"]  # its goals: "Signup" (an event), "Blog" (pages)
    rollups_daily.close_days()
    not_additive = [
        {"metrics": ["visitors"], "filters": [["contains", "visit:source", ["o"]]]},
        {"metrics": ["visitors"], "filters": [["is", "visit:source", ["Google", "Hacker News"]]]},
        {"metrics": ["visitors", "pageviews"], "filters": [["contains", "event:page", ["/blog"]]]},
        {"metrics": ["visitors", "events"], "dimensions": ["event:goal"]},  # a page goal
        {"metrics": ["visitors"], "dimensions": ["time:hour"]},
        {"metrics": ["visitors"], "filters": [["is", "event:page", ["/docs"]]]},  # any event
    ]
    additive = [
        {"metrics": ["visitors"], "filters": [["is", "visit:source", ["Google"]]]},
        {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
        {"metrics": ["visitors", "events"], "dimensions": ["event:name"]},
        {"metrics": ["visitors", "events"], "filters": [["is", "event:name", ["Signup"]]]},
        {"metrics": TOP, "dimensions": ["visit:source", "time:week"]},
    ]
    for body in not_additive:
        report, raw = _both(site, body)
        assert report.source == "rollup", body  # the hourly rows hold this week
        assert _shown(report) == _shown(raw), body
        assert not covered_by_rollups(_old(site, body)), body
    for body in additive:
        assert covered_by_rollups(_old(site, body)), body
        assert execute(_old(site, body)).source == "rollup", body


def test_the_pieces_of_a_day_are_read_where_a_bucket_or_an_edge_cuts_it() -> None:
    """Berlin's local midnight is 23:00 UTC in winter: a range's edges and its day buckets
    cut the UTC days before them; weeks cut only on Mondays, months on the 1st; a zone
    whose midnight is UTC's cuts nothing."""
    from reports.dates import DateRange

    span = DateRange(dt.date(2026, 11, 2), dt.date(2026, 11, 15), "Europe/Berlin")  # Mon–Sun
    edges = [dt.date(2026, 11, 1), dt.date(2026, 11, 15)]
    assert rollups.split_days(span, ()) == edges
    assert rollups.split_days(span, ("time:week",)) == [*edges[:1], dt.date(2026, 11, 8), edges[1]]
    assert len(rollups.split_days(span, ("time:day",))) == 15
    assert rollups.split_days(DateRange(span.first, span.last, "UTC"), ("time:day",)) == []


def test_whole_months_of_a_range_come_from_month_rows() -> None:
    from reports.dates import DateRange

    now = dt.datetime(2026, 12, 8, 12, tzinfo=dt.UTC)
    year = DateRange(dt.date(2025, 12, 1), dt.date(2026, 11, 30), "Europe/Berlin")
    cut = rollups.split_days(year, ())
    assert cut == [dt.date(2025, 11, 30), dt.date(2026, 11, 30)]  # the edges, 23:00 UTC
    months = rollups.whole_months(year, cut, now)
    # December to October; November 2026 ends on a cut day (the range's end)
    assert (months[0], months[-1], len(months)) == (dt.date(2025, 12, 1), dt.date(2026, 10, 1), 11)
    by_month = rollups.split_days(year, ("time:month",))
    assert rollups.whole_months(year, by_month, now) == []  # every month's last day is cut
    utc = DateRange(year.first, year.last, "UTC")
    assert len(rollups.whole_months(utc, rollups.split_days(utc, ()), now)) == 12
    # a month not closed yet at `now` is read day by day
    assert rollups.whole_months(utc, [], dt.datetime(2026, 12, 1, 1, tzinfo=dt.UTC))[-1] == (
        dt.date(2026, 10, 1)
    )


def test_a_month_row_holds_its_days_and_is_what_a_long_range_reads(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    days = [d for d in (month + dt.timedelta(days=n) for n in range(31)) if d.month == month.month]
    recent = [d for d in days if (today - d).days <= 28]  # the batch API takes 30 days back
    if len(recent) < 2:
        pytest.skip("the previous month is out of the batch API's reach today")
    site = make_site("rollup-months.example", timezone="UTC")
    sent = []
    for day in recent[-3:]:
        at = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
        for person in range(4):
            sent.append(hit(site, at, f"/p{person % 2}", ip=f"2001:db8::{day:%d}:{person}"))
            sent.append(
                hit(site, at + dt.timedelta(minutes=3), "/next", ip=f"2001:db8::{day:%d}:{person}")
            )
    seed(site, sent)
    _close()
    assert _count("rollup_events_daily", site, f"kind = 'month' AND day = '{month}'") > 0
    body = {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["event:page"],
        "date_range": [str(month), str(today - dt.timedelta(days=1))],
    }
    from_rollup, from_raw = _both(site, body)
    assert from_rollup.source == "rollup" and _shown(from_rollup) == _shown(from_raw)
    assert {row.dimensions[0] for row in from_raw.rows} == {"/p0", "/p1", "/next"}
    # the month's day rows are not what it reads: without its month rows, the month is gone
    get_client().command(
        "DELETE FROM rollup_events_daily WHERE site_id = {s:UInt64} AND kind = 'month'",
        {"s": site.pk},
    )
    assert execute(_query(site, body)).rows == []


def test_a_snapshot_read_before_the_job_ran_still_reads_each_day_once(
    sites: dict[str, Site],
) -> None:
    """Another process's `DailyState` may be up to 30 s old: the days closed since are
    read from their hourly rows, not from both."""
    site = sites["Europe/Berlin"]
    before = rollups_daily.daily_state(site.pk, site.timezone)
    assert before.closed == ()
    assert _close().closed > 0
    rollups_daily._states[(site.pk, site.timezone)] = (time.monotonic(), before)
    _equal(site, COVERED)
    rollups_daily.forget_states()
    assert rollups_daily.daily_state(site.pk, site.timezone).closed != ()
    _equal(site, COVERED)
