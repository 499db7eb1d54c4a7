"""Plausible's Stats API v1 (`GET /api/v1/stats/…`) on events seeded through the real
collector. Every expected number is computed here from the events this module writes
(`WORLD`), by a small model of Plausible's meanings (a visitor is an IP and user agent
under one daily salt, a visit ends after 30 minutes without events), not read from Trail's v2.

The world, a UTC site, day D = 10 days ago:
- V1 (Firefox, GB): D 10:00 `/` from Google, 10:02 `/pricing`, 10:05 Signup {plan: pro}.
- V2 (Chrome Android, DE): D 11:00 `/blog/a` (utm_source newsletter), 11:03 `/blog/b`,
  11:04 Download {method: HTTP}.
- V3 (Safari Mac, no country): D 12:00 `/` (a bounce); D+1 09:00 `/blog/a`, 09:01
  `/blog/b/c`, 09:02 Signup {plan: free}.
- V4 (Firefox, US): D 23:30 `/pricing` from Hacker News (a bounce).
- V5 (Firefox, DE): D+1 14:00 `/docs`, 14:01 Download {method: Magnet}.
Goals: Signup, Download (events), `Visit /pricing` (page /pricing), `Docs visit` (/docs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from reports.plausible_v1 import params as v1_params
from sites.models import Site
from tests import factories
from tests.api_client import bearer
from tests.reports.conftest import (
    CHROME_ANDROID,
    FIREFOX,
    SAFARI_MAC,
    drop_seeded,
    hit,
    seed_sites,
)
from tests.reports.test_stats_api import places

TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=10)
D1 = D + dt.timedelta(days=1)
CUSTOM = f"{D.isoformat()},{D1.isoformat()}"

V1 = {"ip": "81.2.69.10", "user_agent": FIREFOX}
V2 = {"ip": "91.198.174.20", "user_agent": CHROME_ANDROID}
V3 = {"ip": "203.0.113.30", "user_agent": SAFARI_MAC}
V4 = {"ip": "81.2.70.40", "user_agent": FIREFOX}
V5 = {"ip": "91.198.174.21", "user_agent": FIREFOX}
COUNTRY = {"81.2.69.": "GB", "91.198.174.": "DE", "81.2.70.": "US"}  # as places() writes
BROWSER = {FIREFOX: ("Firefox", "133.0"), CHROME_ANDROID: ("Chrome", "131.0")}
BROWSER[SAFARI_MAC] = ("Safari", "17.5")
SOURCE = {"www.google.com": "Google", "news.ycombinator.com": "Hacker News"}
GOALS = (
    ("event", "Signup", "Signup"),
    ("event", "Download", "Download"),
    ("pageview", "/pricing", "Visit /pricing"),
    ("pageview", "/docs", "Docs visit"),
)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def world(site: Site) -> list[dict[str, Any]]:
    if site.domain.startswith("live"):  # the realtime site: events of the last minutes
        now = dt.datetime.now(dt.UTC)
        return [
            hit(site, now - dt.timedelta(minutes=1), "/", **V1),
            hit(site, now - dt.timedelta(minutes=2), "/a", **V2),
            hit(site, now - dt.timedelta(minutes=3), "/b", **V2),
            hit(site, now - dt.timedelta(minutes=20), "/", **V3),
        ]
    return [
        hit(site, at(D, 10, 0), "/", referrer="https://www.google.com/", **V1),
        hit(site, at(D, 10, 2), "/pricing", referrer=f"https://{site.domain}/", **V1),
        hit(site, at(D, 10, 5), "/pricing", name="Signup", props={"plan": "pro"}, **V1),
        hit(site, at(D, 11, 0), "/blog/a", query="?utm_source=newsletter", **V2),
        hit(site, at(D, 11, 3), "/blog/b", **V2),
        hit(site, at(D, 11, 4), "/blog/b", name="Download", props={"method": "HTTP"}, **V2),
        hit(site, at(D, 12, 0), "/", **V3),
        hit(site, at(D1, 9, 0), "/blog/a", **V3),
        hit(site, at(D1, 9, 1), "/blog/b/c", **V3),
        hit(site, at(D1, 9, 2), "/blog/b/c", name="Signup", props={"plan": "free"}, **V3),
        hit(site, at(D, 23, 30), "/pricing", referrer="https://news.ycombinator.com/", **V4),
        hit(site, at(D1, 14, 0), "/docs", **V5),
        hit(site, at(D1, 14, 1), "/docs", name="Download", props={"method": "Magnet"}, **V5),
    ]


# --- the model: Plausible's meanings over the raw events ------------------------------


class Event:
    def __init__(self, raw: dict[str, Any]) -> None:
        url = urlsplit(raw["url"])
        self.at = dt.datetime.fromisoformat(raw["timestamp"])
        self.name = raw["name"]
        self.page = url.path
        self.props = raw.get("props", {})
        # one IP and user agent: the batch API sent every event today, under today's salt
        self.visitor = (raw["ip"], raw["user_agent"])
        self.country = next((c for p, c in COUNTRY.items() if raw["ip"].startswith(p)), "")
        self.browser, self.browser_version = BROWSER[raw["user_agent"]]
        utm = parse_qs(url.query).get("utm_source", [""])[0]
        referrer = urlsplit(raw.get("referrer", "")).hostname or ""
        self.source = utm or SOURCE.get(referrer, "")
        self.visit: Visit | None = None

    def goal(self) -> str | None:
        if self.name in ("Signup", "Download"):
            return self.name
        if self.name == "pageview" and self.page == "/pricing":
            return "Visit /pricing"
        if self.name == "pageview" and self.page == "/docs":
            return "Docs visit"
        return None


class Visit:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.entry = events[0]
        self.source = events[0].source or "Direct / None"
        self.duration = (events[-1].at - events[0].at).total_seconds()
        self.bounce = len(events) <= 1
        self.day = events[0].at.date()
        for event in events:
            event.visit = self


def model(raws: list[dict[str, Any]]) -> list[Event]:
    events = sorted((Event(raw) for raw in raws), key=lambda e: e.at)
    by_visitor: dict[Any, list[Event]] = {}
    for event in events:
        by_visitor.setdefault(event.visitor, []).append(event)
    for visitor_events in by_visitor.values():
        current: list[Event] = []
        for event in visitor_events:
            if current and event.at - current[-1].at > dt.timedelta(minutes=30):
                Visit(current)
                current = []
            current.append(event)
        Visit(current)
    return events


def _visits(events: list[Event]) -> list[Visit]:
    found: dict[int, Visit] = {}
    for event in events:
        assert event.visit is not None
        found[id(event.visit)] = event.visit
    return list(found.values())


def figures(events: list[Event], visit_events: list[Event] | None = None) -> dict[str, Any]:
    """Plausible's metrics of the kept `events`; visit metrics over the visits of
    `visit_events` (default: the same events)."""
    visits = _visits(events if visit_events is None else visit_events)
    pageviews = sum(e.name == "pageview" for e in events)
    n = len(visits)
    return {
        "visitors": len({e.visitor for e in events}),
        "visits": n,
        "pageviews": pageviews,
        "events": len(events),
        "bounce_rate": round(100 * sum(v.bounce for v in visits) / n) if n else 0,
        "visit_duration": round(sum(v.duration for v in visits) / n) if n else 0,
        "views_per_visit": round(
            sum(sum(e.name == "pageview" for e in v.events) for v in visits) / n, 2
        )
        if n
        else 0.0,
    }


def in_days(events: list[Event], first: dt.date, last: dt.date) -> list[Event]:
    return [e for e in events if first <= e.at.date() <= last]


# --- the seeded sites -------------------------------------------------------------------


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
        {"utc": ("v1-stats-trail.com", "UTC"), "live": ("live-v1-stats-trail.com", "UTC")},
        world,
        goals=GOALS,
        geoip=places(tmp_path_factory.mktemp("geoip") / "city.mmdb"),
    )
    yield made
    drop_seeded(django_db_blocker, made)


@pytest.fixture(scope="module")
def events(sites: dict[str, Site]) -> list[Event]:
    return model(world(sites["utc"]))


@pytest.fixture
def key(sites: dict[str, Site], db: None) -> str:
    _, raw = factories.api_key(sites["utc"].organization, scopes=("stats:read",))
    return raw


Get = Callable[..., Any]


@pytest.fixture
def v1(key: str, sites: dict[str, Site]) -> Get:
    """GET an endpoint of the v1 API for the seeded site; 200 expected unless `status`."""
    client = bearer(key)

    def get(endpoint: str, status: int | None = 200, **params: Any) -> Any:
        """`status` None: 200 or 400."""
        params.setdefault("site_id", sites["utc"].domain)
        answer = client.get(f"/api/v1/stats/{endpoint}", params)
        assert answer.status_code in ((status,) if status else (200, 400)), answer.content
        return answer.json()

    return get


# --- aggregate ----------------------------------------------------------------------------

ALL = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]


def test_aggregate_every_metric(v1: Get, events: list[Event]) -> None:
    answer = v1("aggregate", period="custom", date=CUSTOM, metrics=",".join([*ALL, "events"]))
    expected = figures(events)
    assert answer == {"results": {m: {"value": expected[m]} for m in [*ALL, "events"]}}


def test_aggregate_defaults_to_visitors_over_30_days(v1: Get, events: list[Event]) -> None:
    assert v1("aggregate") == {"results": {"visitors": {"value": figures(events)["visitors"]}}}


def test_aggregate_compared_with_the_previous_period(v1: Get, events: list[Event]) -> None:
    answer = v1(
        "aggregate",
        period="day",
        date=D1.isoformat(),
        metrics="visitors,pageviews,bounce_rate",
        compare="previous_period",
    )
    now, before = figures(in_days(events, D1, D1)), figures(in_days(events, D, D))
    expected = {}
    for metric in ("visitors", "pageviews", "bounce_rate"):
        change = (
            round(now[metric] - before[metric], 1)
            if metric == "bounce_rate"
            else round(100 * (now[metric] - before[metric]) / before[metric])
        )
        expected[metric] = {
            "value": now[metric],
            "comparison_value": before[metric],
            "change": change,
        }
    assert answer == {"results": expected}


def test_conversion_rate_under_a_goal_filter(v1: Get, events: list[Event]) -> None:
    answer = v1(
        "aggregate",
        period="custom",
        date=CUSTOM,
        metrics="visitors,events,conversion_rate",
        filters="event:goal==Signup",
    )
    converted = [e for e in events if e.goal() == "Signup"]
    all_visitors = figures(events)["visitors"]
    visitors = len({e.visitor for e in converted})
    assert answer["results"] == {
        "visitors": {"value": visitors},
        "events": {"value": len(converted)},
        "conversion_rate": {"value": round(100 * visitors / all_visitors, 2)},
    }


# v1 filter → which events it keeps (event-level predicates; visit-level on the visit)
FILTERS: dict[str, Callable[[Event], bool]] = {
    "event:page==/pricing": lambda e: e.page == "/pricing",
    "event:page!=/pricing": lambda e: e.page != "/pricing",
    "event:page==/blog/*": lambda e: e.page.startswith("/blog/"),
    "event:page==/blog/**": lambda e: e.page.startswith("/blog/"),
    "event:page==/blog/b*": lambda e: e.page.startswith("/blog/b"),
    "event:page!=/blog/**": lambda e: not e.page.startswith("/blog/"),
    "event:page~log": lambda e: "log" in e.page,
    "event:page!~log": lambda e: "log" not in e.page,
    "event:page==/|/docs": lambda e: e.page in ("/", "/docs"),
    "visit:country==DE|GB": lambda e: e.country in ("DE", "GB"),
    "visit:country!=DE": lambda e: e.country != "DE",
    "event:page==/blog/**;visit:country==DE": lambda e: (
        e.page.startswith("/blog/") and e.country == "DE"
    ),
    "visit:source==Google|Hacker News": lambda e: (
        e.visit is not None and e.visit.source in ("Google", "Hacker News")
    ),
    "visit:entry_page==/": lambda e: e.visit is not None and e.visit.entry.page == "/",
    "visit:browser==Firefox": lambda e: e.browser == "Firefox",
    "event:goal==Signup": lambda e: e.goal() == "Signup",
    "event:goal==Visit /pricing": lambda e: e.goal() == "Visit /pricing",
    "event:goal==Visit /docs": lambda e: e.goal() == "Docs visit",  # a page goal by its path
    "event:goal==Signup|Download": lambda e: e.goal() in ("Signup", "Download"),
    "event:name==Download": lambda e: e.name == "Download",
    "event:props:plan==pro": lambda e: e.props.get("plan") == "pro",
}


@pytest.mark.parametrize("filters", sorted(FILTERS))
def test_filters(v1: Get, events: list[Event], filters: str) -> None:
    answer = v1(
        "aggregate", period="custom", date=CUSTOM, metrics="visitors,pageviews", filters=filters
    )
    kept = figures([e for e in events if FILTERS[filters](e)])
    assert answer["results"] == {
        "visitors": {"value": kept["visitors"]},
        "pageviews": {"value": kept["pageviews"]},
    }


# --- timeseries ---------------------------------------------------------------------------


def test_timeseries_by_day_lists_every_day(v1: Get, events: list[Event]) -> None:
    answer = v1("timeseries", period="7d", date=D1.isoformat(), metrics="visitors,pageviews")
    days = [D1 - dt.timedelta(days=6 - i) for i in range(7)]
    assert answer == {
        "results": [
            {
                "date": day.isoformat(),
                "visitors": figures(in_days(events, day, day))["visitors"],
                "pageviews": figures(in_days(events, day, day))["pageviews"],
            }
            for day in days
        ]
    }
    dated = v1("timeseries", period="7d", date=D1.isoformat(), interval="date")
    assert [row["date"] for row in dated["results"]] == [d.isoformat() for d in days]


def test_timeseries_of_a_day_is_by_hour(v1: Get, events: list[Event]) -> None:
    answer = v1("timeseries", period="day", date=D.isoformat(), metrics="pageviews")
    assert len(answer["results"]) == 24
    for hour, row in enumerate(answer["results"]):
        assert row["date"] == f"{D.isoformat()} {hour:02d}:00:00"
        expected = sum(
            e.name == "pageview" and e.at.date() == D and e.at.hour == hour for e in events
        )
        assert row["pageviews"] == expected


def test_timeseries_by_month(v1: Get, events: list[Event]) -> None:
    answer = v1("timeseries", period="6mo", date=D1.isoformat(), metrics="pageviews")
    assert len(answer["results"]) == 6
    assert all(row["date"].endswith("-01") for row in answer["results"])
    assert sum(row["pageviews"] for row in answer["results"]) == figures(events)["pageviews"]
    assert answer["results"][-1]["date"] == D1.replace(day=1).isoformat()


# --- breakdown ----------------------------------------------------------------------------


def ranked(rows: list[dict[str, Any]], metric: str, key: str) -> list[dict[str, Any]]:
    """Plausible's order: the first metric descending, then the value ascending."""
    return sorted(rows, key=lambda row: (-row[metric], row[key]))


def test_breakdown_by_page(v1: Get, events: list[Event]) -> None:
    answer = v1(
        "breakdown",
        period="custom",
        date=CUSTOM,
        property="event:page",
        metrics="visitors,pageviews",
    )
    pages = {e.page for e in events if e.name == "pageview"}
    rows = []
    for page in pages:
        kept = figures([e for e in events if e.page == page and e.name == "pageview"])
        rows.append({"page": page, "visitors": kept["visitors"], "pageviews": kept["pageviews"]})
    expected = ranked(rows, "visitors", "page")
    assert answer == {"results": expected}
    second = v1(
        "breakdown",
        period="custom",
        date=CUSTOM,
        property="event:page",
        metrics="visitors,pageviews",
        limit="2",
        page="2",
    )
    assert second == {"results": expected[2:4]}


def test_breakdown_by_source_with_bounce_rate(v1: Get, events: list[Event]) -> None:
    answer = v1(
        "breakdown",
        period="custom",
        date=CUSTOM,
        property="visit:source",
        metrics="visitors,bounce_rate",
    )
    rows = []
    for source in {v.source for v in _visits(events)}:
        kept = figures([e for e in events if e.visit and e.visit.source == source])
        rows.append(
            {"source": source, "visitors": kept["visitors"], "bounce_rate": kept["bounce_rate"]}
        )
    assert answer == {"results": ranked(rows, "visitors", "source")}


def test_breakdown_by_country_leaves_out_unknown_places(v1: Get, events: list[Event]) -> None:
    answer = v1("breakdown", period="custom", date=CUSTOM, property="visit:country")
    rows = [
        {"country": c, "visitors": figures([e for e in events if e.country == c])["visitors"]}
        for c in {e.country for e in events if e.country}
    ]
    assert answer == {"results": ranked(rows, "visitors", "country")}


def test_breakdown_by_goal_with_conversion_rate(v1: Get, events: list[Event]) -> None:
    answer = v1(
        "breakdown",
        period="custom",
        date=CUSTOM,
        property="event:goal",
        metrics="visitors,events,conversion_rate",
    )
    total = figures(events)["visitors"]
    rows = []
    for goal in {e.goal() for e in events if e.goal()}:
        kept = [e for e in events if e.goal() == goal]
        visitors = len({e.visitor for e in kept})
        rows.append(
            {
                "goal": goal,
                "visitors": visitors,
                "events": len(kept),
                "conversion_rate": round(100 * visitors / total, 2),
            }
        )
    result = answer["results"]
    assert sorted(result, key=lambda r: r["goal"]) == sorted(rows, key=lambda r: r["goal"])
    assert [r["visitors"] for r in result] == sorted((r["visitors"] for r in rows), reverse=True)


def test_breakdown_by_a_custom_property_of_a_goal(v1: Get, events: list[Event]) -> None:
    answer = v1(
        "breakdown",
        period="custom",
        date=CUSTOM,
        property="event:props:method",
        filters="event:goal==Download",
    )
    rows = [{"method": e.props["method"], "visitors": 1} for e in events if e.name == "Download"]
    assert answer == {"results": ranked(rows, "visitors", "method")}


def test_breakdown_by_browser_version_names_the_browser(v1: Get, events: list[Event]) -> None:
    answer = v1("breakdown", period="custom", date=CUSTOM, property="visit:browser_version")
    versions = {(e.browser, e.browser_version) for e in events}
    rows = [
        {
            "browser": b,
            "browser_version": v,
            "visitors": len({e.visitor for e in events if e.browser_version == v}),
        }
        for b, v in versions
    ]
    assert answer == {"results": ranked(rows, "visitors", "browser_version")}


def test_time_on_page_alone_is_ordered_by_visitors(v1: Get) -> None:
    answer = v1(
        "breakdown", period="custom", date=CUSTOM, property="event:page", metrics="time_on_page"
    )
    assert answer["results"] and all(
        set(row) == {"page", "time_on_page"} for row in answer["results"]
    )


# --- realtime -----------------------------------------------------------------------------


def test_realtime_visitors_is_a_bare_number(v1: Get, sites: dict[str, Site]) -> None:
    raws = world(sites["live"])
    now = dt.datetime.now(dt.UTC)
    recent = {
        (r["ip"], r["user_agent"])
        for r in raws
        if now - dt.datetime.fromisoformat(r["timestamp"]) < dt.timedelta(minutes=5)
    }
    assert v1("realtime/visitors", site_id=sites["live"].domain) == len(recent)
    assert v1("realtime/visitors") == 0  # the other site's events are 10 days old


# --- Plausible's documented requests (paraphrased), raw query strings as clients send -----


def _raw(key: str, path_and_query: str) -> Any:
    return bearer(key).get(path_and_query)


def test_documented_requests(key: str, sites: dict[str, Site], events: list[Event]) -> None:
    site = sites["utc"].domain
    base = f"/api/v1/stats/{{}}?site_id={site}&"
    # the top-stats row: four metrics over six months
    top = _raw(
        key,
        base.format("aggregate")
        + "period=6mo&metrics=visitors,pageviews,bounce_rate,visit_duration",
    )
    assert top.status_code == 200
    whole = figures(events)
    assert top.json() == {
        "results": {
            m: {"value": whole[m]}
            for m in ("visitors", "pageviews", "bounce_rate", "visit_duration")
        }
    }
    # visitors of one page, the filter URL-encoded
    page = _raw(key, base.format("aggregate") + "period=6mo&filters=event:page%3D%3D%2Fpricing")
    assert page.json() == {
        "results": {
            "visitors": {"value": figures([e for e in events if e.page == "/pricing"])["visitors"]}
        }
    }
    # monthly traffic from Google
    google = _raw(key, base.format("timeseries") + "period=6mo&filters=visit:source%3D%3DGoogle")
    months = google.json()["results"]
    assert len(months) == 6 and set(months[0]) == {"date", "visitors"}
    assert (
        sum(m["visitors"] for m in months)
        == figures([e for e in events if e.visit and e.visit.source == "Google"])["visitors"]
    )
    # top sources, five at most
    sources = _raw(
        key,
        base.format("breakdown")
        + "period=6mo&property=visit:source&metrics=visitors,bounce_rate&limit=5",
    )
    assert all(
        set(row) == {"source", "visitors", "bounce_rate"} for row in sources.json()["results"]
    )
    # a goal's custom property; a goal named with a space as `+`
    methods = _raw(
        key,
        base.format("breakdown")
        + "period=6mo&property=event:props:method&filters=event:goal%3D%3DDownload",
    )
    assert {r["method"] for r in methods.json()["results"]} == {"HTTP", "Magnet"}
    plus = _raw(key, base.format("aggregate") + "period=6mo&filters=event:goal==Visit+/pricing")
    assert plus.json()["results"]["visitors"]["value"] == len(
        {e.visitor for e in events if e.goal() == "Visit /pricing"}
    )
    now = _raw(key, f"/api/v1/stats/realtime/visitors?site_id={site}")
    assert now.status_code == 200 and now.json() == 0


# --- bad input ----------------------------------------------------------------------------

BAD = [
    ("aggregate", {"metrics": "visitors,nonsense"}, "metrics", "nonsense"),
    ("aggregate", {"metrics": "visitors,visitors"}, "metrics", "twice"),
    ("aggregate", {"period": "fortnight"}, "period", "fortnight"),
    ("aggregate", {"period": "custom"}, "date", "custom"),
    ("aggregate", {"period": "custom", "date": "2026-01-01"}, "date", "two dates"),
    ("aggregate", {"period": "custom", "date": "2026-02-01,2026-01-01"}, "date", "before"),
    ("aggregate", {"date": "yesterday"}, "date", "yesterday"),
    ("aggregate", {"filters": "event:page/blog"}, "filters", "event:page/blog"),
    ("aggregate", {"filters": "visit:planet==Mars"}, "filters", "visit:planet"),
    ("aggregate", {"filters": "event:page=="}, "filters", "event:page=="),
    ("aggregate", {"filters": "event:goal==Nope"}, "filters", "Nope"),
    ("aggregate", {"filters": "[1"}, "filters", "JSON"),
    ("aggregate", {"metrics": "conversion_rate"}, "metrics", "event:goal"),
    ("aggregate", {"metrics": "time_on_page"}, "metrics", "event:page"),
    ("aggregate", {"compare": "last_year"}, "compare", "last_year"),
    ("timeseries", {"interval": "minute"}, "interval", "minute"),
    ("timeseries", {"period": "12mo", "interval": "hour"}, "interval", "hour"),
    ("breakdown", {}, "property", "required"),
    ("breakdown", {"property": "visit:planet"}, "property", "visit:planet"),
    ("breakdown", {"property": "event:props:"}, "property", "event:props"),
    ("breakdown", {"property": "event:page", "limit": "0"}, "limit", "1000"),
    ("breakdown", {"property": "event:page", "limit": "1001"}, "limit", "1000"),
    ("breakdown", {"property": "event:page", "page": "0"}, "page", "1"),
    ("breakdown", {"property": "event:name", "metrics": "bounce_rate"}, "metrics", "event:name"),
    ("breakdown", {"property": "visit:source", "metrics": "views_per_visit"}, "metrics", "views"),
]


@pytest.mark.parametrize(("endpoint", "params", "field", "named"), BAD, ids=lambda v: str(v)[:40])
def test_bad_input_is_a_400_naming_it(
    v1: Get, endpoint: str, params: dict[str, str], field: str, named: str
) -> None:
    answer = v1(endpoint, status=400, **params)
    assert set(answer) == {"error"}
    assert answer["error"].startswith(f"{field}: "), answer
    assert named in answer["error"], answer


@pytest.mark.parametrize("endpoint", ["realtime/visitors", "aggregate", "timeseries", "breakdown"])
def test_who_may_ask(endpoint: str, key: str, sites: dict[str, Site], db: None) -> None:
    path = f"/api/v1/stats/{endpoint}"
    params = {"property": "event:page"}
    other_org = factories.organization()
    other = factories.site(other_org, "v1-other-tenant.example")
    asked = bearer(key).get(path, {**params, "site_id": other.domain})
    made_up = bearer(key).get(path, {**params, "site_id": "v1-no-such-site.example"})
    assert asked.status_code == made_up.status_code == 404
    assert asked.content == made_up.content
    missing = bearer(key).get(path, params)
    assert missing.status_code == 400 and missing.json()["error"].startswith("site_id: ")
    _, no_scope = factories.api_key(sites["utc"].organization, scopes=("sites:read",))
    forbidden = bearer(no_scope).get(path, {**params, "site_id": sites["utc"].domain})
    assert forbidden.status_code == 403 and "stats:read" in forbidden.json()["error"]
    from django.test import Client

    anonymous = Client().get(path, {**params, "site_id": sites["utc"].domain})
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"error"}
    wrong = bearer("trail_nope_nope").get(path, {**params, "site_id": sites["utc"].domain})
    assert wrong.status_code == 401


def test_the_key_rate_limit_applies(sites: dict[str, Site], db: None) -> None:
    from accounts.models import ApiKey

    made, raw = factories.api_key(sites["utc"].organization, scopes=("stats:read",))
    ApiKey.objects.filter(pk=made.pk).update(rate_limit_per_minute=2)
    client = bearer(raw)
    path = f"/api/v1/stats/realtime/visitors?site_id={sites['utc'].domain}"
    statuses = [client.get(path).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.get(path)["Retry-After"]


def test_unused_parameters_are_accepted(v1: Get) -> None:
    assert "visitors" in v1("aggregate", with_imported="true", interval="date")["results"]


@pytest.mark.parametrize("property_", [*v1_params.PROPERTIES, "event:props:plan"])
def test_every_metric_by_every_property_answers_or_names_it(
    key: str, sites: dict[str, Site], property_: str
) -> None:
    """Each metric broken down by each property, with a goal filter (so that
    conversion_rate may be asked): rows, or a 400 naming the metric; never a 500."""
    client = bearer(key)
    for metric in v1_params.METRICS:
        answer = client.get(
            "/api/v1/stats/breakdown",
            {
                "site_id": sites["utc"].domain,
                "period": "custom",
                "date": CUSTOM,
                "property": property_,
                "metrics": metric,
                "filters": "event:goal==Signup|Visit /pricing",
            },
        )
        assert answer.status_code in (200, 400), (metric, answer.content)
        if answer.status_code == 400:
            assert answer.json()["error"].startswith("metrics: "), (metric, answer.json())
        else:
            assert all(metric in row for row in answer.json()["results"])


@pytest.mark.parametrize("endpoint", ["aggregate", "timeseries"])
def test_every_metric_over_a_period_answers_or_names_it(
    v1: Get, endpoint: str, events: list[Event]
) -> None:
    for metric in v1_params.METRICS:
        for filters in ("event:page==/pricing", "event:goal==Signup", ""):
            answer = v1(
                endpoint, status=None, period="custom", date=CUSTOM, metrics=metric, filters=filters
            )
            if "error" in answer:
                assert answer["error"].startswith("metrics: "), (metric, filters, answer)
            else:
                assert answer["results"]
