"""Realtime: who is on a site now, and its last 30 minutes, cheap enough to poll.

Two windows, each answered whole: `current` (the dashboard's header) gives the visitors,
pages and sources of the last 5 minutes; `realtime` (the API, and the dashboard's Realtime
period with `totals=True`) the last 30 minutes by minute, with their pages and sources.
Every query reads the last 30 minutes at most: the `toDate(timestamp)` condition lets the
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
from reports.runner import together
from reports.sql.builder import Select, run
from reports.sql.catalog import DIRECT, EVENTS, Binder, date_condition
from sites.models import Site

MINUTES = 30
CURRENT = dt.timedelta(minutes=5)  # "visitors now": an event in the last 5 minutes
TOP = 10
_MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Window:
    """`MINUTES` whole minutes ending with the current one, and the last 5 minutes."""

    now: dt.datetime

    @property
    def end(self) -> dt.datetime:
        return self.now.replace(second=0, microsecond=0) + _MINUTE

    @property
    def start(self) -> dt.datetime:
        return self.end - MINUTES * _MINUTE

    @property
    def current_start(self) -> dt.datetime:
        return self.now - CURRENT


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
) -> Select:
    """A read of the site's events from `since` to the window's end, engagement left out."""
    binder = Binder()
    return Select(
        site_id=site.pk,
        table=EVENTS,
        columns=columns,
        where=(
            date_condition(EVENTS, binder, since, window.end),
            "name != 'engagement'",
            *where,
        ),
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


def _window(now: dt.datetime | None) -> Window:
    return Window((now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0))


def _pages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"page": row["page"], "visitors": int(row["visitors"])} for row in rows]


def _sources(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"source": row["source"], "visitors": int(row["visitors"])} for row in rows]


def current(*, site: Site, now: dt.datetime | None = None) -> dict[str, Any]:
    """Visitors now and their top pages and sources, all of the same last 5 minutes
    (`minutes`); the three queries run at once."""
    window = _window(now)
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


def realtime(*, site: Site, now: dt.datetime | None = None, totals: bool = False) -> dict[str, Any]:
    """Visitors now, 30 minutes of pageviews and visitors (oldest first, in the site's time
    zone, zero-filled), and the top pages and sources of those 30 minutes; the four queries
    run at once. `totals` (the dashboard's Realtime period) adds a fifth, the 30 minutes'
    unique visitors and pageviews: `{"totals": {"visitors": …, "pageviews": …}}`."""
    zone = dates.zone(site.timezone)
    window = _window(now)
    builds = [current_visitors_select, minutes_select, pages_select, sources_select]
    if totals:
        builds.append(totals_select)
    answers = together(*(partial(run, build(site=site, window=window)) for build in builds))
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
    return result
