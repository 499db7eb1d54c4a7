"""Every report answers the same from two shards as from one table (issue 21).

No ClickHouse cluster runs here and chDB has none (`Distributed` fails with
CLUSTER_DOESNT_EXIST), so two shards are stood in for: traffic seeded through the real
collector is split by the sharding key (`events.clickhouse.cluster.SHARDED`, `key % 2`, as
a `Distributed` table with two shards of weight 1 routes it) into `<table>_shard_0` and
`<table>_shard_1`, and `<table>` becomes a `Merge` table over them. `Merge` reads each
underlying table on its own (its `FINAL` collapses per table, as a Distributed query's does
per shard), so a visit split across shards would show here as wrong visits, bounces and
durations. Each report is run before and after the split: the answers must be equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from events.clickhouse.cluster import SHARDED
from reports import realtime
from reports.panels import PANELS, series, tab_results
from reports.stats import answer
from sites.models import Site
from tests import factories
from tests.reports.conftest import (
    CHROME_ANDROID,
    FIREFOX,
    SAFARI_MAC,
    drop_seeded,
    hit,
    post_json,
    seed_sites,
)
from tests.reports.test_stats_api import places

SHARDS = 2
TODAY = dt.datetime.now(dt.UTC).date()
FIRST = TODAY - dt.timedelta(days=12)
LAST = TODAY - dt.timedelta(days=2)
# Realtime's "now": yesterday noon, so events before and after it can be seeded.
NOW = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(
    hour=12, minute=0, second=30, microsecond=0
)
AGENTS = (FIREFOX, CHROME_ANDROID, SAFARI_MAC)
REFERRERS = (
    "https://www.google.com/",
    "https://news.ycombinator.com/",
    "",
    "https://duckduckgo.com/",
)
PATHS = ("/", "/pricing", "/blog/a", "/blog/b", "/docs")
NETWORKS = ("81.2.69", "91.198.174", "81.2.70", "203.0.113")
VISITORS = 90


def world(site: Site) -> list[dict[str, Any]]:
    """90 visitors over ten days: one- and multi-page visits, second visits, goals with
    properties, engagement, UTM tags, four networks (three with a place), three browsers;
    and 12 visitors around realtime's `now`."""
    sent: list[dict[str, Any]] = []
    for n in range(VISITORS):
        who: dict[str, Any] = {
            "ip": f"{NETWORKS[n % 4]}.{n + 1}",
            "user_agent": AGENTS[n % 3],
            "screen_width": (1920, 390, 1440)[n % 3],
        }
        start = dt.datetime.combine(
            FIRST + dt.timedelta(days=n % 10), dt.time(6 + n % 15, n % 60), tzinfo=dt.UTC
        )
        first = PATHS[n % 5]
        query = "?utm_source=newsletter&utm_medium=email&utm_campaign=spring" if n % 7 == 0 else ""
        sent.append(hit(site, start, first, referrer=REFERRERS[n % 4], query=query, **who))
        if n % 3:
            sent.append(hit(site, start + dt.timedelta(minutes=2), PATHS[(n + 1) % 5], **who))
            sent.append(
                hit(
                    site,
                    start + dt.timedelta(minutes=2, seconds=30),
                    PATHS[(n + 1) % 5],
                    name="engagement",
                    sd=20 + n % 80,
                    e=1000 * (n % 30),
                    **who,
                )
            )
        if n % 4 == 0:
            plan = "pro" if n % 8 == 0 else "free"
            sent.append(
                hit(
                    site,
                    start + dt.timedelta(minutes=3),
                    "/pricing",
                    name="Signup",
                    props={"plan": plan},
                    **who,
                )
            )
        if n % 5 == 0:  # a second visit, two hours later
            later = start + dt.timedelta(hours=2)
            sent.append(hit(site, later, "/blog/a", referrer=REFERRERS[(n + 1) % 4], **who))
            sent.append(hit(site, later + dt.timedelta(minutes=1), "/docs", **who))
    for n in range(12):
        who = {"ip": f"198.51.100.{n + 1}", "user_agent": AGENTS[n % 3]}
        at = NOW - dt.timedelta(minutes=2 * n + 1)
        sent.append(hit(site, at, PATHS[n % 5], referrer=REFERRERS[n % 4], **who))
    return sent


@pytest.fixture(scope="module")
def sites(
    django_db_setup: None,
    django_db_blocker: Any,
    clickhouse: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Site]]:
    made = seed_sites(
        django_db_blocker,
        clickhouse,
        {
            "berlin": ("shards-berlin-trail.com", "Europe/Berlin"),
            "la": ("shards-la-trail.com", "America/Los_Angeles"),
        },
        world,
        goals=(("event", "Signup", "Signup"), ("pageview", "/pricing", "Visit pricing")),
        geoip=places(tmp_path_factory.mktemp("geoip") / "city.mmdb"),
    )
    continue_visits(django_db_blocker, clickhouse, made)
    yield made
    drop_seeded(django_db_blocker, made)


def continuation(site: Site) -> list[dict[str, Any]]:
    """A later page of every third visitor's first visit: flushed on its own, so the visit
    is written again (its old state cancelled, `sign = -1`, and its new one) and its rows
    of two versions must meet on one shard for `FINAL` to collapse them."""
    sent = []
    for n in range(0, VISITORS, 3):
        who: dict[str, Any] = {"ip": f"{NETWORKS[n % 4]}.{n + 1}", "user_agent": AGENTS[n % 3]}
        start = dt.datetime.combine(
            FIRST + dt.timedelta(days=n % 10), dt.time(6 + n % 15, n % 60), tzinfo=dt.UTC
        )
        sent.append(hit(site, start + dt.timedelta(minutes=10), "/docs", **who))
    return sent


def continue_visits(django_db_blocker: Any, clickhouse: Any, sites: dict[str, Site]) -> None:
    from django.test import Client

    from events.flush import flush_spool
    from events.spool import spool
    from tests.conftest import send

    with django_db_blocker.unblock():
        _, key = factories.api_key(sites["berlin"].organization, scopes=("events:write",))
        for site in sites.values():
            send(Client(), key, continuation(site))
        spool().rotate()
        # in the unblocked block: the flush may reload the destinations from the database
        flush_spool(client=clickhouse)


@contextmanager
def two_shards(client: Any, site_ids: list[int], tables: tuple[str, ...]) -> Iterator[None]:
    """`tables` split into two stand-in shards by their sharding keys (the sites' rows),
    each read through a `Merge` table of its own name; the tables put back afterwards."""
    done: list[str] = []
    try:
        for table in tables:
            client.command(f"RENAME TABLE {table} TO {table}_whole")
            done.append(table)
            for shard in range(SHARDS):
                client.command(f"CREATE TABLE {table}_shard_{shard} AS {table}_whole")
                client.command(
                    f"INSERT INTO {table}_shard_{shard} SELECT * FROM {table}_whole"  # noqa: S608
                    " WHERE site_id IN {sites:Array(UInt64)}"
                    f" AND {SHARDED[table]} % {SHARDS} = {shard}"
                    # the rows as they are, a visit's cancelled states included (a merge
                    # may collapse them later, here as on the original table)
                    " SETTINGS optimize_on_insert = 0",
                    {"sites": site_ids},
                )
            client.command(
                f"CREATE TABLE {table} AS {table}_whole"
                f" ENGINE = Merge(currentDatabase(), '^{table}_shard_[0-9]+$')"
            )
        yield
    finally:
        for table in done:
            client.command(f"DROP TABLE IF EXISTS {table}")
            for shard in range(SHARDS):
                client.command(f"DROP TABLE IF EXISTS {table}_shard_{shard}")
            client.command(f"RENAME TABLE {table}_whole TO {table}")


DIMENSIONS = [
    "event:page",
    "event:name",
    "event:goal",
    "event:hostname",
    "event:props:plan",
    "visit:entry_page",
    "visit:exit_page",
    "visit:source",
    "visit:referrer",
    "visit:channel",
    "visit:utm_medium",
    "visit:utm_source",
    "visit:utm_campaign",
    "visit:utm_content",
    "visit:utm_term",
    "visit:country",
    "visit:region",
    "visit:city",
    "visit:device",
    "visit:browser",
    "visit:browser_version",
    "visit:os",
    "visit:os_version",
    "visit:screen",
    "time",
    "time:hour",
    "time:day",
    "time:week",
    "time:month",
]
SESSION_METRICS = ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"]
ALL = [*SESSION_METRICS, "views_per_visit"]
FILTERS: list[list[Any]] = [
    [["is", "visit:source", ["Google"]]],  # events filtered by a visit subquery
    [["contains", "event:page", ["/blog"]]],  # visits filtered by an event subquery
    [["is", "event:goal", ["Signup"]]],
    [["is_not", "visit:country", ["GB"]], ["matches", "event:page", ["^/(docs|pricing)"]]],
    [["or", [["is", "visit:browser", ["Firefox"]], ["is", "event:props:plan", ["pro"]]]]],
]


def bodies(site: Site) -> list[dict[str, Any]]:
    """The Stats API bodies asked of each site: the aggregate, every dimension, the goals
    with conversion rates, page metrics, filters across tables, a comparison."""
    span = [FIRST.isoformat(), LAST.isoformat()]
    asked: list[dict[str, Any]] = [{"metrics": ALL}]
    for dimension in DIMENSIONS:
        event = dimension.startswith("event:")
        metrics = ["visitors", "visits", "pageviews", "events"] if event else SESSION_METRICS
        if dimension == "event:page":
            metrics = [*metrics, "scroll_depth", "time_on_page"]
        asked.append({"metrics": metrics, "dimensions": [dimension]})
    asked.append(
        {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]}
    )
    for filters in FILTERS:
        asked.append({"metrics": ALL, "filters": filters})
        asked.append(
            {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"], "filters": filters}
        )
        asked.append(
            {"metrics": SESSION_METRICS, "dimensions": ["visit:source"], "filters": filters}
        )
    asked.append({"metrics": ALL, "include": {"comparisons": {"mode": "previous_period"}}})
    asked.append(
        {
            "metrics": ["visitors", "pageviews"],
            "dimensions": ["event:page"],
            "pagination": {"limit": 2, "offset": 1},
        }
    )
    return [{"site_id": site.domain, "date_range": span, **body} for body in asked]


FUNNELS = [
    [{"type": "page", "pattern": "/"}, {"type": "page", "pattern": "/pricing"}],
    [{"type": "page", "pattern": "/*"}, {"type": "event", "name": "Signup"}],
]


def everything(client: Any, key: str, site: Site) -> dict[str, Any]:
    """Every report of `site`: Stats API bodies, dashboard panels and series, funnels,
    realtime, and the flush's `FINAL` read of visits."""
    from events.clickhouse import get_client

    out: dict[str, Any] = {}
    for n, body in enumerate(bodies(site)):
        out[f"stats {n} {body.get('dimensions')} {body.get('filters')}"] = answer(
            site=site, body=body
        )
    base = {"site_id": site.domain, "date_range": [FIRST.isoformat(), LAST.isoformat()]}
    for panel, spec in PANELS.items():
        for tab in spec.tabs:
            out[f"panel {panel}/{tab}"] = tab_results(site, base, panel, tab, limit=100)
    for metric in (
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "visit_duration",
        "views_per_visit",
    ):
        out[f"series {metric}"] = series(site, base, metric=metric)
    for n, steps in enumerate(FUNNELS):
        sent = {"site_id": site.domain, "date_range": base["date_range"], "steps": steps}
        reply = post_json(client, "/api/v1/funnels/query", sent, key)
        assert reply.status_code == 200, reply.content
        out[f"funnel {n}"] = reply.json()
    out["realtime"] = realtime.realtime(site=site, now=NOW)
    out["realtime totals"] = realtime.realtime(site=site, now=NOW, totals=True)
    out["visits FINAL"] = get_client().query(
        "SELECT session_id, visitor_id, pageviews, events, is_bounce, duration, entry_page,"
        " exit_page FROM sessions FINAL WHERE site_id = {site:UInt64} AND sign = 1"
        " ORDER BY session_id",
        {"site": site.pk},
    )
    return out


def _key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("stats:read",))[1]


@pytest.mark.django_db
def test_every_report_is_the_same_from_two_shards(
    client: Any, sites: dict[str, Site], clickhouse: Any
) -> None:
    ids = [site.pk for site in sites.values()]
    keys = {name: _key(site) for name, site in sites.items()}
    whole = {name: everything(client, keys[name], site) for name, site in sites.items()}
    with two_shards(clickhouse, ids, ("events", "sessions")):
        spread = _rows_by_shard(clickhouse, ids)
        split = {name: everything(client, keys[name], site) for name, site in sites.items()}
    # The stand-in shards both hold rows, and no visit is split between them.
    assert all(n > 100 for n in spread["events"]), spread
    assert all(n > 30 for n in spread["sessions"]), spread
    assert spread["visits on both shards"] == 0
    for name in sites:
        assert split[name].keys() == whole[name].keys()
        for report, expected in whole[name].items():
            assert split[name][report] == expected, f"{name}: {report}"
    answered = [
        report
        for report, value in whole["berlin"].items()
        if report.startswith("stats") and value["results"]
    ]
    assert len(answered) >= len(bodies(sites["berlin"])) - 3  # a few filters may match none
    assert whole["berlin"]["realtime"]["visitors"] > 0
    assert whole["berlin"]["visits FINAL"]


def _rows_by_shard(client: Any, site_ids: list[int]) -> dict[str, Any]:
    spread: dict[str, Any] = {}
    for table in ("events", "sessions"):
        spread[table] = [
            int(
                client.query(
                    f"SELECT count() AS n FROM {table}_shard_{shard}"  # noqa: S608
                    " WHERE site_id IN {sites:Array(UInt64)}",
                    {"sites": site_ids},
                )[0]["n"]
            )
            for shard in range(SHARDS)
        ]
    [row] = client.query(
        "SELECT count() AS n FROM (SELECT session_id FROM events"
        " WHERE site_id IN {sites:Array(UInt64)} AND session_id != 0"
        " GROUP BY session_id HAVING uniqExact(_table) > 1)",
        {"sites": site_ids},
    )
    spread["visits on both shards"] = int(row["n"])
    return spread


def test_the_stand_in_shards_are_put_back(sites: dict[str, Site], clickhouse: Any) -> None:
    """After the split the real tables are back: inserts work, nothing is left behind."""
    ids = [site.pk for site in sites.values()]
    with two_shards(clickhouse, ids, ("events",)):
        assert clickhouse.query(
            "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
        ) == [{"engine": "Merge"}]
    [row] = clickhouse.query(
        "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
    )
    assert row["engine"] == "MergeTree"
    left = clickhouse.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE '%\\_shard\\_%'"
    )
    assert left == []


def _whole_and_per_shard(
    client: Any, selects: list[tuple[str, dict[str, Any]]], site_ids: list[int]
) -> tuple[list[Any], list[Any]]:
    """Each select's rows from the whole tables, and summed over the two stand-in shards
    with every table of the SQL, subqueries included, read shard-locally (what a
    Distributed query does with `distributed_product_mode = 'local'`)."""
    whole = [_keyed(client.query(sql, params)) for sql, params in selects]
    with two_shards(client, site_ids, ("events", "sessions")):
        summed = []
        for sql, params in selects:
            total: dict[tuple[Any, ...], dict[str, int]] = {}
            for shard in range(SHARDS):
                local = sql.replace(" FROM events ", f" FROM events_shard_{shard} ").replace(
                    " FROM sessions ", f" FROM sessions_shard_{shard} "
                )
                assert local.count("_shard_") == sql.count(" FROM events ") + sql.count(
                    " FROM sessions "
                )
                for key, metrics in _keyed(client.query(local, params)).items():
                    into = total.setdefault(key, dict.fromkeys(metrics, 0))
                    for name, value in metrics.items():
                        into[name] += value
            summed.append(total)
    return whole, summed


def _keyed(rows: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, int]]:
    return {
        tuple(v for k, v in row.items() if not k.startswith("m_")): {
            k: int(v) for k, v in row.items() if k.startswith("m_")
        }
        for row in rows
    }


def test_counts_are_exact_with_every_subquery_run_on_its_own_shard(
    sites: dict[str, Site], clickhouse: Any
) -> None:
    """A visitor's events and visits share a shard, so each shard answers counts of
    visitors, visits, page views and events for its own visitors alone, subqueries on the
    other table included, and the shards' answers add up to the whole's."""
    from reports.dates import DateRange
    from reports.plan import plan
    from reports.query import Condition, GoalDefinition, ReportQuery
    from reports.sql.selects import part_select

    site = sites["berlin"]
    span = DateRange(FIRST, LAST, site.timezone)
    goals = (GoalDefinition("Signup", "event", "Signup"),)
    filters = [
        (),
        (Condition("is", "visit:source", ("Google",)),),
        (Condition("contains", "event:page", ("/blog",)),),
        (Condition("is", "event:goal", ("Signup",)),),
        (
            Condition("is_not", "visit:entry_page", ("/",)),
            Condition("is", "event:page", ("/docs",)),
        ),
    ]
    dimensions = [(), ("event:page",), ("visit:source",), ("visit:entry_page",), ("time:day",)]
    selects = []
    for condition in filters:
        for dims in dimensions:
            event = bool(dims) and dims[0].startswith("event:")
            metrics = ("visitors", "visits", "pageviews", "events")
            query = ReportQuery(
                site_id=site.pk,
                date_range=span,
                goals=goals,
                metrics=metrics if event or not dims else ("visitors", "visits", "pageviews"),
                dimensions=dims,
                filters=condition,
            )
            the_plan = plan(query)
            for part in the_plan.parts:
                selects.append(
                    part_select(
                        query,
                        part,
                        dimensions=query.dimensions,
                        filters=query.filters,
                        fraction=None,
                        event_names=the_plan.event_names if part is the_plan.primary else (),
                    ).render()
                )
    across = [sql for sql, _ in selects if " IN (SELECT session_id FROM " in sql]
    assert len(across) >= 10  # the cross-table filters are in it
    whole, summed = _whole_and_per_shard(clickhouse, selects, [s.pk for s in sites.values()])
    assert summed == whole
    assert sum(1 for rows in whole if rows and any(any(m.values()) for m in rows.values())) > 20


IMPORTED = tuple(name for name in SHARDED if name.startswith("imported_"))


@pytest.mark.django_db
def test_reports_with_imports_are_the_same_from_two_shards(
    client: Any, clickhouse: Any, tmp_path: Path, make_site: Callable[..., Site]
) -> None:
    """Plausible's daily aggregates imported through the real import job, and the site's
    own events: every report with `include.imports`, before and after the imported tables
    are split by their sharding key too."""
    from events.flush import flush_spool
    from events.spool import spool
    from tests.conftest import send
    from tests.reports.test_imports_plausible import I1, N, export_files, native, write_zip
    from tests.reports.test_imports_plausible_job import start

    site = make_site("shards-imports-trail.com")  # the collector knows it at once
    _, write = factories.api_key(site.organization, scopes=("events:write",))
    send(client, write, native(site))
    spool().rotate()
    flush_spool(client=clickhouse)
    start(site, write_zip(tmp_path / "export.zip", export_files()))
    span = [I1.isoformat(), N.isoformat()]
    asked: list[dict[str, Any]] = [{"metrics": ALL}]
    for dimension in ("event:page", "visit:source", "visit:country", "visit:device", "time:day"):
        metrics = ["visitors", "pageviews"] if dimension == "event:page" else SESSION_METRICS
        asked.append({"metrics": metrics, "dimensions": [dimension]})
    bodies = [
        {"site_id": site.domain, "date_range": span, "include": {"imports": True}, **body}
        for body in asked
    ]

    def reports() -> list[Any]:
        return [answer(site=site, body=body) for body in bodies]

    whole = reports()
    with two_shards(clickhouse, [site.pk], ("events", "sessions", *IMPORTED)):
        [row] = clickhouse.query(
            "SELECT uniqExact(_table) AS n, count() AS rows FROM imported_visitors"
            " WHERE site_id = {s:UInt64}",
            {"s": site.pk},
        )
        split = reports()
    # The import's days are spread by the key over the stand-in shards (all on one of them
    # is a real outcome too: three days, a random import id; one time in four).
    assert 1 <= row["n"] <= SHARDS and row["rows"] > 0
    assert split == whole
    assert whole[0]["results"][0]["metrics"][0] > 30  # imported visitors are in it
