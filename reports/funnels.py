"""Funnels: how many visitors went through a sequence of steps, in order, within a window.

A funnel is 2–8 steps, each a page (a path pattern, `*` matches any characters, as for
pageview goals) or a custom event (by exact name): the rules of steps and window are the
saved funnels' (sites/funnels.py). ClickHouse's `windowFunnel` walks each
visitor's events of the date range in time order and gives the deepest step reached with
every step after the previous one and all of them within `window` seconds of the first.
Decisions (default window, strictness, counting by visitor): docs/funnels-and-realtime.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accounts.errors import ServiceError
from reports import dates
from reports.parse import parse_filters, parse_sampling
from reports.query import Filter, GoalDefinition, ParseContext, ReportQuery
from reports.sampling import sampling
from reports.sql.builder import Expr, Select, any_of, run
from reports.sql.catalog import EVENTS, Binder, date_condition, page_regex
from reports.sql.filters import FilterCompiler
from sites.funnels import BODY, DEFAULT_WINDOW, Step, clean_steps, clean_window
from sites.models import Site

KEYS = ("site_id", "date_range", "steps", "window", "filters", "sampling")


@dataclass(frozen=True)
class FunnelQuery:
    site_id: str  # the site's domain, as sent
    date_range: dates.DateRange
    steps: tuple[Step, ...]
    window: int  # seconds
    filters: tuple[Filter, ...] = ()  # as the Stats API's: the events a funnel considers
    goals: tuple[GoalDefinition, ...] = ()  # the site's, for `event:goal` filters
    sampling: str | float = "auto"  # as the Stats API's: "auto", "exact" or a fraction

    def report(self, site: Site) -> ReportQuery:
        """The same range, filters and sampling as a report (for filters and sampling)."""
        return ReportQuery(
            site_id=site.pk,
            date_range=self.date_range,
            metrics=("visitors",),
            filters=self.filters,
            goals=self.goals,
            sampling=self.sampling,
        )


def parse(
    body: Mapping[str, Any],
    *,
    site: Site,
    context: ParseContext,
    now: dt.datetime | None = None,
) -> FunnelQuery:
    """A funnel request body (a JSON object), checked strictly; errors name the field. No
    I/O: the goals and first day come in `context` (`reports.context.load_context`)."""
    fields = body
    for key in fields:
        if key not in KEYS:
            raise ServiceError(f"unknown key; expected {', '.join(KEYS)}", field=key[:100])
    if "date_range" not in fields:
        raise ServiceError("required", field="date_range")
    date_range = dates.resolve(
        fields["date_range"], timezone=site.timezone, first_day=context.first_day, now=now
    )
    return FunnelQuery(
        site_id=site.domain,
        date_range=date_range,
        steps=clean_steps(fields.get("steps"), BODY),
        window=clean_window(fields.get("window", DEFAULT_WINDOW)),
        filters=parse_filters(fields.get("filters"), context.goals),
        goals=context.goals,
        sampling=parse_sampling(fields.get("sampling")),
    )


def _condition(step: Step, index: int) -> tuple[str, dict[str, Any]]:
    name = f"step_{index}"
    if step.type == "page":
        return f"name = 'pageview' AND match(pathname, {{{name}:String}})", {
            name: page_regex(step.value)  # as pageview goals match
        }
    return f"name = {{{name}:String}}", {name: step.value}


def funnel_select(*, site: Site, query: FunnelQuery, fraction: float | None = None) -> Select:
    """Visitors by the deepest step they reached (`level`, 1..n; 0 never entered), of a
    `fraction` of visitors when given (a funnel is per visitor, so a sample of visitors is
    a sample of funnels: the counts scale up by 1 / fraction).

    `windowFunnel` on raw rows gets overlapping steps wrong: with its default mode one
    pageview of /pricing completes both "any page" and "/pricing"; with `strict_increase`,
    "/" then "/pricing" stops at step 1 (the second view restarts step 1 at its own time,
    then cannot be a strictly later step 2). So each row is split into one row per step it
    matches (`arrayJoin`), with a time of its own: milliseconds × n + (n − 1 − step), so a
    deeper step of an event comes before a shallower one and uses only earlier events'
    progress. One event thus completes at most one step, and a new start never erases the
    step the same event completes. The window is scaled by n alike (see the docs).
    """
    conditions: list[str] = []
    params: dict[str, Any] = {
        "steps": len(query.steps),
        "window": query.window * 1000 * len(query.steps),
    }
    for index, step in enumerate(query.steps):
        sql, bound = _condition(step, index)
        conditions.append(sql)
        params.update(bound)
    binder = Binder()
    span = query.date_range
    where: list[str | Expr] = [
        date_condition(EVENTS, binder, span.start, span.end),
        "name != 'engagement'",
        any_of(conditions),  # only the rows a step can match
    ]
    if query.filters:  # the Stats API's filters, on the events the steps are taken from
        compiler = FilterCompiler(query.report(site), binder, fraction)
        where.append(compiler.compile(query.filters, EVENTS))
    params.update(binder.params)
    matches = Select(
        site_id=site.pk,
        table=EVENTS,
        columns=(
            "visitor_id",
            "arrayJoin(arrayFilter((k, hit) -> hit, range({steps:UInt8}),"
            f" [{', '.join(f'({c})' for c in conditions)}])) AS step",
            "toUInt64(toUnixTimestamp64Milli(timestamp) * {steps:UInt8} + {steps:UInt8} - 1 - step)"
            " AS at",
        ),
        where=tuple(where),
        params=params,
        sample=fraction,
    )
    per_visitor = Select(
        site_id=site.pk,
        table=matches,
        columns=(
            "visitor_id",
            "windowFunnel({window:UInt64})"
            f"(at, {', '.join(f'step = {index}' for index in range(len(conditions)))}) AS level",
        ),
        group_by=("visitor_id",),
    )
    return Select(
        site_id=site.pk,
        table=per_visitor,
        columns=("level", "count() AS visitors"),
        where=("level > 0",),
        group_by=("level",),
    )


def _percent(part: int, whole: int) -> float:
    return round(part * 100 / whole, 2) if whole else 0.0


def compute(*, site: Site, query: FunnelQuery) -> dict[str, Any]:
    """The funnel's steps with visitors, conversion and drop-off, as the API answers."""
    fraction = sampling(query.report(site)).fraction
    scale = 1 / fraction if fraction else 1
    by_level = {
        int(row["level"]): round(int(row["visitors"]) * scale)
        for row in run(funnel_select(site=site, query=query, fraction=fraction))
    }
    return result(query=query, by_level=by_level, fraction=fraction)


def result(
    *, query: FunnelQuery, by_level: Mapping[int, int], fraction: float | None = None
) -> dict[str, Any]:
    """Visitors reaching exactly level k → visitors reaching each step, and the rates."""
    count = len(query.steps)
    reached = [
        sum(by_level.get(level, 0) for level in range(n, count + 1)) for n in range(1, count + 1)
    ]
    entered = reached[0]
    steps = []
    for index, step in enumerate(query.steps):
        previous = reached[index - 1] if index else entered
        lost = previous - reached[index]
        steps.append(
            {
                "label": step.label,
                "type": step.type,
                "pattern" if step.type == "page" else "name": step.value,
                "visitors": reached[index],
                "conversion_rate": _percent(reached[index], entered),
                "conversion_rate_step": _percent(reached[index], previous),
                "dropoff": lost,
                "dropoff_percentage": _percent(lost, previous),
            }
        )
    return {
        "steps": steps,
        "entered": entered,
        "converted": reached[-1],
        "conversion_rate": _percent(reached[-1], entered),
        "meta": {
            "site_id": query.site_id,
            "date_range": [query.date_range.first.isoformat(), query.date_range.last.isoformat()],
            "timezone": query.date_range.timezone,
            "window": query.window,
            "counted_by": "visitor",
            "sampled": fraction is not None,
            "sample_fraction": fraction,
        },
    }
