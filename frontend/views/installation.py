"""The installation page of a site without events: the snippet (and its variant for a page
on localhost or an automated browser, which the tracker ignores unless told), and the box
that waits for the first event (htmx polls it), says why events are being dropped (the
collector's counts of the last hour), with the fix, and opens the dashboard once the first
event is stored (`HX-Redirect`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.errors import ServiceError
from accounts.models import CAN_MANAGE_SITES, User
from accounts.selectors import membership_get
from frontend.views.helpers import user_of
from reports.installation import EventStoreError, RecentDrops, dropped_recently, has_events
from sites import selectors, services
from sites.models import Site

# Why a dropped event was dropped, and what to do, by reason (`{n}`: how many). The keys
# are the collector's drop reasons (`X-Trail-Dropped`, docs/ingest.md).
_EXPLAINED: dict[str, str] = {
    "bot": (
        "{n} looked like a bot: your browser identified itself as a crawler or a headless "
        "(automated) browser. Open the site in an ordinary browser."
    ),
    "referrer_spam": "{n} came with a referrer on the spam list.",
    "excluded_ip": ("{n} came from an IP address excluded in this site's settings, perhaps yours."),
    "excluded_path": "{n} came from pages excluded in this site's settings.",
    "do_not_track": (
        "{n} came from a browser that sends Do Not Track or Global Privacy Control, and "
        "this site honours it. Turn that off in the settings, or visit with another browser."
    ),
    "rate_limited": ("{n} arrived faster than this site's ingest rate limit (docs/limits.md)."),
    "over_quota": "{n} arrived after the organization used up its monthly event quota.",
    "hostname_not_allowed": (
        "{n} came from host names this site does not allow (see the allowed host names)."
    ),
}
_SETTINGS_FIX = {"excluded_ip", "excluded_path", "do_not_track"}


def _events(n: int) -> str:
    return "1 event" if n == 1 else f"{n:,} events"


@dataclass(frozen=True)
class Notice:
    text: str
    allow_host: str = ""  # the one-click fix: allow this host name
    settings_link: bool = False


def notices(drops: RecentDrops) -> list[Notice]:
    """What the box says about the last hour's dropped events, most useful first."""
    found: list[Notice] = []
    refused = 0
    for host, n in drops.refused_hosts:
        refused += n
        were = "was" if n == 1 else "were"
        text = f"{_events(n)} from {host} {were} refused: that host name is not allowed."
        found.append(Notice(text, allow_host=host))
    for reason, n in sorted(drops.by_reason.items(), key=lambda item: -item[1]):
        if reason == "hostname_not_allowed":
            n -= refused  # the host names past the cap
            if n <= 0:
                continue
        text = _EXPLAINED[reason].format(n=_events(n))
        fix = reason in _SETTINGS_FIX or reason == "hostname_not_allowed"
        found.append(Notice(text, settings_link=fix))
    return found


def snippet(domain: str, *, allow_local: bool = False) -> str:
    """The script tag for a site's pages; `allow_local`: one that also sends from localhost,
    `file:` pages and automated browsers (`data-allow-local`, docs/tracker.md)."""
    src = f"{settings.TRAIL.base_url}/js/trail.js"
    local = " data-allow-local" if allow_local else ""
    return f'<script defer{local} data-domain="{domain}" src="{src}"></script>'


def box_context(*, user: User, site: Site, installed: bool | None) -> dict[str, Any]:
    """`installed`: None when the event store could not be asked."""
    membership = membership_get(user=user, organization_id=site.organization_id)
    return {
        "site": site,
        "snippet": snippet(site.domain),
        "local_snippet": snippet(site.domain, allow_local=True),
        "installed": installed,
        "notices": [] if installed else notices(dropped_recently(site)),
        "can_change": membership is not None and membership.role in CAN_MANAGE_SITES,
    }


@login_required
@require_GET
def site_installation_box(request: HttpRequest, domain: str) -> HttpResponse:
    """The box, polled by the snippet page (htmx) until the first event arrives."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain)
    try:
        installed: bool | None = has_events(site)
    except EventStoreError:
        installed = None
    context = box_context(user=user_of(request), site=site, installed=installed)
    if not installed:
        return render(request, "frontend/_installation.html", context)
    # 286: htmx stops polling; HX-Redirect: htmx opens the dashboard (the same URL, which
    # shows the dashboard once the site has events)
    response = render(request, "frontend/_installation.html", context, status=286)
    response["HX-Redirect"] = reverse("site-detail", args=[site.domain])
    return response


@login_required
@require_POST
def site_allow_hostname(request: HttpRequest, domain: str) -> HttpResponse:
    """The one-click fix: add a refused host name to the site's allowed host names."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    host = request.POST.get("host", "").strip()
    try:
        if not host:
            raise ServiceError("no host name to allow", field="host")
        with transaction.atomic():
            services.site_update(site=site, extra_hostnames=[*site.extra_hostnames, host])
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{host} is allowed: its next events are counted.")
    return redirect(reverse("site-detail", args=[site.domain]))
