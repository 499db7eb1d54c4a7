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

import datetime as dt
from typing import Any

import pytest

from sites.models import Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, SAFARI_MAC, hit, post_json, seed_sites

TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=10)
D1 = D + dt.timedelta(days=1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def world(site: Site) -> list[dict[str, Any]]:
    v1 = {"ip": "192.0.2.1", "user_agent": FIREFOX}
    v2 = {"ip": "192.0.2.2", "user_agent": CHROME_ANDROID}
    v3 = {"ip": "192.0.2.3", "user_agent": SAFARI_MAC}
    v4 = {"ip": "192.0.2.4", "user_agent": FIREFOX}
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
        hit(site, at(D1, 9, 0), "/blog/a", **v3),
        hit(site, at(D1, 9, 1), "/blog/b", **v3),
        hit(site, at(D, 23, 30), "/pricing", referrer="https://news.ycombinator.com/", **v4),
    ]


@pytest.fixture(scope="module")
def sites(django_db_setup: None, django_db_blocker: Any, clickhouse: Any) -> dict[str, Site]:
    return seed_sites(
        django_db_blocker,
        clickhouse,
        {
            "utc": ("stats-utc-trail.com", "UTC"),
            "la": ("stats-la-trail.com", "America/Los_Angeles"),
            "tokyo": ("stats-tokyo-trail.com", "Asia/Tokyo"),
        },
        world,
        goals=(("event", "Signup", "Signup"), ("pageview", "/pricing", "Visit pricing")),
    )


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
