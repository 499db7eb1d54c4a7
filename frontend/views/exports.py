"""The dashboard's downloads (`…/export/<name>`): a panel tab's every row as CSV, or `all`,
a zip of every panel tab and the time series (docs/exports.md)."""

from __future__ import annotations

import io

from django.http import Http404, HttpRequest, HttpResponse

from accounts.errors import ServiceError
from frontend import chart, dashboard
from frontend.views.access import Access
from frontend.views.fragments import chosen_property, reason
from reports.report_zip import tab_csv, write_zip
from sites.models import Site


def _zip(site: Site, view: dashboard.View) -> HttpResponse:
    """Every panel tab and the time series, written by `reports.report_zip` as the report
    export job writes them."""
    buffer = io.BytesIO()
    interval = chart.chart_interval(view, chart.chart_span(site, view))
    write_zip(buffer, site, dashboard.base_query(view, site), metric=view.metric, interval=interval)
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
    base = dashboard.base_query(view, site)
    text, _ = tab_csv(site, base, name, tab, prop=prop, event=dashboard.view_event(view))
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{site.domain}-{name}-{tab}.csv"'
    return response


def export(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    """A download; filters ClickHouse refuses are a 400 with the reason, as plain text."""
    try:
        return _download(request, access, name)
    except ServiceError as exc:
        return HttpResponse(reason(exc), status=400, content_type="text/plain; charset=utf-8")
