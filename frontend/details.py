"""A panel's details (issue 16.5): every row of one of its tabs, searched, sorted by any
column the Stats API can order by, a page at a time, with the tab's extra metrics.

`…/panel/details?panel=pages&tab=pages&q=pric&order=pageviews:desc&page=2` (with the
view's parameters): `q` keeps the rows whose value contains it (any case); `order` is
`<column>:<asc|desc>`, a column a metric of the tab's details or its dimension; `page`
counts from 1. Pages are the Stats API's `pagination` (`limit`/`offset`): one row more
than a page is asked for, to know whether a next page exists (no total is counted).

Top pages' bounce rate is that of the visits that entered on the page (Plausible's): the
Stats API cannot break a visit metric down by `event:page`, so it is a second query by
`visit:entry_page` for the rows shown, and not a column to sort by.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.http import QueryDict

from frontend.dashboard import PANELS, View, tab_query
from reports.stats import answer
from sites.models import Site

PAGE_SIZE = 20
MAX_PAGE = 500
MAX_SEARCH = 200


@dataclass(frozen=True)
class Column:
    metric: str
    header: str
    unit: str = ""  # after the value: "%", " s"
    sortable: bool = True


VISITORS = Column("visitors", "Visitors")
SHARE = Column("percentage", "%", "%")
BOUNCE = Column("bounce_rate", "Bounce rate", "%")
DURATION = Column("visit_duration", "Visit duration", " s")
ENTRY_BOUNCE = Column("bounce_rate", "Bounce rate", "%", sortable=False)  # by entry page
VISITS = (VISITORS, BOUNCE, DURATION)
SHARES = (VISITORS, SHARE, BOUNCE, DURATION)

# A tab's columns in its details; a tab not named here has those of its panel.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "sources": VISITS,
    "pages": (
        VISITORS,
        Column("pageviews", "Pageviews"),
        ENTRY_BOUNCE,
        Column("time_on_page", "Time on page", " s"),
        Column("scroll_depth", "Scroll depth", "%"),
    ),
    "pages/entry": (VISITORS, Column("visits", "Entrances"), BOUNCE, DURATION),
    "pages/exit": (VISITORS, Column("visits", "Exits")),
    "locations": (VISITORS, SHARE),
    "locations/regions": (VISITORS,),
    "locations/cities": (VISITORS,),
    "devices": SHARES,
    "goals": (
        Column("visitors", "Uniques"),
        Column("events", "Total"),
        Column("conversion_rate", "Conversion rate", "%"),
    ),
    "events": (Column("visitors", "Uniques"), Column("events", "Total")),
}


def columns(panel: str, tab: str) -> tuple[Column, ...]:
    return COLUMNS.get(f"{panel}/{tab}") or COLUMNS[panel]


@dataclass(frozen=True)
class Wanted:
    """What a details request asks for, each part checked (unknown: the default)."""

    panel: str
    tab: str
    prop: str = ""  # a custom property the events panel is broken down by
    search: str = ""
    order: tuple[str, str] = ("", "desc")  # (column, direction); "": the first metric
    page: int = 1

    def query(self, **changes: Any) -> str:
        """This request's own URL parameters (not the view's), with `changes`."""
        wanted = replace(self, **changes)
        pairs = [("panel", wanted.panel), ("tab", wanted.tab)]
        pairs += [("prop", wanted.prop)] if wanted.prop else []
        pairs += [("q", wanted.search)] if wanted.search else []
        column, direction = wanted.order
        pairs += [("order", f"{column}:{direction}")] if column else []
        pairs += [("page", str(wanted.page))] if wanted.page > 1 else []
        return urlencode(pairs)

    def sorted_by(self, column: str) -> str:
        """`asc`/`desc` when the rows are sorted by `column` ("label": the values), else ""."""
        shown, direction = self.order
        first = next(c.metric for c in columns(self.panel, self.tab) if c.sortable)
        return direction if column == (shown or first) else ""

    def sort(self, column: str) -> str:
        """The query sorting by `column`: the other way when it is the order already, else
        high to low (a to z for the values); back to the first page."""
        now = self.sorted_by(column)
        direction = {"desc": "asc", "asc": "desc"}.get(now, "asc" if column == "label" else "desc")
        return self.query(order=(column, direction), page=1)


def wanted_from(query: QueryDict) -> Wanted | None:
    """A details request's panel, tab, search, order and page; None for no such panel.
    (Its property, which only the event's keys can check, is the caller's.)"""
    panel = query.get("panel", "")
    if panel not in PANELS:
        return None
    tabs = PANELS[panel].tabs
    tab = query.get("tab", "")
    tab = tab if tab in tabs else next(iter(tabs))
    column, _, direction = query.get("order", "").rpartition(":")
    sortable = {c.metric for c in columns(panel, tab) if c.sortable} | {"label"}
    order = (column, direction) if column in sortable and direction in ("asc", "desc") else None
    try:
        page = min(max(int(query.get("page", "1")), 1), MAX_PAGE)
    except ValueError:
        page = 1
    return Wanted(
        panel=panel,
        tab=tab,
        search=query.get("q", "").strip()[:MAX_SEARCH],
        order=order or ("", "desc"),
        page=page,
    )


@dataclass(frozen=True)
class Details:
    dimension: str
    label: str  # the values' column header: the tab's name, or the property's
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]  # {"label", "cells" (as shown), "filter" (URL query)}
    more: bool  # a next page exists


def details(site: Site, view: View, wanted: Wanted) -> Details:
    """One page of a tab's rows for the view, as `wanted` says."""
    shown = columns(wanted.panel, wanted.tab)
    asked = [c.metric for c in shown if c.sortable]
    dimension, body = tab_query(site, view, wanted.panel, wanted.tab, prop=wanted.prop)
    column, direction = wanted.order
    by = dimension if column == "label" else (column or asked[0])
    body.update(
        metrics=asked,
        order_by=[[by, direction]],
        pagination={"limit": PAGE_SIZE + 1, "offset": (wanted.page - 1) * PAGE_SIZE},
    )
    if wanted.search:
        search = ["contains", dimension, [wanted.search], {"case_sensitive": False}]
        body["filters"] = [*body.get("filters", []), search]
    found = answer(site=site, body=body)["results"][: PAGE_SIZE + 1]
    page, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    labels = [r["dimensions"][0] for r in page]
    entry_bounce = _entry_bounce(site, body, labels) if ENTRY_BOUNCE in shown else {}
    rows = []
    for r in page:
        value, metrics = r["dimensions"][0], iter(r["metrics"])
        cells = [cell(next(metrics) if c.sortable else entry_bounce.get(value), c) for c in shown]
        rows.append({"label": value, "cells": cells, "filter": view.with_filter(dimension, value)})
    label = (
        f"Property {wanted.prop}" if wanted.prop else PANELS[wanted.panel].tabs[wanted.tab].label
    )
    return Details(dimension=dimension, label=label, columns=shown, rows=rows, more=more)


def cell(value: Any, column: Column) -> str:
    """A value as shown: with its unit; "—" for none (a page no visit entered on)."""
    return "—" if value is None else f"{value}{column.unit}"


def _entry_bounce(site: Site, body: dict[str, Any], pages: list[str]) -> dict[str, Any]:
    """The bounce rate of the visits entering on each of `pages`, under `body`'s filters."""
    if not pages:
        return {}
    question = {
        "site_id": body["site_id"],
        "date_range": body["date_range"],
        "metrics": ["bounce_rate"],
        "dimensions": ["visit:entry_page"],
        "filters": [*body.get("filters", []), ["is", "visit:entry_page", pages]],
    }
    found = answer(site=site, body=question)["results"]
    return {r["dimensions"][0]: r["metrics"][0] for r in found}
