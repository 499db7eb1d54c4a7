"""The v1 → v2 translation (reports/plausible_v1/params.py), pure: no database, no ClickHouse."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.errors import ServiceError
from reports.plausible_v1 import answers as v1_answers
from reports.plausible_v1 import params as v1
from reports.query import GoalDefinition

TODAY = dt.date(2026, 3, 15)
GOALS = (
    GoalDefinition(name="Signup", kind="event", value="Signup"),
    GoalDefinition(name="Visit /register", kind="page", value="/register"),
    GoalDefinition(name="Docs", kind="page", value="/docs/*"),
)


def body(translate: Any = v1.aggregate, **params: str) -> dict[str, Any]:
    translation: v1.Translation = translate(params, domain="example.com", today=TODAY, goals=GOALS)
    return translation.body


@pytest.mark.parametrize(
    ("period", "date", "expected"),
    [
        ("day", "", ["2026-03-15", "2026-03-15"]),
        ("day", "2026-01-02", ["2026-01-02", "2026-01-02"]),
        ("7d", "", ["2026-03-09", "2026-03-15"]),
        ("30d", "", ["2026-02-13", "2026-03-15"]),  # Plausible's v1: date − 30 .. date
        ("month", "2024-02-10", ["2024-02-01", "2024-02-29"]),
        ("6mo", "", ["2025-10-01", "2026-03-31"]),
        ("12mo", "2026-01-20", ["2025-02-01", "2026-01-31"]),
        ("custom", "2026-01-01,2026-01-31", ["2026-01-01", "2026-01-31"]),
        ("custom", " 2026-01-01 , 2026-01-31 ", ["2026-01-01", "2026-01-31"]),
    ],
)
def test_periods_end_on_the_date(period: str, date: str, expected: list[str]) -> None:
    params = {"period": period, **({"date": date} if date else {})}
    assert body(**params)["date_range"] == expected


def test_defaults() -> None:
    assert body() == {
        "site_id": "example.com",
        "metrics": ["visitors"],
        "date_range": ["2026-02-13", "2026-03-15"],
        "filters": [],
    }


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("event:page==/blog", [["is", "event:page", ["/blog"]]]),
        ("event:page!=/blog", [["is_not", "event:page", ["/blog"]]]),
        ("event:page~blog", [["contains", "event:page", ["blog"]]]),
        ("event:page!~blog", [["contains_not", "event:page", ["blog"]]]),
        ("visit:country==DE|FR", [["is", "visit:country", ["DE", "FR"]]]),
        ("visit:utm_campaign==a\\|b", [["is", "visit:utm_campaign", ["a|b"]]]),
        ("event:page==/blog/**", [["matches", "event:page", ["^/blog/.*$"]]]),
        ("event:page==/a.b/*", [["matches", "event:page", ["^/a\\.b/.*$"]]]),
        ("event:page!=/blog/*", [["matches_not", "event:page", ["^/blog/.*$"]]]),
        (
            "event:page==/blog/**;visit:country==DE|FR",
            [["matches", "event:page", ["^/blog/.*$"]], ["is", "visit:country", ["DE", "FR"]]],
        ),
        (" event:page == /x ;; ", [["is", "event:page", ["/x"]]]),
        ("event:props:plan==pro", [["is", "event:props:plan", ["pro"]]]),
        ("event:props:q==a==b", [["is", "event:props:q", ["a==b"]]]),
        ("event:goal==Signup", [["is", "event:goal", ["Signup"]]]),
        ("event:goal==Visit /register", [["is", "event:goal", ["Visit /register"]]]),
        ("event:goal==Visit /docs/*", [["matches", "event:goal", ["^Visit /docs/.*$"]]]),
        (
            "event:goal==Signup|Visit /register",
            [["is", "event:goal", ["Signup", "Visit /register"]]],
        ),
        ('[["is", "visit:browser", ["Firefox"]]]', [["is", "visit:browser", ["Firefox"]]]),
    ],
)
def test_filters(filters: str, expected: list[Any]) -> None:
    assert body(filters=filters)["filters"] == expected


def test_a_page_goal_is_found_by_its_path() -> None:
    goals = (GoalDefinition(name="Thanks", kind="page", value="/thanks"),)
    assert v1.parse_filters("event:goal==Visit /thanks", goals) == [
        ["is", "event:goal", ["Thanks"]]
    ]


def test_breakdown_body() -> None:
    assert body(v1.breakdown, property="visit:utm_source", limit="5", page="3") == {
        "site_id": "example.com",
        "metrics": ["visitors"],
        "date_range": ["2026-02-13", "2026-03-15"],
        "filters": [["is_not", "visit:utm_source", ["(none)"]]],
        "dimensions": ["visit:utm_source"],
        "order_by": [["visitors", "desc"], ["visit:utm_source", "asc"]],
        "pagination": {"limit": 5, "offset": 10},
    }
    versions = v1.breakdown(
        {"property": "visit:os_version"}, domain="example.com", today=TODAY, goals=GOALS
    )
    assert versions.body["dimensions"] == ["visit:os", "visit:os_version"]
    assert versions.keys == ("os", "os_version")
    goals = body(v1.breakdown, property="event:goal", metrics="events,conversion_rate")
    assert goals["order_by"] == [["events", "desc"]]
    time = body(v1.breakdown, property="event:page", metrics="time_on_page")
    assert time["metrics"] == ["time_on_page", "visitors"]
    assert v1.breakdown({"property": "event:props:plan"}, domain="x", today=TODAY).keys == ("plan",)


@pytest.mark.parametrize(
    ("period", "interval", "dimension"),
    [
        ("day", "", "time:hour"),
        ("7d", "", "time:day"),
        ("30d", "", "time:day"),
        ("month", "", "time:day"),
        ("custom", "", "time:day"),
        ("6mo", "", "time:month"),
        ("12mo", "", "time:month"),
        ("12mo", "date", "time:day"),
        ("30d", "week", "time:week"),
        ("7d", "hour", "time:hour"),
    ],
)
def test_timeseries_interval(period: str, interval: str, dimension: str) -> None:
    params = {"period": period, "date": "2026-01-01,2026-01-31" if period == "custom" else ""}
    if interval:
        params["interval"] = interval
    translated = body(v1.timeseries, **params)
    assert translated["dimensions"] == [dimension]
    assert translated["include"] == {"time_labels": True}


def test_compare() -> None:
    assert body(compare="previous_period")["include"] == {
        "comparisons": {"mode": "previous_period"}
    }


@pytest.mark.parametrize(
    ("translate", "params", "field"),
    [
        (v1.aggregate, {"metrics": "visitors,"}, "metrics"),
        (v1.aggregate, {"metrics": "scroll_depth"}, "metrics"),
        (v1.aggregate, {"period": "year"}, "period"),
        (v1.aggregate, {"period": "all"}, "period"),
        (v1.aggregate, {"date": "2026-13-01"}, "date"),
        (v1.aggregate, {"date": "1999-12-31"}, "date"),
        (v1.aggregate, {"date": "9999-12-31", "period": "12mo"}, "date"),
        (v1.aggregate, {"period": "custom", "date": "2000-01-01,2030-01-01"}, "date"),
        (v1.aggregate, {"filters": "event:page"}, "filters"),
        (v1.aggregate, {"filters": "==x"}, "filters"),
        (v1.aggregate, {"filters": "event:page==a||b"}, "filters"),
        (v1.aggregate, {"filters": "event:props:==x"}, "filters"),
        (v1.aggregate, {"filters": "event:goal==Visit /nowhere"}, "filters"),
        (v1.aggregate, {"filters": '{"page": "/"}'}, "filters"),
        (v1.aggregate, {"filters": ";".join(["event:page==/"] * 31)}, "filters"),
        (v1.aggregate, {"metrics": "time_on_page", "filters": "event:name==x"}, "metrics"),
        (v1.aggregate, {"metrics": "views_per_visit", "filters": "event:page==/"}, "metrics"),
        (v1.breakdown, {"property": "visit:source", "metrics": "time_on_page"}, "metrics"),
        (v1.breakdown, {"property": "event:goal", "metrics": "visits"}, "metrics"),
        (v1.breakdown, {"property": "event:props:x", "metrics": "visit_duration"}, "metrics"),
        (v1.breakdown, {"property": "time:day"}, "property"),
        (v1.breakdown, {"property": "event:page", "limit": "ten"}, "limit"),
        (v1.breakdown, {"property": "event:page", "limit": "-1"}, "limit"),
        (v1.breakdown, {"property": "event:page", "page": "1.5"}, "page"),
        (v1.timeseries, {"interval": "year"}, "interval"),
    ],
)
def test_mistakes_name_the_parameter(translate: Any, params: dict[str, str], field: str) -> None:
    with pytest.raises(ServiceError) as raised:
        translate(params, domain="example.com", today=TODAY, goals=GOALS)
    assert raised.value.field == field


def test_v2_fields_are_named_as_v1_parameters() -> None:
    assert v1.v1_field("metrics[2]", dimension_param="property") == "metrics"
    assert v1.v1_field("filters[0][2][1]", dimension_param="property") == "filters"
    assert v1.v1_field("dimensions", dimension_param="interval") == "interval"
    assert v1.v1_field("dimensions[0]", dimension_param="property") == "property"
    assert v1.v1_field("pagination.offset", dimension_param="property") == "page"
    assert v1.v1_field("pagination.limit", dimension_param="property") == "limit"
    assert v1.v1_field("date_range[1]", dimension_param="property") == "date"
    assert v1.v1_field(None, dimension_param="property") is None


def test_answers_are_shaped_as_v1() -> None:
    aggregate = v1.aggregate({"metrics": "visitors,bounce_rate"}, domain="x", today=TODAY)
    v2 = {
        "results": [
            {
                "metrics": [10, 40],
                "dimensions": [],
                "comparison": {"dimensions": [], "metrics": [5, 50], "change": [100, -10.0]},
            }
        ]
    }
    assert v1_answers.aggregate_results(aggregate, v2) == {
        "results": {
            "visitors": {"value": 10, "comparison_value": 5, "change": 100},
            "bounce_rate": {"value": 40, "comparison_value": 50, "change": -10.0},
        }
    }
    series = v1.timeseries({"metrics": "visitors,views_per_visit"}, domain="x", today=TODAY)
    answer = {
        "results": [{"dimensions": ["2026-03-02"], "metrics": [3, 1.5]}],
        "meta": {"time_labels": ["2026-03-01", "2026-03-02"]},
    }
    assert v1_answers.timeseries_results(series, answer) == {
        "results": [
            {"date": "2026-03-01", "visitors": 0, "views_per_visit": 0.0},
            {"date": "2026-03-02", "visitors": 3, "views_per_visit": 1.5},
        ]
    }
    pages = v1.breakdown(
        {"property": "event:page", "metrics": "time_on_page"}, domain="x", today=TODAY
    )
    rows = {"results": [{"dimensions": ["/"], "metrics": [12, 7]}]}
    assert v1_answers.breakdown_results(pages, rows) == {
        "results": [{"page": "/", "time_on_page": 12}]
    }


@given(st.text(max_size=200))
def test_any_filter_text_translates_or_is_a_400(text: str) -> None:
    try:
        filters = v1.parse_filters(text, GOALS)
    except ServiceError as exc:
        assert exc.field == "filters"
        return
    assert isinstance(filters, list)
    for condition in filters:
        if isinstance(condition, list) and condition and condition[0] in ("matches", "matches_not"):
            for pattern in condition[2]:
                re.compile(pattern)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "period",
                "date",
                "metrics",
                "filters",
                "property",
                "limit",
                "page",
                "interval",
                "compare",
            ]
        ),
        st.text(max_size=40),
    )
)
def test_any_parameters_translate_or_are_a_400(params: dict[str, str]) -> None:
    for translate in (v1.aggregate, v1.timeseries, v1.breakdown):
        try:
            translate(params, domain="x", today=TODAY, goals=GOALS)
        except ServiceError as exc:
            assert exc.field in {
                "period",
                "date",
                "metrics",
                "filters",
                "property",
                "limit",
                "page",
                "interval",
                "compare",
            }
