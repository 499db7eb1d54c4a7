"""API keys of the current organization: create (shown once), list, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.errors import ServiceError
from accounts.models import CAN_MANAGE_MEMBERS, Scope
from frontend.views.helpers import error_message, posted_id, require_membership, user_of


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
                key = org.api_keys.filter(pk=posted_id(request, "revoke", "key")).first()
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
            )
        except ServiceError as exc:
            errors = error_message(request, exc, inline=("name", "scopes"))
    return render(
        request,
        "frontend/api_keys.html",
        {
            "keys": selectors.api_keys_for_organization(organization=org),
            "scopes": Scope.choices,
            "new_key": new_key,
            "can_manage": membership.role in CAN_MANAGE_MEMBERS,
            "errors": errors,
        },
        status=400 if errors else 200,
    )
