"""`POST /api/v2/query` against what Plausible's Stats API v2 documentation states
(plausible.io/docs/stats-api: request structure, include options, response structure and
its examples): date-time ranges, `include.total_rows`, `include.time_labels`, the query
echo's order, and the 400s of bad input.

The world, on a fresh UTC site, day D = 10 days ago: A views `/` at 10:00 and `/about` at
10:05; B views `/` at 12:00; C views `/blog` at 14:00 and `/blog/x` at 14:10; D+1 09:00 E
views `/`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from sites.models import Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, SAFARI_MAC, hit, post_json

pytestmark = pytest.mark.django_db

TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=10)
D1 = D + dt.timedelta(days=1)
WHOLE = [D.isoformat(), D1.isoformat()]


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def world(site: Site) -> list[dict[str, Any]]:
    a = {"ip": "198.51.100.1", "user_agent": FIREFOX}
    b = {"ip": "198.51.100.2", "user_agent": CHROME_ANDROID}
    c = {"ip": "198.51.100.3", "user_agent": SAFARI_MAC}
    e = {"ip": "198.51.100.5", "user_agent": FIREFOX}
    return [
        hit(site, at(D, 10, 0), "/", **a),
        hit(site, at(D, 10, 5), "/about", **a),
        hit(site, at(D, 12, 0), "/", **b),
        hit(site, at(D, 14, 0), "/blog", **c),
        hit(site, at(D, 14, 10), "/blog/x", **c),
        hit(site, at(D1, 9, 0), "/", **e),
    ]


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    made = make_site("v2-docs-trail.com")
    seed(made, world(made))
    return made


@pytest.fixture
def key(site: Site) -> str:
    _, raw = factories.api_key(site.organization, scopes=("stats:read",))
    return raw


def ask(client: Any, key: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    answer = post_json(client, "/api/v2/query", body, key)
    assert answer.status_code == status, answer.content
    return dict(answer.json())


def body(site: Site, **fields: Any) -> dict[str, Any]:
    return {"site_id": site.domain, "date_range": WHOLE, **fields}


def rows(answer: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(*row["dimensions"], *row["metrics"]) for row in answer["results"]]


def test_the_response_has_results_meta_and_query(client: Any, key: str, site: Site) -> None:
    answer = ask(client, key, body(site, metrics=["visitors", "events"]))
    assert set(answer) == {"results", "meta", "query"}
    assert answer["results"] == [{"metrics": [4, 6], "dimensions": []}]
    assert isinstance(answer["meta"], dict)
    echo = answer["query"]
    assert echo["site_id"] == site.domain
    assert echo["metrics"] == ["visitors", "events"]
    assert echo["dimensions"] == [] and echo["filters"] == []
    assert echo["order_by"] == [["visitors", "desc"]]  # the default: the first metric
    assert echo["date_range"] == [f"{D}T00:00:00+00:00", f"{D1}T23:59:59+00:00"]


def test_a_date_time_range_counts_to_the_second(client: Any, key: str, site: Site) -> None:
    since, until = f"{D}T11:00:00+00:00", f"{D}T14:04:59+00:00"
    answer = ask(
        client, key, body(site, metrics=["visitors", "pageviews"], date_range=[since, until])
    )
    assert rows(answer) == [(2, 2)]  # B at 12:00, C at 14:00 (14:10 is after)
    assert answer["query"]["date_range"] == [since, until]


def test_a_date_time_range_with_another_offset(client: Any, key: str, site: Site) -> None:
    # 12:00+02:00 is 10:00 UTC; until 14:00+02:00 (12:00 UTC) exclusive of 12:00:00 UTC + 1 s
    answer = ask(
        client,
        key,
        body(
            site,
            metrics=["pageviews"],
            date_range=[f"{D}T12:00:00+02:00", f"{D}T13:59:59+02:00"],
        ),
    )
    assert rows(answer) == [(2,)]  # A's two views; B's at 12:00 UTC is one second after
    assert answer["query"]["date_range"] == [f"{D}T10:00:00+00:00", f"{D}T11:59:59+00:00"]


def test_a_date_time_range_by_hour_and_its_labels(client: Any, key: str, site: Site) -> None:
    answer = ask(
        client,
        key,
        body(
            site,
            metrics=["visitors"],
            date_range=[f"{D}T09:00:00Z", f"{D}T12:59:59Z"],
            dimensions=["time:hour"],
            include={"time_labels": True},
        ),
    )
    assert rows(answer) == [(f"{D} 10:00:00", 1), (f"{D} 12:00:00", 1)]
    assert answer["meta"]["time_labels"] == [f"{D} {h:02d}:00:00" for h in (9, 10, 11, 12)]
    assert answer["query"]["order_by"] == [["time:hour", "asc"], ["visitors", "desc"]]


def test_a_date_time_range_compared_with_the_period_before(
    client: Any, key: str, site: Site
) -> None:
    answer = ask(
        client,
        key,
        body(
            site,
            metrics=["pageviews"],
            date_range=[f"{D}T12:00:00Z", f"{D}T13:59:59Z"],
            include={"comparisons": {"mode": "previous_period"}},
        ),
    )
    [row] = answer["results"]
    assert row["metrics"] == [1]  # B
    assert row["comparison"]["metrics"] == [2]  # 10:00–11:59: A's two views


def test_time_labels_of_a_day_by_hour(client: Any, key: str, site: Site) -> None:
    answer = ask(
        client,
        key,
        body(
            site,
            metrics=["visitors"],
            date_range=[D.isoformat(), D.isoformat()],
            dimensions=["time:hour"],
            include={"time_labels": True},
        ),
    )
    labels = answer["meta"]["time_labels"]
    assert labels == [f"{D} {h:02d}:00:00" for h in range(24)]
    assert rows(answer) == [(f"{D} 10:00:00", 1), (f"{D} 12:00:00", 1), (f"{D} 14:00:00", 1)]


def test_time_labels_need_a_time_dimension(client: Any, key: str, site: Site) -> None:
    answer = ask(
        client,
        key,
        body(site, metrics=["visitors"], include={"time_labels": True}),
        status=400,
    )
    assert "time_labels" in answer["error"]


def test_total_rows_counts_every_page(client: Any, key: str, site: Site) -> None:
    page = ask(
        client,
        key,
        body(
            site,
            metrics=["visitors"],
            dimensions=["event:page"],
            include={"total_rows": True},
            pagination={"limit": 2, "offset": 1},
        ),
    )
    assert page["meta"]["total_rows"] == 4  # /, /about, /blog, /blog/x
    assert len(page["results"]) == 2
    assert page["query"]["pagination"] == {"limit": 2, "offset": 1}
    assert page["query"]["include"] == {"total_rows": True}
    plain = ask(client, key, body(site, metrics=["visitors"], dimensions=["event:page"]))
    assert "total_rows" not in plain["meta"]
    past_the_end = ask(
        client,
        key,
        body(
            site,
            metrics=["visitors"],
            dimensions=["event:page"],
            include={"total_rows": True},
            pagination={"limit": 2, "offset": 10},
        ),
    )
    assert past_the_end["results"] == [] and past_the_end["meta"]["total_rows"] == 4


def test_total_rows_must_be_a_boolean(client: Any, key: str, site: Site) -> None:
    answer = ask(
        client, key, body(site, metrics=["visitors"], include={"total_rows": "yes"}), status=400
    )
    assert "include.total_rows" in answer["error"]


def test_the_default_order_is_the_first_metric_descending(
    client: Any, key: str, site: Site
) -> None:
    answer = ask(
        client,
        key,
        body(site, metrics=["pageviews", "visitors"], dimensions=["visit:entry_page"]),
    )
    assert answer["query"]["order_by"] == [["pageviews", "desc"]]
    pageviews = [row["metrics"][0] for row in answer["results"]]
    assert pageviews == sorted(pageviews, reverse=True)
    # A, B and E entered on / (4 views: A's two); C on /blog (2 views)
    assert rows(answer) == [("/", 4, 3), ("/blog", 2, 1)]


def test_a_time_series_is_ordered_by_time(client: Any, key: str, site: Site) -> None:
    answer = ask(client, key, body(site, metrics=["visitors"], dimensions=["time"]))
    assert answer["query"]["dimensions"] == ["time:day"]
    assert answer["query"]["order_by"] == [["time:day", "asc"], ["visitors", "desc"]]
    assert rows(answer) == [(D.isoformat(), 3), (D1.isoformat(), 1)]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (
            {"metrics": ["visitors"], "date_range": [f"{D}T25:00:00Z", f"{D}T26:00:00Z"]},
            "date_range",
        ),
        (
            {"metrics": ["visitors"], "date_range": [f"{D}T12:00:00Z", f"{D}T11:00:00Z"]},
            "date_range",
        ),
        ({"metrics": ["visitors"], "date_range": [f"{D}T12:00:00Z", 5]}, "date_range[1]"),
        ({"metrics": ["visitors"], "date_range": "yesterday"}, "date_range"),
        ({"metrics": ["visitors"], "date_range": ["2024-13-01", "2024-13-02"]}, "date_range"),
        ({"metrics": ["nope"], "date_range": "7d"}, "metrics"),
        ({"metrics": [], "date_range": "7d"}, "metrics"),
        ({"metrics": ["visitors"]}, "date_range"),
        (
            {"metrics": ["visitors"], "date_range": "7d", "dimensions": ["time:minute"]},
            "dimensions",
        ),
        (
            {"metrics": ["visitors"], "date_range": "7d", "order_by": [["pageviews", "desc"]]},
            "order_by",
        ),
        ({"metrics": ["visitors"], "date_range": "7d", "include": {"nope": True}}, "include"),
        ({"metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": 0}}, "pagination"),
        (
            {"metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:page"]]},
            "filters",
        ),
        (
            {"metrics": ["visitors"], "date_range": "7d", "filters": [["is", "time", ["x"]]]},
            "filters",
        ),
    ],
    ids=lambda v: str(v)[:50],
)
def test_bad_input_is_a_400_naming_the_field(
    client: Any, key: str, site: Site, fields: dict[str, Any], named: str
) -> None:
    answer = ask(client, key, {"site_id": site.domain, **fields}, status=400)
    assert set(answer) == {"error"}
    assert named in answer["error"]


def test_an_unknown_or_foreign_site_is_404_and_no_key_401(
    client: Any, key: str, site: Site, make_site: Callable[..., Site]
) -> None:
    other = make_site("v2-docs-other-trail.com")
    for domain in (other.domain, "nowhere-trail.com"):
        ask(client, key, {"site_id": domain, "metrics": ["visitors"], "date_range": "7d"}, 404)
    answer = post_json(
        client,
        "/api/v2/query",
        {"site_id": site.domain, "metrics": ["visitors"], "date_range": "7d"},
    )
    assert answer.status_code == 401
    missing = ask(client, key, {"metrics": ["visitors"], "date_range": "7d"}, status=400)
    assert "site_id" in missing["error"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # A viewed /about: A's visit, both its views, not a bounce; B and E bounced
        ([["has_done", ["is", "event:page", ["/about"]]]], [(1, 1, 2, 0)]),
        ([["has_not_done", ["is", "event:page", ["/about"]]]], [(3, 3, 4, 67)]),
        # views of / in visits that also viewed /about: A's one
        (
            [["is", "event:page", ["/"]], ["has_done", ["is", "event:page", ["/about"]]]],
            [(1, 1, 1, 0)],
        ),
        (
            [
                [
                    "has_done",
                    [
                        "or",
                        [["contains", "event:page", ["blog"]], ["is", "event:page", ["/about"]]],
                    ],
                ]
            ],
            [(2, 2, 4, 0)],
        ),
        ([["not", ["has_done", ["contains", "event:page", ["/blog"]]]]], [(3, 3, 4, 67)]),
    ],
    ids=lambda v: str(v)[:60],
)
def test_behavioral_filters_keep_visits_by_what_they_did(
    client: Any, key: str, site: Site, filters: list[Any], expected: list[tuple[Any, ...]]
) -> None:
    metrics = ["visitors", "visits", "pageviews", "bounce_rate"]
    answer = ask(client, key, body(site, metrics=metrics, filters=filters))
    if filters[0][0] == "is":  # an event filter: visit metrics are of the matching visits
        answer = ask(client, key, body(site, metrics=metrics[:3], filters=filters))
        assert rows(answer) == [expected[0][:3]]
        return
    assert rows(answer) == expected


def test_behavioral_filters_by_page(client: Any, key: str, site: Site) -> None:
    answer = ask(
        client,
        key,
        body(
            site,
            metrics=["visitors"],
            dimensions=["event:page"],
            filters=[["has_done", ["is", "event:page", ["/blog/x"]]]],
        ),
    )
    assert rows(answer) == [("/blog", 1), ("/blog/x", 1)]


@pytest.mark.parametrize(
    "bad",
    [
        ["has_done", ["is", "visit:country", ["DE"]]],
        ["has_done", ["is", "event:page", ["/"]], ["is", "event:page", ["/a"]]],
        ["has_not_done", ["has_done", ["is", "event:page", ["/"]]]],
        ["has_done", "event:page"],
    ],
    ids=str,
)
def test_bad_behavioral_filters_are_400(client: Any, key: str, site: Site, bad: list[Any]) -> None:
    answer = ask(client, key, body(site, metrics=["visitors"], filters=[bad]), status=400)
    assert "filters[0]" in answer["error"]


def test_group_conversion_rate_divides_by_the_rows_visitors(
    client: Any, key: str, site: Site
) -> None:
    from sites.models import Goal

    Goal.objects.create(site=site, kind="pageview", value="/about", display_name="About")
    # by entry page: / had A, B and E (A saw /about: 33.33 %), /blog had C (0 %)
    answer = ask(
        client,
        key,
        body(
            site,
            metrics=["visitors", "group_conversion_rate"],
            dimensions=["visit:entry_page"],
            filters=[["is", "event:goal", ["About"]]],
            order_by=[["group_conversion_rate", "desc"]],
        ),
    )
    assert rows(answer) == [("/", 1, 33.33)]
    assert answer["query"]["metrics"] == ["visitors", "group_conversion_rate"]
    assert answer["query"]["order_by"] == [["group_conversion_rate", "desc"]]
    by_goal = ask(
        client,
        key,
        body(site, metrics=["group_conversion_rate"], dimensions=["event:goal"]),
    )
    assert rows(by_goal) == [("About", 25.0)]  # 1 of 4 visitors
    both = ask(
        client,
        key,
        body(
            site,
            metrics=["conversion_rate", "group_conversion_rate"],
            dimensions=["event:goal"],
        ),
        status=400,
    )
    assert "metrics" in both["error"]
    no_goal = ask(client, key, body(site, metrics=["group_conversion_rate"]), status=400)
    assert "metrics" in no_goal["error"]


@pytest.fixture
def located(
    make_site: Callable[..., Site],
    seed: Callable[..., None],
    settings: Any,
    tmp_path: Any,
) -> Site:
    """A's and B's addresses (public ones: documentation addresses are not looked up) in the
    United States (San Francisco, California) and Côte d'Ivoire (Abidjan, Lagunes); C's
    and E's unknown."""
    from tests.events.test_geo import _write as write_mmdb

    geoip = write_mmdb(
        tmp_path / "city.mmdb",
        6,
        {
            "81.2.69.0/24": {
                "country": {"iso_code": "US"},
                "subdivisions": [{"iso_code": "CA", "names": {"en": "California"}}],
                "city": {"names": {"en": "San Francisco"}},
            },
            "91.198.174.0/24": {
                "country": {"iso_code": "CI"},
                "subdivisions": [{"iso_code": "LG", "names": {"en": "Lagunes"}}],
                "city": {"names": {"en": "Abidjan"}},
            },
        },
        "GeoIP2-City",
    )
    ingest = dataclasses.replace(settings.TRAIL.ingest, geoip_database=geoip)
    settings.TRAIL = dataclasses.replace(settings.TRAIL, ingest=ingest)
    made = make_site("v2-docs-places-trail.com")
    public = {"198.51.100.1": "81.2.69.10", "198.51.100.2": "91.198.174.20"}  # looked up
    seed(made, [{**event, "ip": public.get(event["ip"], event["ip"])} for event in world(made)])
    return made


def test_location_names_as_in_the_docs_example(client: Any, located: Site) -> None:
    _, key = factories.api_key(located.organization, scopes=("stats:read",))
    # the documentation's first example: by country and city name, unknown ones left out
    answer = ask(
        client,
        key,
        body(
            located,
            metrics=["visitors", "pageviews", "bounce_rate"],
            filters=[["is_not", "visit:country_name", [""]]],
            dimensions=["visit:country_name", "visit:city_name"],
        ),
    )
    assert rows(answer) == [
        ("Cote d'Ivoire", "Abidjan", 1, 1, 100),
        ("United States", "San Francisco", 1, 2, 0),
    ]
    regions = ask(
        client,
        key,
        body(
            located,
            metrics=["visitors"],
            dimensions=["visit:region_name"],
            filters=[["contains", "visit:country_name", ["united"], {"case_sensitive": False}]],
        ),
    )
    assert rows(regions) == [("California", 1)]
    every = ask(client, key, body(located, metrics=["visitors"], dimensions=["visit:country_name"]))
    assert rows(every) == [("", 2), ("Cote d'Ivoire", 1), ("United States", 1)]


def test_percentage_needs_a_dimension(client: Any, key: str, site: Site) -> None:
    answer = ask(client, key, body(site, metrics=["visitors", "percentage"]), status=400)
    assert "percentage" in answer["error"]
    shares = ask(
        client, key, body(site, metrics=["visitors", "percentage"], dimensions=["visit:browser"])
    )
    assert sum(row["metrics"][1] for row in shares["results"]) == pytest.approx(100, abs=0.2)


@pytest.mark.parametrize(
    ("date_range", "previous_bounce"),
    [
        ([D.isoformat(), D.isoformat()], 0),  # the day before D had no visits
        ([D1.isoformat(), D1.isoformat()], 33),  # D: A and C read two pages, B bounced
    ],
)
def test_a_bounce_rate_changes_only_from_a_bounce_rate_above_zero(
    client: Any, key: str, site: Site, date_range: list[str], previous_bounce: int
) -> None:
    """Plausible's comparison: a bounce rate's change is the difference in points, and none
    (null) when the previous bounce rate is 0; a count from 0 changes by 100 %."""
    answer = ask(
        client,
        key,
        body(
            site,
            date_range=date_range,
            metrics=["visitors", "bounce_rate"],
            include={"comparisons": {"mode": "previous_period"}},
        ),
    )
    [row] = answer["results"]
    assert row["comparison"]["metrics"][1] == previous_bounce
    visitors_change, bounce_change = row["comparison"]["change"]
    if previous_bounce:
        assert bounce_change == row["metrics"][1] - previous_bounce  # E bounced on D+1: 100
    else:
        assert bounce_change is None
        assert visitors_change == 100


# Plausible's two conversion rates (plausible.io/docs/stats-api, metrics): `conversion_rate`
# divides the row's converted visitors by the visitors of the whole query (goal filters
# aside), `group_conversion_rate` by the visitors of the row's own dimension group.
# Another world, on its own site: day P = D - 1 is the previous period of day D.
P = D - dt.timedelta(days=1)
GOOGLE, NEWS = "https://www.google.com/", "https://news.ycombinator.com/"
SOURCES = {GOOGLE: "Google", NEWS: "Hacker News", "": "Direct / None"}
# (day, visitor ip, referrer, pages viewed); a visitor converts on /about
VISITS = [
    (P, "203.0.113.7", GOOGLE, ("/about",)),
    (P, "203.0.113.8", "", ("/",)),
    (D, "203.0.113.1", GOOGLE, ("/", "/about")),
    (D, "203.0.113.2", GOOGLE, ("/",)),
    (D, "203.0.113.3", NEWS, ("/", "/about")),
    (D, "203.0.113.4", "", ("/",)),
    (D, "203.0.113.5", "", ("/blog",)),
]


def conversion_world(site: Site) -> list[dict[str, Any]]:
    events = []
    for day, ip, referrer, pages in VISITS:
        for minute, page in enumerate(pages):
            first = referrer if minute == 0 else f"https://{site.domain}/"
            events.append(hit(site, at(day, 10, minute), page, ip=ip, referrer=first))
    return events


@pytest.fixture
def converting(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    from sites.models import Goal

    made = make_site("v2-conversions-trail.com")
    Goal.objects.create(site=made, kind="pageview", value="/about", display_name="About")
    seed(made, conversion_world(made))
    return made


@pytest.fixture
def converting_key(converting: Site) -> str:
    _, raw = factories.api_key(converting.organization, scopes=("stats:read",))
    return raw


def visitors_of(days: set[dt.date], group: Callable[[tuple[Any, ...]], Any]) -> dict[Any, int]:
    """Visitors of `days` by `group(visit)`, from VISITS."""
    found: dict[Any, set[str]] = {}
    for visit in VISITS:
        if visit[0] in days:
            found.setdefault(group(visit), set()).add(visit[1])
    return {value: len(ips) for value, ips in found.items()}


def converted(visit: tuple[Any, ...]) -> bool:
    return "/about" in visit[3]


def rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


GOAL = [["is", "event:goal", ["About"]]]


def test_conversion_rate_by_source_divides_by_the_querys_visitors(
    client: Any, converting_key: str, converting: Site
) -> None:
    everyone = visitors_of({D}, lambda v: "all")["all"]
    by_source = visitors_of({D}, lambda v: SOURCES[v[2]])
    converters = visitors_of({D}, lambda v: SOURCES[v[2]] if converted(v) else None)
    expected = {
        source: (n, rate(n, everyone), rate(n, by_source[source]))
        for source, n in converters.items()
        if source is not None
    }
    assert everyone == 5 and len(expected) == 2  # the world is what the test means
    for metric, at_ in (("conversion_rate", 1), ("group_conversion_rate", 2)):
        answer = ask(
            client,
            converting_key,
            body(
                converting,
                date_range=[D.isoformat(), D.isoformat()],
                metrics=["visitors", metric],
                dimensions=["visit:source"],
                filters=GOAL,
                order_by=[[metric, "desc"], ["visit:source", "asc"]],
            ),
        )
        wanted = sorted(
            ((s, n[0], n[at_]) for s, n in expected.items()), key=lambda r: (-r[2], r[0])
        )
        assert rows(answer) == wanted, metric
        assert answer["query"]["metrics"] == ["visitors", metric]
        assert answer["query"]["order_by"] == [[metric, "desc"], ["visit:source", "asc"]]
    # Google: 1 of the day's 5 visitors (20 %), 1 of its own 2 (50 %)
    assert expected["Google"] == (1, 20.0, 50.0)


def test_both_rates_by_goal_and_without_a_dimension_are_the_querys(
    client: Any, converting_key: str, converting: Site
) -> None:
    everyone = visitors_of({D}, lambda v: "all")["all"]
    converters = visitors_of({D}, converted)[True]
    day = [D.isoformat(), D.isoformat()]
    for metric in ("conversion_rate", "group_conversion_rate"):
        by_goal = ask(
            client,
            converting_key,
            body(
                converting, date_range=day, metrics=["visitors", metric], dimensions=["event:goal"]
            ),
        )
        assert rows(by_goal) == [("About", converters, rate(converters, everyone))]
        alone = ask(
            client,
            converting_key,
            body(converting, date_range=day, metrics=["visitors", metric], filters=GOAL),
        )
        assert rows(alone) == [(converters, rate(converters, everyone))]
    # by goal and day: the query's rate still divides by the range's visitors, the group's
    # by the day's
    days = {P, D}
    in_range = visitors_of(days, lambda v: "all")["all"]
    daily = visitors_of(days, lambda v: v[0])
    per_day = visitors_of(days, lambda v: v[0] if converted(v) else None)
    for metric, whole in (("conversion_rate", None), ("group_conversion_rate", daily)):
        answer = ask(
            client,
            converting_key,
            body(
                converting,
                date_range=[P.isoformat(), D.isoformat()],
                metrics=[metric],
                dimensions=["event:goal", "time:day"],
            ),
        )
        assert rows(answer) == [
            ("About", day.isoformat(), rate(per_day[day], whole[day] if whole else in_range))
            for day in (P, D)
        ]


def test_conversion_rate_over_time_divides_by_the_whole_range(
    client: Any, converting_key: str, converting: Site
) -> None:
    days = {P, D}
    everyone = visitors_of(days, lambda v: "all")["all"]
    daily = visitors_of(days, lambda v: v[0])
    converters = visitors_of(days, lambda v: v[0] if converted(v) else None)
    for metric, whole in (("conversion_rate", None), ("group_conversion_rate", daily)):
        answer = ask(
            client,
            converting_key,
            body(
                converting,
                date_range=[P.isoformat(), D.isoformat()],
                metrics=[metric],
                dimensions=["time:day"],
                filters=GOAL,
            ),
        )
        assert rows(answer) == [
            (day.isoformat(), rate(converters[day], whole[day] if whole else everyone))
            for day in (P, D)
        ]


def test_conversion_rates_compared_with_the_previous_period(
    client: Any, converting_key: str, converting: Site
) -> None:
    def expected(day: dt.date, group: bool) -> dict[str, float]:
        everyone = visitors_of({day}, lambda v: "all")["all"]
        by_source = visitors_of({day}, lambda v: SOURCES[v[2]])
        converters = visitors_of({day}, lambda v: SOURCES[v[2]] if converted(v) else None)
        return {
            s: rate(n, by_source[s] if group else everyone)
            for s, n in converters.items()
            if s is not None
        }

    for metric, group in (("conversion_rate", False), ("group_conversion_rate", True)):
        now_, before = expected(D, group), expected(P, group)
        answer = ask(
            client,
            converting_key,
            body(
                converting,
                date_range=[D.isoformat(), D.isoformat()],
                metrics=[metric],
                dimensions=["visit:source"],
                filters=GOAL,
                order_by=[["visit:source", "asc"]],
                include={"comparisons": {"mode": "previous_period"}},
            ),
        )
        assert [r["dimensions"][0] for r in answer["results"]] == sorted(now_)
        for row in answer["results"]:
            source = row["dimensions"][0]
            previous = before.get(source, 0.0)
            assert row["metrics"] == [now_[source]], metric
            assert row["comparison"]["metrics"] == [previous], metric
            assert row["comparison"]["change"] == [round(now_[source] - previous, 1)], metric
    # Google the day before: 1 of 2 visitors converted, both rates 50 %; today 20 % / 50 %
    assert expected(P, False)["Google"] == 50.0 and expected(D, False)["Google"] == 20.0


def test_conversion_rate_with_imports_asked_and_none_imported(
    client: Any, converting_key: str, converting: Site
) -> None:
    everyone = visitors_of({D}, lambda v: "all")["all"]
    answer = ask(
        client,
        converting_key,
        body(
            converting,
            date_range=[D.isoformat(), D.isoformat()],
            metrics=["visitors", "conversion_rate"],
            dimensions=["visit:source"],
            filters=GOAL,
            order_by=[["visit:source", "asc"]],
            include={"imports": True},
        ),
    )
    assert rows(answer) == [("Google", 1, rate(1, everyone)), ("Hacker News", 1, rate(1, everyone))]
    assert answer["meta"]["imports_included"] is False


def test_v1_breakdown_and_the_dashboard_graph_keep_the_group_rate(
    client: Any, converting: Site
) -> None:
    from reports.panels import series

    by_source = visitors_of({D}, lambda v: SOURCES[v[2]])
    _, raw = factories.api_key(converting.organization, scopes=("stats:read",))
    v1 = client.get(
        "/api/v1/stats/breakdown",
        {
            "site_id": converting.domain,
            "period": "custom",
            "date": f"{D},{D}",
            "property": "visit:source",
            "metrics": "visitors,conversion_rate",
            "filters": "event:goal==About",
        },
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert v1.status_code == 200, v1.content
    found = {r["source"]: r["conversion_rate"] for r in v1.json()["results"]}
    assert found == {s: rate(1, by_source[s]) for s in ("Google", "Hacker News")}
    daily = visitors_of({P, D}, lambda v: v[0])
    converters = visitors_of({P, D}, lambda v: v[0] if converted(v) else None)
    graph = series(
        converting,
        {
            "site_id": converting.domain,
            "date_range": [P.isoformat(), D.isoformat()],
            "filters": GOAL,
        },
        metric="conversion_rate",
        interval="day",
    )
    assert graph["values"] == [rate(converters[day], daily[day]) for day in (P, D)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        # ordered by the rate not asked (the query asks the other one)
        (
            {
                "metrics": ["visitors", "conversion_rate"],
                "order_by": [["group_conversion_rate", "desc"]],
            },
            "order_by",
        ),
        ({"metrics": ["group_conversion_rate", "group_conversion_rate"]}, "metrics"),
        ({"metrics": ["group_conversion_rate"], "dimensions": ["visit:source"]}, "metrics"),
    ],
)
def test_bad_conversion_rate_queries_are_400(
    client: Any, converting_key: str, converting: Site, fields: dict[str, Any], field: str
) -> None:
    goal = {"filters": GOAL} if "dimensions" not in fields else {}
    answer = ask(client, converting_key, body(converting, **goal, **fields), status=400)
    assert answer["error"].startswith(f"{field}"), answer


def test_another_tenants_site_is_404_for_the_rates(client: Any, key: str, converting: Site) -> None:
    # `key` belongs to another organization's site
    answer = ask(
        client,
        key,
        body(converting, metrics=["group_conversion_rate"], filters=GOAL),
        status=404,
    )
    assert "error" in answer


def test_a_conversion_rate_filtered_by_a_property_divides_by_everyone(
    client: Any, make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    """Plausible leaves the top-level goal and custom property filters out of what a
    conversion rate divides by: of 4 visitors, 1 signed up on the pro plan → 25 %."""
    from sites.models import Goal

    site = make_site("v2-props-conversion-trail.com")
    Goal.objects.create(site=site, kind="event", value="Signup", display_name="Signup")
    when = at(D, 9)
    events = [hit(site, when, "/", ip=f"203.0.113.{n}") for n in range(1, 5)]
    events += [
        hit(site, when, "/", name="Signup", ip="203.0.113.1", props={"plan": "pro"}),
        hit(site, when, "/", name="Signup", ip="203.0.113.2", props={"plan": "free"}),
    ]
    seed(site, events)
    _, key = factories.api_key(site.organization, scopes=("stats:read",))
    filters = [["is", "event:goal", ["Signup"]], ["is", "event:props:plan", ["pro"]]]
    answer = ask(
        client,
        key,
        body(site, metrics=["visitors", "conversion_rate"], filters=filters),
    )
    assert rows(answer) == [(1, 25.0)]
    by_plan = ask(
        client,
        key,
        body(
            site,
            metrics=["visitors", "conversion_rate", "events"],
            dimensions=["event:props:plan"],
            filters=[["is", "event:goal", ["Signup"]]],
        ),
    )
    assert sorted(rows(by_plan)) == [("free", 1, 25.0, 1), ("pro", 1, 25.0, 1)]
