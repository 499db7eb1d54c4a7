"""Imported daily aggregates (Plausible's CSV export, issue 18) as SQL: which imported table
answers a report, and the SELECT of its sums by the report's dimensions.

A report can use imported rows only when every dimension and filter it has is a column of
one imported table (a breakdown by source filtered by UTM medium reads `imported_sources`;
top stats filtered by country read `imported_locations`; no dimension and no filter read
`imported_visitors`), and every metric can be rebuilt from that table's sums. Otherwise the
answer says why imports were left out (docs/imports-plausible.md).
"""

from __future__ import annotations

from reports.query import (
    Combined,
    Filter,
    ReportQuery,
    TimeRange,
    behavioral,
    interval_of,
    is_time,
)
from reports.sql.builder import Expr, Select, all_of, any_of, negate
from reports.sql.catalog import DIRECT, NONE, NOT_SET, Binder
from reports.sql.filters import compare

VISITORS = "imported_visitors"
SOURCES = "imported_sources"
PAGES = "imported_pages"
ENTRY_PAGES = "imported_entry_pages"
EXIT_PAGES = "imported_exit_pages"
LOCATIONS = "imported_locations"
DEVICES = "imported_devices"
BROWSERS = "imported_browsers"
OPERATING_SYSTEMS = "imported_operating_systems"
CUSTOM_EVENTS = "imported_custom_events"
TABLES = (
    VISITORS,
    SOURCES,
    PAGES,
    ENTRY_PAGES,
    EXIT_PAGES,
    LOCATIONS,
    DEVICES,
    BROWSERS,
    OPERATING_SYSTEMS,
    CUSTOM_EVENTS,
)


# An import's rows are staged as `staging:<id>` until the whole file is in
# (reports/imports/plausible.py): reports read published rows only.
PUBLISHED = "NOT startsWith(import_id, 'staging:')"


def _labelled(column: str, empty: str) -> str:
    return f"if({column} = '', '{empty}', {column})"


# dimension → (the imported table that has it, its expression there), labelled as the
# native dimension labels an empty value.
DIMENSIONS = {
    "visit:source": (SOURCES, _labelled("source", DIRECT)),
    "visit:referrer": (SOURCES, _labelled("referrer", DIRECT)),
    "visit:utm_medium": (SOURCES, _labelled("utm_medium", NONE)),
    "visit:utm_source": (SOURCES, _labelled("utm_source", NONE)),
    "visit:utm_campaign": (SOURCES, _labelled("utm_campaign", NONE)),
    "visit:utm_content": (SOURCES, _labelled("utm_content", NONE)),
    "visit:utm_term": (SOURCES, _labelled("utm_term", NONE)),
    "event:page": (PAGES, "page"),
    "visit:entry_page": (ENTRY_PAGES, "entry_page"),
    "visit:exit_page": (EXIT_PAGES, "exit_page"),
    "visit:country": (LOCATIONS, _labelled("country", NOT_SET)),
    "visit:device": (DEVICES, _labelled("device", NOT_SET)),
    "visit:browser": (BROWSERS, _labelled("browser", NOT_SET)),
    "visit:browser_version": (BROWSERS, _labelled("browser_version", NOT_SET)),
    "visit:os": (OPERATING_SYSTEMS, _labelled("operating_system", NOT_SET)),
    "visit:os_version": (OPERATING_SYSTEMS, _labelled("operating_system_version", NOT_SET)),
    "event:name": (CUSTOM_EVENTS, "name"),
}

_VISIT_SUMS = {
    "visitors": "sum(visitors)",
    "visits": "sum(visits)",
    "pageviews": "sum(pageviews)",
    "events": "sum(pageviews)",  # imported events are the page views (custom events apart)
    "bounces": "sum(bounces)",
    "visit_duration": "sum(visit_duration)",  # seconds, all visits together
}
# table → the sums it has (`s_<name>` in the SELECT)
SUMS: dict[str, dict[str, str]] = {
    VISITORS: _VISIT_SUMS,
    SOURCES: _VISIT_SUMS,
    LOCATIONS: _VISIT_SUMS,
    DEVICES: _VISIT_SUMS,
    BROWSERS: _VISIT_SUMS,
    OPERATING_SYSTEMS: _VISIT_SUMS,
    ENTRY_PAGES: {**_VISIT_SUMS, "visits": "sum(entrances)"},
    EXIT_PAGES: {**_VISIT_SUMS, "visits": "sum(exits)"},
    PAGES: {
        "visitors": "sum(visitors)",
        "visits": "sum(visits)",
        "pageviews": "sum(pageviews)",
        "events": "sum(pageviews)",
    },
    CUSTOM_EVENTS: {"visitors": "sum(visitors)", "events": "sum(events)"},
}
# a report's metric → the sums it is rebuilt from
NEEDS = {
    "visitors": ("visitors",),
    "visits": ("visits",),
    "pageviews": ("pageviews",),
    "events": ("events",),
    "bounce_rate": ("bounces", "visits"),
    "visit_duration": ("visit_duration", "visits"),
    "views_per_visit": ("pageviews", "visits"),
    "percentage": ("visitors",),
}


def _conditions(filters: tuple[Filter, ...]) -> list[str]:
    """The dimensions the filters name, nested ones included."""
    found: list[str] = []
    for node in filters:
        if isinstance(node, Combined):
            found.extend(_conditions(node.children))
        else:
            found.append(node.dimension)
    return found


def imported_table(query: ReportQuery) -> tuple[str | None, str]:
    """The imported table that can answer `query`, or None and why not (a warning)."""
    for metric in query.metrics:
        if metric not in NEEDS:
            return None, f"the metric {metric} has no imported data"
    if "time:hour" in query.dimensions:
        return None, "imported data is daily: no hourly buckets"
    if any(isinstance(s, TimeRange) for s in (query.date_range, query.comparison)):
        return None, "imported data is daily: no ranges of date-times"
    if behavioral(query.filters):
        return None, "imported data has no visits to filter by what they did"
    named = [d for d in query.dimensions if not is_time(d)] + _conditions(query.filters)
    tables = set()
    for dimension in named:
        if dimension not in DIMENSIONS:
            return None, f"the dimension {dimension} has no imported data"
        tables.add(DIMENSIONS[dimension][0])
    if len(tables) > 1:
        return None, "its dimensions and filters are in different imported tables"
    table = tables.pop() if tables else VISITORS
    for metric in query.metrics:
        for needed in NEEDS[metric]:
            if needed not in SUMS[table]:
                return None, f"the metric {metric} has no imported data by these dimensions"
    return table, ""


def sums_needed(query: ReportQuery, table: str) -> tuple[str, ...]:
    needed = {n for metric in query.metrics for n in NEEDS[metric]}
    return tuple(n for n in SUMS[table] if n in needed)


def _time_sql(dimension: str, binder: Binder, query: ReportQuery) -> str:
    interval = interval_of(dimension)
    if interval == "day":
        return "toString(date)"
    start = {"week": "toMonday", "month": "toStartOfMonth"}[interval]
    return f"toString(greatest({start}(date), {binder.bind(query.date_range.first, 'Date')}))"


def imported_select(query: ReportQuery, table: str) -> Select:
    """The sums (`s_<name>`) of `table` by the query's dimensions (`d0`, …), over the local
    days of its range, with its filters."""
    binder = Binder()
    dims = [
        _time_sql(d, binder, query) if is_time(d) else DIMENSIONS[d][1] for d in query.dimensions
    ]
    span = query.date_range
    where: list[str | Expr] = [
        f"date >= {binder.bind(span.first, 'Date')} AND date <= {binder.bind(span.last, 'Date')}",
        PUBLISHED,
    ]
    where.append(all_of(_filter(node, binder) for node in query.filters))
    columns = [f"{sql} AS d{i}" for i, sql in enumerate(dims)]
    columns += [f"{SUMS[table][n]} AS s_{n}" for n in sums_needed(query, table)]
    return Select(
        site_id=query.site_id,
        table=table,
        columns=tuple(columns),
        where=tuple(where),
        params=binder.params,
        group_by=tuple(f"d{i}" for i in range(len(dims))),
    )


def _filter(node: Filter, binder: Binder) -> str | Expr:
    if isinstance(node, Combined):
        children = [_filter(child, binder) for child in node.children]
        if node.op == "not":
            return negate(children[0])
        return all_of(children) if node.op == "and" else any_of(children)
    return compare(DIMENSIONS[node.dimension][1], node, binder)


def coverage_select(site_id: int, table: str) -> Select:
    """The first and last imported day of `table` for a site (`n` = 0: none)."""
    return Select(
        site_id=site_id,
        table=table,
        columns=("count() AS n", "min(date) AS first", "max(date) AS last"),
        where=(PUBLISHED,),
    )
