"""The Stats API (`POST /api/v2/query`) on known visits seeded through the real collector.

The world, the same events sent to three sites (UTC, UTC−8 and UTC+9), day D = 10 days
ago (UTC):
- V1 (Firefox, desktop): D 10:00 `/` from Google, 10:02 `/pricing`, 10:05 Signup {plan: pro}
  → one visit, 2 pageviews, 300 s, not a bounce.
- V2 (Chrome, Android): D 11:00 `/blog/a` with utm newsletter/email/spring → a bounce.
- V3 (Safari, Mac): D 12:00 `/` direct → a bounce; D+1 09:00 `/blog/a`, 09:01 `/blog/b`
  → a second visit of 60 s.
- V4 (Firefox, desktop, another IP): D 23:30 `/pricing` from Hacker News → a bounce.

UTC, D..D+1: 4 visitors, 5 visits, 7 pageviews, 8 events, bounce rate 60 %, visit
duration 72 s, 1.4 views per visit. Goals: Signup (1 visitor: 25 %), Visit pricing
(/pricing: V1 and V4, 50 %).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sites.models import Site
from tests import factories
from tests.events.test_geo import _write as write_mmdb
from tests.reports.conftest import (
    CHROME_ANDROID,
    FIREFOX,
    SAFARI_MAC,
    drop_seeded,
    hit,
    post_json,
    seed_sites,
)

TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=10)
D1 = D + dt.timedelta(days=1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def world(site: Site) -> list[dict[str, Any]]:
    v1 = {"ip": "81.2.69.10", "user_agent": FIREFOX, "screen_width": 1920}
    v2 = {"ip": "91.198.174.20", "user_agent": CHROME_ANDROID, "screen_width": 390}
    v3 = {"ip": "203.0.113.30", "user_agent": SAFARI_MAC, "screen_width": 1440}
    v4 = {"ip": "81.2.70.40", "user_agent": FIREFOX, "screen_width": 1920}
    return [
        hit(site, at(D, 10, 0), "/", referrer="https://www.google.com/", **v1),
        hit(site, at(D, 10, 2), "/pricing", referrer=f"https://{site.domain}/", **v1),
        hit(site, at(D, 10, 5), "/pricing", name="Signup", props={"plan": "pro"}, **v1),
        hit(
            site,
            at(D, 11, 0),
            "/blog/a",
            query="?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
            **v2,
        ),
        hit(site, at(D, 12, 0), "/", **v3),
        *engagement(site, v1, v3),
        hit(site, at(D1, 9, 0), "/blog/a", **v3),
        hit(site, at(D1, 9, 1), "/blog/b", **v3),
        hit(site, at(D, 23, 30), "/pricing", referrer="https://news.ycombinator.com/", **v4),
    ]


def engagement(site: Site, v1: dict[str, Any], v3: dict[str, Any]) -> list[dict[str, Any]]:
    """Scroll and engaged time: V1 on / (60 %, 10 s) and /pricing twice (80 % and 40 %,
    20 + 5 s: one page view of 80 %, 25 s); V3 on / (100 %, 4 s)."""
    return [
        hit(site, at(D, 10, 1), "/", name="engagement", sd=60, e=10_000, **v1),
        hit(site, at(D, 10, 4), "/pricing", name="engagement", sd=80, e=20_000, **v1),
        hit(site, at(D, 10, 6), "/pricing", name="engagement", sd=40, e=5_000, **v1),
        hit(site, at(D, 12, 1), "/", name="engagement", sd=100, e=4_000, **v3),
    ]


def places(path: Path) -> Path:
    """A GeoIP database of the world's visitors (V3's documentation address has none)."""
    return write_mmdb(
        path,
        6,
        {
            "81.2.69.0/24": {
                "country": {"iso_code": "GB"},
                "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
                "city": {"names": {"en": "London"}},
            },
            "91.198.174.0/24": {
                "country": {"iso_code": "DE"},
                "subdivisions": [{"iso_code": "BE", "names": {"en": "Berlin"}}],
                "city": {"names": {"en": "Berlin"}},
            },
            "81.2.70.0/24": {
                "country": {"iso_code": "US"},
                "subdivisions": [{"iso_code": "CA", "names": {"en": "California"}}],
                "city": {"names": {"en": "San Francisco"}},
            },
        },
        "GeoIP2-City",
    )


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
            "utc": ("stats-utc-trail.com", "UTC"),
            "la": ("stats-la-trail.com", "America/Los_Angeles"),
            "tokyo": ("stats-tokyo-trail.com", "Asia/Tokyo"),
        },
        world,
        goals=(("event", "Signup", "Signup"), ("pageview", "/pricing", "Visit pricing")),
        geoip=places(tmp_path_factory.mktemp("geoip") / "city.mmdb"),
    )
    yield made
    drop_seeded(django_db_blocker, made)


@pytest.fixture
def key(sites: dict[str, Site], db: None) -> str:
    _, raw = factories.api_key(sites["utc"].organization, scopes=("stats:read",))
    return raw


def query(client: Any, key: str, site: Site, **body: Any) -> dict[str, Any]:
    body.setdefault("date_range", [D.isoformat(), D1.isoformat()])
    answer = post_json(client, "/api/v2/query", {"site_id": site.domain, **body}, key)
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def table(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(*row["dimensions"], *row["metrics"]) for row in answer["results"]]


ALL = [
    "visitors",
    "visits",
    "pageviews",
    "events",
    "bounce_rate",
    "visit_duration",
    "views_per_visit",
]


def test_top_stats(client: Any, key: str, sites: dict[str, Site]) -> None:
    answer = query(client, key, sites["utc"], metrics=ALL)
    assert table(answer) == [(4, 5, 7, 8, 60, 72, 1.4)]
    assert answer["meta"]["sampled"] is False


def test_pages(client: Any, key: str, sites: dict[str, Site]) -> None:
    answer = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "pageviews", "visits"],
        dimensions=["event:page"],
    )
    assert table(answer) == [
        ("/", 2, 2, 2),
        ("/blog/a", 2, 2, 2),
        ("/pricing", 2, 2, 2),
        ("/blog/b", 1, 1, 1),
    ]


@pytest.mark.parametrize("limit", [10, 1])
def test_pages_under_a_filter_on_visits(
    client: Any, key: str, sites: dict[str, Site], limit: int
) -> None:
    """A top list filtered by a visit attribute (a subquery on sessions) is computed in one
    pass when its ranking would be exact: the same rows, in order, and paginated."""
    answer = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "pageviews"],
        dimensions=["event:page"],
        filters=[["is", "visit:entry_page", ["/"]]],
        pagination={"limit": limit},
    )
    assert table(answer) == [("/", 2, 2), ("/pricing", 1, 1)][:limit]


def test_entry_and_exit_pages(client: Any, key: str, sites: dict[str, Site]) -> None:
    entry = query(
        client,
        key,
        sites["utc"],
        metrics=["visits", "bounce_rate", "visit_duration"],
        dimensions=["visit:entry_page"],
    )
    assert table(entry) == [("/", 2, 50, 150), ("/blog/a", 2, 50, 30), ("/pricing", 1, 100, 0)]
    exits = query(client, key, sites["utc"], metrics=["visits"], dimensions=["visit:exit_page"])
    assert table(exits) == [("/pricing", 2), ("/", 1), ("/blog/a", 1), ("/blog/b", 1)]


BREAKDOWNS = {
    "visit:source": [
        ("Direct / None", 1, 2, 50),
        ("Google", 1, 1, 0),
        ("Hacker News", 1, 1, 100),
        ("newsletter", 1, 1, 100),
    ],
    "visit:referrer": [
        ("Direct / None", 2, 3, 67),
        ("google.com", 1, 1, 0),
        ("news.ycombinator.com", 1, 1, 100),
    ],
    "visit:channel": [
        ("Direct", 1, 2, 50),
        ("Email", 1, 1, 100),
        ("Organic Search", 1, 1, 0),
        ("Organic Social", 1, 1, 100),
    ],
    "visit:utm_source": [("(none)", 3, 4, 50), ("newsletter", 1, 1, 100)],
    "visit:utm_medium": [("(none)", 3, 4, 50), ("email", 1, 1, 100)],
    "visit:utm_campaign": [("(none)", 3, 4, 50), ("spring", 1, 1, 100)],
    "visit:utm_content": [("(none)", 4, 5, 60)],
    "visit:utm_term": [("(none)", 4, 5, 60)],
    "visit:device": [("Desktop", 3, 4, 50), ("Mobile", 1, 1, 100)],
    "visit:browser": [("Firefox", 2, 2, 50), ("Chrome", 1, 1, 100), ("Safari", 1, 2, 50)],
    "visit:browser_version": [("133.0", 2, 2, 50), ("131.0", 1, 1, 100), ("17.5", 1, 2, 50)],
    "visit:os": [("GNU/Linux", 2, 2, 50), ("Android", 1, 1, 100), ("Mac", 1, 2, 50)],
    "visit:os_version": [("(not set)", 2, 2, 50), ("10", 1, 1, 100), ("10.15", 1, 2, 50)],
    "visit:screen": [("Desktop", 3, 4, 50), ("Mobile", 1, 1, 100)],
    "visit:country": [
        ("(not set)", 1, 2, 50),
        ("DE", 1, 1, 100),
        ("GB", 1, 1, 0),
        ("US", 1, 1, 100),
    ],
    "visit:region": [
        ("(not set)", 1, 2, 50),
        ("Berlin", 1, 1, 100),
        ("California", 1, 1, 100),
        ("England", 1, 1, 0),
    ],
    "visit:city": [
        ("(not set)", 1, 2, 50),
        ("Berlin", 1, 1, 100),
        ("London", 1, 1, 0),
        ("San Francisco", 1, 1, 100),
    ],
}


@pytest.mark.parametrize("dimension", sorted(BREAKDOWNS))
def test_visit_breakdowns(client: Any, key: str, sites: dict[str, Site], dimension: str) -> None:
    answer = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "visits", "bounce_rate"],
        dimensions=[dimension],
    )
    assert table(answer) == BREAKDOWNS[dimension]


@pytest.mark.parametrize(
    ("dimension", "expected"),
    [
        ("event:name", [("pageview", 4, 7), ("Signup", 1, 1)]),
        ("event:hostname", [("stats-utc-trail.com", 4, 8)]),
        ("event:props:plan", [("(none)", 4, 7), ("pro", 1, 1)]),
    ],
)
def test_event_breakdowns(
    client: Any, key: str, sites: dict[str, Site], dimension: str, expected: list[Any]
) -> None:
    answer = query(
        client, key, sites["utc"], metrics=["visitors", "events"], dimensions=[dimension]
    )
    assert table(answer) == expected


def test_goals_with_conversion_rate(client: Any, key: str, sites: dict[str, Site]) -> None:
    answer = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "events", "conversion_rate"],
        dimensions=["event:goal"],
    )
    assert table(answer) == [("Visit pricing", 2, 2, 50.0), ("Signup", 1, 1, 25.0)]
    by_source = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "conversion_rate"],
        dimensions=["visit:source"],
        filters=[["is", "event:goal", ["Visit pricing"]]],
    )
    # Plausible's conversion_rate: converters over all the query's 4 visitors; the rate
    # within each source's own visitors is group_conversion_rate
    assert table(by_source) == [("Google", 1, 25.0), ("Hacker News", 1, 25.0)]
    by_group = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "group_conversion_rate"],
        dimensions=["visit:source"],
        filters=[["is", "event:goal", ["Visit pricing"]]],
    )
    assert table(by_group) == [("Google", 1, 100.0), ("Hacker News", 1, 100.0)]
    total = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "conversion_rate"],
        filters=[["is", "event:goal", ["Signup"]]],
    )
    assert table(total) == [(1, 25.0)]


def test_percentage(client: Any, key: str, sites: dict[str, Site]) -> None:
    answer = query(
        client, key, sites["utc"], metrics=["visitors", "percentage"], dimensions=["visit:device"]
    )
    assert table(answer) == [("Desktop", 3, 75.0), ("Mobile", 1, 25.0)]


def test_time_series_by_day_hour_week_and_month(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    site = sites["utc"]
    days = query(
        client,
        key,
        site,
        metrics=["visitors", "pageviews", "visits", "bounce_rate"],
        dimensions=["time:day"],
        include={"time_labels": True},
    )
    assert table(days) == [(D.isoformat(), 4, 5, 4, 75), (D1.isoformat(), 1, 2, 1, 0)]
    assert days["meta"]["time_labels"] == [D.isoformat(), D1.isoformat()]
    hours = query(
        client,
        key,
        site,
        metrics=["visitors", "pageviews"],
        dimensions=["time:hour"],
        date_range=[D.isoformat(), D.isoformat()],
        include={"time_labels": True},
    )
    stamp = D.isoformat()
    assert table(hours) == [
        (f"{stamp} 10:00:00", 1, 2),
        (f"{stamp} 11:00:00", 1, 1),
        (f"{stamp} 12:00:00", 1, 1),
        (f"{stamp} 23:00:00", 1, 1),
    ]
    assert len(hours["meta"]["time_labels"]) == 24
    auto = query(client, key, site, metrics=["pageviews"], dimensions=["time"])
    assert auto["query"]["dimensions"] == ["time:day"]
    months = query(client, key, site, metrics=["pageviews"], dimensions=["time:month"])
    first_of_month = max(D.replace(day=1), D)
    assert sum(row["metrics"][0] for row in months["results"]) == 7
    assert months["results"][0]["dimensions"] == [first_of_month.isoformat()]
    weeks = query(client, key, site, metrics=["pageviews"], dimensions=["time:week"])
    assert sum(row["metrics"][0] for row in weeks["results"]) == 7
    assert weeks["results"][0]["dimensions"] == [D.isoformat()]  # clamped to the range


@pytest.mark.parametrize(
    ("name", "day", "expected"),
    [
        # D in Tokyo (UTC+9) is D−1 15:00 … D 15:00 UTC: V1, V2, V3's first visit
        ("tokyo", D, (3, 3, 4)),
        # D in Los Angeles (UTC−8) is D 08:00 … D+1 08:00 UTC: also V4 at 23:30
        ("la", D, (4, 4, 5)),
        ("utc", D, (4, 4, 5)),
        ("tokyo", D1, (2, 2, 3)),  # V4 (08:30 local) and V3 (18:00 local)
        ("la", D1, (1, 1, 2)),
    ],
)
def test_days_are_the_sites_local_days(
    client: Any,
    key: str,
    sites: dict[str, Site],
    name: str,
    day: dt.date,
    expected: tuple[int, ...],
) -> None:
    answer = query(
        client,
        key,
        sites[name],
        metrics=["visitors", "visits", "pageviews"],
        date_range=[day.isoformat(), day.isoformat()],
    )
    assert table(answer) == [expected]


def test_local_hours_in_a_utc_plus_9_site(client: Any, key: str, sites: dict[str, Site]) -> None:
    answer = query(
        client,
        key,
        sites["tokyo"],
        metrics=["pageviews"],
        dimensions=["time:hour"],
        date_range=[D.isoformat(), D.isoformat()],
    )
    stamp = D.isoformat()
    assert table(answer) == [
        (f"{stamp} 19:00:00", 2),
        (f"{stamp} 20:00:00", 1),
        (f"{stamp} 21:00:00", 1),
    ]
    utc_view = query(
        client,
        key,
        sites["tokyo"],
        metrics=["pageviews"],
        date_range=[D.isoformat(), D.isoformat()],
        timezone="UTC",
    )
    assert table(utc_view) == [(5,)]


FILTERS = [
    (["is", "event:page", ["/pricing"]], (2, 2)),
    (["is", "event:page", ["/pricing", "/"]], (3, 4)),
    (["is_not", "event:page", ["/pricing"]], (3, 5)),
    (["contains", "event:page", ["blog"]], (2, 3)),
    (["contains_not", "event:page", ["blog"]], (3, 4)),
    (["matches", "event:page", ["^/blog/[ab]$"]], (2, 3)),
    (["matches_not", "event:page", ["^/blog"]], (3, 4)),
    (["contains", "event:page", ["BLOG"], {"case_sensitive": False}], (2, 3)),
    (["contains", "event:page", ["BLOG"]], (0, 0)),
    (["is", "event:page", ["/PRICING"], {"case_sensitive": False}], (2, 2)),
    (["matches", "event:page", ["^/BLOG/A"], {"case_sensitive": False}], (2, 2)),
    (["is", "visit:source", ["Google"]], (1, 2)),
    (["is_not", "visit:source", ["Google"]], (3, 5)),
    (["is", "visit:browser", ["Firefox"]], (2, 3)),
    (["is", "visit:country", ["GB", "US"]], (2, 3)),
    (["is_not", "visit:city", ["London"]], (3, 5)),
    (["is", "visit:entry_page", ["/"]], (2, 3)),
    (["is", "visit:exit_page", ["/pricing"]], (2, 3)),
    (["is", "visit:utm_campaign", ["spring"]], (1, 1)),
    (["is", "event:props:plan", ["pro"]], (1, 0)),
    (["is", "event:goal", ["Visit pricing"]], (2, 2)),
    (["is", "event:name", ["Signup"]], (1, 0)),
    (["or", [["is", "visit:browser", ["Safari"]], ["is", "event:page", ["/pricing"]]]], (3, 5)),
    (["not", ["is", "event:page", ["/"]]], (4, 5)),
    (["and", [["contains", "event:page", ["blog"]], ["is", "visit:browser", ["Safari"]]]], (1, 2)),
]


@pytest.mark.parametrize(("filter_", "expected"), FILTERS, ids=lambda v: str(v)[:60])
def test_filters(
    client: Any, key: str, sites: dict[str, Site], filter_: list[Any], expected: tuple[int, int]
) -> None:
    answer = query(client, key, sites["utc"], metrics=["visitors", "pageviews"], filters=[filter_])
    assert table(answer) == [expected]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # visits with a pageview of /pricing: V1 (not a bounce) and V4 (a bounce)
        (["is", "event:page", ["/pricing"]], (2, 50)),
        # visits with no pageview of /pricing: V2, V3's two
        (["is_not", "event:page", ["/pricing"]], (3, 67)),
        (["is", "visit:entry_page", ["/"]], (2, 50)),
        (["is", "event:goal", ["Signup"]], (1, 0)),
    ],
)
def test_visit_metrics_with_filters(
    client: Any, key: str, sites: dict[str, Site], filter_: list[Any], expected: tuple[int, int]
) -> None:
    answer = query(client, key, sites["utc"], metrics=["visits", "bounce_rate"], filters=[filter_])
    assert table(answer) == [expected]


def test_comparison_with_the_previous_period(client: Any, key: str, sites: dict[str, Site]) -> None:
    answer = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "pageviews", "bounce_rate"],
        date_range=[D1.isoformat(), D1.isoformat()],
        include={"comparisons": {"mode": "previous_period"}},
    )
    [row] = answer["results"]
    assert row["metrics"] == [1, 2, 0]
    assert row["comparison"] == {"dimensions": [], "metrics": [4, 5, 75], "change": [-75, -60, -75]}
    assert answer["meta"]["comparison_date_range"] == [D.isoformat(), D.isoformat()]
    pages = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors"],
        dimensions=["event:page"],
        date_range=[D1.isoformat(), D1.isoformat()],
        include={"comparisons": {"mode": "custom", "date_range": [D.isoformat(), D.isoformat()]}},
    )
    assert [
        (r["dimensions"], r["metrics"], r["comparison"]["metrics"]) for r in pages["results"]
    ] == [
        (["/blog/a"], [1], [1]),
        (["/blog/b"], [1], [0]),
    ]
    days = query(
        client,
        key,
        sites["utc"],
        metrics=["pageviews"],
        dimensions=["time:day"],
        date_range=[D1.isoformat(), D1.isoformat()],
        include={"comparisons": {"mode": "previous_period"}},
    )
    [day] = days["results"]
    assert day["dimensions"] == [D1.isoformat()]
    assert day["comparison"] == {"dimensions": [D.isoformat()], "metrics": [5], "change": [-60]}


def test_pagination_and_order(client: Any, key: str, sites: dict[str, Site]) -> None:
    page = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors"],
        dimensions=["event:page"],
        pagination={"limit": 2, "offset": 1},
    )
    assert table(page) == [("/blog/a", 2), ("/pricing", 2)]
    ascending = query(
        client,
        key,
        sites["utc"],
        metrics=["pageviews"],
        dimensions=["event:page"],
        order_by=[["pageviews", "asc"], ["event:page", "desc"]],
    )
    assert table(ascending) == [("/blog/b", 1), ("/pricing", 2), ("/blog/a", 2), ("/", 2)]
    by_name = query(
        client,
        key,
        sites["utc"],
        metrics=["visits"],
        dimensions=["visit:exit_page"],
        order_by=[["visit:exit_page", "asc"]],
    )
    assert [row[0] for row in table(by_name)] == ["/", "/blog/a", "/blog/b", "/pricing"]


def test_the_answer_echoes_the_query(client: Any, key: str, sites: dict[str, Site]) -> None:
    answer = query(
        client, key, sites["la"], metrics=["visitors"], date_range=[D.isoformat(), D.isoformat()]
    )
    assert answer["query"]["date_range"] == [
        f"{D.isoformat()}T00:00:00-08:00",
        f"{D.isoformat()}T23:59:59-08:00",
    ]
    assert answer["query"]["site_id"] == "stats-la-trail.com"
    assert answer["meta"]["imports_included"] is False


def test_named_date_ranges(client: Any, key: str, sites: dict[str, Site]) -> None:
    for name in ["day", "7d", "30d", "month", "6mo", "12mo", "year", "all"]:
        answer = query(client, key, sites["utc"], metrics=["pageviews"], date_range=name)
        first, last = answer["query"]["date_range"]
        assert first <= last, name
    assert table(query(client, key, sites["utc"], metrics=["pageviews"], date_range="30d")) == [
        (7,)
    ]
    assert table(query(client, key, sites["utc"], metrics=["pageviews"], date_range="all")) == [
        (7,)
    ]
    assert table(query(client, key, sites["utc"], metrics=["pageviews"], date_range="7d")) == [(0,)]


def test_explicit_sampling_is_reported_and_scaled(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    answer = query(client, key, sites["utc"], metrics=["visitors", "bounce_rate"], sampling=0.5)
    assert answer["meta"]["sampled"] is True
    assert answer["meta"]["sample_fraction"] == 0.5
    [(visitors, bounce_rate)] = table(answer)
    assert visitors % 2 == 0  # counts of the sample, doubled
    assert 0 <= bounce_rate <= 100
    exact = query(client, key, sites["utc"], metrics=["visitors"], sampling="exact")
    assert exact["meta"]["sampled"] is False


def test_scroll_depth_and_time_on_page(client: Any, key: str, sites: dict[str, Site]) -> None:
    site = sites["utc"]
    total = query(client, key, site, metrics=["scroll_depth", "time_on_page", "pageviews"])
    assert table(total) == [(80, 13, 7)]  # (60 + 80 + 100) / 3; (10 + 25 + 4) / 3
    pages = query(
        client,
        key,
        site,
        metrics=["visitors", "scroll_depth", "time_on_page"],
        dimensions=["event:page"],
    )
    assert table(pages) == [
        ("/", 2, 80, 7),
        ("/blog/a", 2, 0, 0),
        ("/pricing", 2, 80, 25),
        ("/blog/b", 1, 0, 0),
    ]
    names = query(client, key, site, metrics=["events"], dimensions=["event:name"])
    assert table(names) == [("pageview", 7), ("Signup", 1)]  # engagement is not an event


def test_sampling_starts_above_the_row_threshold(
    client: Any, key: str, sites: dict[str, Site], settings: Any
) -> None:
    settings.TRAIL = dataclasses.replace(settings.TRAIL, report_sample_rows=1)
    # by exit page: a report the rollups do not answer (they would, exactly: no sample)
    answer = query(
        client,
        key,
        sites["utc"],
        metrics=["visitors", "pageviews", "bounce_rate"],
        dimensions=["visit:exit_page"],
    )
    # the primary index estimates more than one row: a fraction 1 / rows, at least 1 %
    assert answer["meta"]["sampled"] is True
    assert 0.01 <= answer["meta"]["sample_fraction"] < 1
    assert answer["meta"]["sampled_metrics"] == ["pageviews", "visitors"]


def test_scroll_depth_of_a_range_without_engagement_is_zero(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    # an average over no rows is 0 (reports/stats.py), not ClickHouse's nan cast to UInt8
    answer = query(
        client, key, sites["utc"], metrics=["scroll_depth", "time_on_page"], date_range="all"
    )
    empty = query(
        client,
        key,
        sites["utc"],
        metrics=["scroll_depth", "time_on_page", "visitors"],
        filters=[["is", "event:page", ["/no-such-page"]]],
    )
    assert table(answer)[0][0] >= 0
    assert table(empty) == [(0, 0, 0)]
