"""A site's "Destinations" settings page (docs/destinations.md): the destinations with their
state, lag, pending events, last success and last error (the table refreshes itself every
5 s through htmx); a form to add an HTTP endpoint or Mixpanel; pause, resume and delete.

The rules are the API's (`events.destinations.services`, reached through
`reports.destinations`): owners and admins manage, viewers are refused (403), another
organization's site is 404. Secrets and tokens are written, never shown.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.errors import NotFound, ServiceError
from frontend.views.helpers import posted_id, user_of
from reports import destinations
from sites import selectors
from sites.models import Site

ACTIONS = {"pause": "paused", "resume": "active"}
LABELS = {"url": "URL", "token": "Project token", "secret": "Secret", "type": "Type"}


def _fields(post: Any) -> dict[str, Any]:
    kind = post.get("type", "")
    fields: dict[str, Any] = {"type": kind}
    if post.get("url", "").strip() or kind == "webhook":
        fields["url"] = post.get("url", "")
    if kind == "mixpanel":
        fields["token"] = post.get("token", "")
    elif post.get("secret", ""):
        fields["secret"] = post.get("secret", "")
    return fields


def _page(
    request: HttpRequest, site: Site, *, error: str = "", field: str = "", status: int = 200
) -> HttpResponse:
    form = request.POST if request.method == "POST" and error else {}
    context = {
        "site": site,
        "destinations": destinations.describe_all(site=site),
        "error": error,
        "field": field,
        "form_type": form.get("type", "webhook"),
        "form_url": form.get("url", ""),
    }
    if request.method == "GET" and request.headers.get("HX-Request"):
        return render(request, "frontend/_destinations.html", context)
    return render(request, "frontend/site_destinations.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def site_destinations(request: HttpRequest, domain: str) -> HttpResponse:
    """GET: the page (with `HX-Request`: the table alone). POST `action=add` with `type`,
    `url`, `secret` or `token`; `action=pause|resume|delete` with `id`."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    if request.method == "GET":
        return _page(request, site)
    action = request.POST.get("action", "")
    try:
        if action == "add":
            destinations.destination_create(site=site, fields=_fields(request.POST))
            messages.success(request, "Destination added: events stored from now on go to it.")
        elif action in ACTIONS or action == "delete":
            destination = destinations.destination_get(
                site=site, destination_id=posted_id(request, "id", "destination")
            )
            if action == "delete":
                destinations.destination_delete(destination=destination)
                messages.success(request, "Destination deleted, with its unsent events.")
            else:
                destinations.destination_update(
                    destination=destination, fields={"state": ACTIONS[action]}
                )
                messages.success(
                    request,
                    "Destination resumed: it continues from its oldest unsent event."
                    if action == "resume"
                    else "Destination paused: its events wait for it.",
                )
        else:
            raise ServiceError("choose add, pause, resume or delete", field="action")
    except NotFound:
        return _page(request, site, error="No such destination (deleted meanwhile?).", status=404)
    except ServiceError as exc:
        label = LABELS.get(exc.field or "", (exc.field or "destination").capitalize())
        message = f"{label}: {exc.message}"
        return _page(request, site, error=message, field=exc.field or "", status=400)
    return redirect("site-destinations", domain=site.domain)
