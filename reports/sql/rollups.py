"""When a report can be answered from the rollups, and their metric expressions.

The rollups (ClickHouse migration 0008, docs/rollups.md) hold, per site and UTC hour, the
events' counts and visitor sets (`rollup_events`: the site's, and per event name and page)
and the visits' sums and visitor sets by the hour they started and ended
(`rollup_sessions`: the site's, and per value of one visit dimension). Their columns have
the raw tables' names, so `reports.sql.selects.part_select` builds the same dimension,
filter and time-bucket expressions on them; only the metrics differ (sums and merged
states instead of counts over rows).

A part of a plan is covered when every metric is one the rollup keeps exactly, its
breakdown and filters touch one rollup dimension at most (a row holds one dimension's
value), and the range's instants are whole UTC hours in a zone whose offset is whole hours
throughout the range. Otherwise the part reads raw rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from events.rollups_daily import (
    EVENT_ROWS,
    HOURLY_DAYS,
    NAME_ROWS,
    SHAPES,
    VISIT_COLUMNS,
    DailyState,
    closed_before,
    column_names,
)
from reports.dates import DateRange
from reports.query import VISIT_DIMENSIONS as ALL_VISIT_DIMENSIONS
from reports.query import (
    Combined,
    Condition,
    Filter,
    GoalDefinition,
    ReportQuery,
    TimeRange,
    behavioral,
    interval_of,
    is_time,
)
from reports.sql.builder import Select, UnionAll
from reports.sql.catalog import ENGAGEMENT, EVENTS, SESSIONS, visit_column

ROLLUP_OF = {EVENTS: "rollup_events", SESSIONS: "rollup_sessions"}
PENDING = "rollup_pending"
# The dimension key of a row covering the whole site.
SITE = ""
EVENT_DIMENSIONS = frozenset({"event:page", "event:name", "event:goal"})
# Every visit dimension but the exit page, which changes as a visit grows (docs/rollups.md).
VISIT_DIMENSIONS = frozenset(ALL_VISIT_DIMENSIONS) - {"visit:exit_page"}
METRICS = {
    EVENTS: {
        "visitors": "uniqExactMerge(visitors)",
        "pageviews": "sum(pageviews)",
        "events": "sum(events)",
    },
    SESSIONS: {
        "visitors": "uniqExactMerge(visitors)",
        "visits": "sum(visits)",
        "pageviews": "sum(pageviews)",
        "events": "sum(events)",
        "bounce_rate": "if(sum(visits) > 0, 100 * sum(bounces) / sum(visits), 0)",
        "visit_duration": "if(sum(visits) > 0, sum(duration) / sum(visits), 0)",
        "views_per_visit": "if(sum(visits) > 0, sum(pageviews) / sum(visits), 0)",
    },
}
# The daily tier holds visitor counts per day (or piece of a day), summed.
DAILY_OF = {EVENTS: "rollup_events_daily", SESSIONS: "rollup_sessions_daily"}
DAILY_METRICS = {
    table: {**metrics, "visitors": "sum(visitors)"} for table, metrics in METRICS.items()
}
# Time buckets the daily tier can cut a range into (local days and longer).
DAILY_INTERVALS = frozenset({"day", "week", "month"})
# The cheap counts a top list is ranked by, as on raw rows (catalog.RANK_BY): the events
# read (a page's views when only pageviews are read) and the visits.
RANK_BY = {EVENTS: "sum(events)", SESSIONS: "sum(visits)"}
# What a grouped read of visits keeps (raw: `sum(sign) > 0`).
VISITS_HAVING = "sum(visits) > 0"


def filter_dimensions(filters: tuple[Filter, ...]) -> set[str]:
    found: set[str] = set()

    def walk(node: Filter) -> None:
        if isinstance(node, Combined):
            for child in node.children:
                walk(child)
        else:
            found.add(node.dimension)

    for node in filters:
        walk(node)
    return found


def row_dimension(
    table: str, metrics: tuple[str, ...], dimensions: tuple[str, ...], filters: tuple[Filter, ...]
) -> str | None:
    """The rollup rows (`dimension` key) a part of a plan on `table` reads, None when the
    rollup cannot answer it exactly."""
    if table == ENGAGEMENT or table not in METRICS:
        return None
    if any(m not in METRICS[table] for m in metrics):
        return None
    touched = {d for d in dimensions if not is_time(d)} | filter_dimensions(filters)
    if table == EVENTS:
        if not touched:
            return SITE
        return EVENT_ROWS if touched <= EVENT_DIMENSIONS else None
    if not touched:
        return SITE
    if len(touched) == 1 and touched <= VISIT_DIMENSIONS:
        return next(iter(touched))
    return None


@lru_cache(maxsize=4096)
def _whole_hours(timezone: str, first: dt.date, last: dt.date) -> bool:
    zone = ZoneInfo(timezone)
    day = first
    while day <= last + dt.timedelta(days=1):
        for hour in (0, 12):  # a change of offset shows at the next noon or midnight
            offset = dt.datetime.combine(day, dt.time(hour), tzinfo=zone).utcoffset()
            if offset is None or offset.total_seconds() % 3600:
                return False
        day += dt.timedelta(days=1)
    return True


def aligned(span: DateRange) -> bool:
    """Are the range's time buckets (hours, days, weeks, months in its zone) unions of
    whole UTC hours? So in zones whose offset is a whole number of hours throughout."""
    return _whole_hours(span.timezone, span.first, span.last)


def covers(
    query: ReportQuery,
    parts: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...],
    *,
    shapes: tuple[tuple[tuple[str, ...], tuple[Filter, ...]], ...],
    pending: Callable[[int], bool],
) -> bool:
    """Can the rollups answer every (table, metrics, event names) part of `query` for each
    (dimensions, filters) shape the runner reads, over its range and its comparison's, for
    a site whose rollups are complete (`pending(site_id)` is False)?"""
    if query.imports:
        return False
    if not isinstance(query.sampling, str):  # a sample was asked for by its fraction
        return False
    spans = [query.date_range, *([query.comparison] if query.comparison else [])]
    if any(isinstance(span, TimeRange) for span in spans):  # bounds to the second
        return False
    if behavioral(query.filters):  # whether a visit did an event: not in the rollups
        return False
    if not all(aligned(span) for span in spans):
        return False
    for table, metrics, names in parts:
        for dimensions, filters in shapes:
            read = Read(table, metrics, dimensions, filters, names)
            if any(source_of(query.over(span), read) is None for span in spans):
                return False
    return not pending(query.site_id)


@dataclass(frozen=True)
class Read:
    """One read of a rollup: a part's table and metrics by some dimensions and filters,
    of some event names (none: every event)."""

    table: str
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...]
    filters: tuple[Filter, ...]
    event_names: tuple[str, ...] = ()


def source_of(query: ReportQuery, read: Read) -> tuple[str, str] | None:
    """Where `read` over the query's range comes from: `("daily", rows)` (the daily tier's
    rows of one dimension key), `("hourly", rows)`, or None (raw rows). The daily tier when
    it can add its counts up exactly; the hourly rows when they hold the whole range."""
    rows = row_dimension(read.table, read.metrics, read.dimensions, read.filters)
    if rows is None:
        return None
    if daily(query, read.dimensions):
        found = daily_rows(read, rows, query.goals)
        if found is not None:
            return "daily", found
    if hourly_kept(query.date_range, dt.datetime.now(dt.UTC).date()):
        return "hourly", rows
    return None


def metrics_of(query: ReportQuery, read: Read) -> dict[str, str]:
    """The metric expressions of `read` on the tier it comes from."""
    found = source_of(query, read)
    return (DAILY_METRICS if found is not None and found[0] == "daily" else METRICS)[read.table]


def _one_value(filters: tuple[Filter, ...], dimension: str) -> bool:
    """Is `dimension` filtered to one value, by one top-level case-sensitive `is`?"""
    found = [f for f in filters if dimension in filter_dimensions((f,))]
    return (
        len(found) == 1
        and isinstance(found[0], Condition)
        and found[0].op == "is"
        and len(found[0].clauses) == 1
        and found[0].case_sensitive
    )


def daily_rows(read: Read, rows: str, goals: tuple[GoalDefinition, ...]) -> str | None:
    """The daily tier's dimension key for `read` (whose hourly rows are `rows`), None when
    its counts cannot be added up: every group of the answer must be made of one row per
    day (or piece of one), since a visitor in two rows of a day would be counted twice.
    Visits: rows of one visit dimension, grouped or filtered to one value. Events: a row
    per event name and page (both fixed in a group), or per event name (no page asked)."""
    if rows == SITE:
        return SITE
    grouped = set(read.dimensions)
    touched = filter_dimensions(read.filters)
    if read.table == SESSIONS:
        return rows if rows in grouped or _one_value(read.filters, rows) else None
    if "event:goal" in grouped | touched:  # goals are event names only: their name rows
        if any(goal.kind != "event" for goal in goals) or "event:page" in grouped | touched:
            return None
        return (
            NAME_ROWS if "event:goal" in grouped or _one_value(read.filters, "event:goal") else None
        )
    one_name = (
        "event:name" in grouped
        or len(read.event_names) == 1
        or _one_value(read.filters, "event:name")
    )
    if not one_name:
        return None
    if "event:page" not in grouped | touched:
        return NAME_ROWS
    return EVENT_ROWS if "event:page" in grouped or _one_value(read.filters, "event:page") else None


def piece_kinds(table: str, timed: bool) -> tuple[str, ...]:
    """The daily rows a day cut by the report is read from (events/rollups_daily.py): its
    pieces' events; its visits' sums by the pieces they span, and their visitors by the
    piece they began in, or (a time series) by every piece they were active in."""
    if table == EVENTS:
        return ("part",)
    return ("active", "span") if timed else ("part", "span")


def daily(query: ReportQuery, dimensions: tuple[str, ...]) -> bool:
    """Can a read by `dimensions` come from the daily tier? Every read but an hour-by-hour
    one, which the hourly rows answer (`hourly_kept` says whether they still hold it)."""
    return all(interval_of(d) in DAILY_INTERVALS for d in dimensions if is_time(d))


def utc_days(span: DateRange) -> tuple[dt.date, dt.date]:
    """The UTC days the range's instants fall on."""
    last = (span.end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    return span.start.astimezone(dt.UTC).date(), last


def hourly_kept(span: DateRange, today: dt.date) -> bool:
    """Are the range's UTC days within the hourly rows kept (events/rollups_daily.py)?"""
    return utc_days(span)[0] > today - dt.timedelta(days=HOURLY_DAYS)


def split_days(span: DateRange, dimensions: tuple[str, ...]) -> list[dt.date]:
    """The UTC days a boundary of the report cuts (a range edge or a bucket's start that is
    a local midnight inside the UTC day, not its first instant): their pieces are read,
    every other day's whole-day rows."""
    zone = ZoneInfo(span.timezone)
    intervals = {interval_of(d) for d in dimensions if is_time(d)}
    cuts = [span.start, span.end]
    day = span.first
    while day <= span.last and intervals:
        if (
            "day" in intervals
            or ("week" in intervals and day.weekday() == 0)
            or ("month" in intervals and day.day == 1)
        ):
            cuts.append(dt.datetime.combine(day, dt.time(), tzinfo=zone))
        day += dt.timedelta(days=1)
    found = set()
    for cut in cuts:
        at = cut.astimezone(dt.UTC)
        if at.time() != dt.time():
            found.add(at.date())
    return sorted(found)


def whole_months(span: DateRange, split: list[dt.date], now: dt.datetime) -> list[dt.date]:
    """The UTC calendar months (their first days) a read takes from month rows: inside the
    range, cut by none of its boundaries (`split`), and closed a day before `now` (so a
    `DailyState` read before its last day closed is older than its cache; a day closed
    late is read from its hourly rows meanwhile)."""
    first, last = utc_days(span)
    horizon = closed_before(now)
    cut = set(split)
    found = []
    month = first.replace(day=1)
    while month <= last:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        end = following - dt.timedelta(days=1)
        inside = first <= month and end <= last and end < horizon - dt.timedelta(days=1)
        if inside and not any(month <= day <= end for day in cut):
            found.append(month)
        month = following
    return found


def daily_source(
    query: ReportQuery,
    table: str,
    rows: str,
    state: DailyState,
    *,
    split: Sequence[dt.date],
    pieces: Sequence[str],
    months: Sequence[dt.date] = (),
) -> UnionAll:
    """The daily tier's rows of one dimension key (`rows`) over the query's range: the
    days `state` says are closed as stored, the other days shaped from the hourly rows
    (the `SHAPES` the closing job writes them with), in the query's zone."""
    daily_table = DAILY_OF[table]
    hourly, renamed, column, shapes = SHAPES[daily_table]
    names = rows == NAME_ROWS
    # the one visit column the read touches (its rows hold that dimension's values only)
    kept = frozenset({visit_column(rows)} if rows.startswith("visit:") else ())
    shapes = tuple(shape.narrowed(kept) for shape in shapes)
    dropped = set(VISIT_COLUMNS) - kept
    first, last = utc_days(query.date_range)
    first -= dt.timedelta(days=1)  # visits begun the day before
    params = {
        "rollup_kind": rows,
        "rollup_hourly_kind": EVENT_ROWS if names else rows,
        "rollup_first": first,
        "rollup_last": last,
        "rollup_zone": query.timezone,
        "rollup_months": list(months),
        "rollup_open_from": state.open_from,
        "rollup_closed": list(state.closed),
        "rollup_split": list(split),
        "rollup_pieces": list(pieces),
    }
    in_months = "toStartOfMonth(day) IN {rollup_months:Array(Date)}"
    stored = Select(
        site_id=query.site_id,
        table=daily_table,
        columns=tuple(name for name in column_names(shapes[0]) if name not in dropped),
        where=(
            "dimension = {rollup_kind:String}",
            "day >= {rollup_first:Date} AND day <= {rollup_last:Date}",
            "kind IN ('day', 'month') OR zone = {rollup_zone:String}",
            # a whole month's own row, for the others their days'
            f"if(kind = 'month', {in_months}, NOT (kind = 'day' AND {in_months}))",
            "kind = 'month' OR day < {rollup_open_from:Date} OR day IN {rollup_closed:Array(Date)}",
        ),
        params=params,
    )
    span = {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}
    if not {day for day in span if day >= state.open_from} - set(state.closed):
        return UnionAll(site_id=query.site_id, parts=(stored,))  # no day read hour by hour
    hours = Select(
        site_id=query.site_id,
        table=hourly,
        columns=tuple(name for name in renamed if name not in dropped),
        where=(
            "dimension = {rollup_hourly_kind:String}",
            f"toDate({column}) >= greatest({{rollup_first:Date}}, {{rollup_open_from:Date}})",
            f"toDate({column}) <= {{rollup_last:Date}}",
            f"toDate({column}) NOT IN {{rollup_closed:Array(Date)}}",
        ),
        params=params,
    )
    # the open days' rows the read takes: pieces of the days cut, the others whole
    hour = "start_hour" if table == SESSIONS else "hour"
    chosen = (
        f"if(toDate({hour}) IN {{rollup_split:Array(Date)}},"
        " tupleElement(k, 1) IN {rollup_pieces:Array(String)}, tupleElement(k, 1) = 'day')"
    )
    shaped = tuple(
        Select(
            site_id=query.site_id,
            table=hours,
            columns=shape.columns,
            where=(shape.where,),
            params=params,
            group_by=shape.choosing(chosen).group_by,
        )
        for shape in shapes
        if shape.names == names
    )
    return UnionAll(site_id=query.site_id, parts=(stored, *shaped))
