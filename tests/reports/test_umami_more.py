"""Umami's read endpoints added after the first module (reports/umami/, docs/umami-api.md):
`/daterange`, `/metrics/expanded`, `/events/series` and `/sessions/stats`, on events seeded
through the real collector into the real ClickHouse. Every expected figure is computed here
from `TRAFFIC` with Trail's documented meanings (docs/reports.md): a visitor is one address
and browser (all sent today), a visit ends after 30 minutes without an event, a bounce is a
visit with one pageview and nothing else, a visit lasts from its first to its last event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from sites.models import Site
from tests import factories
from tests.api_client import bearer
from tests.reports import test_umami_clients as clients
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, SAFARI_MAC, hit
from tests.reports.test_stats_api import places

pytestmark = pytest.mark.django_db
TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=10)
D1 = D + dt.timedelta(days=1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


# (address, browser, when, path, event name, referrer); the addresses' countries are those
# of `places`: 81.2.69.x GB, 91.198.174.x DE, 81.2.70.x US, 203.0.113.x none.
A = ("81.2.69.10", FIREFOX)
B = ("91.198.174.20", CHROME_ANDROID)
C = ("203.0.113.30", SAFARI_MAC)
E = ("81.2.70.40", FIREFOX)
TRAFFIC = [
    (*A, at(D, 10, 0), "/", "pageview", "https://www.google.com/"),
    (*A, at(D, 10, 2), "/pricing", "pageview", ""),
    (*A, at(D, 10, 5), "/pricing", "Signup", ""),
    (*B, at(D, 11, 0), "/blog", "pageview", "https://news.ycombinator.com/item?id=1"),
    (*B, at(D, 11, 1), "/blog", "Download", ""),
    (*C, at(D, 12, 0), "/", "pageview", ""),
    (*C, at(D1, 9, 0), "/pricing", "pageview", ""),
    (*C, at(D1, 9, 4), "/pricing", "Signup", ""),
    (*E, at(D1, 13, 30), "/", "pageview", "https://news.ycombinator.com/"),
]
COUNTRY = {A[0]: "GB", B[0]: "DE", E[0]: "US"}


def ms(moment: dt.datetime) -> str:
    return str(int(moment.timestamp() * 1000))


RANGE = {"startAt": ms(at(D, 0)), "endAt": ms(at(D1 + dt.timedelta(days=1), 0))}


def visits(events: list[tuple[Any, ...]]) -> list[list[tuple[Any, ...]]]:
    """Each visitor's events, cut by 30 minutes without one."""
    found: list[list[tuple[Any, ...]]] = []
    mine: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for e in sorted(events, key=lambda e: e[2]):
        mine.setdefault((e[0], e[1]), []).append(e)
    for theirs in mine.values():
        current = [theirs[0]]
        for e in theirs[1:]:
            if e[2] - current[-1][2] > dt.timedelta(minutes=30):
                found.append(current)
                current = []
            current.append(e)
        found.append(current)
    return found


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path) -> Site:
    """The seeded site, and a neighbour with the same traffic that no figure may count."""
    geoip = places(tmp_path / "city.mmdb")
    trail = dataclasses.replace(
        settings.TRAIL, ingest=dataclasses.replace(settings.TRAIL.ingest, geoip_database=geoip)
    )
    mine = make_site("umami-more.example.com")
    neighbour = make_site("umami-more-neighbour.example.com")
    with override_settings(TRAIL=trail):
        for target in (mine, neighbour):
            seed(
                target,
                [
                    hit(target, when, path, name=name, ip=ip, user_agent=ua, referrer=referrer)
                    for ip, ua, when, path, name, referrer in TRAFFIC
                ],
            )
    return mine


@pytest.fixture
def key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("stats:read",))[1]


def url(site: Site, part: str) -> str:
    return f"/api/websites/{site.public_id}{part}"


def get(key: str, where: str, /, **params: str) -> Any:
    return bearer(key).get(where, params)


# --- /daterange -------------------------------------------------------------------------


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_daterange_is_the_first_and_last_event(site: Site, key: str) -> None:
    answer = get(key, url(site, "/daterange"))
    assert answer.status_code == 200, answer.content
    first = iso(min(e[2] for e in TRAFFIC))
    last = iso(max(e[2] for e in TRAFFIC))
    assert answer.json() == {
        "mindate": first,
        "maxdate": last,
        "startDate": first,
        "endDate": last,
    }


def test_daterange_of_a_site_without_events_is_null(make_site: Callable[..., Site]) -> None:
    empty = make_site("umami-more-empty.example.com")
    key = factories.api_key(empty.organization, scopes=("stats:read",))[1]
    answer = get(key, url(empty, "/daterange"))
    assert answer.status_code == 200
    assert answer.json() == {"mindate": None, "maxdate": None, "startDate": None, "endDate": None}


# --- /metrics/expanded ------------------------------------------------------------------


def expanded_by_path() -> dict[str, dict[str, int]]:
    """Per page: its pageviews, and the visits with a pageview of it (their visitors,
    bounces and total seconds)."""
    every = visits(TRAFFIC)
    rows: dict[str, dict[str, int]] = {}
    for path in {e[3] for e in TRAFFIC if e[4] == "pageview"}:
        seen = [v for v in every if any(e[3] == path and e[4] == "pageview" for e in v)]
        rows[path] = {
            "pageviews": sum(e[3] == path and e[4] == "pageview" for e in TRAFFIC),
            "visitors": len({(v[0][0], v[0][1]) for v in seen}),
            "visits": len(seen),
            "bounces": sum(len(v) == 1 and v[0][4] == "pageview" for v in seen),
            "totaltime": int(sum((v[-1][2] - v[0][2]).total_seconds() for v in seen)),
        }
    return rows


def test_metrics_expanded_by_path(site: Site, key: str) -> None:
    answer = get(key, url(site, "/metrics/expanded"), type="path", **RANGE)
    assert answer.status_code == 200, answer.content
    rows = answer.json()
    assert {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in rows} == (
        expanded_by_path()
    )
    order = [(r["visitors"], r["visits"]) for r in rows]
    assert order == sorted(order, reverse=True)  # Umami's order: visitors, then visits
    assert all(
        list(r) == ["name", "pageviews", "visitors", "visits", "bounces", "totaltime"] for r in rows
    )


def test_metrics_expanded_by_browser_with_limit_and_filter(site: Site, key: str) -> None:
    answer = get(key, url(site, "/metrics/expanded"), type="browser", **RANGE)
    by_browser = {r["name"]: r for r in answer.json()}
    firefox = [v for v in visits(TRAFFIC) if v[0][1] == FIREFOX]
    assert by_browser["Firefox"]["visitors"] == 2  # A and E
    assert by_browser["Firefox"]["visits"] == len(firefox)
    assert by_browser["Firefox"]["pageviews"] == sum(
        e[1] == FIREFOX and e[4] == "pageview" for e in TRAFFIC
    )
    assert by_browser["Firefox"]["bounces"] == sum(len(v) == 1 for v in firefox)
    one = get(key, url(site, "/metrics/expanded"), type="browser", limit="1", **RANGE).json()
    assert len(one) == 1 and one[0]["name"] == answer.json()[0]["name"]
    pricing = get(key, url(site, "/metrics/expanded"), type="path", path="/pricing", **RANGE)
    assert [r["name"] for r in pricing.json()] == ["/pricing"]


def test_metrics_expanded_by_event_counts_custom_events(site: Site, key: str) -> None:
    rows = get(key, url(site, "/metrics/expanded"), type="event", **RANGE).json()
    custom = [e for e in TRAFFIC if e[4] != "pageview"]
    assert {r["name"]: r["pageviews"] for r in rows} == {
        name: sum(e[4] == name for e in custom) for name in {e[4] for e in custom}
    }
    assert {r["name"]: r["visitors"] for r in rows} == {"Signup": 2, "Download": 1}


# --- /events/series ---------------------------------------------------------------------


def series(unit: str, zone: dt.tzinfo = dt.UTC) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str], int] = {}
    for e in TRAFFIC:
        if e[4] == "pageview":
            continue
        local = e[2].astimezone(zone)
        if unit == "hour":
            bucket = local.strftime("%Y-%m-%d %H:00:00")
        else:
            bucket = local.strftime("%Y-%m-%d 00:00:00")
        counts[(bucket, e[4])] = counts.get((bucket, e[4]), 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (item[0][0], -item[1], item[0][1]))
    return [{"x": name, "t": bucket, "y": y} for (bucket, name), y in ordered]


def test_events_series_by_day_and_hour(site: Site, key: str) -> None:
    by_day = get(key, url(site, "/events/series"), unit="day", timezone="UTC", **RANGE)
    assert by_day.status_code == 200, by_day.content
    assert by_day.json() == series("day")
    by_hour = get(key, url(site, "/events/series"), unit="hour", timezone="UTC", **RANGE)
    assert by_hour.json() == series("hour")


def test_events_series_follows_the_timezone_and_filters(site: Site, key: str) -> None:
    from zoneinfo import ZoneInfo

    tokyo = get(key, url(site, "/events/series"), unit="hour", timezone="Asia/Tokyo", **RANGE)
    assert tokyo.json() == series("hour", ZoneInfo("Asia/Tokyo"))
    signups = get(key, url(site, "/events/series"), unit="day", event="Signup", **RANGE).json()
    assert signups == [r for r in series("day") if r["x"] == "Signup"]


# --- /sessions/stats --------------------------------------------------------------------


def test_session_stats(site: Site, key: str) -> None:
    answer = get(key, url(site, "/sessions/stats"), **RANGE)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {
        "pageviews": {"value": sum(e[4] == "pageview" for e in TRAFFIC)},
        "visitors": {"value": len({(e[0], e[1]) for e in TRAFFIC})},
        "visits": {"value": len(visits(TRAFFIC))},
        "countries": {"value": len(set(COUNTRY.values()))},
        "events": {"value": sum(e[4] != "pageview" for e in TRAFFIC)},
    }
    day_one = {"startAt": RANGE["startAt"], "endAt": ms(at(D1, 0))}
    only = get(key, url(site, "/sessions/stats"), country="GB", **day_one).json()
    mine = [e for e in TRAFFIC if e[0] == A[0] and e[2].date() == D]
    assert only["pageviews"]["value"] == sum(e[4] == "pageview" for e in mine)
    assert only["events"]["value"] == sum(e[4] != "pageview" for e in mine)
    assert only["countries"]["value"] == 1


def test_engagement_events_are_not_custom_events(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    """The tracker's engagement events (scroll depth, engaged time) are no custom event in
    any of the new answers."""
    target = make_site("umami-more-engaged.example.com")
    who = {"ip": A[0], "user_agent": A[1]}
    seed(
        target,
        [
            hit(target, at(D, 10, 0), "/", **who),
            hit(target, at(D, 10, 1), "/", name="engagement", sd=60, e=10_000, **who),
            hit(target, at(D, 10, 2), "/", name="Signup", **who),
        ],
    )
    key = factories.api_key(target.organization, scopes=("stats:read",))[1]
    rows = get(key, url(target, "/metrics/expanded"), type="event", **RANGE).json()
    assert [(r["name"], r["pageviews"]) for r in rows] == [("Signup", 1)]
    top = get(key, url(target, "/metrics"), type="event", **RANGE).json()
    assert top == [{"x": "Signup", "y": 1}]
    found = get(key, url(target, "/events/series"), unit="day", timezone="UTC", **RANGE).json()
    assert found == [{"x": "Signup", "t": f"{D.isoformat()} 00:00:00", "y": 1}]
    summary = get(key, url(target, "/sessions/stats"), **RANGE).json()
    assert summary["events"] == {"value": 1} and summary["pageviews"] == {"value": 1}


# --- errors, authentication, tenancy ----------------------------------------------------

# Trail's WSGI server on a loopback port (the fixture `trail_url` of test_umami_clients.py)
trail_url = clients.trail_url

PARTS = ("/daterange", "/metrics/expanded", "/events/series", "/sessions/stats")


@pytest.mark.parametrize(
    ("part", "params", "field"),
    [
        ("/metrics/expanded", {**RANGE}, "type"),
        ("/metrics/expanded", {**RANGE, "type": "nope"}, "type"),
        ("/metrics/expanded", {**RANGE, "type": "path", "limit": "0"}, "limit"),
        ("/metrics/expanded", {**RANGE, "type": "path", "offset": "-1"}, "offset"),
        ("/metrics/expanded", {**RANGE, "type": "path", "limit": "101"}, "limit"),
        ("/metrics/expanded", {"endAt": RANGE["endAt"], "type": "path"}, "startAt"),
        ("/metrics/expanded", {**RANGE, "type": "path", "title": "x"}, "title"),
        ("/events/series", {**RANGE, "unit": "fortnight"}, "unit"),
        ("/events/series", {**RANGE, "timezone": "Mars/Base"}, "timezone"),
        ("/events/series", {"startAt": RANGE["endAt"], "endAt": RANGE["startAt"]}, "endAt"),
        ("/sessions/stats", {"startAt": "yesterday", "endAt": RANGE["endAt"]}, "startAt"),
        ("/sessions/stats", {**RANGE, "language": "en"}, "language"),
        ("/sessions/stats", {**RANGE, "path": "\x00"}, "path"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    site: Site, key: str, part: str, params: dict[str, str], field: str
) -> None:
    answer = get(key, url(site, part), **params)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["message"].startswith(f"{field}:"), error
    assert error["code"] == "bad-request" and error["status"] == 400


def test_no_token_is_401(client: Any, make_site: Callable[..., Site]) -> None:
    target = make_site("umami-more-401.example.com")
    for part in PARTS:
        answer = client.get(url(target, part), {**RANGE, "type": "path"})
        assert answer.status_code == 401, part
        assert answer.json()["error"]["code"] == "unauthorized"


def test_another_tenants_website_is_404_like_none(make_site: Callable[..., Site]) -> None:
    mine = make_site("umami-more-mine.example.com")
    other = make_site("umami-more-other-tenant.example.com")
    key = factories.api_key(mine.organization, scopes=("stats:read",))[1]
    for part in PARTS:
        theirs = get(key, url(other, part), type="path", **RANGE)
        made_up = get(key, f"/api/websites/00000000-0000-4000-8000-000000000000{part}")
        assert theirs.status_code == made_up.status_code == 404, part
        assert theirs.json() == made_up.json()
        assert "other-tenant" not in theirs.content.decode()
        assert get(key, url(mine, part), type="path", **RANGE).status_code == 200, part


# --- Umami's own client -----------------------------------------------------------------

CLIENT = r"""
import { UmamiClient, isUmamiApiError } from '@umami/api-client';
const client = new UmamiClient({ baseUrl: process.env.TRAIL + '/api', token: process.env.KEY });
const websiteId = process.env.WEBSITE;
const startAt = Number(process.env.START_AT), endAt = Number(process.env.END_AT);
const out = {};
const tryCall = async (name, call) => {
  try { out[name] = await call(); }
  catch (error) { out[name] = isUmamiApiError(error) ? { error: error.status } : { thrown: String(error) }; }
};
await tryCall('daterange', () => client.getWebsiteDateRange({ websiteId }));
await tryCall('expanded', () => client.getWebsiteExpandedMetrics({ websiteId, startAt, endAt, type: 'path' }));
await tryCall('series', () => client.getWebsiteEventSeries({ websiteId, startAt, endAt, unit: 'day', timezone: 'UTC' }));
await tryCall('sessions', () => client.getWebsiteSessionStats({ websiteId, startAt, endAt }));
await tryCall('badType', () => client.getWebsiteExpandedMetrics({ websiteId, startAt, endAt, type: 'nope' }));
console.log(JSON.stringify(out));
"""


@pytest.mark.django_db(transaction=True)  # the server's threads read what the test wrote
@pytest.mark.skipif(
    clients.NODE is None or not (clients.MODULES / "api-client").is_dir(),
    reason="needs Node and `npm ci` (Umami's client is a devDependency)",
)
def test_umamis_api_client_reads_the_new_endpoints(
    site: Site, key: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    out = clients.node(
        tmp_path,
        CLIENT,
        TRAIL=request.getfixturevalue("trail_url"),
        WEBSITE=str(site.public_id),
        KEY=key,
        START_AT=RANGE["startAt"],
        END_AT=RANGE["endAt"],
    )
    assert out["daterange"]["startDate"] == iso(min(e[2] for e in TRAFFIC)), out
    assert out["daterange"]["maxdate"] == iso(max(e[2] for e in TRAFFIC))
    expected = expanded_by_path()
    assert {r["name"]: r["visits"] for r in out["expanded"]} == {
        path: row["visits"] for path, row in expected.items()
    }
    assert out["series"] == series("day")
    assert out["sessions"]["events"] == {"value": sum(e[4] != "pageview" for e in TRAFFIC)}
    assert out["badType"] == {"error": 400}
