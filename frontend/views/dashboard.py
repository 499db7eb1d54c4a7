"""The dashboard's URLs: the page, its fragments, its downloads, for a member and for a
shared viewer, and a shared link's password form.

Who may see what: `frontend/views/access.py`; the fragments: `frontend/views/fragments.py`;
the downloads: `frontend/views/exports.py`. The page itself reads no events: every number
is in a fragment, loaded by htmx after it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import check_password
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from accounts import guessing
from common.clients import request_client_ip
from frontend import dashboard, filters
from frontend.views import access as who
from frontend.views.access import Access
from frontend.views.export_jobs import CHOICES as EXPORT_CHOICES
from frontend.views.exports import export
from frontend.views.fragments import fragment
from sites.models import SharedLink


def _page(request: HttpRequest, access: Access) -> HttpResponse:
    """The dashboard's shell: controls and panels, each panel loading itself by htmx. Its
    links and forms are the view's URL (`?…`); frontend/dashboard/main.js follows them in
    place, swapping `#dashboard` for the same element of the page they name."""
    view = dashboard.view_from(request.GET)
    presets = [
        {
            "key": key,
            "label": label,
            "shortcut": dashboard.SHORTCUTS[key],
            "url": access.query(view.params(period=key)),
        }
        for key, label in dashboard.PRESETS.items()
    ]
    auth = [("auth", access.auth)] if access.auth else []
    context = {
        "site": access.site,
        "access": access,
        "view": view,
        "params": access.query(view.params()),
        "presets": presets,
        "filter_menu": filters.menu(view, access.query),
        "comparisons": dashboard.COMPARISONS,
        "compare_fields": view.hidden("compare") + auth,
        "range_fields": view.hidden("period", "from", "to") + auth,
        "panels": [(name, panel, view.tab(name)) for name, panel in dashboard.PANELS.items()],
        "export_choices": EXPORT_CHOICES,  # the Export menu (frontend/views/export_jobs.py)
        # the "Include imported data" switch: the view with imports flipped, or none
        "imports_switch": access.query(view.params(imports=not view.imports))
        if dashboard.has_imports(access.site)
        else "",
    }
    return render(request, "frontend/dashboard.html", context)


@login_required
@require_GET
def site_dashboard(request: HttpRequest, domain: str) -> HttpResponse:
    return _page(request, who.member(request, domain))


@require_http_methods(["GET", "POST"])
def shared_dashboard(request: HttpRequest, domain: str) -> HttpResponse:
    access, link = who.visitor(request, domain)
    if link is not None and who.locked(request, link):
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
        request.session[who.session_key(link)] = True
        return _page(request, access)
    guessing.SHARED_LINKS.failed(client_ip=client, target=target)
    context["wrong"] = True
    return render(request, "frontend/share_password.html", context, status=401)


@login_required
@require_GET
def site_fragment(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return fragment(request, who.member(request, domain), name)


@require_GET
def shared_fragment(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return fragment(request, who.shared(request, domain), name)


@login_required
@require_GET
def site_export(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return export(request, who.member(request, domain), name)


@require_GET
def shared_export(request: HttpRequest, domain: str, name: str) -> HttpResponse:
    return export(request, who.shared(request, domain), name)
