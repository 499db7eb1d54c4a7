"""A report as data: the frozen `ReportQuery` every report runs from (API and dashboard).

Names follow Plausible's Stats API v2 (metrics, `event:`/`visit:` dimensions, filter
operators); `reports/parse.py` builds a query from a request body and a `ParseContext`,
`reports/plan.py` decides how to answer it, `reports/runner.py` runs it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal
from zoneinfo import ZoneInfo

from reports.dates import DateRange

METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
    "conversion_rate",
    "scroll_depth",
    "time_on_page",
    "percentage",
    "total_revenue",
    "average_revenue",
)
# Plausible's per-row rate: asked by name in a request body (reports/stats.py), computed
# as `conversion_rate` with `ReportQuery.group_conversion` set
GROUP_CONVERSION_RATE = "group_conversion_rate"
EVENT_DIMENSIONS = ("event:page", "event:name", "event:goal", "event:hostname")
PROPS_PREFIX = "event:props:"
VISIT_DIMENSIONS = tuple(
    f"visit:{name}"
    for name in (
        "entry_page",
        "exit_page",
        "source",
        "referrer",
        "channel",
        "utm_medium",
        "utm_source",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "country",
        "region",
        "city",
        "device",
        "browser",
        "browser_version",
        "os",
        "os_version",
        "screen",
    )
)
# Plausible's location names beside the codes: the country's English name, and the region
# and city as stored (their names: Trail keeps no ISO 3166-2 or GeoName codes)
LOCATION_NAMES = ("visit:country_name", "visit:region_name", "visit:city_name")
TIME_DIMENSIONS = ("time", "time:hour", "time:day", "time:week", "time:month")
OPERATORS = ("is", "is_not", "contains", "contains_not", "matches", "matches_not")
NEGATED = {"is_not": "is", "contains_not": "contains", "matches_not": "matches"}
LOGICAL = ("and", "or", "not")
# `[op, filter]` on event dimensions: the visits that did (or never did) a matching event
BEHAVIORAL = ("has_done", "has_not_done")

Interval = Literal["hour", "day", "week", "month"]


@dataclass(frozen=True)
class TimeRange(DateRange):
    """A custom range given as ISO 8601 date-times: its own UTC bounds `since` (inclusive)
    and `until` (exclusive) inside the local days `first`..`last`. Rollups and imported
    daily aggregates cannot answer it (reports/sql/rollups.py, reports/sql/imported.py)."""

    since: dt.datetime
    until: dt.datetime

    @property
    def start(self) -> dt.datetime:
        return self.since

    @property
    def end(self) -> dt.datetime:
        return self.until

    def shifted(self, days: int) -> TimeRange:
        step = dt.timedelta(days=days)
        return TimeRange(
            self.first + step, self.last + step, self.timezone, self.since + step, self.until + step
        )

    def previous_period(self) -> TimeRange:
        """The same length of time just before this range."""
        length = self.until - self.since
        return TimeRange.between(self.since - length, self.since, self.timezone)

    def year_over_year(self) -> TimeRange:
        back = self.first - DateRange(self.first, self.first, self.timezone).year_over_year().first
        return self.shifted(-back.days)

    @classmethod
    def between(cls, since: dt.datetime, until: dt.datetime, timezone: str) -> TimeRange:
        """`since`..`until` (exclusive; both aware), with the local days they touch."""
        zone = ZoneInfo(timezone)
        first = since.astimezone(zone).date()
        last = (until - dt.timedelta(microseconds=1)).astimezone(zone).date()
        return cls(
            first, max(first, last), timezone, since.astimezone(dt.UTC), until.astimezone(dt.UTC)
        )


def is_time(dimension: str) -> bool:
    return dimension.startswith("time")


def interval_of(dimension: str) -> str:
    return dimension.partition(":")[2]


@dataclass(frozen=True)
class Condition:
    """`[op, dimension, clauses]`: one dimension against a list of values."""

    op: str
    dimension: str
    clauses: tuple[str, ...]
    case_sensitive: bool = True


@dataclass(frozen=True)
class Combined:
    """`["and" | "or", [filters]]`, `["not", filter]`, or `["has_done" | "has_not_done",
    filter]` (the events of visits with / without an event matching the filter)."""

    op: str
    children: tuple[Filter, ...]


Filter = Condition | Combined


def behavioral(filters: tuple[Filter, ...]) -> bool:
    """Is there a `has_done` / `has_not_done` anywhere in `filters`?"""
    return any(
        isinstance(node, Combined) and (node.op in BEHAVIORAL or behavioral(node.children))
        for node in filters
    )


@dataclass(frozen=True)
class GoalDefinition:
    """A site's goal: a custom event name, or a pageview path pattern (`*` = any text);
    `currency` (ISO 4217) when its conversions carry revenue (reports/revenue.py)."""

    name: str
    kind: Literal["event", "page"]
    value: str
    currency: str = ""


@dataclass(frozen=True)
class ParseContext:
    """What parsing a site's request needs from storage, loaded by the caller
    (`reports.context.load_context`): the parsers do no I/O."""

    goals: tuple[GoalDefinition, ...] = ()  # the site's, in the order they were made
    first_day: dt.date | None = None  # where "all" begins; None: no data (or not asked)


@dataclass(frozen=True)
class ReportQuery:
    site_id: int
    date_range: DateRange
    metrics: tuple[str, ...]
    dimensions: tuple[str, ...] = ()  # `time` is resolved to `time:<interval>`
    filters: tuple[Filter, ...] = ()  # AND-ed
    order_by: tuple[tuple[str, str], ...] = ()  # (metric or dimension, "asc" | "desc")
    limit: int = 10_000
    offset: int = 0
    comparison: DateRange | None = None
    sampling: str | float = "auto"  # "auto", "exact" or a fraction of visitors
    goals: tuple[GoalDefinition, ...] = ()
    # the revenue metrics' currency: that of the revenue goals filtered on (reports/revenue.py)
    revenue_currency: str = ""
    # `include.imports`: add imported daily aggregates where they can answer (issue 18)
    imports: bool = False
    # what `conversion_rate` divides by: False, the visitors of the whole query (Plausible's
    # `conversion_rate`); True, those of the row's dimensions but event:goal (Plausible's
    # `group_conversion_rate`, and v1's breakdown and timeseries `conversion_rate`). Both
    # without the goal filters; equal with no dimension but event:goal.
    group_conversion: bool = False

    @property
    def timezone(self) -> str:
        return self.date_range.timezone

    def over(self, date_range: DateRange) -> ReportQuery:
        return replace(self, date_range=date_range, comparison=None)
