"""The dashboard's panels as data: each panel's tabs, a tab's dimension and metrics, and the
Stats API bodies that answer them — shared by the dashboard (`frontend/dashboard.py`), its
CSV and zip downloads and the "report" export job (`reports/report_zip.py`), which must all
show the same rows.

`base` below is a Stats API body of a site, date range and filters (no metrics): the
dashboard's view makes one (`frontend.dashboard.base_query`), the exports API another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common import metrics
from reports import dates
from reports.context import site_range
from reports.query import GROUP_CONVERSION_RATE, PROPS_PREFIX
from reports.stats import answer
from sites.models import Site


@dataclass(frozen=True)
class Tab:
    label: str
    dimension: str
    metrics: tuple[str, ...] = ("visitors",)
    headers: tuple[str, ...] = ("Visitors",)


@dataclass(frozen=True)
class Panel:
    title: str
    tabs: dict[str, Tab] = field(default_factory=dict)


def _shares(label: str, dimension: str) -> Tab:
    """A tab of visitors and each row's share of them."""
    return Tab(label, dimension, ("visitors", "percentage"), ("Visitors", "%"))


PANELS = {
    "sources": Panel(
        "Top sources",
        {
            "channels": Tab("Channels", "visit:channel"),
            "sources": Tab("Sources", "visit:source"),
            "referrers": Tab("Referrers", "visit:referrer"),
            "utm_medium": Tab("UTM medium", "visit:utm_medium"),
            "utm_source": Tab("UTM source", "visit:utm_source"),
            "utm_campaign": Tab("UTM campaign", "visit:utm_campaign"),
        },
    ),
    "pages": Panel(
        "Top pages",
        {
            "pages": Tab(
                "Top pages", "event:page", ("visitors", "pageviews"), ("Visitors", "Pageviews")
            ),
            "entry": Tab(
                "Entry pages", "visit:entry_page", ("visits", "bounce_rate"), ("Visits", "Bounce")
            ),
            "exit": Tab("Exit pages", "visit:exit_page", ("visits",), ("Visits",)),
        },
    ),
    "locations": Panel(
        "Locations",
        {
            "countries": _shares("Countries", "visit:country"),
            "regions": Tab("Regions", "visit:region"),
            "cities": Tab("Cities", "visit:city"),
        },
    ),
    "devices": Panel(
        "Devices",
        {
            "devices": _shares("Devices", "visit:device"),
            "browsers": _shares("Browsers", "visit:browser"),
            "os": _shares("Operating systems", "visit:os"),
            "screens": _shares("Screens", "visit:screen"),
        },
    ),
    "goals": Panel(
        "Goals",
        {
            "goals": Tab(
                "Goals",
                "event:goal",
                ("visitors", "events", "conversion_rate"),
                ("Uniques", "Total", "CR"),
            ),
        },
    ),
    "events": Panel(
        "Custom events",
        {
            "events": Tab("Events", "event:name", ("visitors", "events"), ("Uniques", "Total")),
        },
    ),
}


def tab_body(
    base: dict[str, Any], panel: str, tab: str, *, prop: str = "", event: str = ""
) -> tuple[str, dict[str, Any]]:
    """A panel tab's dimension (a custom property's with `prop`) and its Stats API body
    without metrics: `base`'s range and filters, the custom events panel's without page
    views, a property breakdown's with its `event`."""
    dimension = f"{PROPS_PREFIX}{prop}" if prop else PANELS[panel].tabs[tab].dimension
    body = {**base, "dimensions": [dimension]}
    if panel == "events":
        body["filters"] = [*body.get("filters", []), ["is_not", "event:name", ["pageview"]]]
    if prop:
        body["filters"] = [*body.get("filters", []), ["is", "event:name", [event]]]
    return dimension, body


def tab_results(
    site: Site,
    base: dict[str, Any],
    panel: str,
    tab: str,
    *,
    limit: int,
    prop: str = "",
    event: str = "",
) -> tuple[str, list[dict[str, Any]]]:
    """A panel tab's dimension and its Stats API results (`dimensions`, `metrics`), best
    first, at most `limit`."""
    chosen = PANELS[panel].tabs[tab]
    dimension, body = tab_body(base, panel, tab, prop=prop, event=event)
    body.update(metrics=list(chosen.metrics), pagination={"limit": limit})
    with metrics.report_panel(panel):  # latency by panel (docs/metrics.md)
        return dimension, answer(site=site, body=body)["results"]


def series(
    site: Site,
    base: dict[str, Any],
    *,
    metric: str,
    span: dates.DateRange | None = None,
    interval: str = "",
) -> dict[str, Any]:
    """`metric` for every bucket of `base`'s range (or of `span`) by `interval` (else the
    range's default): `labels` (the API's bucket names), `values` (0 where a bucket has no
    data) and `interval`."""
    span = span or site_range(site, base["date_range"], timezone=site.timezone)
    interval = interval or dates.default_interval(span)
    body = {
        **base,
        "date_range": [span.first.isoformat(), span.last.isoformat()],
        # a bucket's conversion rate divides by the bucket's visitors (the group rate)
        "metrics": [GROUP_CONVERSION_RATE if metric == "conversion_rate" else metric],
        "dimensions": [f"time:{interval}"],
        "include": {**base.get("include", {}), "time_labels": True},  # imports stay
    }
    with metrics.report_panel("series"):
        found = answer(site=site, body=body)
    values = {r["dimensions"][0]: r["metrics"][0] for r in found["results"]}
    labels = found["meta"].get("time_labels", [])
    return {
        "labels": labels,
        "values": [values.get(label, 0) for label in labels],
        "interval": interval,
    }
