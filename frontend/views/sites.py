"""Pages for sites: list, add, snippet and installation check, settings, goals and
funnels (each editable on its own page), shared links, delete. Every site is resolved
by `site_get_for_actor`."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.errors import ServiceError
from accounts.models import CAN_MANAGE_SITES
from frontend.context import memberships
from frontend.views import funnel_form
from frontend.views.dashboard import site_dashboard
from frontend.views.helpers import (
    EVERY_FIELD,
    error_message,
    posted_id,
    require_membership,
    user_of,
)
from frontend.views.installation import box_context
from reports.installation import EventStoreError, first_event_at, has_events
from sites import selectors, services
from sites.models import Funnel, Goal, Site


@login_required
@require_GET
def site_list(request: HttpRequest) -> HttpResponse:
    """Every organization's sites, grouped by organization, the current one first (switching
    organization used to make the others' sites look gone). One query for all of them."""
    membership = require_membership(request)
    by_org: dict[int, list[Site]] = {}
    for site in selectors.sites_for_actor(actor=user_of(request)):
        by_org.setdefault(site.organization_id, []).append(site)
    others = [m for m in memberships(request) if m.organization_id != membership.organization_id]
    groups = [
        {
            "membership": m,
            "sites": by_org.get(m.organization_id, []),
            "current": m.organization_id == membership.organization_id,
            "can_manage": m.role in CAN_MANAGE_SITES,
        }
        for m in [membership, *others]
    ]
    return render(
        request,
        "frontend/site_list.html",
        {"groups": groups, "can_manage": membership.role in CAN_MANAGE_SITES},
    )


@login_required
@require_http_methods(["GET", "POST"])
def site_new(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    errors: dict[str, str] = {}
    values = {"domain": "", "timezone": "UTC"}
    if request.method == "POST":
        values = {
            "domain": request.POST.get("domain", ""),
            "timezone": request.POST.get("timezone", "UTC"),
        }
        try:
            organization = selectors.organization_for_actor(
                actor=user_of(request), organization_id=membership.organization_id, write=True
            )
            with transaction.atomic():
                site = services.site_create(
                    organization=organization,
                    domain=values["domain"],
                    timezone_name=values["timezone"],
                )
        except ServiceError as exc:
            errors = error_message(request, exc, inline=("domain", "timezone"))
        else:
            return redirect("site-detail", domain=site.domain)
    return render(
        request,
        "frontend/site_new.html",
        {"values": values, "errors": errors, "timezones": sorted(services.timezone_names())},
        status=400 if errors else 200,
    )


@login_required
@require_GET
def site_detail(request: HttpRequest, domain: str) -> HttpResponse:
    """The dashboard once the site has events; until then the snippet, waiting for one."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain)
    if has_events(site):
        return site_dashboard(request, domain)
    box = box_context(user=user_of(request), site=site, installed=False)
    return render(request, "frontend/site_detail.html", box)


@login_required
@require_GET
def site_installation(request: HttpRequest, domain: str) -> JsonResponse:
    """Polled by the snippet page until the first event arrives."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain)
    try:
        first = first_event_at(site)
    except EventStoreError:
        return JsonResponse({"installed": False, "error": "event store unavailable"}, status=503)
    return JsonResponse(
        {"installed": first is not None, "first_event_at": first.isoformat() if first else None}
    )


# The settings form shows these fields' errors beside them.
SETTINGS_FIELDS = (
    "timezone",
    "extra_hostnames",
    "excluded_ips",
    "excluded_paths",
    "retention_days",
)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace(",", "\n").splitlines() if line.strip()]


@login_required
@require_http_methods(["GET", "POST"])
def site_settings(request: HttpRequest, domain: str) -> HttpResponse:
    write = request.method == "POST"
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=write)
    errors: dict[str, str] = {}
    if write:
        changes: dict[str, Any] = {
            "timezone": request.POST.get("timezone", site.timezone),
            "extra_hostnames": _lines(request.POST.get("extra_hostnames", "")),
            "excluded_ips": _lines(request.POST.get("excluded_ips", "")),
            "excluded_paths": _lines(request.POST.get("excluded_paths", "")),
            "honor_dnt": request.POST.get("honor_dnt") == "on",
            "is_public": request.POST.get("is_public") == "on",
            "retention_days": request.POST.get("retention_days", site.retention_days),
        }
        try:
            with transaction.atomic():
                services.site_update(site=site, **changes)
        except ServiceError as exc:
            errors = error_message(request, exc, inline=SETTINGS_FIELDS)
            site.refresh_from_db()
        else:
            messages.success(request, "Settings saved.")
            return redirect("site-settings", domain=site.domain)
    return render(
        request,
        "frontend/site_settings.html",
        {
            "site": site,
            "errors": errors,
            "timezones": sorted(services.timezone_names()),
            "retention_max_days": services.retention_max_days(),
        },
        status=400 if errors else 200,
    )


def _site_items_page(
    request: HttpRequest,
    domain: str,
    *,
    url_name: str,
    create: Callable[[Site, QueryDict], str],
    delete: Callable[[Site, int], str],
    what: str,
    context: Callable[[Site], dict[str, Any]],
    inline: Collection[str] = (),
) -> HttpResponse:
    """A site's list of things (goals, shared links): GET shows it, POST adds one or, with
    `delete=<id>`, removes one; a bad value shows the form again with the reason (beside
    the field for the `inline` ones, see `error_message`)."""
    write = request.method == "POST"
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=write)
    errors: dict[str, str] = {}
    if write:
        try:
            if "delete" in request.POST:
                message = delete(site, posted_id(request, "delete", what))
            else:
                message = create(site, request.POST)
        except ServiceError as exc:
            errors = error_message(request, exc, inline=inline)
        else:
            messages.success(request, message)
            return redirect(url_name, domain=site.domain)
    return render(
        request,
        f"frontend/{url_name.replace('-', '_')}.html",
        {"site": site, "errors": errors, **context(site)},
        status=400 if errors else 200,
    )


GOAL_FIELDS = ("kind", "value", "display_name", "currency")
GOAL_INLINE = ("value", "display_name", "currency")  # the fields _goal_form.html marks


def _goal_fields(form: QueryDict) -> dict[str, str]:
    return {name: form.get(name, "") for name in GOAL_FIELDS}


def _goal_create(site: Site, form: QueryDict) -> str:
    goal = services.goal_create(site=site, **_goal_fields(form))
    return f"Goal “{goal.display_name}” added."


def _funnel_create(site: Site, form: QueryDict) -> str:
    """The form's steps and window (frontend/views/funnel_form.py), checked and stored by
    the service (sites/funnels.py)."""
    funnel = services.funnel_create(
        site=site,
        name=form.get("name", ""),
        steps=funnel_form.posted_steps(form),
        window=funnel_form.posted_window(form),
    )
    return f"Funnel “{funnel.name}” saved."


def _funnel_delete(site: Site, funnel_id: int) -> str:
    services.funnel_delete(site=site, funnel_id=funnel_id)
    return "Funnel deleted."


@login_required
@require_http_methods(["GET", "POST"])
def site_funnels(request: HttpRequest, domain: str) -> HttpResponse:
    return _site_items_page(
        request,
        domain,
        url_name="site-funnels",
        create=_funnel_create,
        delete=_funnel_delete,
        what="funnel",
        inline=EVERY_FIELD,
        context=lambda site: {
            "funnels": selectors.funnels_for_site(site=site),
            **funnel_form.form_context(),
        },
    )


def _goal_delete(site: Site, goal_id: int) -> str:
    services.goal_delete(site=site, goal_id=goal_id)
    return "Goal deleted."


@login_required
@require_http_methods(["GET", "POST"])
def site_goals(request: HttpRequest, domain: str) -> HttpResponse:
    return _site_items_page(
        request,
        domain,
        url_name="site-goals",
        create=_goal_create,
        delete=_goal_delete,
        what="goal",
        inline=GOAL_INLINE,
        context=lambda site: {
            "goals": selectors.goals_for_site(site=site),
            "kinds": Goal.Kind.choices,
        },
    )


def _item_edit(
    request: HttpRequest,
    domain: str,
    *,
    find: Callable[[Site], Any],
    save: Callable[[Site, Any, QueryDict], str],
    url_name: str,
    template: str,
    context: Callable[[Any, QueryDict | None], dict[str, Any]],
    inline: Collection[str],
) -> HttpResponse:
    """An edit page of one of a site's goals or funnels, for those who may manage the site
    (as adding one): GET shows its form, POST saves it through the service and returns to
    the list; a bad value shows the form again, as posted, with the reason."""
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    item = find(site)
    if item is None:
        raise Http404("no such item")
    errors: dict[str, str] = {}
    posted = request.POST if request.method == "POST" else None
    if posted is not None:
        try:
            message = save(site, item, posted)
        except ServiceError as exc:
            errors = error_message(request, exc, inline=inline)
        else:
            messages.success(request, message)
            return redirect(url_name, domain=site.domain)
    return render(
        request,
        template,
        {"site": site, "errors": errors, **context(item, posted)},
        status=400 if errors else 200,
    )


def _goal_save(site: Site, goal: Goal, form: QueryDict) -> str:
    goal = services.goal_update(site=site, goal_id=goal.pk, **_goal_fields(form))
    return f"Goal “{goal.display_name}” saved."


@login_required
@require_http_methods(["GET", "POST"])
def site_goal_edit(request: HttpRequest, domain: str, goal_id: int) -> HttpResponse:
    return _item_edit(
        request,
        domain,
        find=lambda site: selectors.goal_get(site=site, goal_id=goal_id),
        save=_goal_save,
        url_name="site-goals",
        template="frontend/site_goal_edit.html",
        inline=GOAL_INLINE,
        context=lambda goal, form: {
            "goal": goal,
            "kinds": Goal.Kind.choices,
            "values": _goal_fields(form)
            if form is not None
            else {name: getattr(goal, name) for name in GOAL_FIELDS},
        },
    )


def _funnel_save(site: Site, funnel: Funnel, form: QueryDict) -> str:
    funnel = services.funnel_update(
        site=site,
        funnel_id=funnel.pk,
        name=form.get("name", ""),
        steps=funnel_form.posted_steps(form),
        window=funnel_form.posted_window(form),
    )
    return f"Funnel “{funnel.name}” saved."


@login_required
@require_http_methods(["GET", "POST"])
def site_funnel_edit(request: HttpRequest, domain: str, funnel_id: int) -> HttpResponse:
    return _item_edit(
        request,
        domain,
        find=lambda site: selectors.funnel_get(site=site, funnel_id=funnel_id),
        save=_funnel_save,
        url_name="site-funnels",
        template="frontend/site_funnel_edit.html",
        inline=EVERY_FIELD,
        context=lambda funnel, form: {"funnel": funnel, **funnel_form.form_context(funnel, form)},
    )


def _link_create(site: Site, form: QueryDict) -> str:
    services.shared_link_create(
        site=site, name=form.get("name", ""), password=form.get("password", "")
    )
    return "Shared link created."


def _link_delete(site: Site, link_id: int) -> str:
    services.shared_link_delete(site=site, link_id=link_id)
    return "Link revoked."


@login_required
@require_http_methods(["GET", "POST"])
def site_shared_links(request: HttpRequest, domain: str) -> HttpResponse:
    return _site_items_page(
        request,
        domain,
        url_name="site-shared-links",
        create=_link_create,
        delete=_link_delete,
        what="shared link",
        inline=("password",),
        context=lambda site: {
            "links": selectors.shared_links_for_site(site=site),
            "base_url": settings.TRAIL.base_url,
        },
    )


@login_required
@require_POST
def site_delete(request: HttpRequest, domain: str) -> HttpResponse:
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain, write=True)
    if request.POST.get("confirm", "").strip().lower() != site.domain:
        messages.error(request, f"Type {site.domain} to confirm the deletion.")
        return redirect("site-settings", domain=site.domain)
    with transaction.atomic():
        services.site_delete(site=site)
    messages.success(request, f"{site.domain} and its data are being deleted.")
    return redirect("site-list")
