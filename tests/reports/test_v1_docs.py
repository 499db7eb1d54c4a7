"""Plausible's Stats API v1 as Plausible's public reference describes it (plausible.io/docs,
"Stats API v1 reference (legacy)"), on a site in New York's time zone: "all time
calculations are done in the time zone that the site is configured in". Every expected
number is computed here from the raw events this module sends, grouped by their local day
and hour.

The world (times in UTC; New York is 4 or 5 hours behind):
- V1: D 03:00 `/a`, 03:10 `/b` (the evening before D, locally: one visit, no bounce).
- V2: D 15:00 `/a`, 15:01 Signup (a goal).
- V3: D+1 04:30 `/c` (late on D, locally; a bounce).
- V4: D+1 16:00 `/a` (a bounce).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from sites.models import Site
from tests import factories
from tests.api_client import bearer
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, SAFARI_MAC, drop_seeded, hit, seed_sites

ZONE = ZoneInfo("America/New_York")
TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=12)
D1 = D + dt.timedelta(days=1)
V1 = {"ip": "81.2.69.10", "user_agent": FIREFOX}
V2 = {"ip": "91.198.174.20", "user_agent": CHROME_ANDROID}
V3 = {"ip": "203.0.113.30", "user_agent": SAFARI_MAC}
V4 = {"ip": "81.2.70.40", "user_agent": FIREFOX}


def utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


RAW: list[tuple[dt.datetime, str, str, dict[str, str]]] = [
    (utc(D, 3, 0), "/a", "pageview", V1),
    (utc(D, 3, 10), "/b", "pageview", V1),
    (utc(D, 15, 0), "/a", "pageview", V2),
    (utc(D, 15, 1), "/a", "Signup", V2),
    (utc(D1, 4, 30), "/c", "pageview", V3),
    (utc(D1, 16, 0), "/a", "pageview", V4),
]


class Event:
    def __init__(self, at: dt.datetime, page: str, name: str, who: dict[str, str]) -> None:
        self.local = at.astimezone(ZONE)
        self.page, self.name, self.visitor = page, name, (who["ip"], who["user_agent"])


EVENTS = [Event(*raw) for raw in RAW]


def local_days(events: list[Event], first: dt.date, last: dt.date) -> list[Event]:
    return [e for e in events if first <= e.local.date() <= last]


def counts(events: list[Event]) -> dict[str, Any]:
    """visitors, pageviews, and the bounce rate of the visits (each visitor's events here
    are one visit: they are minutes apart)."""
    by_visitor: dict[Any, list[Event]] = {}
    for e in events:
        by_visitor.setdefault(e.visitor, []).append(e)
    bounces = sum(len(v) == 1 and v[0].name == "pageview" for v in by_visitor.values())
    return {
        "visitors": len(by_visitor),
        "pageviews": sum(e.name == "pageview" for e in events),
        "bounce_rate": round(100 * bounces / len(by_visitor)) if by_visitor else 0,
    }


@pytest.fixture(scope="module")
def sites(
    django_db_setup: None, django_db_blocker: Any, clickhouse: Any
) -> Iterator[dict[str, Site]]:
    made = seed_sites(
        django_db_blocker,
        clickhouse,
        {"ny": ("v1-docs-trail.com", "America/New_York")},
        lambda site: [hit(site, at, page, name=name, **who) for at, page, name, who in RAW],
        goals=(("event", "Signup", "Signup"),),
    )
    yield made
    drop_seeded(django_db_blocker, made)


@pytest.fixture
def site(sites: dict[str, Site], db: None) -> Site:
    return sites["ny"]


@pytest.fixture
def client(site: Site) -> Client:
    return bearer(factories.api_key(site.organization, scopes=("stats:read",))[1])


def v1(client: Client, site: Site, endpoint: str, **params: str) -> Any:
    answer = client.get(f"/api/v1/stats/{endpoint}", {"site_id": site.domain, **params})
    assert answer.status_code == 200, answer.content
    return answer.json()


# --- time zone ------------------------------------------------------------------------------


def test_a_day_is_the_sites_local_day(client: Client, site: Site) -> None:
    local_d = utc(D, 15).astimezone(ZONE).date()
    answer = v1(
        client,
        site,
        "aggregate",
        period="day",
        date=local_d.isoformat(),
        metrics="visitors,pageviews,bounce_rate",
    )
    expected = counts(local_days(EVENTS, local_d, local_d))
    assert answer == {"results": {m: {"value": v} for m, v in expected.items()}}


def test_hours_of_a_day_are_local_hours(client: Client, site: Site) -> None:
    local_d = utc(D, 15).astimezone(ZONE).date()
    answer = v1(
        client, site, "timeseries", period="day", date=local_d.isoformat(), metrics="pageviews"
    )
    kept = local_days(EVENTS, local_d, local_d)
    expected = [
        {
            "date": f"{local_d.isoformat()} {hour:02d}:00:00",
            "pageviews": sum(e.name == "pageview" and e.local.hour == hour for e in kept),
        }
        for hour in range(24)
    ]
    assert answer == {"results": expected}


def test_days_of_7d_are_local_days(client: Client, site: Site) -> None:
    last = utc(D1, 16).astimezone(ZONE).date()
    answer = v1(
        client,
        site,
        "timeseries",
        period="7d",
        date=last.isoformat(),
        interval="day",
        metrics="visitors,pageviews",
    )
    days = [last - dt.timedelta(days=6 - i) for i in range(7)]
    expected = []
    for day in days:
        figures = counts(local_days(EVENTS, day, day))
        expected.append(
            {
                "date": day.isoformat(),
                "visitors": figures["visitors"],
                "pageviews": figures["pageviews"],
            }
        )
    assert answer == {"results": expected}


# --- compare --------------------------------------------------------------------------------


def test_compared_with_an_empty_period(client: Client, site: Site) -> None:
    """Plausible: a count from 0 changes by 100 (%), 0 from 0 by 0."""
    first_day = min(e.local.date() for e in EVENTS)
    answer = v1(
        client,
        site,
        "aggregate",
        period="day",
        date=first_day.isoformat(),
        metrics="visitors,pageviews",
        compare="previous_period",
    )
    now = counts(local_days(EVENTS, first_day, first_day))
    assert answer["results"] == {
        "visitors": {"value": now["visitors"], "comparison_value": 0, "change": 100},
        "pageviews": {"value": now["pageviews"], "comparison_value": 0, "change": 100},
    }
    empty = first_day - dt.timedelta(days=3)
    answer = v1(
        client,
        site,
        "aggregate",
        period="day",
        date=empty.isoformat(),
        metrics="visitors",
        compare="previous_period",
    )
    assert answer["results"] == {"visitors": {"value": 0, "comparison_value": 0, "change": 0}}


# --- conversion rate over time --------------------------------------------------------------


def test_an_empty_bucket_has_no_visit_duration(client: Client, site: Site) -> None:
    """Plausible fills a bucket without visits with zeros, but a visit duration of null."""
    last = max(e.local.date() for e in EVENTS)
    empty = last + dt.timedelta(days=1)
    answer = v1(
        client,
        site,
        "timeseries",
        period="custom",
        date=f"{last.isoformat()},{empty.isoformat()}",
        metrics="visitors,pageviews,bounce_rate,visit_duration,views_per_visit",
    )
    full, nothing = answer["results"]
    assert full["visitors"] > 0 and isinstance(full["visit_duration"], int)
    assert nothing == {
        "date": empty.isoformat(),
        "visitors": 0,
        "pageviews": 0,
        "bounce_rate": 0,
        "visit_duration": None,
        "views_per_visit": 0.0,
    }


def test_timeseries_conversion_rate_is_per_bucket(client: Client, site: Site) -> None:
    first = min(e.local.date() for e in EVENTS)
    last = max(e.local.date() for e in EVENTS)
    answer = v1(
        client,
        site,
        "timeseries",
        period="custom",
        date=f"{first.isoformat()},{last.isoformat()}",
        filters="event:goal==Signup",
        metrics="visitors,conversion_rate",
    )
    expected = []
    day = first
    while day <= last:
        that_day = local_days(EVENTS, day, day)
        everyone = {e.visitor for e in that_day}
        converted = {e.visitor for e in that_day if e.name == "Signup"}
        rate = round(100 * len(converted) / len(everyone), 2) if everyone else 0.0
        expected.append(
            {"date": day.isoformat(), "visitors": len(converted), "conversion_rate": rate}
        )
        day += dt.timedelta(days=1)
    assert answer == {"results": expected}


# --- breakdown pages --------------------------------------------------------------------------


def test_breakdown_pages_concatenate_to_the_whole(client: Client, site: Site) -> None:
    span = {
        "period": "custom",
        "date": f"{(D - dt.timedelta(days=1)).isoformat()},{D1.isoformat()}",
    }
    whole = v1(client, site, "breakdown", property="event:page", **span)["results"]
    pages = {e.page for e in EVENTS}
    visitors = {p: len({e.visitor for e in EVENTS if e.page == p}) for p in pages}
    expected = [
        {"page": p, "visitors": visitors[p]} for p in sorted(pages, key=lambda p: (-visitors[p], p))
    ]
    assert whole == expected
    paged = []
    for number in range(1, len(expected) + 2):
        paged += v1(
            client, site, "breakdown", property="event:page", limit="1", page=str(number), **span
        )["results"]
    assert paged == expected


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [
        ("aggregate", {"period": "custom"}),
        ("aggregate", {"period": "custom", "date": "2026-01-01"}),
        ("aggregate", {"period": "custom", "date": "2026-01-05,2026-01-01"}),
        ("aggregate", {"date": "yesterday"}),
        ("aggregate", {"period": "all"}),
        ("aggregate", {"metrics": "visitors,visitors"}),
        ("aggregate", {"metrics": "conversion_rate"}),
        ("aggregate", {"filters": "event:goal==Nope"}),
        ("aggregate", {"compare": "year_over_year"}),
        ("timeseries", {"interval": "minute"}),
        ("breakdown", {}),
        ("breakdown", {"property": "visit:nope"}),
        ("breakdown", {"property": "event:page", "limit": "0"}),
        ("breakdown", {"property": "event:page", "limit": "1001"}),
        ("breakdown", {"property": "event:page", "page": "0"}),
        ("breakdown", {"property": "event:page", "limit": "ten"}),
    ],
)
def test_a_bad_parameter_is_a_400_with_an_error_string(
    client: Client, site: Site, endpoint: str, params: dict[str, str]
) -> None:
    answer = client.get(f"/api/v1/stats/{endpoint}", {"site_id": site.domain, **params})
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"].startswith("application/json")
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize("endpoint", ["realtime/visitors", "aggregate", "timeseries", "breakdown"])
def test_a_missing_site_id_is_a_400(client: Client, endpoint: str) -> None:
    answer = client.get(f"/api/v1/stats/{endpoint}", {"property": "event:page"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("site_id")


@pytest.mark.parametrize("endpoint", ["realtime/visitors", "aggregate", "timeseries", "breakdown"])
def test_no_or_a_wrong_key_is_a_401_with_an_error_string(site: Site, endpoint: str) -> None:
    params = {"site_id": site.domain, "property": "event:page"}
    for client in (Client(), bearer("trail_nope_nope")):
        answer = client.get(f"/api/v1/stats/{endpoint}", params)
        assert answer.status_code == 401
        assert isinstance(answer.json()["error"], str)


def test_another_tenants_site_is_a_404_like_none(site: Site) -> None:
    stranger = bearer(factories.api_key(factories.organization(), scopes=("stats:read",))[1])
    theirs = stranger.get("/api/v1/stats/aggregate", {"site_id": site.domain})
    nobody = stranger.get("/api/v1/stats/aggregate", {"site_id": "no-such-site.example"})
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.content == nobody.content
    assert isinstance(theirs.json()["error"], str)


def test_a_month_is_labelled_by_its_first_day(client: Client, site: Site) -> None:
    """Plausible labels month buckets by the month's 1st, a partial first month included."""
    first = min(e.local.date() for e in EVENTS)
    last = max(e.local.date() for e in EVENTS)
    answer = v1(
        client,
        site,
        "timeseries",
        period="custom",
        date=f"{first.isoformat()},{last.isoformat()}",
        interval="month",
        metrics="pageviews",
    )
    months = sorted({e.local.date().replace(day=1) for e in EVENTS})
    assert answer == {
        "results": [
            {
                "date": month.isoformat(),
                "pageviews": sum(
                    e.name == "pageview" and e.local.date().replace(day=1) == month for e in EVENTS
                ),
            }
            for month in months
        ]
    }


def test_a_bounce_rate_from_a_period_without_visits_has_no_change(
    client: Client, site: Site
) -> None:
    """Plausible answers `change: null` for a bounce rate compared with no visits."""
    first_day = min(e.local.date() for e in EVENTS)
    answer = v1(
        client,
        site,
        "aggregate",
        period="day",
        date=first_day.isoformat(),
        metrics="bounce_rate",
        compare="previous_period",
    )
    now = counts(local_days(EVENTS, first_day, first_day))
    assert answer["results"] == {
        "bounce_rate": {"value": now["bounce_rate"], "comparison_value": 0, "change": None}
    }
