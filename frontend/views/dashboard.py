"""The dashboard: the page, its panels (htmx fragments), CSV and zip exports, realtime.

Members reach it at `/sites/<domain>/`; anyone at `/share/<domain>` when the site is
public, or with a shared link's `?auth=<slug>` (and its password, once per session). Every
number comes from `reports.stats` through `frontend/dashboard.py`.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import check_password
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import guessing
from accounts.errors import ServiceError
from events.enrich.geo import dbip_in_use
from frontend import dashboard
from frontend.views.helpers import user_of
from reports.realtime import realtime
from sites import selectors
from sites.domains import normalize_domain
from sites.models import SharedLink, Site
from trail.clients import request_client_ip
from trail.csvsafe import csv_text


@dataclass(frozen=True)
class Access:
    site: Site
    base: str  # URL prefix of the dashboard and its panels
    auth: str = ""  # a shared link's slug, carried in every URL
    member: bool = False

    def query(self, params: str) -> str:
        return f"{params}&auth={self.auth}" if self.auth else params


def _member(request: HttpRequest, domain: str) -> Access:
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain)
    return Access(site=site, base=f"/sites/{site.domain}", member=True)


def _session_key(link: SharedLink) -> str:
    return f"trail:share:{link.pk}"


def _visitor(request: HttpRequest, domain: str) -> tuple[Access, SharedLink | None]:
    """Who may see a shared dashboard: a public site, or a live shared link's slug."""
    try:
        canonical = normalize_domain(domain)
    except ServiceError:  # not a domain: no such dashboard
        raise Http404("not found") from None
    site = Site.objects.filter(domain=canonical, deleted_at__isnull=True).first()
    if site is None:
        raise Http404("not found")
    slug = request.GET.get("auth", "")
    base = f"/share/{site.domain}"
    if slug:
        link = SharedLink.objects.filter(site=site, slug=slug).first()
        if link is None:
            raise Http404("not found")
        return Access(site=site, base=base, auth=slug), link
    if not site.is_public:
        raise Http404("not found")
    return Access(site=site, base=base), None


def _locked(request: HttpRequest, link: SharedLink | None) -> bool:
    """A shared link with a password not yet given in this browser session."""
    return link is not None and link.has_password and not request.session.get(_session_key(link))


def _shared(request: HttpRequest, domain: str) -> Access:
    access, link = _visitor(request, domain)
    if _locked(request, link):
        raise Http404("not found")
    return access


def _page(request: HttpRequest, access: Access) -> HttpResponse:
    view = dashboard.view_from(request.GET)
    chips = [
        {"dimension": d, "op": op, "value": v, "remove": access.query(view.without_filter(i))}
        for i, (d, op, v) in enumerate(view.filters)
    ]
    presets = [
        {
            "key": key,
            "label": label,
            "shortcut": dashboard.SHORTCUTS[key],
            "url": access.query(view.params(period=key)),
        }
        for key, label in dashboard.PRESETS.items()
    ]
    context = {
        "site": access.site,
        "access": access,
        "view": view,
        "params": access.query(view.params()),
        "presets": presets,
        "chips": chips,
        "comparisons": dashboard.COMPARISONS,
        "panels": dashboard.PANELS,
    }
    return render(request, "frontend/dashboard.html", context)


@login_required
@require_GET
def site_dashboard(request: HttpRequest, domain: str) -> HttpResponse:
    return _page(request, _member(request, domain))


@require_http_methods(["GET", "POST"])
def shared_dashboard(request: HttpRequest, domain: str) -> HttpResponse:
    access, link = _visitor(request, domain)
    if link is not None and _locked(request, link):
        return _unlock(request, access, link)
    return _page(request, access)


def _unlock(request: HttpRequest, access: Access, link: SharedLink) -> HttpResponse:
    """A shared link's password form. Wrong passwords are limited per client and per link
    (`accounts.guessing`): over a limit, 429 with `Retry-After` and no password check."""
    context: dict[str, Any] = {"site": access.site}
    if request.method != "POST":
        return render(request, "frontend/share_password.html", context)
    client, target = request_client_ip(request.META), f"link:{link.pk}"
    wait = guessing.SHARED_LINKS.wait(client_ip=client, target=target)
    if wait is not None:
        context["retry_after"] = wait
        response = render(request, "frontend/share_password.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response
    if check_password(request.POST.get("password", ""), link.password_hash):
        request.session[_session_key(link)] = True
        return _page(request, access)
    guessing.SHARED_LINKS.failed(client_ip=client, target=target)
    context["wrong"] = True
    return render(request, "frontend/share_password.html", context, status=401)


def _reason(error: ServiceError) -> str:
    return f"{error.field}: {error.message}" if error.field else error.message


def _refused(request: HttpRequest, error: ServiceError) -> HttpResponse:
    """What the view's filters make impossible (a pattern RE2 refuses): 400 and the reason,
    in the panel (the dashboard swaps a 400's body in; frontend/dashboard/main.js)."""
    return render(request, "frontend/_refused.html", {"message": _reason(error)}, status=400)


def _fragment(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    try:
        return _panel(request, access, name)
    except ServiceError as exc:
        return _refused(request, exc)


def _prop(
    request: HttpRequest, site: Site, view: dashboard.View, name: str
) -> tuple[str, list[str]]:
    """The property a custom events panel breaks its event down by, and the keys it may."""
    if name != "events" or not dashboard.view_event(view):
        return "", []
    keys = dashboard.property_keys(site, view, dashboard.view_event(view))
    prop = request.GET.get("prop", "")
    return (prop if prop in keys else ""), keys


def _panel(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    view = dashboard.view_from(request.GET)
    site = access.site
    context: dict[str, Any] = {"site": site, "access": access, "view": view, "name": name}
    if name == "top":
        context["stats"] = dashboard.top_stats(site, view)
        return render(request, "frontend/_top.html", context)
    if name == "chart":
        series = dashboard.time_series(site, view)
        context.update(
            series_json=json.dumps(series),
            rows=list(zip(series["labels"], series["values"], strict=True)),
            metric_links=[
                {
                    "label": label,
                    "url": access.query(view.params(metric=key)),
                    "current": key == view.metric,
                }
                for key, label in dashboard.CHART_METRICS.items()
            ],
            interval_links=[
                {
                    "label": interval.capitalize(),
                    "url": access.query(view.params(interval=interval)),
                    "current": interval == view.interval,
                }
                for interval in dashboard.INTERVALS
            ],
        )
        return render(request, "frontend/_chart.html", context)
    if name == "spark":
        series = dashboard.time_series(site, view)
        values = series["values"]
        top = max(values, default=0) or 1
        step = 100 / max(len(values) - 1, 1)
        context.update(
            values=values,
            total=dashboard.visitors(site, view),
            points=" ".join(
                f"{i * step:.1f},{22 - 20 * v / top:.1f}" for i, v in enumerate(values)
            ),
        )
        return render(request, "frontend/_spark.html", context)
    if name == "funnels":
        saved = list(site.funnels.order_by("name"))
        chosen = next((f for f in saved if str(f.pk) == request.GET.get("funnel")), None)
        funnel = chosen or (saved[0] if saved else None)
        context.update(funnels=saved, funnel=funnel, params=access.query(view.params()))
        if funnel is not None:
            context["result"] = dashboard.funnel_result(site, view, funnel)
        return render(request, "frontend/_funnel.html", context)
    if name == "realtime":
        context["now"] = realtime(site=site)
        return render(request, "frontend/_realtime.html", context)
    panel = dashboard.PANELS.get(name)
    if panel is None:
        raise Http404("no such panel")
    tab = request.GET.get("tab", "")
    if tab not in panel.tabs:
        tab = next(iter(panel.tabs))
    prop, keys = _prop(request, site, view, name)
    if keys:
        context["props"] = keys
        context["prop"] = prop
    if name == "locations" and tab == "countries":  # every country for the map
        data = dashboard.panel_rows(site, view, name, tab, limit=300)
        context["map_json"] = json.dumps({r["label"]: r["values"][0] for r in data.rows})
        data = dashboard.Rows(headers=data.headers, rows=data.rows[: dashboard.LIST_SIZE])
    else:
        data = dashboard.panel_rows(site, view, name, tab, prop=prop)
    context.update(
        panel=panel,
        tab=tab,
        tab_label=panel.tabs[tab].label,
        data=data,
        params=access.query(view.params()),
        attribution=dbip_in_use() if name == "locations" else False,
    )
    return render(request, "frontend/_panel.html", context)


@login_required
@require_GET
def site_fragment(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return _fragment(request, _member(request, domain), name)


@require_GET
def shared_fragment(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return _fragment(request, _shared(request, domain), name)


def _csv(site: Site, view: dashboard.View, name: str, tab: str, prop: str = "") -> str:
    chosen = dashboard.PANELS[name].tabs[tab]
    rows = dashboard.panel_rows(site, view, name, tab, prop=prop, limit=10_000)
    header = [prop or chosen.label, *chosen.metrics]
    return csv_text([header, *([row["label"], *row["values"]] for row in rows.rows)])


def _export(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    try:
        return _download(request, access, name)
    except ServiceError as exc:
        return HttpResponse(_reason(exc), status=400, content_type="text/plain; charset=utf-8")


def _download(request: HttpRequest, access: Access, name: str) -> HttpResponse:
    view = dashboard.view_from(request.GET)
    site = access.site
    if name == "all":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for panel_name, panel in dashboard.PANELS.items():
                for tab in panel.tabs:
                    archive.writestr(f"{panel_name}-{tab}.csv", _csv(site, view, panel_name, tab))
            series = dashboard.time_series(site, view)
            points = zip(series["labels"], series["values"], strict=True)
            archive.writestr("time-series.csv", csv_text([("time", view.metric), *points]))
        response = HttpResponse(buffer.getvalue(), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{site.domain}.zip"'
        return response
    chosen = dashboard.PANELS.get(name)
    tab = request.GET.get("tab", "")
    if chosen is None or tab not in chosen.tabs:
        raise Http404("no such panel")
    prop, _ = _prop(request, site, view, name)
    response = HttpResponse(
        _csv(site, view, name, tab, prop), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{site.domain}-{name}-{tab}.csv"'
    return response


@login_required
@require_GET
def site_export(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return _export(request, _member(request, domain), name)


@require_GET
def shared_export(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return _export(request, _shared(request, domain), name)
