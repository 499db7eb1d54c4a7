"""Snapshots of the SQL the runner sends for typical reports: a change of a query shows in
the diff (`pytest --snapshot-update` rewrites them after a deliberate change)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from reports.dates import DateRange
from reports.plan import plan
from reports.query import Combined, Condition, GoalDefinition, ReportQuery
from reports.sql.selects import part_select, rank_select

SPAN = DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 30), "Europe/Berlin")
GOALS = (
    GoalDefinition("Signup", "event", "Signup"),
    GoalDefinition("Pricing", "page", "/pricing*"),
)


def report(**fields: Any) -> ReportQuery:
    return ReportQuery(site_id=42, date_range=SPAN, goals=GOALS, **fields)


def rendered(query: ReportQuery, fraction: float | None = None) -> list[Any]:
    the_plan = plan(query)
    selects = [rank_select(query, the_plan, fraction)] if the_plan.ranked else []
    selects += [
        part_select(
            query,
            part,
            dimensions=query.dimensions,
            filters=query.filters,
            fraction=fraction,
            event_names=the_plan.event_names if part is the_plan.primary else (),
        )
        for part in the_plan.parts
    ]
    return [select.render() for select in selects]


CASES = {
    "top_stats": report(
        metrics=("visitors", "visits", "pageviews", "bounce_rate", "visit_duration")
    ),
    "pages": report(metrics=("visitors", "pageviews"), dimensions=("event:page",)),
    "sources_sampled": report(metrics=("visitors", "bounce_rate"), dimensions=("visit:source",)),
    "time_series_in_berlin": report(metrics=("visitors", "visits"), dimensions=("time:day",)),
    "goals": report(metrics=("visitors", "events"), dimensions=("event:goal",)),
    "cross_table_filters": report(
        metrics=("visitors", "bounce_rate"),
        filters=(
            Condition("is", "visit:source", ("Google",)),
            Combined(
                "or",
                (
                    Condition("contains_not", "event:page", ("/blog",), case_sensitive=False),
                    Condition("matches", "event:props:plan", ("^pro",)),
                ),
            ),
            Condition("is", "event:goal", ("Pricing",)),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_sql(name: str, snapshot: Any) -> None:
    fraction = 0.1 if name.endswith("sampled") else None
    selects = rendered(CASES[name], fraction)
    for sql, params in selects:
        assert sql.count("site_id = {site_id:UInt64}") == sql.count(" FROM events") + sql.count(
            " FROM sessions"
        )
        assert params["site_id"] == 42
    assert selects == snapshot


@pytest.mark.parametrize(
    ("fields", "across"),
    [
        ({"dimensions": ("event:page",)}, False),
        (
            {"dimensions": ("event:page",), "filters": (Condition("is", "event:page", ("/",)),)},
            False,
        ),
        (
            {"dimensions": ("event:page",), "filters": (Condition("is", "visit:source", ("G",)),)},
            True,
        ),
        # the visitor's own attributes are on every event row: no subquery
        (
            {"dimensions": ("event:page",), "filters": (Condition("is", "visit:browser", ("F",)),)},
            False,
        ),
        (
            {"dimensions": ("visit:source",), "filters": (Condition("is", "event:page", ("/",)),)},
            True,
        ),
    ],
)
def test_the_plan_knows_when_a_filter_needs_the_other_table(
    fields: dict[str, Any], across: bool
) -> None:
    assert plan(report(metrics=("visitors",), **fields)).filtered_across is across
