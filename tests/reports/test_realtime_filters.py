"""Realtime under the dashboard's filters, and its breakdowns by country, device, browser and
OS (reports/realtime.py), on traffic seeded through the real collector into the embedded
ClickHouse, with a GeoIP database that places the test addresses."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.errors import ServiceError
from reports import realtime
from reports.parse import parse_filters
from sites.models import Goal, Site
from tests.reports.conftest import CHROME_ANDROID, SAFARI_MAC, hit
from tests.reports.test_stats_api import places

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)
GOOGLE = "https://www.google.com/"
NOW = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(
    hour=12, minute=0, second=30, microsecond=0
)
GB, DE, US = "81.2.69.1", "91.198.174.1", "81.2.70.1"  # as `places` locates them
EVERY = ("countries", "devices", "browsers", "os")


def traffic(site: Site) -> list[dict[str, Any]]:
    return [
        # a British Firefox from Google: two pageviews (the second without a referrer)
        hit(site, NOW - 2 * MIN, "/", ip=GB, referrer=GOOGLE),
        hit(site, NOW - MIN, "/pricing", ip=GB, referrer=f"https://{site.domain}/"),
        # a German phone, direct, with a custom event
        hit(site, NOW - 3 * MIN, "/blog", ip=DE, user_agent=CHROME_ANDROID),
        hit(site, NOW - 3 * MIN, "/blog", name="Signup", ip=DE, user_agent=CHROME_ANDROID),
        # an American Mac 20 minutes ago: in the 30 minutes, not among the visitors now
        hit(site, NOW - 20 * MIN, "/", ip=US, user_agent=SAFARI_MAC, referrer="https://duck.com/"),
        # a British phone 40 minutes ago from Google: outside everything
        hit(site, NOW - 40 * MIN, "/blog", ip="81.2.69.2", user_agent=CHROME_ANDROID,
            referrer=GOOGLE),
    ]  # fmt: skip


@pytest.fixture
def located(
    make_site: Callable[..., Site],
    seed: Callable[..., None],
    tmp_path: Path,
) -> Site:
    """The site, and a neighbour with the same traffic: no figure may count it."""
    geoip = places(tmp_path / "city.mmdb")
    trail = dataclasses.replace(
        settings.TRAIL, ingest=dataclasses.replace(settings.TRAIL.ingest, geoip_database=geoip)
    )
    site = make_site("realtime-filters.example.com", timezone="Europe/Paris")
    Goal.objects.create(site=site, kind=Goal.Kind.EVENT, value="Signup", display_name="Signup")
    neighbour = make_site("realtime-neighbour.example.com")
    with override_settings(TRAIL=trail):
        seed(site, traffic(site))
        seed(neighbour, traffic(neighbour))
    return site


def ask(site: Site, *filters: list[Any]) -> dict[str, Any]:
    return realtime.realtime(
        site=site, now=NOW, totals=True, filters=list(filters), breakdowns=EVERY
    )


def rows(result: dict[str, Any], name: str) -> dict[str, int]:
    return {row["label"]: row["visitors"] for row in result["breakdowns"][name]}


def figures(result: dict[str, Any]) -> tuple[int, int, int]:
    """Visitors now, and the 30 minutes' visitors and pageviews."""
    totals = result["totals"]
    return result["visitors"], totals["visitors"], totals["pageviews"]


def test_without_filters(located: Site) -> None:
    result = ask(located)
    assert figures(result) == (2, 3, 4)
    assert rows(result, "countries") == {"GB": 1, "DE": 1, "US": 1}
    assert rows(result, "devices") == {"Desktop": 2, "Mobile": 1}
    assert rows(result, "browsers") == {"Firefox": 1, "Chrome": 1, "Safari": 1}
    assert rows(result, "os") == {"GNU/Linux": 1, "Android": 1, "Mac": 1}
    assert sum(minute["pageviews"] for minute in result["minutes"]) == 4


def test_a_source_filter_keeps_its_visits_whole(located: Site) -> None:
    """`visit:source` is a visit's: the second pageview, without a referrer of its own,
    belongs to the visit from Google (a guarded subquery on `sessions`)."""
    result = ask(located, ["is", "visit:source", ["Google"]])
    assert figures(result) == (1, 1, 2)
    assert result["pages"] == [{"page": "/", "visitors": 1}, {"page": "/pricing", "visitors": 1}]
    assert result["sources"] == [{"source": "Google", "visitors": 1}]
    assert rows(result, "countries") == {"GB": 1}
    assert rows(result, "devices") == {"Desktop": 1}
    assert sum(minute["pageviews"] for minute in result["minutes"]) == 2


def test_a_negated_filter(located: Site) -> None:
    result = ask(located, ["is_not", "visit:source", ["Google"]])
    assert figures(result) == (1, 2, 2)
    assert rows(result, "countries") == {"DE": 1, "US": 1}
    assert {s["source"] for s in result["sources"]} == {"Direct / None", "DuckDuckGo"}


def test_a_country_and_a_device(located: Site) -> None:
    result = ask(located, ["is", "visit:country", ["DE"]])
    assert figures(result) == (1, 1, 1)
    assert result["pages"] == [{"page": "/blog", "visitors": 1}]
    assert result["sources"] == [{"source": "Direct / None", "visitors": 1}]
    assert rows(result, "os") == {"Android": 1}

    both = ask(located, ["is", "visit:device", ["Desktop"]], ["contains", "event:page", ["pric"]])
    assert figures(both) == (1, 1, 1)
    assert both["pages"] == [{"page": "/pricing", "visitors": 1}]


def test_a_goal_filter(located: Site) -> None:
    result = ask(located, ["is", "event:goal", ["Signup"]])
    assert (result["visitors"], result["totals"]["visitors"]) == (1, 1)
    assert rows(result, "countries") == {"DE": 1}
    assert result["pages"] == []  # the goal is an event, not a pageview


def test_a_filter_nothing_matches(located: Site) -> None:
    result = ask(located, ["is", "visit:source", ["Bing"]])
    assert figures(result) == (0, 0, 0)
    assert result["pages"] == result["sources"] == []
    assert all(result["breakdowns"][name] == [] for name in EVERY)


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ([["is", "visit:nope", ["x"]]], "filters[0]"),
        ([["equals", "visit:source", ["Google"]]], "filters[0]"),
        ("visit:source", "filters"),
        ([["matches", "event:page", ["(unclosed"]]], "filters"),
    ],
)
def test_bad_filters_are_named(located: Site, filters: Any, field: str) -> None:
    with pytest.raises(ServiceError) as raised:
        realtime.realtime(site=located, now=NOW, filters=filters)
    assert (raised.value.field or "").startswith(field)


def test_every_filtered_read_carries_the_site_guard() -> None:
    site = Site(pk=9, domain="x.example.com", timezone="UTC")
    window = realtime.Window(NOW, filters=parse_filters([["is", "visit:source", ["G"]]], ()))
    for select in (
        realtime.pages_select(site=site, window=window),
        realtime.breakdown_select(site=site, window=window, dimension="visit:country"),
    ):
        sql, params = select.render()
        # the outer read and the subquery on visits each carry the guard
        assert sql.count("site_id = {site_id:UInt64}") == 2, sql
        assert "FROM sessions" in sql and params["site_id"] == 9


def test_only_a_visitors_own_dimension_is_a_breakdown() -> None:
    site = Site(pk=9, domain="x.example.com", timezone="UTC")
    with pytest.raises(ValueError, match="visit:source"):
        realtime.breakdown_select(site=site, window=realtime.Window(NOW), dimension="visit:source")
