"""The dashboard's state (date range, comparison, filters, chart) as URL parameters, and its
panels as reports: Stats API queries (`reports.stats.answer`) and saved funnels
(`reports.funnels`). Realtime and a custom event's property keys are read by the fragments
(`frontend/views/fragments.py`) from `reports.realtime` and `reports.properties`.

URL parameters (a view can be bookmarked and shared):
- `period`: a preset of `PRESETS`, or `custom` with `from` and `to` (YYYY-MM-DD);
- `compare`: `previous_period`, `year_over_year` or empty;
- `f`: a filter `dimension|operator|value`, repeated (`visit:source|is|Google`);
- `metric` (any top stat of `CHART_METRICS`) and `interval` (`hour`, `day`, `week`,
  `month`) of the chart; an interval the range does not offer (`frontend/chart.py`) gives
  way to the range's default;
- `tab_<panel>`: the tab a panel shows (`tab_pages=entry`), when not its first;
- `with_imported=false`: leave imported data out (a site with a Plausible import only;
  on by default, as Plausible's switch of the same name).
Unknown values fall back to the defaults.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.http import QueryDict

from accounts.errors import ServiceError
from reports import dates, funnels
from reports.context import load_context
from reports.imports.present import has_imported_aggregates
from reports.panels import PANELS, tab_body, tab_results
from reports.panels import Panel as Panel  # the dashboard's name for it (fragments)
from reports.query import EVENT_DIMENSIONS, OPERATORS, PROPS_PREFIX, VISIT_DIMENSIONS
from reports.stats import answer
from sites.funnels import step_body
from sites.models import Funnel, Site

PRESETS = {
    "day": "Today",
    "yesterday": "Yesterday",
    "realtime": "Realtime",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
    "last_month": "Last month",
    "year": "This year",
    "12mo": "Last 12 months",
    "all": "All time",
}
# keyboard shortcuts of the presets (frontend/dashboard/main.js reads them from the page)
SHORTCUTS = {
    "day": "d",
    "yesterday": "e",
    "realtime": "n",
    "7d": "w",
    "30d": "t",
    "month": "m",
    "last_month": "l",
    "year": "y",
    "12mo": "r",
    "all": "a",
}
# Periods whose figures change while one looks: the page refreshes its panels every so many
# seconds (the Realtime period's own fragment, `_realtime_period`; Today's panels through
# frontend/dashboard/refresh.js). Realtime is the last 30 minutes by minute from
# `reports.realtime`, not a Stats API range: a Stats API query of it reads today.
REFRESH_SECONDS = {"realtime": 10, "day": 30}
COMPARISONS = {"previous_period": "Previous period", "year_over_year": "Year over year"}
CHART_METRICS = {
    "visitors": "Visitors",
    "visits": "Visits",
    "pageviews": "Pageviews",
    "views_per_visit": "Views per visit",
    "bounce_rate": "Bounce rate",
    "visit_duration": "Visit duration",
}
INTERVALS = ("hour", "day", "week", "month")
TOP_METRICS = (
    ("visitors", "Unique visitors"),
    ("visits", "Total visits"),
    ("pageviews", "Total pageviews"),
    ("views_per_visit", "Views per visit"),
    ("bounce_rate", "Bounce rate"),
    ("visit_duration", "Visit duration"),
)
# Under a goal filter the top stats are the goal's, as Plausible shows them; revenue has a
# value for revenue goals only (null otherwise: such a tile is left out).
GOAL_METRICS = (
    ("visitors", "Unique conversions"),
    ("events", "Total conversions"),
    ("conversion_rate", "Conversion rate"),
    ("total_revenue", "Total revenue"),
    ("average_revenue", "Average revenue"),
)
MAX_FILTERS = 10


@dataclass(frozen=True)
class View:
    period: str = "30d"
    first: str = ""  # custom range
    last: str = ""
    compare: str = "previous_period"
    filters: tuple[tuple[str, str, str], ...] = ()
    metric: str = "visitors"
    interval: str = ""  # empty: the range's default (`frontend.chart.chart_interval`)
    tabs: tuple[tuple[str, str], ...] = ()  # (panel, tab) of the panels not on their first
    imports: bool = True  # add imported data where the site has some (`with_imported`)

    def pairs(self, **changes: Any) -> list[tuple[str, str]]:
        """This view's URL parameters, with `changes` applied."""
        view = replace(self, **changes)
        pairs: list[tuple[str, str]] = [("period", view.period)]
        if view.period == "custom":
            pairs += [("from", view.first), ("to", view.last)]
        pairs.append(("compare", view.compare))
        pairs += [("f", "|".join(f)) for f in view.filters]
        if view.metric != "visitors":
            pairs.append(("metric", view.metric))
        if view.interval:
            pairs.append(("interval", view.interval))
        pairs += [(f"tab_{panel}", tab) for panel, tab in view.tabs]
        if not view.imports:
            pairs.append(("with_imported", "false"))
        return pairs

    def params(self, **changes: Any) -> str:
        """This view's URL query, with `changes` applied."""
        return urlencode(self.pairs(**changes))

    def hidden(self, *left_out: str) -> list[tuple[str, str]]:
        """This view's parameters but `left_out`: a form's hidden fields (the form asks for
        the rest)."""
        return [(key, value) for key, value in self.pairs() if key not in left_out]

    def tab(self, panel: str) -> str:
        """The tab the URL chose for `panel`, or empty (its first)."""
        return dict(self.tabs).get(panel, "")

    def with_filter(self, dimension: str, value: str) -> str:
        kept = tuple(f for f in self.filters if f[0] != dimension)
        return self.params(filters=(*kept, (dimension, "is", value))[-MAX_FILTERS:])

    def without_filter(self, index: int) -> str:
        return self.params(filters=self.filters[:index] + self.filters[index + 1 :])

    @property
    def refresh(self) -> int:
        """Seconds between refreshes of this view's panels; 0: none."""
        return REFRESH_SECONDS.get(self.period, 0)


def _filterable(dimension: str) -> bool:
    if dimension.startswith(PROPS_PREFIX):
        return len(dimension) > len(PROPS_PREFIX)
    return dimension in EVENT_DIMENSIONS or dimension in VISIT_DIMENSIONS


def view_from(query: QueryDict) -> View:
    """The view a URL asks for; what is not understood is left at its default."""
    view = View()
    period = query.get("period", "")
    if period in PRESETS:
        view = replace(view, period=period)
    elif period == "custom":
        first: dt.date | None
        last: dt.date | None
        try:
            first = dates.parse_date(query.get("from", ""), "from")
            last = dates.parse_date(query.get("to", ""), "to")
        except ServiceError:  # a bad date in a URL: keep the default range
            first = last = None
        if first and last and first <= last:
            view = replace(view, period="custom", first=first.isoformat(), last=last.isoformat())
    compare = query.get("compare")
    if compare is not None:
        view = replace(view, compare=compare if compare in COMPARISONS else "")
    filters = []
    for raw in query.getlist("f")[:MAX_FILTERS]:
        dimension, _, rest = raw.partition("|")
        op, _, value = rest.partition("|")
        if _filterable(dimension) and op in OPERATORS and value and len(value) <= 2000:
            filters.append((dimension, op, value))
    view = replace(view, filters=tuple(filters))
    metric, interval = query.get("metric", ""), query.get("interval", "")
    if metric in CHART_METRICS:
        view = replace(view, metric=metric)
    if interval in INTERVALS:
        view = replace(view, interval=interval)
    tabs = tuple(
        (name, query.get(f"tab_{name}", ""))
        for name, panel in PANELS.items()
        if query.get(f"tab_{name}", "") in panel.tabs
    )
    return replace(view, tabs=tabs, imports=query.get("with_imported") != "false")


def date_range(view: View, site: Site, now: dt.datetime | None = None) -> Any:
    """The Stats API `date_range` of a view."""
    today = dates.today_in(site.timezone, now)
    if view.period == "realtime":
        return "day"
    if view.period == "custom":
        return [view.first, view.last]
    if view.period == "yesterday":
        day = (today - dt.timedelta(days=1)).isoformat()
        return [day, day]
    if view.period == "last_month":
        end = today.replace(day=1) - dt.timedelta(days=1)
        return [end.replace(day=1).isoformat(), end.isoformat()]
    return view.period


def has_imports(site: Site) -> bool:
    """Whether the site has imported data to add (`reports.imports.present`), asked once
    per request: the answer stays on the request's `Site`."""
    known: bool | None = getattr(site, "_trail_has_imports", None)
    if known is None:
        known = has_imported_aggregates(site=site)
        site._trail_has_imports = known  # type: ignore[attr-defined]
    return known


def base_query(view: View, site: Site) -> dict[str, Any]:
    """The Stats API body of a view: its range and filters, and `include.imports` when the
    view adds imported data and the site has some (else the body is what it was before
    imports existed, and so is the answer)."""
    body: dict[str, Any] = {"site_id": site.domain, "date_range": date_range(view, site)}
    if view.filters:
        body["filters"] = [[op, dimension, [value]] for dimension, op, value in view.filters]
    if view.imports and has_imports(site):
        body["include"] = {"imports": True}
    return body


LIST_SIZE = 9


@dataclass(frozen=True)
class Rows:
    headers: tuple[str, ...]
    rows: list[dict[str, Any]]  # {"label", "values", "filter" (URL query), "share" (0–100)}


def panel_rows(
    site: Site, view: View, panel: str, tab: str, *, prop: str = "", limit: int = LIST_SIZE
) -> Rows:
    """A panel's rows: its tab's dimension by its metrics, each row a filter link."""
    dimension, found = tab_results(
        site, base_query(view, site), panel, tab, limit=limit, prop=prop, event=view_event(view)
    )
    top = max((r["metrics"][0] for r in found), default=0) or 1
    rows = [
        {
            "label": r["dimensions"][0],
            "values": r["metrics"],
            "filter": view.with_filter(dimension, r["dimensions"][0]),
            "share": round(100 * r["metrics"][0] / top),
        }
        for r in found
    ]
    return Rows(headers=PANELS[panel].tabs[tab].headers, rows=rows)


def tab_query(
    site: Site, view: View, panel: str, tab: str, *, prop: str = ""
) -> tuple[str, dict[str, Any]]:
    """A panel tab's dimension and Stats API body without metrics, for the view
    (`reports.panels.tab_body`)."""
    return tab_body(base_query(view, site), panel, tab, prop=prop, event=view_event(view))


def view_event(view: View) -> str:
    """The custom event a property breakdown is about: the view's `event:name` filter."""
    return next((value for dimension, op, value in view.filters if dimension == "event:name"), "")


def visitors(site: Site, view: View) -> int:
    """Unique visitors of the view (the site list's figure)."""
    body = {**base_query(view, site), "metrics": ["visitors"]}
    [row] = answer(site=site, body=body)["results"]
    return int(row["metrics"][0])


def top_metrics(view: View) -> tuple[tuple[str, str], ...]:
    """The top stats of a view: the goal's conversions under a goal filter, else traffic."""
    if any(dimension == "event:goal" for dimension, _, _ in view.filters):
        return GOAL_METRICS
    return TOP_METRICS


@dataclass(frozen=True)
class TopStats:
    stats: list[dict[str, Any]]
    imports_note: str  # why imported data was left out of them, when it was asked for


def top_stats(site: Site, view: View) -> list[dict[str, Any]]:
    """Each top stat's metric, label, value, and with a comparison its previous value and
    change (the Stats API's); a stat without a value (revenue of a plain goal) is left out."""
    return top_report(site, view).stats


def imports_note(meta: dict[str, Any]) -> str:
    """Why an answer asked with `include.imports` left imported data out, when the view's
    filters or metrics are the reason (the API's `imports_warning`); empty otherwise (no
    imported day in the range is no news)."""
    if meta.get("imports_skip_reason") != "unsupported_query":
        return ""
    warning = meta.get("imports_warning") or "these filters cannot use it"
    return f"Imported data is not included: {warning}."


def top_report(site: Site, view: View) -> TopStats:
    """The top stats (`top_stats`) and, when the view asked for imported data in vain, why."""
    shown = top_metrics(view)
    body = {**base_query(view, site), "metrics": [m for m, _ in shown]}
    if view.compare:
        body["include"] = {**body.get("include", {}), "comparisons": {"mode": view.compare}}
    found = answer(site=site, body=body)
    [row] = found["results"]
    compared = row.get("comparison")
    stats = [
        {
            "metric": metric,
            "label": label,
            "value": row["metrics"][i],
            "previous": compared["metrics"][i] if compared else None,
            "change": compared["change"][i] if compared else None,
        }
        for i, (metric, label) in enumerate(shown)
        if row["metrics"][i] is not None
    ]
    return TopStats(stats=stats, imports_note=imports_note(found["meta"]))


def funnel_result(site: Site, view: View, funnel: Funnel) -> dict[str, Any]:
    """A saved funnel over the view's date range and filters."""
    steps = [step_body(step["type"], step["value"]) for step in funnel.steps]
    body = {**base_query(view, site), "steps": steps, "window": funnel.window}
    body.pop("site_id")
    body.pop("include", None)  # funnels read Trail's own events: imports have no visits
    query = funnels.parse(body, site=site, context=load_context(site, body))
    return funnels.compute(site=site, query=query)
