"""A Stats API v2 request body → a `ReportQuery`, or a `ServiceError` naming the bad field.

Nothing downstream sees the raw body: every name is checked against the catalog, every
value kept as data to be bound, never as SQL. Parsing does no I/O: what it needs from
storage (the site's goals, its first day of data) comes in a `ParseContext` the caller
loads (`reports.context.load_context`), so the same body, context and `now` always give
the same answer (tests/reports/test_parse_properties.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from accounts.errors import ServiceError
from reports import dates
from reports.query import (
    BEHAVIORAL,
    EVENT_DIMENSIONS,
    LOCATION_NAMES,
    LOGICAL,
    METRICS,
    OPERATORS,
    PROPS_PREFIX,
    TIME_DIMENSIONS,
    VISIT_DIMENSIONS,
    Combined,
    Condition,
    Filter,
    GoalDefinition,
    ParseContext,
    ReportQuery,
    TimeRange,
    is_time,
)
from reports.revenue import currency_of

if TYPE_CHECKING:
    from sites.models import Site

FIELDS = frozenset(
    {
        "site_id",
        "metrics",
        "date_range",
        "dimensions",
        "filters",
        "order_by",
        "include",
        "pagination",
        "sampling",
        "timezone",
    }
)
INCLUDE = frozenset({"time_labels", "imports", "comparisons", "total_rows"})
COMPARISONS = ("previous_period", "year_over_year", "custom")
MAX_LIMIT = 10_000
MAX_CLAUSES = 100
MAX_VALUE = 2_000
MAX_DEPTH = 8
MAX_PROP_KEY = 300
MAX_HOURLY_DAYS = 93


@dataclass(frozen=True)
class Parsed:
    query: ReportQuery
    echo: dict[str, Any]  # the query as understood, for the response's "query"
    time_labels: bool


def _list(value: Any, field: str, *, required: bool = False) -> list[Any]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise ServiceError(
            "expected a non-empty list" if required else "expected a list", field=field
        )
    return value


def _metrics(value: Any) -> tuple[str, ...]:
    metrics = _list(value, "metrics", required=True)
    for i, metric in enumerate(metrics):
        if metric not in METRICS:
            raise ServiceError(
                f"unknown metric {metric!r}; known: {', '.join(METRICS)}", field=f"metrics[{i}]"
            )
    if len(set(metrics)) != len(metrics):
        raise ServiceError("a metric is listed twice", field="metrics")
    return tuple(metrics)


def _dimension(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ServiceError("expected a dimension name", field=field)
    if value.startswith(PROPS_PREFIX):
        key = value[len(PROPS_PREFIX) :]
        if not key or len(key.encode()) > MAX_PROP_KEY:
            raise ServiceError(f"a property key of 1 to {MAX_PROP_KEY} bytes", field=field)
        return value
    if value not in (*EVENT_DIMENSIONS, *VISIT_DIMENSIONS, *LOCATION_NAMES, *TIME_DIMENSIONS):
        raise ServiceError(
            f"unknown dimension {value!r}; known: event:page, event:name, event:goal,"
            " event:hostname, event:props:<key>, visit:<attribute> (country_name,"
            " region_name and city_name too), time, time:hour,"
            " time:day, time:week, time:month",
            field=field,
        )
    return value


def _dimensions(value: Any, span: dates.DateRange) -> tuple[str, ...]:
    names = [_dimension(d, f"dimensions[{i}]") for i, d in enumerate(_list(value, "dimensions"))]
    if len(set(names)) != len(names):
        raise ServiceError("a dimension is listed twice", field="dimensions")
    if sum(is_time(d) for d in names) > 1:
        raise ServiceError("at most one time dimension", field="dimensions")
    resolved = tuple(f"time:{dates.default_interval(span)}" if d == "time" else d for d in names)
    if "time:hour" in resolved and span.days > MAX_HOURLY_DAYS:
        raise ServiceError(
            f"time:hour covers at most {MAX_HOURLY_DAYS} days; use time:day", field="dimensions"
        )
    return resolved


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ServiceError("expected a string", field=field)
    if len(value.encode("utf-8", "surrogatepass")) > MAX_VALUE:
        raise ServiceError(f"a value of at most {MAX_VALUE} bytes", field=field)
    return value


def _filter(value: Any, field: str, goals: tuple[GoalDefinition, ...], depth: int = 0) -> Filter:
    if depth > MAX_DEPTH:
        raise ServiceError(f"filters nest at most {MAX_DEPTH} deep", field=field)
    if not isinstance(value, list) or not value or not isinstance(value[0], str):
        raise ServiceError(
            'expected [operator, dimension, [values]] or ["and", [filters]]', field=field
        )
    op = value[0]
    if op in BEHAVIORAL:
        if len(value) != 2:
            raise ServiceError(f'expected ["{op}", filter]', field=field)
        child = _filter(value[1], f"{field}[1]", goals, depth + 1)
        if not _on_events(child):
            raise ServiceError(
                f"{op} takes filters on event dimensions (event:*) only", field=f"{field}[1]"
            )
        return Combined(op, (child,))
    if op in LOGICAL:
        if op == "not":
            if len(value) != 2:
                raise ServiceError('expected ["not", filter]', field=field)
            return Combined("not", (_filter(value[1], f"{field}[1]", goals, depth + 1),))
        if len(value) != 2 or not isinstance(value[1], list) or not value[1]:
            raise ServiceError(f'expected ["{op}", [filters]]', field=field)
        children = tuple(
            _filter(child, f"{field}[1][{i}]", goals, depth + 1) for i, child in enumerate(value[1])
        )
        return Combined(op, children)
    if op not in OPERATORS:
        raise ServiceError(
            f"unknown operator {op!r}; known: {', '.join((*OPERATORS, *LOGICAL, *BEHAVIORAL))}",
            field=f"{field}[0]",
        )
    if len(value) not in (3, 4):
        raise ServiceError("expected [operator, dimension, [values], {modifiers}?]", field=field)
    dimension = _dimension(value[1], f"{field}[1]")
    if is_time(dimension):
        raise ServiceError("filter by date_range, not by a time dimension", field=f"{field}[1]")
    clauses = value[2]
    if not isinstance(clauses, list) or not 0 < len(clauses) <= MAX_CLAUSES:
        raise ServiceError(f"expected a list of 1 to {MAX_CLAUSES} values", field=f"{field}[2]")
    texts = tuple(_text(c, f"{field}[2][{i}]") for i, c in enumerate(clauses))
    case_sensitive = True
    if len(value) == 4:
        modifiers = value[3]
        if not isinstance(modifiers, dict) or set(modifiers) - {"case_sensitive"}:
            raise ServiceError('expected {"case_sensitive": true|false}', field=f"{field}[3]")
        case_sensitive = modifiers.get("case_sensitive", True)
        if not isinstance(case_sensitive, bool):
            raise ServiceError("expected true or false", field=f"{field}[3].case_sensitive")
    if dimension == "event:goal" and op in ("matches", "matches_not"):
        # goals are chosen by name in Python (reports/sql/filters.py), so Python's `re` judges
        # these patterns; every other pattern runs in ClickHouse, whose RE2 judges it
        # (reports.sql.builder.run)
        for i, text in enumerate(texts):
            try:
                re.compile(text)
            except re.error as exc:
                raise ServiceError(
                    f"not a regular expression: {exc}", field=f"{field}[2][{i}]"
                ) from None
    if dimension == "event:goal" and op in ("is", "is_not"):
        known = {goal.name for goal in goals}
        for i, text in enumerate(texts):
            if text not in known:
                raise ServiceError(f"the site has no goal named {text!r}", field=f"{field}[2][{i}]")
    return Condition(op, dimension, texts, case_sensitive)


def _on_events(node: Filter) -> bool:
    if isinstance(node, Combined):
        return node.op not in BEHAVIORAL and all(_on_events(c) for c in node.children)
    return node.dimension.startswith("event:")


def parse_filters(value: Any, goals: tuple[GoalDefinition, ...]) -> tuple[Filter, ...]:
    """A body's `filters` (AND-ed), checked; errors name `filters[i]…`."""
    return tuple(_filter(f, f"filters[{i}]", goals) for i, f in enumerate(_list(value, "filters")))


def _order_by(
    value: Any, metrics: tuple[str, ...], dimensions: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    order = []
    for i, item in enumerate(_list(value, "order_by")):
        field = f"order_by[{i}]"
        if not isinstance(item, list) or len(item) != 2 or item[1] not in ("asc", "desc"):
            raise ServiceError('expected [metric or dimension, "asc" | "desc"]', field=field)
        name = item[0]
        if name == "time":
            name = next((d for d in dimensions if is_time(d)), name)
        if name not in metrics and name not in dimensions:
            raise ServiceError(
                f"{name!r} is neither a requested metric nor a requested dimension", field=field
            )
        order.append((name, item[1]))
    return tuple(order)


def _default_order(
    metrics: tuple[str, ...], dimensions: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """Plausible's default order, which the answer echoes: the time dimension ascending,
    then the first metric descending. Empty (the runner's own default, which ranks top
    lists by a cheaper count) where that gives the same order: no time dimension, and the
    first metric is the one the runner sorts by (`visitors` when asked)."""
    times = [(d, "asc") for d in dimensions if is_time(d)]
    by_metric = (metrics[0], "desc")
    if not times and metrics[0] == ("visitors" if "visitors" in metrics else metrics[0]):
        return ()
    return (*times, by_metric)


def _pagination(value: Any) -> tuple[int, int]:
    if value is None:
        return MAX_LIMIT, 0
    if not isinstance(value, dict) or set(value) - {"limit", "offset"}:
        raise ServiceError('expected {"limit": n, "offset": n}', field="pagination")
    limit, offset = value.get("limit", MAX_LIMIT), value.get("offset", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ServiceError(
            f"expected a whole number from 1 to {MAX_LIMIT}", field="pagination.limit"
        )
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= 10**9:
        raise ServiceError("expected a whole number from 0", field="pagination.offset")
    return limit, offset


def parse_sampling(value: Any) -> str | float:
    if value is None:
        return "auto"
    if value in ("auto", "exact"):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.01 <= value <= 1:
        return float(value)
    raise ServiceError('expected "auto", "exact" or a fraction from 0.01 to 1', field="sampling")


def _moment(value: Any, field: str, timezone: str, *, end: bool) -> dt.datetime:
    """One bound of a custom range: a date (its local midnight; the next one for the last
    date: whole days) or an ISO 8601 date-time (without an offset: in `timezone`)."""
    if isinstance(value, str) and "T" not in value:
        day = dates.parse_date(value, field)
        return (
            dates.DateRange(day, day, timezone).end
            if end
            else dates.DateRange(day, day, timezone).start
        )
    if not isinstance(value, str) or len(value) > 40:
        raise ServiceError(f"expected an ISO 8601 date or date-time, got {value!r}", field=field)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ServiceError(f"{value!r} is not an ISO 8601 date-time", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dates.zone(timezone))
    if moment.date() < dates.EARLIEST:
        raise ServiceError(f"{value!r} is before {dates.EARLIEST.isoformat()}", field=field)
    if end:  # the last second is inclusive, as Plausible echoes it: 15:59:59 ends at 16:00
        moment = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
    return moment


def resolve_range(
    value: Any,
    *,
    timezone: str,
    first_day: dt.date | None = None,
    now: dt.datetime | None = None,
    field: str = "date_range",
) -> dates.DateRange:
    """A `date_range`: a name, `[first, last]` dates (whole local days), or `[since,
    until]` ISO 8601 date-times (a `TimeRange`, to the second)."""
    if not (
        isinstance(value, list)
        and len(value) == 2
        and any(isinstance(v, str) and "T" in v for v in value)
    ):
        return dates.resolve(value, timezone=timezone, first_day=first_day, now=now, field=field)
    since = _moment(value[0], f"{field}[0]", timezone, end=False)
    until = _moment(value[1], f"{field}[1]", timezone, end=True)
    if until <= since:
        raise ServiceError("the end is before the start", field=field)
    if until - since > dt.timedelta(days=366 * 20):
        raise ServiceError("a range may span at most 20 years", field=field)
    return TimeRange.between(since, until, timezone)


def _comparison(value: Any, span: dates.DateRange, now: dt.datetime | None) -> dates.DateRange:
    field = "include.comparisons"
    if not isinstance(value, dict) or set(value) - {"mode", "date_range"}:
        raise ServiceError(
            'expected {"mode": "previous_period" | "year_over_year" | "custom"}', field=field
        )
    mode = value.get("mode")
    if mode == "previous_period":
        return span.previous_period()
    if mode == "year_over_year":
        return span.year_over_year()
    if mode == "custom":
        if not isinstance(value.get("date_range"), list):
            raise ServiceError(
                "a custom comparison needs [first, last] dates", field=f"{field}.date_range"
            )
        return resolve_range(
            value["date_range"], timezone=span.timezone, now=now, field=f"{field}.date_range"
        )
    raise ServiceError(
        f"unknown mode {mode!r}; known: {', '.join(COMPARISONS)}", field=f"{field}.mode"
    )


def parse(
    *, site: Site, body: Mapping[str, Any], context: ParseContext, now: dt.datetime | None = None
) -> Parsed:
    """`body` as a `ReportQuery` of `site` (its id, domain and time zone: the row as
    loaded), with the goals and first day of `context`."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise ServiceError("unknown field", field=unknown[0])
    metrics = _metrics(body.get("metrics"))
    if "date_range" not in body:
        raise ServiceError("required", field="date_range")
    raw_range = body["date_range"]
    timezone = body.get("timezone", site.timezone)
    if not isinstance(timezone, str):
        raise ServiceError("expected a time zone name such as Europe/Paris", field="timezone")
    dates.zone(timezone)
    span = resolve_range(raw_range, timezone=timezone, first_day=context.first_day, now=now)
    dimensions = _dimensions(body.get("dimensions"), span)
    if "percentage" in metrics and not dimensions:  # a share of what? (Plausible's rule)
        raise ServiceError("percentage needs at least one dimension", field="metrics")
    goals = context.goals
    filters = parse_filters(body.get("filters"), goals)
    order_by = _order_by(body.get("order_by"), metrics, dimensions) or _default_order(
        metrics, dimensions
    )
    limit, offset = _pagination(body.get("pagination"))
    include = body.get("include") or {}
    if not isinstance(include, dict):
        raise ServiceError("expected an object", field="include")
    for key in include:
        if key not in INCLUDE:
            raise ServiceError(
                f"unknown option; known: {', '.join(sorted(INCLUDE))}", field=f"include.{key}"
            )
    for key in ("time_labels", "imports", "total_rows"):
        if not isinstance(include.get(key, False), bool):
            raise ServiceError("expected true or false", field=f"include.{key}")
    if include.get("time_labels") and not any(is_time(d) for d in dimensions):
        raise ServiceError("requires a time dimension", field="include.time_labels")
    comparison = None
    if include.get("comparisons") is not None:
        comparison = _comparison(include["comparisons"], span, now)
    query = ReportQuery(
        site_id=site.id,
        date_range=span,
        metrics=metrics,
        dimensions=dimensions,
        filters=filters,
        order_by=order_by,
        limit=limit,
        offset=offset,
        comparison=comparison,
        sampling=parse_sampling(body.get("sampling")),
        goals=goals,
        revenue_currency=currency_of(filters, goals),
        imports=bool(include.get("imports")),
    )
    local = dates.zone(timezone)
    end = span.end.astimezone(local) - dt.timedelta(seconds=1)
    echo = {
        "site_id": site.domain,
        "timezone": timezone,
        "metrics": list(metrics),
        "date_range": [
            span.start.astimezone(local).isoformat(),
            end.isoformat(),
        ],
        "dimensions": list(dimensions),
        "filters": body.get("filters") or [],
        "order_by": [list(item) for item in order_by or ((metrics[0], "desc"),)],
        "include": include,
        "pagination": {"limit": limit, "offset": offset},
    }
    return Parsed(query=query, echo=echo, time_labels=bool(include.get("time_labels")))
