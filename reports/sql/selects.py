"""The SELECTs a report runs, built from a `ReportQuery` and its plan: one per part of the
plan (`part_select`), the ranking of a top list (`rank_select`), the range's row estimate
that sampling is decided on (`rows_in_range_select`), and the first day of a site's data
(`first_day_select`). Building only: `reports.runner` and `reports.sampling` run them.

Every one is a `reports.sql.builder.Select`, so every table read is guarded by the site.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from events.rollups_daily import daily_state
from reports.plan import Part, Plan
from reports.query import Filter, ReportQuery, is_time
from reports.revenue import REVENUE_METRICS
from reports.sql import rollups
from reports.sql.builder import Select, UnionAll, any_of
from reports.sql.catalog import (
    ENGAGEMENT,
    EVENTS,
    PAGEVIEW_ROW_METRICS,
    RANK_BY,
    SESSIONS,
    Binder,
    date_condition,
    dimension_sql,
    goal_condition,
    metrics_on,
)
from reports.sql.filters import FilterCompiler

Key = tuple[Any, ...]


def _dimension_sqls(
    query: ReportQuery, table: str, binder: Binder, dimensions: Sequence[str]
) -> list[Any]:
    """The SQL of each grouping dimension over `table`, in the query's time zone and range."""
    span = query.date_range
    return [
        dimension_sql(
            d,
            table,
            binder,
            timezone=query.timezone,
            first_day=span.first,
            since_until=(span.start, span.end),
            goals=query.goals,
        )
        for d in dimensions
    ]


def part_select(
    query: ReportQuery,
    part: Part,
    *,
    dimensions: tuple[str, ...],
    filters: tuple[Filter, ...],
    fraction: float | None,
    keys: list[Key] | None = None,
    event_names: tuple[str, ...] = (),
    columns: tuple[str, ...] | None = None,
    order_by: tuple[str, ...] = (),
    rollup: bool = False,
) -> Select:
    """The metrics of one part of a plan (`m_<metric>`) by `dimensions` (`d0`, `d1`, …), of
    the rows with those dimension values only when `keys` are given; `columns` instead of
    the metrics and an `order_by` (then paginated as the query asks) rank a top list.
    `rollup`: read the part's rollup instead (the caller checked `rollups.covers`)."""
    if rollup:
        return _rollup_select(
            query,
            part,
            dimensions=dimensions,
            filters=filters,
            keys=keys,
            event_names=event_names,
            columns=columns,
            order_by=order_by,
        )
    binder = Binder()
    span = query.date_range
    table = part.reads
    dims = _dimension_sqls(query, table, binder, dimensions)
    timed = any(is_time(d) for d in dimensions)
    where: list[Any] = [date_condition(table, binder, span.start, span.end, active=timed)]
    if filters:
        where.append(FilterCompiler(query, binder, fraction).compile(filters, table))
    if part.table == ENGAGEMENT:
        event_names = ("engagement",)
    if event_names:
        where.append(f"name IN {binder.bind(list(event_names), 'Array(String)')}")
    elif table == EVENTS:  # engagement events are never events of a report
        where.append("name != 'engagement'")
    where.extend(_goal_and_keys(query, dimensions, dims, binder, keys))
    expressions = metrics_on(part.table, dimensions)
    if part.table == EVENTS and event_names == ("pageview",):
        expressions = {**expressions, **PAGEVIEW_ROW_METRICS}
    if columns is None:
        columns = tuple(f"{expressions[m]} AS m_{m}" for m in part.metrics)
    if REVENUE_METRICS & set(part.metrics):
        binder.params["revenue_currency"] = query.revenue_currency
    grouped = tuple(f"d{i}" for i in range(len(dims)))
    dimension_columns = tuple(f"{sql} AS d{i}" for i, sql in enumerate(dims))
    if part.table == ENGAGEMENT:  # one row per page view, then the averages
        views = Select(
            site_id=query.site_id,
            table=EVENTS,
            columns=(
                *dimension_columns,
                "max(scroll_depth) AS depth",
                "sum(engagement_ms) AS engaged",
            ),
            where=tuple(where),
            params=binder.params,
            group_by=(*grouped, "session_id", "pathname"),
            sample=fraction,
        )
        return Select(
            site_id=query.site_id, table=views, columns=(*grouped, *columns), group_by=grouped
        )
    return Select(
        site_id=query.site_id,
        table=part.table,
        columns=(*dimension_columns, *columns),
        where=tuple(where),
        params=binder.params,
        group_by=grouped,
        having=("sum(sign) > 0",) if part.table == SESSIONS and grouped else (),
        order_by=order_by,
        limit=query.limit if order_by else None,
        offset=query.offset if order_by else 0,
        sample=fraction,
    )


def _goal_and_keys(
    query: ReportQuery,
    dimensions: tuple[str, ...],
    dims: list[str],
    binder: Binder,
    keys: list[Key] | None,
) -> list[Any]:
    """Only rows that complete a goal (a breakdown by goal), and of `keys` when given."""
    where: list[Any] = []
    if "event:goal" in dimensions:
        where.append(any_of(goal_condition(goal, binder) for goal in query.goals))
    if keys is not None:
        if len(dims) == 1:
            where.append(f"{dims[0]} IN {binder.bind([k[0] for k in keys], 'Array(String)')}")
        else:
            kind = f"Array(Tuple({', '.join('String' for _ in dims)}))"
            where.append(f"tuple({', '.join(dims)}) IN {binder.bind(keys, kind)}")
    return where


def _rollup_select(
    query: ReportQuery,
    part: Part,
    *,
    dimensions: tuple[str, ...],
    filters: tuple[Filter, ...],
    keys: list[Key] | None,
    event_names: tuple[str, ...],
    columns: tuple[str, ...] | None,
    order_by: tuple[str, ...],
) -> Select:
    """`part_select` on the part's rollup: the same dimension, filter and time expressions
    (the rollups' columns have the raw tables' names), the rollup's metric expressions, and
    the rows of the one dimension the query touches (reports/sql/rollups.py)."""
    binder = Binder()
    span = query.date_range
    table = part.table
    found = rollups.source_of(
        query, rollups.Read(table, part.metrics, dimensions, filters, event_names)
    )
    if found is None:
        raise ValueError("the rollups do not cover this part")
    tier, row_kind = found
    dims = _dimension_sqls(query, table, binder, dimensions)
    timed = any(is_time(d) for d in dimensions)
    where: list[Any] = [
        f"dimension = {binder.bind(row_kind, 'String')}",
        date_condition(table, binder, span.start, span.end, active=timed),
    ]
    source: str | Select | UnionAll = rollups.ROLLUP_OF[table]
    expressions = rollups.METRICS[table]
    if tier == "daily":  # whole months and days, or their pieces where a bucket cuts
        cut = rollups.split_days(span, dimensions)
        months = rollups.whole_months(span, cut, dt.datetime.now(dt.UTC))
        state = daily_state(query.site_id, query.timezone)  # cached: no read most times
        kinds = rollups.piece_kinds(table, timed)
        source = rollups.daily_source(
            query, table, row_kind, state, split=cut, pieces=kinds, months=months
        )
        expressions = rollups.DAILY_METRICS[table]
        split = binder.bind(cut, "Array(Date)")
        pieces = binder.bind(list(kinds), "Array(String)")
        where.append(f"if(day IN {split}, kind IN {pieces}, kind IN ('day', 'month'))")
    if filters:
        where.append(FilterCompiler(query, binder, None).compile(filters, table))
    if event_names and row_kind != rollups.SITE:  # the site's rows count pageviews apart
        where.append(f"name IN {binder.bind(list(event_names), 'Array(String)')}")
    where.extend(_goal_and_keys(query, dimensions, dims, binder, keys))
    grouped = tuple(f"d{i}" for i in range(len(dims)))
    if columns is None:
        columns = tuple(f"{expressions[m]} AS m_{m}" for m in part.metrics)
    return Select(
        site_id=query.site_id,
        table=source,
        columns=(*(f"{sql} AS d{i}" for i, sql in enumerate(dims)), *columns),
        where=tuple(where),
        params=binder.params,
        group_by=grouped,
        having=(rollups.VISITS_HAVING,) if table == SESSIONS and grouped else (),
        order_by=order_by,
        limit=query.limit if order_by else None,
        offset=query.offset if order_by else 0,
    )


def rank_select(
    query: ReportQuery, the_plan: Plan, fraction: float | None, *, rollup: bool = False
) -> Select:
    """The page of rows to return, ranked by a cheap count or by the requested order
    (`rollup`: on the rollups, by the same counts: the same rows)."""
    part = the_plan.primary
    if rollup:
        read = rollups.Read(
            part.table, part.metrics, query.dimensions, query.filters, the_plan.event_names
        )
        expressions = rollups.metrics_of(query, read)
    else:
        expressions = metrics_on(part.table, query.dimensions)
    rank_by = rollups.RANK_BY if rollup else RANK_BY
    order = []
    for name, direction in query.order_by:
        if name in query.dimensions:
            order.append(f"d{query.dimensions.index(name)} {direction.upper()}")
        else:
            metric = "visitors" if name == "percentage" else name
            order.append(f"{expressions[metric]} {direction.upper()}")
    if not order:
        order.append(f"{rank_by[part.table]} DESC")
    order.extend(f"d{i} ASC" for i in range(len(query.dimensions)))
    return part_select(
        query,
        part,
        dimensions=query.dimensions,
        filters=query.filters,
        fraction=fraction,
        event_names=the_plan.event_names,
        columns=(),
        order_by=tuple(order),
        rollup=rollup,
    )


def rows_in_range_select(query: ReportQuery) -> Select:
    """The event rows of the range, for `builder.estimate_rows` (the primary index's
    estimate: no data read)."""
    binder = Binder()
    span = query.date_range
    return Select(
        site_id=query.site_id,
        table=EVENTS,
        columns=("site_id",),  # not count(): ClickHouse answers that without estimating
        where=(date_condition(EVENTS, binder, span.start, span.end),),
        params=binder.params,
    )


def first_day_select(site_id: int) -> Select:
    """The UTC day of a site's first event (`first`), no row when it has none."""
    return Select(
        site_id=site_id,
        table=EVENTS,
        columns=("toDate(timestamp) AS first",),
        order_by=("toDate(timestamp)",),
        limit=1,
    )
