"""A custom event's property keys (`reports.properties`) on events seeded through the real
collector into chDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from reports.properties import MAX_KEYS, property_keys
from sites.models import Site
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

Seed = Callable[[Site, list[dict[str, Any]]], None]

# Two days ago at 10:00 UTC: inside "7d", far from midnight; OLD is outside "7d".
T = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(
    hour=10, minute=0, second=0, microsecond=0
)
OLD = T - dt.timedelta(days=10)


@pytest.fixture
def shop(make_site: Callable[..., Site], seed: Seed) -> Site:
    site = make_site("props-shop.example.com")
    other = make_site("props-other.example.com")
    seed(
        site,
        [
            hit(site, T, name="Signup", props={"plan": "pro", "ref": "ad"}),
            hit(site, T, name="Signup", props={"plan": "free", "ref": "blog"}, ip="192.0.2.2"),
            hit(site, T, name="Signup", props={"plan": "pro"}, ip="192.0.2.3"),
            hit(site, T, name="Download", props={"file": "a.pdf"}),
            hit(site, OLD, name="Signup", props={"coupon": "X1"}),
        ],
    )
    seed(other, [hit(other, T, name="Signup", props={"secret": "theirs"})])
    return site


def test_keys_of_the_event_in_the_range_most_used_first(shop: Site) -> None:
    assert property_keys(site=shop, date_range="7d", event="Signup") == ["plan", "ref"]


def test_a_date_range_of_days_reads_those_days_only(shop: Site) -> None:
    day = OLD.date().isoformat()
    assert property_keys(site=shop, date_range=[day, day], event="Signup") == ["coupon"]


def test_another_event_or_site_is_not_read(shop: Site) -> None:
    assert property_keys(site=shop, date_range="30d", event="Download") == ["file"]
    assert "secret" not in property_keys(site=shop, date_range="30d", event="Signup")
    assert property_keys(site=shop, date_range="7d", event="Nothing") == []


def test_at_most_max_keys_ties_by_name(make_site: Callable[..., Site], seed: Seed) -> None:
    site = make_site("props-wide.example.com")
    props = {f"k{i:02}": "v" for i in range(MAX_KEYS + 1)}
    seed(site, [hit(site, T, name="Wide", props=props)])
    assert property_keys(site=site, date_range="7d", event="Wide") == sorted(props)[:MAX_KEYS]
