"""API keys of the current organization: create (shown once; optionally limited to some of
the organization's sites, and to read-only scopes), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.errors import ServiceError
from accounts.models import CAN_MANAGE_MEMBERS, READ_ONLY_SCOPES, Organization, Scope
from frontend.views.helpers import error_message, posted_id, require_membership, user_of
from sites.models import Site
from sites.selectors import sites_for_organization


def _posted_sites(request: HttpRequest, organization: Organization) -> list[Site]:
    """The sites the form limits the key to (none ticked: every site)."""
    wanted = request.POST.getlist("sites")
    if not all(value.isascii() and value.isdigit() and len(value) <= 18 for value in wanted):
        raise ServiceError("no such site", field="sites")
    ids = {int(value) for value in wanted}
    found = list(sites_for_organization(organization=organization).filter(pk__in=ids))
    if len(found) != len(ids):
        raise ServiceError("no such site", field="sites")
    return found


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    membership = require_membership(request)
    org = membership.organization
    errors: dict[str, str] = {}
    new_key = ""
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                key = selectors.api_key_get(
                    organization=org, key_id=posted_id(request, "revoke", "key")
                )
                if key is None:
                    raise ServiceError("no such key", field="revoke")
                services.api_key_revoke(key=key, actor=user_of(request))
                messages.success(request, f"Key {key.name} revoked.")
                return redirect("api-keys")
            _, new_key = services.api_key_create(
                organization=org,
                actor=user_of(request),
                name=request.POST.get("name", ""),
                scopes=request.POST.getlist("scopes"),
                sites=_posted_sites(request, org),
            )
        except ServiceError as exc:
            errors = error_message(request, exc, inline=("name", "scopes", "sites"))
    return render(
        request,
        "frontend/api_keys.html",
        {
            "keys": selectors.api_keys_for_organization(organization=org),
            "scopes": [(v, label, v in READ_ONLY_SCOPES) for v, label in Scope.choices],
            "sites": sites_for_organization(organization=org),
            "new_key": new_key,
            "can_manage": membership.role in CAN_MANAGE_MEMBERS,
            "errors": errors,
        },
        status=400 if errors else 200,
    )
