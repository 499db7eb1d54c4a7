"""Plausible's Stats API v1 query parameters → a Stats API v2 body (docs/stats-api-v1.md);
v2's answer goes back to v1's shapes in `answers.py`. Pure: no ORM, no ClickHouse; what it
needs from storage (today in the site's time zone, the site's goals when a goal is named)
comes in arguments. Over 400 lines on purpose: periods, filters, properties and metric
checks are one translation, each step feeding the next, read top to bottom.

A v1 mistake is a `ServiceError` naming the v1 parameter (`metrics`, `property`, `period`,
`date`, `filters`, `interval`, `limit`, `page`, `compare`), so the answer is
`400 {"error": "<parameter>: …"}`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accounts.errors import ServiceError
from reports import dates
from reports.query import (
    EVENT_DIMENSIONS,
    GROUP_CONVERSION_RATE,
    PROPS_PREFIX,
    VISIT_DIMENSIONS,
    GoalDefinition,
)
from reports.sql.catalog import page_regex

# The metrics v1 knows (Plausible's reference), in its order.
METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
    "conversion_rate",
    "time_on_page",
)
SESSION_METRICS = frozenset({"visits", "bounce_rate", "visit_duration", "views_per_visit"})
PERIODS = ("12mo", "6mo", "month", "30d", "7d", "day", "custom")
DEFAULT_PERIOD = "30d"
# `date` is v1's name for `day`; `hour` and `week` are Trail's additions.
INTERVALS = {"date": "day", "day": "day", "month": "month", "week": "week", "hour": "hour"}
PROPERTIES = (*EVENT_DIMENSIONS, *VISIT_DIMENSIONS)
EVENT_ONLY = ("event:name", "event:goal")  # and event:props:<key>
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
LATEST = dt.date(2199, 12, 31)
MAX_FILTERS = 30
# A breakdown by these leaves out the rows without a value (Plausible's v1 does), which
# Trail's v2 labels so.
UNSET = {
    "visit:country": "(not set)",
    "visit:region": "(not set)",
    "visit:city": "(not set)",
    "visit:utm_medium": "(none)",
    "visit:utm_source": "(none)",
    "visit:utm_campaign": "(none)",
    "visit:utm_content": "(none)",
    "visit:utm_term": "(none)",
    "visit:entry_page": "",
    "visit:exit_page": "",
}
# A breakdown by a version is one by the name and the version (two keys in each row).
WITH_PARENT = {
    "visit:browser_version": ("visit:browser", "visit:browser_version"),
    "visit:os_version": ("visit:os", "visit:os_version"),
}
_OPERATOR = re.compile(r"==|!=|!~|~")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
_OPS = {"==": "is", "!=": "is_not", "~": "contains", "!~": "contains_not"}
_WILDCARD_OPS = {"is": "matches", "is_not": "matches_not"}


@dataclass(frozen=True)
class Translation:
    """A v1 request as a v2 body, and what shaping v2's answer back needs."""

    body: dict[str, Any]
    metrics: tuple[str, ...]  # the v1 metrics asked, in order (v2's may add visitors)
    keys: tuple[str, ...] = ()  # a breakdown row's key of each v2 dimension


# --- parameters -----------------------------------------------------------------------


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value.strip()


def parse_metrics(value: str | None) -> tuple[str, ...]:
    if value is None or value == "":
        return ("visitors",)
    names = tuple(name.strip() for name in value.split(","))
    for name in names:
        if name not in METRICS:
            raise ServiceError(
                f"unknown metric {name!r}; known: {', '.join(METRICS)}", field="metrics"
            )
    if len(set(names)) != len(names):
        raise ServiceError("a metric is listed twice", field="metrics")
    return names


def _date(value: str, field_name: str) -> dt.date:
    day = dates.parse_date(value, field_name)
    if day > LATEST:
        raise ServiceError(f"{value!r} is after {LATEST.isoformat()}", field=field_name)
    return day


def _month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(day: dt.date) -> dt.date:
    return _month_start(day, -1) - dt.timedelta(days=1)


def date_range(params: Mapping[str, str], today: dt.date) -> tuple[str, list[str]]:
    """`period` and `date` as (period, [first, last]): v1's ranges end on `date` (default
    today in the site's time zone)."""
    period = _text(params, "period") or DEFAULT_PERIOD
    if period not in PERIODS:
        raise ServiceError(
            f"unknown period {period!r}; known: {', '.join(PERIODS)}", field="period"
        )
    raw = _text(params, "date")
    if period == "custom":
        if not raw:
            raise ServiceError(
                "a custom period needs date=YYYY-MM-DD,YYYY-MM-DD (first and last day)",
                field="date",
            )
        parts = [part.strip() for part in raw.split(",")]
        if len(parts) != 2:
            raise ServiceError(f"expected two dates joined by a comma, got {raw!r}", field="date")
        first, last = _date(parts[0], "date"), _date(parts[1], "date")
        if last < first:
            raise ServiceError("the last date is before the first", field="date")
        if (last - first).days > 366 * 20:
            raise ServiceError("a range may span at most 20 years", field="date")
    else:
        last = _date(raw, "date") if raw else today
        if period == "day":
            first = last
        elif period == "7d":
            first = last - dt.timedelta(days=6)
        elif period == "30d":
            first = last - dt.timedelta(days=30)  # Plausible's v1: 30 days before `date`
        elif period == "month":
            first, last = _month_start(last, 0), _month_end(last)
        else:  # 6mo, 12mo: whole calendar months ending with `date`'s
            first, last = _month_start(last, 5 if period == "6mo" else 11), _month_end(last)
        first = max(first, dates.EARLIEST)
    return period, [first.isoformat(), last.isoformat()]


def _property(value: str, field_name: str) -> str:
    if value.startswith(PROPS_PREFIX):
        if not value[len(PROPS_PREFIX) :]:
            raise ServiceError(
                "a custom property needs its name: event:props:<name>", field=field_name
            )
        return value
    if value not in PROPERTIES:
        raise ServiceError(
            f"unknown property {value!r}; known: {', '.join(PROPERTIES)}, event:props:<name>",
            field=field_name,
        )
    return value


def _wildcard(value: str) -> str:
    """A v1 wildcard value (`*` and `**` match any characters) as an anchored RE2 pattern:
    the reports' page pattern (`reports.sql.catalog.page_regex`), a run of stars one star."""
    return page_regex(re.sub(r"\*+", "*", value))


def _goal_name(value: str, goals: tuple[GoalDefinition, ...]) -> str:
    """A goal as v1 names it: its display name, or `Visit <path>` for a pageview goal."""
    if any(goal.name == value for goal in goals):
        return value
    if value.startswith("Visit "):
        path = value[len("Visit ") :]
        for goal in goals:
            if goal.kind == "page" and goal.value == path:
                return goal.name
    raise ServiceError(f"the site has no goal named {value!r}", field="filters")


def _condition(piece: str, goals: tuple[GoalDefinition, ...]) -> list[Any]:
    found = _OPERATOR.search(piece)
    if found is None:
        raise ServiceError(
            f"expected property==value (or !=, ~, !~), got {piece!r}", field="filters"
        )
    key, raw = piece[: found.start()].strip(), piece[found.end() :].strip()
    if not key or not raw:
        raise ServiceError(
            f"expected property==value (or !=, ~, !~), got {piece!r}", field="filters"
        )
    dimension = _property(key, "filters")
    op = _OPS[found.group()]
    values = [part.replace("\\|", "|") for part in _UNESCAPED_PIPE.split(raw)]
    if any(not value for value in values):
        raise ServiceError(f"an empty value in {piece!r}", field="filters")
    wildcard = op in _WILDCARD_OPS and any("*" in value for value in values)
    if dimension == "event:goal":
        if wildcard:
            return [_WILDCARD_OPS[op], dimension, [_wildcard(value) for value in values]]
        if op in ("is", "is_not"):
            values = [_goal_name(value, goals) for value in values]
        return [op, dimension, values]
    if wildcard:
        return [_WILDCARD_OPS[op], dimension, [_wildcard(value) for value in values]]
    return [op, dimension, values]


def parse_filters(value: str | None, goals: tuple[GoalDefinition, ...]) -> list[Any]:
    """v1's `filters` (`a==b;c!=d|e`, `~` contains, `*` wildcards) as v2 filters; a JSON
    list is taken as v2's filters as they are."""
    if not value or not value.strip():
        return []
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ServiceError("not a JSON list of filters", field="filters") from None
        if not isinstance(parsed, list):
            raise ServiceError("not a JSON list of filters", field="filters")
        return parsed
    pieces = [piece for piece in text.split(";") if piece.strip()]
    if len(pieces) > MAX_FILTERS:
        raise ServiceError(f"at most {MAX_FILTERS} filters", field="filters")
    return [_condition(piece.strip(), goals) for piece in pieces]


def mentions_goals(params: Mapping[str, str]) -> bool:
    """Does the request name a goal (so the caller must load the site's goals)?"""
    return "event:goal" in (params.get("filters") or "") or params.get("property") == "event:goal"


def _filtered_on(filters: list[Any], dimension: str) -> bool:
    return any(isinstance(f, list) and len(f) > 1 and f[1] == dimension for f in filters)


def _check_metrics(metrics: tuple[str, ...], filters: list[Any], property_: str | None) -> None:
    """Plausible's rules for which metric goes with which filter or breakdown."""
    for metric in metrics:
        if metric == "conversion_rate":
            if property_ != "event:goal" and not _filtered_on(filters, "event:goal"):
                raise ServiceError(
                    "conversion_rate needs a filter on event:goal or a breakdown by event:goal",
                    field="metrics",
                )
        elif metric == "time_on_page":
            for other in ("event:goal", "event:name"):
                if _filtered_on(filters, other):
                    raise ServiceError(
                        f"time_on_page cannot be asked with a filter on {other}", field="metrics"
                    )
            if property_ is not None and property_ != "event:page":
                raise ServiceError(
                    "time_on_page is broken down by event:page only", field="metrics"
                )
            if property_ is None and not _filtered_on(filters, "event:page"):
                raise ServiceError(
                    "time_on_page needs a filter on event:page or a breakdown by event:page",
                    field="metrics",
                )
        elif metric == "views_per_visit":
            if _filtered_on(filters, "event:page"):
                raise ServiceError(
                    "views_per_visit cannot be asked with a filter on event:page",
                    field="metrics",
                )
            if property_ is not None:
                raise ServiceError("views_per_visit is not broken down", field="metrics")
        if metric in SESSION_METRICS and property_ is not None:
            if property_ in EVENT_ONLY or property_.startswith(PROPS_PREFIX):
                raise ServiceError(
                    f"{metric} (a visit metric) cannot be broken down by {property_}",
                    field="metrics",
                )


def v2_metric(metric: str) -> str:
    """A v1 metric's v2 name: v1's `conversion_rate` of a breakdown row or a time bucket
    divides by that row's visitors, which is v2's `group_conversion_rate` (with no
    dimension the two are equal)."""
    return GROUP_CONVERSION_RATE if metric == "conversion_rate" else metric


def _common(
    params: Mapping[str, str],
    *,
    domain: str,
    today: dt.date,
    goals: tuple[GoalDefinition, ...],
    property_: str | None = None,
) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    period, span = date_range(params, today)
    filters = parse_filters(params.get("filters"), goals)
    metrics = parse_metrics(params.get("metrics"))
    _check_metrics(metrics, filters, property_)
    body: dict[str, Any] = {
        "site_id": domain,
        "metrics": [v2_metric(m) for m in metrics],
        "date_range": span,
        "filters": filters,
    }
    return period, body, metrics


def aggregate(
    params: Mapping[str, str],
    *,
    domain: str,
    today: dt.date,
    goals: tuple[GoalDefinition, ...] = (),
) -> Translation:
    _, body, metrics = _common(params, domain=domain, today=today, goals=goals)
    compare = _text(params, "compare")
    if compare:
        if compare != "previous_period":
            raise ServiceError(
                f"unknown comparison {compare!r}; known: previous_period", field="compare"
            )
        body["include"] = {"comparisons": {"mode": "previous_period"}}
    return Translation(body=body, metrics=metrics)


def timeseries(
    params: Mapping[str, str],
    *,
    domain: str,
    today: dt.date,
    goals: tuple[GoalDefinition, ...] = (),
) -> Translation:
    period, body, metrics = _common(params, domain=domain, today=today, goals=goals)
    raw = _text(params, "interval")
    if raw:
        if raw not in INTERVALS:
            raise ServiceError(
                f"unknown interval {raw!r}; known: {', '.join(INTERVALS)}", field="interval"
            )
        interval = INTERVALS[raw]
    else:
        interval = {"day": "hour", "6mo": "month", "12mo": "month"}.get(period, "day")
    body["dimensions"] = [f"time:{interval}"]
    body["include"] = {"time_labels": True}
    return Translation(body=body, metrics=metrics)


def _page(params: Mapping[str, str], name: str, top: int) -> int:
    raw = _text(params, name)
    if raw is None or raw == "":
        return DEFAULT_LIMIT if name == "limit" else 1
    if not raw.isdigit() or not 1 <= int(raw) <= top:
        raise ServiceError(f"expected a whole number from 1 to {top}", field=name)
    return int(raw)


def result_key(dimension: str) -> str:
    """A breakdown row's key for a dimension: `event:props:plan` → `plan`, `visit:source`
    → `source`."""
    if dimension.startswith(PROPS_PREFIX):
        return dimension[len(PROPS_PREFIX) :]
    return dimension.partition(":")[2]


def breakdown(
    params: Mapping[str, str],
    *,
    domain: str,
    today: dt.date,
    goals: tuple[GoalDefinition, ...] = (),
) -> Translation:
    raw = _text(params, "property")
    if not raw:
        raise ServiceError(
            "required: the property to break down by, e.g. event:page", field="property"
        )
    property_ = _property(raw, "property")
    _, body, metrics = _common(params, domain=domain, today=today, goals=goals, property_=property_)
    limit = _page(params, "limit", MAX_LIMIT)
    page = _page(params, "page", 10**9 // MAX_LIMIT)
    ranked = next((m for m in metrics if m != "time_on_page"), None)
    if ranked is None:  # ordered by visitors, which is not shown (Plausible's v1)
        ranked = "visitors"
        body["metrics"] = [*body["metrics"], "visitors"]
    dimensions = list(WITH_PARENT.get(property_, (property_,)))
    order: list[list[str]] = [[v2_metric(ranked), "desc"]]
    if property_ != "event:goal":
        order.append([property_, "asc"])
    if property_ in UNSET:
        body["filters"] = [*body["filters"], ["is_not", property_, [UNSET[property_]]]]
    body.update(
        dimensions=dimensions,
        order_by=order,
        pagination={"limit": limit, "offset": (page - 1) * limit},
    )
    return Translation(body=body, metrics=metrics, keys=tuple(result_key(d) for d in dimensions))


# v2's fields → the v1 parameter a mistake there came from
V1_FIELD = {
    "metrics": "metrics",
    "filters": "filters",
    "date_range": "date",
    "pagination": "limit",
    "include": "compare",
    "order_by": "metrics",
}


def v1_field(v2_field: str | None, *, dimension_param: str) -> str | None:
    """The v1 parameter behind a v2 error's field (`dimensions` is `property` in a
    breakdown, `interval` in a time series)."""
    if v2_field is None:
        return None
    head = re.split(r"[\[.]", v2_field, maxsplit=1)[0]
    if head == "dimensions":
        return dimension_param
    if v2_field.startswith("pagination.offset"):
        return "page"
    return V1_FIELD.get(head, v2_field)
