"""Properties of the Stats API parser (`reports.parse.parse`), which does no I/O: whatever
JSON a client sends, it answers a query or a `ServiceError` naming a field; a valid body
keeps its metrics, dimensions and filters; date ranges stay inside the context's bounds;
the same input gives the same output. No database (zero queries counted) and no ClickHouse
(no `clickhouse` fixture; reports/parse.py imports no SQL).
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reports.parse
from accounts.errors import ServiceError
from reports.parse import FIELDS, MAX_HOURLY_DAYS, Parsed, parse
from reports.query import (
    EVENT_DIMENSIONS,
    LOGICAL,
    METRICS,
    OPERATORS,
    TIME_DIMENSIONS,
    VISIT_DIMENSIONS,
    Combined,
    Condition,
    GoalDefinition,
    ParseContext,
)
from sites.models import Site

NOW = dt.datetime(2026, 11, 28, 12, 30, tzinfo=dt.UTC)
TODAY = NOW.date()
SITE = Site(id=7, domain="props.example.com", timezone="Europe/Paris")
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAMED = ("day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", "year", "all")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
# Values that reach deeper into the parser than arbitrary JSON does.
near_miss = st.one_of(
    json_values,
    st.sampled_from([*METRICS, *NAMED, "time", "exact", "auto", "Europe/Paris", "Nowhere/City"]),
    st.lists(st.sampled_from([*METRICS, *EVENT_DIMENSIONS, *VISIT_DIMENSIONS, *TIME_DIMENSIONS])),
    st.lists(
        st.lists(
            st.sampled_from([*OPERATORS, *LOGICAL, "event:goal", "visit:source", "Signup"])
            | json_values,
            max_size=4,
        ),
        max_size=3,
    ),
)
any_body = st.dictionaries(st.sampled_from(sorted(FIELDS)) | st.text(max_size=6), near_miss)
goals = st.lists(
    st.builds(
        GoalDefinition,
        name=st.text(min_size=1, max_size=12),
        kind=st.sampled_from(["event", "page"]),
        value=st.text(min_size=1, max_size=12),
    ),
    max_size=3,
    unique_by=lambda goal: goal.name,
).map(tuple)
first_days = st.none() | st.dates(dt.date(2000, 1, 1), TODAY + dt.timedelta(days=3))
contexts = st.builds(ParseContext, goals=goals, first_day=first_days)


@st.composite
def conditions(draw: st.DrawFn, context: ParseContext) -> tuple[list[Any], Condition]:
    dimension = draw(
        st.sampled_from([d for d in (*EVENT_DIMENSIONS, *VISIT_DIMENSIONS) if d != "event:goal"])
        | st.just("event:props:plan")
    )
    op = draw(st.sampled_from([o for o in OPERATORS if not o.startswith("matches")]))
    values = draw(st.lists(st.text(max_size=20), min_size=1, max_size=4))
    if context.goals and draw(st.booleans()):  # a goal the site has
        dimension, op = "event:goal", draw(st.sampled_from(["is", "is_not"]))
        values = [draw(st.sampled_from([goal.name for goal in context.goals]))]
    sensitive = draw(st.booleans())
    raw: list[Any] = [op, dimension, values]
    if not sensitive or draw(st.booleans()):
        raw.append({"case_sensitive": sensitive})
    return raw, Condition(op, dimension, tuple(values), sensitive)


@st.composite
def filters(draw: st.DrawFn, context: ParseContext) -> tuple[list[Any], Any]:
    if draw(st.booleans()):
        return draw(conditions(context))
    op = draw(st.sampled_from(LOGICAL))
    if op == "not":
        raw, parsed = draw(conditions(context))
        return ["not", raw], Combined("not", (parsed,))
    children = draw(st.lists(conditions(context), min_size=1, max_size=3))
    return [op, [raw for raw, _ in children]], Combined(op, tuple(p for _, p in children))


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[dict[str, Any], ParseContext, dict[str, Any]]:
    """A valid body, its context, and what the parsed query must hold."""
    context = draw(contexts)
    metrics = draw(st.lists(st.sampled_from(METRICS), min_size=1, max_size=4, unique=True))
    dimensions = draw(
        st.lists(
            st.sampled_from([*EVENT_DIMENSIONS, *VISIT_DIMENSIONS, "event:props:plan"]),
            max_size=2,
            unique=True,
        )
    )
    if "percentage" in metrics and not dimensions:  # a share needs a dimension (parse.py)
        dimensions = ["visit:country"]
    drawn = draw(st.lists(filters(context), max_size=3))
    body = {
        "site_id": SITE.domain,
        "metrics": metrics,
        "date_range": draw(st.sampled_from([n for n in NAMED if n != "all"])),
        "dimensions": dimensions,
        "filters": [raw for raw, _ in drawn],
    }
    expected = {
        "metrics": tuple(metrics),
        "dimensions": tuple(dimensions),
        "filters": tuple(parsed for _, parsed in drawn),
    }
    return body, context, expected


def _parse(body: dict[str, Any], context: ParseContext) -> Parsed:
    return parse(site=SITE, body=body, context=context, now=NOW)


@pytest.mark.django_db
@SETTINGS
@given(body=any_body, context=contexts)
def test_any_body_is_a_query_or_a_400_naming_a_field(
    body: dict[str, Any], context: ParseContext, django_assert_num_queries: Callable[..., Any]
) -> None:
    with django_assert_num_queries(0):
        try:
            _parse(body, context)
        except ServiceError as exc:  # the field is the bad key's or value's ('' for a key '')
            assert isinstance(exc.field, str), exc


@pytest.mark.django_db
@SETTINGS
@given(request=valid_requests(), changes=any_body)
def test_a_valid_body_with_fields_changed_is_a_query_or_a_400(
    request: tuple[dict[str, Any], ParseContext, dict[str, Any]],
    changes: dict[str, Any],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    body, context, _ = request
    with django_assert_num_queries(0):
        try:
            _parse({**body, **changes}, context)
        except ServiceError as exc:
            assert isinstance(exc.field, str), exc


@pytest.mark.django_db
@SETTINGS
@given(request=valid_requests())
def test_a_valid_body_keeps_its_metrics_dimensions_and_filters(
    request: tuple[dict[str, Any], ParseContext, dict[str, Any]],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    body, context, expected = request
    with django_assert_num_queries(0):
        parsed = _parse(body, context)
    assert parsed.query.metrics == expected["metrics"]
    assert parsed.query.dimensions == expected["dimensions"]
    assert parsed.query.filters == expected["filters"]
    assert parsed.query.goals == context.goals
    assert parsed.query.site_id == SITE.id
    assert parsed.echo["filters"] == body["filters"]
    assert parsed.echo["metrics"] == body["metrics"]
    assert parsed.echo["dimensions"] == body["dimensions"]


@SETTINGS
@given(
    context=contexts,
    date_range=st.sampled_from(NAMED)
    | st.lists(st.dates(dt.date(2000, 1, 1), dt.date(2040, 1, 1)), min_size=2, max_size=2)
    .map(sorted)
    .map(lambda days: [day.isoformat() for day in days]),
    timezone=st.sampled_from(["UTC", "Europe/Paris", "Pacific/Kiritimati", "Etc/GMT+12"]),
    dimension=st.sampled_from(["time", "time:day", "time:hour", "event:page"]),
)
def test_date_ranges_stay_inside_the_context(
    context: ParseContext, date_range: Any, timezone: str, dimension: str
) -> None:
    body = {
        "metrics": ["visitors"],
        "date_range": date_range,
        "timezone": timezone,
        "dimensions": [dimension],
    }
    try:
        query = _parse(body, context).query
    except ServiceError as exc:  # only over 20 years, or an hourly breakdown of > 93 days
        if exc.field == "dimensions":
            assert dimension == "time:hour", exc
        else:
            first, last = (dt.date.fromisoformat(day) for day in date_range)
            assert exc.field == "date_range" and (last - first).days > 366 * 20, exc
        return
    span = query.date_range
    today = NOW.astimezone(ZoneInfo(timezone)).date()
    assert span.timezone == timezone
    assert span.first <= span.last
    if isinstance(date_range, list):
        assert [span.first.isoformat(), span.last.isoformat()] == date_range
    elif date_range == "all":  # from the first day of data, never after today
        assert (span.first, span.last) == (min(context.first_day or today, today), today)
    elif date_range == "day" or date_range.endswith("d"):
        assert span.last == today
        assert span.days == (1 if date_range == "day" else int(date_range[:-1]))
    else:  # this month, year or the months before it: to the end of the current period
        assert span.first <= today <= span.last
    if query.dimensions == ("time:hour",):
        assert span.days <= MAX_HOURLY_DAYS


@SETTINGS
@given(body=any_body, context=contexts)
def test_the_same_input_gives_the_same_output(body: dict[str, Any], context: ParseContext) -> None:
    def outcome() -> Parsed | tuple[str, str]:
        try:
            return _parse(body, context)
        except ServiceError as exc:
            return (exc.field or "", str(exc))

    assert outcome() == outcome()


def test_parse_imports_nothing_that_reads_storage() -> None:
    """No SQL builder, no ClickHouse, no ORM query helper: what parsing needs from storage
    comes in the `ParseContext` (reports.context.load_context)."""
    tree = ast.parse(Path(reports.parse.__file__).read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    runtime = imported - {"sites.models"}  # a type only (under TYPE_CHECKING)
    for module in runtime:
        assert not module.startswith(("reports.sql", "reports.context", "events", "django")), module
    assert not hasattr(reports.parse, "Site")  # not imported at run time
