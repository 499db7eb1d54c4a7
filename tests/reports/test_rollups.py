"""Reports answered from the rollups equal the same reports from raw rows (docs/rollups.md):
traffic seeded through the real collector on sites in several time zones (one with a DST
change in range, one a half hour off UTC), every covered panel compared on both paths,
with filters and comparisons; the planner says which path answered in `meta`; a rebuild
fills in a site's older rows; deleted raw rows leave the rollups once their days are
rebuilt; a site's purge takes its rollups."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from events import rollups, rollups_daily
from events.clickhouse import get_client
from events.clickhouse.internal import purge_site
from events.flush import FlushReport, flush_spool
from events.rollups import rebuild_days, rebuild_site
from events.spool import spool
from reports.context import load_context
from reports.parse import parse
from reports.runner import Report, execute
from reports.stats import answer
from sites.models import Goal, Site
from tests import factories
from tests.conftest import send
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, SAFARI_MAC, hit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rollups_on")]

TODAY = dt.datetime.now(dt.UTC).date()
FIRST = TODAY - dt.timedelta(days=6)
LAST = TODAY - dt.timedelta(days=1)
REFERRERS = ("", "https://www.google.com/search", "https://news.ycombinator.com/item", "")
PAGES = ("/", "/pricing", "/blog/a", "/blog/b", "/docs")
AGENTS = (FIREFOX, CHROME_ANDROID, SAFARI_MAC)


def traffic(site: Site, seed: int = 7, visitors: int = 60) -> list[dict[str, Any]]:
    """Random visits over the range's days: several pages, referrers, UTM tags, custom
    events; some visits cross an hour or midnight, some visitors come back. A visitor's
    address changes with the UTC day, as its visitor id does for traffic received as it
    happens (the daily salt): this traffic, sent at once, is hashed with today's salt."""
    rng = random.Random(seed)  # noqa: S311 (repeatable traffic, not secrets)
    events = []
    start = dt.datetime.combine(FIRST, dt.time(), tzinfo=dt.UTC) - dt.timedelta(hours=14)
    span = (LAST - FIRST).days * 86400 + 86400 + 20 * 3600
    for n in range(visitors):
        agent = AGENTS[n % 3]
        for _ in range(rng.choice((1, 1, 2, 3))):  # visits of this visitor
            at = start + dt.timedelta(seconds=rng.randrange(span))
            referrer = rng.choice(REFERRERS)
            query = rng.choice(("", "", "?utm_source=news&utm_medium=email&utm_campaign=x"))
            for step in range(rng.choice((1, 1, 2, 4, 6))):  # events of the visit
                path = rng.choice(PAGES)
                first = step == 0
                extra = {"referrer": referrer, "query": query} if first else {}
                ip = f"2001:db8::{at:%m%d}:{n + 1:x}"
                if rng.random() < 0.15:
                    events.append(hit(site, at, path, name="Signup", ip=ip, user_agent=agent))
                else:
                    events.append(hit(site, at, path, ip=ip, user_agent=agent, **extra))
                at += dt.timedelta(minutes=rng.choice((1, 5, 17, 29)))
    return [e for e in events if dt.datetime.fromisoformat(e["timestamp"]) < _now()]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


ZONES = ("UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney")


@pytest.fixture
def sites(make_site: Callable[..., Site], seed: Callable[..., None]) -> dict[str, Site]:
    made = {}
    for i, zone in enumerate(ZONES):
        site = make_site(f"rollups{i}.example", timezone=zone)
        Goal.objects.create(site=site, kind="event", value="Signup", display_name="Signup")
        Goal.objects.create(site=site, kind="pageview", value="/blog/*", display_name="Blog")
        seed(site, traffic(site, seed=i))
        made[zone] = site
    return made


def _query(site: Site, body: dict[str, Any]) -> Any:
    body = {"site_id": site.domain, "date_range": [str(FIRST), str(LAST)], **body}
    return parse(site=site, body=body, context=load_context(site, body)).query


def _shown(report: Report) -> Any:
    """Rows and comparison rows in order, metrics to 6 places (sums in another order)."""

    def shown(row: Any) -> Any:
        return None if row is None else (row.dimensions, _rounded(row.metrics))

    return [shown(row) for row in report.rows], [shown(row) for row in report.comparison or []]


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 6) for name, value in metrics.items()}


def _both(site: Site, body: dict[str, Any]) -> tuple[Report, Report]:
    query = _query(site, body)
    return execute(query), execute(query, rollups=False)


TOP = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]
# Under a visit filter, page views are counted on the events of the matching visits (at
# their own time), which the rollups cannot tell apart: visit metrics only.
VISIT_TOP = [m for m in TOP if m != "pageviews"]
COVERED = [
    {"metrics": [*TOP, "events"]},
    {"metrics": TOP, "include": {"comparisons": {"mode": "previous_period"}}},
    {"metrics": TOP, "dimensions": ["time:day"]},
    {
        "metrics": TOP,
        "dimensions": ["time:day"],
        "include": {"comparisons": {"mode": "previous_period"}},
    },
    {"metrics": ["visitors", "visits", "pageviews"], "dimensions": ["time:hour"]},
    {"metrics": TOP, "dimensions": ["time:week"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["time:month"]},
    *(
        {"metrics": [*TOP, "percentage"], "dimensions": [dim]}
        for dim in (
            "visit:source",
            "visit:channel",
            "visit:utm_source",
            "visit:utm_campaign",
            "visit:country",
            "visit:device",
            "visit:browser",
            "visit:os",
            "visit:entry_page",
            "visit:referrer",
            "visit:screen",
        )
    ),
    {"metrics": ["visitors", "visits", "bounce_rate"], "dimensions": ["visit:source", "time:day"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {
        "metrics": ["visitors", "pageviews", "events"],
        "dimensions": ["event:page"],
        "order_by": [["pageviews", "desc"]],
        "pagination": {"limit": 2},
    },  # noqa: E501
    {"metrics": ["visitors", "events"], "dimensions": ["event:name"]},
    # top lists ranked by a count first, on both paths: the same page of rows
    {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["event:page"],
        "pagination": {"limit": 3, "offset": 1},
    },  # noqa: E501
    {
        "metrics": ["visitors", "visits", "bounce_rate"],
        "dimensions": ["visit:entry_page"],
        "pagination": {"limit": 2},
    },  # noqa: E501
    {
        "metrics": ["visitors"],
        "dimensions": ["visit:city"],
        "include": {"comparisons": {"mode": "previous_period"}},
    },  # noqa: E501
    {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]},
    {"metrics": VISIT_TOP, "filters": [["is", "visit:source", ["Google"]]]},
    {
        "metrics": VISIT_TOP,
        "filters": [["is_not", "visit:channel", ["Direct"]]],
        "dimensions": ["visit:channel"],
    },  # noqa: E501
    {
        "metrics": VISIT_TOP,
        "filters": [["contains", "visit:entry_page", ["blog"]]],
        "dimensions": ["time:day"],
        "include": {"comparisons": {"mode": "previous_period"}},
    },  # noqa: E501
    {
        "metrics": ["visitors", "pageviews", "events"],
        "filters": [["contains", "event:page", ["/blog"]]],
    },  # noqa: E501
    {
        "metrics": ["visitors", "events"],
        "filters": [["is", "event:goal", ["Signup"]]],
        "dimensions": ["time:day"],
    },  # noqa: E501
    {
        "metrics": ["visitors", "pageviews"],
        "filters": [["is", "event:page", ["/docs"]]],
        "dimensions": ["event:page"],
    },  # noqa: E501
]


@pytest.mark.parametrize("closed", [False, True], ids=["hourly", "closed-days"])
@pytest.mark.parametrize("zone", ZONES)
def test_rollup_answers_equal_raw(sites: dict[str, Site], zone: str, closed: bool) -> None:
    """From the hourly rows (shaped into days as the closing job shapes them), and from the
    daily tier once the ended days are closed."""
    site = sites[zone]
    if closed:
        report = rollups_daily.close_days()
        assert report is not None and report.closed >= len(ZONES) * 5
        [row] = get_client().query(
            "SELECT count() AS n FROM rollup_sessions_daily WHERE site_id = {s:UInt64}",
            {"s": site.pk},
        )
        assert row["n"] > 0
    for body in COVERED:
        from_rollup, from_raw = _both(site, body)
        assert from_rollup.source == "rollup", body
        assert from_raw.source == "events"
        assert from_raw.rows, body
        assert _shown(from_rollup) == _shown(from_raw), body


NOT_COVERED = [
    {"metrics": ["visitors"], "dimensions": ["visit:exit_page"]},  # changes as a visit grows
    {"metrics": ["visitors"], "dimensions": ["visit:source", "visit:country"]},  # two dimensions
    {
        "metrics": ["visitors"],
        "filters": [["is", "visit:source", ["Google"]], ["is", "visit:device", ["Desktop"]]],
    },  # noqa: E501
    {"metrics": ["visits"], "filters": [["is", "event:page", ["/docs"]]]},  # across tables
    {"metrics": ["scroll_depth"], "dimensions": ["event:page"]},  # engagement
    {"metrics": ["visitors"], "dimensions": ["event:hostname"]},
    {"metrics": ["visitors"], "dimensions": ["event:props:plan"]},
    {"metrics": ["pageviews"], "filters": [["is", "visit:source", ["Google"]]]},
]


def test_uncovered_queries_read_raw_rows(sites: dict[str, Site]) -> None:
    from reports.runner import covered_by_rollups

    site = sites["UTC"]
    for body in NOT_COVERED:
        assert execute(_query(site, body)).source == "events", body
        assert not covered_by_rollups(_query(site, body))
    assert covered_by_rollups(_query(site, COVERED[0]))


def test_half_hour_zone_reads_raw_rows(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    """India is UTC+5:30: its days do not begin on a UTC hour, so the hourly rollups cannot
    cut them; the answer is the raw one."""
    site = make_site("kolkata.example", timezone="Asia/Kolkata")
    seed(site, traffic(site, visitors=10))
    report = execute(_query(site, {"metrics": TOP}))
    assert report.source == "events"
    assert report.rows[0].metrics["visitors"] > 0


def test_meta_says_where_the_answer_came_from(sites: dict[str, Site]) -> None:
    site = sites["Europe/Berlin"]
    body = {"site_id": site.domain, "date_range": [str(FIRST), str(LAST)], "metrics": TOP}
    meta = answer(site=site, body=body)["meta"]
    # This traffic was sent today for earlier days: its visitor ids may repeat across days,
    # so visitors summed over them are flagged (docs/rollups.md, "The daily tier").
    assert (meta["source"], meta["estimated"]) == ("rollup", True)
    # Traffic received on its own day is not: the days' notes gone, the answer is exact.
    get_client().command(
        "DELETE FROM rollup_mixed WHERE site_id = {site:UInt64}", {"site": site.pk}
    )
    rollups_daily.forget_states()  # as another process would see it within STATE_TTL
    meta = answer(site=site, body=body)["meta"]
    assert (meta["source"], meta["estimated"]) == ("rollup", False)
    body["metrics"] = ["visits", "bounce_rate"]  # no visitor count: never estimated
    _mark_mixed(site)
    assert answer(site=site, body=body)["meta"]["estimated"] is False
    body["dimensions"] = ["visit:exit_page"]
    assert answer(site=site, body=body)["meta"]["source"] == "events"


def _mark_mixed(site: Site) -> None:
    get_client().command(
        "INSERT INTO rollup_mixed (site_id, day, at) VALUES ({site:UInt64}, {day:Date}, now())",
        {"site": site.pk, "day": FIRST},
    )
    rollups_daily.forget_states()


def _pending(site: Site) -> None:
    get_client().command(
        "INSERT INTO rollup_pending (site_id) VALUES ({site:UInt64})", {"site": site.pk}
    )
    rollups_daily.forget_states()


def test_pending_site_reads_raw_until_rebuilt(sites: dict[str, Site]) -> None:
    """A site whose rows predate the rollups (listed in rollup_pending) reads raw rows; a
    rebuild recomputes every day (here from an emptied rollup) and takes it off the list."""
    site = sites["America/New_York"]
    client = get_client()
    for table in ("rollup_events", "rollup_sessions"):
        client.command(f"DELETE FROM {table} WHERE site_id = {{s:UInt64}}", {"s": site.pk})  # noqa: S608
    _pending(site)
    body = {"metrics": TOP, "dimensions": ["time:day"]}
    assert execute(_query(site, body)).source == "events"
    seen: list[tuple[int, int]] = []
    days = rebuild_site(site.pk, progress=lambda done, total: seen.append((done, total)))
    assert days >= 7 and seen[-1] == (days, days)
    for body in COVERED:
        from_rollup, from_raw = _both(site, body)
        assert from_rollup.source == "rollup"
        assert _shown(from_rollup) == _shown(from_raw), body


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_deleted_rows_leave_the_rollups_once_their_days_are_rebuilt(
    sites: dict[str, Site], zone: str
) -> None:
    """A view sees no DELETE: the rollups keep counting deleted rows until `rebuild_days`
    recomputes the days they were on (their hourly rows, and the daily ones of the closed
    days), then equal the raw answer again."""
    site = sites[zone]
    rollups_daily.close_days()
    client = get_client()
    day = FIRST + dt.timedelta(days=2)
    params = {"s": site.pk, "day": day}
    for table, column in (("events", "timestamp"), ("sessions", "start")):
        client.command(
            f"DELETE FROM {table} WHERE site_id = {{s:UInt64}} AND toDate({column}) = {{day:Date}}",  # noqa: S608
            params,
        )
    body = {"metrics": TOP, "dimensions": ["time:day"]}
    stale, raw = _both(site, body)
    assert _shown(stale) != _shown(raw)  # the view did not see the delete
    rebuild_days(site.pk, [day])
    for body in COVERED:
        from_rollup, from_raw = _both(site, body)
        assert _shown(from_rollup) == _shown(from_raw), body


class _FlushingAfterTheDelete:
    """The engine, which also runs the real flush right after a rollup table's rows are
    deleted: the moment an ingest flush landing mid-rebuild would be counted twice (by the
    view, then by the recomputation reading it from raw rows)."""

    def __init__(self, reports: list[FlushReport]) -> None:
        self._engine = get_client()
        self._reports = reports

    def command(self, sql: str, params: Any = None) -> Any:
        done = self._engine.command(sql, params)
        if sql.startswith("DELETE FROM rollup_events"):
            self._reports.append(flush_spool(client=self._engine))
        return done

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def test_an_event_flushed_during_a_rebuild_is_counted_once(
    sites: dict[str, Site], client: Any, flush: Callable[..., FlushReport], monkeypatch: Any
) -> None:
    site = sites["UTC"]
    _, key = factories.api_key(site.organization, scopes=("events:write",))
    at = dt.datetime.combine(LAST, dt.time(12), tzinfo=dt.UTC)
    send(client, key, [hit(site, at, "/arrived-mid-rebuild", ip="203.0.113.77")])
    spool().rotate()  # accepted and ready to flush
    reports: list[FlushReport] = []
    monkeypatch.setattr(rollups, "get_client", lambda: _FlushingAfterTheDelete(reports))
    rebuild_days(site.pk, [LAST])
    assert reports and reports[0].busy and not reports[0].events  # it waited
    monkeypatch.undo()
    assert flush().events == 1  # after the rebuild: counted by the view, once
    for body in COVERED:
        from_rollup, from_raw = _both(site, body)
        assert _shown(from_rollup) == _shown(from_raw), body


def test_purge_site_removes_its_rollups(sites: dict[str, Site]) -> None:
    site, other = sites["UTC"], sites["Europe/Berlin"]
    client = get_client()
    rollups_daily.close_days()

    def rows(of: Site) -> int:
        return sum(
            int(
                client.query(
                    f"SELECT count() AS n FROM {table} WHERE site_id = {{s:UInt64}}",  # noqa: S608
                    {"s": of.pk},
                )[0]["n"]
            )
            for table in rollups.TABLES
        )

    assert rows(site) > 0
    purge_site(client, site.pk)
    assert rows(site) == 0
    assert rows(other) > 0  # another tenant's rollups stay


def test_deleting_an_import_corrects_the_rollups(sites: dict[str, Site]) -> None:
    """An import's rows were rolled up as they were published; deleting the import
    (reports.imports.raw.purge) recomputes the days they were on."""
    from reports.imports.raw import purge

    site = sites["Australia/Sydney"]
    client = get_client()
    day = FIRST + dt.timedelta(days=3)
    for table, column in (("events", "timestamp"), ("sessions", "start")):
        client.command(  # these rows become an import's (a mutation: no view sees it)
            f"ALTER TABLE {table} UPDATE import_id = 'rollup-test-import'"  # noqa: S608
            f" WHERE site_id = {{s:UInt64}} AND toDate({column}) = {{day:Date}}"
            " SETTINGS mutations_sync = 2",
            {"s": site.pk, "day": day},
        )
    before = execute(_query(site, {"metrics": TOP}))
    purge(site_id=site.pk, import_id="rollup-test-import")
    for body in COVERED:
        from_rollup, from_raw = _both(site, body)
        assert from_rollup.source == "rollup"
        assert _shown(from_rollup) == _shown(from_raw), body
    after = execute(_query(site, {"metrics": TOP}))
    assert after.rows[0].metrics["pageviews"] < before.rows[0].metrics["pageviews"]


@pytest.mark.parametrize(
    ("zone", "first", "last", "whole"),
    [
        ("Europe/Berlin", "2026-03-28", "2026-03-30", True),  # DST: still whole hours
        ("America/New_York", "2026-10-31", "2026-11-02", True),
        ("Australia/Lord_Howe", "2026-04-04", "2026-04-06", False),  # a half-hour change
        ("Asia/Kathmandu", "2026-01-01", "2026-01-01", False),  # UTC+5:45
        ("UTC", "2020-01-01", "2026-12-31", True),
    ],
)
def test_ranges_are_cut_on_whole_utc_hours_only(
    zone: str, first: str, last: str, whole: bool
) -> None:
    from reports.dates import DateRange
    from reports.sql.rollups import aligned

    span = DateRange(dt.date.fromisoformat(first), dt.date.fromisoformat(last), zone)
    assert aligned(span) is whole


def test_rebuild_command(sites: dict[str, Site]) -> None:
    """`manage.py rollups rebuild --site` fills in a pending site; `pending` lists it until
    then; an unknown domain is a clear error."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    site = sites["Europe/Berlin"]
    _pending(site)
    out = StringIO()
    call_command("rollups", "pending", stdout=out)
    assert site.domain in out.getvalue().split()
    assert execute(_query(site, {"metrics": TOP})).source == "events"
    out = StringIO()
    call_command("rollups", "rebuild", "--site", site.domain, stdout=out)
    assert f"{site.domain}: rollups of" in out.getvalue()
    out = StringIO()
    call_command("rollups", "pending", stdout=out)
    assert site.domain not in out.getvalue().split()
    from_rollup, from_raw = _both(site, {"metrics": TOP, "dimensions": ["time:day"]})
    assert from_rollup.source == "rollup"
    assert _shown(from_rollup) == _shown(from_raw)
    with pytest.raises(CommandError, match="no site 'nowhere.example'"):
        call_command("rollups", "rebuild", "--site", "nowhere.example")


def test_a_site_rebuild_keeps_the_rollups_of_days_without_raw_rows(
    sites: dict[str, Site],
) -> None:
    """Raw rows expire (retention); rollups are kept forever: a rebuild recomputes the days
    that still have raw rows and leaves the others' rollups as they are."""
    site = sites["UTC"]
    client = get_client()
    day = FIRST + dt.timedelta(days=1)
    body = {"metrics": TOP, "date_range": [str(day), str(day)]}
    kept = execute(_query(site, body))
    for table, column in (("events", "timestamp"), ("sessions", "start")):
        client.command(  # as a TTL drop would: no view sees it
            f"DELETE FROM {table} WHERE site_id = {{s:UInt64}} AND toDate({column}) = {{d:Date}}",  # noqa: S608
            {"s": site.pk, "d": day},
        )
    rebuild_site(site.pk)
    after, raw = _both(site, body)
    assert raw.rows[0].metrics["visitors"] == 0
    assert after.rows[0].metrics["visitors"] > 0
    assert _shown(after) == _shown(kept)


@pytest.mark.django_db
def test_rollups_off_make_no_views_and_the_planner_reads_raw_rows(
    make_site: Callable[..., Site], seed: Callable[..., None], clickhouse: Any
) -> None:
    """TRAIL_ROLLUPS off (the default): the views are gone, an insert writes no rollup row,
    every report reads raw rows, and a rebuild has nothing to do."""
    from events import rollups
    from events.clickhouse.migrate import render

    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, rollups=False)):
        rollups.sync_views()
        assert not rollups._views_present()
        site = make_site("rollups-off.example.com")
        seed(site, traffic(site, visitors=5))
        found = clickhouse.query(
            "SELECT count() AS n FROM rollup_sessions WHERE site_id = {s:UInt64}", {"s": site.pk}
        )
        assert found[0]["n"] == 0
        report = execute(_query(site, {"metrics": ["visitors", "visits"]}))
        assert report.source == "events"
        rollups.rebuild_days(site.pk, [dt.date(2026, 1, 1)])  # nothing to correct
    assert len(render(rollups.VIEWS_SQL.read_text(), None)) == len(rollups.VIEWS) == 3
