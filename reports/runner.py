"""Run a `ReportQuery`: the plan's queries (built by `reports.sql.selects`) for the main
range and its comparison, at once on a small thread pool, merged on dimensions; derived
metrics (percentage, conversion rate) and the sample's scaling (`reports.sampling`)
applied last.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from events.rollups import enabled as rollups_enabled
from events.rollups_daily import DailyState, daily_state
from reports.dates import time_labels
from reports.plan import Part, Plan, divisor_filters, plan, tables
from reports.query import ReportQuery, interval_of, is_time
from reports.sampling import sampling
from reports.sql.builder import run
from reports.sql.catalog import COUNTS, of_visitor
from reports.sql.imported import coverage_select, imported_select, imported_table
from reports.sql.rollups import covers, daily, split_days, utc_days
from reports.sql.selects import Key, part_select, rank_select

T = TypeVar("T")
# The metrics a visitor count goes into: summed over days, they may be estimates.
VISITOR_COUNTS = frozenset({"visitors", "percentage", "conversion_rate"})
Values = dict[str, float]


_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="trail-report")
_in_pool = threading.local()


def _pooled(job: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        _in_pool.active = True
        return job()

    return run


def together(*jobs: Callable[[], T]) -> list[T]:
    """Run independent queries at once (ClickHouse answers them in parallel); this thread
    runs the first. Inside a pool thread they run one after another, so nesting cannot
    exhaust the pool."""
    if len(jobs) == 1 or getattr(_in_pool, "active", False):
        return [job() for job in jobs]
    futures = [_POOL.submit(_pooled(job)) for job in jobs[1:]]
    first = jobs[0]()
    return [first, *(future.result() for future in futures)]


@dataclass(frozen=True)
class Row:
    dimensions: Key
    metrics: Values


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    comparison: list[Row | None] | None  # the comparison row of each row, if asked
    sample_fraction: float | None  # None: every row was read
    rank_fraction: float | None = None  # the top list was ranked on this sample
    imports: ImportsUsed | None = None  # `include.imports` was asked: what came of it
    source: str = "events"  # "rollup" when every number came from the rollups
    # visitors summed over UTC days some of which hold rows received on another day (their
    # visitor ids may repeat across days): within a few tenths of a percent, not exact
    estimated: bool = False


@dataclass(frozen=True)
class ImportsUsed:
    """Whether imported rows were added, or why not: Plausible's `imports_skip_reason`
    (`no_imported_data`, `out_of_range`, `unsupported_query`) and a warning in words."""

    included: bool
    skip_reason: str = ""
    warning: str = ""


def _collect(
    query: ReportQuery, part: Part, fraction: float | None, **options: Any
) -> dict[Key, Values]:
    dimensions = options.pop("dimensions", query.dimensions)
    filters = options.pop("filters", query.filters)
    found = run(
        part_select(
            query,
            part,
            dimensions=dimensions,
            filters=filters,
            fraction=fraction,
            **options,
        )
    )
    width = len(dimensions)
    values: dict[Key, Values] = {}
    for row in found:
        key = tuple(row[f"d{i}"] for i in range(width))
        values[key] = {m: float(row[f"m_{m}"]) for m in part.metrics}
    return values


def _goal_names(query: ReportQuery, values: dict[Key, Values]) -> dict[Key, Values]:
    """Goal numbers (the SQL's) to goal names."""
    at = query.dimensions.index("event:goal")
    named = {}
    for key, metrics in values.items():
        number = int(key[at])
        named[(*key[:at], query.goals[number - 1].name, *key[at + 1 :])] = metrics
    return named


def _rank(
    query: ReportQuery, the_plan: Plan, fraction: float | None, rollup: bool = False
) -> list[Key]:
    width = len(query.dimensions)
    found = run(rank_select(query, the_plan, fraction, rollup=rollup))
    return [tuple(row[f"d{i}"] for i in range(width)) for row in found]


def _values(
    query: ReportQuery,
    the_plan: Plan,
    fraction: float | None,
    keys: list[Key] | None,
    rollup: bool = False,
) -> dict[Key, Values]:
    """Every metric of every row (of `keys` only, when given), derived ones included;
    `rollup`: read from the rollups (`_from_rollups` said they cover it)."""

    def collect(part: Part) -> Callable[[], dict[Key, Values]]:
        names = the_plan.event_names if part is the_plan.primary else ()
        return lambda: _collect(query, part, fraction, keys=keys, event_names=names, rollup=rollup)

    jobs = [collect(part) for part in the_plan.parts]
    # Each visitor is in exactly one row of a complete breakdown by location or device, so
    # the rows' visitors add up to the report's; otherwise that takes its own query.
    summed = keys is None and len(query.dimensions) == 1 and of_visitor(query.dimensions[0])
    total_query = "percentage" in query.metrics and not summed
    if total_query:
        jobs.append(lambda: _total_visitors(query, the_plan, fraction, rollup))
    # a conversion rate over one total (the query's, or no dimension but goals): ask at once
    early_conversions = "conversion_rate" in query.metrics and not _kept(query)
    if early_conversions:
        jobs.append(lambda: _conversion_totals(query, fraction, None, rollup))
    found_parts = together(*jobs)
    conversions = found_parts.pop() if early_conversions else None
    totals = found_parts.pop() if total_query else {}
    merged: dict[Key, Values] = {}
    for found in found_parts:
        if "event:goal" in query.dimensions:
            found = _goal_names(query, found)
        for key, metrics in found.items():
            merged.setdefault(key, {}).update(metrics)
    if not query.dimensions and not merged:
        merged[()] = {}
    for metrics in merged.values():
        for part in the_plan.parts:
            for metric in part.metrics:
                metrics.setdefault(metric, 0.0)
    if "percentage" in query.metrics:
        if summed:
            total = sum(metrics["visitors"] for metrics in merged.values())
        else:
            total = next(iter(totals.values()), {}).get("visitors", 0.0)
        for metrics in merged.values():
            metrics["percentage"] = 100 * metrics["visitors"] / total if total else 0.0
    if "conversion_rate" in query.metrics:
        _conversion_rates(query, fraction, merged, conversions, rollup)
    return merged


def _total_visitors(
    query: ReportQuery, the_plan: Plan, fraction: float | None, rollup: bool = False
) -> dict[Key, Values]:
    """Visitors of the whole report (what a row's percentage divides by)."""
    part = the_plan.part_for("visitors")
    return _collect(
        query,
        Part(part.table, ("visitors",)),
        fraction,
        dimensions=(),
        event_names=the_plan.event_names if part is the_plan.primary else (),
        rollup=rollup,
    )


def _kept(query: ReportQuery) -> tuple[int, ...]:
    """The positions of the dimensions a conversion rate's denominator is broken down by:
    the row's but event:goal for a group rate, none for the query's rate (one total)."""
    if not query.group_conversion:
        return ()
    return tuple(i for i, d in enumerate(query.dimensions) if d != "event:goal")


def _conversion_base(query: ReportQuery) -> ReportQuery:
    """The query a conversion rate divides by: visitors, without the goal and custom
    property filters (`divisor_filters`)."""
    kept = _kept(query)
    return replace(
        query,
        dimensions=tuple(query.dimensions[i] for i in kept),
        filters=divisor_filters(query.filters),
        metrics=("visitors",),
    )


def _conversion_totals(
    query: ReportQuery, fraction: float | None, keys: list[Key] | None, rollup: bool = False
) -> dict[Key, Values]:
    """Visitors of each row without the goal filters (what a conversion rate divides by)."""
    base = _conversion_base(query)
    [part] = [p for p in tables(base) if "visitors" in p.metrics]
    return _collect(base, Part(part.table, ("visitors",)), fraction, keys=keys, rollup=rollup)


def _conversion_rates(
    query: ReportQuery,
    fraction: float | None,
    merged: dict[Key, Values],
    totals: dict[Key, Values] | None,
    rollup: bool = False,
) -> None:
    """Visitors who converted ÷ visitors without the goal filters, of the whole query or of
    the same row (`ReportQuery.group_conversion`); `totals` when they were computed already
    (one total: nothing to wait for)."""
    kept = _kept(query)
    if totals is None:
        keys = sorted({tuple(key[i] for i in kept) for key in merged})
        if not keys:
            return
        totals = _conversion_totals(query, fraction, keys, rollup)
    for key, metrics in merged.items():
        total = totals.get(tuple(key[i] for i in kept), {}).get("visitors", 0.0)
        metrics["conversion_rate"] = 100 * metrics["visitors"] / total if total else 0.0


def _sort_key(query: ReportQuery) -> list[tuple[str, str]]:
    if query.order_by:
        return list(query.order_by)
    times = [d for d in query.dimensions if is_time(d)]
    if times:
        return [(d, "asc") for d in times]
    first = "visitors" if "visitors" in query.metrics else query.metrics[0]
    return [(first, "desc")]


def _ordered(query: ReportQuery, merged: dict[Key, Values]) -> list[Row]:
    rows = [Row(key, metrics) for key, metrics in merged.items()]
    rows.sort(key=lambda row: tuple(str(v) for v in row.dimensions))
    for name, direction in reversed(_sort_key(query)):
        rows.sort(key=_sorter(query, name), reverse=direction == "desc")
    return rows


def _sorter(query: ReportQuery, name: str) -> Callable[[Row], Any]:
    if name in query.dimensions:
        at = query.dimensions.index(name)
        return lambda row: str(row.dimensions[at])
    return lambda row: row.metrics.get(name, 0.0)


def _scaled(rows: Iterable[Row | None], fraction: float | None) -> None:
    if fraction is None:
        return
    for row in rows:
        if row is not None:
            for metric in COUNTS & row.metrics.keys():
                row.metrics[metric] = row.metrics[metric] / fraction


def _position_keys(query: ReportQuery, rows: dict[Key, Values]) -> dict[Key, Values]:
    """Time buckets as their position in the range, so a comparison lines up with the main."""
    positions = []
    for d in query.dimensions:
        if is_time(d):
            labels = time_labels(query.date_range, interval_of(d))
            positions.append({label: i for i, label in enumerate(labels)})
        else:
            positions.append({})
    aligned = {}
    for key, metrics in rows.items():
        aligned[tuple(p.get(v, v) if p else v for p, v in zip(positions, key, strict=True))] = (
            metrics
        )
    return aligned


def _shapes(query: ReportQuery) -> tuple[tuple[tuple[str, ...], tuple[Any, ...]], ...]:
    """The (dimensions, filters) the runner reads the query by: its own, and its total."""
    return ((query.dimensions, query.filters), ((), query.filters))


def _spans(query: ReportQuery) -> list[ReportQuery]:
    return [query, *([query.over(query.comparison)] if query.comparison else [])]


def _state(query: ReportQuery) -> DailyState:
    return daily_state(query.site_id, query.timezone)  # cached: no read most times


def _foreign_pieces(query: ReportQuery) -> bool:
    """Does a UTC day the query's buckets cut hold pieces of another zone's local days (the
    site's zone changed since the day was closed)? Those days read raw rows."""
    foreign = set(_state(query).foreign)
    return bool(foreign) and any(
        foreign.intersection(split_days(of.date_range, dimensions))
        for of in _spans(query)
        for dimensions, _ in _shapes(of)
        if daily(of, dimensions)
    )


def _estimated(query: ReportQuery) -> bool:
    """Are visitors summed over more than one UTC day, one of which holds rows received
    on another day (`rollup_mixed`)?"""
    mixed = _state(query).mixed
    for of in _spans(query):
        first, last = utc_days(of.date_range)
        if first != last and any(first <= day <= last for day in mixed):
            return True
    return False


def _from_rollups(query: ReportQuery, the_plan: Plan) -> bool:
    """Do the rollups cover every read this query makes (its parts, the total a percentage
    divides by, a conversion rate's denominator), over its range and comparison? Never
    when rollups are off (`TRAIL_ROLLUPS`)."""
    if not rollups_enabled():
        return False
    parts = tuple(
        (part.table, part.metrics, the_plan.event_names if part is the_plan.primary else ())
        for part in the_plan.parts
    )
    shapes = _shapes(query)
    if "conversion_rate" in query.metrics:
        base = _conversion_base(query)
        base_parts = tuple(
            (p.table, ("visitors",), ()) for p in tables(base) if "visitors" in p.metrics
        )
        if not covers(
            base, base_parts, shapes=((base.dimensions, base.filters),), pending=lambda _: False
        ):
            return False
    pending = lambda _: _state(query).pending  # noqa: E731
    return covers(query, parts, shapes=shapes, pending=pending) and not _foreign_pieces(query)


def covered_by_rollups(query: ReportQuery) -> bool:
    """Would `execute(query)` answer from the rollups (`Report.source == "rollup"`)? For
    callers that decide before running it (e.g. a warning about expired raw rows)."""
    return not query.imports and _from_rollups(query, plan(query))


def execute(query: ReportQuery, *, rollups: bool = True) -> Report:
    """The report of `query`; from the rollups when they cover it, unless `rollups` is
    False (raw rows: what tests compare the rollups' answers with)."""
    if query.imports:
        return _execute_with_imports(query)
    the_plan = plan(query)
    if rollups and _from_rollups(query, the_plan):  # exact, and no ranking or sampling needed
        return _execute_from_rollups(query, the_plan)
    sampled = sampling(query)
    fraction = sampled.fraction
    previous = query.over(query.comparison) if query.comparison is not None else None
    ranked = the_plan.ranked and not (sampled.rank_fraction is None and the_plan.filtered_across)
    keys = _rank(query, the_plan, sampled.rank_fraction) if ranked else None

    def values(of: ReportQuery) -> Callable[[], dict[Key, Values]]:
        return lambda: _values(of, the_plan, fraction, keys) if keys != [] else {}

    found = together(values(query), *([values(previous)] if previous else []))
    rows = _ordered(query, found[0])
    if keys is None:
        rows = rows[query.offset : query.offset + query.limit]
    comparison = _compared(query, previous, rows, found[1]) if previous else None
    _scaled(rows, fraction)
    _scaled(comparison or [], fraction)
    return Report(
        rows=rows,
        comparison=comparison,
        sample_fraction=fraction,
        rank_fraction=sampled.rank_fraction if keys is not None else None,
    )


def _execute_from_rollups(query: ReportQuery, the_plan: Plan) -> Report:
    """`query` answered from the rollups, never sampled: a top list ranked by the same
    exact count as on raw rows (so the same rows), then its rows' metrics."""
    previous = query.over(query.comparison) if query.comparison is not None else None
    keys = _rank(query, the_plan, None, rollup=True) if the_plan.ranked else None

    def values(of: ReportQuery) -> Callable[[], dict[Key, Values]]:
        return lambda: _values(of, the_plan, None, keys, rollup=True) if keys != [] else {}

    found = together(values(query), *([values(previous)] if previous else []))
    rows = _ordered(query, found[0])
    if keys is None:
        rows = rows[query.offset : query.offset + query.limit]
    comparison = _compared(query, previous, rows, found[1]) if previous else None
    return Report(
        rows=rows,
        comparison=comparison,
        sample_fraction=None,
        source="rollup",
        estimated=bool(VISITOR_COUNTS & set(query.metrics)) and _estimated(query),
    )


def _compared(
    query: ReportQuery, previous: ReportQuery, rows: list[Row], found: dict[Key, Values]
) -> list[Row | None]:
    """The comparison period's row for each row: the same dimension values, or for time
    buckets the bucket at the same position in the comparison range."""
    lookup = [row.dimensions for row in rows]
    if any(is_time(d) for d in query.dimensions):
        found = _position_keys(previous, found)
        lookup = list(_position_keys(query, {row.dimensions: {} for row in rows}))
    labels = {
        d: time_labels(previous.date_range, interval_of(d))
        for d in previous.dimensions
        if is_time(d)
    }
    compared: list[Row | None] = []
    for aligned, row in zip(lookup, rows, strict=True):
        metrics = found.get(aligned)
        if metrics is None:
            compared.append(None)
        else:
            dims = _comparison_dims(previous.dimensions, labels, aligned, row.dimensions)
            compared.append(Row(dims, metrics))
    return compared


def _comparison_dims(
    dimensions: tuple[str, ...], labels: dict[str, list[str]], aligned: Key, main: Key
) -> Key:
    """A comparison row's own dimension values (its time labels, not the main's)."""
    dims = []
    for d, value, own in zip(dimensions, aligned, main, strict=True):
        if d in labels:
            own_labels = labels[d]
            fits = isinstance(value, int) and value < len(own_labels)
            dims.append(own_labels[value] if fits else own)
        else:
            dims.append(value)
    return tuple(dims)


def _execute_with_imports(query: ReportQuery) -> Report:
    """`query` with the imported daily aggregates added where they can answer it
    (reports/sql/imported.py); else the native answer and why imports were left out."""
    native = replace(query, imports=False)
    table, why = imported_table(query)
    if table is None:
        return replace(execute(native), imports=ImportsUsed(False, "unsupported_query", why))
    [coverage] = run(coverage_select(query.site_id, table))
    if not int(coverage["n"]):
        return replace(execute(native), imports=ImportsUsed(False, "no_imported_data"))
    ranges = [query.date_range, *([query.comparison] if query.comparison else [])]
    if not any(r.first <= coverage["last"] and coverage["first"] <= r.last for r in ranges):
        return replace(execute(native), imports=ImportsUsed(False, "out_of_range"))
    # Every native row (no ranking, no page), with the counts the merged rates are made of.
    extra = (
        {"visits"}
        if {"bounce_rate", "visit_duration", "views_per_visit"} & set(query.metrics)
        else set()
    )
    if "views_per_visit" in query.metrics:
        extra.add("pageviews")
    if "percentage" in query.metrics:
        extra.add("visitors")
    base = replace(
        native,
        metrics=(*query.metrics, *sorted(extra - set(query.metrics))),
        limit=2**62,
        offset=0,
        order_by=(),
    )
    the_plan = plan(base)
    fraction = sampling(base).fraction
    previous = base.over(query.comparison) if query.comparison is not None else None

    def merged(of: ReportQuery) -> Callable[[], dict[Key, Values]]:
        def job() -> dict[Key, Values]:
            found = _values(of, the_plan, fraction, None)
            total = (
                _total_visitors(of, the_plan, fraction).get((), {}).get("visitors", 0.0)
                if "percentage" in query.metrics
                else 0.0
            )
            if fraction is not None:
                total /= fraction
                for metrics in found.values():
                    for metric in COUNTS & metrics.keys():
                        metrics[metric] /= fraction
            return _with_imported(query, found, _imported(of, table), total)

        return job

    found = together(merged(base), *([merged(previous)] if previous else []))
    rows = _ordered(query, found[0])[query.offset : query.offset + query.limit]
    comparison = None
    if previous is not None:
        comparison = _compared(query, previous, rows, found[1])
    return Report(
        rows=rows,
        comparison=comparison,
        sample_fraction=fraction,
        imports=ImportsUsed(True),
    )


def _imported(query: ReportQuery, table: str) -> dict[Key, Values]:
    width = len(query.dimensions)
    found = run(imported_select(query, table))
    return {
        tuple(row[f"d{i}"] for i in range(width)): {
            name[2:]: float(value) for name, value in row.items() if name.startswith("s_")
        }
        for row in found
    }


def _with_imported(
    query: ReportQuery, native: dict[Key, Values], imported: dict[Key, Values], total: float
) -> dict[Key, Values]:
    """Native and imported rows of the same dimension values added up: counts summed (a
    day's imported visitors are added as Plausible does), rates rebuilt from their parts."""
    merged: dict[Key, Values] = {}
    for key in native.keys() | imported.keys():
        ours, theirs = native.get(key, {}), imported.get(key, {})
        out = dict(ours)
        for count in ("visitors", "visits", "pageviews", "events"):
            if count in ours or count in theirs:
                out[count] = ours.get(count, 0.0) + theirs.get(count, 0.0)
        our_visits, visits = ours.get("visits", 0.0), out.get("visits", 0.0)
        if "bounce_rate" in query.metrics:
            bounces = ours.get("bounce_rate", 0.0) * our_visits / 100 + theirs.get("bounces", 0)
            out["bounce_rate"] = 100 * bounces / visits if visits else 0.0
        if "visit_duration" in query.metrics:
            seconds = ours.get("visit_duration", 0.0) * our_visits + theirs.get(
                "visit_duration", 0.0
            )
            out["visit_duration"] = seconds / visits if visits else 0.0
        if "views_per_visit" in query.metrics:
            out["views_per_visit"] = out.get("pageviews", 0.0) / visits if visits else 0.0
        merged[key] = out
    if "percentage" in query.metrics:
        everyone = total + sum(row.get("visitors", 0.0) for row in imported.values())
        for metrics in merged.values():
            metrics["percentage"] = 100 * metrics["visitors"] / everyone if everyone else 0.0
    if not query.dimensions and not merged:
        merged[()] = {}
    for metrics in merged.values():
        for metric in query.metrics:
            metrics.setdefault(metric, 0.0)
    return merged
