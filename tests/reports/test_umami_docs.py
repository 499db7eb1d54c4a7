"""Umami's read API as Umami's public documentation describes it (docs.umami.is, "API key",
"Website statistics": the `unit` parameter, the filter parameters), on visits seeded through
the real collector. Every expected figure is computed here from the raw events sent.

- Umami Cloud's clients send their key in `x-umami-api-key` (no Authorization header).
- `unit` is converted to the finest unit the range allows when the asked one is finer
  (minute up to 60 minutes, hour up to 30 days, day up to 6 months); `year` is a bucket.
- The current filter names (`utmSource`, …) and "all time" (`startAt=0`).
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
from tests.reports.conftest import FIREFOX, drop_seeded, seed_sites
from tests.reports.test_umami_api import EVENTS, Spec, at, ms, summary, to_hit

TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=10)
LANDING = Spec("198.51.100.99", FIREFOX, "desktop", at(D, 15, 0), "/landing?utm_source=news")
WORLD = [*EVENTS, LANDING]
FIRST = min(e.at for e in WORLD).date()
LAST = max(e.at for e in WORLD).date()


@pytest.fixture(scope="module")
def sites(
    django_db_setup: None, django_db_blocker: Any, clickhouse: Any
) -> Iterator[dict[str, Site]]:
    made = seed_sites(
        django_db_blocker,
        clickhouse,
        {"utc": ("umami-docs-trail.com", "UTC"), "other": ("umami-docs-other.com", "UTC")},
        lambda site: (
            [to_hit(site, e) for e in WORLD] if site.domain.startswith("umami-docs-t") else []
        ),
    )
    yield made
    drop_seeded(django_db_blocker, made)


@pytest.fixture
def site(sites: dict[str, Site], db: None) -> Site:
    return sites["utc"]


@pytest.fixture
def key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("stats:read",))[1]


def url(site: Site, part: str = "") -> str:
    return f"/api/websites/{site.public_id}{part}"


def span(first: dt.date, last: dt.date) -> dict[str, str]:
    """startAt at `first`'s midnight, endAt at the midnight after `last` (UTC)."""
    return {"startAt": ms(at(first, 0)), "endAt": ms(at(last + dt.timedelta(days=1), 0))}


def views_by(label: Any, events: list[Spec]) -> dict[str, int]:
    found: dict[str, int] = {}
    for e in events:
        if e.name == "pageview":
            found[label(e.at)] = found.get(label(e.at), 0) + 1
    return found


# --- x-umami-api-key --------------------------------------------------------------------


def test_the_umami_cloud_header_carries_a_key(sites: dict[str, Site], key: str) -> None:
    site = sites["utc"]
    client = Client(HTTP_X_UMAMI_API_KEY=key)
    listed = client.get("/api/websites")
    assert listed.status_code == 200, listed.content
    assert {w["id"] for w in listed.json()["data"]} == {str(s.public_id) for s in sites.values()}
    stats = client.get(url(site, "/stats"), span(FIRST, LAST))
    assert stats.status_code == 200
    expected = summary(WORLD)
    assert {k: stats.json()[k] for k in expected} == expected


@pytest.mark.parametrize("value", ["", "nonsense", "trail_abc_def", "Bearer x"])
def test_a_wrong_umami_cloud_key_is_401(site: Site, value: str) -> None:
    answer = Client(HTTP_X_UMAMI_API_KEY=value).get("/api/websites")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_the_umami_cloud_header_keeps_scopes_and_tenancy(sites: dict[str, Site], db: None) -> None:
    site, other = sites["utc"], sites["other"]
    _, unscoped = factories.api_key(site.organization, scopes=("events:write",))
    answer = Client(HTTP_X_UMAMI_API_KEY=unscoped).get("/api/websites")
    assert answer.status_code == 403
    assert answer.json()["error"]["status"] == 403
    stranger = factories.organization()
    _, foreign = factories.api_key(stranger, scopes=("stats:read",))
    client = Client(HTTP_X_UMAMI_API_KEY=foreign)
    assert client.get("/api/websites").json()["data"] == []
    for website in (site, other):
        answer = client.get(url(website, "/stats"), span(FIRST, LAST))
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not-found"


def test_an_authorization_header_wins_over_the_umami_cloud_header(site: Site, key: str) -> None:
    client = Client(HTTP_AUTHORIZATION="Bearer forged", HTTP_X_UMAMI_API_KEY=key)
    assert client.get("/api/websites").status_code == 401


# --- unit ---------------------------------------------------------------------------------


def test_minute_over_two_days_is_answered_by_the_hour(site: Site, key: str) -> None:
    first, last = D, D + dt.timedelta(days=1)
    body = bearer(key).get(url(site, "/pageviews"), {**span(first, last), "unit": "minute"})
    assert body.status_code == 200, body.content
    events = [e for e in WORLD if first <= e.at.date() <= last]
    expected = views_by(lambda t: t.strftime("%Y-%m-%d %H:00:00"), events)
    assert {p["x"]: p["y"] for p in body.json()["pageviews"]} == expected


def test_hour_over_more_than_30_days_is_answered_by_the_day(site: Site, key: str) -> None:
    first, last = LAST - dt.timedelta(days=40), LAST
    body = bearer(key).get(url(site, "/pageviews"), {**span(first, last), "unit": "hour"})
    assert body.status_code == 200, body.content
    expected = views_by(lambda t: t.strftime("%Y-%m-%d 00:00:00"), WORLD)
    assert {p["x"]: p["y"] for p in body.json()["pageviews"]} == expected


def test_day_over_more_than_6_months_is_answered_by_the_month(site: Site, key: str) -> None:
    first, last = LAST - dt.timedelta(days=300), LAST
    body = bearer(key).get(url(site, "/pageviews"), {**span(first, last), "unit": "day"})
    assert body.status_code == 200, body.content
    expected = views_by(lambda t: t.strftime("%Y-%m-01 00:00:00"), WORLD)
    assert {p["x"]: p["y"] for p in body.json()["pageviews"]} == expected


def test_year_buckets_count_each_years_visitors(site: Site, key: str) -> None:
    first, last = dt.date(LAST.year - 2, 3, 1), LAST
    body = bearer(key).get(url(site, "/pageviews"), {**span(first, last), "unit": "year"})
    assert body.status_code == 200, body.content
    years = sorted({e.at.year for e in WORLD})
    assert body.json() == {
        "pageviews": [
            {
                "x": f"{y}-01-01 00:00:00",
                "y": summary([e for e in WORLD if e.at.year == y])["pageviews"],
            }
            for y in years
        ],
        "sessions": [
            {
                "x": f"{y}-01-01 00:00:00",
                "y": summary([e for e in WORLD if e.at.year == y])["visitors"],
            }
            for y in years
        ],
    }


def test_a_coarser_unit_is_kept(site: Site, key: str) -> None:
    body = bearer(key).get(url(site, "/pageviews"), {**span(FIRST, LAST), "unit": "month"})
    expected = views_by(lambda t: t.strftime("%Y-%m-01 00:00:00"), WORLD)
    assert {p["x"]: p["y"] for p in body.json()["pageviews"]} == expected


@pytest.mark.parametrize("unit", ["week", "HOUR", "days", "x" * 3000, "\x00"])
def test_an_unknown_unit_is_a_400_naming_it(site: Site, key: str, unit: str) -> None:
    answer = bearer(key).get(url(site, "/pageviews"), {**span(FIRST, LAST), "unit": unit})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("unit: ")


# --- ranges and filters -------------------------------------------------------------------


def test_all_time_from_the_epoch(site: Site, key: str) -> None:
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    answer = bearer(key).get(url(site, "/stats"), {"startAt": "0", "endAt": ms(now)})
    assert answer.status_code == 200, answer.content
    expected = summary(WORLD)
    assert {k: answer.json()[k] for k in expected} == expected


def test_a_range_ending_before_2000_is_a_400(site: Site, key: str) -> None:
    answer = bearer(key).get(url(site, "/stats"), {"startAt": "0", "endAt": "86400000"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("endAt: ")


@pytest.mark.parametrize("name", ["utmSource", "utm_source"])
def test_utm_filters_by_either_name(site: Site, key: str, name: str) -> None:
    answer = bearer(key).get(url(site, "/stats"), {**span(FIRST, LAST), name: "news"})
    assert answer.status_code == 200, answer.content
    expected = summary([LANDING])
    assert {k: answer.json()[k] for k in expected} == expected


def test_a_range_ending_after_2199_is_a_400(site: Site, key: str) -> None:
    answer = bearer(key).get(
        url(site, "/stats"), {"startAt": ms(at(D, 0)), "endAt": "253402300799999"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("endAt: ")


@pytest.mark.parametrize(
    ("type_", "search"), [("path", "PRIC"), ("path", "blog/"), ("event", "sign")]
)
def test_metrics_search_keeps_the_values_containing_it(
    site: Site, key: str, type_: str, search: str
) -> None:
    answer = bearer(key).get(
        url(site, "/metrics"), {**span(FIRST, LAST), "type": type_, "search": search}
    )
    assert answer.status_code == 200, answer.content
    counted: dict[str, int] = {}
    for e in WORLD:
        value = e.path.split("?")[0] if type_ == "path" else e.name
        wanted = (e.name == "pageview") if type_ == "path" else (e.name != "pageview")
        if wanted and search.lower() in value.lower():
            counted[value] = counted.get(value, 0) + 1
    assert {row["x"]: row["y"] for row in answer.json()} == counted
    assert [row["y"] for row in answer.json()] == sorted(counted.values(), reverse=True)


def test_hours_and_days_are_those_of_the_asked_time_zone(site: Site, key: str) -> None:
    zone = ZoneInfo("America/New_York")
    local = [(e, e.at.astimezone(zone)) for e in WORLD]
    first = min(t.date() for _, t in local)
    last = first + dt.timedelta(days=1)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    params = {"startAt": ms(start), "endAt": ms(end), "timezone": "America/New_York"}
    kept = [(e, t) for e, t in local if first <= t.date() <= last and e.name == "pageview"]
    for unit, label in (("hour", "%Y-%m-%d %H:00:00"), ("day", "%Y-%m-%d 00:00:00")):
        answer = bearer(key).get(url(site, "/pageviews"), {**params, "unit": unit})
        assert answer.status_code == 200, answer.content
        expected: dict[str, int] = {}
        for _, t in kept:
            expected[t.strftime(label)] = expected.get(t.strftime(label), 0) + 1
        assert {p["x"]: p["y"] for p in answer.json()["pageviews"]} == expected


@pytest.mark.django_db
def test_the_heartbeat_answers_without_a_token() -> None:
    """Umami's liveness check (the umami-analytics client's `heartbeat()`)."""
    answer = Client().get("/api/heartbeat")
    assert answer.status_code == 200
    assert answer.json() == {"ok": True}
