"""The Stats API refuses what it does not know (400 naming the field), never lets a value
into SQL, and never shows another tenant's site."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Role
from events.clickhouse import ClickHouse
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit, post_json

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("guarded-stats-trail.com")
    seed(
        site,
        [
            hit(site, NOW - dt.timedelta(hours=2), "/a'b", ip="192.0.2.7", props={"k'": "v\\"}),
            hit(site, NOW - dt.timedelta(hours=1), "/{site_id:UInt64}", ip="192.0.2.8"),
        ],
    )
    return site


@pytest.fixture
def key(site: Site) -> str:
    _, raw = factories.api_key(site.organization, scopes=("stats:read",))
    return raw


def ask(client: Any, key: str | None, body: Any) -> Any:
    return post_json(client, "/api/v2/query", body, key)


def base(site: Site, **extra: Any) -> dict[str, Any]:
    return {"site_id": site.domain, "metrics": ["visitors"], "date_range": "7d", **extra}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metrics": ["visitors", "revenue"]}, "metrics[1]"),
        ({"metrics": []}, "metrics"),
        ({"metrics": "visitors"}, "metrics"),
        ({"metrics": ["visitors", "visitors"]}, "metrics"),
        ({"dimensions": ["event:nope"]}, "dimensions[0]"),
        ({"dimensions": ["visit:country_code"]}, "dimensions[0]"),
        ({"dimensions": ["event:props:"]}, "dimensions[0]"),
        ({"dimensions": ["time:minute"]}, "dimensions[0]"),
        ({"dimensions": ["time:fortnight"]}, "dimensions[0]"),
        ({"dimensions": ["time:day", "time:hour"]}, "dimensions"),
        ({"dimensions": ["time:hour"], "date_range": "12mo"}, "dimensions"),
        ({"filters": [["equals", "event:page", ["/"]]]}, "filters[0][0]"),
        ({"filters": [["is", "event:page", "/"]]}, "filters[0][2]"),
        ({"filters": [["is", "event:page", []]]}, "filters[0][2]"),
        ({"filters": [["is", "event:page", [1]]]}, "filters[0][2][0]"),
        ({"filters": [["is", "event:page", ["x" * 2001]]]}, "filters[0][2][0]"),
        ({"filters": [["is", "event:page", ["/"] * 101]]}, "filters[0][2]"),
        ({"filters": [["is", "time:day", ["2026-01-01"]]]}, "filters[0][1]"),
        ({"filters": [["is", "event:page", ["/"], {"case": 1}]]}, "filters[0][3]"),
        ({"filters": [["matches", "event:page", ["(unclosed"]]]}, "filters"),  # RE2's verdict
        ({"filters": [["matches", "event:page", ["(?<=a)b"]]]}, "filters"),  # Python's re: valid
        ({"filters": [["matches", "event:goal", ["(unclosed"]]]}, "filters[0][2][0]"),
        ({"filters": [["is", "event:goal", ["No such goal"]]]}, "filters[0][2][0]"),
        ({"filters": [["and", []]]}, "filters[0]"),
        ({"filters": [["not", ["is", "event:page", ["/"]], "extra"]]}, "filters[0]"),
        ({"filters": "event:page==/"}, "filters"),
        ({"filters": [["is"]]}, "filters[0]"),
        ({"order_by": [["revenue", "desc"]]}, "order_by[0]"),
        ({"order_by": [["visitors", "down"]]}, "order_by[0]"),
        ({"order_by": [["event:page", "asc"]]}, "order_by[0]"),
        ({"date_range": "8d"}, "date_range"),
        ({"date_range": ["2026-13-01", "2026-12-31"]}, "date_range[0]"),
        ({"date_range": ["2026-02-01", "2026-01-01"]}, "date_range"),
        ({"date_range": ["2026-01-01"]}, "date_range"),
        ({"date_range": 7}, "date_range"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "'; DROP TABLE events; --"}, "timezone"),
        ({"timezone": 9}, "timezone"),
        ({"pagination": {"limit": 0}}, "pagination.limit"),
        ({"pagination": {"limit": 10_001}}, "pagination.limit"),
        ({"pagination": {"limit": "10"}}, "pagination.limit"),
        ({"pagination": {"offset": -1}}, "pagination.offset"),
        ({"include": {"comparisons": {"mode": "last_week"}}}, "include.comparisons.mode"),
        ({"include": {"total_rows": 1}}, "include.total_rows"),  # a boolean (Plausible)
        ({"include": {"time_labels": "yes"}}, "include.time_labels"),
        ({"sampling": 0}, "sampling"),
        ({"sampling": "fast"}, "sampling"),
        ({"interval": "date"}, "interval"),
        ({"metrics": ["bounce_rate"], "dimensions": ["event:page"]}, "metrics"),
        ({"metrics": ["scroll_depth"], "dimensions": ["visit:source"]}, "metrics"),
        ({"metrics": ["conversion_rate"]}, "metrics"),
        ({"dimensions": ["event:page", "visit:source"]}, "dimensions"),
    ],
    ids=lambda v: str(v)[:50],
)
def test_bad_queries_are_400_naming_the_field(
    client: Any, key: str, site: Site, change: dict[str, Any], field: str
) -> None:
    answer = ask(client, key, base(site, **change))
    assert answer.status_code == 400, answer.content
    message = answer.json()["error"]
    assert message.startswith(f"{field}: "), message


@pytest.mark.parametrize(
    "body", ["[1, 2]", "not json", '"a string"', "{"], ids=["list", "text", "string", "torn"]
)
def test_a_body_that_is_not_a_json_object_is_400(client: Any, key: str, body: str) -> None:
    answer = client.post(
        "/api/v2/query",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert answer.status_code == 400
    assert answer.json()["error"]


def test_site_id_is_required(client: Any, key: str) -> None:
    answer = ask(client, key, {"metrics": ["visitors"], "date_range": "7d"})
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "site_id: required: the site's domain"},
    )


HOSTILE = [
    "'",
    "\\",
    "\\'",
    "/a'b",
    "{site_id:UInt64}",
    "/{site_id:UInt64}",
    "{p0:String}",
    "' OR 1=1 --",
    "'); DROP TABLE events; --",
    "1) OR (1=1",
    "x' UNION SELECT * FROM system.users --",
    "\u0000",
    "%' AND sleep(3) AND '%",
]
FILTER_DIMENSIONS = [
    "event:page",
    "event:name",
    "event:hostname",
    "event:props:k'",
    "event:props:{p1:String}",
    *(f"visit:{d}" for d in ("entry_page", "exit_page", "source", "referrer", "channel")),
    *(f"visit:utm_{d}" for d in ("medium", "source", "campaign", "content", "term")),
    *(f"visit:{d}" for d in ("country", "region", "city", "device", "browser", "browser_version")),
    *(f"visit:{d}" for d in ("os", "os_version", "screen")),
]


@pytest.mark.parametrize("dimension", FILTER_DIMENSIONS)
def test_hostile_values_through_every_filter_are_data(
    client: Any, key: str, site: Site, clickhouse: ClickHouse, dimension: str
) -> None:
    for op in ("is", "is_not", "contains", "contains_not"):
        answer = ask(client, key, base(site, filters=[[op, dimension, HOSTILE]]))
        assert answer.status_code == 200, (op, answer.content)
        [row] = answer.json()["results"]
        # the seeded pages (and so entry and exit pages) are two hostile values; props k' holds "v\\" (contains "\\")
        pages = ("event:page", "visit:entry_page", "visit:exit_page")
        matching = 2 if dimension in pages else 0
        if op.startswith("contains") and dimension == "event:props:k'":
            matching = 1
        expected = 2 - matching if op.endswith("not") else matching
        assert row["metrics"] == [expected], (op, dimension)
    for op in ("matches", "matches_not"):
        patterns = ["'", "\\{site_id:UInt64\\}", "' OR 1=1 --", "x' UNION SELECT 1 --"]
        answer = ask(client, key, base(site, filters=[[op, dimension, patterns]]))
        assert answer.status_code == 200, (op, answer.content)
    answer = ask(client, key, base(site, dimensions=[dimension]))
    assert answer.status_code == 200
    [count] = clickhouse.query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.id}
    )
    assert count["n"] == 2


def test_hostile_props_keys_and_values_round_trip(client: Any, key: str, site: Site) -> None:
    answer = ask(client, key, base(site, metrics=["events"], dimensions=["event:props:k'"]))
    assert answer.json()["results"] == [
        {"metrics": [1], "dimensions": ["(none)"]},
        {"metrics": [1], "dimensions": ["v\\"]},
    ]
    page = ask(client, key, base(site, filters=[["is", "event:page", ["/{site_id:UInt64}"]]]))
    assert page.json()["results"] == [{"metrics": [1], "dimensions": []}]


def test_another_tenants_site_is_404(
    client: Any, site: Site, make_site: Callable[..., Site]
) -> None:
    stranger = make_site("stranger-stats-trail.com")
    _, foreign_key = factories.api_key(stranger.organization, scopes=("stats:read",))
    answer = ask(client, foreign_key, base(site))
    assert (answer.status_code, answer.json()) == (404, {"error": "not found"})
    missing = ask(client, foreign_key, base(site, site_id="nowhere-trail.com"))
    assert missing.status_code == 404


def test_a_key_without_stats_read_is_403(client: Any, site: Site) -> None:
    _, writer = factories.api_key(site.organization, scopes=("events:write", "sites:manage"))
    answer = ask(client, writer, base(site))
    assert answer.status_code == 403
    assert "stats:read" in answer.json()["error"]


def test_no_credentials_is_refused(client: Any, site: Site) -> None:
    answer = ask(client, None, base(site))
    assert answer.status_code in (401, 403)
    bad = ask(client, "trail_not_a_key", base(site))
    assert bad.status_code == 401


def test_a_member_may_query_with_the_session_and_a_stranger_may_not(
    client: Any, site: Site
) -> None:
    viewer = factories.member(site.organization, Role.VIEWER)
    client.force_login(viewer)
    answer = ask(client, None, base(site))
    assert answer.status_code == 200
    assert answer.json()["results"] == [{"metrics": [2], "dimensions": []}]
    client.force_login(factories.user())
    assert ask(client, None, base(site)).status_code == 404


def test_goals_of_a_site_without_goals_are_no_rows(client: Any, key: str, site: Site) -> None:
    answer = ask(client, key, base(site, metrics=["visitors"], dimensions=["event:goal"]))
    assert (answer.status_code, answer.json()["results"]) == (200, [])
