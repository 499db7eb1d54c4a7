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
from collections.abc import Callable
from functools import lru_cache
from zoneinfo import ZoneInfo

from reports.dates import DateRange
from reports.query import VISIT_DIMENSIONS as ALL_VISIT_DIMENSIONS
from reports.query import Combined, Filter, ReportQuery, TimeRange, behavioral, is_time
from reports.sql.catalog import ENGAGEMENT, EVENTS, SESSIONS

ROLLUP_OF = {EVENTS: "rollup_events", SESSIONS: "rollup_sessions"}
PENDING = "rollup_pending"
# The dimension key of a row covering the whole site.
SITE = ""
# rollup_events rows per event name and page (the page of every event, custom ones too)
EVENT_ROWS = "event"
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
    parts: tuple[tuple[str, tuple[str, ...]], ...],
    *,
    shapes: tuple[tuple[tuple[str, ...], tuple[Filter, ...]], ...],
    pending: Callable[[int], bool],
) -> bool:
    """Can the rollups answer every (table, metrics) part of `query` for each (dimensions,
    filters) shape the runner reads, over its range and its comparison's, for a site whose
    rollups are complete (`pending(site_id)` is False)?"""
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
    for table, metrics in parts:
        for dimensions, filters in shapes:
            if row_dimension(table, metrics, dimensions, filters) is None:
                return False
    return not pending(query.site_id)
