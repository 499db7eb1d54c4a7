"""Revenue metrics of the Stats API (reports/revenue.py), on events sent through the real
collector.

Day D (10 days ago, UTC): V1 buys twice (Purchase 9.50 EUR, 20.50 EUR), V2 once in USD
(5 USD: not counted in EUR) and signs up; Purchase is a EUR revenue goal, Signup a goal
without revenue. The day before D (the previous period of [D, D]): nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from reports.query import Condition, GoalDefinition
from reports.revenue import currency_of, money
from sites.models import Goal, Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, drop_seeded, hit, post_json, seed_sites

D = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=10)


def at(hour: int) -> dt.datetime:
    return dt.datetime.combine(D, dt.time(hour), tzinfo=dt.UTC)


def world(site: Site) -> list[dict[str, Any]]:
    v1 = {"ip": "198.51.100.1", "user_agent": FIREFOX}
    v2 = {"ip": "198.51.100.2", "user_agent": CHROME_ANDROID}
    euros = [{"amount": "9.50", "currency": "EUR"}, {"amount": 20.5, "currency": "EUR"}]
    return [
        hit(site, at(10), "/", **v1),
        *(hit(site, at(11), "/buy", name="Purchase", revenue=r, **v1) for r in euros),
        hit(site, at(12), "/", **v2),
        hit(site, at(12), "/buy", name="Purchase", revenue={"amount": 5, "currency": "USD"}, **v2),
        hit(site, at(13), "/", name="Signup", **v2),
    ]


@pytest.fixture(scope="module")
def site(django_db_setup: None, django_db_blocker: Any, clickhouse: Any) -> Iterator[Site]:
    made = seed_sites(
        django_db_blocker,
        clickhouse,
        {"shop": ("revenue-shop-trail.com", "UTC")},
        world,
        goals=(("event", "Purchase", "Purchase"), ("event", "Signup", "Signup")),
    )
    with django_db_blocker.unblock():
        Goal.objects.filter(site=made["shop"], value="Purchase").update(currency="EUR")
    yield made["shop"]
    drop_seeded(django_db_blocker, made)


@pytest.fixture
def key(site: Site, db: None) -> str:
    _, raw = factories.api_key(site.organization, scopes=("stats:read",))
    return raw


def ask(client: Any, key: str, site: Site, **body: Any) -> dict[str, Any]:
    body.setdefault("date_range", [D.isoformat(), D.isoformat()])
    answer = post_json(client, "/api/v2/query", {"site_id": site.domain, **body}, key)
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


REVENUE = ["visitors", "events", "conversion_rate", "total_revenue", "average_revenue"]


def test_a_revenue_goal_filter_sums_and_averages_its_currency(
    client: Any, key: str, site: Site
) -> None:
    answer = ask(client, key, site, metrics=REVENUE, filters=[["is", "event:goal", ["Purchase"]]])
    [row] = answer["results"]
    assert row["metrics"] == [
        2,
        3,
        100.0,
        {"short": "€30", "long": "€30.00", "value": 30.0, "currency": "EUR"},
        {"short": "€15", "long": "€15.00", "value": 15.0, "currency": "EUR"},
    ]


def test_without_a_revenue_goal_the_metrics_are_null(client: Any, key: str, site: Site) -> None:
    plain = ask(client, key, site, metrics=["visitors", "total_revenue"])
    assert plain["results"][0]["metrics"] == [2, None]
    signup = ask(
        client,
        key,
        site,
        metrics=["total_revenue", "average_revenue"],
        filters=[["is", "event:goal", ["Signup"]]],
    )
    assert signup["results"][0]["metrics"] == [None, None]


def test_revenue_compared_with_an_empty_period(client: Any, key: str, site: Site) -> None:
    answer = ask(
        client,
        key,
        site,
        metrics=["total_revenue"],
        filters=[["is", "event:goal", ["Purchase"]]],
        include={"comparisons": {"mode": "previous_period"}},
    )
    comparison = answer["results"][0]["comparison"]
    assert comparison["metrics"][0]["value"] == 0
    assert comparison["change"] == [100]


def test_currency_of_the_goals_filtered_on() -> None:
    goals = (
        GoalDefinition("Purchase", "event", "Purchase", "EUR"),
        GoalDefinition("Renewal", "event", "Renewal", "EUR"),
        GoalDefinition("Tip", "event", "Tip", "USD"),
        GoalDefinition("Signup", "event", "Signup"),
    )

    def of(*names: str, op: str = "is") -> str:
        return currency_of((Condition(op, "event:goal", names),), goals)

    assert of("Purchase") == "EUR"
    assert of("Purchase", "Renewal") == "EUR"
    assert of("Purchase", "Tip") == ""  # two currencies
    assert of("Signup") == ""
    assert of("Purchase", op="is_not") == ""
    assert currency_of((), goals) == ""


def test_money_as_plausible_writes_it() -> None:
    assert money(1234.5, "USD") == {
        "short": "$1.2K",
        "long": "$1,234.50",
        "value": 1234.5,
        "currency": "USD",
    }
    assert money(9.5, "EUR")["short"] == "€9.5"
    assert money(7, "SEK")["long"] == "SEK 7.00"
