"""The dashboard's fragments (`…/panel/<name>`, loaded by htmx after the page): a registry
from a fragment's name to the small function that renders it.

Numbers come from the reports engine only: `frontend/dashboard.py` (`reports.stats`,
`reports.funnels`), `reports.realtime` and `reports.properties`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.errors import ServiceError
from frontend import dashboard, details, filters
from frontend.chart import chart, time_series
from frontend.views.access import Access
from reports import dates, realtime
from reports.properties import property_keys
from reports.stats import location_credit_due
from sites import selectors
from sites.models import Site


@dataclass(frozen=True)
class Ask:
    """One fragment's request: who asks, for which view of the site."""

    request: HttpRequest
    access: Access
    view: dashboard.View
    name: str

    @property
    def site(self) -> Site:
        return self.access.site

    def link(self, **changes: Any) -> str:
        """The URL query of this view with `changes`, carrying a shared link."""
        return self.access.query(self.view.params(**changes))

    def render(self, template: str, **context: Any) -> HttpResponse:
        base = {"site": self.site, "access": self.access, "view": self.view, "name": self.name}
        return render(self.request, template, {**base, **context})


def _top(ask: Ask) -> HttpResponse:
    top = dashboard.top_report(ask.site, ask.view)
    return ask.render("frontend/_top.html", stats=top.stats, imports_note=top.imports_note)


def _chart(ask: Ask) -> HttpResponse:
    """The time series of the view's metric (frontend/chart.py), its metric and interval
    links: each loads the chart again and the page's URL follows (frontend/dashboard/main.js)."""
    drawn = chart(ask.site, ask.view, ask.link)
    metric_links = [
        {"label": label, "url": ask.link(metric=key), "current": key == ask.view.metric}
        for key, label in dashboard.CHART_METRICS.items()
    ]
    interval_links = [
        {
            "label": interval.capitalize(),
            "url": ask.link(interval=interval),
            "current": interval == drawn["interval"],
        }
        for interval in drawn["intervals"]
    ]
    return ask.render(
        "frontend/_chart.html",
        series_json=json.dumps(drawn["series"]),
        series=drawn["series"],
        rows=drawn["rows"],
        metric_links=metric_links,
        interval_links=interval_links,
    )


def _spark(ask: Ask) -> HttpResponse:
    """A site list row's sparkline and its visitors."""
    values = time_series(ask.site, ask.view)["values"]
    top = max(values, default=0) or 1
    step = 100 / max(len(values) - 1, 1)
    return ask.render(
        "frontend/_spark.html",
        values=values,
        total=dashboard.visitors(ask.site, ask.view),
        points=" ".join(f"{i * step:.1f},{22 - 20 * v / top:.1f}" for i, v in enumerate(values)),
    )


def _funnels(ask: Ask) -> HttpResponse:
    """The saved funnel asked for (`?funnel=<id>`), else the first by name."""
    saved = selectors.funnels_for_site(site=ask.site)
    chosen = next((f for f in saved if str(f.pk) == ask.request.GET.get("funnel")), None)
    funnel = chosen or (saved[0] if saved else None)
    context: dict[str, Any] = {"funnels": saved, "funnel": funnel, "params": ask.link()}
    if funnel is not None:
        context["result"] = dashboard.funnel_result(ask.site, ask.view, funnel)
    return ask.render("frontend/_funnel.html", **context)


def _realtime(ask: Ask) -> HttpResponse:
    """The header's line: visitors now, their pages and sources, one window (5 minutes)."""
    return ask.render(
        "frontend/_realtime.html",
        now=realtime.current(site=ask.site),
        realtime_link=ask.link(period="realtime"),
    )


# The Realtime period's lists besides its breakdowns: the row's heading and the dimension a
# row's filter link sets. Titles and tab labels are the dashboard's panels' (`PANELS`); the
# devices tabs Realtime has (`tab_devices` of the URL, shared with the other periods; one
# it has not, Screens, shows the first).
_REALTIME_LISTS = {"sources": ("Source", "visit:source"), "pages": ("Page", "event:page")}
_REALTIME_DEVICE_TABS = ("devices", "browsers", "os")


def _realtime_rows(ask: Ask, rows: list[dict[str, Any]], dimension: str) -> list[dict[str, Any]]:
    """Rows of a Realtime panel: label, visitors, bar, and the view filtered by the label."""
    top = max((row["visitors"] for row in rows), default=0) or 1
    return [
        {
            "label": row["label"],
            "visitors": row["visitors"],
            "share": round(100 * row["visitors"] / top),
            "filter": ask.access.query(ask.view.with_filter(dimension, row["label"])),
        }
        for row in rows
    ]


def _realtime_period(ask: Ask) -> HttpResponse:
    """The Realtime period: visitors now, the last 30 minutes' totals, a chart of them by
    minute (the view's metric when it is counted by minute, else visitors) and their top
    pages, sources, countries and devices (browsers, operating systems), all under the
    view's filters. The fragment carries its own poller, so that a devices tab chosen in it
    is the one the next refresh asks for."""
    devices = ask.view.tab("devices")
    if devices not in _REALTIME_DEVICE_TABS:
        devices = _REALTIME_DEVICE_TABS[0]
    last = realtime.realtime(
        site=ask.site,
        totals=True,
        filters=dashboard.base_query(ask.view, ask.site).get("filters"),
        breakdowns=("countries", devices),
    )
    metric = ask.view.metric if ask.view.metric in ("visitors", "pageviews") else "visitors"
    series = {
        "labels": [m["minute"][-5:] for m in last["minutes"]],
        "values": [m[metric] for m in last["minutes"]],
    }
    listed = {
        "sources": [{"label": s["source"], "visitors": s["visitors"]} for s in last["sources"]],
        "pages": [{"label": p["page"], "visitors": p["visitors"]} for p in last["pages"]],
    }
    panels = [
        {
            "key": key,
            "title": dashboard.PANELS[key].title,
            "heading": heading,
            "rows": _realtime_rows(ask, listed[key], dimension),
        }
        for key, (heading, dimension) in _REALTIME_LISTS.items()
    ]
    panels.append(
        {
            "key": "locations",
            "title": dashboard.PANELS["locations"].title,
            "heading": "Country",
            "rows": _realtime_rows(
                ask, last["breakdowns"]["countries"], realtime.BREAKDOWNS["countries"]
            ),
        }
    )
    others = tuple(pair for pair in ask.view.tabs if pair[0] != "devices")
    device_tabs = dashboard.PANELS["devices"].tabs
    tabs = [
        {
            "label": device_tabs[key].label,
            "current": key == devices,
            "query": ask.link(tabs=others + ((("devices", key),) if key != "devices" else ())),
        }
        for key in _REALTIME_DEVICE_TABS
    ]
    panels.append(
        {
            "key": "devices",
            "title": dashboard.PANELS["devices"].title,
            "heading": device_tabs[devices].label,
            "tabs": tabs,
            "rows": _realtime_rows(ask, last["breakdowns"][devices], realtime.BREAKDOWNS[devices]),
        }
    )
    return ask.render(
        "frontend/_realtime_minutes.html",
        last=last,
        panels=panels,
        params=ask.link(),
        updated=dt.datetime.now(dates.zone(ask.site.timezone)).strftime("%H:%M:%S"),
        metric_label=metric.capitalize(),
        series_json=json.dumps(series),
        rows=list(zip(series["labels"], series["values"], strict=True)),
    )


def chosen_property(
    request: HttpRequest, site: Site, view: dashboard.View, name: str
) -> tuple[str, list[str]]:
    """The property a custom events panel breaks its event down by (`?prop=`, when the
    event has it), and the keys it may: only with an `event:name` filter."""
    event = dashboard.view_event(view)
    if name != "events" or not event:
        return "", []
    keys = property_keys(site=site, date_range=dashboard.date_range(view, site), event=event)
    prop = request.GET.get("prop", "")
    return (prop if prop in keys else ""), keys


def _tabbed(ask: Ask, panel: dashboard.Panel) -> HttpResponse:
    """A panel of `dashboard.PANELS`: its chosen tab's rows (`?tab=`, else the first)."""
    tab = ask.request.GET.get("tab", "")
    if tab not in panel.tabs:
        tab = next(iter(panel.tabs))
    context: dict[str, Any] = {}
    prop, keys = chosen_property(ask.request, ask.site, ask.view, ask.name)
    if keys:
        context.update(props=keys, prop=prop)
    if ask.name == "locations" and tab == "countries":  # every country for the map
        data = dashboard.panel_rows(ask.site, ask.view, ask.name, tab, limit=300)
        context["map_json"] = json.dumps({r["label"]: r["values"][0] for r in data.rows})
        data = dashboard.Rows(headers=data.headers, rows=data.rows[: dashboard.LIST_SIZE])
    else:
        data = dashboard.panel_rows(ask.site, ask.view, ask.name, tab, prop=prop)
    return ask.render(
        "frontend/_panel.html",
        **context,
        panel=panel,
        tab=tab,
        tab_label=panel.tabs[tab].label,
        data=data,
        params=ask.link(),
        attribution=location_credit_due() if ask.name == "locations" else False,
    )


def _details(ask: Ask) -> HttpResponse:
    """A panel tab's details (`frontend/details.py`), shown in a dialog of the dashboard."""
    wanted = details.wanted_from(ask.request.GET)
    if wanted is None:
        raise Http404("no such panel")
    prop, _ = chosen_property(ask.request, ask.site, ask.view, wanted.panel)
    wanted = replace(wanted, prop=prop)
    found = details.details(ask.site, ask.view, wanted)
    here = f"{ask.access.base}/panel/details?{ask.link()}&"
    headers = [
        {
            "column": column,
            "url": here + wanted.sort(column.metric) if column.sortable else "",
            "sorted": wanted.sorted_by(column.metric) if column.sortable else "",
        }
        for column in (details.Column("label", found.label), *found.columns)
    ]
    return ask.render(
        "frontend/_details.html",
        panel=dashboard.PANELS[wanted.panel],
        wanted=wanted,
        found=found,
        headers=headers,
        search_url=here + wanted.query(search="", page=1),
        previous=here + wanted.query(page=wanted.page - 1) if wanted.page > 1 else "",
        next=here + wanted.query(page=wanted.page + 1) if found.more else "",
    )


def _suggest(ask: Ask) -> HttpResponse:
    """The filter menu's suggested values of `?dimension=` containing `?q=`."""
    dimension = ask.request.GET.get("dimension", "")
    values = filters.suggestions(ask.site, ask.view, dimension, ask.request.GET.get("q", ""))
    return ask.render("frontend/_suggestions.html", values=values)


FRAGMENTS: dict[str, Callable[[Ask], HttpResponse]] = {
    "top": _top,
    "chart": _chart,
    "spark": _spark,
    "funnels": _funnels,
    "realtime": _realtime,
    "realtime_period": _realtime_period,
    **{name: partial(_tabbed, panel=panel) for name, panel in dashboard.PANELS.items()},
    "details": _details,
    "suggest": _suggest,
}


def reason(error: ServiceError) -> str:
    return f"{error.field}: {error.message}" if error.field else error.message


def fragment(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    """The fragment `name`; what the view's filters make impossible (a pattern RE2
    refuses) is a 400 with the reason, in the panel (the dashboard swaps a 400's body in:
    frontend/dashboard/main.js)."""
    make = FRAGMENTS.get(name)
    if make is None:
        raise Http404("no such panel")
    ask = Ask(request=request, access=access, view=dashboard.view_from(request.GET), name=name)
    try:
        return make(ask)
    except ServiceError as error:
        context = {"message": reason(error)}
        return render(request, "frontend/_refused.html", context, status=400)
