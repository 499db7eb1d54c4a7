"""The optimizer: which table answers which metric, and whether a top list is ranked first.

Small steps over a `ReportQuery` (Plausible's query optimizer works the same way):
1. `tables`: metrics of visits (bounce rate, duration, views per visit, and every metric
   when the breakdown is by a visit attribute) come from `sessions`, written by the
   collector; metrics of events (and every metric broken down by an event dimension) from
   `events`. Raw events are never re-sessionized per query.
2. `ranked`: a top list of a dimension with many values (pages, referrers, campaigns,
   cities, properties) is ranked by a cheap count (events or visits) first, and exact
   metrics are computed for the returned rows only, unless the request orders by something
   the count cannot stand for. The runner skips the ranking when it would read as much as
   the metrics do: an exact ranking under a filter on the other table (`filtered_across`)
   would pay the filter's subquery twice, so one pass is faster. Without event filters,
   visitors and visit counts of a report that is not broken down by an event dimension
   come from `sessions` (fewer rows); page views and events always from `events`, counted
   at their own time (a time series adds up to its total; docs/reports.md).
3. `pageviews only`: a breakdown by page reads pageview rows only: the primary key skips
   the rest. Scroll depth and time on page read engagement rows only, as their own part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from accounts.errors import ServiceError
from reports.query import PROPS_PREFIX, Combined, Condition, Filter, ReportQuery, is_time
from reports.revenue import REVENUE_METRICS
from reports.sql.catalog import (
    ENGAGEMENT,
    ENGAGEMENT_METRICS,
    EVENT_METRICS,
    EVENTS,
    SESSION_METRICS,
    SESSIONS,
    on_table,
)

DERIVED = frozenset({"percentage", "conversion_rate"})
VISIT_ONLY = frozenset({"bounce_rate", "visit_duration", "views_per_visit"})
EVENT_COUNTS = frozenset({"pageviews", "events"})


@dataclass(frozen=True)
class Part:
    table: str
    metrics: tuple[str, ...]

    @property
    def reads(self) -> str:
        """The table read (engagement metrics are computed from engagement events)."""
        return EVENTS if self.table == ENGAGEMENT else self.table


@dataclass(frozen=True)
class Plan:
    parts: tuple[Part, ...]
    ranked: bool  # rank by a count first, exact metrics for the returned rows
    event_names: tuple[str, ...] = ()  # the events part reads only these names, if any
    filtered_across: bool = False  # a filter needs the other table: a subquery

    @property
    def primary(self) -> Part:
        return self.parts[0]

    def part_for(self, metric: str) -> Part:
        return next(part for part in self.parts if metric in part.metrics)


def _any_condition(filters: tuple[Filter, ...], test: Callable[[str], bool]) -> bool:
    def walk(node: Filter) -> bool:
        if isinstance(node, Combined):
            return any(walk(child) for child in node.children)
        return test(node.dimension)

    return any(walk(node) for node in filters)


def has_goal_filter(filters: tuple[Filter, ...]) -> bool:
    return _any_condition(filters, lambda dimension: dimension == "event:goal")


def has_event_filter(filters: tuple[Filter, ...]) -> bool:
    return _any_condition(filters, lambda dimension: dimension.startswith("event:"))


def divisor_filters(filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """The filters a conversion rate divides by: all but the top-level goal and custom
    property conditions (Plausible's divisor: the visitors who could have converted)."""
    return tuple(
        f
        for f in filters
        if not (
            isinstance(f, Condition)
            and (f.dimension == "event:goal" or f.dimension.startswith(PROPS_PREFIX))
        )
    )


def _base_metrics(query: ReportQuery) -> tuple[str, ...]:
    """The metrics the tables compute: no derived ones (their inputs instead), and no revenue
    without a currency to count it in (those are null: reports/revenue.py)."""
    skipped = DERIVED if query.revenue_currency else DERIVED | set(REVENUE_METRICS)
    metrics = [m for m in query.metrics if m not in skipped]
    if (skipped & set(query.metrics) and "visitors" not in metrics) or not metrics:
        metrics.append("visitors")
    return tuple(metrics)


def tables(query: ReportQuery) -> tuple[Part, ...]:
    breakdown = [d for d in query.dimensions if not is_time(d)]
    event_dims = [d for d in breakdown if d.startswith("event:")]
    visit_dims = [d for d in breakdown if d.startswith("visit:")]
    everything = _base_metrics(query)
    engaged = tuple(m for m in everything if m in ENGAGEMENT_METRICS)
    metrics = tuple(m for m in everything if m not in engaged)
    if "conversion_rate" in query.metrics and not (
        "event:goal" in query.dimensions or has_goal_filter(query.filters)
    ):
        raise ServiceError(
            "conversion_rate needs a goal: filter or break down by event:goal", field="metrics"
        )
    if event_dims:
        for dim in visit_dims:
            if not on_table(dim, EVENTS):
                raise ServiceError(
                    f"{dim} cannot be combined with {event_dims[0]} (a visit attribute, not an"
                    " event's)",
                    field="dimensions",
                )
        for metric in metrics:
            if metric not in EVENT_METRICS:
                raise ServiceError(
                    f"{metric} cannot be broken down by {event_dims[0]} (a metric of visits)",
                    field="metrics",
                )
        return _parts((EVENTS, metrics), (ENGAGEMENT, engaged))
    timed = len(breakdown) < len(query.dimensions)
    if visit_dims:
        for metric in everything:
            if metric not in SESSION_METRICS:
                raise ServiceError(
                    f"{metric} cannot be broken down by {visit_dims[0]} (a metric of page views)",
                    field="metrics",
                )
        if not (timed and all(on_table(d, EVENTS) for d in visit_dims)):
            return (Part(SESSIONS, metrics),)
    if has_event_filter(query.filters):  # counts of the matching events, visits' metrics
        on_events = tuple(m for m in metrics if m in EVENT_METRICS and m != "visits")
    else:  # events counted when they happened; a visit holds its visitor (the smaller table)
        on_events = tuple(m for m in metrics if m in EVENT_COUNTS)
    on_sessions = tuple(m for m in metrics if m not in on_events)
    return _parts((EVENTS, on_events), (SESSIONS, on_sessions), (ENGAGEMENT, engaged))


def _parts(*tables: tuple[str, tuple[str, ...]]) -> tuple[Part, ...]:
    return tuple(Part(table, metrics) for table, metrics in tables if metrics)


# Dimensions with many values: a top list of them is ranked first (below). The others have a
# few dozen values at most, so one query computes every row.
MANY_VALUES = frozenset(
    {
        "event:page",
        "visit:entry_page",
        "visit:exit_page",
        "visit:referrer",
        "visit:utm_campaign",
        "visit:utm_content",
        "visit:utm_term",
        "visit:city",
        "visit:region",
    }
)


def _rankable(query: ReportQuery, primary: Part) -> bool:
    if primary.table == ENGAGEMENT:
        return False
    if any(is_time(d) or d == "event:goal" for d in query.dimensions) or not query.dimensions:
        return False
    if not any(d in MANY_VALUES or d.startswith("event:props:") for d in query.dimensions):
        return False
    for key, _ in query.order_by:
        if key in query.dimensions or key in primary.metrics or key == "percentage":
            continue
        return False
    return True


def _event_names(query: ReportQuery, parts: tuple[Part, ...]) -> tuple[str, ...]:
    if parts[0].table != EVENTS or "event:goal" in query.dimensions:
        return ()
    if "event:page" in query.dimensions or parts[0].metrics == ("pageviews",):
        return ("pageview",)
    return ()


def plan(query: ReportQuery) -> Plan:
    parts = tables(query)
    reads = parts[0].reads
    return Plan(
        parts=parts,
        ranked=_rankable(query, parts[0]),
        event_names=_event_names(query, parts),
        filtered_across=_any_condition(query.filters, lambda d: not on_table(d, reads)),
    )
