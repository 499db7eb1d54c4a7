"""The one table of metric and dimension expressions, per ClickHouse table.

`events` holds one row per event; `sessions` one visit per `session_id` as cancel (-1) and
state (+1) rows, so its counts are `sum(sign * x)` (docs/clickhouse.md). A dimension that
a table cannot answer is `None` there: the planner reads the other table or filters
through a subquery on `session_id`.

Expressions are Trail's code; a request's values (a props key, a time zone, goal patterns)
enter only through `Binder`, as bound parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common import countries
from reports.query import PROPS_PREFIX, GoalDefinition, interval_of, is_time
from reports.revenue import revenue_sql

NOT_SET = "(not set)"
NONE = "(none)"
DIRECT = "Direct / None"
EVENTS, SESSIONS = "events", "sessions"
# The engagement events of `events`, one row per page view (visit × page): their deepest
# scroll and engaged time. Read through a subquery on `events` (reports/sql/selects.py).
ENGAGEMENT = "engagement"
TIME_COLUMN = {EVENTS: "timestamp", SESSIONS: "start", ENGAGEMENT: "timestamp"}


@dataclass
class Binder:
    """Parameter names unique within one query (subqueries included) and their values."""

    params: dict[str, Any] = field(default_factory=dict)
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def bind(self, value: Any, kind: str) -> str:
        name = f"p{next(self._names)}"
        self.params[name] = value
        return f"{{{name}:{kind}}}"


def _labelled(column: str, empty: str) -> str:
    return f"if({column} = '', '{empty}', {column})" if empty else column


def _sql_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


COUNTRY_NAMES = countries.NAMES
# `visit:country_name`: the name of the stored code, '' for an unknown one (Plausible's)
_COUNTRY_NAME_SQL = (
    f"transform(country_code, [{', '.join(map(_sql_text, COUNTRY_NAMES))}],"
    f" [{', '.join(map(_sql_text, COUNTRY_NAMES.values()))}], '')"
)

# visit dimension → (column, label of an empty value, the same on every row of a visitor?).
# A visitor id is a hash of one IP and one user agent, so its location and device (not its
# screen) are those of each of its events and visits; a visit's source, UTM tags and
# entry/exit pages are the visit's alone.
_VISIT = {
    "entry_page": ("entry_page", "", False),
    "exit_page": ("exit_page", "", False),
    "source": ("referrer_source", DIRECT, False),
    "referrer": ("referrer", DIRECT, False),
    "channel": ("channel", NOT_SET, False),
    "utm_medium": ("utm_medium", NONE, False),
    "utm_source": ("utm_source", NONE, False),
    "utm_campaign": ("utm_campaign", NONE, False),
    "utm_content": ("utm_content", NONE, False),
    "utm_term": ("utm_term", NONE, False),
    "country": ("country_code", NOT_SET, True),
    "region": ("region", NOT_SET, True),
    "city": ("city", NOT_SET, True),
    # Plausible's names, empty when unknown (its example filters them with `is_not [""]`)
    "country_name": (_COUNTRY_NAME_SQL, "", True),
    "region_name": ("region", "", True),
    "city_name": ("city", "", True),
    "device": ("device", NOT_SET, True),
    "browser": ("browser", NOT_SET, True),
    "browser_version": ("browser_version", NOT_SET, True),
    "os": ("os", NOT_SET, True),
    "os_version": ("os_version", NOT_SET, True),
    "screen": ("screen_size", NOT_SET, False),
}


def visit_column(dimension: str) -> str:
    """The `sessions` column of a visit dimension (`visit:source` → `referrer_source`)."""
    return _VISIT[dimension.removeprefix("visit:")][0]


# A page without a host (`file:///…`, a bare path) is Plausible's "(none)" (docs/hostnames.md)
_HOSTNAME = ("hostname", NONE)
_EVENT = {
    "event:page": "pathname",
    "event:name": "name",
    "event:hostname": _labelled(*_HOSTNAME),
}


def labelled_column(dimension: str) -> tuple[str, str] | None:
    """The column of a dimension whose empty value is shown as a label, and that label
    (`visit:channel` → `("channel", "(not set)")`); None for other dimensions. A filter can
    then compare the column itself (reports/sql/filters.py)."""
    if dimension == "event:hostname":
        return _HOSTNAME
    if dimension.startswith("visit:") and dimension[6:] in _VISIT:
        column, empty, _ = _VISIT[dimension[6:]]
        return (column, empty) if empty else None
    return None


def of_visitor(dimension: str) -> bool:
    """Is `dimension` the same on every event and visit of a visitor (location, device)?"""
    return dimension.startswith("visit:") and _VISIT[dimension[6:]][2]


def fixed_per_visit(dimension: str) -> bool:
    """Is `dimension` set when a visit starts and never changed by its later events? Then
    every state row of the visit in `sessions` holds its final value, not only the last."""
    return dimension.startswith("visit:") and dimension != "visit:exit_page"


def on_table(dimension: str, table: str) -> bool:
    """Can `table` answer `dimension` from its own columns?"""
    if is_time(dimension):
        return True
    if dimension.startswith("visit:"):
        return table == SESSIONS or of_visitor(dimension)
    return table != SESSIONS  # event:*


def goal_condition(goal: GoalDefinition, binder: Binder) -> str:
    if goal.kind == "event":
        return f"name = {binder.bind(goal.value, 'String')}"
    return f"name = 'pageview' AND match(pathname, {binder.bind(page_regex(goal.value), 'String')})"


_REGEX_SPECIAL = frozenset("\\.^$|?+()[]{}")


def page_regex(pattern: str) -> str:
    """A path pattern where `*` matches any characters, as an anchored RE2 expression."""
    escaped = "".join("\\" + c if c in _REGEX_SPECIAL else c for c in pattern)
    return "^" + escaped.replace("*", ".*") + "$"


def goal_index(goals: tuple[GoalDefinition, ...], binder: Binder) -> str:
    """Per event row, the 1-based numbers of the goals it completes, one row each."""
    if not goals:  # a site without goals: no row completes one
        return "arrayJoin(CAST([], 'Array(UInt8)'))"
    parts = ", ".join(
        f"if({goal_condition(goal, binder)}, {number}, 0)"
        for number, goal in enumerate(goals, start=1)
    )
    return f"arrayJoin(arrayFilter(g -> g != 0, [{parts}]))"


def bucket_start(column: str, interval: str, tz: str, first_day: str) -> str:
    """The start of the bucket of `interval` that the instant `column` falls in, in `tz` (a
    Date or DateTime: cheaper to compare than its label)."""
    if interval == "hour":
        return f"toStartOfHour({column}, {tz})"
    if interval == "day":
        return f"toDate({column}, {tz})"
    start = {"week": "toMonday", "month": "toStartOfMonth"}[interval]
    return f"greatest({start}({column}, {tz}), {first_day})"


def time_bucket(column: str, interval: str, tz: str, first_day: str) -> str:
    """The label of the bucket of `interval` that the instant `column` falls in, in `tz`."""
    bucket = bucket_start(column, interval, tz, first_day)
    if interval == "hour":
        return f"formatDateTime({bucket}, '%Y-%m-%d %H:00:00', {tz})"
    return f"toString({bucket})"


# A visit's buckets: instants an hour apart from its start, and its last event. Time zones
# are whole quarter hours off UTC and every bucket lasts an hour or more, so each bucket
# between the visit's first and last event holds one of these instants.
_ACTIVE_INSTANTS = (
    "arrayPushBack(arrayMap(i -> start + toIntervalSecond(3600 * i),"
    " range(toUInt32(intDiv(dateDiff('second', start, timestamp), 3600) + 1))), timestamp)"
)


def dimension_sql(
    dimension: str,
    table: str,
    binder: Binder,
    *,
    timezone: str,
    first_day: Any,
    since_until: tuple[Any, Any] = (None, None),
    goals: tuple[GoalDefinition, ...] = (),
) -> str:
    """The expression of `dimension` on `table` (which must be able to answer it).

    A time bucket is an event's own; on `sessions`, a visit is in every bucket of the range
    `since_until` it was active in (from its first to its last event)."""
    if is_time(dimension):
        tz, interval = binder.bind(timezone, "String"), interval_of(dimension)
        day = binder.bind(first_day, "Date") if interval in ("week", "month") else ""
        if table != SESSIONS:
            return time_bucket(TIME_COLUMN[table], interval, tz, day)
        low, high = (binder.bind(at, "DateTime64(3, 'UTC')") for at in since_until)
        first = time_bucket("start", interval, tz, day)
        spread = (
            f"arrayDistinct(arrayMap(t -> {time_bucket('t', interval, tz, day)},"
            f" arrayFilter(t -> t >= {low} AND t < {high}, {_ACTIVE_INSTANTS})))"
        )  # most visits begin and end in one bucket of the range: no array to build
        # Buckets compared before they are labelled (a third of the chart's CPU): one
        # bucket has one label, and where a repeated hour's two buckets share a label the
        # spread yields that label alone.
        same = " = ".join(bucket_start(c, interval, tz, day) for c in ("start", "timestamp"))
        inside = f"start >= {low} AND timestamp < {high} AND {same}"
        return f"arrayJoin(if({inside}, [{first}], {spread}))"
    if dimension.startswith("visit:"):
        column, empty, _ = _VISIT[dimension[6:]]
        return _labelled(column, empty)
    if dimension.startswith(PROPS_PREFIX):
        key = binder.bind(dimension[len(PROPS_PREFIX) :], "String")
        return f"if(mapContains(props, {key}), props[{key}], '{NONE}')"
    if dimension == "event:goal":
        return goal_index(goals, binder)
    return _EVENT[dimension]


# metric → expression, per table. Counts scale with sampling; rates do not.
EVENT_METRICS = {
    "visitors": "uniqExactIf(visitor_id, name != 'engagement')",
    "visits": "uniqExactIf(session_id, name != 'engagement')",
    "pageviews": "countIf(name = 'pageview')",
    "events": "countIf(name != 'engagement')",
    # in the currency of the revenue goals filtered on (reports/revenue.py), bound by
    # `reports.sql.selects.part_select` as `revenue_currency`
    "total_revenue": revenue_sql("total_revenue", "{revenue_currency:String}"),
    "average_revenue": revenue_sql("average_revenue", "{revenue_currency:String}"),
}
# The same on a read of pageview rows only (`name IN ('pageview')`): without the conditions,
# ClickHouse counts from the primary key's ranges instead of reading `name` row by row.
PAGEVIEW_ROW_METRICS = {
    "visitors": "uniqExact(visitor_id)",
    "visits": "uniqExact(session_id)",
    "pageviews": "count()",
    "events": "count()",
}
ENGAGEMENT_METRICS = {
    "scroll_depth": "toUInt8(round(ifNotFinite(avg(depth), 0)))",  # no rows: 0, as stats.py
    "time_on_page": "avg(engaged) / 1000",
}
SESSION_METRICS = {
    "visitors": "uniqExact(visitor_id)",
    "visits": "sum(sign)",
    "pageviews": "sum(sign * pageviews)",
    "events": "sum(sign * events)",
    "bounce_rate": "if(sum(sign) > 0, 100 * sum(sign * is_bounce) / sum(sign), 0)",
    "visit_duration": "if(sum(sign) > 0, sum(sign * duration) / sum(sign), 0)",
    "views_per_visit": "if(sum(sign) > 0, sum(sign * pageviews) / sum(sign), 0)",
}
METRICS_ON = {EVENTS: EVENT_METRICS, SESSIONS: SESSION_METRICS, ENGAGEMENT: ENGAGEMENT_METRICS}
# Grouped by a dimension a visit's later events change (its exit page), a visit's earlier
# state row and its cancel sit in the old group until ClickHouse merges them: there a
# visitor counts only while the signs of their rows in the group sum above zero.
COLLAPSED_VISITORS = "arrayCount(n -> n > 0, (sumMap([visitor_id], [toInt64(sign)])).2)"


def metrics_on(table: str, dimensions: Iterable[str]) -> dict[str, str]:
    """The metric expressions of `table` when grouped by `dimensions`."""
    expressions = METRICS_ON[table]
    if table == SESSIONS and any(
        d.startswith("visit:") and not fixed_per_visit(d) for d in dimensions
    ):
        return {**expressions, "visitors": COLLAPSED_VISITORS}
    return expressions


COUNTS = frozenset({"visitors", "visits", "pageviews", "events", "total_revenue"})
# The cheap count a top list is ranked by before exact metrics are computed for its rows.
RANK_BY = {EVENTS: "count()", SESSIONS: "sum(sign)"}


def date_condition(
    table: str, binder: Binder, start: Any, end: Any, *, active: bool = False
) -> str:
    """Rows of [start, end): the `toDate` bound lets the primary index skip other days.

    `active` (on `sessions`, for time buckets): the visits with an event in the range, those
    begun on the day before it included (a visit spans a day boundary at most once in
    practice; longer ones are counted from the range's first day on)."""
    column = TIME_COLUMN[table]
    low, high = binder.bind(start, "DateTime64(3, 'UTC')"), binder.bind(end, "DateTime64(3, 'UTC')")
    if active and table == SESSIONS:
        return (
            f"toDate(start) >= toDate({low}) - 1 AND toDate(start) <= toDate({high})"
            f" AND start < {high} AND timestamp >= {low}"
        )
    return (
        f"toDate({column}) >= toDate({low}) AND toDate({column}) <= toDate({high})"
        f" AND {column} >= {low} AND {column} < {high}"
    )
