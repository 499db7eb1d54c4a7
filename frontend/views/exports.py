"""The dashboard's downloads (`…/export/<name>`): a panel tab's every row as CSV, or `all`,
a zip of every panel tab and the time series (docs/exports.md)."""

from __future__ import annotations

import io
import zipfile

from django.http import Http404, HttpRequest, HttpResponse

from accounts.errors import ServiceError
from common.csvsafe import csv_text
from frontend import chart, dashboard
from frontend.views.access import Access
from frontend.views.fragments import chosen_property, reason
from sites.models import Site


def _csv(site: Site, view: dashboard.View, name: str, tab: str, prop: str = "") -> str:
    chosen = dashboard.PANELS[name].tabs[tab]
    rows = dashboard.panel_rows(site, view, name, tab, prop=prop, limit=10_000)
    header = [prop or chosen.label, *chosen.metrics]
    return csv_text([header, *([row["label"], *row["values"]] for row in rows.rows)])


def _zip(site: Site, view: dashboard.View) -> HttpResponse:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for panel_name, panel in dashboard.PANELS.items():
            for tab in panel.tabs:
                archive.writestr(f"{panel_name}-{tab}.csv", _csv(site, view, panel_name, tab))
        series = chart.time_series(site, view)
        points = zip(series["labels"], series["values"], strict=True)
        archive.writestr("time-series.csv", csv_text([("time", view.metric), *points]))
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{site.domain}.zip"'
    return response


def _download(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    view = dashboard.view_from(request.GET)
    site = access.site
    if name == "all":
        return _zip(site, view)
    chosen = dashboard.PANELS.get(name)
    tab = request.GET.get("tab", "")
    if chosen is None or tab not in chosen.tabs:
        raise Http404("no such panel")
    prop, _ = chosen_property(request, site, view, name)
    response = HttpResponse(
        _csv(site, view, name, tab, prop), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{site.domain}-{name}-{tab}.csv"'
    return response


def export(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    """A download; filters ClickHouse refuses are a 400 with the reason, as plain text."""
    try:
        return _download(request, access, name)
    except ServiceError as exc:
        return HttpResponse(reason(exc), status=400, content_type="text/plain; charset=utf-8")
