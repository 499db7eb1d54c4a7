"""The Stats API's answer to a request body: parse, run, and shape it as Plausible's v2.

`answer()` is what `POST /api/v2/query` and the dashboard call; it loads what parsing
needs from storage (`reports.context.load_context`) and hands it to the pure parser.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from accounts.errors import ServiceError
from events.enrich.geo import dbip_in_use
from reports.context import load_context
from reports.dates import time_labels
from reports.parse import parse
from reports.query import GROUP_CONVERSION_RATE, interval_of, is_time
from reports.retention import retention_warning
from reports.revenue import REVENUE_METRICS, money
from reports.runner import Row, execute
from reports.sql.catalog import COUNTS
from sites.models import Site

# Rates are compared as a difference in points, counts as a percentage change (Plausible).
RATES = frozenset({"bounce_rate", "conversion_rate", "percentage"})
DECIMALS = {
    "views_per_visit": 2,
    "conversion_rate": 2,
    "percentage": 1,
    "total_revenue": 2,
    "average_revenue": 2,
}


def metric_value(name: str, value: float) -> int | float:
    """As Plausible shows it: counts, bounce rate and durations whole; ratios to 1–2 places.
    An average over no rows (ClickHouse's nan, e.g. time_on_page of an empty range) is 0."""
    if not math.isfinite(value):
        value = 0.0
    if name in DECIMALS:
        return round(value, DECIMALS[name])
    return int(round(value))


def change(name: str, current: int | float, previous: int | float) -> int | float | None:
    """Plausible's change: points for a rate, % for the rest (100 from 0); a bounce rate has
    none against a previous bounce rate of 0 (a period without visits, or without bounces)."""
    if name == "bounce_rate" and not previous:
        return None
    if name in RATES:
        return round(current - previous, 1)
    if previous == 0:
        return 100 if current > 0 else 0
    return int(round(100 * (current - previous) / previous))


def _metrics(names: tuple[str, ...], row: Row) -> list[int | float]:
    return [metric_value(name, row.metrics.get(name, 0.0)) for name in names]


def _shown(names: tuple[str, ...], values: list[Any], currency: str) -> list[Any]:
    """Revenue as money objects in `currency`, or null without one (reports/revenue.py)."""
    return [
        (money(value, currency) if currency else None) if name in REVENUE_METRICS else value
        for name, value in zip(names, values, strict=True)
    ]


def _shown_change(
    names: tuple[str, ...], current: list[Any], previous: list[Any], currency: str
) -> list[int | float | None]:
    return [
        None if name in REVENUE_METRICS and not currency else change(name, now_, before)
        for name, now_, before in zip(names, current, previous, strict=True)
    ]


def _renamed(value: Any, old: str, new: str) -> Any:
    """`value` (a metrics list or order_by pairs) with the metric `old` named `new`."""
    if not isinstance(value, list):
        return value
    return [
        new
        if item == old
        else [new, *item[1:]]
        if isinstance(item, list) and item[:1] == [old]
        else item
        for item in value
    ]


def with_group_rate(body: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """A body asking Plausible's `group_conversion_rate` (converted visitors ÷ the visitors
    of the same row without the goal filters) as the query layer's `conversion_rate`, and
    whether it did: `answer` then sets `ReportQuery.group_conversion` and names it back.
    Not with `conversion_rate` in one query (one divisor per query)."""
    metrics = body.get("metrics")
    if not isinstance(metrics, list) or GROUP_CONVERSION_RATE not in metrics:
        return body, False
    if "conversion_rate" in metrics:
        raise ServiceError(
            "conversion_rate and group_conversion_rate cannot be asked together",
            field="metrics",
        )
    renamed = {**body, "metrics": _renamed(metrics, GROUP_CONVERSION_RATE, "conversion_rate")}
    if "order_by" in body:
        renamed["order_by"] = _renamed(body["order_by"], GROUP_CONVERSION_RATE, "conversion_rate")
    return renamed, True


def answer(
    *, site: Site, body: Mapping[str, Any], now: dt.datetime | None = None
) -> dict[str, Any]:
    """The v2 answer to `body`; `conversion_rate` divides by the query's visitors,
    `group_conversion_rate` by the row's (reports/query.py `group_conversion`)."""
    body, group_rate = with_group_rate(body)
    parsed = parse(site=site, body=body, context=load_context(site, body, now=now), now=now)
    query = replace(parsed.query, group_conversion=group_rate)
    echo = parsed.echo
    if group_rate:
        echo["metrics"] = _renamed(echo["metrics"], "conversion_rate", GROUP_CONVERSION_RATE)
        echo["order_by"] = _renamed(echo["order_by"], "conversion_rate", GROUP_CONVERSION_RATE)
    report = execute(query)
    results: list[dict[str, Any]] = []
    for i, row in enumerate(report.rows):
        metrics = _metrics(query.metrics, row)
        currency = query.revenue_currency
        result: dict[str, Any] = {
            "metrics": _shown(query.metrics, metrics, currency),
            "dimensions": list(row.dimensions),
        }
        if report.comparison is not None:
            other = report.comparison[i]
            previous = _metrics(query.metrics, other) if other else [0 for _ in query.metrics]
            result["comparison"] = {
                "dimensions": list(other.dimensions) if other else list(row.dimensions),
                "metrics": _shown(query.metrics, previous, currency),
                "change": _shown_change(query.metrics, metrics, previous, currency),
            }
        results.append(result)
    meta: dict[str, Any] = {
        "imports_included": report.imports is not None and report.imports.included,
        "sampled": report.sample_fraction is not None,
        "sample_fraction": report.sample_fraction,
        # where the numbers came from: "rollup" (the aggregates, docs/rollups.md) or
        # "events" (raw rows); visitors summed over days whose ids may repeat: estimated
        "source": report.source,
        "estimated": report.estimated,
    }
    gone = retention_warning(site, query.date_range.first, from_rollup=report.source == "rollup")
    if gone:
        meta["warning"] = gone  # raw events before the site's retention start are gone
    if report.imports is not None and not report.imports.included:
        meta["imports_skip_reason"] = report.imports.skip_reason
        if report.imports.warning:
            meta["imports_warning"] = report.imports.warning
    if report.sample_fraction is not None:
        meta["sampled_metrics"] = sorted(COUNTS & set(query.metrics))
    elif report.rank_fraction is not None:
        meta["ranked_on_sample"] = report.rank_fraction  # the order; the metrics are exact
    if parsed.time_labels:
        times = [d for d in query.dimensions if is_time(d)]
        if times:
            meta["time_labels"] = time_labels(query.date_range, interval_of(times[0]))
    if query.comparison is not None:
        meta["comparison_date_range"] = [
            query.comparison.first.isoformat(),
            query.comparison.last.isoformat(),
        ]
    return {"results": results, "meta": meta, "query": echo}


def location_credit_due() -> bool:
    """The locations come from DB-IP's free database, whose licence asks for a credit next
    to them (docs/geoip.md)."""
    return dbip_in_use()
