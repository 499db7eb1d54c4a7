"""What parsing needs from storage (`reports.context.load_context`): the site's goals, and
its first day of data, kept on the site's row once no event can come before it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from reports.context import load_context
from reports.query import GoalDefinition
from sites import services
from sites.models import Site
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

Seed = Callable[[Site, list[dict[str, Any]]], None]
ALL = {"date_range": "all"}
# Three days ago at 10:00 UTC: well inside the batch API's 30 days.
T = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(
    hour=10, minute=0, second=0, microsecond=0
)


def test_goals_in_the_order_they_were_made(make_site: Callable[..., Site]) -> None:
    site = make_site("context-goals-trail.com")
    services.goal_create(site=site, kind="event", value="Signup")
    services.goal_create(site=site, kind="pageview", value="/pricing", display_name="Pricing")
    assert load_context(site, {"date_range": "7d"}).goals == (
        GoalDefinition(name="Signup", kind="event", value="Signup"),
        GoalDefinition(name="Pricing", kind="page", value="/pricing"),
    )


def test_the_first_day_is_looked_up_only_for_all(
    make_site: Callable[..., Site], seed: Seed, clickhouse: Any
) -> None:
    site = make_site("context-first-trail.com")
    assert load_context(site, ALL).first_day is None  # no data yet
    seed(site, [hit(site, T), hit(site, T + dt.timedelta(days=1))])
    # a day before the first event's UTC day: a local day may start that early
    assert load_context(site, ALL).first_day == T.date() - dt.timedelta(days=1)
    assert load_context(site, {"date_range": "30d"}).first_day is None


def test_the_first_day_is_kept_once_no_event_can_come_before_it(
    make_site: Callable[..., Site], seed: Seed, clickhouse: Any
) -> None:
    site = make_site("context-kept-trail.com")
    seed(site, [hit(site, T)])
    load_context(site, ALL)  # the batch API may still send older events: not kept
    site.refresh_from_db()
    assert site.stats_start_date is None
    later = T + dt.timedelta(days=60)
    assert load_context(site, ALL, now=later).first_day == T.date() - dt.timedelta(days=1)
    site.refresh_from_db()
    assert site.stats_start_date == T.date()


def test_a_kept_first_day_is_read_from_the_row(
    make_site: Callable[..., Site], seed: Seed, clickhouse: Any
) -> None:
    site = make_site("context-row-trail.com")
    seed(site, [hit(site, T)])
    Site.objects.filter(pk=site.pk).update(stats_start_date=dt.date(2024, 5, 2))
    site.refresh_from_db()
    assert load_context(site, ALL).first_day == dt.date(2024, 5, 1)  # not ClickHouse's day
