"""Realtime: who is on a site now, and its last 30 minutes, cheap enough to poll.

Two windows, each answered whole: `current` (the dashboard's header) gives the visitors,
pages and sources of the last 5 minutes; `realtime` (the API, and the dashboard's Realtime
period with `totals=True`) the last 30 minutes by minute, with their pages and sources, and
on request their visitors by country, device, browser or OS (`BREAKDOWNS`). `realtime` takes
the Stats API's `filters` (the dashboard's): every one of its queries then reads only the
events they keep, through the same filter compiler as the reports (a visit's dimension, such
as its source, is a guarded subquery on `sessions`). Every query reads the last 30 minutes
at most: the `toDate(timestamp)` condition lets the
primary index (`site_id, toDate(timestamp), …`) skip other days, the `timestamp` bounds
skip the rest of today's granules. Engagement events are neither visits nor pageviews and
are left out everywhere. Decisions: docs/funnels-and-realtime.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from reports import dates
from reports.context import site_goals
from reports.parse import parse_filters
from reports.query import Filter, GoalDefinition, ReportQuery
from reports.runner import together
from reports.sql.builder import Expr, Select, run
from reports.sql.catalog import DIRECT, EVENTS, Binder, date_condition, dimension_sql, of_visitor
from reports.sql.filters import FilterCompiler
from sites.models import Site

MINUTES = 30
CURRENT = dt.timedelta(minutes=5)  # "visitors now": an event in the last 5 minutes
TOP = 10
_MINUTE = dt.timedelta(minutes=1)
# The breakdowns `realtime` can add, by name: visitors by what each visitor is (where, on
# what); a visitor id stands for one IP and user agent, so each has one value.
BREAKDOWNS = {
    "countries": "visit:country",
    "devices": "visit:device",
    "browsers": "visit:browser",
    "os": "visit:os",
}


@dataclass(frozen=True)
class Window:
    """`MINUTES` whole minutes ending with the current one, and the last 5 minutes; the
    events read are those `filters` keep (all without)."""

    now: dt.datetime
    filters: tuple[Filter, ...] = ()
    goals: tuple[GoalDefinition, ...] = ()  # the site's, for `event:goal` filters

    @property
    def end(self) -> dt.datetime:
        return self.now.replace(second=0, microsecond=0) + _MINUTE

    @property
    def start(self) -> dt.datetime:
        return self.end - MINUTES * _MINUTE

    @property
    def current_start(self) -> dt.datetime:
        return self.now - CURRENT

    def report(self, site: Site) -> ReportQuery:
        """The window's filters as a report's, over the local days the window touches (a
        visit's dimension reads the visits begun from the day before: reports/sql/filters.py)."""
        zone = dates.zone(site.timezone)
        days = dates.DateRange(
            self.start.astimezone(zone).date(), self.end.astimezone(zone).date(), site.timezone
        )
        return ReportQuery(
            site_id=site.pk,
            date_range=days,
            metrics=("visitors",),
            filters=self.filters,
            goals=self.goals,
        )


def _events(
    site: Site,
    window: Window,
    since: dt.datetime,
    *,
    columns: tuple[str, ...],
    where: tuple[str, ...] = (),
    group_by: tuple[str, ...] = (),
    order_by: tuple[str, ...] = (),
    limit: int | None = None,
    binder: Binder | None = None,
) -> Select:
    """A read of the site's events from `since` to the window's end that the window's
    filters keep, engagement left out; `binder` holds what `columns` bound."""
    binder = binder or Binder()
    conditions: list[str | Expr] = [
        date_condition(EVENTS, binder, since, window.end),
        "name != 'engagement'",
        *where,
    ]
    if window.filters:
        compiler = FilterCompiler(window.report(site), binder)
        conditions.append(compiler.compile(window.filters, EVENTS))
    return Select(
        site_id=site.pk,
        table=EVENTS,
        columns=columns,
        where=tuple(conditions),
        params=binder.params,
        group_by=group_by,
        order_by=order_by,
        limit=limit,
    )


def current_visitors_select(*, site: Site, window: Window) -> Select:
    return _events(site, window, window.current_start, columns=("uniq(visitor_id) AS visitors",))


def minutes_select(*, site: Site, window: Window) -> Select:
    return _events(
        site,
        window,
        window.start,
        columns=(
            "intDiv(toUnixTimestamp64Milli(timestamp), 60000) AS minute",
            "countIf(name = 'pageview') AS pageviews",
            "uniq(visitor_id) AS visitors",
        ),
        group_by=("minute",),
    )


def _since(window: Window, current: bool) -> dt.datetime:
    return window.current_start if current else window.start


def totals_select(*, site: Site, window: Window) -> Select:
    """Unique visitors and pageviews of the 30 minutes."""
    return _events(
        site,
        window,
        window.start,
        columns=("uniq(visitor_id) AS visitors", "countIf(name = 'pageview') AS pageviews"),
    )


def pages_select(*, site: Site, window: Window, current: bool = False) -> Select:
    """The top pages of the 30 minutes (`current`: of the last 5)."""
    return _events(
        site,
        window,
        _since(window, current),
        columns=("pathname AS page", "uniq(visitor_id) AS visitors"),
        where=("name = 'pageview'",),
        group_by=("page",),
        order_by=("visitors DESC", "page"),
        limit=TOP,
    )


def sources_select(*, site: Site, window: Window, current: bool = False) -> Select:
    """The top sources of the 30 minutes (`current`: of the last 5). Each visitor counts
    once, under the first non-empty source of its events in the window: the pages a
    visitor reaches from the landing page have no referrer of their own and would count it
    again under Direct / None."""
    per_visitor = _events(
        site,
        window,
        _since(window, current),
        columns=(
            "visitor_id",
            "toString(argMinIf(referrer_source, timestamp, referrer_source != '')) AS found",
        ),
        group_by=("visitor_id",),
    )
    return Select(
        site_id=site.pk,
        table=per_visitor,
        columns=("if(found = '', {direct:String}, found) AS source", "count() AS visitors"),
        params={"direct": DIRECT},
        group_by=("source",),
        order_by=("visitors DESC", "source"),
        limit=TOP,
    )


def breakdown_select(*, site: Site, window: Window, dimension: str) -> Select:
    """The visitors of the 30 minutes by `dimension`, one of a visitor's own (a location
    or device dimension), labelled as the reports label them (`(not set)`)."""
    if not of_visitor(dimension):
        raise ValueError(f"{dimension} is not the same on every event of a visitor")
    binder = Binder()
    label = dimension_sql(dimension, EVENTS, binder, timezone=site.timezone, first_day=None)
    return _events(
        site,
        window,
        window.start,
        columns=(f"{label} AS label", "uniq(visitor_id) AS visitors"),
        group_by=("label",),
        order_by=("visitors DESC", "label"),
        limit=TOP,
        binder=binder,
    )


def _window(site: Site, now: dt.datetime | None, filters: Any = None) -> Window:
    """The window ending now; `filters` (the Stats API's, checked as it checks them: a
    ServiceError names the bad one) narrow it."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    if not filters:
        return Window(moment)
    goals = site_goals(site)
    return Window(moment, filters=parse_filters(filters, goals), goals=goals)


def _pages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"page": row["page"], "visitors": int(row["visitors"])} for row in rows]


def _sources(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"source": row["source"], "visitors": int(row["visitors"])} for row in rows]


def current(*, site: Site, now: dt.datetime | None = None) -> dict[str, Any]:
    """Visitors now and their top pages and sources, all of the same last 5 minutes
    (`minutes`); the three queries run at once."""
    window = _window(site, now)
    visitors, page_rows, source_rows = together(
        partial(run, current_visitors_select(site=site, window=window)),
        partial(run, pages_select(site=site, window=window, current=True)),
        partial(run, sources_select(site=site, window=window, current=True)),
    )
    return {
        "visitors": int(visitors[0]["visitors"]) if visitors else 0,
        "pages": _pages(page_rows),
        "sources": _sources(source_rows),
        "minutes": int(CURRENT.total_seconds()) // 60,
    }


def realtime(
    *,
    site: Site,
    now: dt.datetime | None = None,
    totals: bool = False,
    filters: Any = None,
    breakdowns: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Visitors now, 30 minutes of pageviews and visitors (oldest first, in the site's time
    zone, zero-filled), and the top pages and sources of those 30 minutes; the four queries
    run at once. `totals` (the dashboard's Realtime period) adds a fifth, the 30 minutes'
    unique visitors and pageviews: `{"totals": {"visitors": …, "pageviews": …}}`; each of
    `breakdowns` (names of `BREAKDOWNS`) one more, the visitors of the 30 minutes by it:
    `{"breakdowns": {"countries": [{"label": "FR", "visitors": 2}, …]}}`. `filters` (the
    Stats API's) narrow every figure; a bad one raises ServiceError naming it."""
    zone = dates.zone(site.timezone)
    window = _window(site, now, filters)
    selects = [
        build(site=site, window=window)
        for build in (current_visitors_select, minutes_select, pages_select, sources_select)
    ]
    if totals:
        selects.append(totals_select(site=site, window=window))
    selects += [
        breakdown_select(site=site, window=window, dimension=BREAKDOWNS[name])
        for name in breakdowns
    ]
    answers = together(*(partial(run, select) for select in selects))
    current_rows, minute_rows, page_rows, source_rows = answers[:4]
    by_minute = {int(row["minute"]): row for row in minute_rows}
    first = int(window.start.timestamp()) // 60
    minutes = []
    for index in range(first, first + MINUTES):
        row = by_minute.get(index, {})
        local = dt.datetime.fromtimestamp(index * 60, dt.UTC).astimezone(zone)
        minutes.append(
            {
                "minute": local.strftime("%Y-%m-%d %H:%M"),
                "pageviews": int(row.get("pageviews", 0)),
                "visitors": int(row.get("visitors", 0)),
            }
        )
    result: dict[str, Any] = {
        "visitors": int(current_rows[0]["visitors"]) if current_rows else 0,
        "minutes": minutes,
        "pages": _pages(page_rows),
        "sources": _sources(source_rows),
        "timezone": site.timezone,
    }
    if totals:
        [row] = answers[4] or [{"visitors": 0, "pageviews": 0}]
        result["totals"] = {"visitors": int(row["visitors"]), "pageviews": int(row["pageviews"])}
    if breakdowns:
        broken = answers[len(answers) - len(breakdowns) :]
        result["breakdowns"] = {
            name: [{"label": row["label"], "visitors": int(row["visitors"])} for row in rows]
            for name, rows in zip(breakdowns, broken, strict=True)
        }
    return result
