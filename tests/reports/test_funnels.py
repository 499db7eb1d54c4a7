"""Funnels (`POST /api/v1/funnels/query`) on traffic seeded through the real collector."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Role
from reports import funnels
from reports.query import ParseContext
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit, post_json

pytestmark = pytest.mark.django_db

PATH = "/api/v1/funnels/query"
Seed = Callable[[Site, list[dict[str, Any]]], None]
MakeSite = Callable[..., Site]

# Two days ago at 10:00 UTC: inside "7d" and the batch API's 30 days, far from midnight.
T = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(
    hour=10, minute=0, second=0, microsecond=0
)
MIN = dt.timedelta(minutes=1)

HOME = {"type": "page", "pattern": "/"}
PRICING = {"type": "page", "pattern": "/pricing"}
SIGNUP = {"type": "event", "name": "Signup"}


def ip(n: int) -> str:
    return f"192.0.2.{n}"


def body(site: Site, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"site_id": site.domain, "date_range": "7d", "steps": steps, **extra}


def stats_key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("stats:read",))[1]


def query(client: Any, site: Site, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    answer = post_json(client, PATH, body(site, steps, **extra), stats_key(site))
    assert answer.status_code == 200, answer.content
    result: dict[str, Any] = answer.json()
    return result


def visitors(result: dict[str, Any]) -> list[int]:
    return [step["visitors"] for step in result["steps"]]


@pytest.fixture
def shop(make_site: MakeSite, seed: Seed) -> Site:
    """4 visitors view /, 3 of them then /pricing, 2 of those sign up within 30 minutes
    of their first step, the third 40 minutes after it."""
    site = make_site("shop.example.com")
    seed(
        site,
        [
            *(hit(site, T, "/", ip=ip(n)) for n in (1, 2, 3, 4)),
            hit(site, T + MIN, "/pricing", ip=ip(1)),
            hit(site, T + 5 * MIN, "/pricing", ip=ip(2)),
            hit(site, T + MIN, "/pricing", ip=ip(3)),
            hit(site, T + 2 * MIN, name="Signup", ip=ip(1)),
            hit(site, T + 10 * MIN, name="Signup", ip=ip(2)),
            hit(site, T + 40 * MIN, name="Signup", ip=ip(3)),
            # Engagement events are no steps: this one must not make visitor 4 convert.
            hit(site, T + 2 * MIN, "/pricing", name="engagement", ip=ip(4)),
        ],
    )
    return site


def test_step_counts_conversion_and_dropoff(client: Any, shop: Site) -> None:
    result = query(client, shop, [HOME, PRICING, SIGNUP])
    assert result["steps"] == [
        {
            "label": "Visit /",
            "type": "page",
            "pattern": "/",
            "visitors": 4,
            "conversion_rate": 100.0,
            "conversion_rate_step": 100.0,
            "dropoff": 0,
            "dropoff_percentage": 0.0,
        },
        {
            "label": "Visit /pricing",
            "type": "page",
            "pattern": "/pricing",
            "visitors": 3,
            "conversion_rate": 75.0,
            "conversion_rate_step": 75.0,
            "dropoff": 1,
            "dropoff_percentage": 25.0,
        },
        {
            "label": "Signup",
            "type": "event",
            "name": "Signup",
            "visitors": 2,
            "conversion_rate": 50.0,
            "conversion_rate_step": 66.67,
            "dropoff": 1,
            "dropoff_percentage": 33.33,
        },
    ]
    assert (result["entered"], result["converted"], result["conversion_rate"]) == (4, 2, 50.0)
    today = dt.datetime.now(dt.UTC).date()
    assert result["meta"] == {
        "site_id": "shop.example.com",
        "date_range": [(today - dt.timedelta(days=6)).isoformat(), today.isoformat()],
        "timezone": "UTC",
        "window": 1800,
        "counted_by": "visitor",
        "sampled": False,
        "sample_fraction": None,
    }


def test_a_sample_of_visitors_is_a_sample_of_whole_funnels(
    client: Any, shop: Site, clickhouse: Any
) -> None:
    """Sampling reads a fraction of visitors (each with all their events) and scales up."""
    result = query(client, shop, [HOME, PRICING, SIGNUP], sampling=0.5)
    assert (result["meta"]["sampled"], result["meta"]["sample_fraction"]) == (True, 0.5)
    [row] = clickhouse.query(
        "SELECT uniqExact(visitor_id) AS n FROM events SAMPLE 0.5 WHERE site_id = {s:UInt64}",
        {"s": shop.pk},
    )
    assert result["entered"] == 2 * int(row["n"])  # everybody viewed /
    counts = visitors(result)
    assert all(n % 2 == 0 for n in counts) and counts == sorted(counts, reverse=True)
    exact = query(client, shop, [HOME, PRICING, SIGNUP], sampling="exact")
    assert visitors(exact) == [4, 3, 2] and exact["meta"]["sampled"] is False


def test_sampling_starts_above_the_row_threshold(client: Any, shop: Site, settings: Any) -> None:
    settings.TRAIL = dataclasses.replace(settings.TRAIL, report_sample_rows=1)
    result = query(client, shop, [HOME, PRICING])
    assert result["meta"]["sampled"] is True
    assert 0.01 <= result["meta"]["sample_fraction"] < 1


def test_filters_choose_the_events_a_funnel_considers(client: Any, shop: Site) -> None:
    """The Stats API's filters: here, the visitors who viewed /pricing within a minute."""
    early = ["is", "event:page", ["/", "/pricing"]]
    result = query(client, shop, [HOME, PRICING], filters=[early])
    assert visitors(result) == [4, 3]
    signups = query(client, shop, [HOME, SIGNUP], filters=[["is_not", "event:name", ["Signup"]]])
    assert visitors(signups) == [4, 0]
    bad = post_json(
        client, PATH, body(shop, [HOME, PRICING], filters=[["equals"]]), stats_key(shop)
    )
    assert bad.status_code == 400 and bad.json()["error"].startswith("filters[0]")


def test_a_longer_window_lets_the_late_signup_convert(client: Any, shop: Site) -> None:
    assert visitors(query(client, shop, [HOME, PRICING, SIGNUP], window=3600)) == [4, 3, 3]
    # The window counts from the first step: 40 minutes is just out of 2,399 seconds.
    assert visitors(query(client, shop, [HOME, PRICING, SIGNUP], window=2399)) == [4, 3, 2]
    assert visitors(query(client, shop, [HOME, PRICING, SIGNUP], window=2400)) == [4, 3, 3]
    # A 5-minute window: visitor 2 reached /pricing only at +5 minutes, signed up at +10.
    assert visitors(query(client, shop, [HOME, PRICING, SIGNUP], window=300)) == [4, 3, 1]


def test_the_date_range_bounds_the_events(client: Any, shop: Site) -> None:
    day = T.date().isoformat()
    assert visitors(query(client, shop, [HOME, SIGNUP], date_range=[day, day])) == [4, 2]
    before = (T.date() - dt.timedelta(days=1)).isoformat()
    assert visitors(query(client, shop, [HOME, SIGNUP], date_range=[before, before])) == [0, 0]
    assert visitors(query(client, shop, [HOME, SIGNUP], date_range="all")) == [4, 2]


def test_no_visitors_gives_zero_rates(client: Any, shop: Site) -> None:
    result = query(client, shop, [{"type": "page", "pattern": "/nowhere"}, SIGNUP])
    assert visitors(result) == [0, 0]
    assert (result["entered"], result["converted"], result["conversion_rate"]) == (0, 0, 0.0)
    assert {step["conversion_rate"] for step in result["steps"]} == {0.0}
    assert {step["dropoff_percentage"] for step in result["steps"]} == {0.0}


def test_order_matters(client: Any, make_site: MakeSite, seed: Seed) -> None:
    site = make_site("order.example.com")
    seed(
        site,
        [
            # Visitor 1 signs up, then looks at /pricing; visitor 2 the other way round.
            hit(site, T, name="Signup", ip=ip(1)),
            hit(site, T + MIN, "/pricing", ip=ip(1)),
            hit(site, T + MIN, "/pricing", ip=ip(2)),
            hit(site, T + 2 * MIN, name="Signup", ip=ip(2)),
        ],
    )
    assert visitors(query(client, site, [PRICING, SIGNUP])) == [2, 1]
    assert visitors(query(client, site, [SIGNUP, PRICING])) == [2, 1]


def test_one_event_completes_one_step(client: Any, make_site: MakeSite, seed: Seed) -> None:
    site = make_site("blog.example.com")
    seed(
        site,
        [
            hit(site, T, "/blog/a", ip=ip(1)),
            hit(site, T, "/blog/a", ip=ip(2)),
            hit(site, T + MIN, "/blog/b", ip=ip(2)),
        ],
    )
    blog = {"type": "page", "pattern": "/blog/*"}
    assert visitors(query(client, site, [blog, blog])) == [2, 1]
    assert visitors(query(client, site, [blog, blog, blog])) == [2, 1, 0]


def test_overlapping_steps(client: Any, make_site: MakeSite, seed: Seed) -> None:
    """Steps one event can match: each event completes at most one step, and a later
    event matching step 1 as well does not lose the step it completes."""
    site = make_site("overlap.example.com")
    seed(
        site,
        [
            hit(site, T, "/", ip=ip(1)),  # any page, then /pricing: converts
            hit(site, T + MIN, "/pricing", ip=ip(1)),
            hit(site, T, "/pricing", ip=ip(2)),  # /pricing alone: only step 1
            hit(site, T, "/blog/a", ip=ip(3)),  # then X, A, A below
            hit(site, T + MIN, "/docs", ip=ip(3)),
            hit(site, T + 2 * MIN, "/docs", ip=ip(3)),
        ],
    )
    anything = {"type": "page", "pattern": "*"}
    docs = {"type": "page", "pattern": "/docs"}
    assert visitors(query(client, site, [anything, PRICING])) == [3, 1]
    assert visitors(query(client, site, [{"type": "page", "pattern": "/blog/*"}, docs, docs])) == [
        1,
        1,
        1,
    ]
    assert visitors(query(client, site, [anything, anything, anything])) == [3, 2, 1]
    assert visitors(query(client, site, [anything, docs, anything])) == [3, 1, 1]


def test_eight_steps(client: Any, make_site: MakeSite, seed: Seed) -> None:
    site = make_site("eight.example.com")
    paths = [f"/s{n}" for n in range(8)]
    seed(
        site,
        [
            *(hit(site, T + n * MIN, path, ip=ip(1)) for n, path in enumerate(paths)),
            *(hit(site, T + n * MIN, path, ip=ip(2)) for n, path in enumerate(paths[:5])),
        ],
    )
    steps = [{"type": "page", "pattern": path} for path in paths]
    result = query(client, site, steps)
    assert visitors(result) == [2, 2, 2, 2, 2, 1, 1, 1]
    assert [s["dropoff"] for s in result["steps"]] == [0, 0, 0, 0, 0, 1, 0, 0]
    assert result["conversion_rate"] == 50.0


PAGES = ["/", "/blog", "/blog/", "/blog/a", "/blog/x/y", "/blogs/z", "/abc", "/a.*(b", "/it's"]


@pytest.fixture
def pages(make_site: MakeSite, seed: Seed) -> Site:
    """One visitor per page, each of whom also sends a Signup."""
    site = make_site("pages.example.com")
    events = []
    for n, path in enumerate(PAGES, start=1):
        events += [hit(site, T, path, ip=ip(n)), hit(site, T + MIN, name="Signup", ip=ip(n))]
    seed(site, events)
    return site


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ("/blog/*", 3),  # /blog/, /blog/a, /blog/x/y: `*` crosses slashes
        ("/blog", 1),  # whole path only
        ("/blog*", 5),
        ("*", len(PAGES)),
        ("/a*c", 1),
        ("/a.c", 0),  # the dot is a dot
        ("/a.*(b", 1),  # regex metacharacters are literal
        (".*(", 0),
        ("/it's", 1),
        ("/*'*", 1),
    ],
)
def test_page_patterns(client: Any, pages: Site, pattern: str, matched: int) -> None:
    step = {"type": "page", "pattern": pattern}
    assert visitors(query(client, pages, [step, SIGNUP])) == [matched, matched]


HOSTILE = [
    "'",
    '"',
    "\\",
    "\\'",
    "') OR 1=1 --",
    "' OR ''='",
    "{x:String}",
    "{site_id:UInt64}",
    ".*(",
    "[",
    "(?i)/",
    "a\x00b",
    "%",
    "_",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_patterns_and_names_are_literal(client: Any, pages: Site, text: str) -> None:
    page = query(client, pages, [{"type": "page", "pattern": text}, SIGNUP])
    event = query(
        client, pages, [{"type": "page", "pattern": "*"}, {"type": "event", "name": text}]
    )
    assert visitors(page) == [0, 0]
    assert visitors(event) == [len(PAGES), 0]


def test_page_regex_escapes_everything_but_the_star() -> None:
    assert funnels.page_regex("/blog/*") == "^/blog/.*$"
    assert funnels.page_regex("/a.b(c)|d*") == r"^/a\.b\(c\)\|d.*$"
    assert funnels.page_regex("{x}'\\") == "^\\{x\\}'\\\\$"
    for pattern in ["/a.*(b", "/p?q=1&r[]=2", "/$^+|{}", "\\d\\w"]:
        regex = funnels.page_regex(pattern)
        assert re.fullmatch(regex.removeprefix("^").removesuffix("$"), pattern)


def test_the_sql_binds_every_value() -> None:
    site = Site(pk=7, domain="x.example.com", timezone="UTC", created_at=T)
    query = funnels.parse(
        body(site, [{"type": "page", "pattern": "/a'*"}, {"type": "event", "name": "') OR 1=1"}]),
        site=site,
        context=ParseContext(),
    )
    sql, params = funnels.funnel_select(site=site, query=query).render()
    assert sql == (
        "SELECT level, count() AS visitors FROM ("
        "SELECT visitor_id, windowFunnel({window:UInt64})(at, step = 0, step = 1) AS level FROM ("
        "SELECT visitor_id, arrayJoin(arrayFilter((k, hit) -> hit, range({steps:UInt8}),"
        " [(name = 'pageview' AND match(pathname, {step_0:String})), (name = {step_1:String})]))"
        " AS step,"
        " toUInt64(toUnixTimestamp64Milli(timestamp) * {steps:UInt8} + {steps:UInt8} - 1 - step)"
        " AS at"
        " FROM events WHERE site_id = {site_id:UInt64}"
        " AND (toDate(timestamp) >= toDate({p0:DateTime64(3, 'UTC')})"
        " AND toDate(timestamp) <= toDate({p1:DateTime64(3, 'UTC')})"
        " AND timestamp >= {p0:DateTime64(3, 'UTC')} AND timestamp < {p1:DateTime64(3, 'UTC')})"
        " AND (name != 'engagement')"
        " AND ((name = 'pageview' AND match(pathname, {step_0:String}))"
        " OR (name = {step_1:String}))"
        ") GROUP BY visitor_id) WHERE (level > 0) GROUP BY level"
    )
    assert params["step_0"] == "^/a'.*$"
    assert params["step_1"] == "') OR 1=1"
    assert params["window"] == 1_800_000 * 2  # milliseconds × steps
    assert params["steps"] == 2
    assert (params["p0"], params["p1"]) == (query.date_range.start, query.date_range.end)
    assert params["site_id"] == 7


# Bad bodies: 400 naming the field


@pytest.fixture
def target(make_site: MakeSite) -> tuple[Site, str]:
    site = make_site("bad.example.com")
    return site, stats_key(site)


def steps_of(count: int) -> list[dict[str, Any]]:
    return [{"type": "page", "pattern": f"/s{n}"} for n in range(count)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": steps_of(1)}, "steps"),
        ({"steps": steps_of(9)}, "steps"),
        ({"steps": []}, "steps"),
        ({"steps": "/a,/b"}, "steps"),
        ({"steps": None}, "steps"),
        ({"steps": [HOME, {"type": "click", "pattern": "/x"}]}, "steps[1].type"),
        ({"steps": [HOME, {"pattern": "/x"}]}, "steps[1].type"),
        ({"steps": [HOME, "/x"]}, "steps[1]"),
        ({"steps": [HOME, {"type": "page", "pattern": ""}]}, "steps[1].pattern"),
        ({"steps": [HOME, HOME, {"type": "page"}]}, "steps[2].pattern"),
        ({"steps": [HOME, {"type": "page", "pattern": 3}]}, "steps[1].pattern"),
        ({"steps": [HOME, {"type": "page", "pattern": "/" * 2001}]}, "steps[1].pattern"),
        ({"steps": [{"type": "event", "name": ""}, HOME]}, "steps[0].name"),
        ({"steps": [{"type": "event", "pattern": "/x"}, HOME]}, "steps[0].pattern"),
        ({"steps": [{"type": "page", "pattern": "/", "name": "x"}, HOME]}, "steps[0].name"),
        ({"window": 0}, "window"),
        ({"window": -5}, "window"),
        ({"window": 90 * 86400 + 1}, "window"),
        ({"window": 10**30}, "window"),
        ({"window": "1800"}, "window"),
        ({"window": 1800.5}, "window"),
        ({"window": True}, "window"),
        ({"window": None}, "window"),
        ({"date_range": "yesterday"}, "date_range"),
        ({"date_range": ["2024-01-02"]}, "date_range"),
        ({"date_range": ["2024-01-01", "soon"]}, "date_range[1]"),
        ({"site_id": ""}, "site_id"),
        ({"site_id": 42}, "site_id"),
        ({"interval": "day"}, "interval"),
        ({"Window": 60}, "Window"),
        ({"sampling": "sometimes"}, "sampling"),
        ({"sampling": 0}, "sampling"),
        ({"sampling": 2}, "sampling"),
        ({"sampling": True}, "sampling"),
    ],
)
def test_bad_bodies(
    client: Any, target: tuple[Site, str], change: dict[str, Any], field: str
) -> None:
    site, key = target
    answer = post_json(client, PATH, {**body(site, [HOME, SIGNUP]), **change}, key)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith(f"{field}: "), answer.json()


def test_missing_keys(client: Any, target: tuple[Site, str]) -> None:
    site, key = target
    for missing, field in [
        ("steps", "steps"),
        ("date_range", "date_range"),
        ("site_id", "site_id"),
    ]:
        sent = body(site, [HOME, SIGNUP])
        del sent[missing]
        answer = post_json(client, PATH, sent, key)
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"].startswith(f"{field}: ")


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe{}", b'{"site_id": NaN'])
def test_not_json(client: Any, target: tuple[Site, str], raw: bytes) -> None:
    _, key = target
    answer = client.post(
        PATH, data=raw, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("body: ")


@pytest.mark.parametrize("sent", [[], "x", 1, None, [{"site_id": "bad.example.com"}]])
def test_not_an_object(client: Any, target: tuple[Site, str], sent: Any) -> None:
    _, key = target
    answer = post_json(client, PATH, sent, key)
    assert answer.status_code == 400
    assert answer.json() == {"error": "body: expected a JSON object"}


def test_text_plain_is_read_as_json(client: Any, target: tuple[Site, str]) -> None:
    site, key = target
    answer = client.post(
        PATH,
        data=json.dumps(body(site, [HOME, SIGNUP])),
        content_type="text/plain",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert answer.status_code == 200, answer.content


# Tenancy and scopes


def test_another_tenants_site_is_not_found(client: Any, shop: Site, make_site: MakeSite) -> None:
    other = make_site("other.example.com")
    answer = post_json(client, PATH, body(shop, [HOME, SIGNUP]), stats_key(other))
    assert answer.status_code == 404
    assert answer.json() == {"error": "not found"}
    # Not even a bad body tells a stranger anything but "not found".
    answer = post_json(client, PATH, body(shop, steps_of(1)), stats_key(other))
    assert answer.status_code == 404


def test_unknown_site_is_not_found(client: Any, target: tuple[Site, str]) -> None:
    _, key = target
    answer = post_json(
        client, PATH, {**body(target[0], [HOME, SIGNUP]), "site_id": "nope.example.com"}, key
    )
    assert answer.status_code == 404


@pytest.mark.parametrize("scopes", [("events:write",), ("sites:manage", "events:write")])
def test_a_key_without_stats_read_is_forbidden(
    client: Any, shop: Site, scopes: tuple[str, ...]
) -> None:
    _, raw = factories.api_key(shop.organization, scopes=scopes)
    answer = post_json(client, PATH, body(shop, [HOME, SIGNUP]), raw)
    assert answer.status_code == 403
    assert "stats:read" in answer.json()["error"]


def test_anonymous_and_bad_keys(client: Any, shop: Site) -> None:
    assert post_json(client, PATH, body(shop, [HOME, SIGNUP])).status_code in (401, 403)
    answer = post_json(client, PATH, body(shop, [HOME, SIGNUP]), "trail_not_a_key")
    assert answer.status_code == 401


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.VIEWER])
def test_members_signed_in_may_query(client: Any, shop: Site, role: Role) -> None:
    if role == Role.OWNER:
        membership = shop.organization.memberships.get(role=Role.OWNER)
        person = membership.user
    else:
        person = factories.member(shop.organization, role)
    client.force_login(person)
    answer = post_json(client, PATH, body(shop, [HOME, PRICING, SIGNUP]))
    assert answer.status_code == 200, answer.content
    assert visitors(answer.json()) == [4, 3, 2]


def test_a_signed_in_stranger_gets_404(client: Any, shop: Site) -> None:
    client.force_login(factories.user())
    answer = post_json(client, PATH, body(shop, [HOME, SIGNUP]))
    assert answer.status_code == 404
    assert answer.json() == {"error": "not found"}
